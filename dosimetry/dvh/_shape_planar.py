"""Planar helpers of the shape model (:mod:`dosimetry.dvh._shape`): the common raster, exact
signed-distance maps of a plane's section on it, level sets back to polygons, centroids and
scaled copies of sections. Split from ``_shape`` to keep each module one concern (the raster
geometry here, the assembly of sections between and beyond the planes there).

Why hand-written: the distance maps are :func:`scipy.ndimage.distance_transform_edt` corrected to
exact point-to-boundary distances (k-d tree, :class:`scipy.spatial.cKDTree`) in a band around
the boundary, and level sets come from :mod:`contourpy` (the marching-squares library matplotlib
uses); what is written here is only their use on a plane's polygons.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import cast

import numpy as np
import numpy.typing as npt

from dosimetry.dvh.geometry import PlaneSection, RoiGeometry
from dosimetry.dvh.planar import nesting_depths, signed_area
from dosimetry.errors import GeometryError

FloatArray = npt.NDArray[np.float64]

#: Raster pixel: the median over planes of 2 x area / perimeter (the radius of a circle) divided
#: by this, within PIXEL_MIN_MM .. PIXEL_MAX_MM, and coarser when the raster would exceed
#: MAX_PIXELS.
PIXELS_PER_RADIUS = 30.0
PIXEL_MIN_MM, PIXEL_MAX_MM = 0.04, 1.0
MAX_PIXELS = 120_000


@dataclass(frozen=True)
class _Raster:
    x0_mm: float
    y0_mm: float
    pixel_mm: float
    nx: int
    ny: int

    # computed once per raster (the shape model asked for them about 4,000 times on the clinical
    # test case), read-only since they are shared
    @cached_property
    def xs(self) -> FloatArray:
        values = self.x0_mm + self.pixel_mm * np.arange(self.nx, dtype=np.float64)
        values.flags.writeable = False
        return values

    @cached_property
    def ys(self) -> FloatArray:
        values = self.y0_mm + self.pixel_mm * np.arange(self.ny, dtype=np.float64)
        values.flags.writeable = False
        return values


def _next(values: FloatArray) -> FloatArray:
    """``np.roll(values, -1)`` of a 1-D array (each vertex's successor), without np.roll's
    per-call overhead (the shape model calls it thousands of times on short arrays)."""
    return np.concatenate((values[1:], values[:1]))


def _centroid(section: PlaneSection) -> tuple[float, float]:
    """Area centroid of the section (holes subtracted), mm."""
    total = cx = cy = 0.0
    for (x, y), sign in zip(section.polygons, section.signs, strict=True):
        x1, y1 = _next(x), _next(y)
        cross = x * y1 - x1 * y
        a = 0.5 * float(cross.sum())
        if a == 0:
            continue
        w = sign * abs(a)
        total += w
        cx += w * float(((x + x1) * cross).sum()) / (6 * a)
        cy += w * float(((y + y1) * cross).sum()) / (6 * a)
    return (cx / total, cy / total) if total else (float(section.polygons[0][0][0]), float(section.polygons[0][1][0]))


def _radius(section: PlaneSection) -> float:
    """2 x area / perimeter of the section (a circle's radius), mm."""
    perimeter = sum(
        float(np.hypot(np.diff(np.append(x, x[0])), np.diff(np.append(y, y[0]))).sum()) for x, y in section.polygons
    )
    return 2.0 * section.area_mm2 / perimeter if perimeter > 0 else 0.0


def _typical_radius_mm(base: RoiGeometry) -> float:
    """Median over the planes of 2 x area / perimeter (a circle's radius), mm."""
    radii = []
    for section in base.sections:
        perimeter = sum(
            float(np.hypot(np.diff(np.append(x, x[0])), np.diff(np.append(y, y[0]))).sum()) for x, y in section.polygons
        )
        if perimeter > 0 and section.area_mm2 > 0:
            radii.append(2.0 * section.area_mm2 / perimeter)
    return float(np.median(radii)) if radii else 1.0


def _raster_for(base: RoiGeometry, radius: float, slide_factor: float) -> _Raster:
    """The common raster: the contours' bounds, four pixels around, and room for an end cap to
    slide on (an oblique tube's cap continues its sections' sideways trend beyond the last plane:
    ``slide_factor`` times the largest shift of the centroid between neighbouring planes)."""
    pixel = min(max(radius / PIXELS_PER_RADIUS, PIXEL_MIN_MM), PIXEL_MAX_MM)
    x_min, x_max, y_min, y_max = base.bounds_xy_mm
    centres = np.array([_centroid(s) for s in base.sections])
    slide = slide_factor * float(np.hypot(*np.diff(centres, axis=0).T).max()) if len(centres) > 1 else 0.0
    while True:
        margin = 4 * pixel + slide
        nx = math.ceil((x_max - x_min + 2 * margin) / pixel) + 1
        ny = math.ceil((y_max - y_min + 2 * margin) / pixel) + 1
        if nx * ny <= MAX_PIXELS:
            return _Raster(x_min - margin, y_min - margin, pixel, nx, ny)
        pixel *= math.sqrt(nx * ny / MAX_PIXELS) * 1.01


def _inside(section: PlaneSection, raster: _Raster) -> npt.NDArray[np.bool_]:
    """Even-odd inside mask of the section's polygons at the raster's pixel centres (scanlines)."""
    p = raster.pixel_mm
    # crossings counted modulo 256 (uint8 wraps; only the parity is used): the cumulative sum over
    # the raster four times faster than in int64
    toggles = np.zeros((raster.ny, raster.nx + 1), dtype=np.uint8)
    for x, y in section.polygons:
        u0, v0 = (x - raster.x0_mm) / p, (y - raster.y0_mm) / p
        u1, v1 = _next(u0), _next(v0)
        lo, hi = np.minimum(v0, v1), np.maximum(v0, v1)
        first = np.ceil(lo).astype(np.int64)  # rows r with lo <= r < hi
        last = np.ceil(hi).astype(np.int64)
        counts = np.maximum(last - first, 0)
        if not counts.any():
            continue
        edge = np.repeat(np.arange(u0.size), counts)
        rows = np.repeat(first, counts) + (np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts))
        f = (rows - v0[edge]) / (v1[edge] - v0[edge])
        cross = u0[edge] + f * (u1[edge] - u0[edge])
        cols = np.minimum(np.maximum(np.ceil(cross).astype(np.int64), 0), raster.nx)  # first pixel centre at or right of it
        keep = (rows >= 0) & (rows < raster.ny)
        np.add.at(toggles, (rows[keep], cols[keep]), 1)
    return (np.cumsum(toggles[:, :-1], axis=1, dtype=np.uint8) & 1).view(bool)  # 0 or 1: a valid bool view


def _resample(field: FloatArray, rows_px: FloatArray, cols_px: FloatArray) -> FloatArray:
    """``field`` at the fractional pixel positions ``rows_px`` x ``cols_px`` (an axis-aligned grid
    of them), bilinear, the edges extended: what ``scipy.ndimage.map_coordinates(field, meshgrid,
    order=1, mode="nearest")`` gives (tests/test_dvh_shape_speed.py), done separably (two row
    gathers, then two column gathers): the translated and scaled maps of the shape model are
    such grids, and map_coordinates over a full meshgrid was 57 % of the shape model's time on
    the clinical test case (256 x 256 x 160, 40 ROIs). The gathers are ``take`` (not fancy
    indexing) and the arithmetic is in place, on the gathered copies: the same operations on the
    same values (``top + fr * (bottom - top)``, then the same across columns), five times faster
    on a 300 x 400 raster."""
    field = np.asarray(field, dtype=np.float64)
    ny, nx = field.shape
    r = np.minimum(np.maximum(rows_px, 0.0), ny - 1.0)  # np.clip, without its per-call overhead
    c = np.minimum(np.maximum(cols_px, 0.0), nx - 1.0)
    r0 = np.minimum(np.floor(r).astype(np.intp), ny - 2)
    c0 = np.minimum(np.floor(c).astype(np.intp), nx - 2)
    fr, fc = (r - r0)[:, None], c - c0
    top, rows = field.take(r0, axis=0), field.take(r0 + 1, axis=0)
    rows -= top  # bottom - top
    rows *= fr
    rows += top  # top + fr * (bottom - top)
    left, out = rows.take(c0, axis=1), rows.take(c0 + 1, axis=1)
    out -= left
    out *= fc
    out += left  # left + fc * (right - left)
    return out


def _boundary_points(section: PlaneSection, step_mm: float) -> FloatArray:
    """Points along every edge of the section's polygons, at most ``step_mm`` apart, (N, 2)."""
    points = []
    for x, y in section.polygons:
        xc, yc = np.append(x, x[0]), np.append(y, y[0])
        seg = np.hypot(np.diff(xc), np.diff(yc))
        steps = np.maximum(np.ceil(seg / step_mm).astype(np.int64), 1)
        first = np.repeat(np.cumsum(steps) - steps, steps)
        e = np.repeat(np.arange(seg.size), steps)
        t = (np.arange(int(steps.sum())) - first) / steps[e]
        points.append(np.column_stack([xc[e] + t * (xc[e + 1] - xc[e]), yc[e] + t * (yc[e + 1] - yc[e])]))
    return np.concatenate(points)


def _signed_distance(section: PlaneSection, raster: _Raster) -> tuple[FloatArray, float]:
    """Signed distance (mm, negative inside) from the section's boundary at the pixel centres, and
    the section's largest inscribed radius (mm, refined between pixel centres)."""
    from scipy import ndimage  # type: ignore[import-untyped,unused-ignore]
    from scipy.spatial import cKDTree  # type: ignore[import-untyped,unused-ignore]

    p = raster.pixel_mm
    inside = _inside(section, raster)
    # sliding-midpoint trees (balanced_tree=False), not compacted: a third faster to build, the
    # same nearest distances (exact search either way; only the distance is used)
    tree = cKDTree(_boundary_points(section, 0.2 * p), balanced_tree=False, compact_nodes=False)

    def exact(rows: npt.NDArray[np.intp], cols: npt.NDArray[np.intp], within_mm: float) -> FloatArray:
        # ``within_mm``: an upper bound of every queried pixel's nearest distance (the search
        # prunes farther branches; the same nearest point, the same distance): 15 % less query
        # time on the clinical test case
        distance, _ = tree.query(np.column_stack([raster.x0_mm + p * cols, raster.y0_mm + p * rows]), distance_upper_bound=within_mm)
        if np.isinf(distance).any():  # the tree's "none within the bound": the bound was wrong
            raise GeometryError(f"shape model: a pixel near the boundary has no boundary point within {within_mm:g} mm")
        return np.asarray(distance, dtype=np.float64)

    # Far from the boundary: the distance to the boundary point held by the nearest boundary
    # pixel (Euclidean feature transform; off by O(p^2 / distance)); within 2.5 pixels of it:
    # exact, from a k-d tree of the boundary points (queries near the boundary are fast there,
    # far ones are not: 2 s for 31,000 pixels inside the sample patient's External).
    points = tree.data
    cells = np.rint((points - [raster.x0_mm, raster.y0_mm]) / p).astype(np.int64)
    keep = (cells[:, 0] >= 0) & (cells[:, 0] < raster.nx) & (cells[:, 1] >= 0) & (cells[:, 1] < raster.ny)
    held = np.full((raster.ny, raster.nx), -1, dtype=np.int64)
    held[cells[keep, 1], cells[keep, 0]] = np.flatnonzero(keep)
    near_row, near_col = ndimage.distance_transform_edt(held < 0, return_distances=False, return_indices=True)
    near_row *= raster.nx  # the feature's flat index (rows x columns < 2**31: MAX_PIXELS)
    near_row += near_col
    nearest = held.take(near_row)  # held[near_row, near_col], four times faster
    xs = raster.x0_mm + p * np.arange(raster.nx, dtype=np.int64)
    ys = raster.y0_mm + p * np.arange(raster.ny, dtype=np.int64)
    # np.hypot(xs - x of the held point, ys - its y): gathers by take from contiguous copies of
    # the coordinates, differences and hypot in place (the same operations, a third of the time)
    dx = np.ascontiguousarray(points[:, 0]).take(nearest)
    dy = np.ascontiguousarray(points[:, 1]).take(nearest)
    np.subtract(xs[None, :], dx, out=dx)
    np.subtract(ys[:, None], dy, out=dy)
    distance = np.hypot(dx, dy, out=dx)
    band = 2.5 * p
    rows, cols = np.nonzero(distance < band)
    # each of these pixels is less than ``band`` from a boundary point (its held point): the exact
    # nearest distance is within it too (the bound a hair wider, for the rounding of the two
    # distance computations)
    distance[rows, cols] = exact(rows, cols, band * (1.0 + 1e-9))
    phi = np.negative(distance, out=distance, where=inside)  # np.where(inside, -distance, distance), in place
    if not inside.any():
        return phi, 0.0
    # inscribed radius: the deepest pixel, refined on two finer lattices around it
    row, col = np.unravel_index(int(np.argmin(phi)), phi.shape)
    x, y = float(raster.x0_mm + p * col), float(raster.y0_mm + p * row)
    best = float(-phi[row, col])
    offsets = _LATTICE_OFFSETS
    step = p
    # about 64 boundary points spread along the boundary: their nearest distance is an upper bound
    # of a lattice point's distance to the boundary (NumPy, 121 x 64 distances)
    ring = points[:: max(1, points.shape[0] // 64)]
    points_x, points_y = np.ascontiguousarray(points[:, 0]), np.ascontiguousarray(points[:, 1])
    ring_x, ring_y = np.ascontiguousarray(ring[:, 0]), np.ascontiguousarray(ring[:, 1])
    for _ in range(3):
        lattice_x, lattice_y = x + step * offsets, y + step * offsets
        qx, qy = np.tile(lattice_x, offsets.size), np.repeat(lattice_y, offsets.size)  # meshgrid, raveled
        # Only the lattice points that may lie deeper than ``best`` are queried: one whose upper
        # bound is at most ``best`` (less a relative 1e-12 for the rounding of the two distance
        # computations) cannot replace it, and the deepest of the others is the one the whole
        # lattice's query would pick (same values, the first of equals in the same order).
        # The squared distances (qx - ring x)^2 + (qy - ring y)^2, with each square computed once
        # per lattice column or row (11 x 64) rather than per lattice point (121 x 64): the same
        # values (addition commutes exactly), 40 % less time for the bounds.
        across = lattice_x[:, None] - ring_x
        across *= across
        down = lattice_y[:, None] - ring_y
        down *= down
        squared = down[:, None, :] + across[None, :, :]  # [row, column, ring]: lattice point row * 11 + column
        bound = np.sqrt(squared.min(axis=2).ravel())
        open_ = np.flatnonzero(bound * (1.0 + 1e-12) > best)
        if open_.size:
            qx, qy = qx[open_], qy[open_]
            # The centre (x, y) is at most ``best`` from a boundary point (``best`` is a distance to
            # one of them), so every lattice point (within step * sqrt(2) of it) has its nearest
            # boundary point within best + 2 step sqrt(2) of the centre: a k-d tree of those
            # candidates gives the same nearest distances (the same pairs, the same arithmetic) as
            # the whole boundary's tree. Queries this deep inside a large section are slow (every
            # boundary point is about as far): 26 % of this function's time on the clinical case
            # with 1 mm contours before the bound and the candidates.
            reach = best + 2.0 * math.sqrt(2.0) * step
            reach += 1e-9 * max(reach, 1.0)  # rounding of the distances
            near = np.hypot(points_x - x, points_y - y) <= reach
            candidates = int(np.count_nonzero(near))
            if qx.size * candidates <= BRUTE_FORCE_PAIRS:
                distance = _nearest_distances(qx, qy, points_x[near], points_y[near])
            else:
                local = cKDTree(points[near], balanced_tree=False, compact_nodes=False) if candidates < points.shape[0] // 2 else tree
                distance, _ = local.query(np.column_stack([qx, qy]))
            k = int(np.argmax(distance))
            if distance[k] > best:
                best, x, y = float(distance[k]), float(qx[k]), float(qy[k])
        step *= 0.2
    return phi, best


#: The inscribed radius's refinement lattice, in steps either side of its centre.
_LATTICE_OFFSETS = np.linspace(-1.0, 1.0, 11)
#: Largest (lattice points x candidate boundary points) whose nearest distances the refinement
#: computes by brute force (:func:`_nearest_distances`) rather than by a k-d tree of the candidates.
BRUTE_FORCE_PAIRS = 200_000


def _nearest_distances(qx: FloatArray, qy: FloatArray, px: FloatArray, py: FloatArray) -> FloatArray:
    """Distance from each query point (``qx``, ``qy``) to the nearest of the points (``px``,
    ``py``), by brute force: what ``cKDTree(points).query(queries)[0]`` gives, bit for bit (the
    tree's Euclidean distance is also ``sqrt(dx * dx + dy * dy)``, the differences taken query
    minus point; tests/test_dvh_shape_cpu.py). Measured on the clinical test case (simplified
    contours, 349 maps): the inscribed radius's refinement queries about 30 lattice points against
    about 300 boundary points at a time, where building a k-d tree of them and querying it took
    0.11-0.13 s CPU of the distance maps' 1.3 s, and this takes 0.05 s."""
    dx = qx[:, None] - px
    dx *= dx
    dy = qy[:, None] - py
    dy *= dy
    dx += dy
    return np.asarray(np.sqrt(dx.min(axis=1)), dtype=np.float64)


def _zero_lines(xs: FloatArray, ys: FloatArray, field: FloatArray) -> list[FloatArray]:
    """The lines (each (N, 2), x and y) where ``field`` (rows along ``ys``, columns along ``xs``)
    crosses 0: contourpy's serial marching squares, as ``contourpy.contour_generator(xs, ys, field,
    line_type=LineType.Separate, corner_mask=False).lines(0.0)``. Its generator class is built
    directly when the field is finite (it always is here, distances minus a level): the function's
    argument checks and masked-array handling took 0.23 ms a call, whatever the field's size, 0.3 s
    of the shape model's 1,300 calls on the clinical case; a field with a non-finite value goes
    through the function (which masks those values)."""
    import contourpy

    if not np.isfinite(field).all():
        generator = contourpy.contour_generator(xs, ys, field, line_type=contourpy.LineType.Separate, corner_mask=False)
        return cast(list[FloatArray], generator.lines(0.0))  # LineType.Separate: a list of (N, 2) arrays
    x2, y2 = np.empty(field.shape), np.empty(field.shape)  # np.meshgrid(xs, ys), without its overhead
    x2[...] = xs
    y2[...] = ys[:, None]
    generator = contourpy.SerialContourGenerator(
        x2, y2, np.ascontiguousarray(field, dtype=np.float64), None,  # type: ignore[arg-type]  # no mask, as contour_generator passes
        corner_mask=False,
        line_type=contourpy.LineType.Separate, fill_type=contourpy.SerialContourGenerator.default_fill_type,
        quad_as_tri=False, z_interp=contourpy.ZInterp.Linear, x_chunk_size=0, y_chunk_size=0,
    )
    return cast(list[FloatArray], generator.lines(0.0))


def _level_sections(z_mm: float, phi: FloatArray, level: float, raster: _Raster) -> PlaneSection | None:
    """The region ``phi < level`` as a section (None when empty). ``phi`` is overwritten (the
    level subtracted, its border raised): every caller passes a map it has just computed, and the
    copy this saves was a seventh of the function's time on the clinical test case."""
    field = phi
    if level != 0.0:
        field -= level
    field[0, :] = field[-1, :] = np.maximum(field[0, :], raster.pixel_mm)  # close every contour
    field[:, 0] = field[:, -1] = np.maximum(field[:, 0], raster.pixel_mm)
    # marching squares on the smallest window holding every pixel at or below the level and a
    # ring of pixels above it: the same lines as over the whole raster, without walking its
    # empty part (a slanted optic nerve's raster is 30 times its sections). The rows are found
    # first, then the columns and the test for a pixel strictly below the level within those rows
    # alone (none lies outside them): the same window and answer as over the whole raster, two
    # passes over it fewer.
    below = field <= 0
    row_below = below.any(axis=1)
    if not row_below.any():
        return None
    rows = np.flatnonzero(row_below)
    r0, r1 = max(int(rows[0]) - 1, 0), min(int(rows[-1]) + 2, raster.ny)
    if not (field[r0:r1] < 0).any():
        return None
    cols = np.flatnonzero(below[r0:r1].any(axis=0))
    c0, c1 = max(int(cols[0]) - 1, 0), min(int(cols[-1]) + 2, raster.nx)
    polygons: list[tuple[FloatArray, FloatArray]] = []
    areas: list[float] = []
    min_area = 0.01 * raster.pixel_mm**2
    for line in _zero_lines(raster.xs[c0:c1], raster.ys[r0:r1], field[r0:r1, c0:c1]):
        pts = np.asarray(line, dtype=np.float64)
        if pts.shape[0] > 1 and pts[0, 0] == pts[-1, 0] and pts[0, 1] == pts[-1, 1]:  # np.array_equal, without its overhead
            pts = pts[:-1]
        if pts.shape[0] < 3:
            continue
        x, y = np.ascontiguousarray(pts[:, 0]), np.ascontiguousarray(pts[:, 1])
        a = signed_area(x, y)
        if abs(a) > min_area:
            polygons.append((x, y))
            areas.append(a)
    if not polygons:
        return None
    signs = [1 if d % 2 == 0 else -1 for d in nesting_depths(polygons)]
    area = float(sum(s * abs(a) for s, a in zip(signs, areas, strict=True)))
    if area <= 0:
        return None
    senses = tuple((a > 0) - (a < 0) for a in areas)
    return PlaneSection(z_mm, tuple(polygons), tuple(signs), area, senses)


def second_moment_axes(u: FloatArray, v: FloatArray) -> FloatArray:
    """Unit eigenvectors (columns, least spread first) of the second moments of area of the polygon
    with vertices (``u``, ``v``) about the origin of those coordinates (Green's theorem, either
    orientation of the vertices)."""
    u1, v1 = np.roll(u, -1), np.roll(v, -1)
    cross = u * v1 - u1 * v
    suu = float((cross * (u * u + u * u1 + u1 * u1)).sum()) / 12.0
    svv = float((cross * (v * v + v * v1 + v1 * v1)).sum()) / 12.0
    suv = float((cross * (u * v1 + 2 * u * v + 2 * u1 * v1 + u1 * v)).sum()) / 24.0
    _, vectors = np.linalg.eigh(np.array([[suu, suv], [suv, svv]]) * np.sign(suu + svv))
    return np.asarray(vectors, dtype=np.float64)


def _scaled(section: PlaneSection, z_mm: float, factor: float, minor_only: bool) -> PlaneSection | None:
    """A single-polygon section scaled about its centroid by ``factor``: along its minor
    principal axis only (``minor_only``: a tube lying across the planes narrows, its length
    stays) or in every direction (a compact section: the sections of an ellipsoid are scaled
    copies of one another). None when the factor is not positive."""
    if not factor > 0:
        return None
    (x, y), = section.polygons
    cx, cy = _centroid(section)
    u, v = x - cx, y - cy
    if minor_only:
        # second moments of the polygon's area about its centroid
        minor = second_moment_axes(u, v)[:, 0]  # the direction of least spread
        along = u * minor[0] + v * minor[1]
        u, v = u + (factor - 1.0) * along * minor[0], v + (factor - 1.0) * along * minor[1]
        area = section.area_mm2 * factor
    else:
        u, v = factor * u, factor * v
        area = section.area_mm2 * factor * factor
    return PlaneSection(z_mm, ((cx + u, cy + v),), section.signs, area, section.orientations)
