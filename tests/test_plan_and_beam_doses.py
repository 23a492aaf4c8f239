"""A PLAN dose exported with the BEAM doses of the same plan (issue 21 item 9): the PLAN dose is
used, the BEAM doses are checked to sum to it, and a mismatch beyond the documented tolerance is a
warning that reaches the course, the results and the report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dosimetry.dose import DoseSummationType
from dosimetry.errors import ConsistencyError
from dosimetry.io import discover
from dosimetry.io.dose_reader import BEAM_SUM_TOLERANCE_FRACTION
from dosimetry.radiobiology.course import load_course
from tests import dicom_factory as f

SHAPE = (6, 8, 10)  # frames, rows, columns
POSITION_MM = (-10.0, -20.0, -30.0)
SPACING_MM = (2.0, 3.0)  # row spacing (y), column spacing (x)
OFFSETS_MM = [3.0 * k for k in range(SHAPE[0])]


def _beam_values() -> tuple[np.ndarray, np.ndarray]:
    f_idx, r_idx, c_idx = np.indices(SHAPE, dtype=np.float64)
    beam_1 = 10.0 + 0.5 * c_idx + 0.25 * r_idx
    beam_2 = 20.0 + 0.3 * f_idx
    return beam_1, beam_2


def _export(folder: Path, *, plan: bool = True, beams: bool = True, bump: tuple[tuple[int, int, int], float] | None = None) -> Path:
    """A plan with beams 1 and 2, its PLAN dose (beam_1 + beam_2) and/or its two BEAM doses;
    ``bump`` adds a dose to one voxel (frame, row, column) of beam 2's file."""
    plan_uid = f.uid(f"pb-plan-{folder.name}")
    f.make_rt_plan(folder, fractions=30, sop_instance_uid=plan_uid, beams=(f.BeamSpec(1, "A"), f.BeamSpec(2, "B")))
    beam_1, beam_2 = _beam_values()
    common = {"shape_frc": SHAPE, "position_mm": POSITION_MM, "pixel_spacing_mm": SPACING_MM, "offsets_mm": OFFSETS_MM,
              "referenced_plan_uid": plan_uid, "scaling": 1e-4}
    if plan:
        f.make_rt_dose(folder, filename="RD_plan.dcm", dose_frc_gy=beam_1 + beam_2, seed="pb-plan-dose", **common)  # type: ignore[arg-type]
    if beams:
        if bump is not None:
            beam_2 = beam_2.copy()
            beam_2[bump[0]] += bump[1]
        f.make_rt_dose(folder, filename="RD_beam1.dcm", dose_frc_gy=beam_1, summation="BEAM", beam_number=1, seed="pb-b1", **common)  # type: ignore[arg-type]
        f.make_rt_dose(folder, filename="RD_beam2.dcm", dose_frc_gy=beam_2, summation="BEAM", beam_number=2, seed="pb-b2", **common)  # type: ignore[arg-type]
    return folder


def test_plan_dose_is_used_and_beam_doses_agree(tmp_path: Path) -> None:
    """Oracle: the doses written: PLAN = beam 1 + beam 2 exactly (up to the 1e-4 Gy storage step), so
    the course dose is the PLAN file's values, the check finds at most the rounding of three files,
    and no mismatch warning is raised (before the fix the folder was refused)."""
    folder = _export(tmp_path / "both")
    course = load_course(folder, argument="PATIENT_DIR")
    beam_1, beam_2 = _beam_values()
    assert course.dose.summation_type is DoseSummationType.PLAN and course.dose.source_path == folder / "RD_plan.dcm"
    np.testing.assert_allclose(course.dose.dose_gy.max(), (beam_1 + beam_2).max(), atol=1e-4)
    check = course.beam_sum_check
    assert check is not None and check.n_beam_doses == 2 and check.within_tolerance
    assert check.max_difference_gy <= 1.5e-4
    assert not any("BEYOND" in w for w in course.warnings)
    assert course.dose_paths[0] == folder / "RD_plan.dcm"


