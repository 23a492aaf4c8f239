"""LQ formulas against the protocol's Table 1 and worked numbers, properties and input checks."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dosimetry.errors import RadiobiologyError
from dosimetry.radiobiology import lq
from dosimetry.radiobiology.schedule import make_schedule, make_schedules, schedules_to_json

# Protocol Table 1: (fractions of 2.5 GyE, total GyE, BED2, BED9), values printed to 0.1 GyE.
TABLE_1 = [
    (21, 52.5, 118.1, 67.1),
    (22, 55.0, 123.8, 70.3),
    (23, 57.5, 129.4, 73.5),
    (24, 60.0, 135.0, 76.7),
    (25, 62.5, 140.6, 79.9),
    (26, 65.0, 146.3, 83.1),
]
TABLE_TOLERANCE_GY = 0.05 + 1e-9  # the table rounds to 0.1 GyE


def _round_half_up(value: float) -> float:
    return float(Decimal(repr(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


@pytest.mark.parametrize(("fractions", "total", "bed2", "bed9"), TABLE_1)
def test_table_1_schedule(fractions: int, total: float, bed2: float, bed9: float) -> None:
    s = make_schedule(2.5, fractions, (2, 9))
    assert s.total_gy == pytest.approx(total, abs=1e-12)
    assert abs(s.bed_for(2) - bed2) <= TABLE_TOLERANCE_GY
    assert abs(s.bed_for(9) - bed9) <= TABLE_TOLERANCE_GY
    # and the table's printed value is our value rounded half-up to 0.1
    assert _round_half_up(s.bed_for(2)) == bed2
    assert _round_half_up(s.bed_for(9)) == bed9


def test_table_1_json_shape() -> None:
    data = schedules_to_json(make_schedules(2.5, [21, 26], [2, 9]))
    first = data["schedules"][0]
    assert set(first) == {"fractions", "dose_per_fraction_gy", "total_gy", "bed_gy", "eqd2_gy"}
    assert set(first["bed_gy"]) == {"2", "9"}
    assert first["eqd2_gy"]["2"] == pytest.approx(118.125 / 2.0)
    assert first["eqd2_gy"]["9"] == pytest.approx(67.0833333 / (1 + 2 / 9), rel=1e-7)


def test_heidelberg_51_gye_in_3_gye_fractions() -> None:
    assert lq.bed_gy(51.0, 17, 2.0) == pytest.approx(127.5, abs=1e-9)
    assert lq.bed_gy(51.0, 17, 9.0) == pytest.approx(68.0, abs=1e-9)


def test_reirradiation_imxt_60_to_66_gy_bed9_73_to_81() -> None:
    low = lq.bed_gy(60.0, 30, 9.0)
    high = lq.bed_gy(66.0, 33, 9.0)
    assert low == pytest.approx(73.333, abs=1e-3)
    assert high == pytest.approx(80.667, abs=1e-3)
    assert round(low) == 73 and round(high) == 81


def test_55_gye_starting_dose_text_values() -> None:
    # "A total dose of 55 GyE (at 2.5 GyE per daily fraction) resulted in a BED2 of 124 GyE and a BED9 of 70 GyE"
    assert round(lq.bed_gy(55.0, 22, 2.0)) == 124
    assert round(lq.bed_gy(55.0, 22, 9.0)) == 70


def test_eqd2_hand_computed() -> None:
    # 3 x 8 Gy, alpha/beta 3: BED = 24 (1 + 8/3) = 88, EQD2 = 88 / (1 + 2/3) = 52.8
    assert lq.bed_gy(24.0, 3, 3.0) == pytest.approx(88.0)
    assert lq.eqd2_gy(24.0, 3, 3.0) == pytest.approx(52.8)
    assert lq.bed_from_eqd2_gy(52.8, 3.0) == pytest.approx(88.0)


def test_arrays_match_scalars_and_work_in_place() -> None:
    dose = np.array([[0.0, 10.0], [30.0, 70.0]])
    bed = lq.bed_array(dose, 35, 2.0)
    eqd2 = lq.eqd2_array(dose, 35, 2.0)
    for value, b, e in zip(dose.ravel(), bed.ravel(), eqd2.ravel(), strict=True):
        assert b == pytest.approx(lq.bed_gy(value, 35, 2.0), rel=1e-12)
        assert e == pytest.approx(lq.eqd2_gy(value, 35, 2.0), rel=1e-12)
    work = dose.copy()
    result = lq.bed_array(work, 35, 2.0, out=work)
    assert result is work
    np.testing.assert_allclose(work, bed, rtol=1e-12)


def test_variable_alpha_beta_map_matches_uniform() -> None:
    dose = np.linspace(0, 60, 12).reshape(3, 4)
    ab = np.where(dose > 30, 9.0, 2.0)
    expected = np.where(dose > 30, lq.bed_array(dose, 20, 9.0), lq.bed_array(dose, 20, 2.0))
    np.testing.assert_allclose(lq.bed_array_variable_alpha_beta(dose, 20, ab), expected, rtol=1e-12)
    expected_eqd2 = np.where(dose > 30, lq.eqd2_array(dose, 20, 9.0), lq.eqd2_array(dose, 20, 2.0))
    np.testing.assert_allclose(lq.eqd2_array_variable_alpha_beta(dose, 20, ab), expected_eqd2, rtol=1e-12)


doses = st.floats(min_value=0.0, max_value=200.0, allow_nan=False)
fraction_counts = st.integers(min_value=1, max_value=60)
ratios = st.floats(min_value=0.5, max_value=20.0, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(dose=doses, extra=st.floats(min_value=0.01, max_value=50.0), n=fraction_counts, ab=ratios)
def test_bed_rises_with_dose(dose: float, extra: float, n: int, ab: float) -> None:
    assert lq.bed_gy(dose + extra, n, ab) > lq.bed_gy(dose, n, ab)


@settings(max_examples=200, deadline=None)
@given(dose=st.floats(min_value=0.1, max_value=200.0), n=st.integers(min_value=2, max_value=60), ab=ratios)
def test_bed_rises_with_dose_per_fraction(dose: float, n: int, ab: float) -> None:
    # same total dose in fewer fractions = more dose per fraction
    assert lq.bed_gy(dose, n - 1, ab) > lq.bed_gy(dose, n, ab)


@settings(max_examples=200, deadline=None)
@given(n=fraction_counts, ab=ratios)
def test_eqd2_of_2_gy_fractions_is_the_dose(n: int, ab: float) -> None:
    assert lq.eqd2_gy(2.0 * n, n, ab) == pytest.approx(2.0 * n, rel=1e-12)


@settings(max_examples=100, deadline=None)
@given(dose=doses, n=fraction_counts, ab=ratios)
def test_bed_is_at_least_the_dose(dose: float, n: int, ab: float) -> None:
    assert lq.bed_gy(dose, n, ab) >= dose


@pytest.mark.parametrize("bad", [0.0, -2.0, math.nan, math.inf, "x"])
def test_alpha_beta_must_be_positive(bad: object) -> None:
    with pytest.raises(RadiobiologyError, match="alpha_beta_gy"):
        lq.bed_gy(10.0, 5, bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_fractions_must_be_whole_and_positive(bad: object) -> None:
    with pytest.raises(RadiobiologyError, match="fractions"):
        lq.bed_gy(10.0, bad, 2.0)  # type: ignore[arg-type]


def test_negative_dose_refused() -> None:
    with pytest.raises(RadiobiologyError, match="total_dose_gy"):
        lq.bed_gy(-1.0, 5, 2.0)
    with pytest.raises(RadiobiologyError, match="dose_gy"):
        lq.bed_array(np.array([1.0, -0.5]), 5, 2.0)


def test_schedule_input_checks() -> None:
    with pytest.raises(RadiobiologyError, match="dose_per_fraction_gy"):
        make_schedule(0.0, 10, (2,))
    with pytest.raises(RadiobiologyError, match="fractions"):
        make_schedules(2.0, [], (2,))
    with pytest.raises(RadiobiologyError, match="alpha"):
        make_schedule(2.0, 10, ())
