"""Outcomes CSV reading and validation, endpoints, and the Holm adjustment."""

from __future__ import annotations

from pathlib import Path

import pytest

from dosimetry.errors import ArgumentError, InputFileError
from dosimetry.outcomes import (
    Comparator,
    Endpoint,
    OutcomesTableError,
    endpoint_values,
    holm_adjust,
    parse_endpoint,
    read_outcomes_csv,
)
from dosimetry.sampledata.outcomes import Outcome, outcomes_csv_text


def _write(tmp_path: Path, text: str, name: str = "outcomes.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_the_sample_data_generators_format(tmp_path: Path) -> None:
    import datetime as dt

    outcomes = [
        Outcome("NPC001", 2, 22, 55.0, 10.0, 40.0, dt.date(2024, 1, 1), 3, "Trismus", dt.date(2024, 6, 1), 20.0, "alive", False),
        Outcome("NPC002", 3, 23, 57.5, 12.0, 45.0, dt.date(2024, 1, 1), 1, "Xerostomia", dt.date(2024, 6, 1), 30.0, "alive", True),
        Outcome("NPC003", 4, 24, 60.0, 9.0, 38.0, dt.date(2024, 1, 1), 0, "", None, 14.0, "alive", False),
    ]
    path = _write(tmp_path, outcomes_csv_text(outcomes))
    table = read_outcomes_csv(path)
    assert table.patient_ids == ("NPC001", "NPC002", "NPC003")
    assert table.line_of["NPC003"] == 4
    tox = endpoint_values(table, parse_endpoint("worst_toxicity_grade>=3"))
    assert dict(tox.by_patient) == {"NPC001": True, "NPC002": False, "NPC003": False}
    prog = endpoint_values(table, parse_endpoint("local_progression"))
    assert dict(prog.by_patient) == {"NPC001": False, "NPC002": True, "NPC003": False}
    assert prog.events == 1 and prog.missing == ()


@pytest.mark.parametrize(
    "text,expected",
    [
        ("worst_toxicity_grade>=3", Endpoint("worst_toxicity_grade", Comparator.GE, 3.0)),
        (" grade > 2.5 ", Endpoint("grade", Comparator.GT, 2.5)),
        ("followup_months<12", Endpoint("followup_months", Comparator.LT, 12.0)),
        ("x==1e0", Endpoint("x", Comparator.EQ, 1.0)),
        ("local_progression", Endpoint("local_progression")),
    ],
)
def test_parse_endpoint(text: str, expected: Endpoint) -> None:
    assert parse_endpoint(text) == expected


@pytest.mark.parametrize("text", ["", "grade >= ", ">= 3", "grade => 3", "grade >= three", "a b"])
def test_bad_endpoint_expressions_are_refused(text: str) -> None:
    with pytest.raises(ArgumentError, match="--endpoint"):
        parse_endpoint(text)


def test_missing_cells_are_listed_not_dropped_silently(tmp_path: Path) -> None:
    path = _write(tmp_path, "patient_id,grade\nP1,3\nP2,\nP3,0\n")
    values = endpoint_values(read_outcomes_csv(path), parse_endpoint("grade>=3"))
    assert values.missing == ("P2",)
    assert "P2" in values.warnings[0] and "grade" in values.warnings[0]
    assert set(values.by_patient) == {"P1", "P3"}


@pytest.mark.parametrize(
    "text,endpoint,fragments",
    [
        ("patient_id,grade\nP1,3\nP2,high\n", "grade>=3", ["line 3", "column 'grade'", "'high'"]),
        ("patient_id,prog\nP1,1\nP2,maybe\n", "prog", ["line 3", "column 'prog'", "binary"]),
        ("patient_id,grade\nP1,3\nP2,nan\n", "grade>=3", ["line 3", "finite"]),
        ("patient_id,grade\nP1,3\n", "toxicity_grade>=3", ["no column 'toxicity_grade'", "columns: patient_id, grade"]),
    ],
)
def test_bad_cells_name_file_line_and_column(tmp_path: Path, text: str, endpoint: str, fragments: list[str]) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(OutcomesTableError) as info:
        endpoint_values(read_outcomes_csv(path), parse_endpoint(endpoint))
    message = str(info.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize(
    "text,fragments",
    [
        ("", ["empty"]),
        ("id,grade\nP1,3\n", ["line 1", "no 'patient_id' column"]),
        ("patient_id\nP1\n", ["no endpoint columns"]),
        ("patient_id,grade,grade\nP1,1,2\n", ["line 1", "column 3", "twice"]),
        ("patient_id,grade\n", ["no patient rows"]),
        ("patient_id,grade\nP1,3\nP2,1,7\n", ["line 3", "3 fields, expected 2"]),
        ("patient_id,grade\nP1,3\n,1\n", ["line 3", "column 'patient_id'", "empty patient id"]),
        ("patient_id,grade\nP1,3\nP2,1\nP1,0\n", ["line 4", "'P1' already appears on line 2"]),
    ],
)
def test_malformed_tables_name_file_line_and_column(tmp_path: Path, text: str, fragments: list[str]) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(OutcomesTableError) as info:
        read_outcomes_csv(path)
    assert str(path) in str(info.value)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_missing_file_and_bom_and_blank_lines(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="does not exist"):
        read_outcomes_csv(tmp_path / "absent.csv")
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffpatient_id,grade\r\nP1,3\r\n\r\nP2,0\r\n".encode())
    table = read_outcomes_csv(path)
    assert table.columns == ("patient_id", "grade") and table.patient_ids == ("P1", "P2")


def test_holm_against_a_hand_computed_case() -> None:
    # m = 4: sorted 0.01, 0.02, 0.03, 0.5 -> 0.04, max(0.04, 0.06)=0.06, max(0.06, 0.06)=0.06, 0.5
    assert holm_adjust([0.03, 0.5, 0.01, 0.02]) == pytest.approx((0.06, 0.5, 0.04, 0.06))
    assert holm_adjust([0.4, 0.6]) == pytest.approx((0.8, 0.8))
    assert holm_adjust([]) == ()
    with pytest.raises(ArgumentError, match="#1"):
        holm_adjust([0.1, 1.5])
