"""DVH engine vs dicompyler-core 0.5.6: accuracy on analytic phantoms and speed on a head-and-neck set.

Run:  .venv/bin/python benchmarks/dvh_vs_dicompyler.py [--quick] [--patient DIR] [--json OUT]
      .venv/bin/python benchmarks/dvh_vs_dicompyler.py --patient-only --skip-phantoms   (speed only)
      ... --save-reference REF.json / --check-reference REF.json   (numbers unchanged by a speed change:
      every ROI's volume, mean, min, max, median, D2 %, D50 %, D98 % within --reference-rtol, 1e-9)

1. Accuracy. The analytic phantom matrix of :mod:`dosimetry.dvh.phantoms` (sphere r 12 mm; cylinder
   and cone r 10 mm x 24 mm, axial and rotated; contour spacing 1, 2, 3 mm; dose grid 1, 2, 3 mm,
   aligned with the solid's centre or shifted by half a voxel; linear gradient 1 Gy/mm along y (AP)
   or z (SI)) is written as RT Dose + RT Structure Set files and read back by both tools. Errors
   against the closed-form slab oracle (half-slab end caps): volume in % of the analytic volume;
   Mean, D99, D95, D5, D1 in % of the structure's dose span (Nelms et al. 2015 criteria: volume within
   1 %; dose metrics within 1 % of the span).
2. Speed. A whole structure set (all ROIs, External included) on its RT Dose:
   sample_data/patient01/current (RS*.dcm + RD*.dcm) when present or ``--patient DIR``, and
   (unless --patient-only) a synthetic head-and-neck set written here (External ellipse cylinder, 2.5 mm planes, ~25 ROIs
   incl. a mandible with a hole, on a 2.5 mm dose grid). Ours = load RD + RS and compute every DVH;
   dicompyler-core = sum of its default ``get_dvh`` times (inside its worker, process start
   excluded). Both are repeated alternately (--repeats, default 5) and the fastest run of each is kept; wall and
   CPU (process) time are printed, CPU time being the steadier figure on a busy machine. Per-ROI
   volume and mean dose of both are printed side by side.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.baseline.bridge import BaselineUnavailableError, dicompyler_dvh, dicompyler_dvh_cases  # noqa: E402
from benchmarks.phantoms import write_case  # noqa: E402
from dosimetry.dose import DoseGrid, DoseSummationType, DoseType  # noqa: E402
from dosimetry.dvh import EndCapConvention, compute_dvh, compute_dvhs, evaluate_metric  # noqa: E402
from dosimetry.dvh.phantoms import Shape, make_phantom  # noqa: E402
from dosimetry.grid import RectilinearGrid  # noqa: E402
from dosimetry.io import load_dose, load_structure_set  # noqa: E402
from dosimetry.structures import Contour, ContourGeometricType, Roi  # noqa: E402

D_LEVELS = (99, 95, 5, 1)
METRICS = ("volume", "mean", *(f"D{p}" for p in D_LEVELS))


def phantom_cases(quick: bool) -> list[tuple[Shape, float, float, str, float]]:
    shapes = list(Shape)
    spacings = [2.0] if quick else [1.0, 2.0, 3.0]
    grids = [1.0, 3.0] if quick else [1.0, 2.0, 3.0]
    return list(itertools.product(shapes, spacings, grids, ["y", "z"], [0.0, 0.5]))


def run_phantoms(workdir: Path, quick: bool, with_dicompyler: bool) -> dict[str, Any]:
    cases = phantom_cases(quick)
    rows: list[dict[str, Any]] = []
    files = []
    ours_seconds = 0.0
    for idx, (shape, spacing, grid_mm, axis, shift) in enumerate(cases):
        phantom = make_phantom(shape, spacing, gradient_axis=axis)
        dose = phantom.dose_grid(grid_mm, shift_fraction=shift)
        rd, rs = write_case(dose, [phantom.roi()], workdir / f"case{idx:03d}", seed=f"case{idx}")
        files.append((rd, rs))
        lo, hi = phantom.dose_range_gy()
        span = hi - lo
        oracle = {"volume": phantom.volume_cc(), "mean": phantom.mean_gy()}
        oracle.update({f"D{p}": phantom.dose_at_volume_percent(p) for p in D_LEVELS})
        t0 = time.perf_counter()
        d = compute_dvh(load_dose(rd), load_structure_set(rs).rois[0], end_cap=EndCapConvention.HALF_SLAB)  # closed forms under the slab convention
        ours_seconds += time.perf_counter() - t0
        ours = {"volume": d.volume_cc, "mean": d.mean_gy}
        ours.update({f"D{p}": evaluate_metric(d, f"D{p}%[Gy]") for p in D_LEVELS})
        rows.append(
            {
                "case": f"{shape.value} contours {spacing:g} mm, grid {grid_mm:g} mm, gradient {axis}, shift {shift:g}",
                "span_gy": span,
                "oracle": oracle,
                "ours": ours,
            }
        )
    dicompyler_seconds = None
    if with_dicompyler:
        answers = dicompyler_dvh_cases(files, dose_metrics=[f"D{p}" for p in D_LEVELS])
        dicompyler_seconds = sum(a["total_seconds"] for a in answers)
        for row, answer in zip(rows, answers, strict=True):
            s = answer["structures"][0]
            row["dicompyler"] = {"volume": s["volume_cc"], "mean": s["mean_gy"], **s["metrics"]}
    for row in rows:
        for tool in ("ours", "dicompyler"):
            if tool not in row:
                continue
            err = {}
            for m in METRICS:
                value = row[tool].get(m)
                if value is None:
                    err[m] = math.inf
                elif m == "volume":
                    err[m] = 100.0 * (value - row["oracle"][m]) / row["oracle"][m]
                else:
                    err[m] = 100.0 * (value - row["oracle"][m]) / row["span_gy"]
            row[f"{tool}_error_percent"] = err
    return {"rows": rows, "ours_seconds": ours_seconds, "dicompyler_seconds": dicompyler_seconds}


def print_phantom_summary(result: dict[str, Any]) -> None:
    rows = result["rows"]
    n = len(rows)
    tools = [t for t in ("ours", "dicompyler") if f"{t}_error_percent" in rows[0]]
    print(f"\nAnalytic phantoms: {n} cases (errors: volume in % of volume, doses in % of dose span)")
    header = f"{'metric':8s}" + "".join(f"  {t + ' within 1%':>18s}  {t + ' worst |err|':>18s}" for t in tools)
    print(header)
    for m in METRICS:
        line = f"{m:8s}"
        for t in tools:
            errs = np.array([abs(r[f"{t}_error_percent"][m]) for r in rows])
            within = np.mean(errs <= 1.0) * 100
            line += f"  {within:17.1f}%  {np.max(errs):18.3f}"
        print(line)
    print(f"time for all phantom DVHs: ours {result['ours_seconds']:.2f} s (incl. reading files)", end="")
    if result["dicompyler_seconds"] is not None:
        print(f", dicompyler-core {result['dicompyler_seconds']:.2f} s")
    else:
        print()


# --- synthetic head-and-neck set ---------------------------------------------------------------


def _ellipse(cx: float, cy: float, ax: float, ay: float, z: float, step_mm: float = 1.0) -> Contour:
    perimeter = math.pi * (3 * (ax + ay) - math.sqrt((3 * ax + ay) * (ax + 3 * ay)))
    n = max(int(perimeter / step_mm), 12)
    t = 2 * np.pi * np.arange(n) / n
    pts = np.column_stack([cx + ax * np.cos(t), cy + ay * np.sin(t), np.full(n, z)])
    return Contour(pts, ContourGeometricType.CLOSED_PLANAR)


def _ellipsoid(number: int, name: str, kind: str, centre: tuple[float, float, float], axes: tuple[float, float, float], planes: np.ndarray) -> Roi:
    cx, cy, cz = centre
    ax, ay, az = axes
    contours = []
    for z in planes:
        f = 1 - ((z - cz) / az) ** 2
        if f <= 0.02:
            continue
        contours.append(_ellipse(cx, cy, ax * math.sqrt(f), ay * math.sqrt(f), float(z)))
    return Roi(number, name, kind, tuple(contours))


def synthetic_head_neck(directory: Path) -> tuple[Path, Path]:
    """A head-and-neck-sized structure set and dose (see module docstring)."""
    planes = np.arange(-150.0, 100.0 + 1e-6, 2.5)
    rois = [Roi(1, "External", "EXTERNAL", tuple(_ellipse(0, 0, 80 - 10 * (z > 40), 100, float(z)) for z in planes))]
    specs = [
        ("PTV70", "PTV", (0, 10, -10), (35, 30, 40)),
        ("PTV60", "PTV", (0, 5, -30), (50, 40, 60)),
        ("CTV70", "CTV", (0, 10, -10), (30, 25, 35)),
        ("GTV", "GTV", (5, 15, -5), (15, 12, 15)),
        ("Parotid_L", "ORGAN", (45, 20, 0), (15, 20, 22)),
        ("Parotid_R", "ORGAN", (-45, 20, 0), (15, 20, 22)),
        ("Submandibular_L", "ORGAN", (30, -20, -40), (10, 10, 10)),
        ("Submandibular_R", "ORGAN", (-30, -20, -40), (10, 10, 10)),
        ("Brainstem", "ORGAN", (0, 30, 45), (12, 12, 25)),
        ("Eye_L", "ORGAN", (32, -70, 75), (12, 12, 12)),
        ("Eye_R", "ORGAN", (-32, -70, 75), (12, 12, 12)),
        ("Lens_L", "ORGAN", (32, -80, 75), (4, 2.5, 3)),
        ("Lens_R", "ORGAN", (-32, -80, 75), (4, 2.5, 3)),
        ("OpticNrv_L", "ORGAN", (20, -40, 72), (3, 20, 3)),
        ("OpticNrv_R", "ORGAN", (-20, -40, 72), (3, 20, 3)),
        ("Chiasm", "ORGAN", (0, -20, 70), (8, 4, 3)),
        ("Cochlea_L", "ORGAN", (40, 25, 50), (3, 3, 3)),
        ("Cochlea_R", "ORGAN", (-40, 25, 50), (3, 3, 3)),
        ("Larynx", "ORGAN", (0, -40, -70), (18, 18, 25)),
        ("OralCavity", "ORGAN", (0, -40, 5), (30, 25, 20)),
        ("Esophagus", "ORGAN", (0, 15, -110), (8, 8, 40)),
        ("Thyroid", "ORGAN", (0, -35, -105), (25, 10, 15)),
    ]
    for k, (name, kind, centre, axes) in enumerate(specs, start=2):
        rois.append(_ellipsoid(k, name, kind, centre, axes, planes))
    # spinal cord: cylinder r 5 mm along z
    cord = tuple(_ellipse(0, 45, 5, 5, float(z)) for z in planes if -150 <= z <= 30)
    rois.append(Roi(len(rois) + 1, "SpinalCord", "ORGAN", cord))
    # mandible: horseshoe approximated by a ring (outer and inner contour: the inner is a hole)
    ring = []
    for z in planes:
        if -40 <= z <= -10:
            ring.append(_ellipse(0, -40, 50, 40, float(z)))
            ring.append(_ellipse(0, -40, 42, 32, float(z)))
    rois.append(Roi(len(rois) + 1, "Mandible", "ORGAN", tuple(ring)))
    grid = RectilinearGrid.uniform((-90.0, -110.0, -155.0), (2.5, 2.5, 2.5), (105, 89, 73))
    z, y, x = np.meshgrid(grid.z_mm, grid.y_mm, grid.x_mm, indexing="ij")
    dose = (
        70 * np.exp(-(((x / 40) ** 2 + ((y - 10) / 35) ** 2 + ((z + 10) / 45) ** 2) ** 2))
        + 60 * np.exp(-(((x / 55) ** 2 + ((y - 5) / 45) ** 2 + ((z + 30) / 65) ** 2) ** 2)) * 0.3
        + 5 * np.exp(-((x / 90) ** 2 + (y / 110) ** 2))
    )
    dg = DoseGrid(grid, dose, DoseType.PHYSICAL, DoseSummationType.PLAN, "1.2.826.0.1.3680043.10.1234.77")
    return write_case(dg, rois, directory, seed="synthetic-hn")


def find_patient(explicit: Path | None) -> tuple[Path, Path] | None:
    folder = explicit or ROOT / "sample_data" / "patient01" / "current"
    if not folder.is_dir():
        return None
    rd = sorted(folder.rglob("RD*.dcm"))
    rs = sorted(folder.rglob("RS*.dcm"))
    if not rd or not rs:
        return None
    return rd[0], rs[0]


def _ours_once(rd: Path, rs: Path) -> tuple[float, float, dict[str, Any]]:
    """Read RD + RS and compute every ROI's DVH with the call ``dosimetry dvh --end-cap half-slab``
    makes (:func:`compute_dvhs`, half-slab end caps: the slab convention both tools share; the
    default, shape, costs about twice the time); wall and CPU seconds of all of it."""
    t0 = time.perf_counter()
    c0 = time.process_time()
    dose = load_dose(rd)
    ss = load_structure_set(rs)
    dvhs: dict[str, Any] = {}
    for outcome in compute_dvhs(dose, list(ss.rois), end_cap=EndCapConvention.HALF_SLAB, supersample=None):
        dvhs[outcome.roi.name] = outcome.dvh if outcome.dvh is not None else str(outcome.error)
    return time.perf_counter() - t0, time.process_time() - c0, dvhs


def run_speed(rd: Path, rs: Path, with_dicompyler: bool, repeats: int) -> dict[str, Any]:
    """Alternate our run and dicompyler's ``repeats`` times; keep the fastest of each."""
    walls, cpus, dcm_walls, dcm_cpus = [], [], [], []
    dvhs: dict[str, Any] = {}
    answer: dict[str, Any] = {}
    for _ in range(repeats):
        wall, cpu, dvhs = _ours_once(rd, rs)
        walls.append(wall)
        cpus.append(cpu)
        if with_dicompyler:
            answer = dicompyler_dvh(rd, rs)
            dcm_walls.append(sum(s["seconds"] for s in answer["structures"]))
            dcm_cpus.append(sum(s.get("cpu_seconds", math.nan) for s in answer["structures"]))
    result: dict[str, Any] = {"ours_seconds": min(walls), "ours_cpu_seconds": min(cpus), "rois": {}}
    for name, d in dvhs.items():
        result["rois"][name] = (
            {"ours_volume_cc": d.volume_cc, "ours_in_grid_cc": d.volume_in_dose_grid_cc, "ours_mean_gy": d.mean_gy}
            if not isinstance(d, str)
            else {"ours_error": d}
        )
    if with_dicompyler:
        result["dicompyler_seconds"] = min(dcm_walls)
        result["dicompyler_cpu_seconds"] = min(dcm_cpus)
        for s in answer["structures"]:
            entry = result["rois"].setdefault(s["name"], {})
            entry.update({"dicompyler_volume_cc": s["volume_cc"], "dicompyler_mean_gy": s["mean_gy"], "dicompyler_seconds": s["seconds"]})
    return result


