"""Exact area of polygons inside the pixels of a regular 2-D grid.

The coverage of every pixel by a set of polygons is computed exactly (up to floating point) by
edge integration, the method of anti-aliasing font rasterisers: each polygon edge is cut at every
pixel boundary it crosses, and each piece adds the signed area between itself and the right border
of its pixel to that pixel, and its full signed height to every pixel to the right. A cumulative sum
along x then gives the exact area of (polygon) n (pixel) for every pixel (Green's theorem). Parts of
a polygon outside the window are handled exactly: pieces left of the window contribute to every
column, pieces right of or above/below it to none.

Coordinates are in pixel units: pixel (row r, column c) is the square [c, c+1] x [r, r+1].
Several polygons combine with signed weights (+1 for a solid, -1 for a hole): see
:func:`even_odd_signs`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def signed_area(u: FloatArray, v: FloatArray) -> float:
    """Shoelace area of a closed polygon (positive when counter-clockwise in (u, v))."""
    return 0.5 * float((u[:-1] * v[1:]).sum() - (u[1:] * v[:-1]).sum() + u[-1] * v[0] - u[0] * v[-1])


def point_in_polygon(pu: float, pv: float, u: FloatArray, v: FloatArray) -> bool:
    """Even-odd ray casting test of one point against one closed polygon."""
    return bool(points_in_polygon(np.array([pu]), np.array([pv]), u, v)[0])


def points_in_polygon(pu: FloatArray, pv: FloatArray, u: FloatArray, v: FloatArray) -> npt.NDArray[np.bool_]:
    """Even-odd ray casting test of many points against one closed polygon."""
    u1 = np.concatenate([u[1:], u[:1]])
    v1 = np.concatenate([v[1:], v[:1]])
    crosses = (v[None, :] > pv[:, None]) != (v1[None, :] > pv[:, None])
    with np.errstate(divide="ignore", invalid="ignore"):
        x_at = u[None, :] + (pv[:, None] - v[None, :]) * (u1 - u)[None, :] / (v1 - v)[None, :]
    return (np.count_nonzero(crosses & (pu[:, None] < x_at), axis=1) % 2).astype(bool)


def nesting_depths(polygons: list[tuple[FloatArray, FloatArray]]) -> list[int]:
    """How many of the other polygons contain each polygon (decided from its first vertex)."""
    if len(polygons) == 1:
        return [0]
    first_u = np.array([u[0] for u, _ in polygons])
    first_v = np.array([v[0] for _, v in polygons])
    depths = np.zeros(len(polygons), dtype=np.int64)
    for j, (uo, vo) in enumerate(polygons):
        inside = points_in_polygon(first_u, first_v, uo, vo)
        inside[j] = False
        depths += inside
    return [int(d) for d in depths]


def even_odd_signs(polygons: list[tuple[FloatArray, FloatArray]]) -> list[int]:
    """+1 for a polygon nested inside an even number of the others (solid), -1 for odd (hole).

    This is the even-odd rule most planning systems apply to several contours on one plane.
    """
    return [1 if d % 2 == 0 else -1 for d in nesting_depths(polygons)]


def pixel_coverage(
    polygons: list[tuple[FloatArray, FloatArray]],
    weights: list[float],
    n_cols: int,
    n_rows: int,
) -> FloatArray:
    """Sum over polygons of weight x (area of polygon n pixel), shape (n_rows, n_cols).

    Each polygon is a pair of vertex arrays (u, v) in pixel units, implicitly closed; its
    orientation does not matter (the weight applies to its unsigned area).
    """
    return edge_pieces(polygons, weights, n_cols, n_rows, moments=False).dense()[0]


def pixel_moments(
    polygons: list[tuple[FloatArray, FloatArray]],
    weights: list[float],
    n_cols: int,
    n_rows: int,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Area and moments of (polygons n pixel) about each pixel centre, each (n_rows, n_cols).

    Returns (A, Mu, Mv, Muu, Mvv): the integrals of 1, xi, eta, xi^2 and eta^2 over the covered
    part of each pixel, with (xi, eta) the offsets from the pixel centre in pixel units. The
    centroid of the covered part is (Mu/A, Mv/A), its variances Muu/A - (Mu/A)^2 and so on.
    """
    a, mu, mv, muu, mvv = edge_pieces(polygons, weights, n_cols, n_rows, moments=True).dense()
    return a, mu, mv, muu, mvv


