"""`dosimetry analyze` of one case by two checkouts, side by side, repeated: wall time, CPU time
(user + system), peak RSS (largest process, and every process of the run summed: the main process
and its report render processes), bytes per dose voxel and minor page faults (issue 20).

Each run is a fresh process of ``python -m dosimetry.cli.main analyze CASE --out TMP`` started in
the checkout with ``PYTHONPATH`` set to it, measured by ``getrusage(RUSAGE_CHILDREN)`` in a fresh wrapper
process (so one run's peak does not hide another's). The runs alternate between the checkouts so
that a change of the machine's load hits both alike; the load average is printed before each run.
On a shared machine compare CPU time: wall time depends on the load. The outputs go to a new
temporary folder, never into the case folder.

Run: ``.venv/bin/python benchmarks/analyze_side_by_side.py CASE --checkout main=/work/main
--checkout branch=. [--repeat 3]`` (the clinical-size case: ``benchmarks/clinical_scale.py``
generates ``/tmp/dosimetry_clinical/clinical01``).
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

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.child_process import MEASURE_SCRIPT  # noqa: E402

_MEASURE = MEASURE_SCRIPT


def run_once(checkout: Path, case: Path, out: Path, extra_env: dict[str, str] | None = None) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(checkout), **(extra_env or {}))
    command = [sys.executable, "-m", "dosimetry.cli.main", "analyze", str(case), "--out", str(out)]
    done = subprocess.run(  # cwd: ``-m`` puts the current folder first on sys.path, before PYTHONPATH
        [sys.executable, "-c", _MEASURE, *command], capture_output=True, text=True, check=True, env=env, cwd=checkout
    )
    result: dict[str, float] = json.loads(done.stdout)
    if result["returncode"] not in (0, 2):  # 2: the analysis ran and found violations
        raise SystemExit(f"{checkout}: analyze failed ({result['returncode']}): {result['stderr']}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("case", type=Path)
    parser.add_argument("--checkout", action="append", required=True, metavar="LABEL=PATH")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--env", action="append", default=[], metavar="LABEL:NAME=VALUE",
                        help="an environment variable for one checkout's runs (e.g. nohp:NUMPY_MADVISE_HUGEPAGE=0)")
    parser.add_argument("--voxels", type=int, default=256 * 256 * 160, help="dose voxels of the case (bytes per voxel)")
    args = parser.parse_args()
    checkouts = [(c.split("=", 1)[0], Path(c.split("=", 1)[1]).resolve()) for c in args.checkout]
    scratch = Path(tempfile.mkdtemp(prefix="analyze_side_by_side_"))
    runs: dict[str, list[dict[str, float]]] = {label: [] for label, _ in checkouts}
    extra: dict[str, dict[str, str]] = {label: {} for label, _ in checkouts}
    for item in args.env:
        label, _, assignment = item.partition(":")
        name, _, value = assignment.partition("=")
        if label not in extra or not name:
            parser.error(f"--env {item!r}: expected LABEL:NAME=VALUE with LABEL one of {sorted(extra)}")
        extra[label][name] = value
    for k in range(args.repeat):
        for label, path in checkouts:
            load = os.getloadavg()[0]
            result = run_once(path, args.case, scratch / f"{label}_{k}", extra[label])
            runs[label].append(result)
            print(f"run {k + 1} {label:<10} load {load:4.1f}: wall {result['seconds']:6.2f} s, CPU {result['cpu_seconds']:6.2f} s "
                  f"(system {result['system_seconds']:.2f}), peak {result['peak_mib']:.0f} MiB (all processes {result['tree_peak_mib']:.0f}), "
                  f"{result['minor_faults']:.0f} minor faults",
                  flush=True)
    print(f"\n{'checkout':<10} {'wall [s] min/median':>20} {'CPU [s] min/median':>20} {'peak RSS [MiB]':>15} {'bytes/voxel':>12} "
          f"{'all processes [MiB]':>20} {'bytes/voxel':>12}")
    for label, results in runs.items():
        wall = [r["seconds"] for r in results]
        cpu = [r["cpu_seconds"] for r in results]
        peak = max(r["peak_mib"] for r in results)
        tree = max(r["tree_peak_mib"] for r in results)
        print(f"{label:<10} {min(wall):9.2f} / {statistics.median(wall):7.2f} {min(cpu):9.2f} / {statistics.median(cpu):7.2f} "
              f"{peak:15.0f} {peak * 2**20 / args.voxels:12.0f} {tree:20.0f} {tree * 2**20 / args.voxels:12.0f}")
    print(f"outputs in {scratch}")


if __name__ == "__main__":
    main()
