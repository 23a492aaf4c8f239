"""Exact pixel coverage and moments of polygons (edge integration) against hand-computed areas
and brute-force supersampling."""

from __future__ import annotations

import numpy as np
import pytest

from dosimetry.dvh.planar import even_odd_signs, pixel_coverage, pixel_moments, signed_area


def test_square_straddling_pixels_by_hand() -> None:
    u = np.array([0.25, 1.75, 1.75, 0.25])
    v = np.array([0.25, 0.25, 1.75, 1.75])
    cov = pixel_coverage([(u, v)], [1.0], 3, 3)
    expected = np.zeros((3, 3))
    expected[:2, :2] = 0.75 * 0.75
    np.testing.assert_allclose(cov, expected, atol=1e-14)
    # orientation does not matter
    np.testing.assert_allclose(pixel_coverage([(u[::-1], v[::-1])], [1.0], 3, 3), expected, atol=1e-14)


def test_triangle_by_hand() -> None:
    # right triangle (0,0)-(2,0)-(0,2): pixel (0,0) full, (0,1) and (1,0) half, (1,1) empty
    u = np.array([0.0, 2.0, 0.0])
    v = np.array([0.0, 0.0, 2.0])
    cov = pixel_coverage([(u, v)], [1.0], 2, 2)
    np.testing.assert_allclose(cov, [[1.0, 0.5], [0.5, 0.0]], atol=1e-14)


def test_polygon_partly_outside_window_keeps_exact_inside_part() -> None:
    # square [-1.5, 1.5]^2 on a 2x2 window: only [0,1.5]^2 is inside
    u = np.array([-1.5, 1.5, 1.5, -1.5])
    v = np.array([-1.5, -1.5, 1.5, 1.5])
    cov = pixel_coverage([(u, v)], [1.0], 2, 2)
    np.testing.assert_allclose(cov, [[1.0, 0.5], [0.5, 0.25]], atol=1e-14)
    # entirely left of the window: nothing inside
    cov = pixel_coverage([(u - 10, v)], [1.0], 2, 2)
    np.testing.assert_allclose(cov, 0.0, atol=1e-14)


def test_hole_subtracts() -> None:
    outer = (np.array([0.0, 4.0, 4.0, 0.0]), np.array([0.0, 0.0, 4.0, 4.0]))
    inner = (np.array([1.0, 3.0, 3.0, 1.0]), np.array([1.0, 1.0, 3.0, 3.0]))
    signs = even_odd_signs([outer, inner])
    assert signs == [1, -1]
    cov = pixel_coverage([outer, inner], signs, 4, 4)
    expected = np.ones((4, 4))
    expected[1:3, 1:3] = 0.0
    np.testing.assert_allclose(cov, expected, atol=1e-14)


def test_island_in_hole_is_solid_again() -> None:
    polys = [
        (np.array([0.0, 9, 9, 0]), np.array([0.0, 0, 9, 9])),
        (np.array([2.0, 7, 7, 2]), np.array([2.0, 2, 7, 7])),
        (np.array([4.0, 5, 5, 4]), np.array([4.0, 4, 5, 5])),
    ]
    assert even_odd_signs(polys) == [1, -1, 1]
    cov = pixel_coverage(polys, even_odd_signs(polys), 9, 9)
    assert cov.sum() == pytest.approx(81 - 25 + 1, abs=1e-12)
    assert cov[4, 4] == pytest.approx(1.0)


def test_circle_area_and_brute_force_per_pixel() -> None:
    t = 2 * np.pi * np.arange(720) / 720
    u, v = 2.3 + 4.1 * np.cos(t), 1.7 + 4.1 * np.sin(t)
    cov = pixel_coverage([(u, v)], [1.0], 8, 8)
    # brute force: 200 x 200 sub-samples per pixel
    g = (np.arange(1600) + 0.5) / 200
    x, y = np.meshgrid(g, g)
    inside = np.zeros(x.shape, dtype=bool)
    # point-in-polygon for the 720-gon via the circle it approximates (polygon-circle gap < 1e-4)
    inside = (x - 2.3) ** 2 + (y - 1.7) ** 2 <= 4.1**2
    brute = inside.reshape(8, 200, 8, 200).mean(axis=(1, 3))
    np.testing.assert_allclose(cov, brute, atol=2e-3)
    # exact total inside the window equals the polygon area clipped: compare with a big window
    full = pixel_coverage([(u + 10, v + 10)], [1.0], 30, 30)
    assert full.sum() == pytest.approx(abs(signed_area(u, v)), rel=1e-12)


