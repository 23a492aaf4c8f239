"""Course summation: residual discount by hand, linearity in r, the physical-discount method."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dosimetry.dose import DoseGrid, DoseSummationType, DoseType
from dosimetry.errors import ArgumentError, GeometryError
from dosimetry.grid import RectilinearGrid
from dosimetry.plan import RadiationType
from dosimetry.quantities import DoseQuantity
from dosimetry.radiobiology import CourseDose, lq
from dosimetry.radiobiology.summation import (
    TARGET_METRICS_NOTE,
    SummationMethod,
    accumulate,
    check_residual,
    cumulative_array,
)
from tests.test_radiobiology_maps import FRAME, make_plan

GRID = RectilinearGrid.uniform((0.0, 0.0, 0.0), (2.0, 2.0, 2.0), (2, 2, 2))


def _dose(values: float | np.ndarray, dose_type: DoseType) -> DoseGrid:
    return DoseGrid(GRID, np.broadcast_to(values, GRID.shape_zyx), dose_type, DoseSummationType.PLAN, FRAME)


def test_residual_discount_by_hand() -> None:
    # current: 55 GyE in 22 fx -> EQD2_2 = 123.75 / 2 = 61.875
    # prior: 70 Gy in 35 fx (2 Gy/fx) -> EQD2_2 = 70; 30 % residual -> 21
    result = accumulate(
        CourseDose(_dose(55.0, DoseType.EFFECTIVE), make_plan(22, RadiationType.ION)),
        CourseDose(_dose(70.0, DoseType.PHYSICAL), make_plan(35, RadiationType.PHOTON, uid="9.9")),
        alpha_beta_gy=2.0,
    )
    np.testing.assert_allclose(result.dose.dose_gy, 61.875 + 21.0)
    assert result.method is SummationMethod.BED_SPACE
    assert result.residual == 0.3
    assert result.dose.dose_type is DoseType.EFFECTIVE
    assert "0.3 x prior 35 fx" in result.description and "bed-space" in result.description
    assert result.target_metrics_note == TARGET_METRICS_NOTE
    assert result.dose.referenced_plan_uid == "1.2.3.4"


def test_bed_quantity_by_hand() -> None:
    # BED2: 123.75 + 0.3 * 140 = 165.75
    values = cumulative_array(55.0, 22, 70.0, 35, alpha_beta_gy=2.0, residual=0.3, quantity=DoseQuantity.BED)
    assert float(values) == pytest.approx(165.75)


def test_physical_method_discounts_before_lq() -> None:
    # 0.3 x 70 Gy = 21 Gy in 35 fx: d = 0.6, EQD2_2 = 21 * 1.3 / 2 = 13.65
    values = cumulative_array(55.0, 22, 70.0, 35, alpha_beta_gy=2.0, residual=0.3, method=SummationMethod.PHYSICAL)
    assert float(values) == pytest.approx(61.875 + 13.65)


def test_residual_one_is_full_sum_and_zero_is_current_only() -> None:
    full = cumulative_array(55.0, 22, 70.0, 35, alpha_beta_gy=9.0, residual=1.0)
    assert float(full) == pytest.approx(lq.eqd2_gy(55.0, 22, 9.0) + lq.eqd2_gy(70.0, 35, 9.0))
    none = cumulative_array(55.0, 22, 70.0, 35, alpha_beta_gy=9.0, residual=0.0, method=SummationMethod.PHYSICAL)
    assert float(none) == pytest.approx(lq.eqd2_gy(55.0, 22, 9.0))


@settings(max_examples=150, deadline=None)
@given(
    current=st.floats(0.0, 80.0),
    prior=st.floats(0.0, 80.0),
    r1=st.floats(0.0, 1.0),
    r2=st.floats(0.0, 1.0),
    n_cur=st.integers(1, 40),
    n_prior=st.integers(1, 40),
    ab=st.floats(0.5, 15.0),
)
def test_bed_space_summation_is_linear_in_r(
    current: float, prior: float, r1: float, r2: float, n_cur: int, n_prior: int, ab: float
) -> None:
    def f(r: float) -> float:
        return float(cumulative_array(current, n_cur, prior, n_prior, alpha_beta_gy=ab, residual=r))

    f0, f1 = f(0.0), f(1.0)
    for r in (r1, r2):
        assert f(r) == pytest.approx(f0 + r * (f1 - f0), rel=1e-10, abs=1e-9)


@settings(max_examples=100, deadline=None)
@given(prior=st.floats(0.1, 80.0), r=st.floats(0.01, 0.99), n=st.integers(1, 40), ab=st.floats(0.5, 15.0))
def test_physical_method_never_exceeds_bed_space(prior: float, r: float, n: int, ab: float) -> None:
    bed_space = float(cumulative_array(0.0, 1, prior, n, alpha_beta_gy=ab, residual=r))
    physical = float(cumulative_array(0.0, 1, prior, n, alpha_beta_gy=ab, residual=r, method=SummationMethod.PHYSICAL))
    assert physical < bed_space


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan")])
def test_residual_out_of_range(bad: float) -> None:
    with pytest.raises(ArgumentError, match="residual"):
        check_residual(bad)


def test_grids_must_match() -> None:
    other = DoseGrid(
        RectilinearGrid.uniform((1.0, 0.0, 0.0), (2.0, 2.0, 2.0), (2, 2, 2)),
        np.ones((2, 2, 2)),
        DoseType.PHYSICAL,
        DoseSummationType.PLAN,
        FRAME,
    )
    with pytest.raises(GeometryError, match="resampled"):
        accumulate(CourseDose(_dose(1.0, DoseType.EFFECTIVE), fractions=1), CourseDose(other, fractions=1), alpha_beta_gy=2.0)


def test_alignment_warnings_carried() -> None:
    result = accumulate(
        CourseDose(_dose(1.0, DoseType.EFFECTIVE), fractions=1),
        CourseDose(_dose(1.0, DoseType.PHYSICAL), fractions=1),
        alpha_beta_gy=2.0,
        warnings=("assumed same position",),
    )
    assert "assumed same position" in result.warnings
    assert any(w.startswith("prior: ") and "photon" in w for w in result.warnings)
    assert result.dose.warnings == result.warnings
