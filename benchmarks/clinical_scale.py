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

Contour density (``--vertex-spacing-mm``). The generated structure set keeps few vertices: the traced
outlines are simplified (Ramer-Douglas-Peucker, ``dosimetry.sampledata.contouring``), so the External
has one vertex per 13.5 mm of perimeter and the organs one per 2-11 mm. Planning systems export
denser outlines: a public RayStation 7.0 export (the RT Structure Set reproduced as Orthanc's JSON in
the unit tests of Orthanc Stone, ``UnitTestsSources/TestStructureSet.cpp``, e.g. in the GitHub
repository tkenda/orthanc_stone_srv) has its curved outlines at a median of 2.8 mm per vertex (0.6-7.7
mm; measured on its contour at z = 334.01 mm), on a pixel-grid trace. Both DVH codes' costs may grow
with the vertex count (dicompyler-core's point-in-polygon test is per vertex and per pixel), so
``--vertex-spacing-mm S`` also writes a denser variant of the same case into ``--dense-workdir``
(default ``/tmp/dosimetry_clinical_dense``; seconds, reusing the simplified case): every contour edge
longer than S is divided into equal parts of at most S, i.e. the same polygons (the added vertices lie
on the edges, to the 0.001 mm of the written coordinates, so every exact volume is unchanged) with at least one vertex per S mm of perimeter; CT,
dose, plan and registration files are symbolic links to the simplified case. Both cases are then
measured and printed (``--cases dense`` measures the dense one only).

The real-size plan (``--cases real`` or ``all``). The issue's first measurement is a real planning-system
export: a photon breast plan, dose grid 194 x 129 x 98 at 2.5 mm, 10 ROIs (88,158 contour vertices).
That export is the anonymised example plan dicompyler-core ships in its source distribution
(``tests/testdata/example_data``: rtdose.dcm, rtss.dcm, rtplan.dcm and one CT slice; data nobody here
generated). It is not bundled with this repository: ``fetch_real_plan`` downloads the sdist of
``dicompyler-core==0.5.6`` from PyPI with the baseline environment's pip (once, into
``--real-plan-dir``, default ``/tmp/dosimetry_real_plan``), extracts those four files only, checks
their SHA-256 against :data:`REAL_PLAN_FILES` and lays them out as a current course
(``breast01/current``). It has no prior course, so ``analyze`` runs with ``--no-prior``.

Run: ``.venv/bin/python benchmarks/clinical_scale.py [--workdir /tmp/dosimetry_clinical] [--skip-baseline]
[--skip-analyze] [--repeat 3] [--roi-counts 10,40] [--vertex-spacing-mm 1.0 [--dense-workdir DIR]]
[--cases both|dense|simplified|real|all] [--real-plan-dir DIR]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import hashlib
import statistics
import subprocess
import sys
import tarfile
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

#: The real-size plan: the source distribution that ships it and, per file of its
#: ``tests/testdata/example_data``, the name it gets in the course folder and its SHA-256.
REAL_PLAN_SDIST = "dicompyler-core==0.5.6"
REAL_PLAN_MEMBER_DIR = "tests/testdata/example_data"
REAL_PLAN_FILES = {
    "rtdose.dcm": ("RD_breast.dcm", "a78d4d7723e280b1baf8153a43583fda384a681428eca306b53ada37ef7d3123"),
    "rtss.dcm": ("RS_breast.dcm", "8fe3e3a20d1acf911f5c284dc40288d46f97acd43e4a63753cd6e3e1dac398cb"),
    "rtplan.dcm": ("RP_breast.dcm", "d518fc976a225cbf05f8747d0067b52e7b1faa147da8e53b2b0bce01eaa21977"),
    "ct.0.dcm": ("CT_0.dcm", "6eb080ed6a1f4c850706418582a0b40e6d10dc831c7f3e3fc7d7b0bdd404e542"),
}

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


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch_real_plan(workdir: Path) -> Path:
    """The real-size plan's patient folder (``workdir/breast01``, its course in ``current/``):
    downloaded once from PyPI (see the module docstring), every file checked against its SHA-256."""
    folder = workdir / "breast01"
    current = folder / "current"
    if all((current / name).is_file() and _sha256(current / name) == digest for name, digest in REAL_PLAN_FILES.values()):
        return folder
    from benchmarks.baseline.bridge import baseline_python

    workdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="real_plan_", dir=workdir) as tmp:
        subprocess.run([str(baseline_python()), "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
                        "--dest", tmp, REAL_PLAN_SDIST], check=True, timeout=600)
        (sdist,) = Path(tmp).glob("*.tar.gz")
        partial = Path(tmp) / "current"
        partial.mkdir()
        with tarfile.open(sdist) as archive:
            members = {m.name.split("/", 1)[1]: m for m in archive.getmembers() if m.isfile() and "/" in m.name}
            for source, (name, digest) in REAL_PLAN_FILES.items():
                member = members.get(f"{REAL_PLAN_MEMBER_DIR}/{source}")
                if member is None:
                    raise SystemExit(f"{sdist.name} has no {REAL_PLAN_MEMBER_DIR}/{source}")
                extracted = archive.extractfile(member)
                assert extracted is not None  # a regular file (checked above)
                (partial / name).write_bytes(extracted.read())
                if _sha256(partial / name) != digest:
                    raise SystemExit(f"{sdist.name}: {source} has SHA-256 {_sha256(partial / name)}, expected {digest}")
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        partial.rename(current)
    print(f"fetched the real-size plan ({REAL_PLAN_SDIST} example data) into {folder}")
    return folder


