"""Where the CPU time of ``Patient.write`` (what ``dosimetry analyze`` runs) goes, phase by phase,
for two checkouts side by side (issue 20: loading, map export and start-up).

Each run is a fresh process started in the checkout with ``PYTHONPATH`` set to it. It measures CPU
time (``time.process_time``: user + system of the process) of: the imports of the analyze command
and the facade (``import``), ``load_patient`` (``load``: discovery, dose, plan, structures, prior
alignment, the maps' warnings), ``Patient.results`` (``analysis``: DVHs, indices, checks, provenance),
``export_maps`` (``export``: the RT Dose maps), ``build_report`` (``report``) and the rest of
``write`` (``rest``: CSV, JSON, schema validation). The phases are found by wrapping the functions
by name, so the script works on checkouts before and after a change. The runs alternate between
checkouts; on a shared machine compare CPU, not wall time. For the same comparison to hold,
both checkouts need the same byte-compiled state (``python -m compileall -q dosimetry``: with
``PYTHONDONTWRITEBYTECODE`` set, a tree without ``__pycache__`` compiles every module at start-up).

Run: ``.venv/bin/python benchmarks/analyze_phases.py CASE --checkout base=/tmp/base
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

PHASES = ("import", "load", "analysis", "export", "report", "rest", "total")

CHILD = r"""
import json, sys, time
start = time.process_time()
spent = {}
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("case", type=Path)
    parser.add_argument("--checkout", action="append", required=True, metavar="LABEL=PATH")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    checkouts = [(c.split("=", 1)[0], Path(c.split("=", 1)[1]).resolve()) for c in args.checkout]
    scratch = Path(tempfile.mkdtemp(prefix="analyze_phases_"))
    runs: dict[str, list[dict[str, float]]] = {label: [] for label, _ in checkouts}
    for k in range(args.repeat):
        for label, path in checkouts:
            result = run_once(path, args.case, scratch / f"{label}_{k}")
            runs[label].append(result)
            print(f"run {k + 1} {label:<8} load avg {os.getloadavg()[0]:4.1f}: "
                  + ", ".join(f"{p} {result.get(p, 0.0):.2f}" for p in PHASES), flush=True)
    print(f"\nCPU seconds, median of {args.repeat} (min in brackets)")
    print(f"{'checkout':<10}" + "".join(f"{p:>16}" for p in PHASES))
    for label, results in runs.items():
        cells = []
        for p in PHASES:
            values = [r.get(p, 0.0) for r in results]
            cells.append(f"{statistics.median(values):8.2f} ({min(values):5.2f})")
        print(f"{label:<10}" + "".join(f"{c:>16}" for c in cells))
    print(f"outputs in {scratch}")


if __name__ == "__main__":
    main()
