"""Wall and CPU time of ``Patient.write`` (what ``dosimetry analyze`` runs) with the report's figures
drawn in the main process or in render processes (issue 20: use the second core), and proof that the
outputs are the same.

Each run is a fresh process started in its checkout (``PYTHONPATH`` set to it), timing from before the
imports of the analyze command to the end of ``write``: wall (``time.perf_counter``), the main
process's CPU (``time.process_time``), the whole run's CPU including the render processes
(user + system of the process and its children, from ``os.wait4``), the peak resident memory of the
main process (``ru_maxrss``) and of the largest render process (``VmHWM`` before it stops; its
``ru_maxrss`` would keep the main process's size when it was started), in MB, and wall and main CPU of
``build_report`` (the report phase). On a shared machine the wall times measure the other users too, so
``report_idle`` / ``wall_idle`` replay the run on idle cores from CPU times (:func:`idle_estimate`). Variants: ``LABEL=PATH`` for a checkout whose ``write`` has no
``report_workers`` (e.g. the base commit) and ``LABEL=PATH:N`` to call ``write(report_workers=N)``.
Runs alternate between variants; compare medians on a shared machine (the load average is printed).

After the runs, the outputs of the first run of every variant are compared with the first variant's:
``benchmarks/compare_analyze_outputs.py`` (report.html, results.json, CSVs, RT Dose maps) and each
figure's PNG bytes (decoded from report.html, by figure id).

Run: ``.venv/bin/python benchmarks/report_parallel.py CASE --variant base=/tmp/base
--variant serial=.:0 --variant parallel=.:1 [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.compare_analyze_outputs import compare  # noqa: E402

CHILD = r"""
import json, sys, time
wall0, cpu0 = time.perf_counter(), time.process_time()
spent = {}
def timed(name, fn):
    def wrapper(*args, **kwargs):
        w, c = time.perf_counter(), time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[name + "_wall"] = spent.get(name + "_wall", 0.0) + time.perf_counter() - w
            spent[name + "_cpu"] = spent.get(name + "_cpu", 0.0) + time.process_time() - c
            spent[name + "_start_cpu"] = c
    return wrapper
import dosimetry.cli.commands.analyze
import dosimetry.patient.facade as facade
import dosimetry.report.builder as builder
builder.build_report = timed("report", builder.build_report)
try:
    import dataclasses
    import dosimetry.report.render_process as render_process
except ImportError:  # a checkout without render processes
    pass
else:
    close = render_process.RenderProcesses.close
    def keep_timings(self, **kwargs):
        spent.setdefault("timings", []).extend(dataclasses.asdict(t) for t in self.timings)
        for p in self.processes:  # VmHWM: this process image's peak (ru_maxrss keeps the forking parent's)
            try:
                status = open(f"/proc/{p.popen.pid}/status").read()
            except OSError:
                continue
            kb = [int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")]
            spent["render_peak_mb"] = max([spent.get("render_peak_mb", 0.0), *(k / 1024 for k in kb)])
        return close(self, **kwargs)
    render_process.RenderProcesses.close = keep_timings
patient = facade.load_patient(sys.argv[1])
kwargs = {} if sys.argv[3] == "-" else {"report_workers": int(sys.argv[3])}
patient.write(sys.argv[2], **kwargs)
spent["wall"] = time.perf_counter() - wall0
spent["main_cpu"] = time.process_time() - cpu0
import resource
spent["main_peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(spent))
"""

COLUMNS = ("wall", "main_cpu", "all_cpu", "report_wall", "report_cpu", "report_idle", "wall_idle", "main_peak_mb",
           "render_peak_mb")
CORES = 2


def idle_estimate(result: dict[str, Any]) -> float:
    """The report's wall time on idle cores, replayed from CPU times (noise-free; a shared machine's
    wall time is not): the main process's report CPU, and each render process drawing its figures
    one after the other, each no earlier than the main process sent it (its CPU time then); at least
    the report's whole CPU over :data:`CORES` cores (more processes than cores share them)."""
    timings = result.get("timings", [])
    if not timings:
        return result["report_cpu"]
    finish: dict[str, float] = {}
    for t in timings:  # in the order the PNGs came back: per process, the order drawn
        sent = t["submitted_cpu_s"] - result["report_start_cpu"]
        finish[t["process"]] = max(finish.get(t["process"], 0.0), sent) + t["drawn_cpu_s"]
    total = result["report_cpu"] + sum(t["drawn_cpu_s"] for t in timings)
    return max(result["report_cpu"], *finish.values(), total / CORES)


def run_once(checkout: Path, workers: str, case: Path, out: Path) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(checkout))
    process = subprocess.Popen([sys.executable, "-c", CHILD, str(case), str(out), workers], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, env=env, cwd=checkout)
    assert process.stdout is not None
    stdout = process.stdout.read().decode()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{checkout} (workers {workers}): failed with code {process.returncode}")
    result: dict[str, float] = json.loads(stdout.strip().splitlines()[-1])
    result["all_cpu"] = usage.ru_utime + usage.ru_stime  # the process and the children it waited for
    result["report_idle"] = idle_estimate(result)
    result["wall_idle"] = result["main_cpu"] - result["report_cpu"] + result["report_idle"]
    return result