REFERENCE_KEYS = ("volume_cc", "volume_in_dose_grid_cc", "mean_gy", "min_gy", "max_gy", "median_gy", "D2%[Gy]", "D50%[Gy]", "D98%[Gy]")


def reference_numbers(rd: Path, rs: Path) -> dict[str, dict[str, float]]:
    """Every ROI's volume, mean, min, max, median, D2 %, D50 % and D98 % (Gy) on one RD + RS."""
    _, _, dvhs = _ours_once(rd, rs)
    out: dict[str, dict[str, float]] = {}
    for name, d in dvhs.items():
        if isinstance(d, str):
            out[name] = {"error": d}  # type: ignore[dict-item]
            continue
        row = {k: float(getattr(d, k)) for k in REFERENCE_KEYS if not k.startswith("D")}
        row.update({k: evaluate_metric(d, k) for k in REFERENCE_KEYS if k.startswith("D")})
        out[name] = row
    return out


def compare_reference(current: dict[str, dict[str, float]], reference: dict[str, dict[str, float]], rtol: float) -> int:
    """Print every number that moved by more than ``rtol`` (relative); return how many did."""
    moved = 0
    worst = 0.0
    for name in sorted(set(current) | set(reference)):
        now, ref = current.get(name), reference.get(name)
        if now is None or ref is None:
            print(f"ROI {name!r} only in {'the reference' if now is None else 'this run'}")
            moved += 1
            continue
        for key in sorted(set(now) | set(ref)):
            a, b = now.get(key), ref.get(key)
            if isinstance(a, str) or isinstance(b, str) or a is None or b is None:
                if a != b:
                    print(f"{name}: {key}: {b!r} -> {a!r}")
                    moved += 1
                continue
            rel = abs(a - b) / max(abs(b), 1e-300) if a != b else 0.0
            worst = max(worst, rel)
            if rel > rtol:
                print(f"{name}: {key}: {b!r} -> {a!r} (relative {rel:.3g})")
                moved += 1
    print(f"reference check: {moved} number(s) moved by more than {rtol:g} relative; largest relative change {worst:.3g}")
    return moved


