"""The main process's resident memory at named points of ``dosimetry analyze``, checkouts side by side (issue 20).

Each run is a fresh process running ``dosimetry analyze CASE --out TMP`` in-process (the CLI's
``main``) with ``PYTHONPATH`` set to the checkout. A thread samples the process's RSS (``/proc/self/statm``)
every 5 ms and, with psutil, the RSS of its children (the report's render processes) every 20 ms;
named points are marked by wrapping the analysis's functions (loading a course, aligning the prior
dose, the DVH stage, the checks, the spreads, the re-irradiation steps, the report, the map export):
at each point the RSS now and the peak since the previous point are recorded. The wrappers call the
wrapped function unchanged (the same outputs); a function a checkout does not have is not marked.
Then for each checkout and point the median over the runs is printed, and the run's whole peak of
the main process and of every process summed. The runs alternate between the checkouts.

Run: ``/work/main/.venv/bin/python benchmarks/analyze_main_memory.py CASE --checkout base=/tmp/base
--checkout branch=. [--repeat 3] [--no-prior]`` (``--timeline``: every point of each run, not only
the medians).
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

#: (module, attribute path) of the functions marked at their entry and exit, in run order
POINTS: tuple[tuple[str, str], ...] = (
    ("dosimetry.patient.maps", "load_course"),
    ("dosimetry.patient.maps", "align_prior_dose"),
    ("dosimetry.patient.maps", "recovery_assignment"),
    ("dosimetry.patient.facade", "build_patient_maps"),
    ("dosimetry.patient.facade", "Patient._early_overlays"),
    ("dosimetry.patient.facade", "compute_patient_dvhs"),
    ("dosimetry.patient.dvhs", "_MapsAhead.get"),
    ("dosimetry.patient.indices", "TargetIndicesRun.on_map"),
    ("dosimetry.patient.facade", "Patient.check"),
    ("dosimetry.patient.facade", "with_convention_spreads"),
    ("dosimetry.patient.facade", "Patient.recovery"),
    ("dosimetry.patient.facade", "Patient.reirradiation_limits"),
    ("dosimetry.patient.facade", "planning_system_rows"),
    ("dosimetry.patient.facade", "Patient.registration_uncertainty"),
    ("dosimetry.patient.facade", "Patient.results"),
    ("dosimetry.report.builder", "build_report"),
    ("dosimetry.patient.facade", "export_maps"),
    ("dosimetry.patient.facade", "Patient._write_files"),
)

_PAGE = os.sysconf("SC_PAGE_SIZE")


def _rss_mib() -> float:
    with open("/proc/self/statm", "rb") as f:
        return int(f.read().split()[1]) * _PAGE / 2**20


class _Sampler:
    """RSS of this process every 5 ms (peak since the last mark) and of its children every 20 ms."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.peak_since_mark = 0.0
        self.peak_main = 0.0
        self.peak_all = 0.0
        self.peak_all_split: list[float] = []
        self.marks: list[dict[str, Any]] = []
        self._children_mib: list[float] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import psutil

        me = psutil.Process()
        tick = 0
        while not self._stop.is_set():
            rss = _rss_mib()
            if tick % 4 == 0:
                children = []
                for child in me.children(recursive=True):
                    try:
                        children.append(child.memory_info().rss / 2**20)
                    except psutil.Error:
                        pass
                self._children_mib = children
            with self._lock:
                self.peak_since_mark = max(self.peak_since_mark, rss)
                self.peak_main = max(self.peak_main, rss)
                total = rss + sum(self._children_mib)
                if total > self.peak_all:
                    self.peak_all, self.peak_all_split = total, [rss, *self._children_mib]
            tick += 1
            time.sleep(0.005)

    def mark(self, name: str) -> None:
        rss = _rss_mib()
        with self._lock:
            peak = max(self.peak_since_mark, rss)
            self.marks.append({"point": name, "t_s": time.perf_counter() - self.t0, "rss_mib": rss, "peak_before_mib": peak,
                               "children_mib": sum(self._children_mib)})
            self.peak_since_mark = rss

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def _wrap(sampler: _Sampler, module_name: str, path: str) -> None:
    try:
        owner: Any = importlib.import_module(module_name)
    except ImportError:
        return
    *parents, name = path.split(".")
    for parent in parents:
        owner = getattr(owner, parent, None)
        if owner is None:
            return
    original = getattr(owner, name, None)
    if original is None:
        return

    @functools.wraps(original)
    def marked(*args: Any, **kwargs: Any) -> Any:
        sampler.mark(f"{path} >")
        try:
            return original(*args, **kwargs)
        finally:
            sampler.mark(f"{path} <")

    setattr(owner, name, marked)


