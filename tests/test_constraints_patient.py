"""Which ROIs the checks need per quantity, and the contoured length of length-axis organs."""

from __future__ import annotations

import pytest

from dosimetry.constraints.naming import NameMapper
from dosimetry.constraints.patient import contoured_length_cm, needed_rois, organ_extents
from dosimetry.constraints.protocol import parse_protocol_text
from dosimetry.quantities import DoseBasis
from tests.dvh_helpers import box_roi


def test_needed_rois_per_quantity() -> None:
    protocol = parse_protocol_text(
        'constraints:\n  BrainStem: "D0.03cc[Gy] < 54"\n  Parotid_L:\n    quantity: eqd2_current\n    constraints: "Dmean[Gy] < 26"\n'
        '  PTV:\n    quantity: dose_current\n    constraints: "D95%[Gy] > 50"\n',
        "p.yaml",
        "yaml",
    )
    names = ["Brain Stem", "Lt Parotid", "PTV", "External", "Mystery"]
    needed = needed_rois(names, NameMapper(), protocol)
    assert list(needed) == [DoseBasis.EQD2_CUMULATIVE, DoseBasis.EQD2_CURRENT, DoseBasis.DOSE_CURRENT]
    assert needed[DoseBasis.EQD2_CUMULATIVE] == {"Brain Stem", "Lt Parotid"}  # the organs
    assert needed[DoseBasis.EQD2_CURRENT] == {"Lt Parotid"}
    assert needed[DoseBasis.DOSE_CURRENT] == {"PTV"}
    assert needed_rois(names, NameMapper(), None) == {DoseBasis.EQD2_CUMULATIVE: {"Brain Stem", "Lt Parotid"}}


def test_contoured_length_and_extents() -> None:
    planes = [5.0 + 2.5 * k for k in range(9)]  # 5 .. 25 mm: span 20 mm + one 2.5 mm spacing
    cord = box_roi(-5, 5, -5, 5, planes, name="SpinalCord")
    assert contoured_length_cm(cord) == pytest.approx(2.25)
    assert contoured_length_cm(box_roi(-5, 5, -5, 5, [5.0], name="SpinalCord")) is None
    extents = organ_extents({"SpinalCord": cord, "BrainStem": box_roi(-5, 5, -5, 5, planes, name="BrainStem")}, NameMapper())
    assert set(extents) == {"SpinalCord"} and extents["SpinalCord"].length_cm == pytest.approx(2.25)