@dataclass(frozen=True, eq=False)
class EdgePieces:
    """Polygon edges cut at pixel boundaries, with what each piece adds to its own pixel (``own``)
    and to every pixel right of it in its row (``strip``); quantities along axis 0 (area, or
    area and the four moments). ``col`` is -1 for pieces left of the window."""

    n_cols: int
    n_rows: int
    row: IntArray
    col: IntArray
    strip: FloatArray
    own: FloatArray
    @cached_property
    def _index(self) -> tuple[IntArray | None, IntArray | None, FloatArray, FloatArray]:
        """Pieces sorted by key = row * (n_cols + 2) + col + 1, with prefix sums of ``strip`` and
        ``own`` (one row per piece boundary, one column per quantity); plus either a dense table
        start[k] = number of pieces with key < k (small windows) or the sorted keys for binary
        search (large sparse windows)."""
        keys = self.row * (self.n_cols + 2) + (self.col + 1)
        order = np.argsort(keys, kind="stable")
        n_quantities = self.strip.shape[0]
        strip_prefix = np.zeros((keys.size + 1, n_quantities))
        own_prefix = np.zeros((keys.size + 1, n_quantities))
        np.cumsum(self.strip[:, order].T, axis=0, out=strip_prefix[1:])
        np.cumsum(self.own[:, order].T, axis=0, out=own_prefix[1:])
        n_keys = self.n_rows * (self.n_cols + 2) + 1
        if n_keys <= 64 * keys.size + 65536:  # a dense table up to ~64 entries per piece beats 3 binary searches
            # start[k] = j for sorted_keys[j - 1] < k <= sorted_keys[j] (a run per piece boundary)
            runs = np.diff(np.concatenate([[-1], keys[order], [n_keys]]))
            return np.repeat(np.arange(keys.size + 1), runs), None, strip_prefix, own_prefix
        return None, keys[order], strip_prefix, own_prefix

    @classmethod
    def empty(cls, n_cols: int, n_rows: int, moments: bool) -> EdgePieces:
        k = 5 if moments else 1
        none = np.zeros(0, dtype=np.int64)
        return cls(n_cols, n_rows, none, none, np.zeros((k, 0)), np.zeros((k, 0)))

    def dense(self) -> list[FloatArray]:
        """Every quantity on the whole window, each (n_rows, n_cols)."""
        stride = self.n_cols + 1
        size = self.n_rows * stride
        left = self.col < 0
        base = self.row[~left] * stride + self.col[~left]
        left_index = self.row[left] * stride
        out = []
        for strip, own in zip(self.strip, self.own, strict=True):
            flat = np.zeros(size)
            flat += np.bincount(left_index, weights=strip[left], minlength=size)
            flat += np.bincount(base, weights=own[~left], minlength=size)
            flat += np.bincount(base + 1, weights=strip[~left] - own[~left], minlength=size)
            out.append(np.cumsum(flat.reshape(self.n_rows, stride), axis=1)[:, : self.n_cols])
        return out

    def coarse_area(self, n: int) -> FloatArray:
        """Dense area fraction on the grid n times coarser (pieces cut at fine lines are cut at the
        coarse lines too), shape (n_rows // n, n_cols // n)."""
        rows_c, cols_c = self.n_rows // n, self.n_cols // n
        stride = cols_c + 1
        size = rows_c * stride
        left = self.col < 0
        mid = ~left
        strip = self.strip[0]
        within = n - 1 - self.col[mid] % n  # fine columns right of the piece inside its coarse pixel
        own = (self.own[0][mid] + strip[mid] * within) / (n * n)
        strip_c = strip / n
        base = (self.row[mid] // n) * stride + self.col[mid] // n
        flat = np.zeros(size)
        flat += np.bincount((self.row[left] // n) * stride, weights=strip_c[left], minlength=size)
        flat += np.bincount(base, weights=own, minlength=size)
        flat += np.bincount(base + 1, weights=strip_c[mid] - own, minlength=size)
        return np.cumsum(flat.reshape(rows_c, stride), axis=1)[:, :cols_c]

    def at(self, rows: IntArray, cols: IntArray) -> FloatArray:
        """Every quantity at the pixels (rows, cols) only, shape (k, len(rows))."""
        base = rows * (self.n_cols + 2)
        key = base + cols + 1
        start, sorted_keys, sp, op = self._index
        if start is not None:
            lo, mid, hi = start[base], start[key], start[key + 1]
        else:
            assert sorted_keys is not None
            lo = np.searchsorted(sorted_keys, base, side="left")
            mid = np.searchsorted(sorted_keys, key, side="left")
            hi = np.searchsorted(sorted_keys, key, side="right")
        out = sp.take(mid, axis=0)
        out -= sp.take(lo, axis=0)
        own = op.take(hi, axis=0)
        own -= op.take(mid, axis=0)
        out += own
        return out.T


def edge_pieces(
    polygons: list[tuple[FloatArray, FloatArray]],
    weights: list[float],
    n_cols: int,
    n_rows: int,
    *,
    moments: bool,
    layers: list[int] | None = None,
    n_layers: int = 1,
    orientations: list[int] | None = None,
) -> EdgePieces:
    """Cut the polygons' edges at pixel boundaries (see the module docstring).

    ``orientations`` (+1 counter-clockwise, -1 clockwise, 0 degenerate; one per polygon) may be
    given when already known; the scaling to pixel units must not mirror the polygons.
    With ``layers`` (one index per polygon, 0 <= index < ``n_layers``) the polygons lie on
    separate windows stacked along the rows: layer L occupies rows [L n_rows, (L + 1) n_rows) of
    the result, so many planes are processed in one vectorised pass.
    """
    layer_list = layers if layers is not None else [0] * len(polygons)
    known = orientations if orientations is not None else [None] * len(polygons)
    sizes_list, factors, layer_kept, kept_u, kept_v = [], [], [], [], []
    for (u, v), w_poly, layer, sense in zip(polygons, weights, layer_list, known, strict=True):
        if u.size < 3:
            continue
        orientation = np.sign(signed_area(u, v)) if sense is None else sense
        if orientation == 0:
            continue
        kept_u.append(u)
        kept_v.append(v)
        sizes_list.append(u.size)
        # Counter-clockwise edges accumulate negative area with the convention below.
        factors.append(-float(w_poly) * orientation)
        layer_kept.append(layer)
    total_rows = n_rows * n_layers
    if not kept_u:
        return EdgePieces.empty(n_cols, total_rows, moments)
    sizes = np.array(sizes_list, dtype=np.int64)
    u0 = np.concatenate(kept_u)
    v0 = np.concatenate(kept_v)
    # each edge runs from a vertex to the next one of its polygon, the last back to the first
    following = np.arange(1, u0.size + 1)
    first_vertex = np.cumsum(sizes) - sizes
    following[first_vertex + sizes - 1] = first_vertex
    u1 = u0[following]
    v1 = v0[following]
    w = np.repeat(np.array(factors, dtype=np.float64), sizes)
    lay = np.repeat(np.array(layer_kept, dtype=np.int64), sizes)
    # Drop edges entirely above or below the window: they touch no pixel of it.
    keep = ~(((v0 <= 0) & (v1 <= 0)) | ((v0 >= n_rows) & (v1 >= n_rows)))
    # Edges entirely right of the window contribute nothing either.
    keep &= ~((u0 >= n_cols) & (u1 >= n_cols))
    u0, v0, u1, v1, w, lay = u0[keep], v0[keep], u1[keep], v1[keep], w[keep], lay[keep]
    if u0.size == 0:
        return EdgePieces.empty(n_cols, total_rows, moments)
    # Clip v to the window band: the parts outside rows [0, n_rows) are discarded anyway, and
    # clipping in v along the segment keeps the in-window part exact.
    du = u1 - u0
    dv = v1 - v0
    t_lo = np.zeros_like(u0)
    t_hi = np.ones_like(u0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ta = np.where(dv != 0, (0.0 - v0) / dv, -np.inf)
        tb = np.where(dv != 0, (n_rows - v0) / dv, np.inf)
    t_enter = np.minimum(ta, tb)
    t_exit = np.maximum(ta, tb)
    t_lo = np.maximum(t_lo, t_enter)
    t_hi = np.minimum(t_hi, t_exit)
    ok = t_hi > t_lo
    u0, v0, du, dv, w, t_lo, t_hi, lay = u0[ok], v0[ok], du[ok], dv[ok], w[ok], t_lo[ok], t_hi[ok], lay[ok]
    a_u, a_v = u0 + t_lo * du, v0 + t_lo * dv
    b_u, b_v = u0 + t_hi * du, v0 + t_hi * dv
    # Also clip u from the left: a piece left of the window contributes its full height to every
    # column, whatever its u, so only where it crosses u = 0 matters. Crossings of integer lines
    # with u < 0 are therefore not needed; clamp them away by splitting only at lines 0..n_cols.
    seg = np.arange(a_u.size)
    cuts_t = [np.zeros(a_u.size), np.ones(a_u.size)]
    cuts_s = [seg, seg]
    for a, b in ((a_u, b_u), (a_v, b_v)):
        lo_line = np.floor(np.minimum(a, b)) + 1
        hi_line = np.floor(np.maximum(a, b))  # lines strictly inside (lo, hi] may be crossed
        # Restrict to lines inside the window [0, n] (u) or [0, n_rows] (v); others are irrelevant.
        limit = n_cols if a is a_u else n_rows
        lo_line = np.maximum(lo_line, 0)
        hi_line = np.minimum(hi_line, limit)
        count = np.maximum(hi_line - lo_line + 1, 0).astype(np.int64)
        total = int(count.sum())
        if total == 0:
            continue
        owner = np.repeat(seg, count)
        offset = np.arange(total) - np.repeat(np.cumsum(count) - count, count)
        line = np.repeat(lo_line, count) + offset
        delta = (b - a)[owner]
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (line - a[owner]) / delta
        good = np.isfinite(t) & (t > 0) & (t < 1)
        cuts_t.append(t[good])
        cuts_s.append(owner[good])
    all_t = np.concatenate(cuts_t)
    all_s = np.concatenate(cuts_s)
    # one float key orders the cuts by segment, then by position along it (t in [0, 1])
    order = np.argsort(2.0 * all_s + all_t, kind="stable")
    all_t = all_t[order]
    all_s = all_s[order]
    same = all_s[1:] == all_s[:-1]
    s = all_s[:-1][same]
    ta_ = all_t[:-1][same]
    tb_ = all_t[1:][same]
    pu_a = a_u[s] + ta_ * (b_u[s] - a_u[s])
    pv_a = a_v[s] + ta_ * (b_v[s] - a_v[s])
    pu_b = a_u[s] + tb_ * (b_u[s] - a_u[s])
    pv_b = a_v[s] + tb_ * (b_v[s] - a_v[s])
    col = np.floor(0.5 * (pu_a + pu_b)).astype(np.int64)
    row = np.floor(0.5 * (pv_a + pv_b)).astype(np.int64)
    inside_rows = (row >= 0) & (row < n_rows)
    # keep the pieces inside the window's rows and left of its right border
    keep = np.flatnonzero(inside_rows & (col < n_cols))
    s, pu_a, pv_a, pu_b, pv_b, col, row = s[keep], pu_a[keep], pv_a[keep], pu_b[keep], pv_b[keep], col[keep], row[keep]
    left = col < 0
    w_s = w[s]
    dv = pv_b - pv_a
    # Local coordinates about the pixel centre: xi in [-0.5, 0.5] (columns), eta likewise (rows).
    eta_a = pv_a - row - 0.5
    eta_b = pv_b - row - 0.5
    xi_a = pu_a - col - 0.5
    xi_b = pu_b - col - 0.5
    # Contribution of a full-width strip over the piece's eta range (the same in every column),
    # and of the region between the piece and the right border of its own pixel: integrals along
    # the piece of polynomials in (xi, eta), both linear along it, in closed form.
    mid_xi = 0.5 * (xi_a + xi_b)
    strips = [dv]
    owns = [dv * (0.5 - mid_xi)]
    if moments:
        eta_sq = (eta_a * eta_a + eta_a * eta_b + eta_b * eta_b) / 3.0  # mean of eta^2
        xi_sq = (xi_a * xi_a + xi_a * xi_b + xi_b * xi_b) / 3.0  # mean of xi^2
        mid_eta = 0.5 * (eta_a + eta_b)
        xi_eta = (2.0 * (xi_a * eta_a + xi_b * eta_b) + xi_a * eta_b + xi_b * eta_a) / 6.0  # mean of xi eta
        xi_cu = mid_xi * (xi_a * xi_a + xi_b * xi_b) / 2.0  # mean of xi^3
        d_eta = eta_b - eta_a
        d_xi = xi_b - xi_a
        # mean of eta^2 xi along the piece
        eta_sq_xi = (
            eta_a * eta_a * xi_a
            + (2.0 * eta_a * d_eta * xi_a + eta_a * eta_a * d_xi) / 2.0
            + (d_eta * d_eta * xi_a + 2.0 * eta_a * d_eta * d_xi) / 3.0
            + d_eta * d_eta * d_xi / 4.0
        )
        strips += [np.zeros_like(dv), dv * mid_eta, dv / 12.0, dv * eta_sq]
        owns += [
            dv * (0.25 - xi_sq) / 2.0,
            dv * (0.5 * mid_eta - xi_eta),
            dv * (0.125 - xi_cu) / 3.0,
            dv * (0.5 * eta_sq - eta_sq_xi),
        ]
    col = np.where(left, -1, col)
    return EdgePieces(
        n_cols,
        total_rows,
        row + lay[s] * n_rows,
        col,
        np.stack([q * w_s for q in strips]),
        np.stack([q * w_s for q in owns]),
    )
