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
