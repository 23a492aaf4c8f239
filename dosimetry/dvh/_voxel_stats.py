"""Whole-voxel statistics of a dose grid over the window of voxels an ROI needs.

Per voxel: the mean of the trilinear dose over the voxel (a separable filter, [1, 6, 1] / 8 on a
uniform axis), its spread from central differences, the range of the 27 voxel-centre doses around
it, and whether it is steep (that range above :data:`STEEP_FRACTION` of the grid's largest
absolute dose: an interior steep voxel is sub-sampled, :mod:`dosimetry.dvh._steep`). Everything
here depends on the dose grid only and is computed element by element (from each voxel's
27-neighbourhood), so the numbers of a voxel are the same whichever ROI's window holds it.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dosimetry.dose import DoseGrid
from dosimetry.dvh._trilinear import _clipped_spread

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


#: Interior voxels whose 27 surrounding voxel-centre doses span more than this fraction of the
#: grid's largest absolute dose are sub-sampled like boundary voxels (the model and the measured
#: reason for 10 %: :mod:`dosimetry.dvh.sampling`).
STEEP_FRACTION = 0.1


_MAX_ABS_GY: weakref.WeakKeyDictionary[DoseGrid, float] = weakref.WeakKeyDictionary()


def steep_threshold_gy(dose: DoseGrid) -> float:
    """Dose range (Gy) above which an interior voxel counts as steep: depends on the dose only."""
    largest = _MAX_ABS_GY.get(dose)
    if largest is None:
        # max |d| without a temporary of the grid's size (negation and comparison are exact)
        largest = max(float(np.max(dose.dose_gy, initial=0.0)), -float(np.min(dose.dose_gy, initial=0.0)))
        _MAX_ABS_GY[dose] = largest
    return STEEP_FRACTION * largest


#: z slices per block when the model of a window is computed: the temporaries (about ten arrays of
#: the block's size) stay a fraction of the window (issue 20: they were ten copies of the grid).
INTERIOR_BLOCK_SLICES = 16

Window = tuple[slice, slice, slice]


def _window_blocks(window: Window) -> list[tuple[int, int]]:
    first, stop = window[0].start, window[0].stop
    return [(k, min(k + INTERIOR_BLOCK_SLICES, stop)) for k in range(first, stop, INTERIOR_BLOCK_SLICES)]


def _voxel_stats(dose: DoseGrid, window: Window) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """:func:`_block_voxel_stats` of the voxels of ``window`` (explicit start and stop on each axis),
    computed a block of z slices at a time."""
    shape = tuple(w.stop - w.start for w in window)
    out = tuple(np.empty(shape) for _ in range(4))
    j_range, i_range = (window[1].start, window[1].stop), (window[2].start, window[2].stop)
    for k0, k1 in _window_blocks(window):
        rows = slice(k0 - window[0].start, k1 - window[0].start)
        for array, block in zip(out, _block_voxel_stats(dose, (k0, k1), j_range, i_range, True), strict=True):
            array[rows] = block
    return out[0], out[1], out[2], out[3]


def _interior_samples(dose: DoseGrid, window: Window) -> tuple[FloatArray, FloatArray, npt.NDArray[np.bool_]]:
    """Over ``window`` (explicit start and stop on each axis): the one-sample model of every voxel
    (trilinear voxel mean, its spread clipped to the 27-neighbourhood range) and whether the voxel
    is steep (:data:`STEEP_FRACTION`).

    Computed for the window an ROI asks for, not cached per grid: each voxel's numbers depend on its
    27-neighbourhood only (a block reads one voxel of halo on each side) and the clipping is element
    by element, so every ROI gets the numbers one whole-grid pass gives its voxels. Measured on the
    clinical-size case (benchmarks/clinical_scale.py, 10.5 M voxels, 40 ROIs whose windows cover
    10 % of the grid; issue 20): the whole-grid model cached per grid took 0.6-1.4 s of the 3-4 s of
    ``dosimetry dvh`` and 178 MB; a cache of 16^3 tiles filled on demand 0.20 s (mostly first-touch
    page faults of the grid-size arrays); the External's window computed directly 0.04-0.05 s."""
    threshold_gy = steep_threshold_gy(dose)
    shape = tuple(w.stop - w.start for w in window)
    centre = np.empty(shape)
    spread = np.empty(shape)
    steep = np.empty(shape, dtype=bool)
    j_range, i_range = (window[1].start, window[1].stop), (window[2].start, window[2].stop)
    for k0, k1 in _window_blocks(window):
        rows = slice(k0 - window[0].start, k1 - window[0].start)
        block_centre, raw, lo, hi = _block_voxel_stats(dose, (k0, k1), j_range, i_range, True)
        centre[rows] = block_centre
        spread[rows] = _clipped_spread(block_centre, raw, lo, hi)
        steep[rows] = (hi - lo) > threshold_gy
    return centre, spread, steep


