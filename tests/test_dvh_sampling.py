"""Dose sampling inside voxels: trilinear interpolation with dose defined at voxel centres, no
half-voxel shift, exact DVHs of boxes in linear gradients (hand-computed oracles)."""

from __future__ import annotations

import numpy as np
import pytest

from dosimetry.dvh import compute_dvh, evaluate_metric, rasterise_roi, roi_dose_samples, volume_at_or_above
from dosimetry.dvh.phantoms import Shape, make_phantom
from dosimetry.dvh.sampling import trilinear
from dosimetry.errors import ArgumentError
from dosimetry.structures import Roi
from tests.dvh_helpers import box_roi, circle, dose_from, polygon_contour, uniform_grid

GRID = uniform_grid((0.0, 0.0, 0.0), (2.0, 2.0, 2.0), (12, 12, 12))


def test_trilinear_reproduces_centres_and_linear_fields() -> None:
    dose = dose_from(GRID, lambda x, y, z: 3.0 + 0.5 * x - 0.25 * y + 2.0 * z)
    # at voxel centres: the stored values
    value, *_ = trilinear(dose, np.array([4.0, 10.0]), np.array([6.0, 2.0]), np.array([8.0, 0.0]))
    np.testing.assert_allclose(value, [3 + 2 - 1.5 + 16, 3 + 5 - 0.5 + 0], atol=1e-12)
    # between centres: the linear field itself, gradient exact
    rng = np.random.default_rng(1)
    p = rng.uniform(0.0, 22.0, size=(3, 50))
    value, gx, gy, gz = trilinear(dose, p[0], p[1], p[2])
    np.testing.assert_allclose(value, 3 + 0.5 * p[0] - 0.25 * p[1] + 2 * p[2], atol=1e-12)
    np.testing.assert_allclose(gx, 0.5, atol=1e-12)
    np.testing.assert_allclose(gy, -0.25, atol=1e-12)
    np.testing.assert_allclose(gz, 2.0, atol=1e-12)
    # beyond the outermost centres the value is held
    value, gx, *_ = trilinear(dose, np.array([-1.0]), np.array([0.0]), np.array([0.0]))
    assert value[0] == pytest.approx(3.0)
    assert gx[0] == 0.0


@pytest.mark.parametrize("axis", ["x", "y", "z"])
def test_linear_gradient_mean_has_no_half_voxel_shift(axis: str) -> None:
    # box edges fall inside voxels (not on boundaries or centres): any half-voxel shift would move
    # the mean by half the gradient x voxel size = 1 Gy
    coefficient = {"x": (1.0, 0.0, 0.0), "y": (0.0, 1.0, 0.0), "z": (0.0, 0.0, 1.0)}[axis]
    dose = dose_from(GRID, lambda x, y, z: 10 + coefficient[0] * x + coefficient[1] * y + coefficient[2] * z)
    roi = box_roi(3.3, 13.9, 4.6, 11.2, [6.0, 8.0, 10.0])  # half-slab z 5..11
    centre = {"x": (3.3 + 13.9) / 2, "y": (4.6 + 11.2) / 2, "z": 8.0}[axis]
    for supersample in (1, 2, 3):
        dvh = compute_dvh(dose, roi, supersample=supersample)
        assert dvh.mean_gy == pytest.approx(10 + centre, abs=1e-9)
        assert dvh.volume_in_dose_grid_cc == pytest.approx(10.6 * 6.6 * 6 / 1000, rel=1e-12)


def test_box_in_gradient_has_the_exact_dvh() -> None:
    # dose = y (Gy, y in mm); box y 4.6 .. 11.2: V(>= D) = A * (11.2 - D) for D in [4.6, 11.2]
    dose = dose_from(GRID, lambda x, y, z: y + 0 * x)
    roi = box_roi(3.3, 13.9, 4.6, 11.2, [6.0, 8.0, 10.0])
    dvh = compute_dvh(dose, roi)
    height = 11.2 - 4.6
    for p in (99, 95, 50, 5, 1):
        exact = 11.2 - p / 100 * height
        assert evaluate_metric(dvh, f"D{p}%[Gy]") == pytest.approx(exact, abs=2e-3)
    assert evaluate_metric(dvh, "V8Gy[%]") == pytest.approx(100 * (11.2 - 8) / height, abs=0.02)
    assert dvh.min_gy == pytest.approx(4.6, abs=1e-9)
    assert dvh.max_gy == pytest.approx(11.2, abs=1e-9)
    assert dvh.median_gy == pytest.approx((4.6 + 11.2) / 2, abs=1e-9)


