"""Cumulative re-irradiation limits (dosimetry/data/reirradiation_limits.json) evaluated like the Emami rows.

Oracle: Nieder et al. 2006 as stated (cumulative BED <= 135.5 Gy2, each course <= 98 Gy2, at least
6 months apart) applied by hand to schedules whose BED2 = D (1 + d/2) is computed in the docstrings.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import dosimetry
from dosimetry.constraints.partial_volume import Status
from dosimetry.constraints.reirradiation import evaluate_limit, load_reirradiation_limits, parse_reirradiation_table
from dosimetry.errors import ConstraintError
from dosimetry.radiobiology.lq import bed_gy
from tests.test_constraints_check_cli import patient  # noqa: F401  (the synthetic two-course patient fixture)


def _cord():  # type: ignore[no-untyped-def]
    return next(e for e in load_reirradiation_limits().entries if e.organ.value == "spinal_cord")


def test_table_cites_every_row() -> None:
    """Oracle: the issue's numbers for Nieder 2006 and the table rule that every row names its source."""
    cord = _cord()
    assert (cord.cumulative_limit_gy, cord.per_course_limit_gy, cord.min_interval_months) == (135.5, 98.0, 6.0)
    assert cord.quantity == "bed" and cord.alpha_beta_gy == 2.0 and cord.short_source == "Nieder et al. 2006"
    assert all(e.source for e in load_reirradiation_limits().entries)
    with pytest.raises(ConstraintError, match="cite its source"):
        parse_reirradiation_table({"entries": [{"organ": "spinal_cord", "quantity": "bed", "metric": "sum_of_course_max",
                                                "structures": ["SpinalCord"], "alpha_beta_gy": 2, "cumulative_limit_gy": 100}]})


@pytest.mark.parametrize(
    ("first", "second", "months", "expected"),
    [
        # 45 Gy/25 fx: 45 x 1.9 = 85.5; 20 Gy/10 fx: 20 x 2 = 40; sum 125.5 <= 135.5, 12 months: all pass
        ((45.0, 25), (20.0, 10), 12.0, {"cumulative": Status.PASS, "current course": Status.PASS, "prior course": Status.PASS, "interval": Status.PASS}),
        # 45/25 (85.5) + 30 Gy/10 fx (30 x 2.5 = 75): 160.5 > 135.5
        ((45.0, 25), (30.0, 10), 12.0, {"cumulative": Status.FAIL, "current course": Status.PASS, "prior course": Status.PASS, "interval": Status.PASS}),
        # 50 Gy/25 fx: 50 x 2 = 100 > 98 for one course; 4 months < 6
        ((50.0, 25), (10.0, 10), 4.0, {"cumulative": Status.PASS, "current course": Status.PASS, "prior course": Status.FAIL, "interval": Status.FAIL}),
    ],
)
def test_nieder_hand_cases(first: tuple[float, int], second: tuple[float, int], months: float, expected: dict[str, Status]) -> None:
    """Prior course ``first``, current course ``second``; BED2 by hand in the parameter comments."""
    prior_bed, current_bed = bed_gy(*first, 2.0), bed_gy(*second, 2.0)
    rows = evaluate_limit("SpinalCord", _cord(), current_max_gy=current_bed, prior_max_gy=prior_bed, interval_months=months)
    assert {r.part: r.status for r in rows} == expected
    assert next(r for r in rows if r.part == "cumulative").value == pytest.approx(prior_bed + current_bed)


def test_unknown_interval_is_not_evaluable() -> None:
    rows = evaluate_limit("SpinalCord", _cord(), current_max_gy=10.0, prior_max_gy=10.0, interval_months=None)
    interval = next(r for r in rows if r.part == "interval")
    assert interval.status is Status.NOT_EVALUABLE and "--interval-months" in interval.reason


def test_patient_rows(patient: Path) -> None:  # noqa: F811
    """Oracle: the synthetic patient's cord lies at x < 0: current 22 GyE / 22 fx -> BED2 22 x 1.5 = 33,
    prior 30 Gy / 30 fx -> 30 x 1.5 = 45; sum 78 Gy2 <= 135.5 PASS; both plans dated the same day:
    interval 0 < 6 months FAIL, so the results fail."""
    results = dosimetry.load_patient(patient).results()
    rows = {r.endpoint.rsplit("[", 1)[1].rstrip("]"): r for r in results.constraints.rows if r.source == "reirradiation" and r.roi == "SpinalCord"}
    assert rows["cumulative"].value == pytest.approx(78.0, abs=1e-3) and rows["cumulative"].status == "PASS"
    assert rows["prior course"].value == pytest.approx(45.0, abs=1e-3)
    assert rows["interval"].status == "FAIL" and results.any_fail