@dataclass(frozen=True, eq=False)
class VoxelBlock:
    """Some voxels of a grid within a few z slices: the box holding them (``k_range``, ``j_range``,
    ``i_range``: first and stop index on each axis) and their mask over it (read-only)."""

    k_range: tuple[int, int]
    j_range: tuple[int, int]
    i_range: tuple[int, int]
    mask: npt.NDArray[np.bool_]


def voxel_blocks(mask: npt.NDArray[np.bool_], corner: tuple[int, int, int]) -> tuple[VoxelBlock, ...]:
    """The voxels of ``mask`` (a box of the grid whose first voxel is ``corner``, (k, j, i)) in
    blocks of :data:`INTERIOR_BLOCK_SLICES` z slices, each cut to the box of its own voxels (a body's
    section changes along z: on the clinical-size case the External's blocks hold 27 % fewer
    voxels than its whole box). Blocks without a voxel are left out; the blocks' voxels in order,
    each block's in C order, are the mask's in C order."""
    blocks = []
    k, j, i = corner
    for first in range(0, mask.shape[0], INTERIOR_BLOCK_SLICES):
        part = mask[first : first + INTERIOR_BLOCK_SLICES]
        rows = np.flatnonzero(part.any(axis=(0, 2)))
        if rows.size == 0:
            continue
        slices = np.flatnonzero(part.any(axis=(1, 2)))
        cols = np.flatnonzero(part.any(axis=(0, 1)))
        k0, k1 = int(slices[0]), int(slices[-1]) + 1
        j0, j1 = int(rows[0]), int(rows[-1]) + 1
        i0, i1 = int(cols[0]), int(cols[-1]) + 1
        box = np.ascontiguousarray(part[k0:k1, j0:j1, i0:i1])
        box.flags.writeable = False
        blocks.append(VoxelBlock((k + first + k0, k + first + k1), (j + j0, j + j1), (i + i0, i + i1), box))
    return tuple(blocks)


def _interior_voxel_samples(
    dose: DoseGrid, blocks: tuple[VoxelBlock, ...]
) -> tuple[FloatArray, FloatArray, npt.NDArray[np.bool_]]:
    """:func:`_interior_samples` of the voxels of ``blocks`` (:func:`voxel_blocks`) only, in their
    order: their trilinear voxel means, clipped spreads and whether they are steep, the same
    numbers. The filter runs on each block's box (a voxel's mean, raw spread and range depend on
    its 27-neighbourhood only); the clipping and the steep test, element by element, on the
    voxels of the block only. Measured reason (issue 20, clinical-size case): the External's window
    is 80 % of the one-sample model's time on every map and half of its voxels are not interior;
    for the 40 ROIs, the model 0.078 -> 0.064 s CPU per map with the voxels of a bounding box
    (in-process A/B, min of 5); with the blocks cut to their own voxels (27 % fewer) on top,
    benchmarks/dvh_map_reuse.py's 6 maps after the first 0.82 -> 0.73 s (median of 5)."""
    threshold_gy = steep_threshold_gy(dose)
    centres: list[FloatArray] = []
    spreads: list[FloatArray] = []
    steeps: list[npt.NDArray[np.bool_]] = []
    for block in blocks:
        block_centre, raw, lo, hi = _block_voxel_stats(dose, block.k_range, block.j_range, block.i_range, True)
        mask = block.mask
        centre, lo, hi = block_centre[mask], lo[mask], hi[mask]
        centres.append(centre)
        spreads.append(_clipped_spread(centre, raw[mask], lo, hi))
        steeps.append((hi - lo) > threshold_gy)
    if not centres:
        return np.zeros(0), np.zeros(0), np.zeros(0, dtype=bool)
    if len(centres) == 1:
        return centres[0], spreads[0], steeps[0]
    return np.concatenate(centres), np.concatenate(spreads), np.concatenate(steeps)


def whole_grid(dose: DoseGrid) -> Window:
    """The window of every voxel of ``dose``'s grid."""
    nz, ny, nx = dose.grid.shape_zyx
    return (slice(0, nz), slice(0, ny), slice(0, nx))


