"""Sub-samples of steep interior voxels (see :mod:`dosimetry.dvh._voxel_stats`): n x n fine pixels
x the two halves of the voxel on either side of its centre plane, computed once per dose grid and
``n`` and gathered per ROI. They depend on the dose grid only, so a steep voxel gives the same
samples to every ROI covering it, and the same as a boundary voxel's whole fine pixels.

Hand-written fast path: for an even ``n`` every sub-voxel centre sits at a fixed fraction of one
interpolation cell, so the samples are a fixed separable interpolation of each voxel's
27-neighbourhood (:func:`_steep_samples_in_cells`) instead of a trilinear evaluation at every
sub-voxel centre (:func:`_steep_samples_at_points`: odd ``n``, and the oracle of
tests/test_dvh_fastpaths.py, equal to 1e-15 relative). Measured with benchmarks/dvh_fast_paths.py
on the sample patient (7,837 steep voxels, n = 2): 2.9-4.1 ms against 5.1-7.6 ms per grid. No
matrix product: a multithreaded BLAS call kept the second core busy after returning (CPU 217 ms
against wall 110 ms per structure set).
"""

from __future__ import annotations

import weakref

import numpy as np
import numpy.typing as npt

from dosimetry.dose import DoseGrid
from dosimetry.dvh._trilinear import _axis_steps, _clipped_spread, _sample_dose

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Steep voxels sub-sampled per block (bounds the temporaries: ~27 doubles per voxel and sample
#: quantity; 32768 voxels keep each below ~8 MB).
STEEP_BLOCK_VOXELS = 32768

#: per dose grid and n: the flat indices (sorted) of the steep voxels sampled so far and their
#: samples' dose, spread and weight (rows in the same order)
_STEEP_SAMPLES: weakref.WeakKeyDictionary[DoseGrid, dict[int, tuple[IntArray, FloatArray, FloatArray, FloatArray]]] = (
    weakref.WeakKeyDictionary()
)


def _steep_voxel_samples(dose: DoseGrid, n: int, wanted: IntArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Samples of the voxels with sorted flat indices ``wanted`` (steep voxels, see the module
    docstring): per voxel (rows), the dose, spread and weight (cc) of its 2 n^2 sub-voxel samples
    (fine pixel s = n * row + column, lower then upper half in z). They depend on the dose grid, the
    voxel and ``n`` only, so each voxel's are computed once per grid and ``n`` (when some ROI first
    needs them) and kept in a table sorted by flat index."""
    per_grid = _STEEP_SAMPLES.setdefault(dose, {})
    empty = np.zeros((0, 2 * n * n))
    cached = per_grid.get(n, (np.zeros(0, dtype=np.int64), empty, empty, empty))
    known = cached[0]
    rows = np.searchsorted(known, wanted)
    found = rows < known.size
    found[found] = known[rows[found]] == wanted[found]
    if not found.all():
        new_index = wanted[~found]
        sample = _steep_samples_in_cells if n % 2 == 0 else _steep_samples_at_points
        # in blocks of voxels, so that the temporaries stay small on a large grid (each voxel's
        # samples depend on that voxel only)
        blocks = [sample(dose, new_index[i : i + STEEP_BLOCK_VOXELS], n) for i in range(0, new_index.size, STEEP_BLOCK_VOXELS)]
        index = np.concatenate([known, new_index])
        order = np.argsort(index, kind="stable")
        merged = [index[order]]
        for q in range(3):
            merged.append(np.concatenate([cached[q + 1], *(b[q] for b in blocks)])[order])
        for array in merged:
            array.flags.writeable = False
        cached = (merged[0], merged[1], merged[2], merged[3])
        per_grid[n] = cached
        rows = np.searchsorted(cached[0], wanted)
    return cached[1][rows], cached[2][rows], cached[3][rows]


def _steep_samples_at_points(dose: DoseGrid, flat_index: IntArray, n: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    """:func:`_steep_voxel_samples` by evaluating :func:`_sample_dose` at every sub-voxel centre
    (any ``n``; an odd ``n`` puts a fine pixel centre on the voxel centre, a kink of the
    interpolant)."""
    grid = dose.grid
    ks, jj, ii = np.unravel_index(flat_index, grid.shape_zyx)
    fdx, fdy = grid.spacing_x_mm / n, grid.spacing_y_mm / n
    ze = grid.z_edges_mm
    # n x n fine pixels x the two halves of the voxel on either side of its centre plane
    sy, sx = np.divmod(np.arange(n * n), n)
    per = 2 * n * n
    k = np.repeat(ks, per)
    px = np.repeat(grid.x_edges_mm[ii][:, None] + (sx[None, :] + 0.5) * fdx, 2, axis=1).reshape(-1)
    py = np.repeat(grid.y_edges_mm[jj][:, None] + (sy[None, :] + 0.5) * fdy, 2, axis=1).reshape(-1)
    upper = np.tile(np.array([False, True]), ks.size * n * n)
    za = np.where(upper, grid.z_mm[k], ze[k])
    zb = np.where(upper, ze[k + 1], grid.z_mm[k])
    pz = 0.5 * (za + zb)
    dz = zb - za
    value, gx, gy, gz, lo, hi = _sample_dose(dose, (px, py, pz), (0.5 * fdx, 0.5 * fdy, 0.5 * dz))
    np.maximum(value, lo, out=value)
    np.minimum(value, hi, out=value)
    # var = gx^2 fdx^2 + gy^2 fdy^2 + gz^2 dz^2 (spread^2 = 12 var / 12), in place
    var = np.square(gx, out=gx)
    var *= fdx**2
    var += np.multiply(np.square(gy, out=gy), fdy**2, out=gy)
    var += np.multiply(np.square(gz, out=gz), np.square(dz), out=gz)
    spread_gy = _clipped_spread(value, np.sqrt(var, out=var), lo, hi)
    weight = (fdx * fdy / 1000.0) * dz
    return value.reshape(-1, per), spread_gy.reshape(-1, per), weight.reshape(-1, per)


def _cell_fractions(n: int) -> FloatArray:
    """For the n (even) fine pixels along an axis of a voxel: the fractional position of each
    pixel centre in its interpolation cell. The first n/2 lie in the cell below the voxel centre,
    the others in the cell above (an even ``n`` keeps every fine pixel inside one cell)."""
    offset = (np.arange(n) + 0.5) / n - 0.5  # fine-pixel centre from the voxel centre, in voxels
    return np.where(offset > 0, offset, 1.0 + offset)


def _steep_samples_in_cells(dose: DoseGrid, flat_index: IntArray, n: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    """:func:`_steep_voxel_samples` for an even ``n`` from each voxel's 27-neighbourhood: every
    sub-voxel centre sits at a fixed fraction of one interpolation cell (fine pixels in plane; the
    half-voxels in z, whose centres are a quarter of the way to the neighbouring centre planes), so
    the trilinear dose and its derivatives follow from the neighbourhood by the interpolation of
    :func:`trilinear` (along x, then y, then z) at fixed fractions, for all voxels at once, and the
    dose range is that of the cell's 8 corners. The same numbers as
    :func:`_steep_samples_at_points` up to rounding (1e-15 relative); beyond the outermost centres
    the neighbour index is clamped, which holds the dose constant with a zero gradient there, as
    :func:`trilinear` does. (No matrix product: a multithreaded BLAS call would keep a second core
    busy after it returns.)"""
    grid = dose.grid
    nz, ny, nx = grid.shape_zyx
    ks, jj, ii = np.unravel_index(flat_index, grid.shape_zyx)
    fdx, fdy = grid.spacing_x_mm / n, grid.spacing_y_mm / n
    # the 3 x 3 x 3 neighbourhood (z, y, x) of every voxel (last axis), clamped at the grid border
    step = np.arange(-1, 2)
    offsets = ((step[:, None, None] * ny + step[None, :, None]) * nx + step[None, None, :]).reshape(-1)
    index = offsets[:, None] + flat_index[None, :]
    border = np.flatnonzero((ks == 0) | (ks == nz - 1) | (jj == 0) | (jj == ny - 1) | (ii == 0) | (ii == nx - 1))
    if border.size:
        kk = np.clip(ks[border, None] + step, 0, nz - 1)
        jn = np.clip(jj[border, None] + step, 0, ny - 1)
        iN = np.clip(ii[border, None] + step, 0, nx - 1)
        index[:, border] = ((kk[:, :, None, None] * ny + jn[:, None, :, None]) * nx + iN[:, None, None, :]).reshape(-1, 27).T
    cube = dose.dose_gy.reshape(-1).take(index).reshape(3, 3, 3, -1)
    # fine pixels along x and y: fraction in their cell (the first n/2 lie in the cell below the
    # voxel centre, the others above); the two halves in z: the cell below at 3/4, above at 1/4
    t_1d = _cell_fractions(n)
    t_col = t_1d[:, None]

    def per_pixel(cells: FloatArray, axis: int) -> FloatArray:
        """Values per interpolation cell (2 along ``axis``) -> per fine pixel (n along it)."""
        return cells if n == 2 else np.repeat(cells, n // 2, axis=axis)

    # along x: (z, y, fine x, voxel)
    x_lo = per_pixel(cube[:, :, 0:2], 2)
    ax = per_pixel(cube[:, :, 1:3] - cube[:, :, 0:2], 2)
    cx = x_lo + t_col * ax
    # along y: (z, fine y, fine x, voxel)
    y_lo = per_pixel(cx[:, 0:2], 1)
    ay = per_pixel(cx[:, 1:3] - cx[:, 0:2], 1)
    cy = y_lo + t_col[:, None] * ay
    dx_lo = per_pixel(ax[:, 0:2], 1)
    dx_y = dx_lo + t_col[:, None] * (per_pixel(ax[:, 1:3], 1) - dx_lo)  # x difference, interpolated in y
    # along z: (half, fine y, fine x, voxel)
    tz = np.array([0.75, 0.25])[:, None, None, None]
    z_lo = cy[0:2]
    az = cy[1:3] - z_lo
    value = z_lo + tz * az
    dy = (1.0 - tz) * ay[0:2] + tz * ay[1:3]
    dx = (1.0 - tz) * dx_y[0:2] + tz * dx_y[1:3]
    # corner range of the 8 interpolation cells around the voxel centre, (cell z, y, x, voxel)
    lo = hi = cube
    for axis in (2, 1, 0):
        first = [slice(None)] * 4
        second = [slice(None)] * 4
        first[axis], second[axis] = slice(None, -1), slice(1, None)
        lo = np.minimum(lo[tuple(first)], lo[tuple(second)])
        hi = np.maximum(hi[tuple(first)], hi[tuple(second)])
    lo = per_pixel(per_pixel(lo, 1), 2)
    hi = per_pixel(per_pixel(hi, 1), 2)
    np.maximum(value, lo, out=value)
    np.minimum(value, hi, out=value)
    # derivatives by position (Gy/mm): 1 / cell width, 0 beyond the outermost centres
    steps = _axis_steps(dose)
    gx = dx * per_pixel(_cell_inverse(grid.x_mm, ii, steps[2]), 0)[None, None, :, :]
    gy = dy * per_pixel(_cell_inverse(grid.y_mm, jj, steps[1]), 0)[None, :, None, :]
    gz = az * _cell_inverse(grid.z_mm, ks, steps[0])[:, None, None, :]
    ze = grid.z_edges_mm
    dz = np.stack([grid.z_mm[ks] - ze[ks], ze[ks + 1] - grid.z_mm[ks]])[:, None, None, :]
    var = np.square(gx, out=gx)
    var *= fdx**2
    var += np.multiply(np.square(gy, out=gy), fdy**2, out=gy)
    var += np.square(gz, out=gz) * np.square(dz)
    spread_gy = _clipped_spread(value, np.sqrt(var, out=var), lo, hi)
    weight = np.broadcast_to((fdx * fdy / 1000.0) * dz, value.shape)

    def per_voxel(a: FloatArray) -> FloatArray:
        """(half, fine y, fine x, voxel) -> rows per voxel: fine pixel s = n * y + x, then half."""
        return np.ascontiguousarray(a.transpose(3, 1, 2, 0).reshape(-1, 2 * n * n))

    return per_voxel(value), per_voxel(spread_gy), per_voxel(weight)


def _cell_inverse(coords: FloatArray, index: IntArray, step: float) -> FloatArray:
    """Per voxel (columns): 1 / width of the interpolation cell below (row 0) and above (row 1)
    its centre, 0 for a cell beyond the outermost centres."""
    lowest = np.array([-1, 0])[:, None] + index[None, :]
    inside = (lowest >= 0) & (lowest <= coords.size - 2)
    if step:
        return np.where(inside, 1.0 / step, 0.0)
    safe = np.clip(lowest, 0, max(coords.size - 2, 0))
    width = coords[np.minimum(safe + 1, coords.size - 1)] - coords[safe]
    return np.where(inside, 1.0 / np.where(width > 0, width, 1.0), 0.0)


def _covered_voxel_samples(
    dose: DoseGrid,
    mask: npt.NDArray[np.bool_],
    k_first: int,
    start: tuple[int, int],
    n: int,
    spread: bool,
    doses: list[FloatArray],
    weights: list[FloatArray],
    spreads: list[FloatArray],
) -> None:
    """Samples of voxels entirely inside the ROI that are sub-sampled (steep dose): one per n x n
    fine pixel and half voxel in z (cut at the centre plane), taken from
    :func:`_steep_voxel_samples`. Nothing here depends on the ROI, so such a voxel gives the same
    samples to every ROI covering it, and the same as a boundary voxel's whole fine pixels when no
    contour-slab boundary cuts the voxel."""
    _, ny, nx = dose.grid.shape_zyx
    ks, jj, ii = np.nonzero(mask)
    wanted = ((ks + k_first) * ny + (jj + start[0])) * nx + (ii + start[1])  # sorted: np.nonzero is in C order
    value, spread_gy, weight = _steep_voxel_samples(dose, n, wanted)
    doses.append(value.reshape(-1))
    weights.append(weight.reshape(-1))
    spreads.append(spread_gy.reshape(-1) if spread else np.zeros(wanted.size * value.shape[1]))
