"""Clinical scale: `dosimetry dvh` and `dosimetry analyze` as whole processes on a generated
head-and-neck case of clinical size, against dicompyler-core's ``get_dvh``, with peak memory.

The case is the sample patient's phantom (both courses, the same anatomy, plans and registration)
written on clinical-size grids: CT 256 x 256 x 160 at 2 mm, current and prior dose grids 256 x 256
x 160 at 2 mm (10.5 M voxels each, as in the issue's head-and-neck measurement), the phantom's 18
ROIs plus 22 small spheres and ellipsoids of 0.01-2 cc ("sub-voxel" ROIs: 40 ROIs in all). It is
generated once into ``--workdir`` (deterministic; a few minutes) and reused.

Printed side by side (``dvh``, ``compute_dvhs`` and dicompyler-core: ``--repeat`` runs each, after one
unmeasured warm-up of ``dosimetry dvh``, best and median; ``analyze``: one run):

- ``dosimetry dvh`` (whole process: start-up, reading, all ROIs) and ``compute_dvhs`` alone (the
  calculation, files read before the clock starts, fresh process) vs dicompyler-core ``get_dvh``
  over the same ROIs (calculation time its worker reports, reading excluded), ratios, peak RSS;
- ``dosimetry analyze`` (whole process, prior course summed, report written): wall time, peak RSS,
  and peak RSS per current-dose voxel (the issue's target: under 100 bytes per voxel, under 1.2 GB).

Peak memory is the child process's maximum resident set and CPU time its user + system time
(``getrusage(RUSAGE_CHILDREN)`` read in a fresh wrapper process per command, so one command's peak
does not hide another's); on a shared machine compare CPU time, wall time depends on the load (the
load average is printed). The commands run without ``PYTHONDONTWRITEBYTECODE``, as an installed
package does: modules are compiled once (the warm-up), not at every start (about 0.1 s of every run
otherwise).

``--roi-counts 10,40`` also runs ``analyze`` on copies of the case whose current structure set keeps
only the first N ROIs (the other files are symbolic links; the case folder is only read) and prints
the peak RSS per added ROI: the per-ROI term of the analysis's memory.

Outputs (``dvh.json``, the analysis folders, the ROI-subset copies) go to ``--scratch`` (a new
temporary folder by default), never into the case folder.

Run: ``.venv/bin/python benchmarks/clinical_scale.py [--workdir /tmp/dosimetry_clinical] [--skip-baseline]
[--skip-analyze] [--repeat 3] [--roi-counts 10,40]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.child_process import MEASURE_SCRIPT  # noqa: E402

#: CT and dose grids of the clinical-size case (x, y, z spacing in mm; z, y, x shape).
SPACING_MM = (2.0, 2.0, 2.0)
SHAPE_ZYX = (160, 256, 256)
#: the sample phantom's centre (its CT grid's centre), kept as the centre of the larger grids
PHANTOM_CENTRE_MM = (1.25, 11.25, -10.5)
N_SMALL_ROIS = 22

_MEASURE = MEASURE_SCRIPT


def _origin() -> tuple[float, float, float]:
    nz, ny, nx = SHAPE_ZYX
    sx, sy, sz = SPACING_MM
    cx, cy, cz = PHANTOM_CENTRE_MM
    return (cx - sx * (nx - 1) / 2, cy - sy * (ny - 1) / 2, cz - sz * (nz - 1) / 2)


def generate(workdir: Path) -> Path:
    """Write the clinical-size patient (once) and return its folder."""
    folder = workdir / "clinical01"
    if (folder / "current").is_dir() and (folder / "prior").is_dir():
        return folder
    import numpy as np

    from dosimetry.sampledata import anatomy
    from dosimetry.sampledata import patient as generator
    from dosimetry.sampledata.shapes import Ellipsoid

    origin = _origin()
    # the generator's grid constants, enlarged for this benchmark only (read at call time)
    generator.CT_SPACING_MM = SPACING_MM
    generator.CT_SHAPE_ZYX = SHAPE_ZYX
    generator.CT_ORIGIN_MM = origin
    generator.DOSE_SPACING_MM = SPACING_MM
    generator.CURRENT_DOSE_ORIGIN_MM = origin
    generator.CURRENT_DOSE_SHAPE_ZYX = SHAPE_ZYX
    generator.PRIOR_DOSE_ORIGIN_MM = origin
    generator.PRIOR_DOSE_SHAPE_ZYX = SHAPE_ZYX
    rng = np.random.default_rng(20261207)
    small = []
    for k in range(N_SMALL_ROIS):
        semi = tuple(float(v) for v in rng.uniform(1.2, 7.0, 3))
        centre = tuple(float(c + d) for c, d in zip(PHANTOM_CENTRE_MM, rng.uniform(-40.0, 40.0, 3)))
        small.append(anatomy.StructureSpec(f"Small_{k + 1:02d}", "ORGAN", (200, 200, 0), Ellipsoid(centre, semi)))
    original = anatomy.Phantom.structures

    def structures(self: anatomy.Phantom) -> tuple[anatomy.StructureSpec, ...]:
        return (*original(self), *small)

    anatomy.Phantom.structures = structures  # type: ignore[method-assign]
    spec = generator.PatientSpec(patient_id="clinical01", patient_name="Clinical^Scale", seed=2026)
    workdir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    generator.generate_patient(spec, workdir, overwrite=True)
    print(f"generated {folder} in {time.perf_counter() - t0:.0f} s")
    return folder


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


#: ``compute_dvhs`` of every ROI, timed alone in a fresh process (files read before the clock starts):
#: the counterpart of dicompyler-core's calculation-only time
_CALCULATION = r"""
import json, sys, time
from dosimetry.dvh import compute_dvhs
from dosimetry.io import load_dose, load_structure_set
dose, rois = load_dose(sys.argv[1]), list(load_structure_set(sys.argv[2]).rois)
t0, c0 = time.perf_counter(), time.process_time()
compute_dvhs(dose, rois)
print(json.dumps({"seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0}))
"""


def calculation_only(rd: Path, rs: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", _CALCULATION, str(rd), str(rs)], capture_output=True, text=True, check=True, env=_environment()
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def measure(command: list[str]) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-c", _MEASURE, *command], capture_output=True, text=True, check=True, env=_environment())
    result: dict[str, Any] = json.loads(out.stdout)
    if result["returncode"] not in (0, 2):  # 2: the analysis ran and found violations
        raise SystemExit(f"{' '.join(command)} failed ({result['returncode']}): {result['stderr']}")
    return result


def roi_subset(folder: Path, n_rois: int, scratch: Path) -> Path:
    """A copy of ``folder`` under ``scratch`` whose current RT Structure Set keeps its first ``n_rois``
    ROIs (every other file a symbolic link to the original)."""
    import pydicom

    out = scratch / f"{folder.name}_{n_rois}rois"
    shutil.rmtree(out, ignore_errors=True)
    for course in sorted(p for p in folder.iterdir() if p.is_dir()):
        (out / course.name).mkdir(parents=True)
        for f in course.iterdir():
            if course.name == "current" and f.name.startswith("RS_"):
                ds = pydicom.dcmread(f)
                keep = {int(r.ROINumber) for r in list(ds.StructureSetROISequence)[:n_rois]}
                ds.StructureSetROISequence = [r for r in ds.StructureSetROISequence if int(r.ROINumber) in keep]
                ds.ROIContourSequence = [r for r in ds.ROIContourSequence if int(r.ReferencedROINumber) in keep]
                ds.RTROIObservationsSequence = [r for r in ds.RTROIObservationsSequence if int(r.ReferencedROINumber) in keep]
                ds.save_as(out / course.name / f.name)
            else:
                (out / course.name / f.name).symlink_to(f.resolve())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/dosimetry_clinical"))
    parser.add_argument("--skip-baseline", action="store_true", help="do not run dicompyler-core")
    parser.add_argument("--skip-analyze", action="store_true")
    parser.add_argument("--scratch", type=Path, help="folder for the outputs (default: a new temporary folder)")
    parser.add_argument("--roi-counts", help="e.g. 10,40: also analyze copies keeping the first N ROIs (per-ROI memory term)")
    parser.add_argument("--repeat", type=int, default=3, help="measured runs of dvh, compute_dvhs and dicompyler-core (default 3)")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    scratch = args.scratch or Path(tempfile.mkdtemp(prefix="clinical_scale_"))
    scratch.mkdir(parents=True, exist_ok=True)
    counts = sorted({int(n) for n in args.roi_counts.split(",")}) if args.roi_counts else []
    folder = generate(args.workdir)
    current = folder / "current"
    rd = next(current.glob("RD_*.dcm"))
    rs = next(current.glob("RS_*.dcm"))
    exe = shutil.which("dosimetry") or str(Path(sys.executable).with_name("dosimetry"))
    n_voxels = SHAPE_ZYX[0] * SHAPE_ZYX[1] * SHAPE_ZYX[2]
    print(f"case: {folder} (dose grid {SHAPE_ZYX[2]} x {SHAPE_ZYX[1]} x {SHAPE_ZYX[0]} at {SPACING_MM[0]} mm = {n_voxels / 1e6:.1f} M voxels)")

    dvh_command = [exe, "dvh", "--dose", str(rd), "--structures", str(rs), "--json", str(scratch / "dvh.json")]
    measure(dvh_command)  # warm-up: modules compiled, files in the page cache
    runs = [measure(dvh_command) for _ in range(args.repeat)]
    rows = [_row("dosimetry dvh (whole process)", [float(r["seconds"]) for r in runs], [float(r["cpu_seconds"]) for r in runs],
                 max(float(r["peak_mib"]) for r in runs))]
    calculations = [calculation_only(rd, rs) for _ in range(args.repeat)]
    rows.append(_row("dosimetry compute_dvhs (calculation only)", [float(c["seconds"]) for c in calculations],
                     [float(c["cpu_seconds"]) for c in calculations], float("nan")))
    ratio = ""
    if not args.skip_baseline:
        from benchmarks.baseline.bridge import dicompyler_dvh

        base = [dicompyler_dvh(rd, rs) for _ in range(args.repeat)]
        base_wall = [float(b["total_seconds"]) for b in base]
        base_cpu = [sum(float(s["cpu_seconds"]) for s in b["structures"]) for b in base]
        rows.append(_row("dicompyler-core get_dvh (calculation only)", base_wall, base_cpu, float("nan")))
        ratio = (
            f"ratio dicompyler / dosimetry dvh whole process (best of {args.repeat}): wall {min(base_wall) / rows[0][1]:.1f}x, "
            f"CPU {min(base_cpu) / rows[0][3]:.1f}x (target >= 10x); calculation only: wall {min(base_wall) / rows[1][1]:.1f}x, "
            f"CPU {min(base_cpu) / rows[1][3]:.1f}x"
        )
    if not args.skip_analyze:
        with_out = scratch / "out"
        shutil.rmtree(with_out, ignore_errors=True)
        analyze = measure([exe, "analyze", str(folder), "--out", str(with_out)])
        rows.append(_row("dosimetry analyze (whole process, prior summed)", [float(analyze["seconds"])],
                         [float(analyze["cpu_seconds"])], float(analyze["peak_mib"])))
    by_count: dict[int, float] = {}
    for n in counts:
        subset = roi_subset(folder, n, scratch)
        result = measure([exe, "analyze", str(subset), "--out", str(scratch / f"out_{n}rois")])
        by_count[n] = float(result["peak_mib"])
        rows.append(_row(f"dosimetry analyze, first {n} ROIs only", [float(result["seconds"])], [float(result["cpu_seconds"])],
                         by_count[n]))
    print(f"load average before: {load:.1f}; {os.cpu_count()} CPUs; {args.repeat} run(s) of dvh, compute_dvhs, dicompyler-core (best / median)")
    print(f"{'command':<50} {'wall [s]':>13} {'CPU [s]':>13} {'peak RSS [MiB]':>15} {'bytes/voxel':>12}")
    for label, wall_best, wall_median, cpu_best, cpu_median, peak in rows:
        per_voxel = f"{peak * 2**20 / n_voxels:12.0f}" if peak == peak else f"{'-':>12}"
        print(f"{label:<50} {wall_best:6.2f} / {wall_median:4.2f} {cpu_best:6.2f} / {cpu_median:4.2f} {peak:15.0f} {per_voxel}")
    if ratio:
        print(ratio)
    if len(by_count) >= 2:
        low, high = min(by_count), max(by_count)
        print(f"per-ROI term: {(by_count[high] - by_count[low]) / (high - low):.2f} MiB per ROI ({low} -> {high} ROIs)")
    print(f"outputs in {scratch}")


def _row(label: str, wall: list[float], cpu: list[float], peak_mib: float) -> tuple[str, float, float, float, float, float]:
    return (label, min(wall), statistics.median(wall), min(cpu), statistics.median(cpu), peak_mib)


if __name__ == "__main__":
    main()
