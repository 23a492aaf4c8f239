"""One ROI's dose samples, assembled: the supersampling factor, the ROI's window and z range on the
dose grid, and per range of dose slices the split of its voxels into interior voxels (one sample,
:mod:`dosimetry.dvh._voxel_stats`), steep interior voxels (:mod:`dosimetry.dvh._steep`) and
boundary voxels (:mod:`dosimetry.dvh._boundary`); then its :class:`DoseSamples` with the volume
outside the grid and the warnings. The model is described in :mod:`dosimetry.dvh.sampling`.
"""

from __future__ import annotations

import logging
import math
import weakref
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dosimetry.dose import DoseGrid
from dosimetry.dvh._boundary import (
    _PendingPieces,
    _piece_geometry,
    _PieceGeometry,
    _PreparedPieces,
    _piece_samples,
    _plane_stats,
    _PlaneStats,
)
from dosimetry.dvh._samples import DoseSamples
from dosimetry.dvh._steep import _covered_voxel_samples
from dosimetry.dvh._voxel_stats import VoxelBlock, _interior_voxel_samples, voxel_blocks
from dosimetry.dvh.endcaps import EndCapConvention, SlabStack
from dosimetry.dvh.geometry import RoiGeometry
from dosimetry.dvh.rasterise import (
    fine_window,
    geometry_for_grid,
    irregular_coverage_warning,
)
from dosimetry.errors import ArgumentError
from dosimetry.grid import RectilinearGrid
from dosimetry.structures import Roi

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
logger = logging.getLogger(__name__)

#: Target sub-voxel edge length (mm) of the automatic supersampling factor.
AUTO_SUBVOXEL_MM = 1.5
#: Bounds of the automatic supersampling factor (even, see :func:`auto_supersample`).
AUTO_MIN, AUTO_MAX = 2, 4
#: Fine pixels the automatic factor puts across an ROI's narrowest in-plane extent (bounding box)
#: in its boundary voxels, up to :data:`MAX_SUPERSAMPLE`. Measured reason (issue 13,
#: benchmarks/dvh_true_solids.py --only 'lens x0.6'): the dose over a partly covered fine pixel is
#: modelled as uniform over its covered part's mean +- sqrt(3) sd, which puts the top of a
#: rounded cap's dose too low by a fraction of the fine pixel; the lens-like ellipsoid 5.4 x 2.4 x
#: 4.2 mm (0.03 cc) in a 1 Gy/mm AP gradient on a 3 mm grid misses its Max by -2.45 to -2.59 % of
#: its 2.4 Gy span with 1.5 mm fine pixels (1.6 across its 2.4 mm), -0.61 % with 0.75 mm (3.2
#: across), -0.27 % with 0.5 mm.
AUTO_SUBPIXELS_ACROSS = 3.0
#: Largest supersampling factor accepted when asked for (n^2 fine pixels per boundary voxel and z
#: piece: 99 ran out of memory on the sample patient's External; 8 is 4x finer than the automatic one
#: on a 3 mm grid).
MAX_SUPERSAMPLE = 8


def auto_supersample(grid: RectilinearGrid, geometry: RoiGeometry | None = None) -> int:
    """Fine pixels per axis for sub-sampled voxels: the smallest even number giving sub-pixels of
    at most ~1.5 mm, between 2 and 4. Even, so that every fine pixel lies within one cell of the
    trilinear interpolant (whose kinks are the voxel-centre lines): the uniform-spread model of a
    sample is then exact for its linear part and a voxel's samples do not depend on which ROI
    covers it (an odd n, accepted when asked for, puts the kink inside the middle fine pixel).

    With ``geometry`` (the boundary voxels of that ROI): at least :data:`AUTO_SUBPIXELS_ACROSS`
    fine pixels across the ROI's narrowest in-plane bounding-box extent, still even, at most
    :data:`MAX_SUPERSAMPLE`. This changes only ROIs narrower in x or y than 3 fine pixels of the
    grid's factor (4.5 mm on a 3 mm grid, 3 mm on a 2 mm grid: lenses, thin optic nerves), whose
    boundary voxels are few, so the cost stays bounded."""
    largest = max(grid.spacing_x_mm, grid.spacing_y_mm, float(grid.slice_thickness_mm.max()))
    even = 2 * math.ceil(largest / (2 * AUTO_SUBVOXEL_MM) - 1e-9)
    n = int(min(max(even, AUTO_MIN), AUTO_MAX))
    if geometry is None:
        return n
    x_min, x_max, y_min, y_max = geometry.bounds_xy_mm
    narrowest_mm = min(x_max - x_min, y_max - y_min)
    if not narrowest_mm > 0:
        return n
    in_plane_mm = max(grid.spacing_x_mm, grid.spacing_y_mm)
    small = 2 * math.ceil(in_plane_mm * AUTO_SUBPIXELS_ACROSS / (2 * narrowest_mm) - 1e-9)
    return int(max(n, min(small, MAX_SUPERSAMPLE)))


