"""Isodose volumes against closed-form sphere and slab volumes.

Tolerances: the dose phantom is a linear radial falloff sampled at voxel centres and trilinearly
interpolated by the DVH engine; interpolating |r| shrinks isodose radii by up to h^2 / (8 r)
(0.01 mm for h = 1 mm, r = 10 mm: 0.3 % in volume) and the engine's uniform dose-spread model of a
voxel adds a few 0.1 %. 1 % is a safe bound that still fails on one missing voxel layer (3 % at
r = 10 mm). A dose linear along one axis is reproduced exactly (slab volumes to 1e-9).
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from dosimetry.dvh import DoseSamples, EndCapConvention
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
    result = grid_volumes(phantom, levels)
    elapsed = time.perf_counter() - started
    assert elapsed < 10.0
    for level, volume in zip(levels, result.volumes_cc, strict=True):
        expected = sphere_cc(FALLOFF.radius_mm(level))
        assert volume == pytest.approx(expected, rel=0.01), (level, volume, expected)
    # Dmax of the samples includes half the dose spread of the hottest voxel.
    assert 60.0 <= result.max_gy <= 61.5
    assert result.total_cc == pytest.approx(phantom.grid.total_volume_cc())


def test_planar_falloff_is_exact() -> None:
    # D = 2 Gy/mm * (x + 1): the engine's dose spread is exact for a dose linear along one axis, so
    # isodose volumes of the whole grid are exact slabs (levels between the outermost centres).
    from dosimetry.dose import DoseGrid, DoseSummationType, DoseType
    from dosimetry.grid import RectilinearGrid

    grid = RectilinearGrid.uniform((0.0, 0.0, 0.0), (2.5, 2.0, 3.0), (6, 7, 20))
    zz, yy, xx = np.meshgrid(grid.z_mm, grid.y_mm, grid.x_mm, indexing="ij")
    dose = DoseGrid(grid, 2.0 * (xx + 1.0), DoseType.PHYSICAL, DoseSummationType.PLAN, "1.2.3")
    (y0, y1), (z0, z1) = grid.bounds_mm()[1], grid.bounds_mm()[2]
    area_mm2 = (y1 - y0) * (z1 - z0)
    x_end = grid.bounds_mm()[0][1]
    levels = (10.3, 25.0, 41.7)
    result = grid_volumes(dose, levels)
    assert result.total_cc == pytest.approx(grid.total_volume_cc())
    for level, volume in zip(levels, result.volumes_cc, strict=True):
        assert volume == pytest.approx(area_mm2 * (x_end - (level / 2.0 - 1.0)) / 1000.0, rel=1e-9)


def test_coarse_grid_stays_within_a_few_percent() -> None:
    coarse = dose_grid(FALLOFF, half_width_mm=38.0, spacing_mm=2.5)
    expected = sphere_cc(FALLOFF.radius_mm(50.0))
    assert grid_volumes(coarse, (50.0,)).volumes_cc[0] == pytest.approx(expected, rel=0.04)


def test_level_above_maximum_gives_zero_volume(phantom) -> None:
    result = grid_volumes(phantom, (61.0 + 2.0, 100.0))
    assert result.volumes_cc == (0.0, 0.0)


def _point_samples(dose: list[float], weight: list[float], outside_cc: float = 0.0) -> DoseSamples:
    w = np.array(weight)
    return DoseSamples(
        dose_gy=np.array(dose), weight_cc=w, spread_gy=np.zeros(w.size), volume_cc=float(w.sum()) + outside_cc,
        volume_in_grid_cc=float(w.sum()), volume_outside_grid_cc=outside_cc, end_cap=EndCapConvention.HALF_SLAB,
        supersample=1,
    )


def test_volumes_from_samples_by_hand() -> None:
    samples = _point_samples([1.0, 2.0, 2.0, 3.0], [0.1, 0.2, 0.3, 0.4], outside_cc=0.5)
    result = volumes_from_samples("x", samples, (2.0, 2.5, 3.0, 3.5))
    assert result.volumes_cc == pytest.approx((0.9, 0.4, 0.4, 0.0))
    assert result.total_cc == pytest.approx(1.5)
    assert result.in_grid_cc == pytest.approx(1.0)
    assert result.max_gy == 3.0
    assert result.at(2.5) == pytest.approx(0.4)
    with pytest.raises(ArgumentError, match="was not computed"):
        result.at(7.0)


def test_empty_region_and_bad_levels_raise() -> None:
    with pytest.raises(GeometryError, match="no volume inside the dose grid"):
        volumes_from_samples("ROI 'CTV'", _point_samples([], []), (1.0,))
    with pytest.raises(ArgumentError, match="> 0 Gy"):
        volumes_from_samples("x", _point_samples([1.0], [1.0]), (0.0,))
    with pytest.raises(ArgumentError, match="at least one"):
        volumes_from_samples("x", _point_samples([1.0], [1.0]), ())


def test_body_roi_partly_outside_grid_is_not_a_warning(phantom) -> None:
    # The External usually extends beyond the dose grid: the PIV is counted where the dose is known.
    big_body = box_roi("BODY", 45.0)
    result = body_volumes(phantom, big_body, (50.0,))
    assert "inside the dose grid" in result.description
    assert not any("outside the dose grid" in w for w in result.warnings)
    assert result.volumes_cc[0] == pytest.approx(sphere_cc(FALLOFF.radius_mm(50.0)), rel=0.01)


def test_whole_grid_agrees_with_an_external_covering_the_grid(phantom) -> None:
    levels = (50.0, 25.0)
    whole = body_volumes(phantom, None, levels)
    boxed = body_volumes(phantom, box_roi("BODY", 40.0), levels)
    for a, b in zip(whole.volumes_cc, boxed.volumes_cc, strict=True):
        assert a == pytest.approx(b, rel=1e-9)


def test_no_body_uses_whole_grid_with_warning(phantom) -> None:
    result = body_volumes(phantom, None, (50.0,))
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
    result = grid_volumes(dose, (50.0, 25.0))
    assert result.volumes_cc[0] == pytest.approx(sphere_cc(FALLOFF.radius_mm(50.0)), rel=0.01)
    assert result.volumes_cc[1] == pytest.approx(sphere_cc(FALLOFF.radius_mm(25.0)), rel=0.01)
