"""Clinical scale: `dosimetry dvh` and `dosimetry analyze` as whole processes on a generated
head-and-neck case of clinical size, against dicompyler-core's ``get_dvh``, with peak memory.

The case is the sample patient's phantom (both courses, the same anatomy, plans and registration)
written on clinical-size grids: CT 256 x 256 x 160 at 2 mm, current and prior dose grids 256 x 256
x 160 at 2 mm (10.5 M voxels each, as in the issue's head-and-neck measurement), the phantom's 18
ROIs plus 22 small spheres and ellipsoids of 0.01-2 cc ("sub-voxel" ROIs: 40 ROIs in all). It is
generated once into ``--workdir`` (deterministic; a few minutes) and reused.

Printed side by side, one run:

- ``dosimetry dvh`` (whole process: start-up, reading, all ROIs) vs dicompyler-core ``get_dvh``
  over the same ROIs (calculation time its worker reports, reading excluded), ratio, peak RSS;
- ``dosimetry analyze`` (whole process, prior course summed, report written): wall time, peak RSS,
  and peak RSS per current-dose voxel (the issue's target: under 100 bytes per voxel, under 1.2 GB).

Peak memory is the child process's maximum resident set and CPU time its user + system time
(``getrusage(RUSAGE_CHILDREN)`` read in a fresh wrapper process per command, so one command's peak
does not hide another's); on a shared machine compare CPU time, wall time depends on the load.

``--roi-counts 10,40`` also runs ``analyze`` on copies of the case whose current structure set keeps
only the first N ROIs (the other files are symbolic links; the case folder is only read) and prints
the peak RSS per added ROI: the per-ROI term of the analysis's memory.

Outputs (``dvh.json``, the analysis folders, the ROI-subset copies) go to ``--scratch`` (a new
temporary folder by default), never into the case folder.

Run: ``.venv/bin/python benchmarks/clinical_scale.py [--workdir /tmp/dosimetry_clinical] [--skip-baseline]
[--roi-counts 10,40]``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

#: CT and dose grids of the clinical-size case (x, y, z spacing in mm; z, y, x shape).
SPACING_MM = (2.0, 2.0, 2.0)
SHAPE_ZYX = (160, 256, 256)
#: the sample phantom's centre (its CT grid's centre), kept as the centre of the larger grids
PHANTOM_CENTRE_MM = (1.25, 11.25, -10.5)
N_SMALL_ROIS = 22

_MEASURE = r"""
import resource, subprocess, sys, time, json
t0 = time.perf_counter()
proc = subprocess.run(sys.argv[1:], capture_output=True, text=True)
seconds = time.perf_counter() - t0
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"seconds": seconds, "cpu_seconds": usage.ru_utime + usage.ru_stime,
                  "peak_mib": usage.ru_maxrss / 1024, "returncode": proc.returncode,
                  "stderr": proc.stderr[-1500:]}))
"""


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


def measure(command: list[str]) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-c", _MEASURE, *command], capture_output=True, text=True, check=True)
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
    args = parser.parse_args()
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

    dvh = measure([exe, "dvh", "--dose", str(rd), "--structures", str(rs), "--json", str(scratch / "dvh.json")])
    rows = [("dosimetry dvh (whole process)", float(dvh["seconds"]), float(dvh["cpu_seconds"]), float(dvh["peak_mib"]))]
    ratio = ""
    if not args.skip_baseline:
        from benchmarks.baseline.bridge import dicompyler_dvh

        base = dicompyler_dvh(rd, rs)
        base_seconds = float(base["total_seconds"])
        rows.append(("dicompyler-core get_dvh (calculation only)", base_seconds, float("nan"), float("nan")))
        ratio = f"ratio dicompyler / dosimetry dvh: {base_seconds / float(dvh['seconds']):.1f}x (target >= 10x)"
    if not args.skip_analyze:
        with_out = scratch / "out"
        shutil.rmtree(with_out, ignore_errors=True)
        analyze = measure([exe, "analyze", str(folder), "--out", str(with_out)])
        rows.append((
            "dosimetry analyze (whole process, prior summed)", float(analyze["seconds"]), float(analyze["cpu_seconds"]),
            float(analyze["peak_mib"]),
        ))
    by_count: dict[int, float] = {}
    for n in counts:
        subset = roi_subset(folder, n, scratch)
        result = measure([exe, "analyze", str(subset), "--out", str(scratch / f"out_{n}rois")])
        by_count[n] = float(result["peak_mib"])
        rows.append((f"dosimetry analyze, first {n} ROIs only", float(result["seconds"]), float(result["cpu_seconds"]), by_count[n]))
    print(f"{'command':<52} {'time [s]':>9} {'CPU [s]':>8} {'peak RSS [MiB]':>15} {'bytes/voxel':>12}")
    for label, seconds, cpu, peak in rows:
        per_voxel = f"{peak * 2**20 / n_voxels:12.0f}" if peak == peak else f"{'-':>12}"
        cpu_text = f"{cpu:8.2f}" if cpu == cpu else f"{'-':>8}"
        print(f"{label:<52} {seconds:9.2f} {cpu_text} {peak:15.0f} {per_voxel}")
    if ratio:
        print(ratio)
    if len(by_count) >= 2:
        low, high = min(by_count), max(by_count)
        print(f"per-ROI term: {(by_count[high] - by_count[low]) / (high - low):.2f} MiB per ROI ({low} -> {high} ROIs)")
    print(f"outputs in {scratch}")


if __name__ == "__main__":
    main()