def figures_of(report_html: Path) -> dict[str, bytes]:
    """Each figure's PNG bytes by figure id, decoded from the page."""
    text = report_html.read_text(encoding="utf-8")
    found = re.findall(r'<img data-figure="([^"]+)"[^>]*src="data:image/png;base64,([^"]+)"', text)
    return {fid: base64.b64decode(data) for fid, data in found}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("case", type=Path)
    parser.add_argument("--variant", action="append", required=True, metavar="LABEL=PATH[:WORKERS]")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    variants: list[tuple[str, Path, str]] = []
    for spec in args.variant:
        label, rest = spec.split("=", 1)
        path, _, workers = rest.partition(":")
        variants.append((label, Path(path).resolve(), workers or "-"))
    scratch = Path(tempfile.mkdtemp(prefix="report_parallel_"))
    runs: dict[str, list[dict[str, float]]] = {label: [] for label, _, _ in variants}
    for k in range(args.repeat):
        for label, path, workers in variants:
            result = run_once(path, workers, args.case, scratch / f"{label}_{k}")
            runs[label].append(result)
            print(f"run {k + 1} {label:<10} load avg {os.getloadavg()[0]:4.1f}: "
                  + ", ".join(f"{c} {result.get(c, 0.0):.2f}" for c in COLUMNS), flush=True)
    print(f"\nseconds, median of {args.repeat} (min in brackets); all_cpu includes the render processes; "
          f"report_idle and wall_idle: replayed from CPU times on {CORES} idle cores (idle_estimate)")
    print(f"{'variant':<12}" + "".join(f"{c:>18}" for c in COLUMNS))
    for label, _, _ in variants:
        rs = runs[label]
        print(f"{label:<12}" + "".join(
            f"{f'{statistics.median(r.get(c, 0.0) for r in rs):8.2f} ({min(r.get(c, 0.0) for r in rs):6.2f})':>18}" for c in COLUMNS))
    first = variants[0][0]
    reference = figures_of(scratch / f"{first}_0" / "report.html")
    print(f"\noutputs compared with {first} (first runs): ")
    for label, _, _ in variants[1:]:
        out = scratch / f"{label}_0"
        differing = [name for name, same in compare(scratch / f"{first}_0", out) if not same]
        pngs = figures_of(out / "report.html")
        png_same = pngs == reference
        print(f"{label:<12} files: {'all same' if not differing else 'DIFFER: ' + ', '.join(differing)}; "
              f"{len(pngs)} figure PNGs {'byte-identical' if png_same else 'DIFFER'}"
              + ("" if png_same else f" ({[f for f in reference if reference[f] != pngs.get(f)]})"))
    print(f"outputs in {scratch}")


if __name__ == "__main__":
    main()
