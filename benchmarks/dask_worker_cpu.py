"""Where a Dask worker's extra CPU per patient goes (issue 20): one clinical-size patient analysed by
``dosimetry batch`` in one local process worker and in one ``dask worker --nworkers 1 --nthreads 1``,
each with and without ``MALLOC_TRIM_THRESHOLD_=65536`` (distributed's nanny default; for Dask also
with the worker's statistical profiler on and off: ``DASK_WORKER_ENVIRONMENT``), plus the CPU an
idle Dask worker (nanny + worker: heartbeats, memory monitor) spends in the same wall time. Also the
pickled size of what a task returns to the coordinator.

CPU is user + system of the ``dosimetry batch`` process with its pool workers (``getrusage``) plus,
for Dask, of the worker processes (psutil, before and after). The patient is copy 1 of
``benchmarks/batch_clinical.py``'s cohort (built from ``--source``; reused with ``--keep DIR``).

Run: ``.venv/bin/python benchmarks/dask_worker_cpu.py`` (about 2 minutes on 2 shared cores).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import batch_clinical  # noqa: E402
from benchmarks.batch_clinical import DEFAULT_SOURCE, LocalDaskCluster, build_cohort, run_batch_cli  # noqa: E402


def _result_bytes(out: Path) -> int:
    """Pickled size of the PatientResult a task returns (read back from the patient's manifest)."""
    import json
    import pickle

    from pipelines.worker import previous_result

    manifest = json.loads(next(out.glob("patients/*/batch_result.json")).read_text(encoding="utf-8"))
    return len(pickle.dumps(previous_result(manifest)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--keep", type=Path, default=None, metavar="DIR")
    args = parser.parse_args()
    rows: list[tuple[str, float, float, float]] = []
    with tempfile.TemporaryDirectory(prefix="dask_worker_cpu_") as tmp:
        work = Path(tmp)
        cohort = args.keep or work / "cohort"
        build_cohort(args.source, cohort, 1)
        base_env = batch_clinical._environment()
        for label, trim in (("process worker", False), ("process worker, MALLOC_TRIM_THRESHOLD_=65536", True)):
            env = dict(base_env)
            env.pop("MALLOC_TRIM_THRESHOLD_", None)
            if trim:
                env["MALLOC_TRIM_THRESHOLD_"] = "65536"
            batch_clinical._environment = lambda env=env: dict(env)  # type: ignore[misc]
            out = work / f"out_{len(rows)}"
            result = run_batch_cli(cohort, out, ["--workers", "1"])
            rows.append((label, float(result["seconds"]), float(result["cpu_seconds"]), float(result["system_seconds"])))
            print(f"  {label}: {result['seconds']:.1f} s; the task's PatientResult pickles to {_result_bytes(out)} bytes", flush=True)
            shutil.rmtree(out, ignore_errors=True)
        batch_clinical._environment = lambda: dict(base_env)  # type: ignore[misc]
        profile_on = {"DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "True"}
        for label, defaults, extra in (
            ("dask worker, nanny defaults", True, {}),
            ("dask worker, trim threshold unset, profiler on", False, profile_on),
            ("dask worker, DASK_WORKER_ENVIRONMENT", False, {}),
        ):
            out = work / f"out_{len(rows)}"
            with LocalDaskCluster(1, work, nanny_defaults=defaults, extra_env=extra) as cluster:
                user0, sys0 = cluster.worker_cpu_times()
                result = run_batch_cli(cohort, out, ["--scheduler", cluster.address])
                user1, sys1 = cluster.worker_cpu_times()
                seconds = float(result["seconds"])
                rows.append((label, seconds, float(result["cpu_seconds"]) + user1 - user0 + sys1 - sys0,
                             float(result["system_seconds"]) + sys1 - sys0))
                if defaults:
                    user0, sys0 = cluster.worker_cpu_times()
                    time.sleep(seconds)
                    user1, sys1 = cluster.worker_cpu_times()
                    rows.append(("idle dask worker, same wall time", seconds, user1 - user0 + sys1 - sys0, sys1 - sys0))
            print(f"  {label}: {seconds:.1f} s", flush=True)
            shutil.rmtree(out, ignore_errors=True)
    print(f"\none clinical-size patient, dosimetry batch (full analysis); load {os.getloadavg()[0]:.1f}")
    print(f"{'configuration':<48} {'wall s':>7} {'CPU s':>7} {'system s':>9}")
    for label, seconds, cpu, system in rows:
        print(f"{label:<48} {seconds:7.1f} {cpu:7.1f} {system:9.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
