"""Fractional occupancy of an ROI on a dose grid, exact for the stacked-slab solid.

For every contour plane the exact area of its polygons (holes subtracted) inside each pixel of the
grid is computed by edge integration (:mod:`dosimetry.dvh.planar`); the plane's slab (see
:mod:`dosimetry.dvh.endcaps`) is intersected with the z extent of each grid voxel, so the
occupancy of voxel (k, j, i) is

    sum over planes p of  area(p n pixel(j, i)) / pixel area  x  overlap(slab p, voxel k) / thickness(k).

This is the exact volume fraction of the voxel inside the stacked-slab solid the contours describe
(to floating-point precision), not an estimate by point sampling. :mod:`dosimetry.dvh.sampling`
uses the same edge integration on a finer grid, with moments, to place and weight dose samples.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dosimetry.dvh.endcaps import DEFAULT_END_CAP, EndCapConvention, overlap_matrix
from dosimetry.dvh.geometry import RoiGeometry, roi_geometry
from dosimetry.dvh.planar import pixel_coverage
from dosimetry.errors import GeometryError
from dosimetry.grid import RectilinearGrid
from dosimetry.structures import Roi

FloatArray = npt.NDArray[np.float64]
logger = logging.getLogger(__name__)

#: Occupancies within this of 0 or 1 are snapped (floating-point residue of exact arithmetic).
SNAP = 1e-9
#: A plane's pixel coverage outside [-tol, 1 + tol] means self-intersecting or overlapping contours.
COVERAGE_TOLERANCE = 1e-6


def irregular_coverage_warning(roi_name: str, planes_mm: tuple[float, ...]) -> str:
    shown = ", ".join(f"{z:.2f}" for z in planes_mm[:5]) + (" ..." if len(planes_mm) > 5 else "")
    return (
        f"ROI {roi_name!r}: contours on {len(planes_mm)} plane(s) (z = {shown} mm) self-intersect or overlap "
        "(pixel coverage outside 0..1); areas count by signed winding and are clipped to 0..1 per voxel"
    )


@dataclass(frozen=True, eq=False)
class RoiOccupancy:
    """Fraction (0..1) of each voxel of ``grid`` inside an ROI, array order (z, y, x).

    ``volume_cc`` is the volume of the ROI's stacked-slab solid from its contours (whether or not
    inside the grid), ``volume_in_grid_cc`` the part inside the grid (sum of occupancy x voxel
    volume) and ``volume_outside_grid_cc`` the difference.
    """

    roi_name: str
    roi_number: int
    grid: RectilinearGrid
    occupancy: FloatArray
    volume_cc: float
    volume_in_grid_cc: float
    volume_outside_grid_cc: float
    end_cap: EndCapConvention
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.occupancy.flags.writeable = False

    def voxel_volumes_cc(self) -> FloatArray:
        """Occupied volume of each voxel, cc, shape (z, y, x)."""
        return self.occupancy * self.grid.voxel_volume_cc()[:, None, None]


@dataclass(frozen=True, eq=False)
class FineSlice:
    """Occupancy of one dose-grid z slice on a grid subdivided ``n`` times per axis.

    ``occupancy`` has shape (n, ny * n, nx * n) for the window ``y_index``/``x_index`` (coarse
    voxel index ranges) of slice ``z_index``.
    """

    z_index: int
    y_start: int
    x_start: int
    n: int
    occupancy: FloatArray

    @property
    def coarse_shape(self) -> tuple[int, int]:
        return self.occupancy.shape[1] // self.n, self.occupancy.shape[2] // self.n


def fine_window(geometry: RoiGeometry, grid: RectilinearGrid) -> tuple[int, int, int, int] | None:
    """Coarse index range [y0, y1) x [x0, x1) of the grid touched by the ROI's xy bounds."""
    x_min, x_max, y_min, y_max = geometry.bounds_xy_mm
    xe, ye = grid.x_edges_mm, grid.y_edges_mm
    x0 = max(int(np.searchsorted(xe, x_min, side="right")) - 1, 0)
    x1 = min(int(np.searchsorted(xe, x_max, side="left")), grid.x_mm.size)
    y0 = max(int(np.searchsorted(ye, y_min, side="right")) - 1, 0)
    y1 = min(int(np.searchsorted(ye, y_max, side="left")), grid.y_mm.size)
    if x1 <= x0 or y1 <= y0:
        return None
    return y0, y1, x0, x1


