"""Where a Dask worker's extra CPU per patient goes (issue 20): one clinical-size patient analysed by
``dosimetry batch`` in one local process worker and in one ``dask worker --nworkers 1 --nthreads 1``
(scheduler and worker started with the same environment), the Dask worker with distributed's
defaults and with the settings of ``pipelines.executors.DASK_WORKER_ENVIRONMENT`` added one group at
a time (no malloc trim threshold from the nanny; no statistical profiler; slow event-loop timers:
tick, system monitor, memory monitor), plus the CPU an idle nanny + worker and scheduler spend in
30 s with the defaults and with the documented environment. Also the pickled size of what a task
sends and returns.

CPU is user + system of the ``dosimetry batch`` process with its pool workers (``getrusage``) plus,
for Dask, of the worker processes (nanny and worker; psutil, before and after); the scheduler's CPU
is printed apart (on a real cluster it runs elsewhere). The batch process's own CPU (imports,
discovery, database; about 4.5 s with the Dask client on the slow 2-core machine of 2026-12-07) is
part of every row. The patient is copy 1 of ``benchmarks/batch_clinical.py``'s cohort (built from
``--source``; reused with ``--keep DIR``). ``--rounds N`` repeats the configurations alternately and
prints the median.

Ruled out on 2026-12-07 (slow loaded 2-core machine, one patient's ``analyse_patient`` in a plain
process, medians of 3 alternated runs): running the task in a non-main thread, as a Dask worker does
(glibc's per-thread malloc arena): main thread 18.1 s user, 2.29 s system, 135 k minor faults;
``threading.Thread`` 18.7 s, 2.43 s, 122 k (within the run-to-run spread of 2.7 s);
``MALLOC_ARENA_MAX=1`` does not help (thread 19.4 s, 2.93 s). The task's arguments and result
pickle to about 130 kB and 160 kB (printed below): milliseconds.

Run: ``.venv/bin/python benchmarks/dask_worker_cpu.py [--rounds 3]`` (about 4 minutes a round on 2
shared cores).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.batch_clinical import DEFAULT_SOURCE, LocalDaskCluster, build_cohort, run_batch_cli  # noqa: E402
from pipelines.executors import DASK_WORKER_ENVIRONMENT  # noqa: E402

_TRIM = {"DASK_DISTRIBUTED__NANNY__PRE_SPAWN_ENVIRON": DASK_WORKER_ENVIRONMENT["DASK_DISTRIBUTED__NANNY__PRE_SPAWN_ENVIRON"]}
_PROFILER = {"DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": DASK_WORKER_ENVIRONMENT["DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED"]}

#: (label, extra environment of the Dask processes or None for the local process worker).
CONFIGURATIONS: tuple[tuple[str, dict[str, str] | None], ...] = (
    ("process worker", None),
    ("dask worker, distributed defaults", {}),
    ("dask, no trim threshold", _TRIM),
    ("dask, no trim threshold, no profiler", {**_TRIM, **_PROFILER}),
    ("dask, DASK_WORKER_ENVIRONMENT (+ slow timers)", dict(DASK_WORKER_ENVIRONMENT)),
)


def _sizes(out: Path, cohort: Path) -> tuple[int, int]:
    """Pickled sizes of a PatientTask and of the PatientResult it returns (read back from the manifest)."""
    import json
    import pickle

    from dosimetry import __version__
    from pipelines.analysis import DEFAULT_ANALYSIS_SPEC, AnalysisParameters, analysis_identity, load_analysis
    from pipelines.discovery import discover_patients
    from pipelines.worker import PatientTask, previous_result

    manifest = json.loads(next(out.glob("patients/*/batch_result.json")).read_text(encoding="utf-8"))
    analysis = load_analysis(DEFAULT_ANALYSIS_SPEC)
    task = PatientTask(
        inputs=discover_patients(cohort).patients[0], parameters=AnalysisParameters(), out_dir=out, analysis=analysis,
        analysis_id=analysis_identity(analysis), software_version=__version__, run_id=str(manifest["run_id"]),
    )
    return len(pickle.dumps(task)), len(pickle.dumps(previous_result(manifest)))


def _idle(work: Path, extra: dict[str, str], seconds: float) -> tuple[float, float]:
    """CPU seconds of an idle (nanny + worker) and of the scheduler over ``seconds``."""
    import psutil  # type: ignore[import-untyped,unused-ignore]  # a dependency of distributed

    with LocalDaskCluster(1, work, nanny_defaults=True, extra_env=extra) as cluster:
        scheduler = psutil.Process(cluster.processes[0].pid)
        time.sleep(5)  # past the start-up
        user0, sys0 = cluster.worker_cpu_times()
        s0 = sum(scheduler.cpu_times()[:2])
        time.sleep(seconds)
        user1, sys1 = cluster.worker_cpu_times()
        return user1 - user0 + sys1 - sys0, sum(scheduler.cpu_times()[:2]) - s0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--keep", type=Path, default=None, metavar="DIR")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    runs: dict[str, list[tuple[float, float, float, float]]] = {label: [] for label, _ in CONFIGURATIONS}
    with tempfile.TemporaryDirectory(prefix="dask_worker_cpu_") as tmp:
        work = Path(tmp)
        cohort = work / "cohort"
        source_cohort = args.keep or work / "source"
        build_cohort(args.source, source_cohort, 1)
        shutil.copytree(source_cohort / "CLIN001", cohort / "CLIN001")  # only patient 1 of a kept cohort
        sizes = (0, 0)
        for _ in range(args.rounds):
            for label, extra in CONFIGURATIONS:
                out = work / "out"
                if extra is None:
                    result = run_batch_cli(cohort, out, ["--workers", "1"])
                    row = (float(result["seconds"]), float(result["cpu_seconds"]), float(result["system_seconds"]), 0.0)
                    sizes = _sizes(out, cohort)
                else:
                    # nanny_defaults: the environment is exactly the usual one plus ``extra``
                    with LocalDaskCluster(1, work, nanny_defaults=True, extra_env=extra) as cluster:
                        import psutil  # type: ignore[import-untyped,unused-ignore]

                        scheduler = psutil.Process(cluster.processes[0].pid)
                        s0 = sum(scheduler.cpu_times()[:2])
                        user0, sys0 = cluster.worker_cpu_times()
                        result = run_batch_cli(cohort, out, ["--scheduler", cluster.address])
                        user1, sys1 = cluster.worker_cpu_times()
                        row = (float(result["seconds"]), float(result["cpu_seconds"]) + user1 - user0 + sys1 - sys0,
                               float(result["system_seconds"]) + sys1 - sys0, sum(scheduler.cpu_times()[:2]) - s0)
                runs[label].append(row)
                print(f"  {label}: {row[0]:.1f} s wall, {row[1]:.1f} s CPU, load {os.getloadavg()[0]:.1f}", flush=True)
                shutil.rmtree(out, ignore_errors=True)
        idle_s = 30.0
        idle = [(label, *_idle(work, extra, idle_s)) for label, extra in
                (("idle, distributed defaults", {}), ("idle, DASK_WORKER_ENVIRONMENT", dict(DASK_WORKER_ENVIRONMENT)))]
    print(f"\none clinical-size patient, dosimetry batch (full analysis), median of {args.rounds}; load {os.getloadavg()[0]:.1f}")
    print(f"{'configuration':<48} {'wall s':>7} {'CPU s':>7} {'system s':>9} {'scheduler CPU s':>16}")
    for label, rows in runs.items():
        wall, cpu, system, scheduler_cpu = (statistics.median(column) for column in zip(*rows, strict=True))
        print(f"{label:<48} {wall:7.1f} {cpu:7.1f} {system:9.1f} {scheduler_cpu:16.1f}")
    print(f"\nidle cluster over {idle_s:.0f} s: CPU of nanny + worker, of scheduler (% of a core)")
    for label, worker_cpu, scheduler_cpu in idle:
        print(f"{label:<48} {worker_cpu:5.2f} s ({100 * worker_cpu / idle_s:.1f} %), {scheduler_cpu:5.2f} s ({100 * scheduler_cpu / idle_s:.1f} %)")
    print(f"\npickled PatientTask {sizes[0]} bytes, PatientResult {sizes[1]} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
