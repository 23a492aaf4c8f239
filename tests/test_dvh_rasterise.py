"""Fractional occupancy: end-cap conventions, holes, several contours per plane, ROIs partly
outside the grid; every expected value computed by hand.

The by-hand values are area x slab thickness under the half-slab (or truncated) convention, so
those conventions are named explicitly; the default (shape) is judged against true solids in
tests/test_dvh_shape.py."""

from __future__ import annotations

import numpy as np
import pytest

from dosimetry.dvh import EndCapConvention, rasterise_roi
from dosimetry.dvh.endcaps import slab_stack
from dosimetry.errors import ArgumentError, GeometryError
from dosimetry.structures import Contour, ContourGeometricType, Roi
from tests.dvh_helpers import box_roi, polygon_contour, rectangle, uniform_grid

HALF_SLAB = EndCapConvention.HALF_SLAB
GRID = uniform_grid((0.0, 0.0, 0.0), (2.0, 2.0, 2.0), (10, 10, 10))  # edges -1 .. 19 on every axis


def test_half_slab_and_truncated_slabs_by_hand() -> None:
    planes = np.array([0.0, 2.0, 4.0])
    half = slab_stack(planes, EndCapConvention.HALF_SLAB)
    np.testing.assert_allclose(half.lower_mm, [-1.0, 1.0, 3.0])
    np.testing.assert_allclose(half.upper_mm, [1.0, 3.0, 5.0])
    trunc = slab_stack(planes, EndCapConvention.TRUNCATED)
    np.testing.assert_allclose(trunc.lower_mm, [0.0, 1.0, 3.0])
    np.testing.assert_allclose(trunc.upper_mm, [1.0, 3.0, 4.0])


def test_gap_splits_parts_and_is_reported() -> None:
    stack = slab_stack(np.array([0.0, 2.0, 10.0, 12.0]), EndCapConvention.HALF_SLAB)
    np.testing.assert_allclose(stack.lower_mm, [-1.0, 1.0, 9.0, 11.0])
    np.testing.assert_allclose(stack.upper_mm, [1.0, 3.0, 11.0, 13.0])
    assert any("gap" in w for w in stack.warnings)


def test_box_volume_and_occupancy_by_hand() -> None:
    # box x 2..8, y 3..9 (6 x 6 mm), planes z = 4, 6, 8 (spacing 2): half-slab z 3..9
    roi = box_roi(2.0, 8.0, 3.0, 9.0, [4.0, 6.0, 8.0])
    occ = rasterise_roi(roi, GRID, end_cap=HALF_SLAB)
    assert occ.volume_cc == pytest.approx(6 * 6 * 6 / 1000)
    assert occ.volume_in_grid_cc == pytest.approx(occ.volume_cc)
    assert occ.volume_outside_grid_cc == 0.0
    # voxel x index 1 spans 1..3 -> 1 mm of 2 inside; y index 2 spans 3..5 -> full; z index 2 spans 3..5 -> full
    assert occ.occupancy[2, 2, 1] == pytest.approx(0.5)
    assert occ.occupancy[2, 2, 2] == pytest.approx(1.0)
    # z index 1 spans 1..3: outside the half-slab solid
    assert occ.occupancy[1, 2, 2] == 0.0
    trunc = rasterise_roi(roi, GRID, end_cap="truncated")
    assert trunc.volume_cc == pytest.approx(6 * 6 * 4 / 1000)
    assert trunc.occupancy[2, 3, 3] == pytest.approx(0.5)  # z 3..5 voxel, solid from 4 (x, y 5..7 inside)


def test_hole_and_two_islands_per_plane() -> None:
    outer = rectangle(0.0, 12.0, 0.0, 12.0)
    inner = rectangle(4.0, 8.0, 4.0, 8.0)
    island = rectangle(14.0, 16.0, 14.0, 16.0)
    contours = tuple(polygon_contour(p, z) for z in (4.0, 6.0) for p in (outer, inner, island))
    roi = Roi(3, "ring", "ORGAN", contours)
    occ = rasterise_roi(roi, GRID, end_cap=HALF_SLAB)
    area = 144 - 16 + 4
    assert occ.volume_cc == pytest.approx(area * 4 / 1000)
    assert occ.volume_in_grid_cc == pytest.approx(area * 4 / 1000)
    assert occ.occupancy[2, 3, 3] == 0.0  # voxel (x 5..7, y 5..7) in the hole
    assert occ.occupancy[2, 8, 8] == pytest.approx(0.25)  # x 15..17 n 14..16, y likewise


