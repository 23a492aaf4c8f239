"""The cohort database schema (SQLite), idempotent writes, metrics.csv, and the run key."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from dosimetry.errors import ArgumentError, OutputError
from pipelines.default_analysis import dvh_analysis
from pipelines.analysis import (
    AnalysisParameters,
    ConstraintRow,
    CourseRow,
    DicomFileInfo,
    Layout,
    MetricRow,
    PatientInputs,
    PatientResult,
    RoiRow,
    analysis_identity,
    load_analysis,
)
from pipelines.batch import ProgressMode, run_batch
from pipelines.csv_out import read_metrics_csv, write_metrics_csv
from pipelines.hashing import file_sha256, run_key
from pipelines.store import CohortStore, constraint_results, metrics, patients, rois
from tests.pipelines_cohort import header_analysis
from tests.test_pipelines_batch import make_cohort


def test_schema_supports_toxicity_queries_and_matches_csv(tmp_path: Path) -> None:
    root, out = tmp_path / "root", tmp_path / "out"
    make_cohort(root, bad=True, hostile=True, valid=2)
    summary = run_batch(root, out, analysis=dvh_analysis, workers=0, progress=ProgressMode.OFF)
    csv_rows = read_metrics_csv(out / "metrics.csv")
    with sqlite3.connect(out / "cohort.sqlite") as db:
        joined = db.execute(
            "SELECT p.patient_id, m.value FROM metrics m JOIN patients p USING (patient_key) "
            "WHERE m.roi = 'Brainstem' AND m.quantity = 'physical' AND m.metric = 'Max[Gy]' ORDER BY p.patient_id"
        ).fetchall()
        n_metrics = db.execute("SELECT COUNT(*) FROM metrics").fetchone()[0]
        failed = db.execute("SELECT patient_id, error FROM patients WHERE status = 'failed' ORDER BY patient_id").fetchall()
        roi_volumes = db.execute(
            "SELECT r.name, r.volume_cc FROM rois r JOIN patients p USING (patient_key) WHERE p.patient_id = 'P01' ORDER BY r.name"
        ).fetchall()
        run = db.execute("SELECT status, succeeded, skipped, failed, parameters_json, software_version FROM runs").fetchone()
        per_patient = db.execute("SELECT COUNT(*), SUM(status = 'failed') FROM patient_runs").fetchone()
    assert n_metrics == len(csv_rows) == summary.metrics_rows > 0
    assert [pid for pid, _ in joined] == sorted(["P01", "P02", "../../x", "/etc/passwd", "a/b", ".."])
    assert all(value > 0 for _, value in joined)
    assert [pid for pid, _ in failed] == ["B01", "B02", "B03"] and all(error for _, error in failed)
    # Brainstem: 6 x 18 mm box on 3 contours 3 mm apart, half-slab end caps -> 6*18*9 mm3 = 0.972 cc
    assert roi_volumes[0][0] == "Brainstem" and roi_volumes[0][1] == pytest.approx(0.972, rel=1e-6)
    assert run[:4] == ("completed_with_failures", 6, 0, 3)
    assert json.loads(run[4])["residual_fraction"] == 0.3 and run[5]
    assert per_patient == (9, 3)


def _inputs(tmp_path: Path) -> PatientInputs:
    path = tmp_path / "RD.dcm"
    path.write_bytes(b"dose bytes")
    info = DicomFileInfo(path, "RD.dcm", "RTDOSE", "1.2", "1.2.3", "P1", "1.4", "1.5", "1.6", 10)
    return PatientInputs(key="P1", patient_id="P1", layout=Layout.FOLDER, source_dir=tmp_path, files=(info,))


RESULT = PatientResult(
    metrics=(MetricRow("Brainstem", "EQD2", "D0.03cc[Gy]", 41.5, "Gy"), MetricRow("PTV", "physical", "D95%[Gy]", 60.1, "Gy")),
    constraints=(ConstraintRow("Brainstem", "EQD2", "D0.03cc[Gy]", "<=", 54.0, 41.5, "Gy", True, "Emami"),),
    courses=(CourseRow("current", "1.2.3", "ION", 23, 63.0, "1.6"),),
    rois=(RoiRow("Brainstem", "ORGAN", 25.0), RoiRow("PTV", "PTV", 80.0)),
)


def test_record_success_is_idempotent(tmp_path: Path) -> None:
    store = CohortStore.open(f"sqlite:///{tmp_path / 'c.sqlite'}")
    inputs = _inputs(tmp_path)
    for run_id in ("run-1", "run-1", "run-2"):
        store.record_success(run_id, inputs, run_key="k", inputs_sha256="i", file_sha256=[("RD.dcm", "s")],
                             result=RESULT, skipped=False, duration_s=1.0)
    assert (store.count(patients), store.count(metrics), store.count(rois), store.count(constraint_results)) == (1, 2, 2, 1)
    with store.engine.connect() as conn:
        passed = conn.execute(sa.select(constraint_results.c.passed, constraint_results.c.limit_value)).one()
    assert tuple(passed) == (True, 54.0)
    assert store.patient_run_key("P1") == "k"
    store.record_failure("run-3", inputs, error="bad", run_key=None, duration_s=0.1)
    assert (store.count(patients), store.count(metrics), store.count(rois)) == (1, 0, 0)
    assert store.patient_run_key("P1") is None
    rows = list(store.metric_rows())
    assert write_metrics_csv(tmp_path / "m.csv", rows) == 0
    store.close()


def test_csv_round_trips_floats(tmp_path: Path) -> None:
    value = 0.1 + 0.2
    rows = [{"patient_key": "k", "patient_id": "=cmd", "roi": "R,1", "quantity": "q", "metric": "Mean[Gy]", "value": value, "unit": "Gy"}]
    assert write_metrics_csv(tmp_path / "m.csv", rows) == 1
    (row,) = read_metrics_csv(tmp_path / "m.csv")
    assert float(row["value"]) == value and row["roi"] == "R,1"


def test_result_refuses_duplicate_rows() -> None:
    row = MetricRow("PTV", "physical", "Mean[Gy]", 1.0, "Gy")
    with pytest.raises(ArgumentError, match="twice"):
        PatientResult(metrics=(row, row))
    with pytest.raises(ArgumentError, match="not finite"):
        MetricRow("PTV", "physical", "Mean[Gy]", float("nan"), "Gy")


def test_bad_database_url_is_an_argument_error() -> None:
    with pytest.raises(ArgumentError, match="SQLAlchemy database URL"):
        CohortStore.open("not a url")


def test_run_key_depends_on_content_parameters_and_analysis(tmp_path: Path) -> None:
    inputs = _inputs(tmp_path)
    params = AnalysisParameters()
    base = run_key(inputs, params, "a")
    assert base.inputs_sha256 and base.file_sha256 == (("RD.dcm", file_sha256(inputs.files[0].path)),)
    assert run_key(inputs, params, "a") == base
    assert run_key(inputs, AnalysisParameters(residual_fraction=0.5), "a").key != base.key
    assert run_key(inputs, params, "b").key != base.key
    assert run_key(inputs, params, "a", software_version="9.9").key != base.key
    protocol = tmp_path / "protocol.yaml"
    protocol.write_text("v: 1")
    with_protocol = run_key(inputs, AnalysisParameters(protocol_path=protocol), "a")
    protocol.write_text("v: 2")
    assert run_key(inputs, AnalysisParameters(protocol_path=protocol), "a").key != with_protocol.key
    inputs.files[0].path.write_bytes(b"other dose bytes")
    changed = run_key(inputs, params, "a")
    assert changed.key != base.key and changed.inputs_sha256 != base.inputs_sha256


def test_analysis_identity_and_loading() -> None:
    assert analysis_identity(header_analysis) == "tests.header_analysis"
    default = load_analysis("pipelines.default_analysis:dvh_analysis")
    assert analysis_identity(default) == "pipelines.default_analysis.dvh_analysis@2"
    with pytest.raises(ArgumentError, match="form package.module:callable"):
        load_analysis("pipelines.default_analysis")
    with pytest.raises(ArgumentError, match="has no attribute"):
        load_analysis("pipelines.default_analysis:nothing")


def test_parameters_validate() -> None:
    with pytest.raises(ArgumentError):
        AnalysisParameters(alpha_beta_late_gy=0.0)
    params = AnalysisParameters.with_extra({"b": 1, "a": "x"})
    assert params.extra == (("a", "x"), ("b", 1)) and params.extra_value("b") == 1
    with pytest.raises(ArgumentError, match="no extra analysis parameter"):
        params.extra_value("c")


def test_postgresql_upsert_compiles_to_on_conflict() -> None:
    from sqlalchemy.dialects import postgresql

    from pipelines.store import upsert_statement

    row = {"run_id": "r", "patient_key": "P1", "status": "succeeded", "error": None, "run_key": "k", "duration_s": 1.0}
    from pipelines.store import patient_runs

    sql = str(upsert_statement("postgresql", patient_runs, row, ("run_id", "patient_key")).compile(dialect=postgresql.dialect()))
    assert "ON CONFLICT (run_id, patient_key) DO UPDATE SET status = excluded.status" in sql
    with pytest.raises(ArgumentError, match="no native upsert"):
        upsert_statement("mssql", patient_runs, row, ("run_id", "patient_key"))


def test_unreachable_postgresql_is_a_one_line_error_without_password() -> None:
    # without the driver: ArgumentError; with it: the connection to port 1 is refused -> OutputError
    with pytest.raises((ArgumentError, OutputError)) as info:
        CohortStore.open("postgresql://user:secret@127.0.0.1:1/cohort")
    assert "secret" not in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_runs_sharing_a_database_keep_their_own_patients(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> None:
    """Issue 21 item 2. Oracle: the cohort of known size: each run saw all 3 patients, so each
    run's metric rows hold 3 patients x 2 metrics, whichever run wrote the patients last."""
    url = f"sqlite:///{tmp_path / 'shared.sqlite'}" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    make_cohort(tmp_path / "root", bad=False, hostile=False, valid=3)
    first = run_batch(tmp_path / "root", tmp_path / "a", analysis=header_analysis, workers=0, db_url=url, progress=ProgressMode.OFF)
    second = run_batch(tmp_path / "root", tmp_path / "b", analysis=header_analysis, workers=0, db_url=url, progress=ProgressMode.OFF)
    store = CohortStore.open(url)
    try:
        for summary in (first, second):
            rows = list(store.metric_rows(summary.run_id))
            assert sorted({r["patient_id"] for r in rows}) == ["P01", "P02", "P03"] and len(rows) == 6
            assert store.replaced_patients(summary.run_id) == []
        third = run_batch(tmp_path / "root", tmp_path / "c", analysis=header_analysis, workers=0, db_url=url,
                          parameters=AnalysisParameters(residual_fraction=0.5), progress=ProgressMode.OFF)
        # other parameters: the database now holds the third run's numbers; the first run's rows are gone, and said so
        assert store.replaced_patients(first.run_id) == ["P01", "P02", "P03"] and list(store.metric_rows(first.run_id)) == []
        assert len(list(store.metric_rows(third.run_id))) == 6
    finally:
        store.close()
    assert {r["patient_id"] for r in read_metrics_csv(tmp_path / "a" / "metrics.csv")} == {"P01", "P02", "P03"}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_batches_creating_a_new_database_at_once_all_open_it(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> None:
    """Found by benchmarks/faults.py: two batches starting together on a new PostgreSQL database
    raced in CREATE TABLE (unique violation in pg_type) and one stopped. Oracle: every one of 4
    simultaneous opens (released together by a barrier) succeeds, and the schema exists once."""
    import threading

    url = f"sqlite:///{tmp_path / 'new.sqlite'}" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def open_store() -> None:
        barrier.wait(timeout=30)
        try:
            CohortStore.open(url).close()
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == [] and not any(t.is_alive() for t in threads)
    store = CohortStore.open(url)
    assert store.count(patients) == 0
    store.close()
