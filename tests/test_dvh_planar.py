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
