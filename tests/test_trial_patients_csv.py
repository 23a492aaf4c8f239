"""Patient CSV for the TITE-CRM: both layouts, and errors naming line and column."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from dosimetry.errors import InputFileError, TrialDesignError
from dosimetry.trial.patients_csv import DAYS_PER_MONTH, read_patients_csv
from dosimetry.trial.weights import linear_weight, linear_weights


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "patients.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_followup_layout(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "# phase I patients\npatient_id,dose_level,followup_months,dlt\nP1,2,6,0\n\nP2, 2 ,3.5,yes\nP3,3,0,False\n",
    )
    pts = read_patients_csv(path)
    assert [p.patient_id for p in pts] == ["P1", "P2", "P3"]
    assert [p.dose_level for p in pts] == [2, 2, 3]
    assert [p.followup_months for p in pts] == [6.0, 3.5, 0.0]
    assert [p.dlt for p in pts] == [False, True, False]
    assert [p.line_number for p in pts] == [3, 5, 6]


def test_date_layout_with_as_of(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "Patient_ID,Dose_Level,Start_Date,End_Date,DLT\nA,2,2026-01-01,,0\nB,2,2026-03-01,2026-04-01,1\n",
    )
    as_of = dt.date(2026, 7, 1)
    pts = read_patients_csv(path, as_of=as_of)
    assert pts[0].followup_months == pytest.approx(181 / DAYS_PER_MONTH)
    assert pts[1].followup_months == pytest.approx(31 / DAYS_PER_MONTH)
    assert pts[1].dlt


def test_dates_need_as_of(tmp_path: Path) -> None:
    path = _write(tmp_path, "patient_id,dose_level,start_date,dlt\nA,2,2026-01-01,0\n")
    with pytest.raises(TrialDesignError, match="as-of date is required"):
        read_patients_csv(path)


@pytest.mark.parametrize(
    ("row", "column"),
    [
        ("P2,two,3,0", "dose_level"),
        ("P2,0,3,0", "dose_level"),
        ("P2,7,3,0", "dose_level"),
        ("P2,2,-1,0", "followup_months"),
        ("P2,2,abc,0", "followup_months"),
        ("P2,2,nan,0", "followup_months"),
        ("P2,2,3,maybe", "dlt"),
        ("P1,2,3,0", "patient_id"),
        (",2,3,0", "patient_id"),
    ],
)
def test_bad_row_names_line_and_column(tmp_path: Path, row: str, column: str) -> None:
    path = _write(tmp_path, f"patient_id,dose_level,followup_months,dlt\nP1,2,6,0\n{row}\n")
    with pytest.raises(TrialDesignError) as exc:
        read_patients_csv(path, n_levels=6)
    msg = str(exc.value)
    assert "line 3" in msg and f"column '{column}'" in msg and str(path) in msg


@pytest.mark.parametrize(
    ("row", "column"),
    [("A,2,2026-13-01,,0", "start_date"), ("A,2,2026-01-01,2026-08-01,0", "end_date"),
     ("A,2,2026-05-01,2026-04-01,0", "end_date"), ("A,2,2026-08-01,,0", "start_date")],
)
def test_bad_dates_name_line_and_column(tmp_path: Path, row: str, column: str) -> None:
    path = _write(tmp_path, f"patient_id,dose_level,start_date,end_date,dlt\n{row}\n")
    with pytest.raises(TrialDesignError, match=rf"line 2, column '{column}'"):
        read_patients_csv(path, as_of=dt.date(2026, 7, 1))


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("", "empty patient CSV"),
        ("patient_id,dose_level,dlt\n", "exactly one of"),
        ("patient_id,dose_level,followup_months,start_date,dlt\n", "exactly one of"),
        ("patient_id,level,followup_months,dlt\n", r"line 1: unknown column"),
        ("patient_id,followup_months,dlt\n", r"line 1: missing required column"),
        ("patient_id,dose_level,followup_months,dlt\nP1,2,6\n", r"line 2: expected 4 columns"),
    ],
)
def test_bad_files(tmp_path: Path, text: str, pattern: str) -> None:
    with pytest.raises(TrialDesignError, match=pattern):
        read_patients_csv(_write(tmp_path, text))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="not found"):
        read_patients_csv(tmp_path / "nope.csv")


def test_linear_weights() -> None:
    assert linear_weight(3.0, False, 6.0) == 0.5
    assert linear_weight(9.0, False, 6.0) == 1.0
    assert linear_weight(0.1, True, 6.0) == 1.0
    assert linear_weight(0.0, False, 4.0) == 0.0
    assert linear_weights([1.0, 2.0, 5.0], [False, True, False], 4.0) == (0.25, 1.0, 1.0)
    with pytest.raises(TrialDesignError, match="window_months"):
        linear_weight(1.0, False, 0.0)
    with pytest.raises(TrialDesignError, match="followup_months"):
        linear_weight(-1.0, False, 6.0)
