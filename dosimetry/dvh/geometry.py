"""An ROI's contours organised as a stack of planar sections with slab extents (LPS mm).

:func:`roi_geometry` groups the closed planar contours of an :class:`~dosimetry.structures.Roi` by
plane, decides holes by the even-odd rule (a contour nested inside an odd number of other contours
of the same plane is a hole), and attaches the slab each plane stands for under an
:class:`~dosimetry.dvh.endcaps.EndCapConvention`. The ROI volume is the exact volume of that
stacked-slab solid: sum over planes of (section area x slab thickness).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from itertools import accumulate

import numpy as np
import numpy.typing as npt

from dosimetry.dvh.endcaps import DEFAULT_END_CAP, EndCapConvention, SlabStack, slab_stack
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
    points: contour ``i`` is ``points_mm[offsets[i] : offsets[i + 1]]``."""

    points_mm: FloatArray
    offsets: tuple[int, ...]  # count + 1 entries, from 0 to M

    @property
    def count(self) -> int:
        return len(self.offsets) - 1

    @property
    def starts(self) -> npt.NDArray[np.intp]:
        return np.array(self.offsets[:-1], dtype=np.intp)

    @property
    def sizes(self) -> npt.NDArray[np.intp]:
        return np.asarray(np.diff(np.array(self.offsets, dtype=np.intp)), dtype=np.intp)


def closed_contours(roi: Roi) -> ClosedContours:
    """``roi.closed_planar_contours`` packed into one array (see :class:`ClosedContours`)."""
    points = [c.points_mm for c in roi.closed_planar_contours]
    if not points:
        return ClosedContours(np.empty((0, 3)), (0,))
    offsets = (0, *accumulate([p.shape[0] for p in points]))
    return ClosedContours(np.concatenate(points) if len(points) > 1 else points[0], offsets)


