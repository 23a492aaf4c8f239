"""The protocol's eligibility rules the DICOM can answer (dosimetry.patient.eligibility).

Oracle: the rules as stated (prior photon IMRT >= 66 Gy, IMRT meaning MLC-modulated beams; an
interval of at most 12 months to the re-planning rules the recurrence out) applied by hand to plans
written by tests/dicom_factory.py with known prescriptions, beam types, wedges and leaf positions.
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


def _beam_points(leaf_openings_mm: list[float] | None, control_points: int) -> list[Dataset]:
    """``control_points`` control points; with ``leaf_openings_mm``, the n-th gives an MLCX opening of
    that half-width (10 leaf pairs); the others give no leaf positions (the previous ones hold)."""
    points = []
    for index in range(control_points):
        cp = Dataset()
        cp.ControlPointIndex = index
        if leaf_openings_mm is not None and index < len(leaf_openings_mm):
            pos = Dataset()
            pos.RTBeamLimitingDeviceType = "MLCX"
            half = leaf_openings_mm[index]
            pos.LeafJawPositions = [-half] * 10 + [half] * 10
            cp.BeamLimitingDevicePositionSequence = [pos]
        points.append(cp)
    return points


def _course(  # type: ignore[no-untyped-def]
    tmp_path: Path, name: str, *, prescription_gy: float | None, control_points: int | None, beam_type: str = "STATIC",
    mlc: bool = False, leaf_openings_mm: list[float] | None = None, wedge: str | None = None,
):
    folder = tmp_path / name
    folder.mkdir()

    def edit(ds: Dataset) -> None:
        for beam in ds.BeamSequence:
            beam.BeamType = beam_type
            if control_points is None:
                del beam.NumberOfControlPoints
            else:
                beam.NumberOfControlPoints = control_points
                beam.ControlPointSequence = _beam_points(leaf_openings_mm, control_points)
            if mlc:
                device = Dataset()
                device.RTBeamLimitingDeviceType = "MLCX"
                device.NumberOfLeafJawPairs = 10
                beam.BeamLimitingDeviceSequence = [device]
            if wedge is not None:
                item = Dataset()
                item.WedgeNumber = 1
                item.WedgeType = wedge
                beam.WedgeSequence = [item]
                beam.NumberOfWedges = 1

    path = f.make_rt_plan(folder, prescription_gy=prescription_gy, seed=name, edit=edit)
    return SimpleNamespace(plan=load_plan(path))


def test_prior_course_rule(tmp_path: Path) -> None:
    """Oracle: the IMRT rule by hand on beams whose leaf positions are written here. 70 Gy, 12
    control points whose MLC opening changes (50, 40, 30 mm): PASS; 60 Gy: FAIL; 70 Gy with 2
    control points and a still MLC (50, 50 mm): FAIL (not modulated)."""
    moving = [50.0, 40.0, 30.0]
    assert prior_course_check(_course(tmp_path, "imrt", prescription_gy=70.0, control_points=12, mlc=True, leaf_openings_mm=moving)).status is Status.PASS
    low = prior_course_check(_course(tmp_path, "low", prescription_gy=60.0, control_points=12, mlc=True, leaf_openings_mm=moving))
    assert low.status is Status.FAIL and "60 Gy < 66 Gy" in low.reason
    conformal = prior_course_check(_course(tmp_path, "3d", prescription_gy=70.0, control_points=2, mlc=True, leaf_openings_mm=[50.0, 50.0]))
    assert conformal.status is Status.FAIL and "not intensity modulated" in conformal.reason


def test_dynamic_wedge_is_not_imrt(tmp_path: Path) -> None:
    """Oracle: the rule as the issue states it (only MLC-modulated beams are IMRT). A DYNAMIC beam
    with an enhanced dynamic wedge and no MLC: FAIL; DYNAMIC with a dynamic wedge and an MLC whose
    leaves stay at 50 mm over 20 control points: FAIL; DYNAMIC with an MLC and no leaf positions
    (a sliding-window plan exported without them): PASS; STATIC with 12 control points and an MLC
    but no leaf positions: NOT_EVALUABLE (segments or not cannot be told)."""
    edw = prior_course_check(_course(tmp_path, "edw", prescription_gy=70.0, control_points=2, beam_type="DYNAMIC", wedge="DYNAMIC"))
    assert edw.status is Status.FAIL and "dynamic wedge" in edw.reason
    still = prior_course_check(_course(tmp_path, "still", prescription_gy=70.0, control_points=20, beam_type="DYNAMIC", mlc=True,
                                       leaf_openings_mm=[50.0] * 20, wedge="DYNAMIC"))
    assert still.status is Status.FAIL and "MLC leaves still" in still.reason
    sliding = prior_course_check(_course(tmp_path, "sliding", prescription_gy=70.0, control_points=2, beam_type="DYNAMIC", mlc=True))
    assert sliding.status is Status.PASS and "DYNAMIC with an MLC" in sliding.reason
    unknown = prior_course_check(_course(tmp_path, "unknown", prescription_gy=70.0, control_points=12, mlc=True))
    assert unknown.status is Status.NOT_EVALUABLE and "no MLC leaf positions" in unknown.reason


def test_recurrence_interval_rule() -> None:
    """12 months or less to the re-planning: FAIL; more: necessary but not sufficient (NOT_EVALUABLE
    with the interval); no dates: NOT_EVALUABLE."""
    day = CourseDates(dt.date(2020, 1, 1), dt.date(2020, 1, 1), "test")
    assert recurrence_interval_check(CourseInterval(11.5, "test", day, day)).status is Status.FAIL
    assert recurrence_interval_check(CourseInterval(12.0, "test", day, day)).status is Status.FAIL
    later = recurrence_interval_check(CourseInterval(30.0, "test", day, day))
    assert later.status is Status.NOT_EVALUABLE and "30.0 months" in later.value and "clinical record" in later.reason
    assert recurrence_interval_check(None).status is Status.NOT_EVALUABLE
