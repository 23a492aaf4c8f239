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

from dosimetry.errors import ArgumentError

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

    # a dense key table up to ~64 entries per piece beats binary searches
    DENSE_TABLE_ENTRIES_PER_PIECE = 64
    # up to this many pieces, at() reads the running sums directly (:attr:`_index`, fewer calls);
    # above, one precomputed column per pixel (:attr:`_lookup`, less work per pixel)
    DIRECT_LOOKUP_PIECES = 8192

    @cached_property
    def _lookup(self) -> tuple[FloatArray, IntArray, npt.NDArray[np.integer] | None]:
        """What :meth:`at` reads: every quantity for the few kinds of pixel (``values``, one column
        each), the sorted distinct keys (key = row * (n_cols + 1) + col + 1), and for small windows
        a dense table giving the column of every key (None for large sparse windows: binary search
        in the keys instead).

        Column 0 is zero (no piece in the pixel nor left of it in its row); column 1 + j holds the
        pixel of distinct key j (the strips of the pieces left of it in its row plus the own parts
        of its pieces); column 1 + U + j every pixel right of it up to the next key of its row
        (the strips up to and including key j). The values are differences of running sums over
        the pieces sorted (stably) by key, taken in the order of :attr:`_index`'s lookup, so they
        are the same numbers. Quantity by quantity, through one reused buffer (less memory)."""
        n_quantities, n = self.strip.shape
        stride = self.n_cols + 1
        n_keys = self.n_rows * stride
        dense = n_keys <= self.DENSE_TABLE_ENTRIES_PER_PIECE * n + 65536
        if n == 0:
            table = np.zeros(n_keys, dtype=np.uint16) if dense else None
            return np.zeros((n_quantities, 1)), np.zeros(0, dtype=np.int64), table
        keys = self.row * stride
        keys += self.col
        keys += 1
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys.take(order)
        first = np.empty(n, dtype=bool)
        first[0] = True
        np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=first[1:])
        bounds = np.flatnonzero(first)
        unique_keys = sorted_keys.take(bounds)
        u = bounds.size
        bounds = np.append(bounds, n)  # the pieces of distinct key j are [bounds[j], bounds[j + 1])
        key_row = unique_keys // stride
        row_first = first[:u]  # (reused)
        np.not_equal(key_row[1:], key_row[:-1], out=row_first[1:])
        firsts = np.flatnonzero(row_first)
        row_start = np.repeat(firsts, np.diff(np.append(firsts, u)))  # first distinct key of each one's row
        values = np.empty((n_quantities, 2 * u + 1))
        values[:, 0] = 0.0
        running = np.empty(n + 1)
        running[0] = 0.0
        pieces = running[1:]
        at_bounds = np.empty(u + 1)
        scratch = np.empty(u)
        for q in range(n_quantities):
            here = values[q, 1 : u + 1]
            right = values[q, u + 1 :]
            strip = self.strip[q]
            if strip.any():  # (the strips of the first moment are zero by construction)
                np.take(strip, order, out=pieces, mode="clip")
                np.cumsum(pieces, out=pieces)
                np.take(running, bounds, out=at_bounds, mode="clip")
                np.take(at_bounds, row_start, out=scratch, mode="clip")
                np.subtract(at_bounds[:-1], scratch, out=here)
                np.subtract(at_bounds[1:], scratch, out=right)
            else:
                here.fill(0.0)
                right.fill(0.0)
            np.take(self.own[q], order, out=pieces, mode="clip")
            np.cumsum(pieces, out=pieces)
            np.take(running, bounds, out=at_bounds, mode="clip")
            here += np.subtract(at_bounds[1:], at_bounds[:-1], out=scratch)
        if not dense:
            return values, unique_keys, None
        # the table in runs: before the first key (0), then per distinct key: itself, the pixels
        # right of it up to the next key or the end of its row, the rest of its row (0)
        index_type = np.uint16 if 2 * u + 1 <= 65535 else np.int32
        following = np.append(unique_keys[1:], n_keys)
        stop = np.minimum(following, (key_row + 1) * stride)
        lengths = np.empty(3 * u + 1, dtype=np.int64)
        lengths[0] = unique_keys[0]
        lengths[1::3] = 1
        np.subtract(stop, unique_keys, out=lengths[2::3])
        lengths[2::3] -= 1
        np.subtract(following, stop, out=lengths[3::3])
        columns = np.zeros(3 * u + 1, dtype=index_type)
        columns[1::3] = np.arange(1, u + 1)
        columns[2::3] = np.arange(u + 1, 2 * u + 1)
        return values, unique_keys, np.repeat(columns, lengths)

    @cached_property
    def _index(self) -> tuple[IntArray | None, IntArray | None, FloatArray, FloatArray]:
        """What :meth:`at` reads for few pieces (and the reference form of its lookup): the pieces
        sorted (stably) by key = row * (n_cols + 2) + col + 1, the running sums S of ``strip`` and
        O of ``own`` (one row per piece boundary, one column per quantity), and either start[k] =
        number of pieces with key < k (small windows) or the sorted keys (binary search). A pixel's
        quantities are (S[mid] - S[lo]) + (O[hi] - O[mid]) with lo, mid, hi the starts of its row,
        its key and the next key."""
        keys = self.row * (self.n_cols + 2) + (self.col + 1)
        order = np.argsort(keys, kind="stable")
        n_quantities = self.strip.shape[0]
        strip_prefix = np.zeros((keys.size + 1, n_quantities))
        own_prefix = np.zeros((keys.size + 1, n_quantities))
        np.cumsum(self.strip.take(order, axis=1).T, axis=0, out=strip_prefix[1:])
        np.cumsum(self.own.take(order, axis=1).T, axis=0, out=own_prefix[1:])
        n_keys = self.n_rows * (self.n_cols + 2) + 1
        if n_keys <= self.DENSE_TABLE_ENTRIES_PER_PIECE * keys.size + 65536:
            runs = np.diff(np.concatenate([[-1], keys[order], [n_keys]]))
            index_type = np.int32 if keys.size < 2**31 - 1 else np.int64
            return np.repeat(np.arange(keys.size + 1, dtype=index_type), runs), None, strip_prefix, own_prefix
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
        col = self.col
        strip = self.strip[0]
        # each piece adds to its own coarse pixel its own part plus its strip over the fine columns
        # right of it there (of n x n fine pixels), and its strip / n to every coarse pixel right
        # of that; a piece left of the window (col -1: coarse column -1) adds its strip / n to all
        own = strip * (n - 1 - col % n)
        own += self.own[0]
        own /= n * n
        own[col < 0] = 0.0
        right = strip / n
        right -= own
        # one sum per (coarse column + 1, coarse row), column-major: the running sum along the
        # rows is then one vector addition per coarse column
        slot = col // n
        slot += 1
        slot *= rows_c
        slot += self.row // n
        sums = np.bincount(
            np.concatenate([slot, slot + rows_c]), weights=np.concatenate([own, right]), minlength=(cols_c + 2) * rows_c
        ).reshape(cols_c + 2, rows_c)
        for c in range(2, cols_c + 1):
            sums[c] += sums[c - 1]
        return np.ascontiguousarray(sums[1 : cols_c + 1].T)

    def at(self, rows: IntArray, cols: IntArray) -> FloatArray:
        """Every quantity at the pixels (rows, cols) only, shape (k, len(rows)) (each row
        contiguous for many pieces)."""
        if self.row.size <= self.DIRECT_LOOKUP_PIECES:
            return self._at_direct(rows, cols)
        # one table read and one gather per pixel
        values, unique_keys, table = self._lookup
        key = np.multiply(rows, self.n_cols + 1, dtype=np.int64)
        key += cols
        key += 1
        if table is not None:
            column = table.take(key)
        else:
            u = unique_keys.size
            if u == 0:
                return np.zeros((values.shape[0], key.size))
            at_or_after = np.searchsorted(unique_keys, key)  # first distinct key >= the pixel's
            before = at_or_after - 1
            row_start = key - cols - 1
            column = np.where(
                unique_keys.take(np.minimum(at_or_after, u - 1)) == key,
                at_or_after + 1,
                np.where((before >= 0) & (unique_keys.take(np.maximum(before, 0)) >= row_start), before + 1 + u, 0),
            )
        return values.take(column, axis=1)

    def _at_direct(self, rows: IntArray, cols: IntArray) -> FloatArray:
        """:meth:`at` on the running sums of :attr:`_index`: (S[mid] - S[lo]) + (O[hi] - O[mid])."""
        start, sorted_keys, sp, op = self._index
        base = np.multiply(rows, self.n_cols + 2, dtype=np.int64)
        key = base + cols
        key += 1
        if start is not None:
            lo, mid, hi = start.take(base), start.take(key), start.take(key + 1)
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
    total_rows = n_rows * n_layers
    if not polygons:
        return EdgePieces.empty(n_cols, total_rows, moments)
    if orientations is None:
        orientations = [int(np.sign(signed_area(u, v))) if u.size >= 3 else 0 for u, v in polygons]
    sizes = np.array([u.size for u, _ in polygons], dtype=np.int64)
    sense = np.array(orientations, dtype=np.float64)
    if len(sense) != len(polygons) or len(weights) != len(polygons):
        raise ArgumentError(
            f"edge_pieces: one weight and one orientation per polygon expected, got {len(polygons)} polygons, "
            f"{len(weights)} weights, {len(sense)} orientations"
        )
    layer = np.array(layers, dtype=np.int64) if layers is not None else np.zeros(len(polygons), dtype=np.int64)
    if layer.size != len(polygons):
        raise ArgumentError(f"edge_pieces: one layer per polygon expected, got {len(polygons)} polygons, {layer.size} layers")
    usable = (sizes >= 3) & (sense != 0)
    if not usable.all():
        kept = np.flatnonzero(usable)
        if kept.size == 0:
            return EdgePieces.empty(n_cols, total_rows, moments)
        polygons = [polygons[i] for i in kept]
        sizes, sense, layer = sizes[kept], sense[kept], layer[kept]
        weights = [weights[i] for i in kept]
    # Counter-clockwise edges accumulate negative area with the convention below.
    factors = -np.array(weights, dtype=np.float64) * sense
    last_vertex = np.cumsum(sizes)
    start = np.empty((2, int(last_vertex[-1])))  # (u; v) of each edge's start, then end
    np.concatenate([u for u, _ in polygons], out=start[0])
    np.concatenate([v for _, v in polygons], out=start[1])
    # each edge runs from a vertex to the next one of its polygon, the last back to the first
    following = np.arange(1, start.shape[1] + 1)
    last_vertex -= 1
    following[last_vertex] = last_vertex + 1 - sizes
    end = start.take(following, axis=1)
    u0, v0 = start
    u1, v1 = end
    w = np.repeat(factors, sizes)
    lay = np.repeat(layer, sizes)
    if v0.min() > 0 and v0.max() < n_rows and u0.max() < n_cols:
        # Every edge inside the window's band of rows and not right of it: nothing to drop or clip.
        end -= start
        end += start  # (start + 1 * (end - start), as the clipping below computes it)
    else:
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
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # (tiny dv: t = +-inf)
            ta = np.where(dv != 0, (0.0 - v0) / dv, -np.inf)
            tb = np.where(dv != 0, (n_rows - v0) / dv, np.inf)
        t_lo = np.maximum(0.0, np.minimum(ta, tb))
        t_hi = np.minimum(1.0, np.maximum(ta, tb))
        ok = t_hi > t_lo
        u0, v0, du, dv, w, t_lo, t_hi, lay = u0[ok], v0[ok], du[ok], dv[ok], w[ok], t_lo[ok], t_hi[ok], lay[ok]
        start = np.stack([u0 + t_lo * du, v0 + t_lo * dv])
        end = np.stack([u0 + t_hi * du, v0 + t_hi * dv])
    delta = end - start
    # Cut each edge at the pixel lines it crosses, u (columns) and v (rows) in one pass. Also clip u
    # from the left: a piece left of the window contributes its full height to every column,
    # whatever its u, so only where it crosses u = 0 matters. Crossings of integer lines with u < 0
    # are therefore not needed; clamp them away by splitting only at lines 0..n_cols.
    n_seg = start.shape[1]
    seg = np.arange(n_seg)
    # lines strictly inside (min, max] may be crossed; only those inside the window [0, limit]
    lo_line = np.minimum(start, end)
    np.floor(lo_line, out=lo_line)
    lo_line += 1
    np.maximum(lo_line, 0, out=lo_line)
    hi_line = np.maximum(start, end)
    np.floor(hi_line, out=hi_line)
    np.minimum(hi_line, np.array([[n_cols], [n_rows]], dtype=np.float64), out=hi_line)
    hi_line -= lo_line
    hi_line += 1
    count = np.maximum(hi_line, 0).astype(np.int64).ravel()  # u-cuts of every edge, then v-cuts
    ends = np.cumsum(count)
    total = int(ends[-1]) if ends.size else 0
    if total:
        owner = np.repeat(np.arange(2 * n_seg), count)
        # line = lo_line of the owner + the cut's rank among its owner's cuts
        ends -= count
        line = np.arange(total, dtype=np.float64)
        line += np.repeat(lo_line.ravel() - ends, count)
        # (no division by zero: an edge with cuts has min < max)
        t = line - start.ravel().take(owner)
        t /= delta.ravel().take(owner)
        good = (t > 0) & (t < 1)
        cut_s = owner[good]
        cut_s %= n_seg
        all_t = np.concatenate([np.zeros(n_seg), np.ones(n_seg), t[good]])
        all_s = np.concatenate([seg, seg, cut_s])
    else:
        all_t = np.concatenate([np.zeros(n_seg), np.ones(n_seg)])
        all_s = np.concatenate([seg, seg])
    # one float key orders the cuts by segment, then by position along it (t in [0, 1])
    key = 2.0 * all_s
    key += all_t
    order = np.argsort(key, kind="stable")
    all_t = all_t.take(order)
    all_s = all_s.take(order)
    same = np.flatnonzero(all_s[1:] == all_s[:-1])
    s = all_s.take(same)
    seg_start = start.take(s, axis=1)
    seg_delta = delta.take(s, axis=1)
    point_a = seg_delta * all_t.take(same)  # (u; v) of each piece's ends
    point_a += seg_start
    point_b = seg_delta * all_t.take(same + 1)
    point_b += seg_start
    cell = point_a + point_b  # (column; row) of each piece, as floats
    cell *= 0.5
    np.floor(cell, out=cell)
    # keep the pieces inside the window's rows and left of its right border
    inside = (cell[1] >= 0) & (cell[1] < n_rows) & (cell[0] < n_cols)
    if not inside.all():
        keep = np.flatnonzero(inside)
        s = s.take(keep)
        point_a, point_b, cell = (x.take(keep, axis=1) for x in (point_a, point_b, cell))
    return _piece_quantities(n_cols, total_rows, n_rows, cell, lay.take(s), w.take(s), point_a, point_b, moments)


