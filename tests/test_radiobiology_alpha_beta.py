"""Alpha/beta per ROI and the composite map's priority rule."""

from __future__ import annotations

import numpy as np
import pytest

from dosimetry.errors import RadiobiologyError
from dosimetry.radiobiology.alpha_beta import AlphaBetaPolicy, RoiRole, composite_alpha_beta_map, roi_role
from dosimetry.structures import Roi


def roi(name: str, kind: str, number: int = 1) -> Roi:
    return Roi(number=number, name=name, interpreted_type=kind, contours=())


def test_roles() -> None:
    assert roi_role(roi("GTVr", "GTV")) is RoiRole.TARGET
    assert roi_role(roi("anything", "PTV")) is RoiRole.TARGET
    assert roi_role(roi("BrainStem", "ORGAN")) is RoiRole.ORGAN_AT_RISK
    assert roi_role(roi("BODY", "EXTERNAL")) is RoiRole.OTHER
    # the name decides only without an interpreted type
    assert roi_role(roi("CTV_high", "")) is RoiRole.TARGET
    assert roi_role(roi("PTV_ring", "AVOIDANCE")) is RoiRole.ORGAN_AT_RISK
    assert roi_role(roi("Chiasm", "")) is RoiRole.ORGAN_AT_RISK


def test_policy_defaults_and_overrides() -> None:
    policy = AlphaBetaPolicy(overrides={"brainstem": 3.0})
    assert policy.for_roi(roi("GTV", "GTV")) == 9.0
    assert policy.for_roi(roi("Chiasm", "ORGAN")) == 2.0
    assert policy.for_roi(roi("BrainStem", "ORGAN")) == 3.0
    assert policy.for_roi(roi("BODY", "EXTERNAL")) == 2.0
    assert "BRAINSTEM=3 Gy" in policy.describe()


def test_policy_validation() -> None:
    with pytest.raises(RadiobiologyError, match="target_alpha_beta_gy"):
        AlphaBetaPolicy(target_alpha_beta_gy=0.0)
    with pytest.raises(RadiobiologyError, match="Chiasm"):
        AlphaBetaPolicy(overrides={"Chiasm": -1.0})
    with pytest.raises(RadiobiologyError, match="twice"):
        AlphaBetaPolicy(overrides={"Chiasm": 2.0, "CHIASM": 3.0})


def test_composite_priority() -> None:
    shape = (1, 1, 6)
    body = np.ones(shape, dtype=bool)
    gtv = np.zeros(shape)
    gtv[..., 0:4] = 1.0  # occupancy
    stem = np.zeros(shape, dtype=bool)
    stem[..., 2:5] = True  # overlaps the target at 2, 3
    chiasm = np.zeros(shape)
    chiasm[..., 3] = 0.6
    chiasm[..., 1] = 0.4  # below the 0.5 occupancy threshold
    masks = {
        "BODY": (roi("BODY", "EXTERNAL"), body),
        "GTV": (roi("GTV", "GTV"), gtv),
        "BrainStem": (roi("BrainStem", "ORGAN"), stem),
        "Chiasm": (roi("Chiasm", "ORGAN"), chiasm),
    }
    result = composite_alpha_beta_map(shape, masks, AlphaBetaPolicy(overrides={"Chiasm": 3.0, "BrainStem": 2.5}))
    # voxel: 0 target, 1 target (chiasm < 0.5), 2 stem override in target, 3 chiasm & stem overrides -> lowest,
    # 4 stem override, 5 body only -> OAR default
    np.testing.assert_array_equal(result[0, 0], [9.0, 9.0, 2.5, 2.5, 2.5, 2.0])
    plain = composite_alpha_beta_map(shape, masks, AlphaBetaPolicy())
    np.testing.assert_array_equal(plain[0, 0], [9.0, 9.0, 2.0, 2.0, 2.0, 2.0])


def test_composite_mask_shape_checked() -> None:
    with pytest.raises(RadiobiologyError, match="GTV"):
        composite_alpha_beta_map((1, 2, 2), {"GTV": (roi("GTV", "GTV"), np.ones((2, 2)))}, AlphaBetaPolicy())
