"""An ROI's contours organised as a stack of planar sections with slab extents (LPS mm).

:func:`roi_geometry` groups the closed planar contours of an :class:`~dosimetry.structures.Roi` by
plane, decides holes by the even-odd rule (a contour nested inside an odd number of other contours
of the same plane is a hole), and attaches the slab each plane stands for under an
:class:`~dosimetry.dvh.endcaps.EndCapConvention`. The ROI volume is the exact volume of that
stacked-slab solid: sum over planes of (section area x slab thickness).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dosimetry.dvh.endcaps import EndCapConvention, SlabStack, slab_stack
from dosimetry.dvh.planar import points_in_polygon
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


@dataclass(frozen=True, eq=False)
class ClosedContours:
    """The CLOSED_PLANAR contours of an ROI, in their order, packed into one (M, 3) array of LPS
    points: contour ``i`` is ``points_mm[starts[i] : starts[i] + sizes[i]]``."""

    points_mm: FloatArray
    starts: npt.NDArray[np.int64]
    sizes: npt.NDArray[np.int64]

    @property
    def count(self) -> int:
        return int(self.sizes.size)


def closed_contours(roi: Roi) -> ClosedContours:
    """``roi.closed_planar_contours`` packed into one array (see :class:`ClosedContours`)."""
    closed = roi.closed_planar_contours
    if not closed:
        return ClosedContours(np.empty((0, 3)), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    points = [c.points_mm for c in closed]
    sizes = np.fromiter((p.shape[0] for p in points), dtype=np.int64, count=len(points))
    starts = np.zeros(sizes.size, dtype=np.int64)
    np.cumsum(sizes[:-1], out=starts[1:])
    return ClosedContours(np.concatenate(points) if len(points) > 1 else points[0], starts, sizes)


def roi_geometry(
    roi: Roi,
    end_cap: EndCapConvention = EndCapConvention.HALF_SLAB,
    *,
    single_plane_thickness_mm: float | None = None,
    contours: ClosedContours | None = None,
) -> RoiGeometry:
    """Planar sections and slabs of ``roi``; raises :class:`GeometryError` when it has no closed
    planar contour or a contour is not axial. ``contours`` may pass ``closed_contours(roi)`` when
    the caller already has it.

    All contours of the ROI are handled in one vectorised pass over their packed points; only the
    grouping into planes (a contour joins the plane of an earlier contour whose z bucket is its own
    or adjacent) and the few planes with several contours loop in Python."""
    label = _label(roi)
    warnings: list[str] = []
    packed = closed_contours(roi) if contours is None else contours
    n_closed = packed.count
    if n_closed < len(roi.contours):
        warnings.append(
            f"{label}: {len(roi.contours) - n_closed} contour(s) that are not CLOSED_PLANAR were ignored"
        )
    if not n_closed:
        raise GeometryError(f"{label} has no CLOSED_PLANAR contours; it has no volume")
    points, starts, sizes = packed.points_mm, packed.starts, packed.sizes
    z_lows, z_highs, signed_areas = _packed_z_ranges_and_areas(points, starts, sizes)
    spans = z_highs - z_lows
    too_thick = np.flatnonzero(spans > PLANARITY_TOLERANCE_MM)
    if too_thick.size:
        raise GeometryError(
            f"{label}: a contour spans {float(spans[too_thick[0]]):.3f} mm in z; only axial contours are supported"
        )
    z_mid = 0.5 * (z_lows + z_highs)
    if not np.all(np.isfinite(z_mid)):
        raise GeometryError(f"{label}: a contour has non-finite z coordinates")
    usable = sizes >= 3
    skipped = n_closed - int(np.count_nonzero(usable))
    if skipped:
        warnings.append(f"{label}: {skipped} contour(s) with fewer than 3 points were ignored")
        if skipped == n_closed:
            raise GeometryError(f"{label} has no contour with at least 3 points")
        kept = np.flatnonzero(usable)
    else:
        kept = None
    # Planes: a contour joins the plane of the first earlier contour whose bucket is its own, the
    # one below or the one above (in that order); otherwise it opens a plane at its own z.
    buckets = np.rint(z_mid / PLANE_MERGE_TOLERANCE_MM)
    if kept is not None:
        buckets, z_kept = buckets[kept], z_mid[kept]
    else:
        z_kept = z_mid
    plane_of_bucket: dict[float, int] = {}
    plane_keys: list[float] = []
    plane_of: list[int] = []
    for b, z in zip(buckets.tolist(), z_kept.tolist(), strict=True):
        p = plane_of_bucket.get(b)
        if p is None:
            p = plane_of_bucket.get(b - 1.0)
            if p is None:
                p = plane_of_bucket.get(b + 1.0)
                if p is None:
                    p = len(plane_keys)
                    plane_of_bucket[b] = p
                    plane_keys.append(z)
        plane_of.append(p)
    keys = np.array(plane_keys)
    order = np.argsort(keys, kind="stable")
    planes = keys[order]
    slabs = slab_stack(
        planes, end_cap, single_plane_thickness_mm=single_plane_thickness_mm, roi_label=label
    )
    warnings.extend(slabs.warnings)
    # polygon vertex rows: contiguous x and y of every kept contour (views of two packed rows)
    xy = points[:, :2].T.copy()
    xs, ys = xy[0], xy[1]
    lo = starts.tolist()
    hi = (starts + sizes).tolist()
    if kept is not None:
        sel = kept.tolist()
        lo = [lo[i] for i in sel]
        hi = [hi[i] for i in sel]
        signed_kept = signed_areas[kept]
    else:
        signed_kept = signed_areas
    polygons = [(xs[a:b], ys[a:b]) for a, b in zip(lo, hi, strict=True)]
    signed = signed_kept.tolist()
    areas = np.abs(signed_kept).tolist()
    senses = ((signed_kept > 0).astype(np.int64) - (signed_kept < 0)).tolist()
    thickness = slabs.thickness_mm.tolist()
    sections = []
    volume_mm3 = 0.0
    overlapping = 0
    if len(plane_keys) == len(polygons):  # the common case: one contour per plane, no nesting or overlap
        for z, t, i in zip(planes.tolist(), thickness, order.tolist(), strict=True):
            area = areas[i]
            sections.append(PlaneSection(z, (polygons[i],), (1,), area, (senses[i],)))
            volume_mm3 += area * t
    else:
        members: list[list[int]] = [[] for _ in plane_keys]
        for i, p in enumerate(plane_of):
            members[p].append(i)
        for z, t, p in zip(planes.tolist(), thickness, order.tolist(), strict=True):
            indices = members[p]
            if len(indices) == 1:
                (i,) = indices
                area = areas[i]
                sections.append(PlaneSection(z, (polygons[i],), (1,), area, (senses[i],)))
                volume_mm3 += area * t
                continue
            plane_polygons = [polygons[i] for i in indices]
            depths = _nesting_depths(plane_polygons)
            signs = [1 if d % 2 == 0 else -1 for d in depths]
            area = float(sum(s * areas[i] for s, i in zip(signs, indices, strict=True)))
            if sum(1 for d in depths if d == 0) > 1 and _outer_contours_overlap(plane_polygons, depths):
                overlapping += 1
            sections.append(
                PlaneSection(z, tuple(plane_polygons), tuple(signs), area, tuple(senses[i] for i in indices))
            )
            volume_mm3 += area * t
    if kept is None:
        xy_min, xy_max = points[:, :2].min(axis=0).tolist(), points[:, :2].max(axis=0).tolist()
    else:
        rows = points[np.repeat(usable, sizes), :2]
        xy_min, xy_max = rows.min(axis=0).tolist(), rows.max(axis=0).tolist()
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
        bounds_xy_mm=(xy_min[0], xy_max[0], xy_min[1], xy_max[1]),
        volume_cc=volume_mm3 / 1000.0,
        warnings=tuple(warnings),
    )


def _packed_z_ranges_and_areas(
    points: FloatArray, starts: npt.NDArray[np.int64], sizes: npt.NDArray[np.int64]
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per packed contour (every one with at least one point): lowest and highest z and the
    shoelace signed area of its (x, y) polygon (0 for fewer than 3 points)."""
    z = points[:, 2]
    lows = np.minimum.reduceat(z, starts)
    highs = np.maximum.reduceat(z, starts)
    x, y = points[:, 0], points[:, 1]
    following = np.arange(1, z.size + 1)
    following[starts + sizes - 1] = starts  # each contour closes on its first point
    cross = x * y[following] - x[following] * y
    areas = np.where(sizes >= 3, 0.5 * np.add.reduceat(cross, starts), 0.0)
    return lows, highs, areas