@dataclass(frozen=True, eq=False)
class _PartialSamples:
    """An ROI's sample lists (some piece entries possibly still placeholders) and what
    :func:`_end_samples` needs to build its :class:`DoseSamples`."""

    roi: Roi
    geometry: RoiGeometry
    convention: EndCapConvention
    n: int
    doses: list[FloatArray]
    weights: list[FloatArray]
    spreads: list[FloatArray]
    irregular_warning: str


@dataclass(frozen=True, eq=False)
class _SlicePlan:
    """The part of an ROI's sampling on dose slices ``k_first .. k_last - 1`` that does not depend
    on the dose values: its window on the grid, the voxels whose every z piece its contour planes
    cover entirely (``interior``, before the dose-dependent split into steep and one-sample
    voxels), and its boundary pieces' geometry (``pieces``)."""

    k_first: int
    k_last: int
    start: tuple[int, int]
    shape: tuple[int, int]
    interior: _InteriorPlan | None
    pieces: _PieceGeometry | _PreparedPieces | None


@dataclass(frozen=True, eq=False)
class _InteriorPlan:
    """An ROI's interior voxels (every z piece of them covered entirely) on its slices: the
    bounding box of them on the grid (``window``: explicit start and stop on each axis), their
    mask over it, the same voxels in blocks of z slices for the one-sample model
    (:func:`~dosimetry.dvh._voxel_stats.voxel_blocks`) and each one's volume (cc), in C order
    (read-only arrays)."""

    window: tuple[slice, slice, slice]
    mask: npt.NDArray[np.bool_]
    blocks: tuple[VoxelBlock, ...]
    weight_cc: FloatArray


def _interior_plan(grid: RectilinearGrid, interior: npt.NDArray[np.bool_], corner: tuple[int, int, int]) -> _InteriorPlan:
    """:class:`_InteriorPlan` of the voxels of ``interior`` (not all false; its first voxel is the
    grid voxel ``corner``, (k, j, i)). The box is cut to them: each voxel's one-sample model
    depends on its 27-neighbourhood only, so a smaller window gives the same numbers."""
    box = []
    for axis in range(3):
        hit = np.flatnonzero(interior.any(axis=tuple(a for a in range(3) if a != axis)))
        box.append((int(hit[0]), int(hit[-1]) + 1))
    (k0, k1), (j0, j1), (i0, i1) = box
    mask = np.ascontiguousarray(interior[k0:k1, j0:j1, i0:i1])
    k, j, i = corner
    vox_cc = grid.voxel_volume_cc()
    weight = np.broadcast_to(vox_cc[k + k0 : k + k1, None, None], mask.shape)[mask]
    mask.flags.writeable = False
    weight.flags.writeable = False
    blocks = voxel_blocks(mask, (k + k0, j + j0, i + i0))
    return _InteriorPlan((slice(k + k0, k + k1), slice(j + j0, j + j1), slice(i + i0, i + i1)), mask, blocks, weight)


@dataclass(frozen=True, eq=False)
class _RoiPlan:
    """Everything of an ROI's samples on a grid that does not depend on the dose values: the
    same for every dose map on that grid (:func:`_roi_plan`)."""

    geometry: RoiGeometry
    convention: EndCapConvention
    n: int
    n_steep: int
    irregular_planes_mm: tuple[float, ...]
    slices: _SlicePlan | None


