"""Loading one course from a folder for ``accumulate`` (through dosimetry.io.discover)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dosimetry.dose import DoseSummationType, DoseType
from dosimetry.errors import ConsistencyError, InputFileError
from dosimetry.radiobiology.course import find_registration, load_course
from dosimetry.registration import RigidRegistration
from tests.test_radiobiology_cli import (
    CURRENT_FRAME,
    CURRENT_GRID,
    PRIOR_FRAME,
    write_dose,
    write_plan,
)


def test_fraction_dose_is_scaled_to_the_course(tmp_path: Path) -> None:
    uid = write_plan(tmp_path / "RP.dcm", fractions=22, ion=True, frame=CURRENT_FRAME)
    write_dose(
        tmp_path / "RD.dcm",
        CURRENT_GRID,
        np.full(CURRENT_GRID.shape_zyx, 2.5),
        dose_type=DoseType.EFFECTIVE,
        frame=CURRENT_FRAME,
        plan_uid=uid,
        ion=True,
        summation=DoseSummationType.FRACTION,
    )
    course = load_course(tmp_path, argument="--current")
    np.testing.assert_allclose(course.dose.dose_gy, 55.0, rtol=1e-8)
    assert course.plan.fractions_planned == 22


def test_two_courses_in_one_folder_refused(tmp_path: Path) -> None:
    for name, frame in (("a", CURRENT_FRAME), ("b", PRIOR_FRAME)):
        uid = write_plan(tmp_path / f"RP_{name}.dcm", fractions=22, ion=True, frame=frame)
        write_dose(
            tmp_path / f"RD_{name}.dcm", CURRENT_GRID, np.ones(CURRENT_GRID.shape_zyx), dose_type=DoseType.EFFECTIVE, frame=frame, plan_uid=uid, ion=True
        )
    with pytest.raises(ConsistencyError, match=r"--prior .*found 2"):
        load_course(tmp_path, argument="--prior")


def test_plan_dose_used_when_its_beam_doses_cannot_be_checked(tmp_path: Path) -> None:
    """Oracle: the values written (PLAN dose of 1 Gy). A BEAM dose without ReferencedBeamNumber
    cannot be summed, so the PLAN dose is used and a warning says the check could not run (issue 21
    item 9: a PLAN dose exported with BEAM doses was refused)."""
    uid = write_plan(tmp_path / "RP.dcm", fractions=22, ion=True, frame=CURRENT_FRAME)
    values = np.ones(CURRENT_GRID.shape_zyx)
    write_dose(tmp_path / "RD1.dcm", CURRENT_GRID, values, dose_type=DoseType.EFFECTIVE, frame=CURRENT_FRAME, plan_uid=uid, ion=True)
    write_dose(
        tmp_path / "RD2.dcm", CURRENT_GRID, values, dose_type=DoseType.EFFECTIVE, frame=CURRENT_FRAME, plan_uid=uid, ion=True,
        summation=DoseSummationType.BEAM,
    )
    course = load_course(tmp_path, argument="--current")
    np.testing.assert_allclose(course.dose.dose_gy, 1.0)
    assert course.dose.source_path == tmp_path / "RD1.dcm" and course.beam_sum_check is None
    assert any("BEAM doses could not be checked" in w and "ReferencedBeamNumber" in w for w in course.warnings)


def test_missing_folder_and_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="--current"):
        load_course(tmp_path / "absent", argument="--current")
    with pytest.raises(ConsistencyError, match="found 0"):
        load_course(tmp_path, argument="--current")


def test_find_registration_either_direction_and_ambiguity() -> None:
    forward = RigidRegistration(PRIOR_FRAME, CURRENT_FRAME, np.eye(4))
    other = RigidRegistration("1.2.3", CURRENT_FRAME, np.eye(4))
    assert find_registration((other, forward), current_frame_uid=CURRENT_FRAME, prior_frame_uid=PRIOR_FRAME) is forward
    assert find_registration((forward.inverse(),), current_frame_uid=CURRENT_FRAME, prior_frame_uid=PRIOR_FRAME) is not None
    assert find_registration((other,), current_frame_uid=CURRENT_FRAME, prior_frame_uid=PRIOR_FRAME) is None
    with pytest.raises(ConsistencyError, match="several registrations"):
        find_registration((forward, forward.inverse()), current_frame_uid=CURRENT_FRAME, prior_frame_uid=PRIOR_FRAME)


def test_course_registration_on_the_sample_patient() -> None:
    from dosimetry.errors import ConsistencyError
    from dosimetry.radiobiology.course import course_registration, load_course

    sample = Path(__file__).resolve().parents[1] / "sample_data" / "patient01"
    current = load_course(sample / "current", argument="current")
    prior = load_course(sample / "prior", argument="prior")
    found = course_registration(current, prior)  # the RE file in prior/ links the two frames
    assert found is not None and found.source_path is not None and Path(found.source_path).name == "RE_patient01.dcm"
    assert course_registration(current, prior, search_folders=False) is None
    given = course_registration(current, prior, registration_path=Path(found.source_path), search_folders=False)
    assert given is not None and given.source_frame_uid == found.source_frame_uid
    assert course_registration(current, current) is None  # same frame: nothing to look for
    with pytest.raises(ConsistencyError, match="does not link"):
        course_registration(current, current, registration_path=Path(found.source_path))
