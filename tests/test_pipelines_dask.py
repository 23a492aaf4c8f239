"""The same batch on a Dask distributed cluster (loopback, two worker processes) gives the same
results as the local run."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from distributed import LocalCluster

from pipelines.batch import PatientStatus, ProgressMode, run_batch
from pipelines.default_analysis import dvh_analysis
from tests.test_pipelines_batch import make_cohort


def _rows(db: Path, query: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(query).fetchall()


@pytest.fixture
def restored_environment() -> Iterator[None]:
    """This process's environment as it was before the test. A LocalCluster with processes=True
    sets MALLOC_TRIM_THRESHOLD_, OMP_NUM_THREADS, MKL_NUM_THREADS, OPENBLAS_NUM_THREADS,
    PYTHONHASHSEED and __DASK_PARENT_PID in os.environ of the process that starts it (distributed's
    nanny pre-spawn environment) and leaves them there: later tests' process pools would inherit them."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        for name in set(os.environ) - set(saved):
            del os.environ[name]
        for name, value in saved.items():
            if os.environ.get(name) != value:
                os.environ[name] = value


def test_dask_cluster_matches_local_run(tmp_path: Path, restored_environment: None) -> None:
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


#: This process's environment when the module was imported (before any cluster of this module).
_ENVIRONMENT_AT_IMPORT = dict(os.environ)


def test_environment_left_as_found() -> None:
    """Runs after the cluster test (pytest keeps a module's order). Oracle: the environment
    snapshot taken at import, before any LocalCluster of this module started (not the fixture's own
    snapshot): the nanny's variables are as they were (absent, or their earlier value). Only those
    variables are compared: other tests of the whole suite legitimately change the environment
    (importing OpenCV through rt-utils sets Qt and OpenMP variables)."""
    nanny = ("MALLOC_TRIM_THRESHOLD_", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
             "PYTHONHASHSEED", "__DASK_PARENT_PID")
    assert {k: os.environ.get(k) for k in nanny} == {k: _ENVIRONMENT_AT_IMPORT.get(k) for k in nanny}