def test_check_command_reports_the_limits(patient: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    """Oracle: the same hand values through ``dosimetry check --json``; the interval row FAILs
    (0 months) and makes the exit code 2, --interval-months 12 lets the cord's rows pass."""
    import json

    from dosimetry.cli import main as cli_main

    assert cli_main.main(["check", str(patient), "--json"]) == 2
    rows = json.loads(capsys.readouterr().out)["reirradiation_limits"]
    cumulative = next(r for r in rows if r["roi"] == "SpinalCord" and r["endpoint"].endswith("[cumulative]"))
    assert cumulative["value"] == pytest.approx(78.0, abs=1e-3)
    cli_main.main(["check", str(patient), "--json", "--interval-months", "12"])
    rows = json.loads(capsys.readouterr().out)["reirradiation_limits"]
    assert all(r["status"] == "PASS" for r in rows if r["roi"] == "SpinalCord")


def test_interval_from_the_prior_planning_date_is_not_confirmed(patient: Path, tmp_path: Path) -> None:  # noqa: F811
    """Oracle: dates by hand. The prior plan dated 2025-05-01 and the current 2026-01-01 (the
    factory's) are 245 days = 8.05 months apart, but without treatment records the prior course's
    end is unknown (a 7-week course ends mid-June, 6.6 months before): the 6-month interval row is
    NOT_EVALUABLE, not PASS. A treatment record with the last day 2025-07-15 (170 days = 5.59
    months before) makes it FAIL, one on 2025-06-15 (200 days = 6.57 months) PASS."""
    import shutil

    import pydicom

    from tests.test_reirradiation_patient import _record

    case = tmp_path / "case"
    shutil.copytree(patient, case)
    for path in (case / "prior").glob("*.dcm"):
        ds = pydicom.dcmread(path)
        if "RTPlanDate" in ds:
            ds.RTPlanDate = "20250501"
            ds.save_as(path)

    def interval_row(folder: Path):  # type: ignore[no-untyped-def]
        rows = dosimetry.load_patient(folder).results().constraints.rows
        return next(r for r in rows if r.source == "reirradiation" and r.roi == "SpinalCord" and r.endpoint.endswith("[interval]"))

    row = interval_row(case)
    assert row.value == pytest.approx(245 / 30.4375) and row.status == "NOT_EVALUABLE"
    assert "planning date" in row.reason
    _record(case / "prior", "20250715", "RT_record.dcm")
    row = interval_row(case)
    assert row.value == pytest.approx(170 / 30.4375) and row.status == "FAIL"
    _record(case / "prior", "20250615", "RT_record.dcm")
    row = interval_row(case)
    assert row.value == pytest.approx(200 / 30.4375) and row.status == "PASS"
    # planning dates 2024-01-01 -> 2026-01-01 (731 days = 24.0 months): even a 6-month prior course
    # leaves 18 months >= 6, so the planning dates alone confirm the interval
    far = tmp_path / "far"
    shutil.copytree(patient, far)
    for path in (far / "prior").glob("*.dcm"):
        ds = pydicom.dcmread(path)
        if "RTPlanDate" in ds:
            ds.RTPlanDate = "20240101"
            ds.save_as(path)
    row = interval_row(far)
    assert row.value == pytest.approx(731 / 30.4375) and row.status == "PASS"
    assert "even after 6 months for the prior course itself" in row.reason


def _voxelwise_table(metric: str, limit_gy: float, volume_cc: float | None = None):  # type: ignore[no-untyped-def]
    record = {"organ": "brain_stem", "organ_name": "Brainstem", "structures": ["Brainstem"], "endpoint": "test endpoint",
              "endpoint_id": "test_brainstem", "quantity": "eqd2", "alpha_beta_gy": 2.0, "metric": metric,
              "cumulative_limit_gy": limit_gy, "per_course_limit_gy": None, "min_interval_months": None,
              "source": "Hand example for the tests, not a published limit"}
    if volume_cc is not None:
        record["volume_cc"] = volume_cc
    return parse_reirradiation_table({"entries": [record]}, "test table")


def test_voxelwise_metric_rows_and_schema() -> None:
    """Oracle: the schema rules as stated in dosimetry.constraints.reirradiation (volume_cc only and
    always with cumulative_dose_at_volume) and hand comparisons: a voxel-wise value of 76.5 Gy
    against a limit of 80 passes, against 75 fails, whatever the course maxima (44 + 60 = 104)."""
    d003 = _voxelwise_table("cumulative_dose_at_volume", 80.0, 0.03).entries[0]
    row = evaluate_limit("BrainStem", d003, current_max_gy=44.0, prior_max_gy=60.0, interval_months=None, cumulative_gy=76.5)[0]
    assert row.status is Status.PASS and row.value == 76.5 and "D0.03cc of the voxel-wise sum" in row.metric
    dmax = _voxelwise_table("cumulative_max", 75.0).entries[0]
    row = evaluate_limit("BrainStem", dmax, current_max_gy=44.0, prior_max_gy=60.0, interval_months=None, cumulative_gy=76.5)[0]
    assert row.status is Status.FAIL and "Max of the voxel-wise sum" in row.metric
    with pytest.raises(ConstraintError, match="needs the voxel-wise cumulative value"):
        evaluate_limit("BrainStem", dmax, current_max_gy=44.0, prior_max_gy=60.0, interval_months=None)
    with pytest.raises(ConstraintError, match="volume_cc"):
        _voxelwise_table("cumulative_dose_at_volume", 80.0)
    with pytest.raises(ConstraintError, match="volume_cc"):
        _voxelwise_table("cumulative_max", 80.0, 1.0)
    with pytest.raises(ConstraintError, match="metric must be one of"):
        _voxelwise_table("dmax", 80.0)


@pytest.fixture(scope="module")
def crossed_patient(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The check patient with the prior course's high dose on the other side (x < 0) and a
    Brainstem box straddling x = 0 (x -6..6 mm)."""
    from tests import dicom_factory as f
    from tests.test_constraints_check_cli import PLANES, POSITION, _dose

    root = tmp_path_factory.mktemp("crossed")
    current, prior = root / "current", root / "prior"
    current.mkdir()
    prior.mkdir()
    ion_uid, photon_uid = f.uid("crossed-ion-plan"), f.uid("crossed-photon-plan")
    f.make_rt_ion_plan(current, fractions=22, dose_per_fraction_gy=2.0, sop_instance_uid=ion_uid)
    f.make_rt_dose(current, shape_frc=(13, 31, 31), position_mm=POSITION, pixel_spacing_mm=(2.0, 2.0), dose_frc_gy=_dose(22.0, 44.0),
                   dose_type="EFFECTIVE", referenced_plan_uid=ion_uid, seed="crossed-current-dose")
    f.make_rt_struct(current, rois=[f.box_roi(1, "BrainStem", (0.0, 0.0), 6.0, PLANES)], seed="crossed-struct")
    f.make_rt_plan(prior, fractions=30, prescription_gy=60.0, sop_instance_uid=photon_uid, seed="crossed-photon")
    f.make_rt_dose(prior, shape_frc=(13, 31, 31), position_mm=POSITION, pixel_spacing_mm=(2.0, 2.0), dose_frc_gy=_dose(60.0, 30.0),
                   referenced_plan_uid=photon_uid, seed="crossed-prior-dose")
    return root


@pytest.mark.parametrize(
    ("metric", "volume_cc", "limit_gy", "expected_value", "status"),
    [
        ("sum_of_course_max", None, 90.0, 104.0, "FAIL"),  # 44 + 60, maxima on opposite sides
        ("cumulative_max", None, 90.0, 76.5, "PASS"),  # x < 0: 16.5 + 60; x >= 0: 44 + 22.5 = 66.5
        ("cumulative_dose_at_volume", 0.03, 76.0, 76.5, "FAIL"),  # the x < 0 half (> 0.03 cc) is uniformly 76.5
    ],
)
def test_voxelwise_metrics_on_a_patient(
    crossed_patient: Path, monkeypatch: pytest.MonkeyPatch, metric: str, volume_cc: float | None, limit_gy: float,
    expected_value: float, status: str,
) -> None:
    """Oracle: EQD2 (a/b 2) by hand, EQD2 = D (d + 2) / 4. Current 22 GyE / 22 fx (x < 0) -> 16.5,
    44 / 22 (x >= 0) -> 44; prior 60 Gy / 30 fx (x < 0) -> 60, 30 / 30 (x >= 0) -> 22.5. The sum of
    the course maxima (104) is what sum_of_course_max limits; the voxel-wise sum peaks at 76.5 (the
    DVH engine's linear interpolation between the halves stays between 66.5 and 76.5)."""
    import dosimetry.patient.reirradiation_limits as module

    monkeypatch.setattr(module, "load_reirradiation_limits", lambda: _voxelwise_table(metric, limit_gy, volume_cc))
    rows, warnings = dosimetry.load_patient(crossed_patient).reirradiation_limits()
    assert not warnings
    (row,) = [r for r in rows if r.endpoint.endswith("[cumulative]")]
    assert row.roi == "BrainStem" and row.value == pytest.approx(expected_value, abs=0.02) and row.status == status


def test_check_cli_heading_fits_a_voxelwise_limit(crossed_patient: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The text output's heading of the limit rows must not say the rows are each course's maximum
    when a row is the maximum of the voxel-wise sum. Oracle: the hand value of
    test_voxelwise_metrics_on_a_patient (voxel-wise maximum 76.5 Gy, module of that test) printed
    under a heading that names no metric of its own."""
    import dosimetry.patient.reirradiation_limits as module
    from dosimetry.cli import main as cli_main

    monkeypatch.setattr(module, "load_reirradiation_limits", lambda: _voxelwise_table("cumulative_max", 90.0))
    cli_main.main(["check", str(crossed_patient), "--interval-months", "12"])
    out = capsys.readouterr().out
    heading = next(line for line in out.splitlines() if line.startswith("Cumulative re-irradiation limits"))
    assert "each course's maximum" not in heading
    (row,) = [line for line in out.splitlines() if "Max of the voxel-wise sum" in line]
    assert "76.5" in row and "Gy" in row
