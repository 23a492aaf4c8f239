"""The end of ``Patient.write`` (what ``dosimetry analyze`` runs): from the end of the analysis
(``Patient.results``) to the files written, for two checkouts side by side (issue 20: the map
export and the report after the analysis).

Each run is a fresh process started in the checkout with ``PYTHONPATH`` set to it; it loads the case
and writes it (``report_workers`` as given; -1: the default), and measures: ``analysis_wall`` (the
wall time of ``Patient.results``, which the render processes' early work may slow on a busy
machine), ``tail_wall`` and ``tail_cpu`` (from the end of ``results`` to the end of ``write``: wall,
and the CPU of the main process, all its threads), ``total_wall``/``total_cpu`` (load and write),
``children_cpu`` (the render processes, all their work), ``rss_analysis_mb`` and ``maxrss_mb`` (the
main process's peak resident memory by the end of the analysis, and over the run). The runs alternate between checkouts; on a shared machine compare CPU and the
medians, not one wall time. Byte-compile both checkouts first (``python -m compileall -q dosimetry``).

Run: ``.venv/bin/python benchmarks/report_tail.py CASE --checkout base=/tmp/base --checkout branch=.
[--repeat 3] [--workers -1] [--no-prior]``.
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

COLUMNS = ("analysis_wall", "tail_wall", "tail_cpu", "total_wall", "total_cpu", "children_cpu", "rss_analysis_mb", "maxrss_mb")

CHILD = r"""
import json, resource, sys, time
t0w, t0c = time.monotonic(), time.process_time()
import dosimetry.cli.commands.analyze
import dosimetry.patient.facade as facade
results = facade.Patient.results
marks = {}
def timed(*args, **kwargs):
    start = time.monotonic()
    try:
        return results(*args, **kwargs)
    finally:
        if "end" not in marks:
            marks["end"] = (time.monotonic(), time.process_time())
            marks["analysis_wall"] = marks["end"][0] - start
            marks["rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
facade.Patient.results = timed
case, out, workers, no_prior = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
patient = facade.load_patient(case + "/current" if no_prior else case)
patient.write(out, report_workers=None if workers < 0 else workers)
wall, cpu = time.monotonic(), time.process_time()
children = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({
    "analysis_wall": marks["analysis_wall"], "tail_wall": wall - marks["end"][0], "tail_cpu": cpu - marks["end"][1],
    "total_wall": wall - t0w, "total_cpu": cpu - t0c, "children_cpu": children.ru_utime + children.ru_stime,
    "rss_analysis_mb": marks["rss"], "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""


def run_once(checkout: Path, case: Path, out: Path, workers: int, no_prior: bool) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(checkout))
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(case), str(out), str(workers), "1" if no_prior else "0"],
        cwd=checkout, env=env, capture_output=True, text=True, check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"run in {checkout} failed:\n{done.stderr}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("case", type=Path)
    parser.add_argument("--checkout", action="append", required=True, help="NAME=PATH (two or more)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=-1, help="report_workers (-1: the default)")
    parser.add_argument("--no-prior", action="store_true", help="the case's current/ course only")
    args = parser.parse_args()
    checkouts = [(name, Path(path).resolve()) for name, path in (c.split("=", 1) for c in args.checkout)]
    runs: dict[str, list[dict[str, float]]] = {name: [] for name, _ in checkouts}
    with tempfile.TemporaryDirectory(prefix="report-tail-") as scratch:
        for k in range(args.repeat):
            for name, path in checkouts:
                result = run_once(path, args.case.resolve(), Path(scratch) / f"{name}_{k}", args.workers, args.no_prior)
                runs[name].append(result)
                print(name, k, " ".join(f"{c}={result[c]:.2f}" for c in COLUMNS), flush=True)
    print(f"\nmedians of {args.repeat} ({args.case}, report_workers {args.workers})")
    print(f"{'checkout':<10}" + "".join(f"{c:>15}" for c in COLUMNS))
    for name, _ in checkouts:
        print(f"{name:<10}" + "".join(f"{statistics.median(r[c] for r in runs[name]):>15.2f}" for c in COLUMNS))


if __name__ == "__main__":
    main()
