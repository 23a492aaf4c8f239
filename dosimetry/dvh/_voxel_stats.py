"""Whole-voxel statistics of a dose grid, computed once per grid and shared by every ROI on it.

Per voxel: the mean of the trilinear dose over the voxel (a separable filter, [1, 6, 1] / 8 on a
uniform axis), its spread from central differences, the range of the 27 voxel-centre doses around
it, and whether it is steep (that range above :data:`STEEP_FRACTION` of the grid's largest
absolute dose: an interior steep voxel is sub-sampled, :mod:`dosimetry.dvh._steep`). Everything
here depends on the dose grid only and is computed element by element, so the whole-grid arrays
(weak-keyed on the :class:`~dosimetry.dose.DoseGrid`, filled tile by tile where some ROI needs
them) give each ROI the numbers it would compute for its own voxels.
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


#: Edge (voxels) of the tiles along z, y and x in which the per-grid arrays are built on demand:
#: only the tiles under some ROI's window are computed (on the clinical-size case, 10.5 M voxels,
#: the 40 ROIs' windows cover 10 % of the grid: the whole-grid model took 0.6-1.4 s of the 3-4 s of
#: ``dosimetry dvh``, issue 20). Each voxel's numbers depend on its 27-neighbourhood only (a box
#: reads one voxel of halo on each side), so any tiling gives the numbers of one whole-grid pass.
TILE_ZYX = (16, 16, 16)

#: z slices per block when a box of tiles is computed: the temporaries (about ten arrays of the
#: block's size) stay a fraction of the grid (issue 20: they were ten copies of the grid).
INTERIOR_BLOCK_SLICES = 16

Window = tuple[slice, slice, slice]
Box = tuple[tuple[int, int], tuple[int, int], tuple[int, int]]


@dataclass(frozen=True, eq=False)
class _TiledArrays:
    """Whole-grid arrays (z, y, x) of which only the tiles marked in ``done`` are filled; the
    others are allocated but never written (untouched pages cost no memory)."""

    arrays: tuple[npt.NDArray[np.generic], ...]
    done: npt.NDArray[np.bool_]

    @classmethod
    def empty(cls, shape_zyx: tuple[int, int, int], dtypes: tuple[type[np.generic], ...]) -> _TiledArrays:
        tiles = tuple(-(-m // t) for m, t in zip(shape_zyx, TILE_ZYX, strict=True))
        return cls(tuple(np.empty(shape_zyx, dtype=d) for d in dtypes), np.zeros(tiles, dtype=bool))

    def missing_box(self, window: Window) -> Box | None:
        """The voxel box (per axis first, last + 1) of the smallest block of tiles holding every
        tile of ``window`` not yet filled, or None when all are filled."""
        bounds = [(w.start, w.stop) for w in window]
        if any(stop <= start for start, stop in bounds):
            return None
        first = [start // t for (start, _), t in zip(bounds, TILE_ZYX, strict=True)]
        last = [-(-stop // t) for (_, stop), t in zip(bounds, TILE_ZYX, strict=True)]
        todo = ~self.done[first[0] : last[0], first[1] : last[1], first[2] : last[2]]
        if not todo.any():
            return None
        box = []
        for axis, (f, t, m) in enumerate(zip(first, TILE_ZYX, self.arrays[0].shape, strict=True)):
            other = tuple(a for a in range(3) if a != axis)
            hit = np.flatnonzero(todo.any(axis=other))
            box.append(((f + int(hit[0])) * t, min((f + int(hit[-1]) + 1) * t, m)))
        return (box[0], box[1], box[2])

    def mark(self, box: Box) -> None:
        (k0, k1), (j0, j1), (i0, i1) = box
        tz, ty, tx = TILE_ZYX
        self.done[k0 // tz : -(-k1 // tz), j0 // ty : -(-j1 // ty), i0 // tx : -(-i1 // tx)] = True

    def views(self, window: Window) -> tuple[npt.NDArray[np.generic], ...]:
        out = []
        for array in self.arrays:
            view = array[window]
            view.flags.writeable = False
            out.append(view)
        return tuple(out)


_VOXEL_STATS: weakref.WeakKeyDictionary[DoseGrid, _TiledArrays] = weakref.WeakKeyDictionary()


def _voxel_stats(dose: DoseGrid, window: Window) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """:func:`_block_voxel_stats` over ``window`` (read-only views), built tile by tile on demand
    and kept per dose grid (its dose array is read-only) for every ROI sampled on it."""
    tiled = _VOXEL_STATS.get(dose)
    if tiled is None:
        tiled = _TiledArrays.empty(dose.grid.shape_zyx, (np.float64,) * 4)
        _VOXEL_STATS[dose] = tiled
    box = tiled.missing_box(window)
    if box is not None:
        (k0, k1), (j0, j1), (i0, i1) = box
        for kb in range(k0, k1, INTERIOR_BLOCK_SLICES):
            ke = min(kb + INTERIOR_BLOCK_SLICES, k1)
            for array, block in zip(tiled.arrays, _block_voxel_stats(dose, (kb, ke), (j0, j1), (i0, i1), True), strict=True):
                array[kb:ke, j0:j1, i0:i1] = block
        tiled.mark(box)
    centre, raw, lo, hi = tiled.views(window)
    return centre, raw, lo, hi  # type: ignore[return-value]


_INTERIOR: weakref.WeakKeyDictionary[DoseGrid, _TiledArrays] = weakref.WeakKeyDictionary()


def _interior_samples(dose: DoseGrid, window: Window) -> tuple[FloatArray, FloatArray, npt.NDArray[np.bool_]]:
    """Over ``window`` (read-only views): the one-sample model of every voxel (trilinear voxel
    mean, its spread clipped to the 27-neighbourhood range) and whether the voxel is steep
    (:data:`STEEP_FRACTION`). Built tile by tile on demand and kept per dose grid; the clipping is
    element by element, so every ROI gets the numbers it would compute for its own voxels."""
    tiled = _INTERIOR.get(dose)
    if tiled is None:
        tiled = _TiledArrays.empty(dose.grid.shape_zyx, (np.float64, np.float64, np.bool_))
        _INTERIOR[dose] = tiled
    box = tiled.missing_box(window)
    if box is not None:
        threshold_gy = steep_threshold_gy(dose)
        centre, spread, steep = tiled.arrays
        (k0, k1), (j0, j1), (i0, i1) = box
        for kb in range(k0, k1, INTERIOR_BLOCK_SLICES):
            ke = min(kb + INTERIOR_BLOCK_SLICES, k1)
            block_centre, raw, lo, hi = _block_voxel_stats(dose, (kb, ke), (j0, j1), (i0, i1), True)
            target = (slice(kb, ke), slice(j0, j1), slice(i0, i1))
            centre[target] = block_centre
            spread[target] = _clipped_spread(block_centre, raw, lo, hi)
            steep[target] = (hi - lo) > threshold_gy
        tiled.mark(box)
    dose_gy, spread_gy, steep_mask = tiled.views(window)
    return dose_gy, spread_gy, steep_mask  # type: ignore[return-value]


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
