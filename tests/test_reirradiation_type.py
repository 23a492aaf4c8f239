"""ESTRO-EORTC re-irradiation type from the volume irradiated in both courses.

Oracle: the synthetic patient of tests/test_constraints_check_cli.py, by hand. Per-course EQD2
(a/b 2): x < 0 current 16.5, prior 22.5 Gy; x >= 0 current 44, prior 60 Gy. The dose grid is
31 x 31 x 13 voxels of 2 x 2 x 2.5 mm (10 mm3): 124.93 cc, of which the 16 columns x >= 0 hold
64.48 cc. The chiasm box lies at x >= 0, the brain stem box at x < 0.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import dosimetry
from dosimetry.errors import ArgumentError
from dosimetry.patient.reirradiation_type import ReirradiationType, classify_reirradiation
from tests.test_constraints_check_cli import patient  # noqa: F401  (the synthetic two-course patient fixture)


def test_types_and_volumes(patient: Path) -> None:  # noqa: F811
    plan = dosimetry.load_patient(patient)
    maps, rois = plan.patient_maps, plan.dvhs().rois
    # Default 10 Gy in each course: every voxel is over both thresholds.
    everything, _ = classify_reirradiation(maps, rois)
    assert everything is not None and everything.type is ReirradiationType.TYPE_1
    assert everything.overlap_cc == pytest.approx(124.93, abs=1e-6)
    # 30 Gy: only x >= 0 (prior 60, current 44); the chiasm entirely, the brain stem not at all.
    half, _ = classify_reirradiation(maps, rois, threshold_prior_gy=30.0, threshold_current_gy=30.0)
    assert half is not None and half.overlap_cc == pytest.approx(64.48, abs=1e-6)
    organs = {o.roi: o for o in half.organs}
    assert organs["OpticChiasm"].overlap_cc == pytest.approx(organs["OpticChiasm"].volume_cc, rel=1e-6)
    assert organs["Brain Stem"].overlap_cc == 0.0
    # 50 Gy: the current course never reaches it -> no overlap, no organ in both: repeat irradiation.
    none, _ = classify_reirradiation(maps, rois, threshold_prior_gy=50.0, threshold_current_gy=50.0)
    assert none is not None and none.type is ReirradiationType.REPEAT_IRRADIATION and none.overlap_cc == 0.0
    with pytest.raises(ArgumentError, match="threshold_prior_gy"):
        classify_reirradiation(maps, rois, threshold_prior_gy=0.0)
    document = dosimetry.load_patient(patient, reirradiation_thresholds_gy=(30.0, 30.0)).results().to_dict()
    assert document["recovery"]["reirradiation_type"]["overlap_cc"] == pytest.approx(64.48, abs=1e-3)