def _piece_quantities(
    n_cols: int,
    total_rows: int,
    n_rows: int,
    cell: FloatArray,
    layer: IntArray,
    w_s: FloatArray,
    point_a: FloatArray,
    point_b: FloatArray,
    moments: bool,
) -> EdgePieces:
    """What each piece from point_a to point_b (each (u; v), shape (2, pieces)) in pixel cell
    (column; row) adds to its own pixel and to the pixels right of it, times its polygon's factor
    ``w_s``. In place where possible: the same operations, in the same order, as the plain formulas
    in the comments. Overwrites ``point_a``."""
    n = cell.shape[1]
    k = 5 if moments else 1
    strip = np.empty((k, n))
    own = np.empty((k, n))
    dv = np.subtract(point_b[1], point_a[1], out=strip[0])  # (then times w_s, last)
    # Local coordinates about the pixel centre: xi in [-0.5, 0.5] (columns), eta likewise (rows).
    local_a = point_a - cell
    local_a -= 0.5
    local_b = point_b - cell
    local_b -= 0.5
    xi_a, eta_a = local_a
    xi_b, eta_b = local_b
    # Contribution of a full-width strip over the piece's eta range (the same in every column),
    # and of the region between the piece and the right border of its own pixel: integrals along
    # the piece of polynomials in (xi, eta), both linear along it, in closed form.
    mid_xi = xi_a + xi_b
    mid_xi *= 0.5
    t = np.subtract(0.5, mid_xi, out=own[0])
    t *= dv  # own: dv * (0.5 - mid_xi)
    if moments:
        xa2, ea2 = local_a * local_a
        xb2, eb2 = local_b * local_b
        scratch, scratch2 = point_a  # (no longer needed)
        # mean of eta^2: (eta_a^2 + eta_a eta_b + eta_b^2) / 3
        eta_sq = eta_a * eta_b
        eta_sq += ea2
        eta_sq += eb2
        eta_sq /= 3.0
        # mean of xi^2: (xi_a^2 + xi_a xi_b + xi_b^2) / 3
        xi_sq = xi_a * xi_b
        xi_sq += xa2
        xi_sq += xb2
        xi_sq /= 3.0
        # mean of eta: (eta_a + eta_b) / 2
        mid_eta = eta_a + eta_b
        mid_eta *= 0.5
        # mean of xi eta: (2 (xi_a eta_a + xi_b eta_b) + xi_a eta_b + xi_b eta_a) / 6
        xi_eta = xi_a * eta_a
        xi_eta += np.multiply(xi_b, eta_b, out=scratch)
        xi_eta *= 2.0
        xi_eta += np.multiply(xi_a, eta_b, out=scratch)
        xi_eta += np.multiply(xi_b, eta_a, out=scratch)
        xi_eta /= 6.0
        # mean of xi^3: mid_xi (xi_a^2 + xi_b^2) / 2
        xi_cu = xa2 + xb2
        xi_cu *= mid_xi  # (mid_xi * (...), the same product)
        xi_cu /= 2.0
        d_xi, d_eta = local_b - local_a
        # mean of eta^2 xi along the piece: eta_a^2 xi_a + (2 eta_a d_eta xi_a + eta_a^2 d_xi) / 2
        #   + (d_eta^2 xi_a + 2 eta_a d_eta d_xi) / 3 + d_eta^2 d_xi / 4
        e2d = 2.0 * eta_a
        e2d *= d_eta
        de2 = d_eta * d_eta
        eta_sq_xi = ea2 * xi_a
        term = np.multiply(e2d, xi_a, out=scratch)
        term += np.multiply(ea2, d_xi, out=scratch2)
        term /= 2.0
        eta_sq_xi += term
        term = np.multiply(de2, xi_a, out=scratch)
        term += np.multiply(e2d, d_xi, out=scratch2)
        term /= 3.0
        eta_sq_xi += term
        term = np.multiply(de2, d_xi, out=scratch)
        term /= 4.0
        eta_sq_xi += term
        # strips: 0, dv mid_eta, dv / 12, dv eta_sq
        strip[1].fill(0.0)
        np.multiply(dv, mid_eta, out=strip[2])
        np.divide(dv, 12.0, out=strip[3])
        np.multiply(dv, eta_sq, out=strip[4])
        # owns: dv (1/4 - xi_sq) / 2, dv (mid_eta / 2 - xi_eta), dv (1/8 - xi_cu) / 3,
        # dv (eta_sq / 2 - eta_sq_xi)
        t = np.subtract(0.25, xi_sq, out=own[1])
        t *= dv
        t /= 2.0
        t = np.multiply(0.5, mid_eta, out=own[2])
        t -= xi_eta
        t *= dv
        t = np.subtract(0.125, xi_cu, out=own[3])
        t *= dv
        t /= 3.0
        t = np.multiply(0.5, eta_sq, out=own[4])
        t -= eta_sq_xi
        t *= dv
        strip[2:] *= w_s
    own *= w_s
    strip[0] *= w_s
    row = cell[1].astype(np.int64)
    if total_rows != n_rows:
        row += layer * n_rows
    col = cell[0].astype(np.int64)
    np.maximum(col, -1, out=col)
    return EdgePieces(n_cols, total_rows, row, col, strip, own)
