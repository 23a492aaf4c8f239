"""Fault table of ``dosimetry batch`` (issue 21): each fault injected into real processes, what the
batch did, and what data was lost (must be none).

Usage::

    .venv/bin/python benchmarks/faults.py [--seed 1] [--skip-postgres] [--skip-dask]

Faults (tests/fault_injection.py holds each scenario; tests/test_pipelines_faults.py asserts it):

* SIGKILL / SIGTERM to the batch process only, after a seeded random number of patients, then a
  rerun: no worker process may outlive the batch (/proc is scanned for the batch's environment
  marker), no folder may be published that the database does not record, and the rerun must
  complete the cohort without duplicates;
* SIGKILL of one local worker process while it analyses a patient;
* two batches of the same patients at the same time with different --out and one database
  (SQLite, and a throwaway PostgreSQL server started from Debian's postgresql package);
* SIGKILL of the only ``dask worker`` of a real ``dask scheduler`` cluster (--no-worker-timeout 5),
  then a rerun on a new worker.

"data lost" lists every patient not both published and recorded after the rerun, every folder
published without its run's record, every duplicate and every orphaned process.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.fault_injection import (  # noqa: E402 - after the path set-up above
    FaultReport,
    fault_dask_worker_lost,
    fault_kill_batch,
    fault_shared_database,
    fault_worker_killed,
)


def _shared_postgres(base: Path) -> FaultReport:
    from tests.postgres_server import PostgresUnavailable, create_database, postgres_server

    try:
        with postgres_server() as server:
            return fault_shared_database(base, create_database(server, "faults"), "PostgreSQL")
    except PostgresUnavailable as exc:
        return FaultReport("two batches sharing one PostgreSQL database", f"not run: {exc}", ())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1, help="seed of the random kill moments")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-dask", action="store_true")
    args = parser.parse_args(argv)
    faults: list[tuple[str, Callable[[Path], FaultReport]]] = [
        ("sigkill", lambda base: fault_kill_batch(base, signal.SIGKILL, args.seed)),
        ("sigterm", lambda base: fault_kill_batch(base, signal.SIGTERM, args.seed + 1)),
        ("worker", fault_worker_killed),
        ("sqlite", lambda base: fault_shared_database(base, f"sqlite:///{base / 'shared.sqlite'}", "SQLite")),
    ]
    if not args.skip_postgres:
        faults.append(("postgres", _shared_postgres))
    if not args.skip_dask:
        faults.append(("dask", fault_dask_worker_lost))
    reports: list[tuple[FaultReport, float]] = []
    for name, run in faults:
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix=f"faults-{name}-") as tmp:
            report = run(Path(tmp))
        reports.append((report, time.perf_counter() - started))
        print(f"[{name}] done in {reports[-1][1]:.0f} s", file=sys.stderr, flush=True)
    print(f"{'fault injected':<52} | {'outcome':<150} | data lost")
    print("-" * 52 + "-+-" + "-" * 150 + "-+-" + "-" * 10)
    lost_any = False
    for report, _ in reports:
        lost = "none" if not report.data_lost else "; ".join(report.data_lost)
        lost_any = lost_any or bool(report.data_lost)
        print(f"{report.fault:<52} | {report.outcome:<150} | {lost}")
    return 1 if lost_any else 0


if __name__ == "__main__":
    sys.exit(main())