def test_moments_match_brute_force() -> None:
    t = 2 * np.pi * np.arange(720) / 720
    u, v = 3.2 + 2.9 * np.cos(t), 2.6 + 2.2 * np.sin(t)
    a, mu, mv, muu, mvv = pixel_moments([(u, v)], [1.0], 7, 6)
    g_u = (np.arange(7 * 200) + 0.5) / 200
    g_v = (np.arange(6 * 200) + 0.5) / 200
    x, y = np.meshgrid(g_u, g_v)
    inside = ((x - 3.2) / 2.9) ** 2 + ((y - 2.6) / 2.2) ** 2 <= 1
    xi = x - np.floor(x) - 0.5
    eta = y - np.floor(y) - 0.5

    def block(f: np.ndarray) -> np.ndarray:
        return (inside * f).reshape(6, 200, 7, 200).mean(axis=(1, 3))

    np.testing.assert_allclose(a, block(np.ones_like(x)), atol=2e-3)
    np.testing.assert_allclose(mu, block(xi), atol=1e-3)
    np.testing.assert_allclose(mv, block(eta), atol=1e-3)
    np.testing.assert_allclose(muu, block(xi**2), atol=1e-3)
    np.testing.assert_allclose(mvv, block(eta**2), atol=1e-3)
    # a full pixel: centroid at the centre, variance 1/12
    i, j = 3, 3
    assert a[i, j] == pytest.approx(1.0)
    assert mu[i, j] == pytest.approx(0.0, abs=1e-12)
    assert muu[i, j] == pytest.approx(1 / 12, abs=1e-12)


# --- the edge-piece lookup (EdgePieces.at / coarse_area) against the dense sums ------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from dosimetry.dvh.planar import EdgePieces, edge_pieces  # noqa: E402
from dosimetry.errors import ArgumentError  # noqa: E402


def _ellipses(n_cols: int, n_rows: int, n_layers: int) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[float], list[int]]:
    """An ellipse with an elliptic hole per layer, some reaching out of the window, plus a polygon
    left of the window on layer 0 (a strip to every pixel of its rows)."""
    t = np.linspace(0, 2 * np.pi, 57, endpoint=False)
    polys, weights, layers = [], [], []
    for layer in range(n_layers):
        cu, cv = n_cols * (0.3 + 0.15 * layer), n_rows * (0.55 - 0.1 * layer)
        polys += [(cu + 0.45 * n_cols * np.cos(t), cv + 0.4 * n_rows * np.sin(t)), (cu + 2.5 * np.cos(t), cv + 1.7 * np.sin(t))]
        weights += [1.0, -1.0]
        layers += [layer, layer]
    polys.append((np.array([-5.0, -1.0, -1.5]), np.array([1.2, 2.7, 6.3])))
    weights.append(1.0)
    layers.append(0)
    return polys, weights, layers


def _every_pixel(pieces: EdgePieces) -> tuple[np.ndarray, np.ndarray]:
    rows, cols = np.divmod(np.arange(pieces.n_rows * pieces.n_cols), pieces.n_cols)
    return rows, cols