def _block_voxel_stats(
    dose: DoseGrid, k_range: tuple[int, int], j_range: tuple[int, int], i_range: tuple[int, int], spread: bool
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Over a block of voxels: the mean of the trilinear dose over each voxel, the spread
    sqrt(sum (g_i h_i)^2) from central differences (one-sided at the grid border), and the minimum
    and maximum of the 27 voxel-centre doses around each voxel (the trilinear dose over the voxel
    stays within them).

    The trilinear dose is a tensor product of piecewise-linear functions, so its voxel mean is a
    separable filter: along each axis ``d + (w_+ (d_+ - d) + w_- (d_- - d)) / 4`` with ``w_+-`` the
    fractions of the voxel on either side of its centre (1/2 each on a uniform axis); beyond the
    outermost centres the dose is held, which repeating the border value reproduces.
    """
    grid = dose.grid
    index = []
    coords = []
    edges = []
    for (first, last), axis_mm, axis_edges in zip(
        (k_range, j_range, i_range), (grid.z_mm, grid.y_mm, grid.x_mm), (grid.z_edges_mm, grid.y_edges_mm, grid.x_edges_mm), strict=True
    ):
        idx = np.clip(np.arange(first - 1, last + 1), 0, axis_mm.size - 1)
        index.append(idx)
        coords.append(axis_mm[idx])
        edges.append((axis_edges[first:last], axis_mm[first:last], axis_edges[first + 1 : last + 1]))
    if all(first >= 1 and last < size for (first, last), size in zip((k_range, j_range, i_range), dose.dose_gy.shape, strict=True)):
        # away from the grid's border the halo is a plain slice: copied contiguous, the same values
        # as the gather (which repeats border values), in a third of its time
        block = np.ascontiguousarray(
            dose.dose_gy[k_range[0] - 1 : k_range[1] + 1, j_range[0] - 1 : j_range[1] + 1, i_range[0] - 1 : i_range[1] + 1]
        )
    else:
        block = dose.dose_gy[np.ix_(*index)]
    centre = block[1:-1, 1:-1, 1:-1]
    # 27-neighbourhood range and trilinear voxel mean, one axis at a time
    lo = block
    hi = block
    mean = block
    for axis in range(3):
        lower = [slice(None)] * 3
        middle = [slice(None)] * 3
        upper = [slice(None)] * 3
        lower[axis], middle[axis], upper[axis] = slice(None, -2), slice(1, -1), slice(2, None)
        lo_next = np.minimum(lo[tuple(lower)], lo[tuple(middle)])
        hi_next = np.maximum(hi[tuple(lower)], hi[tuple(middle)])
        lo = np.minimum(lo_next, lo[tuple(upper)], out=lo_next)
        hi = np.maximum(hi_next, hi[tuple(upper)], out=hi_next)
        e_lo, c, e_hi = edges[axis]
        below, above = c - e_lo, e_hi - c
        shape = [1, 1, 1]
        shape[axis] = -1
        w_up = (above / (above + below)).reshape(shape)
        d = mean[tuple(middle)]
        if np.all(w_up == 0.5):  # the same numbers: halving and quartering are exact
            step_up = mean[tuple(upper)] - d
            step_up += mean[tuple(lower)] - d
            step_up *= 0.125
            step_up += d
            mean = step_up
        else:
            mean = d + 0.25 * (w_up * (mean[tuple(upper)] - d) + (1.0 - w_up) * (mean[tuple(lower)] - d))
    mean = np.minimum(np.maximum(mean, lo), hi)
    if not spread:
        return mean, np.zeros_like(centre), lo, hi
    sizes = (grid.slice_thickness_mm[k_range[0] : k_range[1]], grid.spacing_y_mm, grid.spacing_x_mm)
    total = np.zeros_like(centre)
    for axis in range(3):
        up = [slice(1, -1)] * 3
        down = [slice(1, -1)] * 3
        up[axis] = slice(2, None)
        down[axis] = slice(None, -2)
        c = coords[axis]
        span = c[2:] - c[:-2]
        inv = np.divide(1.0, span, out=np.zeros_like(span), where=span > 0)
        shape = [1, 1, 1]
        shape[axis] = -1
        size = np.asarray(sizes[axis], dtype=np.float64)
        factor = (inv * size if size.ndim else inv * float(size)).reshape(shape)
        difference = block[tuple(up)] - block[tuple(down)]
        difference *= factor
        np.square(difference, out=difference)
        total += difference
    return mean, np.sqrt(total), lo, hi
