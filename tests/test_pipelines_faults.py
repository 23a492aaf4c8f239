"""Faults injected into real batch processes (tests/fault_injection.py): SIGKILL and SIGTERM of
the batch at random moments, SIGKILL of a worker, two batches sharing one database (SQLite and a
real PostgreSQL server).

Oracle: the file system and the database themselves, audited after the fault: /proc lists the
processes still alive, each published folder's manifest names the run that produced it and the
database must hold that run's record of it, and the cohort of known size must end published
exactly once, in metrics.csv exactly once, with no duplicate database rows."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.fault_injection import fault_dask_worker_lost, fault_kill_batch, fault_shared_database, fault_worker_killed


@pytest.mark.parametrize("seed", [1, 2])
def test_sigkill_of_the_batch_leaves_no_orphans_and_resumes(tmp_path: Path, seed: int) -> None:
    report = fault_kill_batch(tmp_path, signal.SIGKILL, seed)
    assert report.details["exit_code"] == -signal.SIGKILL
    assert report.details["run_status"] == "running"  # the next run marks it interrupted
    assert report.data_lost == (), report


def test_sigterm_stops_the_workers_and_marks_the_run_interrupted(tmp_path: Path) -> None:
    report = fault_kill_batch(tmp_path, signal.SIGTERM, seed=3)
    assert report.details["exit_code"] == 128 + signal.SIGTERM, report
    assert report.details["run_status"] == "interrupted"
    assert any("stopped by signal SIGTERM" in line for line in report.details["stderr"]), report
    assert report.data_lost == (), report


def test_killed_worker_process_is_retried_without_loss(tmp_path: Path) -> None:
    report = fault_worker_killed(tmp_path)
    assert report.details["exit_code"] == 0, report
    assert report.data_lost == (), report


def test_two_batches_sharing_a_sqlite_database_keep_their_own_patients(tmp_path: Path) -> None:
    report = fault_shared_database(tmp_path, f"sqlite:///{tmp_path / 'shared.sqlite'}", "SQLite")
    assert report.data_lost == (), report


def test_two_batches_sharing_a_postgresql_database_keep_their_own_patients(tmp_path: Path, postgres_url: str) -> None:
    report = fault_shared_database(tmp_path, postgres_url, "PostgreSQL")
    assert report.data_lost == (), report


def test_last_dask_worker_lost_stops_after_the_timeout_and_resumes(tmp_path: Path) -> None:
    """Issue 21 item 4, with a real `dask scheduler` and `dask worker` (no nanny) subprocess."""
    report = fault_dask_worker_lost(tmp_path, timeout_s=5.0)
    assert report.details["exit_code"] == 1, report
    assert "has had no worker for 5 s" in str(report.details["message"]) and "run the same command again" in str(report.details["message"])
    assert 5.0 <= float(report.details["stopped_after_s"]) < 40.0, report  # bounded, not forever
    assert report.details["run_status"] == "failed" and int(report.details["published"]) >= 2
    assert report.data_lost == (), report
