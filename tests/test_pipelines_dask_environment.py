"""The documented way to start a batch's ``dask worker`` (pipelines.executors.DASK_WORKER_ENVIRONMENT)
really leaves ``MALLOC_TRIM_THRESHOLD_`` unset in the worker process, and a batch on workers started
with distributed's nanny defaults warns (issue 20).

Oracles: the environment of the real worker process, read inside it with ``os.environ`` (not through
the helper under test), and distributed's documented nanny default
(``distributed.nanny.pre-spawn-environ``: ``MALLOC_TRIM_THRESHOLD_: 65536``, and
``distributed.worker.profile.enabled: True``, its distributed.yaml), read in the worker;
real ``dask scheduler`` / ``dask worker`` processes on loopback, stopped by process id."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from distributed import Client

from pipelines.batch import ProgressMode, run_batch
from pipelines.default_analysis import dvh_analysis
from pipelines.executors import dask_worker_environment
from tests.test_pipelines_batch import make_cohort

DASK = str(Path(sys.executable).with_name("dask"))


def _trim() -> str | None:
    return os.environ.get("MALLOC_TRIM_THRESHOLD_")


def _profiling() -> bool:
    import dask

    return bool(dask.config.get("distributed.worker.profile.enabled"))


@contextmanager
def _cluster(tmp: Path, env: dict[str, str]) -> Iterator[str]:
    scheduler_file = tmp / "scheduler.json"
    log = (tmp / "dask.log").open("wb")
    processes = [subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                   "--scheduler-file", str(scheduler_file)], stdout=log, stderr=subprocess.STDOUT, env=env)]
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists():
            assert time.monotonic() < deadline and processes[0].poll() is None, "the scheduler did not start"
            time.sleep(0.1)
        processes.append(subprocess.Popen([DASK, "worker", "--scheduler-file", str(scheduler_file), "--nworkers", "1",
                                           "--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1"],
                                          stdout=log, stderr=subprocess.STDOUT, env=env))
        with Client(scheduler_file=str(scheduler_file), timeout="30s") as client:
            client.wait_for_workers(1, timeout=60)
            yield str(client.scheduler.address)
    finally:
        for proc in reversed(processes):
            proc.terminate()
        for proc in reversed(processes):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=20)
        log.close()


def _base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_TRIM_THRESHOLD_"}  # another test's nanny may set it here
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    return env


@pytest.mark.parametrize("documented", [True, False])
def test_worker_environment_and_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture, documented: bool) -> None:
    root = tmp_path / "root"
    make_cohort(root, bad=False, hostile=False, valid=1)
    env = dask_worker_environment(_base_env()) if documented else _base_env()
    with _cluster(tmp_path, env) as address:
        with Client(address, timeout="30s", set_as_default=False) as client:
            seen = set(client.run(_trim).values())
            profiling = set(client.run(_profiling).values())
        with caplog.at_level(logging.WARNING, logger="pipelines.batch"):
            result = run_batch(root, tmp_path / "out", analysis=dvh_analysis, scheduler_address=address, progress=ProgressMode.OFF)
    assert result.succeeded == 1
    warned = [r.getMessage() for r in caplog.records if "MALLOC_TRIM_THRESHOLD_" in r.getMessage()]
    if documented:
        assert seen == {None} and profiling == {False}
        assert warned == []
    else:
        assert seen == {"65536"} and profiling == {True}
        assert len(warned) == 1 and "1 of the 1 Dask workers" in warned[0] and "DASK_DISTRIBUTED__NANNY__PRE_SPAWN_ENVIRON" in warned[0]