def dose_grid_size(rd: Path) -> tuple[int, int, int, float, float]:
    """(columns, rows, frames, column spacing mm, row spacing mm) of an RT Dose file's header."""
    import pydicom

    ds = pydicom.dcmread(rd, stop_before_pixels=True)
    return (int(ds.Columns), int(ds.Rows), int(ds.NumberOfFrames), float(ds.PixelSpacing[1]), float(ds.PixelSpacing[0]))


def densify_closed(points_xy_mm: Any, max_edge_mm: float) -> Any:
    """The closed polygon ``points_xy_mm`` (N, 2; first vertex not repeated) with every edge longer
    than ``max_edge_mm`` divided into equal parts of at most ``max_edge_mm`` (original vertices kept,
    the new ones on the edges: the same polygon)."""
    import numpy as np

    start = np.asarray(points_xy_mm, dtype=np.float64)
    step = np.roll(start, -1, axis=0) - start
    parts = np.maximum(1, np.ceil(np.hypot(step[:, 0], step[:, 1]) / max_edge_mm).astype(np.int64))
    edge = np.repeat(np.arange(start.shape[0]), parts)
    first = np.cumsum(parts) - parts
    fraction = (np.arange(edge.size) - first[edge]) / parts[edge]
    return start[edge] + fraction[:, None] * step[edge]


def contour_density(rs: Path) -> tuple[int, float, float]:
    """(vertices, mm of perimeter per vertex over all ROIs, the same for the External) of an RT Structure Set."""
    import numpy as np
    import pydicom

    ds = pydicom.dcmread(rs)
    names = {int(r.ROINumber): str(r.ROIName) for r in ds.StructureSetROISequence}
    total_n, total_mm, external_n, external_mm = 0, 0.0, 0, 0.0
    for roi in ds.ROIContourSequence:
        for contour in getattr(roi, "ContourSequence", []):
            xy = np.asarray(contour.ContourData, dtype=np.float64).reshape(-1, 3)[:, :2]
            perimeter = float(np.hypot(*(np.roll(xy, -1, axis=0) - xy).T).sum())
            total_n, total_mm = total_n + xy.shape[0], total_mm + perimeter
            if names[int(roi.ReferencedROINumber)] == "External":
                external_n, external_mm = external_n + xy.shape[0], external_mm + perimeter
    return total_n, total_mm / total_n, (external_mm / external_n) if external_n else float("nan")


