"""Isodose volumes against closed-form sphere volumes.

Tolerances: the dose phantom is a linear radial falloff sampled at voxel centres and trilinearly
interpolated; interpolating |r| makes isodose radii too small by about h^2 / (8 r) (0.01 mm for
h = 1 mm, r = 10 mm, i.e. 0.3 % in volume) and the sub-voxel staircase adds a few 0.1 %. 1 % is
therefore a safe bound that still fails on any error of one sub-voxel layer or of a missing
partial-volume treatment (voxel-centre counting at 2 mm spacing is off by several %).
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from dosimetry.errors import ArgumentError, ConsistencyError, GeometryError
from dosimetry.indices.volumes import body_volumes, find_body, grid_volumes, volumes_from_samples
from dosimetry.structures import StructureSet
from tests.indices_phantoms import RadialFalloff, box_roi, dose_grid, sphere_cc, sphere_roi

FALLOFF = RadialFalloff(dmax_gy=60.0, plateau_mm=5.0, zero_mm=35.0, centre_mm=(0.3, -0.2, 0.1))


@pytest.fixture(scope="module")
def phantom():
    return dose_grid(FALLOFF, half_width_mm=37.0, spacing_mm=1.0)


def test_whole_grid_isodose_spheres(phantom) -> None:
    levels = (50.0, 40.0, 25.0, 10.0)
    started = time.perf_counter()
    result = grid_volumes(phantom, levels, subdivisions=3)
    elapsed = time.perf_counter() - started
    assert elapsed < 10.0
    for level, volume in zip(levels, result.volumes_cc, strict=True):
        expected = sphere_cc(FALLOFF.radius_mm(level))
        assert volume == pytest.approx(expected, rel=0.01), (level, volume, expected)
    assert result.max_gy == pytest.approx(60.0)
    assert result.total_cc == pytest.approx(phantom.grid.total_volume_cc())


def test_planar_falloff_within_one_subvoxel_layer() -> None:
    # D = 2 Gy/mm * (x - x0): trilinear interpolation reproduces it exactly, so the only error left
    # is the sub-voxel staircase, at most one sub-voxel layer (area x h / s).
    from dosimetry.dose import DoseGrid, DoseSummationType, DoseType
    from dosimetry.grid import RectilinearGrid

    grid = RectilinearGrid.uniform((0.0, 0.0, 0.0), (2.5, 2.0, 3.0), (6, 7, 20))
    zz, yy, xx = np.meshgrid(grid.z_mm, grid.y_mm, grid.x_mm, indexing="ij")
    dose = DoseGrid(grid, 2.0 * (xx + 1.0), DoseType.PHYSICAL, DoseSummationType.PLAN, "1.2.3")
    (y0, y1), (z0, z1) = grid.bounds_mm()[1], grid.bounds_mm()[2]
    area_mm2 = (y1 - y0) * (z1 - z0)
    x_end = grid.bounds_mm()[0][1]
    for level in (10.3, 25.0, 41.7):
        x_level = level / 2.0 - 1.0
        exact_cc = area_mm2 * (x_end - x_level) / 1000.0
        for subdivisions in (1, 2, 4, 8):
            got = grid_volumes(dose, (level,), subdivisions=subdivisions).volumes_cc[0]
            assert abs(got - exact_cc) <= area_mm2 * 2.5 / subdivisions / 1000.0 * 0.5 + 1e-9, (level, subdivisions)


def test_coarse_grid_bias_is_the_interpolation_of_r() -> None:
    # At 2.5 mm the trilinear interpolation of |r| (convex) lowers the dose near the isodose and
    # shrinks the 10 mm sphere by ~3 %; finer sub-sampling converges to that, not to the sphere.
    coarse = dose_grid(FALLOFF, half_width_mm=38.0, spacing_mm=2.5)
    expected = sphere_cc(FALLOFF.radius_mm(50.0))
    fine = grid_volumes(coarse, (50.0,), subdivisions=6).volumes_cc[0]
    assert -0.04 < fine / expected - 1 < 0.0


def test_level_above_maximum_gives_zero_volume(phantom) -> None:
    result = grid_volumes(phantom, (60.5, 100.0), subdivisions=2)
    assert result.volumes_cc == (0.0, 0.0)


def test_volumes_from_samples_by_hand() -> None:
    result = volumes_from_samples("x", [1.0, 2.0, 2.0, 3.0], [0.1, 0.2, 0.3, 0.4], (2.0, 2.5, 3.0, 3.5))
    assert result.volumes_cc == pytest.approx((0.9, 0.4, 0.4, 0.0))
    assert result.total_cc == pytest.approx(1.0)
    assert result.max_gy == 3.0
    assert result.at(2.5) == pytest.approx(0.4)
    with pytest.raises(ArgumentError, match="was not computed"):
        result.at(7.0)


def test_empty_region_and_bad_levels_raise() -> None:
    with pytest.raises(GeometryError, match="no volume"):
        volumes_from_samples("ROI 'CTV'", [], [], (1.0,))
    with pytest.raises(ArgumentError, match="> 0 Gy"):
        volumes_from_samples("x", [1.0], [1.0], (0.0,))
    with pytest.raises(ArgumentError, match="at least one"):
        volumes_from_samples("x", [1.0], [1.0], ())


def test_no_body_uses_whole_grid_with_warning(phantom) -> None:
    result = body_volumes(phantom, None, (50.0,), subdivisions=2)
    assert "whole dose grid" in result.description
    assert any("no External" in w and "whole dose grid" in w for w in result.warnings)


def test_find_body() -> None:
    target = sphere_roi("CTV", 5.0)
    body = box_roi("Body", 30.0)
    assert find_body(StructureSet((target, body), "1.2.3")) is body
    assert find_body(StructureSet((target,), "1.2.3")) is None
    twice = box_roi("Body2", 20.0, number=100)
    with pytest.raises(ConsistencyError, match="several"):
        find_body(StructureSet((target, body, twice), "1.2.3"))
    untyped = type(body)(number=5, name="BODY", interpreted_type="", contours=body.contours)
    assert find_body(StructureSet((target, untyped), "1.2.3")) is untyped


def test_non_uniform_z_grid() -> None:
    # Slices of 1 mm near the centre and 2 mm outside: volumes still within 1 %.
    from dosimetry.dose import DoseGrid, DoseSummationType, DoseType
    from dosimetry.grid import RectilinearGrid

    z = np.concatenate([np.arange(-37.0, -15.0, 2.0), np.arange(-15.0, 15.0, 1.0), np.arange(15.0, 38.0, 2.0)]) + 0.1
    xy = np.arange(-37.0, 37.5, 1.0) + 0.13
    grid = RectilinearGrid(xy, xy, z)
    zz, yy, xx = np.meshgrid(grid.z_mm, grid.y_mm, grid.x_mm, indexing="ij")
    dose = DoseGrid(grid, FALLOFF.dose_at(xx, yy, zz), DoseType.PHYSICAL, DoseSummationType.PLAN, "1.2.3")
    result = grid_volumes(dose, (50.0, 25.0), subdivisions=3)
    assert result.volumes_cc[0] == pytest.approx(sphere_cc(FALLOFF.radius_mm(50.0)), rel=0.01)
    assert result.volumes_cc[1] == pytest.approx(sphere_cc(FALLOFF.radius_mm(25.0)), rel=0.01)