def test_roi_partly_outside_grid_reports_volume_outside() -> None:
    # x from 15 to 25: grid ends at x = 19 -> 4 of 10 mm inside
    roi = box_roi(15.0, 25.0, 0.0, 10.0, [4.0, 6.0])
    occ = rasterise_roi(roi, GRID, end_cap=HALF_SLAB)
    assert occ.volume_cc == pytest.approx(10 * 10 * 4 / 1000)
    assert occ.volume_in_grid_cc == pytest.approx(4 * 10 * 4 / 1000)
    assert occ.volume_outside_grid_cc == pytest.approx(6 * 10 * 4 / 1000)
    assert any("outside" in w for w in occ.warnings)
    # and beyond the top slab
    high = box_roi(2.0, 4.0, 2.0, 4.0, [18.0, 20.0])  # half-slab 17..21, grid ends at 19
    occ = rasterise_roi(high, GRID, end_cap=HALF_SLAB)
    assert occ.volume_in_grid_cc == pytest.approx(2 * 2 * 2 / 1000)
    assert occ.volume_outside_grid_cc == pytest.approx(2 * 2 * 2 / 1000)


def test_single_plane_uses_grid_thickness_with_warning() -> None:
    roi = box_roi(2.0, 4.0, 2.0, 4.0, [6.0])
    occ = rasterise_roi(roi, GRID, end_cap=HALF_SLAB)
    assert occ.volume_cc == pytest.approx(2 * 2 * 2 / 1000)
    assert any("single contour plane" in w for w in occ.warnings)
    explicit = rasterise_roi(roi, GRID, single_plane_thickness_mm=3.0, end_cap=HALF_SLAB)
    assert explicit.volume_cc == pytest.approx(2 * 2 * 3 / 1000)


def test_errors_are_explicit() -> None:
    points = Roi(4, "marker", "MARKER", (Contour(np.array([[1.0, 1.0, 1.0]]), ContourGeometricType.POINT),))
    with pytest.raises(GeometryError, match="no CLOSED_PLANAR"):
        rasterise_roi(points, GRID)
    tilted = Roi(5, "tilted", "ORGAN", (Contour(np.array([[0.0, 0, 0], [5, 0, 1], [5, 5, 2]]), ContourGeometricType.CLOSED_PLANAR),))
    with pytest.raises(GeometryError, match="axial"):
        rasterise_roi(tilted, GRID)
    with pytest.raises(ArgumentError, match="end-cap"):
        rasterise_roi(box_roi(2, 4, 2, 4, [4.0, 6.0]), GRID, end_cap="rounded")


def test_non_uniform_dose_grid_z() -> None:
    from dosimetry.grid import RectilinearGrid

    grid = RectilinearGrid(np.arange(10) * 2.0, np.arange(10) * 2.0, np.array([0.0, 2.0, 5.0, 6.0, 10.0]))
    roi = box_roi(2.0, 8.0, 2.0, 8.0, [3.0, 5.0])  # half-slab z 2..6
    occ = rasterise_roi(roi, grid, end_cap=HALF_SLAB)
    # z edges -1, 1, 3.5, 5.5, 8, 12: voxel 1 (1..3.5) has 1.5 of 2.5 inside; voxel 2 full; voxel 3 (5.5..8) 0.5 of 2.5
    assert occ.occupancy[1, 3, 3] == pytest.approx(1.5 / 2.5)
    assert occ.occupancy[2, 3, 3] == pytest.approx(1.0)
    assert occ.occupancy[3, 3, 3] == pytest.approx(0.5 / 2.5)
    assert occ.volume_in_grid_cc == pytest.approx(36 * 4 / 1000)


def test_self_intersecting_contour_is_reported() -> None:
    square = [[2.0, 2.0], [10.0, 2.0], [10.0, 10.0], [2.0, 10.0]]
    twice = np.array(square + square)  # runs round twice: winding number 2
    roi = Roi(6, "loop", "ORGAN", tuple(polygon_contour(twice, z) for z in (4.0, 6.0)))
    occ = rasterise_roi(roi, GRID)
    assert any("self-intersect" in w for w in occ.warnings)
    assert occ.occupancy.min() >= 0.0 and occ.occupancy.max() <= 1.0
