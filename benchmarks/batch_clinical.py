"""Batch throughput at clinical size: ``dosimetry batch`` (whole processes, the default full analysis)
over a cohort of N clinical-size patients, with 1 and 2 worker processes and on a local Dask cluster
of separate ``dask worker`` processes (``--scheduler``), side by side: elapsed time, CPU time,
patients per minute, the ratio to 1 worker, and each worker's peak resident memory.

The cohort is built from the one generated clinical-size case of ``benchmarks/clinical_scale.py``
(``--source``, default ``/tmp/dosimetry_clinical/clinical01``: CT 256 x 256 x 160, two dose grids of
10.5 M voxels, 40 ROIs, current and prior course; generate it with that script first, it is only
read here). Patient i is a copy of every file with PatientID ``CLIN<i>``, PatientName
``Clinical^Copy<i>`` and every UID that is not a well-known one (SOP classes, transfer syntaxes)
replaced by a UID derived from it and i (``pydicom.uid.generate_uid`` with those as entropy), so
references between the files stay consistent and no two patients share a UID. Deterministic; built
in a temporary folder that is removed at the end (unless ``--keep DIR`` names where to keep it; an
existing cohort there is reused).

Each configuration runs from scratch into a fresh output folder (nothing skipped):

- ``--workers 1`` and ``--workers 2`` (a process pool inside ``dosimetry batch``);
- ``--scheduler`` on a local cluster started here: ``dask scheduler`` and two ``dask worker
  --nworkers 1 --nthreads 1`` processes (stopped at the end, by process id).

Elapsed time is the ``dosimetry batch`` process's wall time (discovery, workers, analysis, database,
CSV). CPU time is user + system of that process and its pool workers (``getrusage(RUSAGE_CHILDREN)``
in a fresh wrapper process) and, for the Dask run, of the two worker processes (psutil, before and
after). Peak RSS per worker is what each worker reports (``getrusage`` ru_maxrss, in the batch's
JSON summary). On a machine whose cores are shared with other work the ratio of 2 workers to 1 is
bounded by the CPU actually free, not by the code: the load average before each run and the cores
each run obtained (CPU time / wall time) are printed. A ``dask worker`` started by its nanny gets
``MALLOC_TRIM_THRESHOLD_=65536`` (distributed's ``nanny.pre-spawn-environ`` default): measured on one
clinical-size ``analyze``, system time 4.2 -> 6.7 s (freed memory returned to the system at once, the
next large array faulted in again), part of the Dask run's extra CPU time. The cluster here is
therefore started the documented way (:data:`pipelines.executors.DASK_WORKER_ENVIRONMENT`, which
unsets that variable so glibc keeps its defaults, as in the process workers);
``--dask-nanny-defaults`` starts it with distributed's defaults instead, for comparison.

Run: ``.venv/bin/python benchmarks/batch_clinical.py --patients 4`` (about 10 minutes on 2 shared
cores); the issue's figure is ``--patients 20``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.child_process import MEASURE_SCRIPT  # noqa: E402

DEFAULT_SOURCE = Path("/tmp/dosimetry_clinical/clinical01")

_MEASURE = MEASURE_SCRIPT


def build_cohort(source: Path, dest: Path, patients: int) -> None:
    """Copies 1..patients of ``source`` under ``dest/CLIN<i>`` (see the module docstring)."""
    import pydicom
    from pydicom.uid import UID_dictionary, generate_uid

    files = sorted(p for p in source.rglob("*") if p.is_file())
    if not files:
        raise SystemExit(f"{source}: no files (generate the case with benchmarks/clinical_scale.py first)")
    for i in range(1, patients + 1):
        key = f"CLIN{i:03d}"
        folder = dest / key
        if folder.is_dir() and sum(1 for p in folder.rglob("*") if p.is_file()) == len(files):
            continue  # kept from an earlier run (--keep)
        mapped: dict[str, str] = {}

        def new_uid(old: str, i: int = i, mapped: dict[str, str] = mapped) -> str:
            if not old or old in UID_dictionary:
                return old
            if old not in mapped:
                mapped[old] = str(generate_uid(entropy_srcs=[f"clinical cohort patient {i}", old]))
            return mapped[old]

        def remap(dataset: Any, element: Any) -> None:
            if element.VR == "UI" and element.value:
                values = element.value if element.VM > 1 else [element.value]
                new = [new_uid(str(v)) for v in values]
                element.value = new if element.VM > 1 else new[0]

        for path in files:
            ds = pydicom.dcmread(path)
            ds.walk(remap)
            ds.file_meta.walk(remap)
            ds.PatientID = key
            ds.PatientName = f"Clinical^Copy{i}"
            target = folder / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            ds.save_as(target, enforce_file_format=True)


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: modules compiled once, not at every start
    return env


def run_batch_cli(cohort: Path, out: Path, options: list[str]) -> dict[str, Any]:
    command = [sys.executable, "-m", "dosimetry.cli.main", "batch", str(cohort), "--out", str(out),
               "--json", "--progress", "off", *options]
    done = subprocess.run([sys.executable, "-c", _MEASURE, *command], capture_output=True, text=True, check=True, env=_environment())
    result: dict[str, Any] = json.loads(done.stdout)
    if result["returncode"] not in (0, 2):  # 2: the analysis ran and found violations
        raise SystemExit(f"{' '.join(command)} failed ({result['returncode']}): {result['stderr']}")
    result["summary"] = json.loads(result.pop("stdout"))
    return result


class LocalDaskCluster:
    """``dask scheduler`` and ``--workers`` separate ``dask worker --nworkers 1 --nthreads 1``
    processes on this machine, started the documented way (``dask_worker_environment``: the
    environment of :data:`pipelines.executors.DASK_WORKER_ENVIRONMENT` added) unless
    ``nanny_defaults`` (distributed's own nanny settings, for comparison); stopped (by process id)
    on exit."""

    def __init__(
        self, workers: int, folder: Path, *, nanny_defaults: bool = False, extra_env: dict[str, str] | None = None
    ) -> None:
        self.workers = workers
        self.nanny_defaults = nanny_defaults
        self.extra_env = dict(extra_env or {})
        self.scheduler_file = folder / "scheduler.json"
        self.processes: list[subprocess.Popen[bytes]] = []
        self.dask = str(Path(sys.executable).with_name("dask"))
        self.log = (folder / "dask.log").open("wb")

    def __enter__(self) -> LocalDaskCluster:
        from pipelines.executors import dask_worker_environment

        env = _environment() if self.nanny_defaults else dask_worker_environment(_environment())
        env.update(self.extra_env)
        self.processes.append(subprocess.Popen(
            [self.dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
             "--scheduler-file", str(self.scheduler_file)], stdout=self.log, stderr=subprocess.STDOUT, env=env,
        ))
        deadline = time.monotonic() + 120
        while not self.scheduler_file.exists():
            if time.monotonic() > deadline or self.processes[0].poll() is not None:
                raise SystemExit("the Dask scheduler did not start (see dask.log)")
            time.sleep(0.2)
        for _ in range(self.workers):
            self.processes.append(subprocess.Popen(
                [self.dask, "worker", "--scheduler-file", str(self.scheduler_file), "--nworkers", "1", "--nthreads", "1",
                 "--no-dashboard", "--host", "127.0.0.1"], stdout=self.log, stderr=subprocess.STDOUT, env=env,
            ))
        from distributed import Client

        with Client(scheduler_file=str(self.scheduler_file), timeout="60s") as client:
            client.wait_for_workers(self.workers, timeout=180)
        return self

    @property
    def address(self) -> str:
        return str(json.loads(self.scheduler_file.read_text())["address"])

    def worker_cpu_seconds(self) -> float:
        """User + system CPU of the worker processes and their children (the nanny's worker)."""
        user, system = self.worker_cpu_times()
        return user + system

    def worker_cpu_times(self) -> tuple[float, float]:
        """(user, system) CPU seconds of the worker processes and their children."""
        import psutil  # type: ignore[import-untyped,unused-ignore]  # a dependency of distributed

        user = system = 0.0
        for proc in self.processes[1:]:
            try:
                tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
            except psutil.NoSuchProcess:
                continue
            for p in tree:
                try:
                    times = p.cpu_times()
                except psutil.NoSuchProcess:
                    continue
                user += times.user
                system += times.system
        return user, system

    def __exit__(self, *exc: object) -> None:
        for proc in reversed(self.processes):
            if proc.poll() is None:
                proc.terminate()
        for proc in reversed(self.processes):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)
        self.log.close()


def _peaks(summary: dict[str, Any]) -> dict[str, float]:
    per_worker: dict[str, float] = {}
    for patient in summary["patients"]:
        if patient.get("peak_rss_mib") is not None and patient.get("worker"):
            per_worker[patient["worker"]] = max(per_worker.get(patient["worker"], 0.0), float(patient["peak_rss_mib"]))
    return per_worker


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=4, help="cohort size (default 4; the issue's figure is 20)")
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="the clinical-size case (read only)")
    parser.add_argument("--keep", type=Path, default=None, metavar="DIR", help="build (or reuse) the cohort here and keep it")
    parser.add_argument("--skip-dask", action="store_true")
    parser.add_argument("--dask-nanny-defaults", action="store_true",
                        help="start the Dask workers with distributed's nanny defaults (MALLOC_TRIM_THRESHOLD_=65536), "
                        "not the documented pipelines.executors.DASK_WORKER_ENVIRONMENT; for comparison")
    args = parser.parse_args()
    if args.patients < 1:
        raise SystemExit("--patients must be at least 1")

    with tempfile.TemporaryDirectory(prefix="batch_clinical_") as tmp:
        work = Path(tmp)
        cohort = args.keep or work / "cohort"
        started = time.perf_counter()
        build_cohort(args.source, cohort, args.patients)
        print(f"cohort: {args.patients} copies of {args.source} in {cohort} ({time.perf_counter() - started:.0f} s to build)", flush=True)
        rows: list[tuple[str, float, float, dict[str, Any], float]] = []
        configurations: list[tuple[str, list[str]]] = [("processes, 1 worker", ["--workers", "1"]), ("processes, 2 workers", ["--workers", "2"])]
        if not args.skip_dask:
            configurations.append(("dask cluster, 2 worker processes", []))
        for label, options in configurations:
            out = work / f"out_{len(rows)}"
            load = os.getloadavg()[0]
            if options:
                result = run_batch_cli(cohort, out, options)
                cpu = float(result["cpu_seconds"])
            else:
                with LocalDaskCluster(2, work, nanny_defaults=args.dask_nanny_defaults) as cluster:
                    before = cluster.worker_cpu_seconds()
                    result = run_batch_cli(cohort, out, ["--scheduler", cluster.address])
                    cpu = float(result["cpu_seconds"]) + cluster.worker_cpu_seconds() - before
            summary = result["summary"]
            rows.append((label, float(result["seconds"]), cpu, summary, load))
            print(f"  {label}: {result['seconds']:.0f} s", flush=True)
            shutil.rmtree(out, ignore_errors=True)
        if args.keep is None:
            shutil.rmtree(cohort, ignore_errors=True)

    base = rows[0][1]
    print(f"\ndosimetry batch, {args.patients} clinical-size patients (full analysis), {os.cpu_count()} CPUs")
    print(f"{'configuration':<34} {'load':>5} {'wall s':>8} {'CPU s':>8} {'cores used':>10} {'patients/min':>13} {'vs 1 worker':>12} {'ok':>3} {'failed':>6}  peak RSS per worker (MiB)")
    for label, seconds, cpu, summary, load in rows:
        peaks = ", ".join(f"{v:.0f}" for _, v in sorted(_peaks(summary).items()))
        rate = 60.0 * summary["total"] / seconds
        print(f"{label:<34} {load:5.1f} {seconds:8.1f} {cpu:8.1f} {cpu / seconds:10.2f} {rate:13.2f} {base / seconds:11.2f}x {summary['succeeded']:>3} {summary['failed']:>6}  {peaks}")
        for patient in summary["patients"]:
            if patient["status"] == "failed":
                print(f"    failed {patient['key']}: {patient['error']}")
    print("cores used = CPU s / wall s: the parallelism the configuration obtained (2 workers can reach at most the cores left free)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
