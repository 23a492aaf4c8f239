"""The shape model's planar raster helpers (``dosimetry.dvh._shape_planar``) against independent
computations of the same quantities: contourpy's public ``contour_generator`` for the level lines,
brute-force nearest distances (NumPy, every boundary point) for the inscribed radius, and the
analytic inscribed radius of a circle and of a rectangle."""

from __future__ import annotations

import math

import contourpy
import numpy as np
import pytest

from dosimetry.dvh._shape_planar import _boundary_points, _Raster, _signed_distance, _zero_lines
from dosimetry.dvh.geometry import PlaneSection
from dosimetry.dvh.planar import signed_area


def _section(x: np.ndarray, y: np.ndarray) -> PlaneSection:
    return PlaneSection(0.0, ((x, y),), (1,), abs(signed_area(x, y)), (1,))


def _raster_around(section: PlaneSection, pixel_mm: float) -> _Raster:
    (x, y), = section.polygons
    margin = 4 * pixel_mm
    nx = math.ceil((np.ptp(x) + 2 * margin) / pixel_mm) + 1
    ny = math.ceil((np.ptp(y) + 2 * margin) / pixel_mm) + 1
    return _Raster(float(x.min()) - margin, float(y.min()) - margin, pixel_mm, nx, ny)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_zero_lines_are_contourpys_contour_generator(seed: int) -> None:
    """Oracle: contourpy.contour_generator(...).lines(0.0), the public function _zero_lines bypasses
    for speed; the lines must be identical, value for value, also with a non-finite value."""
    rng = np.random.default_rng(seed)
    ny, nx = 23, 31
    xs, ys = np.cumsum(rng.uniform(0.5, 1.5, nx)), np.cumsum(rng.uniform(0.5, 1.5, ny))
    field = rng.normal(size=(ny, nx))
    if seed == 2:
        field[5, 7] = np.nan
    expected = contourpy.contour_generator(
        xs, ys, field, line_type=contourpy.LineType.Separate, corner_mask=False
    ).lines(0.0)
    got = _zero_lines(xs, ys, field)
    assert len(got) == len(expected) > 0
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_array_equal(a, b)


def _brute_inscribed(section: PlaneSection, raster: _Raster, phi: np.ndarray) -> float:
    """The refinement _signed_distance performs, with every nearest distance by brute force over
    all boundary points (NumPy), no k-d tree."""
    points = _boundary_points(section, 0.2 * raster.pixel_mm)
    p = raster.pixel_mm
    row, col = np.unravel_index(int(np.argmin(phi)), phi.shape)
    x, y = float(raster.x0_mm + p * col), float(raster.y0_mm + p * row)
    best = float(-phi[row, col])
    offsets = np.linspace(-1.0, 1.0, 11)
    step = p
    for _ in range(3):
        gx, gy = np.meshgrid(x + step * offsets, y + step * offsets)
        qx, qy = gx.ravel(), gy.ravel()
        d = np.sqrt(((qx[:, None] - points[None, :, 0]) ** 2 + (qy[:, None] - points[None, :, 1]) ** 2).min(axis=1))
        k = int(np.argmax(d))
        if d[k] > best:
            best, x, y = float(d[k]), float(qx[k]), float(qy[k])
        step *= 0.2
    return best


@pytest.mark.parametrize(("kind", "pixel_mm"), [("circle", 0.5), ("circle", 1.0), ("rectangle", 0.7), ("ellipse", 0.4)])
def test_inscribed_radius_against_brute_force_and_analytic(kind: str, pixel_mm: float) -> None:
    """Oracles: brute-force nearest distances (every boundary point) for the refined inscribed
    radius (to 1e-12 mm), and the analytic inscribed radius (circle: its radius; rectangle: half its
    short side) to 2 % of a pixel plus 0.01 mm. Not for the ellipse: its distance ridge along the
    major axis is flat, and the refinement (within a pixel of the deepest pixel) stops 0.05 mm short
    of the minor semi-axis at 0.4 mm pixels, a property of the method, not of its speed-up."""
    t = np.linspace(0.0, 2 * np.pi, 720, endpoint=False)
    if kind == "circle":
        x, y, analytic = 30.0 * np.cos(t) + 3.3, 30.0 * np.sin(t) - 1.7, 30.0 * math.cos(math.pi / 720)
    elif kind == "ellipse":
        x, y, analytic = 25.0 * np.cos(t), 9.0 * np.sin(t), float("nan")
    else:
        x, y, analytic = np.array([0.0, 40.0, 40.0, 0.0]), np.array([0.0, 0.0, 14.0, 14.0]), 7.0
    section = _section(x, y)
    raster = _raster_around(section, pixel_mm)
    phi, inscribed = _signed_distance(section, raster)
    assert abs(inscribed - _brute_inscribed(section, raster, phi)) <= 1e-12
    if analytic == analytic:
        assert abs(inscribed - analytic) <= 0.02 * pixel_mm + 0.01


@pytest.mark.parametrize(("shift_px", "ratio"), [(0.0, 1.0), (-3.37, 1.0), (2.5, 1.07), (0.31, 0.83)])
def test_resample_equals_the_bilinear_formula_exactly(shift_px: float, ratio: float) -> None:
    """Oracle: the bilinear formula written out with fancy indexing (the form _resample had before
    its gathers became ``take`` and its arithmetic in place): equal value for value, edges clipped."""
    from dosimetry.dvh._shape_planar import _resample

    rng = np.random.default_rng(7)
    field = rng.normal(size=(37, 53))
    rows = np.asarray((np.arange(37) - 18.0) / ratio + 18.0 - shift_px, dtype=np.float64)
    cols = np.asarray((np.arange(53) - 26.0) / ratio + 26.0 + 0.5 * shift_px, dtype=np.float64)
    r = np.clip(rows, 0.0, 36.0)
    c = np.clip(cols, 0.0, 52.0)
    r0 = np.minimum(np.floor(r).astype(np.intp), 35)
    c0 = np.minimum(np.floor(c).astype(np.intp), 51)
    fr, fc = (r - r0)[:, None], c - c0
    top, bottom = field[r0], field[r0 + 1]
    along = top + fr * (bottom - top)
    expected = along[:, c0] + fc * (along[:, c0 + 1] - along[:, c0])
    np.testing.assert_array_equal(_resample(field, rows, cols), expected)
