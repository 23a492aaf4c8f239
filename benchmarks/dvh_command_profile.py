"""`dosimetry dvh` as a whole process, by two checkouts side by side, alternated: wall time, CPU
time (user + system, every process of the run), peak RSS (largest process and every process
summed), for each end-cap convention; and whether the JSON outputs are the same bytes (issue 20).

Each run is a fresh process of ``python -m dosimetry dvh --dose RD --structures RS --end-cap E
--json OUT`` started in the checkout with ``PYTHONPATH`` set to it, measured in a fresh wrapper
process (:mod:`benchmarks.child_process`). The runs alternate between the checkouts (A/B/A/B) so that
a change of the machine's load hits both alike; on a shared machine compare CPU time. The JSON of
every run is compared with the first checkout's first run of the same end cap, byte for byte.

Run: ``.venv/bin/python benchmarks/dvh_command_profile.py --dose RD.dcm --structures RS.dcm
--checkout base=/tmp/base --checkout branch=. [--end-cap shape --end-cap half-slab] [--repeat 3]``
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


def run_once(checkout: Path, dose: Path, structures: Path, end_cap: str, out: Path) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(checkout))
    command = [sys.executable, "-m", "dosimetry", "dvh", "--dose", str(dose), "--structures", str(structures),
               "--end-cap", end_cap, "--json", str(out)]
    done = subprocess.run(  # cwd: ``-m`` puts the current folder first on sys.path, before PYTHONPATH
        [sys.executable, "-c", MEASURE_SCRIPT, *command], capture_output=True, text=True, check=True, env=env, cwd=checkout
    )
    result: dict[str, float] = json.loads(done.stdout)
    if result["returncode"] != 0:
        raise SystemExit(f"{checkout}: dvh failed ({result['returncode']}): {result['stderr']}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dose", type=Path, required=True)
    parser.add_argument("--structures", type=Path, required=True)
    parser.add_argument("--checkout", action="append", required=True, metavar="LABEL=PATH")
    parser.add_argument("--end-cap", action="append", dest="end_caps", metavar="E", help="default: shape and half-slab")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    checkouts = [(c.split("=", 1)[0], Path(c.split("=", 1)[1]).resolve()) for c in args.checkout]
    end_caps = args.end_caps or ["shape", "half-slab"]
    scratch = Path(tempfile.mkdtemp(prefix="dvh_command_profile_"))
    runs: dict[tuple[str, str], list[dict[str, float]]] = {(e, label): [] for e in end_caps for label, _ in checkouts}
    reference: dict[str, bytes] = {}
    differing: list[str] = []
    for k in range(args.repeat):
        for end_cap in end_caps:
            for label, path in checkouts:
                out = scratch / f"{label}_{end_cap}_{k}.json"
                load = os.getloadavg()[0]
                result = run_once(path, args.dose, args.structures, end_cap, out)
                runs[(end_cap, label)].append(result)
                data = out.read_bytes()
                same = reference.setdefault(end_cap, data) == data
                if not same:
                    differing.append(f"{label} {end_cap} run {k + 1}")
                print(f"run {k + 1} {end_cap:<9} {label:<10} load {load:4.1f}: wall {result['seconds']:5.2f} s, "
                      f"CPU {result['cpu_seconds']:5.2f} s (system {result['system_seconds']:.2f}), peak {result['peak_mib']:.0f} MiB "
                      f"(all processes {result['tree_peak_mib']:.0f}), JSON {'same' if same else 'DIFFERENT'}", flush=True)
    print(f"\n{'end cap':<9} {'checkout':<10} {'wall [s] min/median':>20} {'CPU [s] min/median':>20} "
          f"{'peak RSS [MiB]':>15} {'all processes [MiB]':>20}")
    for (end_cap, label), results in runs.items():
        wall = [r["seconds"] for r in results]
        cpu = [r["cpu_seconds"] for r in results]
        print(f"{end_cap:<9} {label:<10} {min(wall):9.2f} / {statistics.median(wall):6.2f} {min(cpu):10.2f} / {statistics.median(cpu):6.2f} "
              f"{max(r['peak_mib'] for r in results):15.0f} {max(r['tree_peak_mib'] for r in results):20.0f}")
    print("\nJSON outputs: " + ("all the same bytes per end cap" if not differing else "DIFFERENT: " + ", ".join(differing)))
    if differing:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