def generate_dense(source: Path, workdir: Path, max_edge_mm: float) -> Path:
    """The case ``source`` with every contour densified to at most ``max_edge_mm`` per edge, in
    ``workdir/clinical01_vertex<S>mm`` (written once; the other files are symbolic links)."""
    import numpy as np
    import pydicom

    from dosimetry.io.rtdose_writer import ds_str

    folder = workdir / f"{source.name}_vertex{max_edge_mm:g}mm"
    if (folder / "current").is_dir() and (folder / "prior").is_dir():
        return folder
    partial = workdir / (folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    t0 = time.perf_counter()
    for course in sorted(p for p in source.iterdir() if p.is_dir()):
        (partial / course.name).mkdir(parents=True)
        for f in sorted(course.iterdir()):
            if not f.name.startswith("RS_"):
                (partial / course.name / f.name).symlink_to(f.resolve())
                continue
            ds = pydicom.dcmread(f)
            for roi in ds.ROIContourSequence:
                for contour in getattr(roi, "ContourSequence", []):
                    xyz = np.asarray(contour.ContourData, dtype=np.float64).reshape(-1, 3)
                    xy = densify_closed(xyz[:, :2], max_edge_mm)
                    points = np.column_stack([xy, np.full(xy.shape[0], xyz[0, 2])])
                    contour.NumberOfContourPoints = int(points.shape[0])
                    contour.ContourData = [ds_str(round(float(v), 3)) for v in points.ravel()]
            ds.save_as(partial / course.name / f.name)
    partial.rename(folder)
    print(f"generated {folder} (contours densified to <= {max_edge_mm:g} mm per edge) in {time.perf_counter() - t0:.0f} s")
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


#: The floor of any whole ``dosimetry dvh`` process: Python started, numpy and pydicom imported, the
#: RT Dose decoded (what the 10x budget must leave room for before a structure set is read)
_FLOOR = "import sys, numpy, pydicom; pydicom.dcmread(sys.argv[1]).pixel_array"


def calculation_only(rd: Path, rs: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", _CALCULATION, str(rd), str(rs)], capture_output=True, text=True, check=True, env=_environment(),
        cwd=ROOT,  # "-c" puts the working directory first on sys.path: this checkout, wherever the script is run from
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
    parser.add_argument("--analyze-repeat", type=int, default=1, help="measured runs of analyze (default 1)")
    parser.add_argument("--vertex-spacing-mm", type=float, metavar="MM",
                        help="also measure a variant whose contours have at least one vertex per MM of perimeter")
    parser.add_argument("--dense-workdir", type=Path, default=Path("/tmp/dosimetry_clinical_dense"))
    parser.add_argument("--cases", choices=("both", "dense", "simplified", "real", "all"), default="both",
                        help="which cases to measure: both (simplified, and dense with --vertex-spacing-mm; the default), "
                             "dense, simplified, real (the real-size plan only) or all")
    parser.add_argument("--real-plan-dir", type=Path, default=Path("/tmp/dosimetry_real_plan"),
                        help="where the real-size plan is fetched to (once)")
    parser.add_argument("--end-cap", action="append", metavar="CONVENTION",
                        help="dosimetry dvh --end-cap convention(s) to measure (repeatable; default: the command's default)")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    scratch = args.scratch or Path(tempfile.mkdtemp(prefix="clinical_scale_"))
    scratch.mkdir(parents=True, exist_ok=True)
    counts = sorted({int(n) for n in args.roi_counts.split(",")}) if args.roi_counts else []
    if args.vertex_spacing_mm is not None and not args.vertex_spacing_mm > 0:
        parser.error(f"--vertex-spacing-mm must be > 0, got {args.vertex_spacing_mm}")
    if args.cases == "dense" and args.vertex_spacing_mm is None:
        parser.error("--cases dense needs --vertex-spacing-mm")
    cases: list[tuple[str, Path]] = []
    if args.cases in ("real", "all"):
        cases.append(("real-size", fetch_real_plan(args.real_plan_dir)))
    if args.cases != "real":
        simplified = generate(args.workdir)
        if args.cases != "dense":
            cases.append(("simplified", simplified))
        if args.vertex_spacing_mm is not None and args.cases != "simplified":
            cases.append(("dense", generate_dense(simplified, args.dense_workdir, args.vertex_spacing_mm)))
    for name, folder in cases:
        measure_case(name, folder, args, scratch / name, counts)
    print(f"load average before: {load:.1f}; {os.cpu_count()} CPUs; outputs in {scratch}")


def measure_case(name: str, folder: Path, args: argparse.Namespace, scratch: Path, counts: list[int]) -> None:
    """Measure and print one case (the table of the module docstring)."""
    scratch.mkdir(parents=True, exist_ok=True)
    current = folder / "current"
    rd = next(current.glob("RD_*.dcm"))
    rs = next(current.glob("RS_*.dcm"))
    exe = shutil.which("dosimetry") or str(Path(sys.executable).with_name("dosimetry"))
    nx, ny, nz, sx, sy = dose_grid_size(rd)
    n_voxels = nx * ny * nz
    n_vertices, mm_per_vertex, external_mm_per_vertex = contour_density(rs)
    print(f"case {name}: {folder} (dose grid {nx} x {ny} x {nz} at {sx:g} x {sy:g} mm = "
          f"{n_voxels / 1e6:.1f} M voxels; {n_vertices} contour vertices, {mm_per_vertex:.2f} mm of perimeter per vertex, "
          f"External {external_mm_per_vertex:.2f} mm)")
    rows = []
    for end_cap in args.end_cap or [None]:
        dvh_command = [exe, "dvh", "--dose", str(rd), "--structures", str(rs), "--json", str(scratch / "dvh.json")]
        if end_cap is not None:
            dvh_command += ["--end-cap", end_cap]
        measure(dvh_command)  # warm-up: modules compiled, files in the page cache
        runs = [measure(dvh_command) for _ in range(args.repeat)]
        rows.append(_row(f"dosimetry dvh (whole process{', ' + end_cap if end_cap else ''})", [float(r["seconds"]) for r in runs],
                         [float(r["cpu_seconds"]) for r in runs], max(float(r["peak_mib"]) for r in runs)))
    calculations = [calculation_only(rd, rs) for _ in range(args.repeat)]
    rows.append(_row("dosimetry compute_dvhs (calculation only)", [float(c["seconds"]) for c in calculations],
                     [float(c["cpu_seconds"]) for c in calculations], float("nan")))
    ratios: list[str] = []
    if not args.skip_baseline:
        from benchmarks.baseline.bridge import dicompyler_dvh

        base = [dicompyler_dvh(rd, rs) for _ in range(args.repeat)]
        base_wall = [float(b["total_seconds"]) for b in base]
        base_cpu = [sum(float(s["cpu_seconds"]) for s in b["structures"]) for b in base]
        rows.append(_row("dicompyler-core get_dvh (calculation only)", base_wall, base_cpu, float("nan")))
        for label, wall_best, _, cpu_best, _, _ in rows[:-1]:
            ratios.append(f"ratio dicompyler-core / {label} (best of {args.repeat}): wall {min(base_wall) / wall_best:.1f}x, "
                          f"CPU {min(base_cpu) / cpu_best:.1f}x (target for the whole process: >= 10x)")
        floors = [float(measure([sys.executable, "-c", _FLOOR, str(rd)])["seconds"]) for _ in range(args.repeat)]
        budget_s = min(base_wall) / 10.0
        ratios.append(f"10x budget of a whole dvh process: {budget_s:.2f} s; of it Python + numpy + pydicom + the RT Dose "
                      f"decoded take {min(floors):.2f} s (best of {args.repeat}), leaving {budget_s - min(floors):.2f} s "
                      f"for the structure set and every ROI's DVH")
    tree_note = ""
    if not args.skip_analyze:
        with_out = scratch / "out"
        shutil.rmtree(with_out, ignore_errors=True)
        no_prior = [] if (folder / "prior").is_dir() else ["--no-prior"]
        analyses = []
        for _ in range(args.analyze_repeat):
            shutil.rmtree(with_out, ignore_errors=True)
            analyses.append(measure([exe, "analyze", str(folder), "--out", str(with_out), *no_prior]))
        rows.append(_row(f"dosimetry analyze (whole process, {'no prior course' if no_prior else 'prior summed'})",
                         [float(a["seconds"]) for a in analyses], [float(a["cpu_seconds"]) for a in analyses],
                         max(float(a["peak_mib"]) for a in analyses)))
        tree_mib = max(float(a["tree_peak_mib"]) for a in analyses)
        tree_note = (f"dosimetry analyze, every process summed (main + report render processes, sampled every 20 ms): "
                     f"peak {tree_mib:.0f} MiB = {tree_mib * 2**20 / 1e9:.2f} GB, {tree_mib * 2**20 / n_voxels:.0f} bytes per dose voxel "
                     f"(largest of {args.analyze_repeat} run(s))")
    by_count: dict[int, float] = {}
    for n in counts:
        subset = roi_subset(folder, n, scratch)
        result = measure([exe, "analyze", str(subset), "--out", str(scratch / f"out_{n}rois")])
        by_count[n] = float(result["peak_mib"])
        rows.append(_row(f"dosimetry analyze, first {n} ROIs only", [float(result["seconds"])], [float(result["cpu_seconds"])],
                         by_count[n]))
    print(f"case {name}: {args.repeat} run(s) of dvh, compute_dvhs, dicompyler-core (best / median); load average now "
          f"{os.getloadavg()[0]:.1f}")
    print(f"{'command':<50} {'wall [s]':>13} {'CPU [s]':>13} {'peak RSS [MiB]':>15} {'bytes/voxel':>12}")
    for label, wall_best, wall_median, cpu_best, cpu_median, peak in rows:
        per_voxel = f"{peak * 2**20 / n_voxels:12.0f}" if peak == peak else f"{'-':>12}"
        print(f"{label:<50} {wall_best:6.2f} / {wall_median:4.2f} {cpu_best:6.2f} / {cpu_median:4.2f} {peak:15.0f} {per_voxel}")
    for line in ratios:
        print(line)
    if tree_note:
        print(tree_note)
    if len(by_count) >= 2:
        low, high = min(by_count), max(by_count)
        print(f"per-ROI term: {(by_count[high] - by_count[low]) / (high - low):.2f} MiB per ROI ({low} -> {high} ROIs)")


def _row(label: str, wall: list[float], cpu: list[float], peak_mib: float) -> tuple[str, float, float, float, float, float]:
    return (label, min(wall), statistics.median(wall), min(cpu), statistics.median(cpu), peak_mib)


if __name__ == "__main__":
    main()
