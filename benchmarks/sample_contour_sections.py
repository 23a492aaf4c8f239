"""How far the sample patient's contours lie from the phantom's true sections, plane by plane, and why.

Usage::

    python benchmarks/sample_contour_sections.py [--course current|prior] [--tolerance MM] [ROI ...]

(default ROIs: the lenses and optic nerves). For every CT plane an ROI is contoured on, it prints
the area of

* ``true``: the phantom solid's exact section, by brute force (its own ``contains`` counted on a
  0.02 mm lattice; nothing of the contouring is used);
* ``raw``: the marching-squares ring of :func:`dosimetry.sampledata.contouring.contour_solid`
  before simplification;
* ``rdp-line``: simplified as the generator does (:func:`~dosimetry.sampledata.contouring._rdp`:
  distance to the infinite line through the chord's ends);
* ``rdp-segment``: simplified with the distance to the chord itself (the textbook RDP);
* ``file``: the contours in the committed ``sample_data/patient01/<course>/RS_patient01.dcm``;

each as (area / true - 1) in %, and the vertex counts of raw / rdp-line / rdp-segment.
``--tolerance`` replaces the simplification tolerance (default that of the generator, 0.4 mm).
Measured results are in the closing note of issue 13's follow-up (branch s4-endcap).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import contourpy
import numpy as np
import numpy.typing as npt
import pydicom
from scipy import ndimage

from dosimetry.sampledata import contouring
from dosimetry.sampledata.anatomy import Phantom, prior_targets
from dosimetry.sampledata.patient import CT_ORIGIN_MM, CT_SHAPE_ZYX, CT_SPACING_MM, _grid, _map, _points, _shifted, reference_patient_spec

FloatArray = npt.NDArray[np.float64]
ROOT = Path(__file__).resolve().parents[1]
TRUE_LATTICE_MM = 0.02


def rdp_segment(points: FloatArray, tolerance: float) -> FloatArray:
    """Ramer-Douglas-Peucker with the distance to the chord (segment), for comparison."""
    n = points.shape[0]
    if n < 3:
        return points
    keep = np.zeros(n, dtype=bool)
    keep[0] = keep[-1] = True
    stack = [(0, n - 1)]
    while stack:
        i, j = stack.pop()
        if j - i < 2:
            continue
        a, ab = points[i], points[j] - points[i]
        p = points[i + 1 : j] - a
        length2 = float(ab @ ab)
        t = np.clip(p @ ab / length2, 0.0, 1.0) if length2 > 0 else np.zeros(len(p))
        d = np.hypot(*(p - t[:, None] * ab).T)
        k = int(np.argmax(d))
        if d[k] > tolerance:
            m = i + 1 + k
            keep[m] = True
            stack += [(i, m), (m, j)]
    return points[keep]


def simplify(points: FloatArray, tolerance: float, rdp: Callable[[FloatArray, float], FloatArray]) -> FloatArray:
    """:func:`dosimetry.sampledata.contouring.simplify_closed` with the given RDP."""
    if points.shape[0] <= 4:
        return points
    far = int(np.argmax(np.hypot(*(points - points[0]).T)))
    first = rdp(points[: far + 1], tolerance)
    second = rdp(np.vstack([points[far:], points[:1]]), tolerance)
    return np.vstack([first[:-1], second[:-1]])


def kept_area(rings: list[FloatArray]) -> float:
    """Summed area of the rings the generator keeps (3+ points, at least 0.5 mm^2)."""
    areas = [contouring.polygon_area_mm2(r) for r in rings if r.shape[0] >= 3]
    return sum(a for a in areas if a >= 0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rois", nargs="*", default=["Lens_L", "Lens_R", "OpticNrv_L", "OpticNrv_R"])
    parser.add_argument("--course", choices=("current", "prior"), default="current")
    parser.add_argument("--tolerance", type=float, default=contouring.SIMPLIFY_TOLERANCE_MM)
    args = parser.parse_args()

    spec = reference_patient_spec()
    phantom = Phantom(spec.anatomy)
    matrix, shift = (np.eye(4), (0.0, 0.0, 0.0)) if args.course == "current" else (spec.prior_to_current, spec.prior_grid_shift_mm)
    grid = _grid(_shifted(CT_ORIGIN_MM, shift), CT_SPACING_MM, CT_SHAPE_ZYX)
    anatomy_points = _map(_points(grid), matrix)
    structures = {s.name: s for s in (*phantom.structures(), *prior_targets(spec.anatomy))}
    rs = pydicom.dcmread(ROOT / "sample_data" / "patient01" / args.course / "RS_patient01.dcm")
    names = {r.ROINumber: r.ROIName for r in rs.StructureSetROISequence}
    in_file: dict[str, dict[float, float]] = {}
    for rc in rs.ROIContourSequence:
        for c in getattr(rc, "ContourSequence", []):
            d = np.asarray(c.ContourData, dtype=np.float64).reshape(-1, 3)
            planes = in_file.setdefault(names[rc.ReferencedROINumber], {})
            planes[round(float(d[0, 2]), 2)] = planes.get(round(float(d[0, 2]), 2), 0.0) + contouring.polygon_area_mm2(d[:, :2])

    for name in args.rois:
        solid = structures[name]

        def contains(points: FloatArray, solid: object = solid) -> npt.NDArray[np.bool_]:
            return np.asarray(solid.contains(np.asarray(points) @ matrix[:3, :3].T + matrix[:3, 3]))  # type: ignore[attr-defined]

        grown = ndimage.binary_dilation(solid.contains(anatomy_points), structure=np.ones((1, 3, 3), dtype=bool))
        print(f"\n{name} ({args.course}, tolerance {args.tolerance} mm): area / true - 1 in %")
        print(f"  {'z mm':>7} {'true mm2':>9} {'raw':>6} {'line':>6} {'segment':>8} {'file':>6}  vertices raw/line/segment")
        totals = np.zeros(5)
        for k in range(grid.shape_zyx[0]):
            rows, cols = np.nonzero(grown[k])
            if rows.size == 0:
                continue
            large = max(int(np.ptp(rows)), int(np.ptp(cols))) > contouring.LARGE_SPAN_PIXELS
            fine = grid.spacing_x_mm / (2 if large else contouring.FINE_FRACTION)
            x0, x1 = grid.x_mm[cols.min()] - grid.spacing_x_mm, grid.x_mm[cols.max()] + grid.spacing_x_mm
            y0, y1 = grid.y_mm[rows.min()] - grid.spacing_y_mm, grid.y_mm[rows.max()] + grid.spacing_y_mm
            z = float(grid.z_mm[k])
            xs, ys = np.arange(x0, x1 + fine / 2, fine), np.arange(y0, y1 + fine / 2, fine)
            yy, xx = np.meshgrid(ys, xs, indexing="ij")
            inside = np.asarray(contains(np.stack([xx, yy, np.full_like(xx, z)], axis=-1)), dtype=np.float64)
            inside[0, :] = inside[-1, :] = inside[:, 0] = inside[:, -1] = 0.0
            if not inside.any():
                continue
            rings = []
            for line in contourpy.contour_generator(x=xs, y=ys, z=inside, line_type=contourpy.LineType.Separate).lines(0.5):
                ring = np.asarray(line, dtype=np.float64)
                rings.append(ring[:-1] if ring.shape[0] > 1 and np.allclose(ring[0], ring[-1]) else ring)
            tolerance = args.tolerance * (2.0 if large else 1.0)
            by_line = [simplify(r, tolerance, contouring._rdp) for r in rings]
            by_segment = [simplify(r, tolerance, rdp_segment) for r in rings]
            tx = np.arange(x0 + TRUE_LATTICE_MM / 2, x1, TRUE_LATTICE_MM)
            ty = np.arange(y0 + TRUE_LATTICE_MM / 2, y1, TRUE_LATTICE_MM)
            tyy, txx = np.meshgrid(ty, tx, indexing="ij")
            true = float(np.count_nonzero(contains(np.stack([txx, tyy, np.full_like(txx, z)], axis=-1)))) * TRUE_LATTICE_MM**2
            values = [true, sum(contouring.polygon_area_mm2(r) for r in rings), kept_area(by_line), kept_area(by_segment),
                      in_file.get(name, {}).get(round(z, 2), 0.0)]
            if true == 0.0:
                continue
            totals += values
            shown = " ".join(f"{100 * (v / true - 1):+6.1f}" for v in values[1:])
            counts = "/".join(str(sum(len(r) for r in group)) for group in (rings, by_line, by_segment))
            print(f"  {z:7.2f} {true:9.2f} {shown}  {counts}")
        print(f"  {'total':>7} {totals[0]:9.2f} " + " ".join(f"{100 * (v / totals[0] - 1):+6.1f}" for v in totals[1:]))


if __name__ == "__main__":
    main()
