"""The protocol's eligibility rules the DICOM can answer (dosimetry.patient.eligibility).

Oracle: the rules as stated (prior photon IMRT >= 66 Gy; an interval of at most 12 months to the
re-planning rules the recurrence out) applied by hand to plans written by tests/dicom_factory.py
with known prescriptions, beam types and control-point counts.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace

from pydicom.dataset import Dataset

from dosimetry.constraints.partial_volume import Status
from dosimetry.io.plan_reader import load_plan
from dosimetry.patient.eligibility import prior_course_check, recurrence_interval_check
from dosimetry.radiobiology.interval import CourseDates, CourseInterval
from tests import dicom_factory as f


def _course(tmp_path: Path, name: str, *, prescription_gy: float | None, control_points: int | None, beam_type: str = "STATIC"):  # type: ignore[no-untyped-def]
    folder = tmp_path / name
    folder.mkdir()

    def edit(ds: Dataset) -> None:
        for beam in ds.BeamSequence:
            beam.BeamType = beam_type
            if control_points is None:
                del beam.NumberOfControlPoints
            else:
                beam.NumberOfControlPoints = control_points

    path = f.make_rt_plan(folder, prescription_gy=prescription_gy, seed=name, edit=edit)
    return SimpleNamespace(plan=load_plan(path))


def test_prior_course_rule(tmp_path: Path) -> None:
    """70 Gy with 12-control-point beams: PASS; 60 Gy: FAIL; 70 Gy with 2-point static beams: FAIL
    (not modulated); 70 Gy DYNAMIC: PASS."""
    assert prior_course_check(_course(tmp_path, "imrt", prescription_gy=70.0, control_points=12)).status is Status.PASS
    low = prior_course_check(_course(tmp_path, "low", prescription_gy=60.0, control_points=12))
    assert low.status is Status.FAIL and "60 Gy < 66 Gy" in low.reason
    conformal = prior_course_check(_course(tmp_path, "3d", prescription_gy=70.0, control_points=2))
    assert conformal.status is Status.FAIL and "not intensity modulated" in conformal.reason
    assert prior_course_check(_course(tmp_path, "arc", prescription_gy=70.0, control_points=2, beam_type="DYNAMIC")).status is Status.PASS


def test_recurrence_interval_rule() -> None:
    """12 months or less to the re-planning: FAIL; more: necessary but not sufficient (NOT_EVALUABLE
    with the interval); no dates: NOT_EVALUABLE."""
    day = CourseDates(dt.date(2020, 1, 1), dt.date(2020, 1, 1), "test")
    assert recurrence_interval_check(CourseInterval(11.5, "test", day, day)).status is Status.FAIL
    assert recurrence_interval_check(CourseInterval(12.0, "test", day, day)).status is Status.FAIL
    later = recurrence_interval_check(CourseInterval(30.0, "test", day, day))
    assert later.status is Status.NOT_EVALUABLE and "30.0 months" in later.value and "clinical record" in later.reason
    assert recurrence_interval_check(None).status is Status.NOT_EVALUABLE