def test_beam_mismatch_is_a_warning_naming_the_difference_and_where(tmp_path: Path) -> None:
    """Oracle: one voxel of beam 2 raised by 3 Gy, far beyond 1 % of the PLAN maximum: the largest
    difference is 3 Gy at that voxel's LPS centre (HFS: x = x0 + column x 3 mm, y = y0 + row x 2 mm,
    z = z0 + offset), computed here from the geometry written, and it is a course warning."""
    frame, row, column = 4, 5, 7
    folder = _export(tmp_path / "mismatch", bump=((frame, row, column), 3.0))
    course = load_course(folder, argument="PATIENT_DIR")
    check = course.beam_sum_check
    assert check is not None and not check.within_tolerance
    assert check.max_difference_gy == pytest.approx(3.0, abs=2e-4)
    x, y, z = POSITION_MM[0] + column * SPACING_MM[1], POSITION_MM[1] + row * SPACING_MM[0], POSITION_MM[2] + OFFSETS_MM[frame]
    assert check.position_mm == pytest.approx((x, y, z))
    beam_1, beam_2 = _beam_values()
    assert check.tolerance_gy == pytest.approx(BEAM_SUM_TOLERANCE_FRACTION * (beam_1 + beam_2).max() + 1.5e-4)
    (warning,) = [w for w in course.warnings if "BEYOND" in w]
    assert "largest difference 3 Gy" in warning and f"x {x:.1f}, y {y:.1f}, z {z:.1f} mm" in warning
    assert "the PLAN dose is used" in warning


def test_only_beam_doses_are_summed(tmp_path: Path) -> None:
    """Oracle: the beam values written, summed by hand."""
    folder = _export(tmp_path / "beams", plan=False)
    course = load_course(folder, argument="PATIENT_DIR")
    beam_1, beam_2 = _beam_values()
    assert course.beam_sum_check is None
    np.testing.assert_allclose(course.dose.dose_gy.max(), (beam_1 + beam_2).max(), atol=2e-4)


def test_two_plan_doses_still_refused(tmp_path: Path) -> None:
    """Oracle: two PLAN doses of one plan cannot both be the course dose."""
    folder = _export(tmp_path / "two", beams=False)
    beam_1, beam_2 = _beam_values()
    f.make_rt_dose(folder, filename="RD_plan2.dcm", shape_frc=SHAPE, position_mm=POSITION_MM, pixel_spacing_mm=SPACING_MM,
                   offsets_mm=OFFSETS_MM, referenced_plan_uid=f.uid("pb-plan-two"), dose_frc_gy=beam_1 + beam_2, seed="pb-plan-2")
    with pytest.raises(ConsistencyError, match="several RT Dose files"):
        load_course(folder, argument="PATIENT_DIR")


def test_discovery_says_the_plan_dose_is_used(tmp_path: Path) -> None:
    """Oracle: the files written; discovery's per-file note says what happens to the BEAM doses."""
    folder = _export(tmp_path / "disc")
    notes = [i.message for i in discover(folder).warnings if "BEAM" in i.message]
    assert len(notes) == 2 and all("the PLAN dose is used" in n for n in notes)


def test_batch_dvh_analysis_uses_the_plan_dose_and_warns_on_mismatch(tmp_path: Path) -> None:
    """Oracle: as above, through the batch's DVH-only analysis (pipelines.default_analysis): the
    mismatch warning is among the patient's warnings (which the batch records) and in every
    dvh_metrics.csv row (it names no ROI, so it concerns all)."""
    import csv

    from pipelines.analysis import AnalysisParameters
    from pipelines.default_analysis import dvh_analysis
    from pipelines.discovery import discover_patients

    folder = _export(tmp_path / "root" / "p1", bump=((4, 5, 7), 3.0))
    f.make_rt_struct(folder, rois=[f.box_roi(1, "Box", (0.0, -8.0), 4.0, (-27.0, -24.0, -21.0))])
    (patient,) = discover_patients(tmp_path / "root").patients
    out = tmp_path / "out"
    out.mkdir()
    result = dvh_analysis(patient, AnalysisParameters(), out)
    assert any("BEYOND" in w and "largest difference 3 Gy" in w for w in result.warnings)
    with open(out / "dvh_metrics.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and all("largest difference 3 Gy" in r["warnings"] for r in rows)