#: Per grid, the sampling plans of the ROI geometries callers passed in, by (geometry identity,
#: supersampling request); each entry keeps its geometry, so the identity stays its own. Measured
#: reason (issue 20, benchmarks/dvh_map_reuse.py on the clinical-size case): ``analyze`` samples
#: each ROI on up to 7 dose maps of one grid with the same geometry; the plan (polygon moments on
#: the fine grid, the boundary pieces' centroids and variances, the interior voxels) was 2/3 of the
#: sampling CPU and is the same on every map: the 6 maps after the first 2.2 -> 1.0 s (0.9 s with
#: the boundary pieces prepared, :func:`~dosimetry.dvh._boundary._prepared`; 0.7 s with the
#: interior voxels' blocks, :func:`~dosimetry.dvh._voxel_stats.voxel_blocks`). The plans of the 40
#: ROIs hold 31 MiB (the real-size breast plan's, 1.1 M boundary pieces: 97 MiB). Weak-keyed on the
#: grid: they go with the patient's grid (every map of a patient shares its planned dose's grid
#: object; :func:`release_sampling_plans` drops them earlier), not with the geometries, which
#: :func:`~dosimetry.dvh.rasterise.geometry_for_grid` keeps longer (an LRU over patients).
_PLANS: weakref.WeakKeyDictionary[RectilinearGrid, dict[tuple[int, int | None], tuple[RoiGeometry, _RoiPlan]]] = (
    weakref.WeakKeyDictionary()
)


def release_sampling_plans(grid: RectilinearGrid) -> None:
    """Drop the sampling plans kept for ROI geometries sampled on ``grid`` (they are otherwise kept
    as long as ``grid`` lives; sampling again makes them again, the same numbers)."""
    _PLANS.pop(grid, None)


def _checked_supersample(supersample: int | None) -> int | None:
    if supersample is None:
        return None
    if isinstance(supersample, bool) or not isinstance(supersample, (int, np.integer)) or not 1 <= supersample <= MAX_SUPERSAMPLE:
        raise ArgumentError(
            f"supersample must be a whole number of fine pixels per axis from 1 to {MAX_SUPERSAMPLE}, got {supersample!r}"
        )
    return int(supersample)


def _start_samples(
    dose: DoseGrid,
    roi: Roi,
    end_cap: EndCapConvention | str,
    supersample: int | None,
    spread: bool,
    single_plane_thickness_mm: float | None,
    geometry: RoiGeometry | None,
    defer: list[tuple[_PendingPieces, tuple[list[FloatArray], list[FloatArray], list[FloatArray]]]] | None,
    keep_plan: bool = True,
) -> _PartialSamples:
    convention = EndCapConvention.parse(end_cap)
    requested = _checked_supersample(supersample)
    grid = dose.grid
    if geometry is None:
        # the memoised geometry (the one a caller passing it gets): a plan kept for it on this grid
        # is used (not in a batch, whose pieces are finished together), a new one is not kept
        geometry = geometry_for_grid(roi, grid, convention, single_plane_thickness_mm)
        entry = _PLANS.get(grid, {}).get((id(geometry), requested)) if defer is None else None
        if entry is not None and entry[0] is geometry and entry[1].convention is convention:
            plan = entry[1]
        else:
            plan = _roi_plan(grid, geometry, convention, requested, False)
    else:
        # the samples are the geometry's, whatever ``end_cap`` says; its plan is reused on every
        # map of the same grid (``keep_plan`` false: a plan already kept is used, a new one is not kept)
        per_grid = _PLANS.get(grid, {})
        key = (id(geometry), requested)
        entry = per_grid.get(key)
        if entry is not None and entry[0] is geometry:
            plan = entry[1]
        else:
            plan = _roi_plan(grid, geometry, geometry.end_cap, requested, keep_plan)
            if keep_plan:
                _PLANS.setdefault(grid, {})[key] = (geometry, plan)
    return _plan_samples(dose, roi, plan, spread, defer)


