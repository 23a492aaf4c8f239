"""``Patient.results()`` (or ``write``) of two checkouts, alternated, by wall time, process CPU time
(every thread) and the main thread's CPU time (issue 20).

With part of the work in a background thread (the DVH stage's maps made ahead, the re-irradiation
type's prior map), process CPU no longer measures the critical path; the main thread's CPU time
(``time.thread_time``) does on an idle machine, as long as the main thread does not wait for the
background thread (``benchmarks/maps_ahead.py`` shows the waits). Wall time is printed with the
load average: on the shared machine it is only indicative. Each run is a fresh interpreter.

Run: ``.venv/bin/python benchmarks/results_threads_ab.py FOLDER --checkout base=/tmp/X-base
--checkout branch=. [--repeat N] [--write]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

_CHILD = r"""
import json, os, resource, sys, tempfile, time
import dosimetry
patient = dosimetry.load_patient(sys.argv[1])
load = os.getloadavg()[0]
wall, cpu, main = time.perf_counter(), time.process_time(), time.thread_time()
if sys.argv[2] == "write":
    with tempfile.TemporaryDirectory() as out:
        patient.write(out)
else:
    patient.results()
print(json.dumps({"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu,
                  "main": time.thread_time() - main, "load": load,
                  "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder")
    parser.add_argument("--checkout", action="append", required=True, metavar="NAME=PATH")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="time Patient.write(a temporary folder), not results()")
    args = parser.parse_args()
    checkouts = [tuple(c.split("=", 1)) for c in args.checkout]
    runs: dict[str, list[dict[str, float]]] = {name: [] for name, _ in checkouts}
    with tempfile.TemporaryDirectory() as tmp:
        child = Path(tmp) / "child.py"
        child.write_text(_CHILD)
        for _ in range(args.repeat):
            for name, path in checkouts:
                env = {**os.environ, "PYTHONPATH": str(Path(path).resolve())}
                done = subprocess.run(
                    [sys.executable, str(child), args.folder, "write" if args.write else "results"],
                    env=env, cwd=path, capture_output=True, text=True, check=True,
                )
                run = json.loads(done.stdout.strip().splitlines()[-1])
                runs[name].append(run)
                print(f"{name:<10} wall {run['wall']:6.2f} s  CPU {run['cpu']:6.2f} s  main thread {run['main']:6.2f} s  "
                      f"load {run['load']:4.1f}  peak RSS {run['rss']:5.0f} MiB", flush=True)
    print("medians:")
    for name, values in runs.items():
        med = {k: statistics.median(r[k] for r in values) for k in ("wall", "cpu", "main", "rss")}
        print(f"{name:<10} wall {med['wall']:6.2f} s  CPU {med['cpu']:6.2f} s  main thread {med['main']:6.2f} s  peak RSS {med['rss']:5.0f} MiB")


if __name__ == "__main__":
    main()