def roi_geometry(
    roi: Roi,
    end_cap: EndCapConvention = DEFAULT_END_CAP,
    *,
    single_plane_thickness_mm: float | None = None,
    default_single_plane_thickness: Callable[[], float | None] | None = None,
) -> RoiGeometry:
    """Planar sections and slabs of ``roi``; raises :class:`GeometryError` when it has no closed
    planar contour or a contour is not axial.

    ``default_single_plane_thickness``, when given, is called (once) for the thickness of a
    single-plane ROI if ``single_plane_thickness_mm`` is None, and only then.

    All contours of the ROI are handled in one vectorised pass over their packed points; only the
    grouping into planes (a contour joins the plane of an earlier contour whose z bucket is its own
    or adjacent) and the few planes with several contours loop in Python."""
    label = _label(roi)
    warnings: list[str] = []
    packed = closed_contours(roi)
    n_closed = packed.count
    if n_closed < len(roi.contours):
        warnings.append(
            f"{label}: {len(roi.contours) - n_closed} contour(s) that are not CLOSED_PLANAR were ignored"
        )
    if not n_closed:
        raise GeometryError(f"{label} has no CLOSED_PLANAR contours; it has no volume")
    points, offsets = packed.points_mm, packed.offsets
    if not np.isfinite(points).all():
        bad_point = int(np.flatnonzero(~np.isfinite(points).all(axis=1))[0])
        contour = int(np.searchsorted(np.array(offsets[1:]), bad_point, side="right"))
        raise GeometryError(
            f"{label}: closed contour {contour + 1} of {n_closed} has non-finite coordinates (x, y or z); "
            "contour points must be finite LPS mm"
        )
    sizes_list = [b - a for a, b in zip(offsets, offsets[1:])]
    starts = np.array(offsets[:-1], dtype=np.intp)
    z = points[:, 2]
    z_lows = np.minimum.reduceat(z, starts)
    z_highs = np.maximum.reduceat(z, starts)
    spans = z_highs - z_lows
    if spans.max() > PLANARITY_TOLERANCE_MM:
        first = int(np.flatnonzero(spans > PLANARITY_TOLERANCE_MM)[0])
        raise GeometryError(
            f"{label}: a contour spans {float(spans[first]):.3f} mm in z; only axial contours are supported"
        )
    # shoelace signed area of every contour: sum of x_i y_(i+1) - x_(i+1) y_i, closing on the first point
    x, y = points[:, 0], points[:, 1]
    following = np.arange(1, z.size + 1)
    following[np.array(offsets[1:], dtype=np.intp) - 1] = starts
    cross = x * y[following] - x[following] * y
    z_mid = 0.5 * (z_lows + z_highs)
    kept = [i for i, n in enumerate(sizes_list) if n >= 3]
    skipped = n_closed - len(kept)
    if skipped:
        warnings.append(f"{label}: {skipped} contour(s) with fewer than 3 points were ignored")
        if not kept:
            raise GeometryError(f"{label} has no contour with at least 3 points")
        sizes = np.array(sizes_list)
        signed_all = np.where(sizes >= 3, 0.5 * np.add.reduceat(cross, starts), 0.0)
        signed = signed_all[kept].tolist()
        z_kept = z_mid[kept]
    else:
        signed = (0.5 * np.add.reduceat(cross, starts)).tolist()
        z_kept = z_mid
    # Planes: a contour joins the plane of the first earlier contour whose bucket is its own, the
    # one below or the one above (in that order); otherwise it opens a plane at its own z.
    buckets = np.rint(z_kept / PLANE_MERGE_TOLERANCE_MM)
    plane_of_bucket: dict[float, int] = {}
    plane_keys: list[float] = []
    plane_of: list[int] = []
    for b, zk in zip(buckets.tolist(), z_kept.tolist(), strict=True):
        p = plane_of_bucket.get(b)
        if p is None:
            p = plane_of_bucket.get(b - 1.0)
            if p is None:
                p = plane_of_bucket.get(b + 1.0)
                if p is None:
                    p = len(plane_keys)
                    plane_of_bucket[b] = p
                    plane_keys.append(zk)
        plane_of.append(p)
    order = sorted(range(len(plane_keys)), key=plane_keys.__getitem__)
    planes_list = [plane_keys[p] for p in order]
    if len(planes_list) == 1 and single_plane_thickness_mm is None and default_single_plane_thickness is not None:
        single_plane_thickness_mm = default_single_plane_thickness()
    slabs = slab_stack(
        np.array(planes_list), end_cap, single_plane_thickness_mm=single_plane_thickness_mm, roi_label=label
    )
    warnings.extend(slabs.warnings)
    # polygon vertex rows: contiguous x and y of every contour (views of two packed rows)
    xy = points[:, :2].T.copy()
    xs, ys = xy[0], xy[1]
    if skipped:
        polygons = [(xs[offsets[i] : offsets[i + 1]], ys[offsets[i] : offsets[i + 1]]) for i in kept]
    else:
        polygons = [(xs[a:b], ys[a:b]) for a, b in zip(offsets, offsets[1:])]
    areas = [abs(a) for a in signed]
    senses = [(a > 0) - (a < 0) for a in signed]
    thickness = slabs.thickness_mm.tolist()
    sections = []
    volume_mm3 = 0.0
    overlapping = 0
    if len(plane_keys) == len(polygons):  # the common case: one contour per plane, no nesting or overlap
        for zp, t, i in zip(planes_list, thickness, order, strict=True):
            area = areas[i]
            sections.append(PlaneSection(zp, (polygons[i],), (1,), area, (senses[i],)))
            volume_mm3 += area * t
    else:
        members: list[list[int]] = [[] for _ in plane_keys]
        for i, p in enumerate(plane_of):
            members[p].append(i)
        multi = [m for m in members if len(m) > 1]
        nested = _nesting(polygons, multi)
        overlapping = nested.planes_with_overlapping_solids(
            [[i for i in m if nested.depths[i] == 0] for m in multi]
        )
        for zp, t, p in zip(planes_list, thickness, order, strict=True):
            indices = members[p]
            if len(indices) == 1:
                (i,) = indices
                area = areas[i]
                sections.append(PlaneSection(zp, (polygons[i],), (1,), area, (senses[i],)))
                volume_mm3 += area * t
                continue
            signs = [1 if nested.depths[i] % 2 == 0 else -1 for i in indices]
            area = float(sum(s * areas[i] for s, i in zip(signs, indices, strict=True)))
            sections.append(
                PlaneSection(
                    zp, tuple(polygons[i] for i in indices), tuple(signs), area, tuple(senses[i] for i in indices)
                )
            )
            volume_mm3 += area * t
    if skipped:
        xy = xy[:, np.repeat(np.array(sizes_list) >= 3, sizes_list)]
    xy_min, xy_max = xy.min(axis=1).tolist(), xy.max(axis=1).tolist()
    if overlapping:
        warnings.append(
            f"{label}: on {overlapping} plane(s) solid contours overlap without nesting; the overlap "
            "is counted once in the occupancy but twice in the contour volume"
        )
    geometry = RoiGeometry(
        name=roi.name,
        number=roi.number,
        sections=tuple(sections),
        slabs=slabs,
        end_cap=end_cap,
        bounds_xy_mm=(xy_min[0], xy_max[0], xy_min[1], xy_max[1]),
        volume_cc=volume_mm3 / 1000.0,
        warnings=tuple(warnings),
    )
    if end_cap is EndCapConvention.SHAPE:
        from dosimetry.dvh._shape import shape_geometry

        return shape_geometry(geometry, label)
    return geometry