def _roi_plan(
    grid: RectilinearGrid, geometry: RoiGeometry, convention: EndCapConvention, supersample: int | None, reused: bool
) -> _RoiPlan:
    """The dose-independent part of an ROI's samples on ``grid`` (``supersample`` already checked;
    ``reused``: the plan is kept for other maps, its boundary pieces are then prepared for them,
    :class:`~dosimetry.dvh._boundary._PreparedPieces`)."""
    if supersample is None:
        n_steep = auto_supersample(grid)
        # boundary voxels finer for narrow ROIs; steep interior voxels keep the grid's factor so
        # that they give every ROI covering them the same samples
        n = auto_supersample(grid, geometry)
    else:
        n = n_steep = supersample
    ze = grid.z_edges_mm
    dx, dy = grid.spacing_x_mm, grid.spacing_y_mm
    window = fine_window(geometry, grid)
    irregular: tuple[float, ...] = ()
    slices = None
    if window is not None:
        y0, y1, x0, x1 = window
        ny, nx = y1 - y0, x1 - x0
        x_origin = float(grid.x_edges_mm[x0])
        y_origin = float(grid.y_edges_mm[y0])
        stats = _plane_stats(geometry, (x_origin, y_origin), (dx, dy), (ny, nx), n)
        irregular = stats.irregular_planes_mm

        z_lo, z_hi = geometry.z_range_mm
        k_first = max(int(np.searchsorted(ze, z_lo, side="right")) - 1, 0)
        k_last = min(int(np.searchsorted(ze, z_hi, side="left")), grid.z_mm.size)
        if k_last > k_first:
            slices = _slice_plan(grid, stats, geometry.slabs, (k_first, k_last), (y0, x0), (ny, nx), n, reused)
    return _RoiPlan(geometry, convention, n, n_steep, irregular, slices)


def _plan_samples(
    dose: DoseGrid,
    roi: Roi,
    plan: _RoiPlan,
    spread: bool,
    defer: list[tuple[_PendingPieces, tuple[list[FloatArray], list[FloatArray], list[FloatArray]]]] | None,
) -> _PartialSamples:
    doses: list[FloatArray] = []
    weights: list[FloatArray] = []
    spreads: list[FloatArray] = []
    if plan.slices is not None:
        _sample_slices(dose, plan.slices, spread, doses, weights, spreads, defer, plan.n_steep)
    planes = plan.irregular_planes_mm
    warning = irregular_coverage_warning(roi.name, planes) if planes else ""
    return _PartialSamples(roi, plan.geometry, plan.convention, plan.n, doses, weights, spreads, warning)


def _end_samples(partial: _PartialSamples) -> DoseSamples:
    roi, geometry, n = partial.roi, partial.geometry, partial.n
    doses, weights, spreads = partial.doses, partial.weights, partial.spreads
    if doses:
        d = np.concatenate(doses)
        w = np.concatenate(weights)
        s = np.concatenate(spreads)
    else:
        d = w = s = np.zeros(0)
    # Spreads far below any bin width are numerically points (``s`` is a fresh array).
    s[s < 1e-9] = 0.0
    in_grid = float(w.sum())
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug(
            "ROI %r: %d dose samples (%d with a spread), supersampling %d, %.4g cc in the grid",
            roi.name, d.size, int(np.count_nonzero(s)), n, in_grid,
        )
    outside = geometry.volume_cc - in_grid
    outside = outside if outside > 1e-9 * max(1.0, geometry.volume_cc) else 0.0
    warnings = list(geometry.warnings)
    if partial.irregular_warning:
        warnings.append(partial.irregular_warning)
    if outside > 0:
        warnings.append(
            f"ROI {roi.name!r}: {outside:.4g} cc of {geometry.volume_cc:.4g} cc lies outside the dose grid"
        )
    return DoseSamples(
        dose_gy=d,
        weight_cc=w,
        spread_gy=s,
        volume_cc=geometry.volume_cc,
        volume_in_grid_cc=in_grid,
        volume_outside_grid_cc=outside,
        end_cap=partial.convention,
        supersample=n,
        warnings=tuple(warnings),
    )

