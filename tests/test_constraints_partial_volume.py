"""The Kutcher-Burman effective-volume pass/fail rule over Emami's partial-volume points."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dosimetry.constraints.partial_volume import Status, decide, effective_volume, interpolate_tolerance
from dosimetry.constraints.samples import OrganDoseBins
from dosimetry.constraints.tables import Organ, load_burman, load_emami
from dosimetry.errors import ConstraintError


def _entry(organ: Organ, endpoint_id: str | None = None):
    entries = [e for e in load_emami().for_organ(organ) if endpoint_id in (None, e.endpoint_id)]
    assert len(entries) == 1
    entry = entries[0]
    params = load_burman().for_endpoint(organ, entry.endpoint_id)
    assert params is not None
    return entry, params.n


def _partial(dose_gy: float, fraction: float, total_cc: float = 30.0) -> OrganDoseBins:
    """``fraction`` of the organ at ``dose_gy``, the rest at 0 Gy."""
    return OrganDoseBins(np.array([dose_gy, 0.0]), np.array([fraction * total_cc, (1 - fraction) * total_cc]))


def test_effective_volume_hand_values() -> None:
    assert effective_volume(OrganDoseBins.uniform(40.0, 10.0), 0.16) == pytest.approx(1.0)
    assert effective_volume(_partial(40.0, 1 / 3), 0.16) == pytest.approx(1 / 3)
    # Half at 60 Gy, half at 30 Gy, n = 0.16: 0.5 + 0.5 * 0.5**6.25
    two_level = OrganDoseBins(np.array([60.0, 30.0]), np.array([5.0, 5.0]))
    assert effective_volume(two_level, 0.16) == pytest.approx(0.5 + 0.5 * 0.5**6.25, rel=1e-12)


def test_loglog_interpolation_hand_value() -> None:
    points = ((1 / 3, 60.0), (2 / 3, 53.0), (1.0, 50.0))
    expected = 60.0 * (53.0 / 60.0) ** (math.log(0.5 / (1 / 3)) / math.log(2.0))
    assert interpolate_tolerance(points, 0.5) == pytest.approx(expected, rel=1e-12)
    assert interpolate_tolerance(points, 2 / 3) == pytest.approx(53.0)
    assert interpolate_tolerance(points, 0.1) == 60.0  # held at the smallest point
    with pytest.raises(ConstraintError, match="beyond the largest"):
        interpolate_tolerance(((1 / 3, 50.0),), 0.5)


@pytest.mark.parametrize(
    ("dose", "status", "margin"),
    [(49.0, Status.PASS, 1.0), (50.0, Status.PASS, 0.0), (51.0, Status.FAIL, -1.0)],
)
def test_brain_stem_whole_organ(dose: float, status: Status, margin: float) -> None:
    entry, n = _entry(Organ.BRAIN_STEM)
    decision = decide(OrganDoseBins.uniform(dose, 25.0), entry, n)
    assert decision.status is status
    assert decision.limit_gy == pytest.approx(50.0)
    assert decision.margin_gy == pytest.approx(margin)


def test_brain_stem_one_third() -> None:
    entry, n = _entry(Organ.BRAIN_STEM)
    assert decide(_partial(59.0, 1 / 3), entry, n).status is Status.PASS
    failing = decide(_partial(61.0, 1 / 3), entry, n)
    assert failing.status is Status.FAIL
    assert failing.limit_gy == pytest.approx(60.0)
    assert failing.margin_gy == pytest.approx(-1.0)


def test_brain_half_volume_between_points() -> None:
    entry, n = _entry(Organ.BRAIN)
    limit = 60.0 * (50.0 / 60.0) ** (math.log(1.5) / math.log(2.0))  # 1/3 -> 60, 2/3 -> 50 Gy
    assert decide(_partial(limit - 0.1, 0.5), entry, n).status is Status.PASS
    fail = decide(_partial(limit + 0.1, 0.5), entry, n)
    assert fail.status is Status.FAIL and fail.limit_gy == pytest.approx(limit)


def test_optic_chiasm_whole_organ_value_only() -> None:
    entry, n = _entry(Organ.OPTIC_CHIASM)
    small = decide(_partial(52.0, 0.1), entry, n)
    assert small.status is Status.FAIL and small.limit_gy == pytest.approx(50.0)
    assert decide(_partial(49.0, 0.1), entry, n).status is Status.PASS


def test_lens_and_parotid() -> None:
    lens, n_lens = _entry(Organ.LENS)
    assert decide(OrganDoseBins.uniform(9.0, 0.2), lens, n_lens).status is Status.PASS
    assert decide(OrganDoseBins.uniform(11.0, 0.2), lens, n_lens).status is Status.FAIL
    parotid, n_par = _entry(Organ.PAROTID)
    # Whole parotid at 30 Gy passes 32 Gy; at 34 Gy fails.
    assert decide(OrganDoseBins.uniform(30.0, 20.0), parotid, n_par).margin_gy == pytest.approx(2.0)
    assert decide(OrganDoseBins.uniform(34.0, 20.0), parotid, n_par).status is Status.FAIL
    # A third of a parotid at 40 Gy: v_eff = 1/3 is below the smallest given point (2/3), held at 32 Gy.
    assert decide(_partial(40.0, 1 / 3), parotid, n_par).status is Status.FAIL


def test_rib_cage_beyond_the_only_point_is_not_evaluable() -> None:
    entry, n = _entry(Organ.RIB_CAGE)
    decision = decide(OrganDoseBins.uniform(30.0, 100.0), entry, n)
    assert decision.status is Status.NOT_EVALUABLE
    assert decision.limit_gy is None and decision.margin_gy is None
    assert "exceeds the largest point" in decision.reason


def test_spinal_cord_needs_its_length() -> None:
    entry, n = _entry(Organ.SPINAL_CORD)
    samples = OrganDoseBins.uniform(48.0, 15.0)
    unknown = decide(samples, entry, n)
    assert unknown.status is Status.NOT_EVALUABLE and "length" in unknown.reason
    assert decide(samples, entry, n, length_cm=10.0).status is Status.PASS  # 10 cm: 50 Gy
    at_15 = decide(samples, entry, n, length_cm=15.0)
    assert at_15.limit_gy == pytest.approx(50.0 * (47.0 / 50.0) ** (math.log(1.5) / math.log(2.0)))
    assert at_15.status is Status.PASS
    assert decide(OrganDoseBins.uniform(48.0, 15.0), entry, n, length_cm=20.0).status is Status.FAIL  # 47 Gy
    assert decide(samples, entry, n, length_cm=30.0).status is Status.NOT_EVALUABLE  # beyond 20 cm


def test_skin_needs_its_area() -> None:
    entry, n = _entry(Organ.SKIN, "necrosis_ulceration")
    assert decide(OrganDoseBins.uniform(50.0, 5.0), entry, n).status is Status.NOT_EVALUABLE
    assert decide(OrganDoseBins.uniform(50.0, 5.0), entry, n, area_cm2=100.0).status is Status.PASS


@settings(max_examples=60, deadline=None)
@given(st.floats(0.01, 1.0), st.floats(0.01, 1.0))
def test_tolerance_never_increases_with_volume(v1: float, v2: float) -> None:
    lo, hi = sorted((v1, v2))
    for entry in load_emami().entries:
        points = entry.td5_points()
        if entry.axis.value != "volume_fraction" or points[-1][0] < 1.0:
            continue
        assert interpolate_tolerance(points, hi) <= interpolate_tolerance(points, lo) + 1e-12


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.0, 80.0), min_size=1, max_size=20), st.floats(0.02, 1.0))
def test_effective_volume_in_unit_interval(values: list[float], n: float) -> None:
    samples = OrganDoseBins(np.array(values), np.ones(len(values)))
    v_eff = effective_volume(samples, n)
    assert 0.0 < v_eff <= 1.0 + 1e-12
