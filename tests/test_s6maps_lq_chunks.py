"""Issue 20: the LQ arithmetic computed in small chunks of the output, with each chunk's doses checked
as it is computed (``_lq_array``), and the cumulative prior term without a checked ``lq_array`` call
per chunk (``_add_scaled_lq``), give the numbers and the errors they gave.

Oracle: the arithmetic written out over the whole array (``t = D * k; t += scale; out = t * D``, the
operations of the former implementation in their order), compared bit for bit (``tobytes``), and
the whole array's check (``_check_dose_array``) for the errors.
"""

from __future__ import annotations

import numpy as np
import pytest

from dosimetry.errors import RadiobiologyError
from dosimetry.quantities import DoseQuantity
from dosimetry.radiobiology.lq import _CHUNK, _check_dose_array, bed_array, eqd2_array, eqd2_per_bed
from dosimetry.radiobiology.summation import cumulative_array

#: sizes around the chunk size: one partial chunk, exact chunks, chunks and a remainder
SIZES = (1, 7, _CHUNK - 1, _CHUNK, 2 * _CHUNK, 3 * _CHUNK + 5)


def _oracle(dose: np.ndarray, fractions: int, alpha_beta_gy: float, scale: float) -> np.ndarray:
    k = scale / (fractions * alpha_beta_gy)
    t = dose * k
    t += scale
    return t * dose


def _doses(size: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    dose = rng.random(size) * 80.0
    dose[:: max(1, size // 5)] = 0.0
    return dose


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize(("fractions", "alpha_beta_gy"), [(30, 2.0), (22, 9.0), (5, 3.0), (1, 10.0)])
def test_bed_and_eqd2_arrays_bit_identical_to_the_whole_array_arithmetic(size: int, fractions: int, alpha_beta_gy: float) -> None:
    dose = _doses(size)
    bed = bed_array(dose, fractions, alpha_beta_gy)
    eqd2 = eqd2_array(dose, fractions, alpha_beta_gy)
    assert bed.tobytes() == _oracle(dose, fractions, alpha_beta_gy, 1.0).tobytes()
    assert eqd2.tobytes() == _oracle(dose, fractions, alpha_beta_gy, eqd2_per_bed(alpha_beta_gy)).tobytes()


def test_given_out_in_place_and_non_contiguous_inputs_give_the_same_numbers() -> None:
    dose = _doses(2 * _CHUNK + 11, seed=3).reshape(-1, 1)
    expected = _oracle(dose, 25, 2.0, 1.0)
    out = np.empty_like(dose)
    assert bed_array(dose, 25, 2.0, out=out) is out
    assert out.tobytes() == expected.tobytes()
    in_place = dose.copy()
    assert bed_array(in_place, 25, 2.0, out=in_place) is in_place
    assert in_place.tobytes() == expected.tobytes()
    wide = np.repeat(dose, 2, axis=1)[:, ::2]  # not contiguous
    assert not wide.flags.c_contiguous
    assert bed_array(wide, 25, 2.0).tobytes() == expected.tobytes()
    grid = _doses(40 * 33 * 29, seed=4).reshape(40, 33, 29)  # a 3-D grid, as the maps give
    assert eqd2_array(grid, 30, 2.0).tobytes() == _oracle(grid, 30, 2.0, eqd2_per_bed(2.0)).tobytes()


def _whole_array_error(dose: np.ndarray) -> str:
    with pytest.raises(RadiobiologyError) as caught:
        _check_dose_array(dose, "dose_gy")
    return str(caught.value)


@pytest.mark.parametrize("bad", [-1.0, -np.inf, np.nan, np.inf])
@pytest.mark.parametrize("where", [0, _CHUNK - 1, 2 * _CHUNK + 3])
def test_a_bad_dose_in_any_chunk_raises_the_whole_arrays_error(bad: float, where: int) -> None:
    dose = _doses(3 * _CHUNK + 5, seed=1)
    dose[where] = bad
    dose[-1] = -0.5 if bad == -1.0 else dose[-1]  # a later chunk with a lower minimum: the message names the array's
    expected = _whole_array_error(dose)
    for function in (bed_array, eqd2_array):
        with pytest.raises(RadiobiologyError) as caught:
            function(dose, 30, 2.0)
        assert str(caught.value) == expected
    # in place: checked first, so the input is unchanged
    before = dose.copy()
    with pytest.raises(RadiobiologyError) as caught:
        bed_array(dose, 30, 2.0, out=dose)
    assert str(caught.value) == expected
    assert np.array_equal(dose, before, equal_nan=True)


def test_the_errors_keep_their_order_dose_then_fractions_then_alpha_beta_then_out() -> None:
    bad_dose = _doses(_CHUNK + 3)
    bad_dose[-2] = -2.0
    dose_message = _whole_array_error(bad_dose)
    with pytest.raises(RadiobiologyError, match="must hold finite doses") as caught:
        bed_array(bad_dose, 0, 2.0)
    assert str(caught.value) == dose_message
    with pytest.raises(RadiobiologyError) as caught:
        bed_array(bad_dose, 30, 2.0, out=np.empty(3))
    assert str(caught.value) == dose_message
    good = _doses(_CHUNK + 3)
    with pytest.raises(RadiobiologyError, match="fractions"):
        bed_array(good, 0, -1.0)
    with pytest.raises(RadiobiologyError, match="alpha_beta_gy"):
        bed_array(good, 30, -1.0)
    with pytest.raises(RadiobiologyError, match="out must be a float64 array"):
        bed_array(good, 30, 2.0, out=np.empty(3))
    with pytest.raises(RadiobiologyError, match="is empty"):
        bed_array(np.empty(0), 0, 2.0)


@pytest.mark.parametrize("quantity", [DoseQuantity.EQD2, DoseQuantity.BED])
@pytest.mark.parametrize("size", [5, _CHUNK, 2 * _CHUNK + 7])
def test_cumulative_prior_term_bit_identical_to_the_whole_array_arithmetic(quantity: DoseQuantity, size: int) -> None:
    current, prior = _doses(size, seed=5), _doses(size, seed=6) * 0.7
    scale = 1.0 if quantity is DoseQuantity.BED else eqd2_per_bed(2.0)
    expected = _oracle(current, 30, 2.0, scale)
    term = _oracle(prior, 25, 2.0, scale)
    term *= 0.3
    expected += term
    result = cumulative_array(current, 30, prior, 25, alpha_beta_gy=2.0, residual=0.3, quantity=quantity)
    assert result.tobytes() == expected.tobytes()


def test_cumulative_prior_with_a_bad_dose_raises_the_whole_arrays_error() -> None:
    current, prior = _doses(2 * _CHUNK + 7, seed=5), _doses(2 * _CHUNK + 7, seed=6)
    prior[_CHUNK + 4] = np.nan
    with pytest.raises(RadiobiologyError) as caught:
        cumulative_array(current, 30, prior, 25, alpha_beta_gy=2.0, residual=0.3)
    assert str(caught.value) == _whole_array_error(prior)