def _reference_lookup(pieces: EdgePieces, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """The lookup written out on the piece-sorted running sums: (S[mid] - S[lo]) + (O[hi] - O[mid])."""
    _, _, sp, op = pieces._index
    keys = np.sort(pieces.row * (pieces.n_cols + 2) + (pieces.col + 1), kind="stable")
    base = rows * (pieces.n_cols + 2)
    key = base + cols + 1
    lo = np.searchsorted(keys, base, side="left")
    mid = np.searchsorted(keys, key, side="left")
    hi = np.searchsorted(keys, key, side="right")
    return ((sp[mid] - sp[lo]) + (op[hi] - op[mid])).T


def _fresh(pieces: EdgePieces) -> EdgePieces:
    return EdgePieces(pieces.n_cols, pieces.n_rows, pieces.row, pieces.col, pieces.strip, pieces.own)


def _lookups(pieces: EdgePieces, rows: np.ndarray, cols: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> dict[str, np.ndarray]:
    """at() by each of its four ways: running sums read directly or one column per pixel kind,
    each through a dense key table or binary search."""
    out = {}
    for direct in (True, False):
        for table in (True, False):
            monkeypatch.setattr(EdgePieces, "DIRECT_LOOKUP_PIECES", 10**9 if direct else -1)
            monkeypatch.setattr(EdgePieces, "DENSE_TABLE_ENTRIES_PER_PIECE", 64 if table else -(10**9))
            fresh = _fresh(pieces)
            out[f"direct={direct} table={table}"] = fresh.at(rows, cols)
            if fresh.row.size:
                made = fresh._index[0] if direct else fresh._lookup[2]
                assert (made is not None) == table
    monkeypatch.undo()
    return out


@pytest.mark.parametrize("moments", [True, False])
def test_lookup_of_every_pixel_is_the_dense_sum_every_way(moments: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    polys, weights, layers = _ellipses(31, 23, 3)
    pieces = edge_pieces(polys, weights, 31, 23, moments=moments, layers=layers, n_layers=3)
    rows, cols = _every_pixel(pieces)
    dense = np.array(pieces.dense()).reshape(len(pieces.strip), -1)
    reference = _reference_lookup(pieces, rows, cols)
    np.testing.assert_allclose(reference, dense, rtol=0, atol=1e-12)
    pick = np.random.default_rng(5).integers(0, rows.size, 500)  # any order, repeats, a subset
    for how, found in _lookups(pieces, rows, cols, monkeypatch).items():
        assert found.shape == dense.shape, how
        # the very numbers of the running-sum formula
        np.testing.assert_array_equal(found, reference, err_msg=how)
    for how, found in _lookups(pieces, rows[pick], cols[pick], monkeypatch).items():
        np.testing.assert_array_equal(found, reference[:, pick], err_msg=how)


def test_lookup_without_pieces_is_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    far = (np.array([50.0, 60.0, 55.0]), np.array([1.0, 1.0, 3.0]))  # right of the window
    pieces = edge_pieces([far], [1.0], 6, 4, moments=True)
    assert pieces.row.size == 0
    rows, cols = _every_pixel(pieces)
    for how, found in _lookups(pieces, rows, cols, monkeypatch).items():
        np.testing.assert_array_equal(found, np.zeros((5, rows.size)), err_msg=how)
    np.testing.assert_array_equal(pieces.coarse_area(2), np.zeros((2, 3)))


def test_unclipped_polygons_give_the_same_pieces_as_the_clipping_path() -> None:
    # inside the window's rows and left of its right border: the direct path; a polygon entirely
    # right of the window (it adds nothing) sends the same edges through the clipping path
    polys, weights, layers = _ellipses(200, 160, 2)
    inside = [(0.1 + 0.2 * u, 0.1 + 0.2 * v) for u, v in polys[:-1]]
    far = (np.array([250.0, 260.0, 255.0]), np.array([10.0, 10.0, 30.0]))
    direct = edge_pieces(inside, weights[:-1], 200, 160, moments=True, layers=layers[:-1], n_layers=2)
    clipped = edge_pieces([*inside, far], weights, 200, 160, moments=True, layers=layers, n_layers=2)
    for name in ("row", "col", "strip", "own"):
        np.testing.assert_array_equal(getattr(direct, name), getattr(clipped, name))


def test_coarse_area_is_the_block_mean_of_the_fine_area() -> None:
    polys, weights, layers = _ellipses(24, 18, 2)
    pieces = edge_pieces(polys, weights, 24, 18, moments=True, layers=layers, n_layers=2)
    fine = pieces.dense()[0]
    for n in (1, 2, 3, 6):
        coarse = fine.reshape(36 // n, n, 24 // n, n).mean(axis=(1, 3))
        np.testing.assert_allclose(pieces.coarse_area(n), coarse, rtol=0, atol=1e-12)


def test_argument_counts_are_checked() -> None:
    square = (np.array([0.0, 1.0, 1.0]), np.array([0.0, 0.0, 1.0]))
    with pytest.raises(ArgumentError, match="weight"):
        edge_pieces([square], [1.0, 1.0], 2, 2, moments=False)
    with pytest.raises(ArgumentError, match="layer"):
        edge_pieces([square], [1.0], 2, 2, moments=False, layers=[0, 0])


_coordinate = st.floats(min_value=-4.0, max_value=14.0, allow_nan=False)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.lists(st.tuples(_coordinate, _coordinate), min_size=1, max_size=7), min_size=1, max_size=4),
    st.integers(min_value=1, max_value=3),
    st.booleans(),
)
def test_lookup_and_coarse_area_agree_with_the_dense_sums(
    shapes: list[list[tuple[float, float]]], n_layers: int, on_grid: bool
) -> None:
    polys = []
    for points in shapes:
        uv = np.array(points)
        if on_grid:  # vertices on pixel corners and edges: cuts at t = 0, 1, ties
            uv = np.round(uv * 2) / 2
        polys.append((uv[:, 0], uv[:, 1]))
    weights = [1.0 if i % 2 == 0 else -0.5 for i in range(len(polys))]
    layers = [i % n_layers for i in range(len(polys))]
    pieces = edge_pieces(polys, weights, 10, 8, moments=True, layers=layers, n_layers=n_layers)
    rows, cols = _every_pixel(pieces)
    dense = np.array(pieces.dense()).reshape(5, -1)
    looked_up = pieces.at(rows, cols)
    scale = max(1.0, float(np.abs(dense).max()))
    np.testing.assert_allclose(looked_up, dense, rtol=0, atol=1e-12 * scale)
    if pieces.row.size:
        np.testing.assert_array_equal(looked_up, _reference_lookup(pieces, rows, cols))
        by_kind = _fresh(pieces)
        by_kind.__dict__["DIRECT_LOOKUP_PIECES"] = -1  # (instance attribute: this object only)
        np.testing.assert_array_equal(by_kind.at(rows, cols), looked_up)
    area = dense[0].reshape(8 * n_layers, 10)
    coarse = area.reshape(4 * n_layers, 2, 5, 2).mean(axis=(1, 3))
    np.testing.assert_allclose(pieces.coarse_area(2), coarse, rtol=0, atol=1e-12 * scale)


def _clip_to_pixel(points: np.ndarray, c: int, r: int) -> np.ndarray:
    """Sutherland-Hodgman clip of a convex counter-clockwise polygon to pixel [c, c+1] x [r, r+1],
    in coordinates about the pixel centre."""
    poly = [tuple(p) for p in points - (c + 0.5, r + 0.5)]
    for axis, sign in ((0, 1.0), (0, -1.0), (1, 1.0), (1, -1.0)):  # keep sign * x[axis] <= 0.5
        out = []
        for i, p in enumerate(poly):
            q = poly[(i + 1) % len(poly)]
            p_in, q_in = sign * p[axis] <= 0.5, sign * q[axis] <= 0.5
            if p_in:
                out.append(p)
            if p_in != q_in:
                f = (0.5 * sign - p[axis]) / (q[axis] - p[axis])
                out.append((p[0] + f * (q[0] - p[0]), p[1] + f * (q[1] - p[1])))
        poly = out
        if not poly:
            return np.zeros((0, 2))
    return np.array(poly)


def _polygon_moments(poly: np.ndarray) -> np.ndarray:
    """Area and the integrals of x, y, x^2, y^2 over a counter-clockwise polygon (Green's theorem,
    vertex formulas)."""
    if len(poly) < 3:
        return np.zeros(5)
    x, y = poly[:, 0], poly[:, 1]
    x1, y1 = np.roll(x, -1), np.roll(y, -1)
    cross = x * y1 - x1 * y
    return np.array(
        [
            cross.sum() / 2,
            ((x + x1) * cross).sum() / 6,
            ((y + y1) * cross).sum() / 6,
            ((x * x + x * x1 + x1 * x1) * cross).sum() / 12,
            ((y * y + y * y1 + y1 * y1) * cross).sum() / 12,
        ]
    )


_vertex = st.tuples(st.floats(min_value=-1.5, max_value=6.5), st.floats(min_value=-1.5, max_value=5.5))


@settings(max_examples=80, deadline=None)
@given(st.tuples(_vertex, _vertex, _vertex), st.booleans())
def test_moments_of_a_triangle_match_exact_clipping(vertices: tuple, clockwise: bool) -> None:
    tri = np.array(vertices)
    area2 = (tri[1, 0] - tri[0, 0]) * (tri[2, 1] - tri[0, 1]) - (tri[2, 0] - tri[0, 0]) * (tri[1, 1] - tri[0, 1])
    if abs(area2) < 1e-3:
        return
    ccw = tri if area2 > 0 else tri[::-1]
    given_order = ccw[::-1] if clockwise else ccw  # orientation must not matter
    got = np.array(pixel_moments([(given_order[:, 0].copy(), given_order[:, 1].copy())], [1.0], 5, 4))
    expected = np.zeros((5, 4, 5))
    for r in range(4):
        for c in range(5):
            expected[:, r, c] = _polygon_moments(_clip_to_pixel(ccw, c, r))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
