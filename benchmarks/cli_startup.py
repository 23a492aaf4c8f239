"""Benchmark: wall-clock time of short ``dosimetry`` invocations (parser building and start-up).

Every invocation builds the whole parser, so the command modules must not import heavy libraries at
their top level (tests/test_cli_startup.py checks the imports; this script prints the times).

Run: ``.venv/bin/python benchmarks/cli_startup.py [--repeat 5] [--executable .venv/bin/dosimetry]``.
To compare with another source tree (e.g. an export of an older commit), set ``PYTHONPATH=<tree>``.
Prints the best of ``--repeat`` runs of each command line, and the heavy libraries that
``build_parser()`` imported.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMANDS = (
    ("--version",),
    ("--help",),
    ("schedule", "--dose-per-fraction", "2.5", "--fractions", "22", "--alpha-beta", "2", "9"),
)
HEAVY = ("numpy", "scipy", "SimpleITK", "matplotlib", "sqlalchemy", "dask", "distributed", "pydicom", "tqdm", "yaml")


def best_wall_time(argv: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - start)
    return min(times)


def heavy_modules_after_build_parser() -> list[str]:
    code = (
        "import json, sys\nimport dosimetry.cli.main as m\nm.build_parser()\n"
        f"print(json.dumps(sorted({{k.split('.')[0] for k in sys.modules}} & set({list(HEAVY)!r}))))"
    )
    with tempfile.TemporaryDirectory() as cwd:  # not the repository root, so that PYTHONPATH decides the tree
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=cwd).stdout
    return list(json.loads(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--executable", default=str(Path(sys.executable).with_name("dosimetry")))
    args = parser.parse_args()
    for command in COMMANDS:
        seconds = best_wall_time([args.executable, *command], args.repeat)
        print(f"dosimetry {' '.join(command):<70} best of {args.repeat}: {seconds:.3f} s")
    print(f"heavy libraries imported by build_parser(): {heavy_modules_after_build_parser() or 'none'}")


if __name__ == "__main__":
    main()