def iter_fine_occupancy(
    geometry: RoiGeometry, grid: RectilinearGrid, n: int, irregular: list[float] | None = None
) -> Iterator[FineSlice]:
    """Yield, slice by slice, the exact occupancy of the ROI on the grid subdivided ``n`` times.

    Only z slices the ROI's slabs overlap are yielded, each for the xy window of the ROI's
    bounding box. Plane coverages are computed once and released when no longer needed. The z of
    planes whose coverage leaves 0..1 (self-intersecting or overlapping contours) are appended to
    ``irregular`` when given.
    """
    if irregular is None:
        irregular = []
    if n < 1:
        raise GeometryError(f"supersampling factor must be >= 1, got {n}")
    window = fine_window(geometry, grid)
    if window is None:
        return
    y0, y1, x0, x1 = window
    nyf, nxf = (y1 - y0) * n, (x1 - x0) * n
    fine_dx = grid.spacing_x_mm / n
    fine_dy = grid.spacing_y_mm / n
    x_origin = grid.x_edges_mm[x0]
    y_origin = grid.y_edges_mm[y0]
    ze = grid.z_edges_mm
    slabs = geometry.slabs
    cache: dict[int, FloatArray] = {}

    def coverage(p: int) -> FloatArray:
        if p not in cache:
            section = geometry.sections[p]
            polys = [((x - x_origin) / fine_dx, (y - y_origin) / fine_dy) for x, y in section.polygons]
            cov = pixel_coverage(polys, list(section.signs), nxf, nyf)
            if cov.min(initial=0.0) < -COVERAGE_TOLERANCE or cov.max(initial=0.0) > 1 + COVERAGE_TOLERANCE:
                irregular.append(section.z_mm)
            cache[p] = np.clip(cov, 0.0, 1.0)
        return cache[p]

    z_lo, z_hi = geometry.z_range_mm
    k_first = max(int(np.searchsorted(ze, z_lo, side="right")) - 1, 0)
    k_last = min(int(np.searchsorted(ze, z_hi, side="left")), grid.z_mm.size)
    for k in range(k_first, k_last):
        sub_edges = ze[k] + (ze[k + 1] - ze[k]) * np.arange(n + 1) / n
        overlap = overlap_matrix(sub_edges[:-1], sub_edges[1:], slabs.lower_mm, slabs.upper_mm)
        weights = overlap / (sub_edges[1:] - sub_edges[:-1])[:, None]
        planes = np.flatnonzero(weights.sum(axis=0) > 0)
        for stale in [p for p in cache if p < (planes[0] if planes.size else 0)]:
            del cache[stale]
        if planes.size == 0:
            continue
        occ = np.zeros((n, nyf, nxf))
        for p in planes:
            cov = coverage(int(p))
            for s in range(n):
                if weights[s, p] > 0:
                    occ[s] += weights[s, p] * cov
        np.clip(occ, 0.0, 1.0, out=occ)
        occ[occ < SNAP] = 0.0
        occ[occ > 1.0 - SNAP] = 1.0
        yield FineSlice(k, y0, x0, n, occ)


def rasterise_roi(
    roi: Roi,
    grid: RectilinearGrid,
    *,
    end_cap: EndCapConvention | str = DEFAULT_END_CAP,
    single_plane_thickness_mm: float | None = None,
    geometry: RoiGeometry | None = None,
) -> RoiOccupancy:
    """Exact fractional occupancy of ``roi`` on ``grid`` under the end-cap convention.

    ``single_plane_thickness_mm``: slab thickness of an ROI with a single contour plane (default:
    the grid's slice thickness at that plane, with a warning). ``geometry`` may pass a
    precomputed :func:`roi_geometry` of ``roi``; the occupancy is then labelled with the geometry's
    convention (``end_cap`` is not used).
    """
    convention = EndCapConvention.parse(end_cap)
    if geometry is None:
        geometry = geometry_for_grid(roi, grid, convention, single_plane_thickness_mm)
    else:
        convention = geometry.end_cap
    occupancy = np.zeros(grid.shape_zyx)
    irregular: list[float] = []
    for piece in iter_fine_occupancy(geometry, grid, 1, irregular):
        ny, nx = piece.coarse_shape
        occupancy[piece.z_index, piece.y_start : piece.y_start + ny, piece.x_start : piece.x_start + nx] = piece.occupancy[0]
    in_grid = float((occupancy.sum(axis=(1, 2)) * grid.voxel_volume_cc()).sum())
    outside = max(geometry.volume_cc - in_grid, 0.0)
    warnings = list(geometry.warnings)
    if irregular:
        warnings.append(irregular_coverage_warning(roi.name, tuple(sorted(set(irregular)))))
    if outside > 1e-6 * max(geometry.volume_cc, 1e-9):
        warnings.append(
            f"ROI {roi.name!r}: {outside:.4g} cc of {geometry.volume_cc:.4g} cc lies outside the grid"
        )
    return RoiOccupancy(
        roi_name=roi.name,
        roi_number=roi.number,
        grid=grid,
        occupancy=occupancy,
        volume_cc=geometry.volume_cc,
        volume_in_grid_cc=in_grid,
        volume_outside_grid_cc=outside if outside > 1e-9 else 0.0,
        end_cap=convention,
        warnings=tuple(warnings),
    )