class _Nesting:
    """The polygons of the planes with several contours, packed, with their nesting depths (see
    :func:`_nesting`)."""

    def __init__(self, polygons: list[tuple[FloatArray, FloatArray]], planes: list[list[int]]) -> None:
        members = [i for plane in planes for i in plane]
        self.position = {i: k for k, i in enumerate(members)}  # polygon index -> packed position
        self.sizes = [polygons[i][0].size for i in members]
        self.offsets = [0, *accumulate(self.sizes)]
        u = np.concatenate([polygons[i][0] for i in members])
        v = np.concatenate([polygons[i][1] for i in members])
        following = np.arange(1, u.size + 1)
        following[np.array(self.offsets[1:], dtype=np.intp) - 1] = self.offsets[:-1]
        self.u, self.v, self.v1 = u, v, v[following]
        self.du, self.dv = u[following] - u, self.v1 - v
        self.depths: dict[int, int] = {}  # polygon index -> how many polygons of its plane contain it

    def odd_crossings(self, points: list[int], polygons: list[int], counts: list[int]) -> npt.NDArray[np.bool_]:
        """For each query (packed vertex ``points[q]``, packed polygon ``polygons[q]``): is the
        vertex inside the polygon by even-odd ray casting? Term by term the crossing test of
        :func:`~dosimetry.dvh.planar.points_in_polygon`. ``counts[q]`` is the polygon's size."""
        n_edges = np.array(counts, dtype=np.intp)
        query_start = np.zeros(n_edges.size, dtype=np.intp)
        np.cumsum(n_edges[:-1], out=query_start[1:])
        edge = np.arange(int(query_start[-1] + n_edges[-1]), dtype=np.intp) + np.repeat(
            np.array([self.offsets[b] for b in polygons], dtype=np.intp) - query_start, n_edges
        )
        vertex = np.repeat(np.array(points, dtype=np.intp), n_edges)
        pu, pv = self.u[vertex], self.v[vertex]
        ve = self.v[edge]
        crosses = (ve > pv) != (self.v1[edge] > pv)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_at = self.u[edge] + (pv - ve) * self.du[edge] / self.dv[edge]
        return np.logical_xor.reduceat(crosses & (pu < x_at), query_start)

    def planes_with_overlapping_solids(self, solids_by_plane: list[list[int]]) -> int:
        """How many planes have two outermost contours that cross (a sampled vertex, every
        ``size // 64``-th, of one inside another whose bounding box meets its own)?"""
        planes = [solids for solids in solids_by_plane if len(solids) > 1]
        if not planes:
            return 0
        starts = np.array(self.offsets[:-1], dtype=np.intp)  # bounding box of every packed polygon
        boxes = list(
            zip(
                np.minimum.reduceat(self.u, starts).tolist(),
                np.maximum.reduceat(self.u, starts).tolist(),
                np.minimum.reduceat(self.v, starts).tolist(),
                np.maximum.reduceat(self.v, starts).tolist(),
                strict=True,
            )
        )
        points: list[int] = []
        polygons: list[int] = []
        counts: list[int] = []
        plane_of_query: list[int] = []
        for p, solids in enumerate(planes):
            for a in (self.position[i] for i in solids):
                for b in (self.position[j] for j in solids):
                    if a == b:
                        continue
                    ua_min, ua_max, va_min, va_max = boxes[a]
                    ub_min, ub_max, vb_min, vb_max = boxes[b]
                    if ua_max < ub_min or ub_max < ua_min or va_max < vb_min or vb_max < va_min:
                        continue
                    sampled = range(self.offsets[a], self.offsets[a + 1], max(1, self.sizes[a] // 64))
                    points.extend(sampled)
                    polygons.extend([b] * len(sampled))
                    counts.extend([self.sizes[b]] * len(sampled))
                    plane_of_query.extend([p] * len(sampled))
        if not points:
            return 0
        inside = self.odd_crossings(points, polygons, counts)
        return len(set(np.array(plane_of_query)[inside].tolist()))


def _nesting(polygons: list[tuple[FloatArray, FloatArray]], planes: list[list[int]]) -> _Nesting:
    """Nesting depth of every polygon of ``planes`` (lists of indices into ``polygons``, each plane
    with several): how many of the other polygons of its plane contain its first vertex by
    even-odd ray casting (as :func:`~dosimetry.dvh.planar.nesting_depths`), all planes in one pass
    over the (vertex, edge) pairs of the same plane."""
    nesting = _Nesting(polygons, planes)
    position, offsets, sizes = nesting.position, nesting.offsets, nesting.sizes
    points: list[int] = []
    others: list[int] = []
    counts: list[int] = []
    owner: list[int] = []
    for plane in planes:
        for a in plane:
            for b in plane:
                if a != b:
                    points.append(offsets[position[a]])
                    others.append(position[b])
                    counts.append(sizes[position[b]])
                    owner.append(position[a])
    inside = nesting.odd_crossings(points, others, counts)
    depth = np.bincount(np.array(owner, dtype=np.intp)[inside], minlength=len(position)).tolist()
    nesting.depths = {i: depth[k] for i, k in position.items()}
    return nesting
