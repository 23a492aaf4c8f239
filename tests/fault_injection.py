"""Faults injected into real batch processes, and the audit of what they left behind.

Used by ``tests/test_pipelines_faults.py`` (each fault a test) and ``benchmarks/faults.py`` (the
table of every fault). Each ``fault_*`` function builds a small cohort under ``base``, runs
``dosimetry batch`` as a real subprocess (``python -m dosimetry.cli.main``), injects its fault
with real signals, resumes where the fault stops the batch, and returns a :class:`FaultReport`
whose ``data_lost`` lists every patient not both published and recorded, every folder published
without the run that produced it being recorded, and every duplicate (must be empty).

Every wait is bounded (:data:`WAIT_S`); processes started here carry a marker in their
environment, so leftovers (orphaned workers) are found by scanning ``/proc``.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from pipelines.batch import MANIFEST_NAME, PATIENTS_DIR_NAME, ProgressMode, run_batch
from pipelines.csv_out import read_metrics_csv
from pipelines.store import default_url
from tests.pipelines_cohort import header_analysis, write_patient

REPO = Path(__file__).resolve().parents[1]
WAIT_S = 90.0
ORPHAN_WAIT_S = 20.0
MARK_VARIABLE = "DOSIMETRY_FAULT_MARK"
METRICS_PER_PATIENT = 2  # header_analysis: Max[Gy] and Scaled[Gy]


@dataclass(frozen=True)
class FaultReport:
    fault: str
    outcome: str
    data_lost: tuple[str, ...]
    details: dict[str, object] = field(default_factory=dict)


def make_patients(root: Path, n: int) -> list[str]:
    """``n`` valid patients P01.. under ``root``; returns their keys."""
    keys = [f"P{i:02d}" for i in range(1, n + 1)]
    for i, key in enumerate(keys, start=1):
        write_patient(root / f"patient{i:02d}", patient_id=key, scale_gy=float(i))
    return keys


class BatchProcess:
    """``dosimetry batch`` in a subprocess, its progress lines read by a thread."""

    def __init__(
        self,
        root: Path,
        out: Path,
        *,
        workers: int = 2,
        db_url: str | None = None,
        scheduler: str | None = None,
        analysis: str = "tests.pipelines_cohort:slow_analysis",
        slow_s: float = 0.4,
        extra_env: dict[str, str] | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.marker = uuid.uuid4().hex
        command = [sys.executable, "-m", "dosimetry.cli.main", "batch", str(root), "--out", str(out), "--workers",
                   str(workers), "--progress", "lines", "--analysis", analysis]
        if db_url is not None:
            command += ["--db", db_url]
        if scheduler is not None:
            command += ["--scheduler", scheduler]
        command += list(extra_args)
        env = {**os.environ, "PYTHONPATH": str(REPO), MARK_VARIABLE: self.marker, "PIPELINES_TEST_SLOW_S": str(slow_s),
               **(extra_env or {})}
        self.proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self.stdout = ""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._out_reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._out_reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        self.stdout = self.proc.stdout.read()

    def progress_lines(self) -> int:
        return sum(1 for line in self.lines if line.startswith("batch: "))

    def wait_progress(self, count: int, timeout_s: float = WAIT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while self.progress_lines() < count:
            if self.proc.poll() is not None:
                raise AssertionError(f"batch exited ({self.proc.returncode}) before {count} patients: {self.lines[-5:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {count} progress lines within {timeout_s} s: {self.lines[-5:]}")
            time.sleep(0.02)

    def wait(self, timeout_s: float = WAIT_S) -> int:
        try:
            code = self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            raise AssertionError(f"batch did not finish within {timeout_s} s: {self.lines[-5:]}") from None
        self._reader.join(10)
        self._out_reader.join(10)
        return code

    def children(self) -> list[int]:
        """Live processes carrying this batch's marker whose parent is the batch process."""
        return [pid for pid in marked_processes(self.marker) if _ppid(pid) == self.proc.pid]