def print_speed(result: dict[str, Any], label: str) -> None:
    print(f"\nWhole structure set: {label}")
    print(f"{'ROI':18s} {'ours cc':>10s} {'dcm cc':>10s} {'ours mean':>10s} {'dcm mean':>10s}")
    for name, r in result["rois"].items():
        def f(key: str) -> str:
            v = r.get(key)
            return f"{v:10.3f}" if isinstance(v, (int, float)) and v is not None else f"{'-':>10s}"

        print(f"{name[:18]:18s} {f('ours_volume_cc')} {f('dicompyler_volume_cc')} {f('ours_mean_gy')} {f('dicompyler_mean_gy')}")
    ours, ours_cpu = result["ours_seconds"], result["ours_cpu_seconds"]
    print(f"time, all {len(result['rois'])} ROIs, ours (reading RD + RS included): wall {ours:.3f} s, CPU {ours_cpu:.3f} s")
    if "dicompyler_seconds" in result:
        dcm, dcm_cpu = result["dicompyler_seconds"], result["dicompyler_cpu_seconds"]
        print(f"time, dicompyler-core default get_dvh (sum over ROIs): wall {dcm:.3f} s, CPU {dcm_cpu:.3f} s")
        print(f"speed-up: wall {dcm / ours:.2f}x, CPU {dcm_cpu / ours_cpu:.2f}x")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="phantom subset (2 mm contours, 1 and 3 mm grids)")
    parser.add_argument("--patient", type=Path, help="folder with RD*.dcm and RS*.dcm for the speed test")
    parser.add_argument("--synthetic", action="store_true", help="use the synthetic head-and-neck set even if sample data exist")
    parser.add_argument("--patient-only", action="store_true", help="time the patient set only, not also the synthetic set")
    parser.add_argument("--no-dicompyler", action="store_true", help="skip dicompyler-core")
    parser.add_argument("--skip-phantoms", action="store_true")
    parser.add_argument("--repeats", type=int, default=5, help="repeat both speed runs, keep the fastest of each")
    parser.add_argument("--json", type=Path, help="write all numbers as JSON")
    parser.add_argument("--save-reference", type=Path, help="write every ROI's volume, mean, min, max, median, D2/D50/D98 of the patient set as JSON")
    parser.add_argument("--check-reference", type=Path, help="compare those numbers with a --save-reference file (exit 1 if any moved)")
    parser.add_argument("--reference-rtol", type=float, default=1e-9, help="relative tolerance of --check-reference")
    args = parser.parse_args(argv)
    if args.save_reference or args.check_reference:
        found = find_patient(args.patient)
        if found is None:
            print("no patient RD + RS found for the reference numbers", file=sys.stderr)
            return 1
        numbers = reference_numbers(*found)
        if args.save_reference:
            args.save_reference.write_text(json.dumps(numbers, indent=1) + "\n")
            print(f"wrote reference numbers of {len(numbers)} ROIs to {args.save_reference}")
        if args.check_reference:
            return 1 if compare_reference(numbers, json.loads(args.check_reference.read_text()), args.reference_rtol) else 0
        return 0
    with_dcm = not args.no_dicompyler
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="dvh-bench-") as tmp:
        work = Path(tmp)
        try:
            if not args.skip_phantoms:
                phantoms = run_phantoms(work / "phantoms", args.quick, with_dcm)
                print_phantom_summary(phantoms)
                out["phantoms"] = phantoms
            sets: list[tuple[str, tuple[Path, Path]]] = []
            found = None if args.synthetic else find_patient(args.patient)
            if found is not None:
                sets.append((f"{found[1]} on {found[0]}", found))
            if found is None or not args.patient_only:
                sets.append(("synthetic head-and-neck set (2.5 mm planes and grid)", synthetic_head_neck(work / "synthetic_hn")))
            out["speed"] = []
            for label, (rd, rs) in sets:
                speed = run_speed(rd, rs, with_dcm, args.repeats)
                print_speed(speed, label)
                out["speed"].append(dict(speed, files=[str(rd), str(rs)], label=label))
        except BaselineUnavailableError as exc:
            print(f"dicompyler-core baseline unavailable: {exc}", file=sys.stderr)
            return 1
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, default=float) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
