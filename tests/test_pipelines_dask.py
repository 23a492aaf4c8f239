"""The same batch on a Dask distributed cluster (loopback, two worker processes) gives the same
results as the local run."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from distributed import LocalCluster

from pipelines.batch import PatientStatus, ProgressMode, run_batch
from pipelines.default_analysis import dvh_analysis
from tests.test_pipelines_batch import make_cohort


def _rows(db: Path, query: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(query).fetchall()


def test_dask_cluster_matches_local_run(tmp_path: Path) -> None:
    root = tmp_path / "root"
    make_cohort(root, bad=True, hostile=True, valid=2)
    local = run_batch(root, tmp_path / "local", analysis=dvh_analysis, workers=0, progress=ProgressMode.OFF)
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        remote = run_batch(
            root, tmp_path / "dask", analysis=dvh_analysis, scheduler_address=cluster.scheduler_address, progress=ProgressMode.OFF
        )
        workers = {p.worker for p in remote.patients}
        rerun = run_batch(root, tmp_path / "dask", analysis=dvh_analysis, scheduler_address=cluster.scheduler_address, progress=ProgressMode.OFF)

    assert [(p.key, p.patient_id, p.status, p.error) for p in remote.patients] == [
        (p.key, p.patient_id, p.status, p.error) for p in local.patients
    ]
    assert remote.failed == 3 and remote.succeeded == 6
    assert (tmp_path / "dask" / "metrics.csv").read_bytes() == (tmp_path / "local" / "metrics.csv").read_bytes()
    for table in ("metrics", "rois", "input_files"):
        query = f"SELECT * FROM {table} ORDER BY 1, 2, 3"
        assert _rows(tmp_path / "dask" / "cohort.sqlite", query) == _rows(tmp_path / "local" / "cohort.sqlite", query)
    for patient in remote.patients:
        if patient.status is PatientStatus.SUCCEEDED:
            local_file = tmp_path / "local" / "patients" / patient.key / "dvh_metrics.csv"
            assert (tmp_path / "dask" / "patients" / patient.key / "dvh_metrics.csv").read_bytes() == local_file.read_bytes()
    assert all(w and not w.endswith(f":{__import__('os').getpid()}") for w in workers)  # ran in worker processes
    assert rerun.skipped == 6 and rerun.succeeded == 0
