"""Which heavy libraries a ``dosimetry analyze`` run imports in its main process, and why (issue 20).

For each checkout, one fresh process runs ``dosimetry analyze`` (the command line after ``--``) with
``PYTHONPATH`` set to the checkout and records, for every package of scipy, SimpleITK, matplotlib,
pydicom, yaml and jsonschema, the first import: the dosimetry module and line whose code asked for it
(a module-level import runs at start-up, a function-level one when the function first runs) and the
CPU time (``time.process_time``) since start at that moment. It then prints the table of packages per
checkout, and the CPU time of the whole run. The packages are the libraries themselves and scipy's
public sub-packages (``scipy.interpolate``, not its modules). Render processes are not seen: the main
process only.

Run: ``.venv/bin/python benchmarks/analyze_imports.py --checkout base=/tmp/base --checkout branch=. --
analyze /tmp/dosimetry_clinical/clinical01 --out /tmp/imports-out`` (``--out`` gets ``-LABEL`` added).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

WATCHED = ("scipy", "SimpleITK", "matplotlib", "pydicom", "yaml", "jsonschema")

CHILD = r"""
import contextlib, io, json, sys, time
start = time.process_time()
WATCHED = tuple(json.loads(sys.argv[1]))
first = {}
class Recorder:
    def find_spec(self, name, path=None, target=None):
        parts = name.split(".")
        wanted = len(parts) == 1 or (parts[0] == "scipy" and len(parts) == 2 and not parts[1].startswith("_"))
        if parts[0] in WATCHED and wanted and name not in first:
            frame = sys._getframe(1)
            while frame is not None and not frame.f_globals.get("__name__", "").startswith("dosimetry"):
                frame = frame.f_back
            where = "-" if frame is None else f"{frame.f_globals['__name__']}:{frame.f_lineno}"
            first[name] = [where, round(time.process_time() - start, 3)]
        return None
sys.meta_path.insert(0, Recorder())
import dosimetry.cli.main as m
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    code = m.main(json.loads(sys.argv[2]))
print(json.dumps({"code": code, "cpu_s": round(time.process_time() - start, 3), "first": first}))
"""


def run(checkout: Path, argv: list[str]) -> dict[str, object]:
    env = dict(os.environ, PYTHONPATH=str(checkout))
    result = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(WATCHED), json.dumps(argv)],
        cwd=checkout, env=env, capture_output=True, text=True, check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"{checkout}: run failed:\n{result.stderr}")
    data: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return data


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkout", action="append", required=True, metavar="LABEL=PATH")
    parser.add_argument("argv", nargs=argparse.REMAINDER, help="-- analyze CASE --out OUT [options]")
    args = parser.parse_args()
    argv = [a for a in args.argv if a != "--"] if args.argv[:1] == ["--"] else list(args.argv)
    if not argv or "--out" not in argv:
        parser.error("give the analyze command line after --, with --out")
    results: dict[str, dict[str, object]] = {}
    for spec in args.checkout:
        label, _, path = spec.partition("=")
        run_argv = list(argv)
        i = run_argv.index("--out") + 1
        run_argv[i] = f"{run_argv[i]}-{label}"
        results[label] = run(Path(path).resolve(), run_argv)
    packages = sorted({p for r in results.values() for p in r["first"]})  # type: ignore[attr-defined]
    for label, r in results.items():
        print(f"{label}: exit {r['code']}, main process CPU {r['cpu_s']} s")
    width = max(len(p) for p in packages) if packages else 10
    print(f"{'package':<{width}}  " + "  ".join(f"{label:<48}" for label in results))
    for p in packages:
        cells = []
        for r in results.values():
            hit = r["first"].get(p)  # type: ignore[attr-defined]
            cells.append("not imported" if hit is None else f"{hit[0]} (at {hit[1]:.2f} s CPU)")
        print(f"{p:<{width}}  " + "  ".join(f"{c:<48}" for c in cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