def test_samples_sum_to_the_rasterised_volume_and_isodose_volumes_agree() -> None:
    dose = dose_from(GRID, lambda x, y, z: 20 - 0.3 * (x - 11) ** 2 / 10 + 0.2 * y + 0.1 * z)
    roi = Roi(1, "disc", "ORGAN", tuple(polygon_contour(circle(11.3, 10.7, 6.2), z) for z in (7.0, 9.5, 12.0)))
    samples = roi_dose_samples(dose, roi)
    occ = rasterise_roi(roi, GRID)
    assert samples.volume_in_grid_cc == pytest.approx(occ.volume_in_grid_cc, rel=1e-12)
    assert float(samples.weight_cc.sum()) == pytest.approx(occ.volume_in_grid_cc, rel=1e-12)
    dvh = compute_dvh(dose, roi)
    for level in (17.0, 19.5, 21.0):
        direct = volume_at_or_above(dose, roi, level)
        assert direct == pytest.approx(dvh.volume_at_dose_cc(level), abs=1e-9)
        assert samples.volume_at_or_above(level) == pytest.approx(direct, abs=1e-12)
    levels = [21.0, 17.0, 19.5]
    np.testing.assert_allclose(samples.volumes_at_or_above(levels), [samples.volume_at_or_above(v) for v in levels], atol=1e-12)
    # point samples and spread samples have the same mean
    point = roi_dose_samples(dose, roi, spread=False)
    assert point.mean_gy == pytest.approx(samples.mean_gy, rel=1e-12)
    assert np.all(point.spread_gy == 0)


def test_uniform_dose_gives_a_step_dvh() -> None:
    dose = dose_from(GRID, lambda x, y, z: 0 * x + 42.0)
    roi = box_roi(3.3, 13.9, 4.6, 11.2, [6.0, 8.0])
    dvh = compute_dvh(dose, roi)
    for value in (dvh.min_gy, dvh.max_gy, dvh.mean_gy, dvh.median_gy):
        assert value == pytest.approx(42.0, abs=1e-12)
    assert evaluate_metric(dvh, "D99%[Gy]") == pytest.approx(42.0)
    assert evaluate_metric(dvh, "V41.99Gy[%]") == pytest.approx(100.0)
    assert evaluate_metric(dvh, "V42.01Gy[%]") == pytest.approx(0.0)


def test_zero_dose_region_gives_zero_d99_not_an_interpolated_value() -> None:
    # 60 % of the box has exactly 0 Gy (outside the field), the rest a gradient
    dose = dose_from(GRID, lambda x, y, z: np.where(x < 10.0, 0.0, 5.0 * (x - 10.0)))
    roi = box_roi(2.0, 18.0, 4.0, 12.0, [6.0, 8.0])
    dvh = compute_dvh(dose, roi)
    assert evaluate_metric(dvh, "D99%[Gy]") == 0.0
    assert evaluate_metric(dvh, "D50%[Gy]") == 0.0
    assert evaluate_metric(dvh, "Min[Gy]") == 0.0
    assert evaluate_metric(dvh, "D5%[Gy]") > 0.0


@pytest.mark.parametrize("bad", [2.5, True, 9, -1, "2"])
def test_supersample_must_be_a_whole_number_from_1_to_8(bad: object) -> None:
    """2.5 used to be truncated to 2 without a word."""
    phantom = make_phantom(Shape.SPHERE, 2.0)
    with pytest.raises(ArgumentError, match="from 1 to 8"):
        compute_dvh(phantom.dose_grid(2.0), phantom.roi(), supersample=bad)  # type: ignore[arg-type]
