"""Benchmark: wall-clock and CPU time of short ``dosimetry`` invocations (start-up, parser, help, usage errors).

Issue 20 target: ``dosimetry --help``, ``dosimetry COMMAND --help`` and an argument error start in under
0.15 s. The top-level parser lists the commands from a static table and builds only the sub-command
that the command line names (:mod:`dosimetry.cli.main`), so a command line imports only its command module.

Run: ``.venv/bin/python benchmarks/cli_startup.py [--repeat 7] [--tree new=. --tree base=/tmp/base] [--imports]``.
Each ``--tree LABEL=PATH`` runs the installed ``dosimetry`` script with ``PYTHONPATH=PATH`` (so an older
checkout can be compared in the same session); the trees are alternated run by run. Without ``--tree``
the inherited ``PYTHONPATH`` decides. Prints, per command line and tree, the median wall and CPU
(user + sys of the child) time over ``--repeat`` runs and the exit code; ``python -c pass`` is the floor.
With ``--imports``: the modules each command line imports beyond a bare ``python -c`` (``sys.modules``
after running it in process), and the heavy libraries among them.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

HEAVY = ("numpy", "scipy", "SimpleITK", "matplotlib", "sqlalchemy", "dask", "distributed", "pydicom", "tqdm", "yaml")
BUDGET_S = 0.15


def command_lines() -> list[tuple[str, ...]]:
    from dosimetry.cli.commands import COMMANDS

    lines: list[tuple[str, ...]] = [("--version",), ("--help",)]
    lines += [(name, "--help") for name in COMMANDS]
    lines += [
        ("analyze",),  # usage error: --out is required
        ("no-such-command",),  # usage error: invalid choice
        ("schedule", "--dose-per-fraction", "2.5", "--fractions", "22", "--alpha-beta", "2", "9"),
    ]
    return lines


def run_once(argv: Sequence[str], env: dict[str, str], cwd: str) -> tuple[float, float, int]:
    """(wall s, child CPU s, exit code) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    code = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=cwd, check=False).returncode
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, code


_MODULES_AFTER = """
import json, sys
argv = json.loads(sys.argv[1])
if argv is not None:
    import contextlib, io
    from dosimetry.cli.main import main
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            main(argv)
        except SystemExit:
            pass
sys.stdout.write(json.dumps(sorted(sys.modules)))
"""


def imports_beyond_bare_python(argv: Sequence[str], env: dict[str, str], cwd: str) -> list[str]:
    """Modules in ``sys.modules`` after ``dosimetry ARGV`` (run in process by the same interpreter) and not after
    a bare ``python -c`` (``-X importtime`` would miss the command modules, imported with importlib)."""

    def modules(arguments: Sequence[str] | None) -> set[str]:
        out = subprocess.run(
            [sys.executable, "-c", _MODULES_AFTER, json.dumps(arguments)], capture_output=True, text=True, env=env, cwd=cwd, check=True
        ).stdout
        return set(json.loads(out))

    return sorted(modules(argv) - modules(None) - {"contextlib"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--executable", default=str(Path(sys.executable).with_name("dosimetry")))
    parser.add_argument("--tree", action="append", default=[], metavar="LABEL=PATH", help="source tree put on PYTHONPATH")
    parser.add_argument("--imports", action="store_true", help="also list the imports of each command line")
    parser.add_argument("--only", metavar="ARG0,...", help="only the command lines whose first word is one of these (e.g. --only=--help,analyze)")
    args = parser.parse_args()
    trees = [tuple(spec.split("=", 1)) for spec in args.tree] or [("current", os.environ.get("PYTHONPATH", ""))]
    envs = {label: {**os.environ, "PYTHONPATH": str(Path(path).resolve()) if path else ""} for label, path in trees}
    lines = [line for line in command_lines() if not args.only or line[0] in args.only.split(",")]
    floor: list[float] = []
    with tempfile.TemporaryDirectory() as cwd:  # not a repository root, so that PYTHONPATH decides the tree
        for _ in range(args.repeat):
            floor.append(run_once([sys.executable, "-c", "pass"], dict(os.environ), cwd)[1])
        print(f"python -c pass: median CPU {statistics.median(floor):.3f} s (the floor)")
        print(f"{'command line':<48} {'tree':<8} {'wall s':>7} {'CPU s':>7} exit")
        over = 0
        for line in lines:
            argv = [args.executable, *line]
            samples: dict[str, list[tuple[float, float, int]]] = {label: [] for label in envs}
            for _ in range(args.repeat):
                for label, env in envs.items():  # alternated, so that a busy moment hits every tree
                    samples[label].append(run_once(argv, env, cwd))
            for label, runs in samples.items():
                wall = statistics.median(r[0] for r in runs)
                cpu = statistics.median(r[1] for r in runs)
                codes = sorted({r[2] for r in runs})
                over += wall >= BUDGET_S
                print(f"dosimetry {' '.join(line)[:38]:<38} {label:<8} {wall:7.3f} {cpu:7.3f} {codes}")
                if args.imports:
                    names = imports_beyond_bare_python(line, envs[label], cwd)
                    heavy = sorted({name.split(".")[0] for name in names} & set(HEAVY))
                    print(f"    {len(names)} modules beyond python -c (heavy: {heavy or 'none'}): {' '.join(names)}")
        print(f"median wall >= {BUDGET_S} s: {over} of {len(lines) * len(envs)} (wall depends on the load; CPU is the steadier figure)")


if __name__ == "__main__":
    main()
