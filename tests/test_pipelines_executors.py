"""Arguments of the batch executors (pipelines.executors), and the check of the Dask workers'
settings (the real-process check is tests/test_pipelines_dask_environment.py).

Oracle: the bounded-work rule (nothing may wait forever): an infinite --no-worker-timeout would
let a batch whose Dask cluster lost every worker wait for ever, so it is refused like a
non-positive one, before any connection is tried."""

from __future__ import annotations

import logging
import math

import dask.config
import pytest

from dosimetry.errors import ArgumentError
from pipelines import executors
from pipelines.executors import run_dask


@pytest.mark.parametrize("timeout_s", [math.inf, math.nan, 0.0, -5.0])
def test_no_worker_timeout_must_be_positive_and_finite(timeout_s: float) -> None:
    with pytest.raises(ArgumentError, match="--no-worker-timeout must be a positive finite number of seconds"):
        next(run_dask([], "tcp://127.0.0.1:1", no_worker_timeout_s=timeout_s))


class _FakeClient:
    """Stands in for distributed.Client in the warning about the workers' settings: ``run`` returns
    what each worker would report (or raises)."""

    def __init__(self, reports: dict[str, dict[str, object]] | Exception) -> None:
        self.reports = reports

    def run(self, function: object) -> dict[str, dict[str, object]]:
        assert function is executors._worker_settings
        if isinstance(self.reports, Exception):
            raise self.reports
        return self.reports


def test_documented_environment_gives_the_documented_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Oracle: Dask's own parser of ``DASK_...`` variables (dask.config.collect_env), applied in this
    process, then the values read the way a worker reads them; the nanny variable is what the nanny
    unsets in its worker (the dict form keeps the key's case)."""
    config = dask.config.collect_env(executors.DASK_WORKER_ENVIRONMENT)
    assert config["distributed"]["nanny"]["pre_spawn_environ"] == {"MALLOC_TRIM_THRESHOLD_": None}
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    with dask.config.set(config):
        assert executors._worker_settings() == executors.DOCUMENTED_WORKER_SETTINGS
    with dask.config.set({"distributed.admin.tick.interval": "20ms", "distributed.worker.profile.enabled": True}):
        settings = executors._worker_settings()
    assert settings["distributed.admin.tick.interval"] == pytest.approx(0.02)
    assert settings["distributed.worker.profile.enabled"] is True


def test_warning_names_each_worker_and_setting_that_differs(caplog: pytest.LogCaptureFixture) -> None:
    documented = dict(executors.DOCUMENTED_WORKER_SETTINGS)
    slow_tick = {**documented, "distributed.admin.tick.interval": 0.02, "MALLOC_TRIM_THRESHOLD_": "65536"}
    client = _FakeClient({"tcp://b:2": slow_tick, "tcp://a:1": documented, "tcp://c:3": slow_tick})
    with caplog.at_level(logging.DEBUG, logger="pipelines.batch"):
        executors._warn_unprepared_workers(client, "tcp://s:8786")
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    text = warning.getMessage()
    assert text.startswith("2 of the 3 Dask workers at tcp://s:8786 run with MALLOC_TRIM_THRESHOLD_=65536, "
                           "distributed.admin.tick.interval=0.02 instead of MALLOC_TRIM_THRESHOLD_=None, "
                           "distributed.admin.tick.interval=1.0,")
    assert text.endswith("(tcp://b:2, tcp://c:3)") and "DASK_DISTRIBUTED__ADMIN__TICK__INTERVAL=1s" in text
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="pipelines.batch"):
        executors._warn_unprepared_workers(_FakeClient({"tcp://a:1": documented}), "tcp://s:8786")
        executors._warn_unprepared_workers(_FakeClient(OSError("connection lost")), "tcp://s:8786")
    assert [r.levelno for r in caplog.records] == [logging.DEBUG]  # a speed check only: never stops the batch
    assert "connection lost" in caplog.records[0].getMessage()
