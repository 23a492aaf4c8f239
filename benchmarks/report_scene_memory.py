"""The memory of ``dosimetry analyze``'s report render processes, checkouts side by side (issue 20).

Each run is a fresh ``dosimetry analyze CASE --out TMP`` of one checkout (``PYTHONPATH`` set to it),
whose resident set and that of each of its child processes (the report's render processes) are
sampled every 20 ms with psutil. Printed per run: the CPU time of all its processes (user + system,
``getrusage`` of the waited children), the summed peak of every process and when, the
main process and each render process at that moment, and each render process's own peak; then the
medians per checkout. The runs alternate between the checkouts (A/B/A/B) so that a change of the
machine's load hits both alike.

The overlays' CT scene is built in the first render process during the analysis only when the
machine seems to have a spare core (:func:`dosimetry.report.overlay_scene.spare_core`, the 1-minute
load average); on a shared machine that may say no, and the scene is then built in the main process
after the analysis. ``--early`` (the default) makes every run take the early path whatever the load
(``BUSY_LOAD_PER_CORE`` set to infinity in the run's process before the command runs), so that the
render process holding the scene is what is measured; ``--late`` makes every run build the scene in
the main process after the analysis (``BUSY_LOAD_PER_CORE`` 0: what a busy machine does);
``--as-is`` leaves the choice to the load.

Run: ``.venv/bin/python benchmarks/report_scene_memory.py CASE --checkout base=/tmp/base
--checkout branch=. [--repeat 3] [--no-prior]`` (the clinical-size case:
``benchmarks/clinical_scale.py`` generates ``/tmp/dosimetry_clinical/clinical01``).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

#: Run in the measured process: ``dosimetry analyze`` (the arguments after the first), the overlay
#: scene built early in a render process (first argument ``early``), late in the main process
#: (``late``) or as the load decides (``as-is``).
_RUN = r"""
import sys
if sys.argv[1] != "as-is":
    from dosimetry.report import overlay_scene
    overlay_scene.BUSY_LOAD_PER_CORE = float("inf") if sys.argv[1] == "early" else 0.0
