"""Every end-cap / between-plane convention against the sample patient's analytic organs.

Run:  .venv/bin/python benchmarks/dvh_sample_organs.py

The sample patient's organs are simple solids (``dosimetry/sampledata/anatomy.py``: ellipsoids
and capsules), so their true volumes are closed forms (4/3 pi a b c; pi r^2 L + 4/3 pi r^3), never
the contours. Their contours, however, are traced on a lattice and simplified
(``dosimetry/sampledata/contouring.py``), so part of each error is the contouring's. For the
ellipsoids the script also rebuilds the ROI from the *exact* sections on the same planes, which
separates the convention's error from the contouring's (the lenses: -6 % with the sample's
contours under shape, -0.2 % with exact sections on the same three planes).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from dosimetry.dvh import EndCapConvention  # noqa: E402
from dosimetry.dvh.geometry import roi_geometry  # noqa: E402
from dosimetry.dvh.true_solids import Ellipse  # noqa: E402
from dosimetry.io import load_structure_set  # noqa: E402
from dosimetry.sampledata.anatomy import AnatomySpec, Phantom  # noqa: E402
from dosimetry.sampledata.shapes import Capsule, Ellipsoid  # noqa: E402
from dosimetry.structures import Contour, ContourGeometricType, Roi  # noqa: E402

RS = ROOT / "sample_data" / "patient01" / "current" / "RS_patient01.dcm"


def true_volume_cc(solid: object) -> float | None:
    if isinstance(solid, Ellipsoid):
        return solid.volume_cc
    if isinstance(solid, Capsule):
        length = math.dist(solid.start_mm, solid.end_mm)
        r = solid.radius_mm
        return (math.pi * r * r * length + 4.0 / 3.0 * math.pi * r**3) / 1000.0
    return None


def z_range_mm(solid: Ellipsoid | Capsule) -> tuple[float, float]:
    if isinstance(solid, Ellipsoid):
        return solid.centre_mm[2] - solid.semi_axes_mm[2], solid.centre_mm[2] + solid.semi_axes_mm[2]
    zs = (solid.start_mm[2], solid.end_mm[2])
    return min(zs) - solid.radius_mm, max(zs) + solid.radius_mm


def exact_sections(solid: Ellipsoid, planes_mm: np.ndarray) -> Roi:
    """The ellipsoid's exact sections on the given planes (axis-aligned, as in the phantom)."""
    (xc, yc, zc), (a, b, c) = solid.centre_mm, solid.semi_axes_mm
    contours = []
    for z in planes_mm.tolist():
        f = 1.0 - ((z - zc) / c) ** 2
        if f > 0:
            x, y = Ellipse(xc, yc, a * math.sqrt(f), b * math.sqrt(f)).polygon()
            contours.append(Contour(np.column_stack([x, y, np.full(x.size, z)]), ContourGeometricType.CLOSED_PLANAR))
    return Roi(1, "exact", "ORGAN", tuple(contours))


def main() -> int:
    structures = load_structure_set(RS)
    names = {r.name for r in structures.rois}
    conventions = list(EndCapConvention)
    print(f"{'ROI':18s}{'planes':>7s}{'true cc':>9s}" + "".join(f"{c.value:>12s}" for c in conventions))
    for spec in Phantom(AnatomySpec()).organs():
        truth = true_volume_cc(spec.solid)
        if truth is None or spec.name not in names:
            continue
        roi = structures.roi(spec.name)
        planes = roi.contour_planes_mm()
        spacing = float(np.median(np.diff(planes))) if planes.size > 1 else 3.0
        lo, hi = z_range_mm(spec.solid)  # type: ignore[arg-type]
        if lo < planes.min() - spacing or hi > planes.max() + spacing:
            print(f"{spec.name:18s} cut by the scan's extent (no closed-form truth), skipped")
            continue
        errors = [100.0 * (roi_geometry(roi, c, single_plane_thickness_mm=3.0).volume_cc / truth - 1) for c in conventions]
        print(f"{spec.name:18s}{planes.size:7d}{truth:9.3f}" + "".join(f"{e:+11.1f}%" for e in errors))
        if isinstance(spec.solid, Ellipsoid) and planes.size <= 4:
            exact = exact_sections(spec.solid, planes)
            errors = [100.0 * (roi_geometry(exact, c).volume_cc / truth - 1) for c in conventions]
            print(f"{'  exact sections':18s}{planes.size:7d}{truth:9.3f}" + "".join(f"{e:+11.1f}%" for e in errors))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
