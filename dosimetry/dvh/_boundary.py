"""Boundary pieces of an ROI: the coverage of its contour planes on the fine grid (exact polygon
moments, :mod:`dosimetry.dvh.planar`), one sample per covered (z piece x voxel x fine pixel) at the
centroid of its covered part, and the trilinear dose, weight and spread of those samples.

Consecutive pieces on the same dose slice and contour plane (typically the two halves of a voxel
in one slab) share one coverage lookup and centroid computation (measured when introduced: DVHs of
all ROIs of the sample set 119 -> 102 ms, identical samples in the same order). The dose of the
pieces is sampled element by element (:func:`_finish_pieces`), so the pieces of several ROIs can be
sampled in one pass and each gets the numbers it gets alone (tests/test_dvh_batch.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dosimetry.dose import DoseGrid
from dosimetry.dvh._trilinear import (
    _beyond_cells,
    _box_range,
    _cell_range,
    _clipped_spread,
    _corner_range,
    _grid_steps,
    _interpolate_cells,
    _locate_cells,
    _trilinear_cells_range,
)
from dosimetry.dvh.geometry import RoiGeometry
from dosimetry.dvh.planar import EdgePieces, edge_pieces
from dosimetry.dvh.rasterise import COVERAGE_TOLERANCE, SNAP
from dosimetry.grid import RectilinearGrid

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class _PlaneStats:
    """Coverage of all planes of an ROI on its window: per plane and coarse voxel whether it is
    full / touched (shape (planes, ny, nx)), and the edge pieces on the fine grid (planes stacked
    along the rows) for exact moments of any fine pixel."""

    full: npt.NDArray[np.bool_]
    any: npt.NDArray[np.bool_]
    fine: EdgePieces
    fine_rows: int
    irregular_planes_mm: tuple[float, ...]


def _plane_stats(
    geometry: RoiGeometry, origin_mm: tuple[float, float], coarse_mm: tuple[float, float], shape: tuple[int, int], n: int
) -> _PlaneStats:
    ny, nx = shape
    dx, dy = coarse_mm
    xs: list[FloatArray] = []
    ys: list[FloatArray] = []
    signs: list[float] = []
    layers: list[int] = []
    senses: list[int] = []
    for p, section in enumerate(geometry.sections):
        for (x, y), sign in zip(section.polygons, section.signs, strict=True):
            xs.append(x)
            ys.append(y)
            signs.append(float(sign))
            layers.append(p)
        senses.extend(section.orientations)
    n_planes = len(geometry.sections)
    # all polygons scaled to fine-pixel units at once ((x - origin) / spacing * n, as per polygon)
    split = np.cumsum([x.size for x in xs])[:-1]
    u_all = (np.concatenate(xs) - origin_mm[0]) / dx
    u_all *= n
    v_all = (np.concatenate(ys) - origin_mm[1]) / dy
    v_all *= n
    fine_polys = list(zip(np.split(u_all, split), np.split(v_all, split), strict=True))
    fine = edge_pieces(
        fine_polys, signs, nx * n, ny * n, moments=True, layers=layers, n_layers=n_planes, orientations=senses
    )
    area = fine.coarse_area(n).reshape(n_planes, ny, nx)
    per_plane = area.reshape(n_planes, -1)
    outside = (np.minimum(per_plane.min(axis=1), 0.0) < -COVERAGE_TOLERANCE) | (
        np.maximum(per_plane.max(axis=1), 0.0) > 1 + COVERAGE_TOLERANCE
    )
    irregular = tuple(geometry.sections[p].z_mm for p in np.flatnonzero(outside))
    return _PlaneStats(
        full=area >= 1.0 - SNAP,
        any=area > SNAP,
        fine=fine,
        fine_rows=ny * n,
        irregular_planes_mm=irregular,
    )


def _piece_geometry(
    grid: RectilinearGrid,
    stats: _PlaneStats,
    mask: npt.NDArray[np.bool_],
    cuts: FloatArray,
    plane: IntArray,
    piece_k: IntArray,
    vp: IntArray,
    k_first: int,
    n_slices: int,
    origin_mm: tuple[float, float],
    n: int,
    halves: tuple[FloatArray, IntArray, npt.NDArray[np.bool_]],
    prepare: bool = False,
) -> _PieceGeometry | _PreparedPieces | None:
    """Where the boundary samples are (None: nowhere), one sample per (valid z piece) x (voxel of ``mask`` in the piece's slice) x (n x n fine
    pixel), at the centroid of the covered part (``piece_k``: dose slice of each z piece); the
    pieces of a half-voxel (``halves``: half edges, half of each piece, halves with a gap) that
    all cover a fine pixel entirely give one sample for the whole half instead.

    Consecutive valid pieces on the same dose slice and contour plane (typically the two halves
    of a voxel in one slab) have the same in-plane coverage: it is looked up and turned into
    centroids and variances once per such run and handed to each of its pieces. Samples come out
    in piece order, then voxel, then fine pixel. Nothing here depends on the dose
    values: the result serves every dose map on ``grid`` (:func:`_piece_samples`); ``prepare``
    (pieces to be sampled on several maps) gives their :class:`_PreparedPieces` when ``n`` is even."""
    slice_of = piece_k - k_first
    fdx, fdy = grid.spacing_x_mm / n, grid.spacing_y_mm / n
    x_origin, y_origin = origin_mm
    ks, jj, ii = np.nonzero(mask)
    if ks.size == 0 or vp.size == 0:
        return None
    nn = n * n
    per_slice = np.bincount(ks, minlength=n_slices)
    starts = np.cumsum(per_slice)
    starts -= per_slice
    # runs of consecutive valid pieces with the same slice and plane
    v_slice, v_plane = slice_of[vp], plane[vp]
    new_run = np.ones(vp.size, dtype=bool)
    np.not_equal(v_slice[1:], v_slice[:-1], out=new_run[1:])
    new_run[1:] |= v_plane[1:] != v_plane[:-1]
    run_first = np.flatnonzero(new_run)
    run_of_piece = np.cumsum(new_run)
    run_of_piece -= 1
    run_slice = v_slice[run_first]
    run_voxels = per_slice[run_slice]
    total = int(run_voxels.sum())
    if total == 0:
        return None
    # candidates of each run: the mask voxels of its slice x the n*n fine pixels of each voxel
    offset = np.arange(total) - np.repeat(np.cumsum(run_voxels) - run_voxels, run_voxels)
    voxel = np.repeat(starts[run_slice], run_voxels) + offset
    sub = np.arange(nn)
    sy, sx = np.divmod(sub, n)
    fr = (jj[voxel][:, None] * n + sy[None, :]).reshape(-1)
    fc = (ii[voxel][:, None] * n + sx[None, :]).reshape(-1)
    cand_run = np.repeat(np.repeat(np.arange(run_first.size), run_voxels), nn)
    area, mu, mv, muu, mvv = stats.fine.at(fr + v_plane[run_first][cand_run] * stats.fine_rows, fc)
    sel = np.flatnonzero(area > SNAP)
    if sel.size == 0:
        return None
    # in-plane data of each run's covered candidates (contiguous per run, in candidate order)
    a_c = np.minimum(area[sel], 1.0)
    cx = mu[sel] / a_c
    cy = mv[sel] / a_c
    vx_c = muu[sel] / a_c - cx**2
    vy_c = mvv[sel] / a_c - cy**2
    px_c = x_origin + (fc[sel] + 0.5 + cx) * fdx
    py_c = y_origin + (fr[sel] + 0.5 + cy) * fdy
    m_run = np.bincount(cand_run[sel], minlength=run_first.size)
    # every valid piece takes its run's candidates
    m_piece = m_run[run_of_piece]
    count = int(m_piece.sum())
    if count == 0:
        return None
    src = np.repeat(np.cumsum(m_run)[run_of_piece] - m_piece, m_piece)
    src += np.arange(count) - np.repeat(np.cumsum(m_piece) - m_piece, m_piece)
    piece = np.repeat(vp, m_piece)
    za, zb = cuts[piece], cuts[piece + 1]
    half_edges, piece_half, half_gap = halves
    # a half-voxel holding several valid pieces and no gap: a fine pixel that all of them cover
    # entirely is one sample over the whole half (at the first piece's entry), the others go
    pieces_in_half = np.bincount(piece_half[vp], minlength=half_edges.size - 1)
    multi = (pieces_in_half > 1) & ~half_gap
    keep = None
    if np.any(multi[piece_half[vp]]):
        rows = np.flatnonzero(multi[piece_half[piece]])
        cand = sel[src[rows]]
        row_half = piece_half[piece[rows]]
        key = (row_half * ks.size + voxel[cand // nn]) * nn + cand % nn
        groups, first, inverse = np.unique(key, return_index=True, return_inverse=True)
        full = np.bincount(inverse, weights=(area[cand] >= 1.0 - SNAP).astype(np.float64), minlength=groups.size)
        group_half = groups // (ks.size * nn)
        merged = full == pieces_in_half[group_half]
        if np.any(merged):
            keep = np.ones(count, dtype=bool)
            keep[rows[merged[inverse]]] = False
            heads = rows[first[merged]]
            keep[heads] = True
            za[heads] = half_edges[group_half[merged]]
            zb[heads] = half_edges[group_half[merged] + 1]
    if keep is not None:
        src, za, zb = src[keep], za[keep], zb[keep]
    pz = 0.5 * (za + zb)
    dz = zb - za
    pixel_x = pixel_y = None
    if n % 2:
        pixel_x = x_origin + (fc[sel][src] + 0.5) * fdx
        pixel_y = y_origin + (fr[sel][src] + 0.5) * fdy
    px, py, a, vx_unit, vy_unit = px_c[src], py_c[src], a_c[src], vx_c[src], vy_c[src]
    if prepare and n % 2 == 0:
        return _prepared(grid, (px, py, pz), dz, a, (vx_unit, vy_unit), n)
    for array in (px, py, pz, dz, a, vx_unit, vy_unit, pixel_x, pixel_y):
        if array is not None:
            array.flags.writeable = False
    return _PieceGeometry(px, py, pz, dz, a, vx_unit, vy_unit, n, pixel_x, pixel_y)


def _prepared(
    grid: RectilinearGrid,
    centre_mm: tuple[FloatArray, FloatArray, FloatArray],
    dz: FloatArray,
    a: FloatArray,
    variance_unit: tuple[FloatArray, FloatArray],
    n: int,
) -> _PreparedPieces:
    """:class:`_PreparedPieces` of pieces (``n`` even). Measured reason (issue 20,
    benchmarks/dvh_map_reuse.py, clinical-size case, median of 5): the 6 maps after the first
    1.07 -> 0.90 s CPU, for 34 MiB of plans (the 40 ROIs') instead of 22 (31 since
    :class:`_AxisInverse`)."""
    steps = _grid_steps(grid)
    base, cell, t, inv_arrays = _locate_cells(grid, steps, *centre_mm)
    inv = tuple(_axis_inverse(array, step) for array, step in zip(inv_arrays, steps, strict=True))
    rows, idx = _beyond_cells(grid, centre_mm, cell)
    fine_mm = (grid.spacing_x_mm / n, grid.spacing_y_mm / n)
    weight, vx, vy, dz_squared = _piece_weights(a, dz, variance_unit[0], variance_unit[1], fine_mm, True)
    for array in (base, *t, rows, *(i for pair in idx for i in pair), weight, vx, vy, dz_squared):
        array.flags.writeable = False
    return _PreparedPieces(n, base, t, (inv[0], inv[1], inv[2]), rows, idx, weight, vx, vy, dz_squared)


@dataclass(frozen=True, eq=False)
class _AxisInverse:
    """The inverse cell widths of points along one axis (:func:`~dosimetry.dvh._trilinear._locate_cells`),
    kept small: on a uniform axis they are ``scale`` (1 / step) inside the outermost centres and 0
    beyond, kept as that mask (1 byte a point instead of 8: 21 of the 88 bytes a prepared piece
    took, 22 MiB of the real-size breast plan's 120); otherwise the values (read-only)."""

    inside: npt.NDArray[np.bool_] | None
    scale: float
    values: FloatArray | None

    def array(self) -> FloatArray:
        """The inverse widths, the numbers :func:`~dosimetry.dvh._trilinear._locate_cells` gives."""
        if self.values is not None:
            return self.values
        if self.inside is None:
            raise AssertionError("an axis inverse holds its values or its mask")
        return np.where(self.inside, self.scale, 0.0)


def _axis_inverse(inv: FloatArray, step: float) -> _AxisInverse:
    if step:  # _locate_cells: np.where(inside, 1.0 / step, 0.0), and 1 / step is not 0
        inside = inv != 0.0
        inside.flags.writeable = False
        return _AxisInverse(inside, 1.0 / step, None)
    inv.flags.writeable = False
    return _AxisInverse(None, 0.0, inv)


def _piece_samples(
    dose: DoseGrid,
    pieces: _PieceGeometry | _PreparedPieces,
    spread: bool,
    doses: list[FloatArray],
    weights: list[FloatArray],
    spreads: list[FloatArray],
    defer: list[tuple[_PendingPieces, tuple[list[FloatArray], list[FloatArray], list[FloatArray]]]] | None = None,
) -> None:
    """The samples of the boundary pieces ``pieces`` (:func:`_piece_geometry`) on ``dose``, appended
    to the ROI's lists (or a placeholder there, filled when ``defer``'s pieces are finished)."""
    pending = _PendingPieces(pieces, len(doses))
    doses.append(_EMPTY)
    weights.append(_EMPTY)
    spreads.append(_EMPTY)
    if defer is None:
        _finish_pieces(dose, spread, [pending], [(doses, weights, spreads)])
    else:
        defer.append((pending, (doses, weights, spreads)))


_EMPTY = np.zeros(0)


@dataclass(frozen=True, eq=False)
class _PieceGeometry:
    """The covered pieces of one ROI, before their dose is sampled (read-only arrays): centroids
    (mm), thickness in z (mm), covered fraction and in-plane variances in fine-pixel units (from
    the polygon moments), the ROI's fine pixels per axis ``n``, and (odd ``n`` only) the centres of
    their fine pixels."""

    px: FloatArray
    py: FloatArray
    pz: FloatArray
    dz: FloatArray
    a: FloatArray
    vx_unit: FloatArray
    vy_unit: FloatArray
    n: int
    pixel_x: FloatArray | None = None
    pixel_y: FloatArray | None = None

    @property
    def count(self) -> int:
        return self.px.size


@dataclass(frozen=True, eq=False)
class _PreparedPieces:
    """The covered pieces of one ROI (``n`` even) as :func:`_finish_pieces` needs them on every dose
    map of the grid, with what does not depend on the dose computed once (read-only arrays): their
    interpolation cells (flat index of the lowest corner, fractions and inverse widths along z, y,
    x; :func:`~dosimetry.dvh._trilinear._locate_cells`), the pieces whose corner range is taken
    otherwise and their index boxes (:func:`~dosimetry.dvh._trilinear._beyond_cells`), their
    weights (cc), in-plane variances (mm^2) and dz^2 (measured reason: :func:`_prepared`)."""

    n: int
    base: IntArray
    t: tuple[FloatArray, FloatArray, FloatArray]
    inv: tuple[_AxisInverse, _AxisInverse, _AxisInverse]
    beyond_rows: IntArray
    beyond_idx: list[tuple[IntArray, IntArray]]
    weight: FloatArray
    vx: FloatArray
    vy: FloatArray
    dz_squared: FloatArray

    @property
    def count(self) -> int:
        return self.base.size


@dataclass(frozen=True, eq=False)
class _PendingPieces:
    """An ROI's pieces waiting for their dose, and where their samples go in its sample lists."""

    pieces: _PieceGeometry | _PreparedPieces
    slot: int


def _raw(pieces: _PieceGeometry | _PreparedPieces) -> _PieceGeometry:
    if isinstance(pieces, _PreparedPieces):
        raise AssertionError("prepared pieces are finished one ROI at a time")
    return pieces


def _required(array: FloatArray | None) -> FloatArray:
    if array is None:
        raise AssertionError("fine-pixel centres are recorded for every piece when n is odd")
    return array


def _finish_pieces(
    dose: DoseGrid,
    spread: bool,
    pending: list[_PendingPieces],
    targets: list[tuple[list[FloatArray], list[FloatArray], list[FloatArray]]],
) -> None:
    """Dose, weight and spread of the pending pieces of one or several ROIs on the same grid, in
    one pass per supersampling factor: every operation is element by element, so concatenating
    the ROIs' pieces gives each piece the numbers it gets alone. The results replace the
    placeholders at each ``slot``."""
    factors = sorted({p.pieces.n for p in pending})
    if len(factors) > 1:
        for factor in factors:
            chosen = [i for i, p in enumerate(pending) if p.pieces.n == factor]
            _finish_pieces(dose, spread, [pending[i] for i in chosen], [targets[i] for i in chosen])
        return
    n = factors[0]
    grid = dose.grid
    fdx, fdy = grid.spacing_x_mm / n, grid.spacing_y_mm / n
    prepared = pending[0].pieces if len(pending) == 1 else None
    if isinstance(prepared, _PreparedPieces):  # one ROI's pieces, located in the grid once for every map
        inv = (prepared.inv[0].array(), prepared.inv[1].array(), prepared.inv[2].array())
        value, gx, gy, gz, corners = _interpolate_cells(dose, prepared.base, prepared.t, inv, corner_range=True)
        lo, hi = _required_corners(corners)
        if prepared.beyond_rows.size:
            lo[prepared.beyond_rows], hi[prepared.beyond_rows] = _corner_range(dose, prepared.beyond_idx)
        weight, dz_squared = prepared.weight, prepared.dz_squared
        vx, vy = prepared.vx, prepared.vy
    else:
        raw = [_raw(p.pieces) for p in pending]
        if len(raw) == 1:
            one = raw[0]
            px, py, pz, dz, a, vx_unit, vy_unit = one.px, one.py, one.pz, one.dz, one.a, one.vx_unit, one.vy_unit
        else:
            px, py, pz, dz, a, vx_unit, vy_unit = (
                np.concatenate([getattr(p, name) for p in raw])
                for name in ("px", "py", "pz", "dz", "a", "vx_unit", "vy_unit")
            )
        even = n % 2 == 0
        value, gx, gy, gz, _, cell, corners = _trilinear_cells_range(dose, px, py, pz, corner_range=even)
        if corners is not None:  # n even: a fine pixel (and so the piece) lies inside one interpolation cell
            lo, hi = _cell_range(dose, (px, py, pz), corners, cell)
        else:  # the middle fine pixels straddle the voxel-centre lines: the nodes bracketing the pixel
            pixel_x = np.concatenate([_required(p.pixel_x) for p in raw])
            pixel_y = np.concatenate([_required(p.pixel_y) for p in raw])
            lo, hi = _box_range(dose, (pixel_x, pixel_y, pz), (0.5 * fdx, 0.5 * fdy, 0.5 * dz))
        weight, vx, vy, dz_squared = _piece_weights(a, dz, vx_unit, vy_unit, (fdx, fdy), spread)
    np.maximum(value, lo, out=value)  # rounding of the interpolation
    np.minimum(value, hi, out=value)
    if spread:
        # var = gx^2 vx + gy^2 vy + gz^2 dz^2 / 12, in place
        var = np.square(gx, out=gx)
        var *= vx
        var += np.multiply(np.square(gy, out=gy), vy, out=gy)
        gz_term = np.multiply(np.square(gz, out=gz), dz_squared, out=gz)
        gz_term /= 12.0
        var += gz_term
        var *= 12.0
        spread_gy = _clipped_spread(value, np.sqrt(var, out=var), lo, hi)
    else:
        spread_gy = np.zeros(value.size)
    start = 0
    for p, (doses, weights, spreads) in zip(pending, targets, strict=True):
        stop = start + p.pieces.count
        doses[p.slot] = value[start:stop]
        weights[p.slot] = weight[start:stop]
        spreads[p.slot] = spread_gy[start:stop]
        start = stop


def _piece_weights(
    a: FloatArray, dz: FloatArray, vx_unit: FloatArray, vy_unit: FloatArray, fine_mm: tuple[float, float], spread: bool
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """What the pieces' weights (cc) and spreads take from their geometry alone: the weights, the
    in-plane variances in mm^2 and dz^2 (new arrays: the pieces' own are shared by every map; the
    variances are empty when ``spread`` is false)."""
    fdx, fdy = fine_mm
    weight = a * (fdx * fdy / 1000.0) * dz
    if not spread:
        return weight, _EMPTY, _EMPTY, _EMPTY
    vx = np.maximum(vx_unit, 0)
    vx *= fdx**2
    vy = np.maximum(vy_unit, 0)
    vy *= fdy**2
    return weight, vx, vy, np.square(dz)


def _required_corners(corners: tuple[FloatArray, FloatArray] | None) -> tuple[FloatArray, FloatArray]:
    if corners is None:
        raise AssertionError("the corner range is computed whenever it is asked for")
    return corners