#: Geometries kept by :func:`geometry_for_grid` (least recently used evicted first). One analysis
#: asks for each ROI's geometry from every step that samples it (DVH stage, re-irradiation limits,
#: checks, indices, report, convention spreads); the shape model costs 4.2 s of a 9.9 s
#: ``dosimetry analyze`` of sample_data/patient01 when rebuilt each time. Bounded so that a batch of
#: many patients does not grow memory beyond it: one analysis needs about 1.7 entries per ROI
#: (sample_data/patient01: 46 for 18 ROIs; a 40-ROI clinical set: 68), so 256 holds a structure set
#: of about 150 ROIs; 64 was measured too small (the clinical set rebuilt 27 of its 40 shapes).
GEOMETRY_CACHE_SIZE = 256

_GeometryKey = tuple[int, EndCapConvention, float | None]
_geometry_cache: OrderedDict[_GeometryKey, tuple[Roi, RoiGeometry]] = OrderedDict()
_geometry_cache_lock = threading.Lock()


def clear_geometry_cache() -> None:
    """Forget every geometry :func:`geometry_for_grid` keeps."""
    with _geometry_cache_lock:
        _geometry_cache.clear()


def geometry_for_grid(
    roi: Roi,
    grid: RectilinearGrid,
    convention: EndCapConvention,
    single_plane_thickness_mm: float | None,
) -> RoiGeometry:
    """:func:`roi_geometry`, defaulting a single plane's thickness to the grid's slice there.

    Memoised (bounded LRU of :data:`GEOMETRY_CACHE_SIZE`) by the ROI object's identity (the entry
    keeps the ROI, so its id cannot be reused by another object while cached), the convention and
    the effective single-plane thickness: the given one, else the grid's slice thickness at the
    ROI's plane (None for an ROI on several planes, whose geometry does not depend on the grid).
    A geometry is immutable, so sharing one between callers is safe; errors are not cached."""

    def grid_slice_thickness() -> float | None:
        """The grid's slice thickness at the ROI's plane, when its contours agree on one plane."""
        first_z = {round(float(c.points_mm[0, 2]), 2) for c in roi.closed_planar_contours}
        planes = roi.contour_planes_mm() if len(first_z) == 1 else np.zeros(2)
        if planes.size == 1:
            ze = grid.z_edges_mm
            k = int(np.searchsorted(ze, planes[0], side="right")) - 1
            if 0 <= k < grid.z_mm.size:
                return float(ze[k + 1] - ze[k])
        return None

    thickness_mm = single_plane_thickness_mm if single_plane_thickness_mm is not None else grid_slice_thickness()
    key: _GeometryKey = (id(roi), convention, thickness_mm)
    with _geometry_cache_lock:
        entry = _geometry_cache.get(key)
        if entry is not None and entry[0] is roi:
            _geometry_cache.move_to_end(key)
            return entry[1]
    # the default matters only for a single-plane ROI: roi_geometry asks for it only then
    geometry = roi_geometry(
        roi,
        convention,
        single_plane_thickness_mm=single_plane_thickness_mm,
        default_single_plane_thickness=lambda: thickness_mm,
    )
    with _geometry_cache_lock:
        _geometry_cache[key] = (roi, geometry)
        _geometry_cache.move_to_end(key)
        while len(_geometry_cache) > GEOMETRY_CACHE_SIZE:
            _geometry_cache.popitem(last=False)
    return geometry
