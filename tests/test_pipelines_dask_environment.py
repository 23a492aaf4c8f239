"""The documented way to start a batch's ``dask worker`` (pipelines.executors.DASK_WORKER_ENVIRONMENT)
really leaves ``MALLOC_TRIM_THRESHOLD_`` unset in the worker process, switches its profiler off and
slows its event-loop timers (in the worker and in its nanny), and a batch on workers started with
distributed's defaults warns (issue 20).

Oracles: the environment of the real worker process, read inside it with ``os.environ`` (not through
the helper under test); the periods of the running timers themselves (the ``callback_time`` of the
worker's and the nanny's tornado ``PeriodicCallback`` objects, in ms), not the configuration the
helper reads; and distributed's documented defaults (its distributed.yaml:
``distributed.nanny.pre-spawn-environ``: ``MALLOC_TRIM_THRESHOLD_: 65536``,
``distributed.worker.profile.enabled: True``, ``admin.tick.interval: 20ms``,
``admin.system-monitor.interval: 500ms``, ``worker.memory.monitor-interval: 100ms``);
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


def _timers_ms(dask_worker: object) -> dict[str, float]:
    callbacks = dask_worker.periodic_callbacks  # type: ignore[attr-defined]
    return {name: callbacks[name].callback_time for name in ("tick", "monitor", "memory_monitor")}


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


@pytest.mark.parametrize("started", ["documented", "defaults", "default tick"])
def test_worker_environment_and_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture, started: str) -> None:
    root = tmp_path / "root"
    make_cohort(root, bad=False, hostile=False, valid=1)
    env = _base_env() if started == "defaults" else dask_worker_environment(_base_env())
    if started == "default tick":
        del env["DASK_DISTRIBUTED__ADMIN__TICK__INTERVAL"]
    with _cluster(tmp_path, env) as address:
        with Client(address, timeout="30s", set_as_default=False) as client:
            seen = set(client.run(_trim).values())
            profiling = set(client.run(_profiling).values())
            worker_timers = list(client.run(_timers_ms).values())
            nanny_timers = list(client.run(_timers_ms, nanny=True).values())
        with caplog.at_level(logging.WARNING, logger="pipelines.batch"):
            result = run_batch(root, tmp_path / "out", analysis=dvh_analysis, scheduler_address=address, progress=ProgressMode.OFF)
    assert result.succeeded == 1
    warned = [r.getMessage() for r in caplog.records if "Dask workers" in r.getMessage()]
    if started == "documented":
        assert seen == {None} and profiling == {False}
        assert worker_timers == nanny_timers == [{"tick": 1000, "monitor": 5000, "memory_monitor": 1000}]
        assert warned == []
    elif started == "default tick":
        assert seen == {None} and profiling == {False}
        assert worker_timers == nanny_timers == [{"tick": 20, "monitor": 5000, "memory_monitor": 1000}]
        assert len(warned) == 1 and "1 of the 1 Dask workers" in warned[0]
        assert "run with distributed.admin.tick.interval=0.02 instead of distributed.admin.tick.interval=1.0," in warned[0]
        assert "MALLOC_TRIM_THRESHOLD_=" not in warned[0] and "profile.enabled=" not in warned[0]
    else:
        assert seen == {"65536"} and profiling == {True}
        assert worker_timers == nanny_timers == [{"tick": 20, "monitor": 500, "memory_monitor": 100}]
        assert len(warned) == 1 and "1 of the 1 Dask workers" in warned[0]
        for text in ("MALLOC_TRIM_THRESHOLD_=65536", "distributed.worker.profile.enabled=True",
                     "distributed.admin.tick.interval=0.02", "distributed.admin.system-monitor.interval=0.5",
                     "distributed.worker.memory.monitor-interval=0.1", "DASK_DISTRIBUTED__NANNY__PRE_SPAWN_ENVIRON",
                     "DASK_DISTRIBUTED__ADMIN__TICK__INTERVAL=1s"):
            assert text in warned[0]