def _nesting_depths(polygons: list[tuple[FloatArray, FloatArray]]) -> list[int]:
    """:func:`~dosimetry.dvh.planar.nesting_depths` (how many of the other polygons contain each
    polygon's first vertex, by even-odd ray casting) for all polygons of a plane in one pass: the
    same crossing test, term by term, as :func:`~dosimetry.dvh.planar.points_in_polygon`."""
    u = np.concatenate([p[0] for p in polygons])
    v = np.concatenate([p[1] for p in polygons])
    sizes = np.array([p[0].size for p in polygons])
    starts = np.zeros(sizes.size, dtype=np.int64)
    np.cumsum(sizes[:-1], out=starts[1:])
    following = np.arange(1, u.size + 1)
    following[starts + sizes - 1] = starts
    u1, v1 = u[following], v[following]
    pu, pv = u[starts], v[starts]
    crosses = (v[None, :] > pv[:, None]) != (v1[None, :] > pv[:, None])
    with np.errstate(divide="ignore", invalid="ignore"):
        x_at = u[None, :] + (pv[:, None] - v[None, :]) * (u1 - u)[None, :] / (v1 - v)[None, :]
    hits = np.add.reduceat((crosses & (pu[:, None] < x_at)).astype(np.int64), starts, axis=1)
    inside = (hits % 2).astype(bool)
    np.fill_diagonal(inside, False)
    return inside.sum(axis=1).tolist()


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
