"""Planar contours of the phantom's solids on the CT slices, with sub-pixel accuracy.

For each CT slice that the solid touches (its voxel mask on the CT grid, grown by one pixel),
the solid's indicator is sampled on a fine in-plane lattice (a quarter of the CT pixel; half a
pixel for cross-sections wider than 40 pixels such as the External) and traced with marching
squares (contourpy, at level 0.5, so the line runs half-way between inside and outside samples:
within half a lattice step, 0.3 mm or 0.6 mm, of the true surface). The traced polygon is
then simplified (Ramer-Douglas-Peucker, 0.4 mm tolerance, 0.8 mm on the coarser lattice, which also removes the marching-squares staircase) to keep the structure set small.

Why not rt-utils' own tracing: ``RTStruct.add_roi`` traces the centres of the boundary voxels
of a mask, so every contour lies about half a CT pixel inside the structure; small organs lose
half their volume and a structure one or two voxels wide gets zero-area contours (the prior
Lens_L came out as 0.0 cc in dicompyler-core). rt-utils is still used for what it does well -
reading the CT series and building the structure set's references (see ``structure_writer``).
"""

from __future__ import annotations

from dataclasses import dataclass

import contourpy
import numpy as np
import numpy.typing as npt
from scipy import ndimage

from dosimetry.grid import RectilinearGrid

FloatArray = npt.NDArray[np.float64]

FINE_FRACTION = 4
#: Slices whose structure spans more than this many CT pixels are traced at half a pixel.
LARGE_SPAN_PIXELS = 40
SIMPLIFY_TOLERANCE_MM = 0.4


@dataclass(frozen=True)
class SliceContour:
    """One closed planar contour on CT slice ``slice_index``: ``points_xy_mm`` (N, 2) in the
    CT frame, z = the slice position."""

    slice_index: int
    points_xy_mm: FloatArray


def _rdp(points: FloatArray, tolerance: float) -> FloatArray:
    """Ramer-Douglas-Peucker simplification of an open polyline (keeps both ends)."""
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
        a = points[i]
        b = points[j]
        seg = points[i + 1 : j] - a
        ab = b - a
        length = float(np.hypot(ab[0], ab[1]))
        if length == 0.0:
            dist = np.hypot(seg[:, 0], seg[:, 1])
        else:
            dist = np.abs(ab[0] * seg[:, 1] - ab[1] * seg[:, 0]) / length
        k = int(np.argmax(dist))
        if dist[k] > tolerance:
            m = i + 1 + k
            keep[m] = True
            stack.append((i, m))
            stack.append((m, j))
    return points[keep]


def simplify_closed(points: FloatArray, tolerance_mm: float) -> FloatArray:
    """Simplify a closed polygon (first point not repeated at the end)."""
    if points.shape[0] <= 4:
        return points
    far = int(np.argmax(np.hypot(*(points - points[0]).T)))
    first = _rdp(points[: far + 1], tolerance_mm)
    second = _rdp(np.vstack([points[far:], points[:1]]), tolerance_mm)
    return np.vstack([first[:-1], second[:-1]])


def polygon_area_mm2(points_xy: FloatArray) -> float:
    x, y = points_xy[:, 0], points_xy[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def contour_solid(
    contains: object,
    coarse_mask_zyx: npt.NDArray[np.bool_],
    grid: RectilinearGrid,
    to_solid_frame: FloatArray,
    *,
    min_area_mm2: float = 0.5,
) -> tuple[SliceContour, ...]:
    """Contours of the solid (``contains(points (..., 3)) -> bool``, evaluated after mapping the
    CT-frame points with the 4x4 ``to_solid_frame``) on every CT slice where ``coarse_mask_zyx``
    (its voxel mask on ``grid``) is set."""
    grown = ndimage.binary_dilation(coarse_mask_zyx, structure=np.ones((1, 3, 3), dtype=bool))
    rotation = to_solid_frame[:3, :3]
    translation = to_solid_frame[:3, 3]
    out: list[SliceContour] = []
    for k in range(grid.shape_zyx[0]):
        rows, cols = np.nonzero(grown[k])
        if rows.size == 0:
            continue
        large = max(int(np.ptp(rows)), int(np.ptp(cols))) > LARGE_SPAN_PIXELS
        fine = grid.spacing_x_mm / (2 if large else FINE_FRACTION)
        x0 = grid.x_mm[cols.min()] - grid.spacing_x_mm
        x1 = grid.x_mm[cols.max()] + grid.spacing_x_mm
        y0 = grid.y_mm[rows.min()] - grid.spacing_y_mm
        y1 = grid.y_mm[rows.max()] + grid.spacing_y_mm
        xs = np.arange(x0, x1 + fine / 2, fine)
        ys = np.arange(y0, y1 + fine / 2, fine)
        yy, xx = np.meshgrid(ys, xs, indexing="ij")
        pts = np.stack([xx, yy, np.full_like(xx, grid.z_mm[k])], axis=-1) @ rotation.T + translation
        inside = np.asarray(contains(pts), dtype=np.float64)  # type: ignore[operator]
        inside[0, :] = inside[-1, :] = inside[:, 0] = inside[:, -1] = 0.0
        if not inside.any():
            continue
        generator = contourpy.contour_generator(x=xs, y=ys, z=inside, line_type=contourpy.LineType.Separate)
        for line in generator.lines(0.5):
            ring = np.asarray(line, dtype=np.float64)
            if ring.shape[0] > 1 and np.allclose(ring[0], ring[-1]):
                ring = ring[:-1]
            ring = simplify_closed(ring, SIMPLIFY_TOLERANCE_MM * (2.0 if large else 1.0))
            if ring.shape[0] < 3 or polygon_area_mm2(ring) < min_area_mm2:
                continue
            out.append(SliceContour(k, ring))
    return tuple(out)