from dosimetry.cli.main import main
sys.exit(main(sys.argv[2:]))
"""

_SAMPLE_S = 0.02


@dataclass(frozen=True)
class Run:
    wall_s: float
    peak_sum_mib: float
    peak_at_s: float
    at_peak_mib: tuple[float, ...]  # the main process, then each render process, at the summed peak
    render_peaks_mib: tuple[float, ...]  # each render process's own peak
    cpu_s: float  # user + system of the run's every process
    returncode: int

    @property
    def render_at_peak_mib(self) -> float:
        return sum(self.at_peak_mib[1:])


def run_once(checkout: Path, case: Path, out: Path, *, scene: str, no_prior: bool) -> Run:
    env = dict(os.environ, PYTHONPATH=str(checkout))
    command = [sys.executable, "-c", _RUN, scene, "analyze", str(case), "--out", str(out)]
    if no_prior:
        command.append("--no-prior")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    process = subprocess.Popen(command, env=env, cwd=checkout, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    root = psutil.Process(process.pid)
    samples: list[tuple[float, float, dict[int, float]]] = []  # (time, main, child pid -> MiB)
    # A child counts in the sums from its start; its own peak only once it runs the render process's
    # code (between fork and exec a child shows the main process's resident pages).
    serving: set[int] = set()
    own: dict[int, float] = {}
    while process.poll() is None:
        try:
            main_mib = root.memory_info().rss / 2**20
            children = {}
            for child in root.children(recursive=True):
                try:
                    children[child.pid] = child.memory_info().rss / 2**20
                    if child.pid not in serving and "serve()" in " ".join(child.cmdline()):
                        serving.add(child.pid)
                    if child.pid in serving:
                        own[child.pid] = max(own.get(child.pid, 0.0), children[child.pid])
                except psutil.Error:
                    pass
            samples.append((time.monotonic() - started, main_mib, children))
        except psutil.Error:
            pass
        time.sleep(_SAMPLE_S)
    wall = time.monotonic() - started
    _, stderr = process.communicate()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the render processes are waited for by the run
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if process.returncode not in (0, 2):  # 2: the analysis ran and found violations
        raise SystemExit(f"{checkout}: analyze failed ({process.returncode}): {stderr.decode(errors='replace')[-2000:]}")
    started_pids = list(dict.fromkeys(pid for _, _, children in samples for pid in children))
    order = [pid for pid in started_pids if pid in serving] + [pid for pid in started_pids if pid not in serving]  # render processes by start first
    peak = max(samples, key=lambda s: s[1] + sum(s[2].values()))
    at_peak = (peak[1], *(peak[2].get(pid, 0.0) for pid in order))
    render_peaks = tuple(own[pid] for pid in order if pid in serving)
    return Run(wall, sum(at_peak), peak[0], at_peak, render_peaks, cpu, process.returncode)


def _mib(values: tuple[float, ...]) -> str:
    return "[" + ", ".join(f"{v:.0f}" for v in values) + "]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("case", type=Path)
    parser.add_argument("--checkout", action="append", required=True, metavar="LABEL=PATH")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-prior", action="store_true", help="pass --no-prior to analyze (a case with current/ only)")
    parser.add_argument("--keep", action="store_true", help="keep the runs' output folders (else each is removed after its run)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--early", dest="scene", action="store_const", const="early", default="early",
                      help="the overlay scene built early in a render process, whatever the load (default)")
    mode.add_argument("--late", dest="scene", action="store_const", const="late",
                      help="the overlay scene built in the main process after the analysis, whatever the load")
    mode.add_argument("--as-is", dest="scene", action="store_const", const="as-is", help="let the load average decide (spare_core)")
    args = parser.parse_args()
    checkouts = [(c.split("=", 1)[0], Path(c.split("=", 1)[1]).resolve()) for c in args.checkout]
    scratch = Path(tempfile.mkdtemp(prefix="report_scene_memory_"))
    runs: dict[str, list[Run]] = {label: [] for label, _ in checkouts}
    for k in range(args.repeat):
        for label, path in checkouts:
            load = os.getloadavg()[0]
            out = scratch / f"{label}_{k}"
            run = run_once(path, args.case, out, scene=args.scene, no_prior=args.no_prior)
            if not args.keep:
                shutil.rmtree(out)  # about 250 MiB per clinical run
            runs[label].append(run)
            print(f"run {k + 1} {label:<8} load {load:4.1f}: wall {run.wall_s:5.2f} s, CPU {run.cpu_s:5.2f} s, summed peak {run.peak_sum_mib:5.0f} MiB at "
                  f"{run.peak_at_s:5.2f} s = main + render {_mib(run.at_peak_mib)} (render processes {run.render_at_peak_mib:.0f}); "
                  f"render processes' own peaks {_mib(run.render_peaks_mib)}", flush=True)
    print(f"\nmedians (overlay scene: {args.scene}):")
    print(f"{'checkout':<10} {'CPU [s]':>8} {'summed peak':>12} {'main at it':>11} {'render at it':>13} {'render 1 peak':>14} {'render 2 peak':>14}")
    for label, results in runs.items():
        def median(values: list[float]) -> float:
            return statistics.median(values) if values else float("nan")

        print(f"{label:<10} {median([r.cpu_s for r in results]):8.2f} {median([r.peak_sum_mib for r in results]):12.0f} {median([r.at_peak_mib[0] for r in results]):11.0f} "
              f"{median([r.render_at_peak_mib for r in results]):13.0f} "
              f"{median([r.render_peaks_mib[0] for r in results if len(r.render_peaks_mib) > 0]):14.0f} "
              f"{median([r.render_peaks_mib[1] for r in results if len(r.render_peaks_mib) > 1]):14.0f}")
    if args.keep:
        print(f"(outputs in {scratch})")
    else:
        scratch.rmdir()


if __name__ == "__main__":
    main()
