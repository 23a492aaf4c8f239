"""An ROI's contours organised as a stack of planar sections with slab extents (LPS mm).

:func:`roi_geometry` groups the closed planar contours of an :class:`~dosimetry.structures.Roi` by
plane, decides holes by the even-odd rule (a contour nested inside an odd number of other contours
of the same plane is a hole), and attaches the slab each plane stands for under an
:class:`~dosimetry.dvh.endcaps.EndCapConvention`. The ROI volume is the exact volume of that
stacked-slab solid: sum over planes of (section area x slab thickness).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dosimetry.dvh.endcaps import EndCapConvention, SlabStack, slab_stack
from dosimetry.dvh.planar import nesting_depths, points_in_polygon, signed_area
from dosimetry.errors import GeometryError
from dosimetry.structures import Roi

FloatArray = npt.NDArray[np.float64]
logger = logging.getLogger(__name__)

#: Contours whose points spread more than this in z are not axial (not supported).
PLANARITY_TOLERANCE_MM = 0.05
#: Contour z values closer than this belong to the same plane.
PLANE_MERGE_TOLERANCE_MM = 0.01


@dataclass(frozen=True, eq=False)
class PlaneSection:
    """The contours of one plane: polygons (x_mm, y_mm) with +1 (solid) or -1 (hole) signs."""

    z_mm: float
    polygons: tuple[tuple[FloatArray, FloatArray], ...]
    signs: tuple[int, ...]
    area_mm2: float
    orientations: tuple[int, ...] = ()  # +1 counter-clockwise, -1 clockwise, 0 degenerate


@dataclass(frozen=True, eq=False)
class RoiGeometry:
    name: str
    number: int
    sections: tuple[PlaneSection, ...]
    slabs: SlabStack
    end_cap: EndCapConvention
    bounds_xy_mm: tuple[float, float, float, float]  # x_min, x_max, y_min, y_max
    volume_cc: float
    warnings: tuple[str, ...]

    @property
    def z_range_mm(self) -> tuple[float, float]:
        return float(self.slabs.lower_mm.min()), float(self.slabs.upper_mm.max())


def _label(roi: Roi) -> str:
    return f"ROI {roi.name!r} (number {roi.number})"


def roi_geometry(
    roi: Roi,
    end_cap: EndCapConvention = EndCapConvention.HALF_SLAB,
    *,
    single_plane_thickness_mm: float | None = None,
) -> RoiGeometry:
    """Planar sections and slabs of ``roi``; raises :class:`GeometryError` when it has no closed
    planar contour or a contour is not axial."""
    label = _label(roi)
    warnings: list[str] = []
    closed = roi.closed_planar_contours
    if len(closed) < len(roi.contours):
        warnings.append(
            f"{label}: {len(roi.contours) - len(closed)} contour(s) that are not CLOSED_PLANAR were ignored"
        )
    if not closed:
        raise GeometryError(f"{label} has no CLOSED_PLANAR contours; it has no volume")
    by_plane: dict[float, list[tuple[FloatArray, FloatArray]]] = {}
    signed_by_plane: dict[float, list[float]] = {}  # signed area of each polygon, same order
    key_of_bucket: dict[int, float] = {}
    skipped = 0
    z_lows, z_highs, signed_areas = _contour_z_ranges_and_areas([c.points_mm for c in closed])
    for contour, z_low, z_high, signed_area_mm2 in zip(closed, z_lows, z_highs, signed_areas, strict=True):
        pts = contour.points_mm
        if z_high - z_low > PLANARITY_TOLERANCE_MM:
            raise GeometryError(
                f"{label}: a contour spans {z_high - z_low:.3f} mm in z; only axial contours are supported"
            )
        if pts.shape[0] < 3:
            skipped += 1
            continue
        z = 0.5 * (z_low + z_high)
        bucket = int(round(z / PLANE_MERGE_TOLERANCE_MM))
        key = next((key_of_bucket[b] for b in (bucket, bucket - 1, bucket + 1) if b in key_of_bucket), None)
        if key is None:
            key = z
            key_of_bucket[bucket] = z
            by_plane[key] = []
            signed_by_plane[key] = []
        xy = pts[:, :2].T.copy()  # one contiguous copy; rows are x and y
        by_plane[key].append((xy[0], xy[1]))
        signed_by_plane[key].append(signed_area_mm2)
    if skipped:
        warnings.append(f"{label}: {skipped} contour(s) with fewer than 3 points were ignored")
    if not by_plane:
        raise GeometryError(f"{label} has no contour with at least 3 points")
    planes = np.array(sorted(by_plane))
    slabs = slab_stack(
        planes, end_cap, single_plane_thickness_mm=single_plane_thickness_mm, roi_label=label
    )
    warnings.extend(slabs.warnings)
    sections = []
    volume_mm3 = 0.0
    overlapping = 0
    for z, thickness in zip(planes, slabs.thickness_mm, strict=True):
        polygons = by_plane[float(z)]
        if len(polygons) == 1:  # the common case: one solid contour, no nesting or overlap
            (a,) = signed_by_plane[float(z)]
            area = abs(a)
            sections.append(PlaneSection(float(z), tuple(polygons), (1,), area, ((a > 0) - (a < 0),)))
            volume_mm3 += area * float(thickness)
            continue
        depths = nesting_depths(polygons)
        signs = [1 if d % 2 == 0 else -1 for d in depths]
        signed = signed_by_plane[float(z)]
        areas = [abs(a) for a in signed]
        area = float(sum(s * a for s, a in zip(signs, areas, strict=True)))
        if sum(1 for d in depths if d == 0) > 1 and _outer_contours_overlap(polygons, depths):
            overlapping += 1
        sections.append(
            PlaneSection(float(z), tuple(polygons), tuple(signs), area, tuple((a > 0) - (a < 0) for a in signed))
        )
        volume_mm3 += area * float(thickness)
    all_points = np.concatenate([c.points_mm for c in closed if c.points_mm.shape[0] >= 3])
    x_min, y_min = (float(v) for v in all_points[:, :2].min(axis=0))
    x_max, y_max = (float(v) for v in all_points[:, :2].max(axis=0))
    if overlapping:
        warnings.append(
            f"{label}: on {overlapping} plane(s) solid contours overlap without nesting; the overlap "
            "is counted once in the occupancy but twice in the contour volume"
        )
    return RoiGeometry(
        name=roi.name,
        number=roi.number,
        sections=tuple(sections),
        slabs=slabs,
        end_cap=end_cap,
        bounds_xy_mm=(x_min, x_max, y_min, y_max),
        volume_cc=volume_mm3 / 1000.0,
        warnings=tuple(warnings),
    )


def _contour_z_ranges_and_areas(points: list[FloatArray]) -> tuple[list[float], list[float], list[float]]:
    """Per contour (N, 3) points: lowest and highest z and the shoelace signed area of its (x, y)
    polygon (0 for fewer than 3 points), all contours in one vectorised pass."""
    sizes = np.array([p.shape[0] for p in points], dtype=np.int64)
    if sizes.size == 0 or np.any(sizes == 0):
        lows = [float(p[:, 2].min()) if p.shape[0] else math.inf for p in points]
        highs = [float(p[:, 2].max()) if p.shape[0] else -math.inf for p in points]
        return lows, highs, [signed_area(p[:, 0], p[:, 1]) if p.shape[0] >= 3 else 0.0 for p in points]
    everything = np.concatenate(points)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    z = everything[:, 2]
    lows = np.minimum.reduceat(z, starts)
    highs = np.maximum.reduceat(z, starts)
    x, y = everything[:, 0], everything[:, 1]
    following = np.arange(1, z.size + 1)
    following[starts + sizes - 1] = starts  # each contour closes on its first point
    cross = x * y[following] - x[following] * y
    areas = np.where(sizes >= 3, 0.5 * np.add.reduceat(cross, starts), 0.0)
    return lows.tolist(), highs.tolist(), areas.tolist()


def _outer_contours_overlap(polygons: list[tuple[FloatArray, FloatArray]], depths: list[int]) -> bool:
    """Do two outermost contours of a plane cross (a sampled vertex of one inside the other)?"""
    solids = [p for p, d in zip(polygons, depths, strict=True) if d == 0]
    for i in range(len(solids)):
        for j in range(len(solids)):
            if i == j:
                continue
            ui, vi = solids[i]
            uj, vj = solids[j]
            if ui.max() < uj.min() or uj.max() < ui.min() or vi.max() < vj.min() or vj.max() < vi.min():
                continue
            step = max(1, ui.size // 64)
            if np.any(points_in_polygon(ui[::step], vi[::step], uj, vj)):
                return True
    return False