def child(case: str, out: str, no_prior: bool) -> None:
    """One analyze in this process, marked; prints one JSON object."""
    sampler = _Sampler()
    sampler.mark("start")
    from dosimetry.cli.main import main as cli_main

    sampler.mark("cli imported")
    for module_name, path in POINTS:
        _wrap(sampler, module_name, path)
    sampler.mark("wrapped")
    argv = ["analyze", case, "--out", out, *(["--no-prior"] if no_prior else [])]
    code = cli_main(argv)
    sampler.mark("end")
    sampler.stop()
    print(json.dumps({"returncode": code, "marks": sampler.marks, "peak_main_mib": sampler.peak_main,
                      "peak_all_mib": sampler.peak_all, "peak_all_split_mib": sampler.peak_all_split}))


def _run(checkout: Path, case: Path, out: Path, no_prior: bool) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(checkout))
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", str(case), str(out), *(["--no-prior"] if no_prior else [])],
        capture_output=True, text=True, env=env, cwd=checkout, check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise SystemExit(f"{checkout}: the run failed ({done.returncode}): {done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    if result["returncode"] not in (0, 2):
        raise SystemExit(f"{checkout}: analyze returned {result['returncode']}: {done.stderr[-3000:]}")
    return result


def _point_table(runs: list[dict[str, Any]]) -> dict[str, tuple[float, float, float]]:
    """point -> median (RSS at it, peak since the point before, children's RSS), the n-th occurrence numbered."""
    per: dict[str, list[tuple[float, float, float]]] = {}
    for run in runs:
        seen: dict[str, int] = {}
        for m in run["marks"]:
            n = seen[m["point"]] = seen.get(m["point"], 0) + 1
            key = m["point"] if n == 1 else f"{m['point']} #{n}"
            per.setdefault(key, []).append((m["rss_mib"], m["peak_before_mib"], m["children_mib"]))
    return {k: tuple(statistics.median(v[i] for v in values) for i in range(3)) for k, values in per.items()}  # type: ignore[misc]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("case", type=Path)
    parser.add_argument("--checkout", action="append", required=True, metavar="LABEL=PATH")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-prior", action="store_true")
    parser.add_argument("--timeline", action="store_true", help="print every run's points")
    args = parser.parse_args()
    checkouts = [(c.split("=", 1)[0], Path(c.split("=", 1)[1]).resolve()) for c in args.checkout]
    scratch = Path(tempfile.mkdtemp(prefix="analyze_main_memory_"))
    runs: dict[str, list[dict[str, Any]]] = {label: [] for label, _ in checkouts}
    for k in range(args.repeat):
        for label, path in checkouts:
            load = os.getloadavg()[0]
            result = _run(path, args.case, scratch / f"{label}_{k}", args.no_prior)
            runs[label].append(result)
            print(f"run {k + 1} {label:<8} load {load:4.1f}: main peak {result['peak_main_mib']:.0f} MiB, every process summed "
                  f"{result['peak_all_mib']:.0f} MiB {[round(x) for x in result['peak_all_split_mib']]}", flush=True)
            if args.timeline:
                for m in result["marks"]:
                    print(f"  {m['t_s']:6.2f} s {m['point']:<44} RSS {m['rss_mib']:6.0f}  peak before {m['peak_before_mib']:6.0f}  "
                          f"children {m['children_mib']:5.0f}")
    tables = {label: _point_table(results) for label, results in runs.items()}
    labels = list(runs)
    order: list[str] = []
    for table in tables.values():
        order += [p for p in table if p not in order]
    print("\nmedian MiB of the main process: RSS at the point / peak since the point before (children's RSS at the point)")
    print(f"{'point':<46}" + "".join(f"{label:>28}" for label in labels))
    for point in order:
        cells = []
        for label in labels:
            value = tables[label].get(point)
            cells.append(f"{'-':>28}" if value is None else f"{value[0]:>9.0f} / {value[1]:>6.0f} ({value[2]:>4.0f})".rjust(28))
        print(f"{point:<46}" + "".join(cells))
    for label, results in runs.items():
        main_peaks = [r["peak_main_mib"] for r in results]
        all_peaks = [r["peak_all_mib"] for r in results]
        print(f"{label:<8} main peak median {statistics.median(main_peaks):.0f} MiB {[round(x) for x in main_peaks]}; "
              f"every process summed median {statistics.median(all_peaks):.0f} MiB {[round(x) for x in all_peaks]}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], "--no-prior" in sys.argv[4:])
    else:
        ROOT = Path(__file__).resolve().parents[1]
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))
        main()
