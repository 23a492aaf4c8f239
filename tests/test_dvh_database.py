"""The cohort database's DVH curves (issue 16 item 3): the batch stores every patient's cumulative
DVH next to its metrics, and ``correlate --study-report --lkb-roi`` fits the LKB model from a
database URL alone (SQLite and a real PostgreSQL server) with the same numbers as from the output
folder; the database password appears in no output; a database written before the DVH table
existed still opens and a rerun fills it in."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from dosimetry.cli import main as cli_main
from dosimetry.outcomes.lkb_fit import fit_lkb
from pipelines.analysis import AnalysisParameters, PatientInputs, PatientResult
from pipelines.batch import ProgressMode, run_batch
from pipelines.store import CohortStore, dvh_curves, runs, schema_info
from tests.pipelines_cohort import LKB_COHORT, lkb_cohort, lkb_dvh_analysis, write_patient


def _cohort(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "root"
    cohort = lkb_cohort()
    for i in range(1, int(LKB_COHORT["patients"]) + 1):
        write_patient(root / f"p{i:02d}", patient_id=f"P{i:02d}")
    outcomes = tmp_path / "outcomes.csv"
    outcomes.write_text(
        "patient_id,worst_toxicity_grade\n"
        + "".join(f"P{i:02d},{3 if y else 1}\n" for i, y in enumerate(cohort.outcome, start=1)),  # type: ignore[attr-defined]
        encoding="utf-8",
    )
    return root, outcomes


def _batch(root: Path, out: Path, db_url: str, capsys: pytest.CaptureFixture[str]) -> str:
    code = cli_main.main(["--verbose", "batch", str(root), "--out", str(out), "--workers", "0", "--progress", "lines",
                          "--db", db_url, "--analysis", "tests.pipelines_cohort:lkb_dvh_analysis"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out + captured.err


def _study(source: list[str], outcomes: Path, report: Path, capsys: pytest.CaptureFixture[str]) -> tuple[dict, str]:
    code = cli_main.main(["correlate", *source, "--outcomes", str(outcomes), "--endpoint", "worst_toxicity_grade>=3",
                          "--study-report", str(report), "--lkb-roi", "BrainStem", "--bootstrap", "5"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads((report / "study.json").read_text(encoding="utf-8")), captured.out + captured.err


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{(tmp_path / 'elsewhere' / 'cohort.sqlite').as_posix()}"
    return str(request.getfixturevalue("postgres_url"))


def test_lkb_fit_from_the_database_equals_the_fit_from_the_folder(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """Oracles: the fit from the output folder's dvh.csv files (another reader of other bytes: the
    decimal text, not the database), equal to the last bit, and the fit on the simulated organs
    directly (the cumulative DVH written at the simulation's bin edges converts back to its bins);
    the password is the server's random token, searched verbatim in everything printed, logged
    and written."""
    caplog.set_level(logging.DEBUG)
    (tmp_path / "elsewhere").mkdir()
    root, outcomes = _cohort(tmp_path)
    out = tmp_path / "out"
    transcripts = [_batch(root, out, db_url, capsys)]

    from_folder, _ = _study(["--results", str(out), "--source", "csv"], outcomes, tmp_path / "from_folder", capsys)
    from_db, printed = _study(["--source", db_url], outcomes, tmp_path / "from_db", capsys)
    transcripts.append(printed)

    assert "LKB NTCP fit" not in from_db["not_done"] and "LKB NTCP fit" not in from_folder["not_done"]
    assert from_db["lkb"] == from_folder["lkb"]
    for name in ("lkb_parameters.csv", "lkb_patients.csv", "lkb_calibration.csv"):
        assert (tmp_path / "from_db" / name).read_bytes() == (tmp_path / "from_folder" / name).read_bytes(), name
    cohort = lkb_cohort()
    direct = fit_lkb(cohort.organs, cohort.outcome, bootstrap=0)  # type: ignore[attr-defined]
    assert from_db["lkb"]["td50_gy"]["estimate"] == pytest.approx(direct.td50.estimate, rel=1e-6)
    assert from_db["lkb"]["m"]["estimate"] == pytest.approx(direct.m.estimate, rel=1e-5)
    assert from_db["lkb"]["n"]["estimate"] == pytest.approx(direct.n.estimate, rel=1e-5)

    password = sa.engine.make_url(db_url).password
    if password:
        every_file = "\n".join(p.read_bytes().decode("utf-8", "replace") for p in tmp_path.rglob("*")
                               if p.is_file() and p.suffix in {".json", ".csv", ".html", ".txt"})
        for text in (*transcripts, caplog.text, every_file):
            assert password not in text


def test_stored_curves_are_the_dvh_csv_numbers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Oracle: numpy's own text parser (``np.genfromtxt``) on each patient's published dvh.csv;
    the stored float64 bytes must give exactly those numbers, for both curves of every patient."""
    root, _ = _cohort(tmp_path)
    out = tmp_path / "out"
    url = f"sqlite:///{(out / 'cohort.sqlite').as_posix()}"
    _batch(root, out, url, capsys)
    store = CohortStore.open(url)
    try:
        assert store.count(dvh_curves) == 2 * int(LKB_COHORT["patients"])
        with store.engine.connect() as conn:
            run_id = conn.execute(sa.select(runs.c.run_id)).scalar_one()
        for roi, quantity in (("BrainStem", "EQD2_2_cumulative"), ("Parotid_L", "physical")):
            stored = list(store.dvh_curve_rows(run_id, roi, quantity))
            assert len(stored) == int(LKB_COHORT["patients"])
            for key, _pid, curve in stored:
                table = np.genfromtxt(out / "patients" / key / "dvh.csv", delimiter=",", names=True, dtype=None, encoding="utf-8")
                rows = table[(table["roi"] == roi) & (table["quantity"] == quantity)]
                assert np.array_equal(curve.dose_gy, rows["dose_gy"].astype(np.float64))
                assert np.array_equal(curve.volume_cc, rows["volume_cc"].astype(np.float64))
    finally:
        store.close()


def test_a_database_older_than_the_dvh_table_opens_and_a_rerun_fills_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Oracle: the fit from the output folder. A schema-1 database (no dvh_curves table) is made by
    dropping the table; correlate still reads its metrics and says why the LKB fit is not done; a
    rerun of the batch (every patient unchanged) adds the table and stores the curves."""
    root, outcomes = _cohort(tmp_path)
    out = tmp_path / "out"
    url = f"sqlite:///{(out / 'cohort.sqlite').as_posix()}"
    _batch(root, out, url, capsys)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        dvh_curves.drop(conn)
        conn.execute(schema_info.update().values(value="1"))
    engine.dispose()

    old, _ = _study(["--source", url], outcomes, tmp_path / "old", capsys)
    assert "holds no DVH curves" in old["not_done"]["LKB NTCP fit"] and "rerun 'dosimetry batch'" in old["not_done"]["LKB NTCP fit"]
    assert old["correlation"]["patients"] == int(LKB_COHORT["patients"])

    printed = _batch(root, out, url, capsys)
    assert "0 analysed, 30 unchanged (skipped), 0 failed" in printed
    store = CohortStore.open(url)
    try:
        assert store.count(dvh_curves) == 2 * int(LKB_COHORT["patients"])
    finally:
        store.close()
    from_db, _ = _study(["--source", url], outcomes, tmp_path / "from_db", capsys)
    from_folder, _ = _study(["--results", str(out), "--source", "csv"], outcomes, tmp_path / "from_folder", capsys)
    assert from_db["lkb"] == from_folder["lkb"] and from_db["lkb"] is not None
    with open(tmp_path / "from_db" / "not_done.csv", newline="", encoding="utf-8") as handle:
        assert all("LKB" not in ",".join(row) for row in csv.reader(handle))


def _unreadable_dvh_analysis(inputs: PatientInputs, parameters: AnalysisParameters, out_dir: Path) -> PatientResult:
    """``lkb_dvh_analysis``, except that P02's dvh.csv has a dose that is no number."""
    result = lkb_dvh_analysis(inputs, parameters, out_dir)
    if inputs.patient_id == "P02":
        path = out_dir / "dvh.csv"
        lines = path.read_text(encoding="utf-8").splitlines()
        lines[5] = "BrainStem,EQD2_2_cumulative,abc,1.0,0"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return result


def test_an_unreadable_dvh_csv_fails_that_patient_only(tmp_path: Path) -> None:
    """Oracle: the planted defect (line 6 of P02's dvh.csv); the patient is failed with a reason
    naming the file and line, keeps no rows and no published folder; the others keep their curves."""
    root = tmp_path / "root"
    for i in range(1, 4):
        write_patient(root / f"p{i:02d}", patient_id=f"P{i:02d}")
    out = tmp_path / "out"
    summary = run_batch(root, out, analysis=_unreadable_dvh_analysis, workers=0, progress=ProgressMode.OFF)
    assert (summary.succeeded, summary.failed) == (2, 1)
    failure = summary.failures[0]
    assert failure.patient_id == "P02"
    assert failure.error is not None and "dvh.csv, line 6: dose_gy/volume_cc not numbers" in failure.error
    assert not (out / "patients" / failure.key).exists()
    store = CohortStore.open(f"sqlite:///{(out / 'cohort.sqlite').as_posix()}")
    try:
        assert store.count(dvh_curves) == 4 and not store.has_dvh_curves(failure.key)
        assert not any(row["patient_id"] == "P02" for row in store.metric_rows(summary.run_id))
    finally:
        store.close()