def _ppid(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def _state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def marked_processes(marker: str) -> list[int]:
    """Live (not zombie) processes whose environment holds ``MARK_VARIABLE=marker`` (Linux /proc)."""
    needle = f"{MARK_VARIABLE}={marker}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if needle in environ.split(b"\0") and _state(int(entry.name)) not in (None, "Z"):
            found.append(int(entry.name))
    return found


def wait_gone(marker: str, timeout_s: float = ORPHAN_WAIT_S) -> list[int]:
    """Wait until no process carries ``marker``; returns those still alive after ``timeout_s``
    (then kills them, so a failing test leaves nothing behind)."""
    deadline = time.monotonic() + timeout_s
    alive = marked_processes(marker)
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = marked_processes(marker)
    for pid in alive:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return alive


def _published(out: Path) -> dict[str, str | None]:
    """Published patient folder -> the run id in its manifest."""
    result: dict[str, str | None] = {}
    folder = out / PATIENTS_DIR_NAME
    if not folder.is_dir():
        return result
    for patient in sorted(folder.iterdir()):
        try:
            manifest = json.loads((patient / MANIFEST_NAME).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            result[patient.name] = None
            continue
        result[patient.name] = manifest.get("run_id")
    return result


def published_without_record(out: Path, db_url: str) -> list[str]:
    """Published patients whose manifest's run did not record them as succeeded beforehand."""
    engine = sa.create_engine(db_url)
    problems = []
    try:
        with engine.connect() as conn:
            for key, run_id in _published(out).items():
                row = conn.execute(
                    sa.text("SELECT status FROM patient_runs WHERE run_id = :r AND patient_key = :k"), {"r": run_id, "k": key}
                ).first()
                if row is None or row[0] != "succeeded":
                    problems.append(f"{key} published by run {run_id} which recorded {row[0] if row else 'nothing'}")
    finally:
        engine.dispose()
    return problems


def _scalar(db_url: str, query: str, **params: object) -> object:
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(query), params).scalar()
    finally:
        engine.dispose()


def audit_complete(out: Path, db_url: str, keys: Sequence[str], run_id: str) -> list[str]:
    """Everything a finished run must hold: every patient published, recorded once, in metrics.csv."""
    problems = list(published_without_record(out, db_url))
    published = _published(out)
    problems += [f"{k} not published" for k in keys if k not in published]
    problems += [f"{k} published but not in the cohort" for k in published if k not in keys]
    problems += [f"{k}: leftover partial output" for k in published if (out / PATIENTS_DIR_NAME / k / "partial.txt").exists()]
    rows = read_metrics_csv(out / "metrics.csv") if (out / "metrics.csv").is_file() else []
    seen = [(r["patient_key"], r["roi"], r["quantity"], r["metric"]) for r in rows]
    if len(seen) != len(set(seen)):
        problems.append("duplicate rows in metrics.csv")
    problems += [f"{k} missing from metrics.csv" for k in keys if sum(1 for s in seen if s[0] == k) != METRICS_PER_PATIENT]
    in_run = _scalar(db_url, "SELECT COUNT(*) FROM patient_runs WHERE run_id = :r AND status IN ('succeeded', 'skipped')", r=run_id)
    if in_run != len(keys):
        problems.append(f"the run recorded {in_run} of {len(keys)} patients")
    for table, expected in (("patients", len(keys)), ("metrics", METRICS_PER_PATIENT * len(keys))):
        count = _scalar(db_url, f"SELECT COUNT(*) FROM {table}")
        if count != expected:
            problems.append(f"{table}: {count} rows, expected {expected} (lost or duplicated)")
    return problems


def resume(root: Path, out: Path, db_url: str | None, keys: Sequence[str]) -> tuple[str, list[str]]:
    """Rerun the batch (in this process) and audit the result; returns (summary line, problems)."""
    summary = run_batch(root, out, analysis=header_analysis, workers=0, db_url=db_url, progress=ProgressMode.OFF)
    url = db_url or default_url(out)
    problems = audit_complete(out, url, keys, summary.run_id)
    if summary.failed:
        problems.append(f"{summary.failed} patients failed on resume")
    return f"resume: {summary.succeeded} analysed, {summary.skipped} unchanged", problems


def fault_kill_batch(base: Path, sig: signal.Signals, seed: int, n: int = 10) -> FaultReport:
    """Send ``sig`` to the batch process (only) after a random number of patients."""
    rng = random.Random(seed)
    root, out = base / "root", base / "out"
    keys = make_patients(root, n)
    batch = BatchProcess(root, out, workers=2)
    after = rng.randint(1, n // 2)
    batch.wait_progress(after)
    time.sleep(rng.uniform(0.0, 0.4))
    batch.proc.send_signal(sig)
    code = batch.wait()
    orphans_now = marked_processes(batch.marker)
    left = wait_gone(batch.marker)
    published_after_kill = set(_published(out))
    time.sleep(0.5)
    lost = published_without_record(out, default_url(out))
    lost += [f"folder {k} published after the batch died" for k in set(_published(out)) - published_after_kill]
    lost += [f"orphan process {pid} still alive {ORPHAN_WAIT_S:.0f} s after the batch died" for pid in left]
    status = _scalar(default_url(out), "SELECT status FROM runs")
    line, problems = resume(root, out, None, keys)
    lost += problems
    outcome = (
        f"exit {code} after {batch.progress_lines()} patients ({len(published_after_kill)} published), run '{status}', "
        f"{len(orphans_now)} worker(s) alive at exit, 0 after {ORPHAN_WAIT_S:.0f} s" if not left else f"{len(left)} orphans"
    ) + f"; {line}"
    return FaultReport(f"{sig.name} to the batch process after {after} patients", outcome, tuple(lost),
                       {"exit_code": code, "run_status": status, "orphans": left, "stderr": batch.lines[-3:]})


def fault_worker_killed(base: Path, n: int = 10) -> FaultReport:
    """SIGKILL one local worker process while it analyses a patient."""
    root, out = base / "root", base / "out"
    keys = make_patients(root, n)
    batch = BatchProcess(root, out, workers=2, slow_s=0.6)
    batch.wait_progress(2)
    workers = [pid for pid in batch.children() if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]
    if not workers:
        raise AssertionError("no worker process found to kill")
    os.kill(workers[0], signal.SIGKILL)
    code = batch.wait()
    left = wait_gone(batch.marker)
    lost = audit_complete(out, default_url(out), keys, str(_scalar(default_url(out), "SELECT run_id FROM runs")))
    lost += [f"orphan process {pid}" for pid in left]
    return FaultReport("SIGKILL of one worker process", f"exit {code}; unfinished patients retried: {batch.stdout.strip().splitlines()[-1]}",
                       tuple(lost), {"exit_code": code})


def fault_shared_database(base: Path, db_url: str, label: str, n: int = 6) -> FaultReport:
    """Two batches of the same patients, different --out, one --db, at the same time."""
    root = base / "root"
    keys = make_patients(root, n)
    first = BatchProcess(root, base / "out_a", workers=1, db_url=db_url, slow_s=0.2)
    second = BatchProcess(root, base / "out_b", workers=1, db_url=db_url, slow_s=0.2)
    codes = (first.wait(), second.wait())
    lost: list[str] = []
    counts = []
    for batch, out in ((first, base / "out_a"), (second, base / "out_b")):
        rows = read_metrics_csv(out / "metrics.csv") if (out / "metrics.csv").is_file() else []
        in_csv = sorted({r["patient_key"] for r in rows})
        counts.append(len(in_csv))
        lost += [f"{out.name}/metrics.csv lacks {k}" for k in keys if k not in in_csv]
        lost += published_without_record(out, db_url)
        if f"{n} patients: {n} analysed" not in batch.stdout:
            lost.append(f"{out.name}: {batch.stdout.strip() or batch.lines[-3:]}")
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            per_run = conn.execute(sa.text("SELECT run_id, COUNT(*) FROM patient_runs GROUP BY run_id")).all()
    finally:
        engine.dispose()
    if sorted(c for _, c in per_run) != [n, n]:
        lost.append(f"patient_runs per run: {sorted(c for _, c in per_run)}")
    return FaultReport(
        f"two batches sharing one {label} database",
        f"exit codes {codes}; metrics.csv of each run holds {counts[0]} and {counts[1]} of {n} patients",
        tuple(lost),
    )


class DaskCluster:
    """A real ``dask scheduler`` and ``dask worker`` subprocesses on the loopback interface."""

    def __init__(self, base: Path, marker: str, env: dict[str, str]) -> None:
        self.base = base
        self.marker = marker
        self.env = {**os.environ, "PYTHONPATH": str(REPO), MARK_VARIABLE: marker, **env}
        self.scheduler_file = base / "scheduler.json"
        dask = str(Path(sys.executable).with_name("dask"))
        self.dask = dask if Path(dask).exists() else "dask"
        self.scheduler = subprocess.Popen(
            [self.dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file", str(self.scheduler_file)],
            cwd=REPO, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + WAIT_S
        while not self.scheduler_file.is_file() or not self.scheduler_file.read_text().strip():
            if time.monotonic() > deadline or self.scheduler.poll() is not None:
                self.close()
                raise AssertionError("the dask scheduler did not start")
            time.sleep(0.1)
        time.sleep(0.2)
        self.address = json.loads(self.scheduler_file.read_text())["address"]
        self.workers: list[subprocess.Popen[bytes]] = []

    def add_worker(self) -> subprocess.Popen[bytes]:
        worker = subprocess.Popen(
            [self.dask, "worker", "--scheduler-file", str(self.scheduler_file), "--nthreads", "1", "--no-nanny",
             "--no-dashboard", "--host", "127.0.0.1"],
            cwd=REPO, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        self.workers.append(worker)
        return worker

    def wait_workers(self, count: int) -> None:
        from distributed import Client

        with Client(self.address, timeout="30s", set_as_default=False) as client:
            client.wait_for_workers(count, timeout=WAIT_S)

    def close(self) -> None:
        for proc in [*self.workers, self.scheduler]:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)


def fault_dask_worker_lost(base: Path, n: int = 8, timeout_s: float = 5.0) -> FaultReport:
    """SIGKILL the only ``dask worker`` of the cluster while the batch runs."""
    root, out = base / "root", base / "out"
    keys = make_patients(root, n)
    marker = uuid.uuid4().hex
    cluster = DaskCluster(base, marker, {"PIPELINES_TEST_SLOW_S": "0.8"})
    try:
        worker = cluster.add_worker()
        cluster.wait_workers(1)
        batch = BatchProcess(root, out, scheduler=cluster.address, slow_s=0.8, extra_args=["--no-worker-timeout", str(timeout_s)])
        batch.wait_progress(2)
        worker.kill()
        killed_at = time.monotonic()
        code = batch.wait()
        stopped_after_s = time.monotonic() - killed_at
        message = next((line for line in batch.lines if "no worker" in line and "error" in line), "")
        published = set(_published(out))
        lost = published_without_record(out, default_url(out))
        status = _scalar(default_url(out), "SELECT status FROM runs")
        # resume on the cluster with a new worker
        cluster.add_worker()
        cluster.wait_workers(1)
        again = BatchProcess(root, out, scheduler=cluster.address, slow_s=0.0)
        again_code = again.wait()
        run_id = str(_scalar(default_url(out), "SELECT run_id FROM runs ORDER BY started_utc DESC"))
        lost += audit_complete(out, default_url(out), keys, run_id)
        if again_code != 0:
            lost.append(f"resume exit {again_code}: {again.lines[-3:]}")
    finally:
        cluster.close()
    lost += [f"orphan process {pid}" for pid in wait_gone(marker)]
    return FaultReport(
        "SIGKILL of the only Dask worker",
        f"exit {code} {stopped_after_s:.1f} s after the kill (--no-worker-timeout {timeout_s:.0f}), run '{status}', "
        f"{len(published)} of {n} published; resume on a new worker: exit {again_code}, {again.stdout.strip().splitlines()[-1]}",
        tuple(lost),
        {"exit_code": code, "message": message, "run_status": status, "stopped_after_s": stopped_after_s, "published": len(published)},
    )
