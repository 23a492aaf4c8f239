"""Where an analysis spends its seconds and its bytes, stage by stage (issue 20's profile).

Runs the library facade on one patient folder in this process, one stage at a time as ``dosimetry
analyze`` runs them (load; results: DVHs, checks, convention spreads, indices, recovery record and
re-irradiation limits; report), and prints for each stage its wall time, its CPU time (user + system,
the figure to compare on a shared machine), the Python-heap memory still held after it, the stage's
own peak above what was held before it (tracemalloc: numpy buffers are counted), and the process's
peak RSS so far. tracemalloc slows the Python-heavy stages (the report most): whole-process figures
come from ``benchmarks/clinical_scale.py``. Then it lists the
largest arrays the finished analysis still holds.

Run: ``.venv/bin/python benchmarks/analysis_memory_profile.py FOLDER [--out DIR]`` (for the
clinical-size case: ``benchmarks/clinical_scale.py`` generates ``/tmp/dosimetry_clinical/clinical01``).
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _largest_arrays(root: object, limit: int = 12) -> list[tuple[str, int]]:
    """numpy arrays reachable from ``root`` (attributes, dicts, tuples), largest first, by path."""
    seen: set[int] = set()
    found: dict[int, tuple[str, int]] = {}
    stack: list[tuple[str, object, int]] = [("patient", root, 0)]
    while stack:
        path, obj, depth = stack.pop()
        if id(obj) in seen or depth > 8:
            continue
        seen.add(id(obj))
        if isinstance(obj, np.ndarray):
            base = obj if obj.base is None else obj.base
            if isinstance(base, np.ndarray):
                found.setdefault(id(base), (path, base.nbytes))
            continue
        if isinstance(obj, dict):
            stack.extend((f"{path}[{k!r}]", v, depth + 1) for k, v in list(obj.items())[:200])
        elif isinstance(obj, (list, tuple)):
            stack.extend((f"{path}[{i}]", v, depth + 1) for i, v in enumerate(obj[:200]))
        elif hasattr(obj, "__dict__") or hasattr(obj, "__slots__"):
            names = list(getattr(obj, "__dict__", {}).keys()) + list(getattr(obj, "__slots__", ()) or ())
            for name in names:
                try:
                    stack.append((f"{path}.{name}", getattr(obj, name), depth + 1))
                except AttributeError:
                    continue
    return sorted(found.values(), key=lambda t: -t[1])[:limit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    import dosimetry

    out = args.out or Path(tempfile.mkdtemp(prefix="dosimetry_profile_"))
    tracemalloc.start()
    holder: dict[str, object] = {}

    def load() -> None:
        holder["patient"] = dosimetry.load_patient(args.folder)

    def results() -> None:
        holder["results"] = holder["patient"].results()  # type: ignore[attr-defined]

    def report() -> None:
        holder["patient"].report(out / "report.html", results=holder["results"])  # type: ignore[attr-defined]

    # the stages in the order `dosimetry analyze` runs them: results() is one session in which the
    # DVHs, the checks, the convention spreads, the indices, the recovery record (re-irradiation
    # type) and the re-irradiation limits share each map's DVH sampling tables (patient.grid_tables)
    stages: list[tuple[str, Callable[[], object]]] = [
        ("load (courses, alignment, map warnings)", load),
        ("results (DVHs, checks, indices, re-irr.)", results),
        ("report (figures, HTML)", report),
    ]
    print(f"{'stage':<42} {'time [s]':>9} {'CPU [s]':>8} {'held after [MiB]':>17} {'stage peak [MiB]':>17} {'RSS peak [MiB]':>15}")
    for label, stage in stages:
        gc.collect()
        held_before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        t0, c0 = time.perf_counter(), _cpu_s()
        stage()
        seconds, cpu = time.perf_counter() - t0, _cpu_s() - c0
        held, peak = tracemalloc.get_traced_memory()
        print(f"{label:<42} {seconds:9.2f} {cpu:8.2f} {held / 2**20:17.0f} {(peak - held_before) / 2**20:17.0f} {_rss_mib():15.0f}")
    print("\nlargest arrays the patient object holds:")
    for path, nbytes in _largest_arrays(holder["patient"]):
        print(f"  {nbytes / 2**20:8.1f} MiB  {path}")


if __name__ == "__main__":
    main()
