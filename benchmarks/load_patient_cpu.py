"""CPU time of ``load_patient`` (the ``load`` phase of ``dosimetry analyze``) for several checkouts
side by side, split into user and system time, with the CPU of its main steps (issue 20).

Each run is a fresh process started in the checkout with ``PYTHONPATH`` set to it; the runs
alternate between the arms. An arm is ``LABEL=PATH`` or ``LABEL=PATH,VAR=VALUE,...``: the
variables are set in that arm's environment only (e.g. ``NUMPY_MADVISE_HUGEPAGE=0``, which stops
numpy from asking the kernel for transparent huge pages for its large arrays: on this project's
virtual machines a fresh 84 MB array then costs 0.03 s of first-touch page faults instead of
0.2 s, all of it system time). Steps, found by wrapping functions by name so that any checkout
works: ``discover`` (both course folders), ``dose`` (``load_total_dose``: the RT Dose files' voxels
in Gy) and ``align`` (``align_prior_dose``). On a shared machine compare CPU, not wall time, and
byte-compile both checkouts first (``python -m compileall -q dosimetry``).

Run: ``.venv/bin/python benchmarks/load_patient_cpu.py CASE --arm base=/tmp/base --arm branch=.
[--arm hp0=.,NUMPY_MADVISE_HUGEPAGE=0] [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

COLUMNS = ("user", "sys", "cpu", "discover", "dose", "align", "wall")

CHILD = r"""
import functools, importlib, json, resource, sys, time
spent = {}
def wrap(module, name, label):
    mod = importlib.import_module(module)
    fn = getattr(mod, name, None)
    if fn is None:
        return
    @functools.wraps(fn)
    def timed(*args, **kwargs):
        t = time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[label] = spent.get(label, 0.0) + time.process_time() - t
    setattr(mod, name, timed)
import dosimetry.patient.facade as facade
wrap("dosimetry.radiobiology.course", "discover", "discover")
wrap("dosimetry.radiobiology.course", "load_total_dose", "dose")
wrap("dosimetry.patient.maps", "align_prior_dose", "align")
before = resource.getrusage(resource.RUSAGE_SELF)
wall = time.perf_counter()
facade.load_patient(sys.argv[1])
wall = time.perf_counter() - wall
after = resource.getrusage(resource.RUSAGE_SELF)
user, system = after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime
print(json.dumps({"user": user, "sys": system, "cpu": user + system, "wall": wall, **spent}))
"""


def run(case: Path, checkout: Path, env_extra: dict[str, str]) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(checkout), **env_extra)
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(case)], capture_output=True, text=True, env=env, cwd=checkout, timeout=600, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"{checkout}: load_patient failed:\n{done.stderr}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def parse_arm(text: str) -> tuple[str, Path, dict[str, str]]:
    label, _, rest = text.partition("=")
    if not label or not rest:
        raise SystemExit(f"--arm {text!r}: expected LABEL=PATH[,VAR=VALUE...]")
    path, *assignments = rest.split(",")
    env: dict[str, str] = {}
    for assignment in assignments:
        name, _, value = assignment.partition("=")
        if not name or not _:
            raise SystemExit(f"--arm {text!r}: {assignment!r} is not VAR=VALUE")
        env[name] = value
    return label, Path(path).resolve(), env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("case", type=Path)
    parser.add_argument("--arm", action="append", required=True, metavar="LABEL=PATH[,VAR=VALUE...]")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    arms = [parse_arm(a) for a in args.arm]
    results: dict[str, list[dict[str, float]]] = {label: [] for label, _, _ in arms}
    for k in range(args.repeat):
        for label, path, env in arms:
            r = run(args.case, path, env)
            results[label].append(r)
            shown = ", ".join(f"{c} {r.get(c, float('nan')):.3f}" for c in COLUMNS)
            print(f"run {k + 1} {label:8s} load avg {os.getloadavg()[0]:4.1f}: {shown}", flush=True)
    print(f"\nseconds, median of {args.repeat} (min in brackets)")
    print(f"{'arm':10s}" + "".join(f"{c:>18s}" for c in COLUMNS))
    for label, runs in results.items():
        cells = []
        for c in COLUMNS:
            values = [r[c] for r in runs if c in r]
            cells.append(f"{statistics.median(values):8.3f} ({min(values):6.3f})" if values else f"{'-':>17s}")
        print(f"{label:10s}" + "".join(f"{cell:>18s}" for cell in cells))


if __name__ == "__main__":
    main()
