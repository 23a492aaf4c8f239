"""Batch throughput: patients per minute of ``dosimetry batch`` with 1 and 2 worker processes, and the
peak resident memory of each worker.

Usage::

    .venv/bin/python benchmarks/batch_throughput.py [--patients 20] [--workers 1 2] [--cohort DIR]

The cohort is generated with ``dosimetry sample-data --patients N --out DIR`` (CT, structure set,
plan and dose for a current and a prior course per patient) unless ``--cohort`` names a folder that
already holds it. Each worker count runs from scratch into a fresh output folder (nothing skipped),
with the default analysis (:func:`pipelines.default_analysis.dvh_analysis`) unless ``--analysis``
names another. Peak memory is ``getrusage(RUSAGE_SELF).ru_maxrss`` read inside each worker process
after each of its patients (the maximum over its patients is printed). The elapsed time includes
patient discovery, starting the worker processes, hashing, the analysis, the database and the CSV.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from pipelines.analysis import DEFAULT_ANALYSIS_SPEC, load_analysis
from pipelines.batch import ProgressMode, run_batch


def ensure_cohort(folder: Path, patients: int) -> None:
    existing = sorted(p for p in folder.glob("NPC*") if p.is_dir()) if folder.is_dir() else []
    if len(existing) >= patients:
        return
    print(f"generating a {patients}-patient cohort in {folder} ...", flush=True)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "dosimetry", "sample-data", "--patients", str(patients), "--out", str(folder), "--overwrite"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    print(f"  generated in {time.perf_counter() - started:.1f} s", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=20)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--cohort", type=Path, default=None, help="cohort folder (generated when absent)")
    parser.add_argument("--analysis", default=DEFAULT_ANALYSIS_SPEC, metavar="MODULE:CALLABLE")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="batch_bench_") as tmp:
        cohort = args.cohort or Path(tmp) / "cohort"
        ensure_cohort(cohort, args.patients)
        analysis = load_analysis(args.analysis)
        print(f"\nbatch throughput, {args.patients} patients, analysis {args.analysis}")
        print(f"{'workers':>7} {'elapsed s':>10} {'patients/min':>13} {'ok':>4} {'failed':>6}  peak RSS per worker (MiB)")
        for workers in args.workers:
            out = Path(tmp) / f"out_{workers}"
            started = time.perf_counter()
            summary = run_batch(cohort, out, analysis=analysis, workers=workers, progress=ProgressMode.OFF)
            elapsed = time.perf_counter() - started
            per_worker: dict[str, float] = defaultdict(float)
            for patient in summary.patients:
                if patient.peak_rss_mib is not None and patient.worker:
                    per_worker[patient.worker] = max(per_worker[patient.worker], patient.peak_rss_mib)
            peaks = ", ".join(f"{v:.0f}" for _, v in sorted(per_worker.items()))
            rate = 60.0 * summary.total / elapsed
            print(f"{workers:>7} {elapsed:>10.1f} {rate:>13.2f} {summary.succeeded:>4} {summary.failed:>6}  {peaks}")
            for failure in summary.failures:
                print(f"        failed {failure.key}: {failure.error}")
        coordinator_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        print(f"\ncoordinator process peak RSS: {coordinator_mib:.0f} MiB; CPUs: {len(__import__('os').sched_getaffinity(0))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