def _slice_plan(
    grid: RectilinearGrid,
    stats: _PlaneStats,
    slabs: SlabStack,
    k_range: tuple[int, int],
    start: tuple[int, int],
    shape: tuple[int, int],
    n: int,
    prepare: bool,
) -> _SlicePlan:
    """The dose-independent part of the samples of dose slices k_range[0] .. k_range[1] - 1 (all at
    once, no per-slice loop); ``n`` fine pixels per axis in boundary voxels; ``prepare``: see
    :func:`~dosimetry.dvh._boundary._piece_geometry`."""
    ze = grid.z_edges_mm
    k_first, k_last = k_range
    y0, x0 = start
    ny, nx = shape
    x_origin = float(grid.x_edges_mm[x0])
    y_origin = float(grid.y_edges_mm[y0])
    # z pieces: dose voxel boundaries and contour slab boundaries; each piece lies in one dose slice
    # and in at most one slab.
    voxel_edges = ze[k_first : k_last + 1]
    bounds = np.concatenate([slabs.lower_mm, slabs.upper_mm])
    bounds = bounds[(bounds > voxel_edges[0]) & (bounds < voxel_edges[-1])]
    # voxel-centre planes too: the trilinear dose is then linear in z over every piece (it has a
    # kink at the centre plane), and covered steep voxels are cut the same way
    centres = grid.z_mm[k_first:k_last]
    cuts = np.unique(np.concatenate([voxel_edges, bounds, centres]))
    mids = 0.5 * (cuts[1:] + cuts[:-1])
    # (clipped: a piece one ulp thick next to the last edge can have its midpoint on that edge)
    piece_k = np.clip(np.searchsorted(voxel_edges, mids, side="right") - 1, 0, k_last - k_first - 1) + k_first
    plane = np.searchsorted(slabs.lower_mm, mids, side="right") - 1
    valid = (plane >= 0) & (mids < slabs.upper_mm[np.maximum(plane, 0)])
    n_slices = k_last - k_first
    slice_of = piece_k - k_first
    # pieces are sorted by z, so each slice's pieces are contiguous
    all_valid = np.ones(n_slices, dtype=bool)
    invalid_slices = slice_of[~valid]
    all_valid[invalid_slices] = False
    interior = np.zeros((n_slices, ny, nx), dtype=bool)
    touched = np.zeros((n_slices, ny, nx), dtype=bool)
    vp = np.flatnonzero(valid)
    if vp.size:
        group_slice, group_start = np.unique(slice_of[vp], return_index=True)
        interior[group_slice] = np.logical_and.reduceat(stats.full[plane[vp]], group_start, axis=0)
        touched[group_slice] = np.logical_or.reduceat(stats.any[plane[vp]], group_start, axis=0)
    interior &= all_valid[:, None, None]
    interior &= touched
    # the voxels the ROI touches but does not fill (interior voxels, steep or not, are sampled apart)
    partial = touched & ~interior
    # half-voxels in z (edge to centre plane): a fine pixel covered by every piece of a half is
    # one sample over the whole half, as in a covered steep voxel, whatever the ROI's slabs
    half_edges = np.unique(np.concatenate([voxel_edges, centres]))
    piece_half = np.clip(np.searchsorted(half_edges, mids, side="right") - 1, 0, half_edges.size - 2)
    half_gap = np.zeros(half_edges.size - 1, dtype=bool)
    half_gap[piece_half[~valid]] = True
    pieces = _piece_geometry(
        grid, stats, partial, cuts, plane, piece_k, vp, k_first, n_slices, (x_origin, y_origin), n,
        (half_edges, piece_half, half_gap), prepare,
    )
    inner = _interior_plan(grid, interior, (k_first, y0, x0)) if np.any(interior) else None
    return _SlicePlan(k_first, k_last, start, shape, inner, pieces)


def _sample_slices(
    dose: DoseGrid,
    plan: _SlicePlan,
    spread: bool,
    doses: list[FloatArray],
    weights: list[FloatArray],
    spreads: list[FloatArray],
    defer: list[tuple[_PendingPieces, tuple[list[FloatArray], list[FloatArray], list[FloatArray]]]] | None,
    n_steep: int,
) -> None:
    """Samples of the slices of ``plan`` on ``dose``: interior voxels, boundary pieces, then steep
    interior voxels (``n_steep`` fine pixels per axis)."""
    # interior voxels: one sample at the voxel's trilinear mean, unless the dose varies steeply
    # across the voxel: then it is sub-sampled exactly as a boundary voxel (dose-only criterion, so
    # every ROI covering the voxel sees the same samples)
    inner = plan.interior
    steep = None
    if inner is not None:
        centre, clipped, steep = _interior_voxel_samples(dose, inner.blocks)
        if np.any(steep):
            flat = ~steep
            centre, clipped, weight = centre[flat], clipped[flat], inner.weight_cc[flat]
        else:
            steep, weight = None, inner.weight_cc
        if centre.size:
            doses.append(centre)
            weights.append(weight)
            spreads.append(clipped if spread else np.zeros(centre.size))
    if plan.pieces is not None:
        _piece_samples(dose, plan.pieces, spread, doses, weights, spreads, defer)
    if inner is not None and steep is not None:
        steep_mask = np.zeros(inner.mask.shape, dtype=bool)
        steep_mask[inner.mask] = steep
        k, j, i = (w.start for w in inner.window)
        _covered_voxel_samples(dose, steep_mask, k, (j, i), n_steep, spread, doses, weights, spreads)
