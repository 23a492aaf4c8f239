"""Where the CPU time of ``Patient.write`` (what ``dosimetry analyze`` runs) goes, phase by phase,
for two checkouts side by side (issue 20: loading, map export and start-up).

Each run is a fresh process started in the checkout with ``PYTHONPATH`` set to it. It measures CPU
time (``time.process_time``: user + system of the process) of: the imports of the analyze command
and the facade (``import``), ``load_patient`` (``load``: discovery, dose, plan, structures, prior
alignment, the maps' warnings), ``Patient.results`` (``analysis``: DVHs, indices, checks, provenance),
``export_maps`` (``export``: the RT Dose maps), ``build_report`` (``report``) and the rest of
``write`` (``rest``: CSV, JSON, schema validation), and, apart, the CPU time spent in Python's
cyclic garbage collector over the whole run (``gc``, already inside the phases: a collection
falls in whichever phase allocates when the thresholds are reached, so a change of allocation
pattern moves it between phases; compare ``total`` then). The phases are found by wrapping the functions
by name, so the script works on checkouts before and after a change. The runs alternate between
checkouts; on a shared machine compare CPU, not wall time. For the same comparison to hold,
both checkouts need the same byte-compiled state (``python -m compileall -q dosimetry``: with
``PYTHONDONTWRITEBYTECODE`` set, a tree without ``__pycache__`` compiles every module at start-up).

Several cases may be given (e.g. the clinical case with simplified contours and the same case with
1 mm contours, issue 20: what contour density costs); the runs alternate between cases too, and with
two cases a last table gives the second minus the first (median and min) for each checkout.

Run: ``.venv/bin/python benchmarks/analyze_phases.py CASE [CASE ...] --checkout base=/tmp/base
--checkout branch=. [--repeat 3]``.
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

PHASES = ("import", "load", "analysis", "export", "report", "rest", "total", "gc")

CHILD = r"""
import gc, json, sys, time
start = time.process_time()
spent = {}
collecting = []
def gc_clock(phase, info):
    if phase == "start":
        collecting.append(time.process_time())
    elif collecting:
        spent["gc"] = spent.get("gc", 0.0) + time.process_time() - collecting.pop()
gc.callbacks.append(gc_clock)
def timed(name, fn):
    def wrapper(*args, **kwargs):
        t = time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[name] = spent.get(name, 0.0) + time.process_time() - t
    return wrapper
import dosimetry.cli.commands.analyze
import dosimetry.patient.facade as facade
import dosimetry.report.builder as builder
spent["import"] = time.process_time() - start
facade.export_maps = timed("export", facade.export_maps)
builder.build_report = timed("report", builder.build_report)
results = facade.Patient.results
facade.Patient.results = timed("analysis", results)
t = time.process_time()
patient = facade.load_patient(sys.argv[1])
spent["load"] = time.process_time() - t
t = time.process_time()
patient.write(sys.argv[2])
write = time.process_time() - t
spent["rest"] = write - spent.get("export", 0.0) - spent.get("report", 0.0) - spent.get("analysis", 0.0)
spent["total"] = time.process_time() - start
print(json.dumps(spent))
"""


def run_once(checkout: Path, case: Path, out: Path) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(checkout))
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(case), str(out)], capture_output=True, text=True, env=env, cwd=checkout, timeout=600
    )
    if done.returncode != 0:
        raise SystemExit(f"{checkout}: failed ({done.returncode}): {done.stderr[-2000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _cells(results: list[dict[str, float]]) -> list[tuple[float, float]]:
    return [(statistics.median(r.get(p, 0.0) for r in results), min(r.get(p, 0.0) for r in results)) for p in PHASES]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cases", type=Path, nargs="+", metavar="CASE")
    parser.add_argument("--checkout", action="append", required=True, metavar="LABEL=PATH")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    checkouts = [(c.split("=", 1)[0], Path(c.split("=", 1)[1]).resolve()) for c in args.checkout]
    cases: list[Path] = args.cases
    scratch = Path(tempfile.mkdtemp(prefix="analyze_phases_"))
    keys = [(label, n) for label, _ in checkouts for n in range(len(cases))]
    runs: dict[tuple[str, int], list[dict[str, float]]] = {key: [] for key in keys}
    for k in range(args.repeat):
        for n, case in enumerate(cases):
            for label, path in checkouts:
                result = run_once(path, case, scratch / f"{label}_{n}_{k}")
                runs[(label, n)].append(result)
                print(f"run {k + 1} {label:<8} case {n + 1} load avg {os.getloadavg()[0]:4.1f}: "
                      + ", ".join(f"{p} {result.get(p, 0.0):.2f}" for p in PHASES), flush=True)
    for n, case in enumerate(cases):
        print(f"case {n + 1}: {case}")
    print(f"\nCPU seconds, median of {args.repeat} (min in brackets)")
    print(f"{'checkout':<10}{'case':>5}" + "".join(f"{p:>16}" for p in PHASES))
    for label, n in keys:
        print(f"{label:<10}{n + 1:>5}" + "".join(f"{f'{m:8.2f} ({lo:5.2f})':>16}" for m, lo in _cells(runs[(label, n)])))
    if len(cases) == 2:
        print("\ncase 2 minus case 1: CPU seconds, difference of medians (difference of mins in brackets)")
        for label, _ in checkouts:
            pairs = zip(_cells(runs[(label, 1)]), _cells(runs[(label, 0)]), strict=True)
            print(f"{label:<15}" + "".join(f"{f'{m2 - m1:+8.2f} ({lo2 - lo1:+5.2f})':>16}" for (m2, lo2), (m1, lo1) in pairs))
    print(f"outputs in {scratch}")


if __name__ == "__main__":
    main()
