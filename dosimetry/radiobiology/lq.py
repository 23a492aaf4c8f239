"""Linear-quadratic (LQ) model: BED and EQD2 for a dose given in ``n`` equal fractions.

With ``D`` the total dose of a course (Gy, or GyE for RBE-weighted dose), ``n`` its fraction
count and ``d = D / n`` the dose per fraction:

* ``BED  = D (1 + d / (alpha/beta))``
* ``EQD2 = BED / (1 + 2 / (alpha/beta))`` (the dose in 2 Gy fractions with the same BED)

Applied voxel by voxel, ``d`` is each voxel's own dose per fraction (its total dose divided by the
fraction count), not the prescription's. The array functions compute ``out = (D * k + c) * D`` on one
output array (``out``, which may be the input itself) chunk by chunk (``o = D * k; o += c; o *= D``
in the output's own chunk; through a small scratch buffer when ``out`` is the input), so they never
hold more than the input and the output, and check each chunk of the input while it is in the cache.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from dosimetry.errors import RadiobiologyError

FloatArray = npt.NDArray[np.float64]

#: Voxels per chunk of the array functions (256 kB of float64: a chunk of the input and of the
#: output stay in the L2 cache over the three passes). Measured reason (issue 20, 256 x 256 x 160
#: grid, median of 9): 2 MB chunks through a scratch buffer 0.032 s per map, 256 kB chunks computed
#: in the output 0.017 s. The chunk size changes no value (every operation is element-wise).
_CHUNK = 1 << 15

#: Reference dose per fraction of EQD2, Gy.
EQD2_REFERENCE_DOSE_PER_FRACTION_GY = 2.0


def check_alpha_beta(alpha_beta_gy: float, *, argument: str = "alpha_beta_gy") -> float:
    """The alpha/beta ratio as a float, or a :class:`RadiobiologyError` naming ``argument``."""
    try:
        value = float(alpha_beta_gy)
    except (TypeError, ValueError) as exc:
        raise RadiobiologyError(f"{argument} must be a number of Gy > 0, got {alpha_beta_gy!r}") from exc
    if not math.isfinite(value) or value <= 0.0:
        raise RadiobiologyError(f"{argument} must be a finite alpha/beta ratio > 0 Gy, got {alpha_beta_gy!r}")
    return value


def check_fractions(fractions: object, *, argument: str = "fractions") -> int:
    """The fraction count as an int >= 1, or a :class:`RadiobiologyError` naming ``argument``."""
    if isinstance(fractions, float) and fractions.is_integer():
        value = int(fractions)
    elif isinstance(fractions, (int, np.integer)) and not isinstance(fractions, bool):
        value = int(fractions)
    else:
        raise RadiobiologyError(f"{argument} must be a whole number of fractions >= 1, got {fractions!r}")
    if value < 1:
        raise RadiobiologyError(f"{argument} must be a whole number of fractions >= 1, got {fractions!r}")
    return value


def check_dose(dose_gy: float, *, argument: str = "dose_gy") -> float:
    """A scalar dose as a float >= 0, or a :class:`RadiobiologyError` naming ``argument``."""
    try:
        value = float(dose_gy)
    except (TypeError, ValueError) as exc:
        raise RadiobiologyError(f"{argument} must be a dose in Gy >= 0, got {dose_gy!r}") from exc
    if not math.isfinite(value) or value < 0.0:
        raise RadiobiologyError(f"{argument} must be a finite dose >= 0 Gy, got {dose_gy!r}")
    return value


def _check_dose_array(dose_gy: FloatArray, argument: str) -> None:
    if dose_gy.size == 0:
        raise RadiobiologyError(f"{argument} is empty")
    low = float(np.min(dose_gy))
    if not math.isfinite(low) or low < 0.0:
        raise RadiobiologyError(f"{argument} must hold finite doses >= 0 Gy, its minimum is {low!r}")
    if not math.isfinite(float(np.max(dose_gy))):
        raise RadiobiologyError(f"{argument} contains non-finite doses")


def eqd2_per_bed(alpha_beta_gy: float) -> float:
    """``EQD2 / BED = 1 / (1 + 2 / (alpha/beta))``."""
    ab = check_alpha_beta(alpha_beta_gy)
    return 1.0 / (1.0 + EQD2_REFERENCE_DOSE_PER_FRACTION_GY / ab)


def bed_gy(total_dose_gy: float, fractions: int, alpha_beta_gy: float) -> float:
    """BED of ``total_dose_gy`` given in ``fractions`` equal fractions."""
    dose = check_dose(total_dose_gy, argument="total_dose_gy")
    n = check_fractions(fractions)
    ab = check_alpha_beta(alpha_beta_gy)
    return dose * (1.0 + (dose / n) / ab)


def eqd2_gy(total_dose_gy: float, fractions: int, alpha_beta_gy: float) -> float:
    """EQD2 of ``total_dose_gy`` given in ``fractions`` equal fractions."""
    return bed_gy(total_dose_gy, fractions, alpha_beta_gy) * eqd2_per_bed(alpha_beta_gy)


def bed_from_eqd2_gy(eqd2: float, alpha_beta_gy: float) -> float:
    """BED with the same effect as ``eqd2`` (same alpha/beta)."""
    return float(eqd2) / eqd2_per_bed(alpha_beta_gy)


def _doses_valid(chunk: FloatArray) -> bool:
    """Whether every value of a non-empty ``chunk`` is finite and >= 0 (what :func:`_check_dose_array`
    accepts: a NaN minimum fails the first comparison, an infinite maximum the second)."""
    return bool(chunk.min() >= 0.0) and bool(chunk.max() < math.inf)


def _lq_array(
    dose_gy: npt.ArrayLike, fractions: int, alpha_beta_gy: float, scale: float, out: FloatArray | None, argument: str
) -> FloatArray:
    """``scale * D * (1 + D / (n ab))`` computed as ``(D * k + scale) * D`` with ``k = scale / (n ab)``.

    Errors in the order they always came: the dose (empty, negative or non-finite values: the
    whole array's message), the fraction count, the alpha/beta, ``out``. The doses are checked one
    chunk at a time just before the chunk is computed (measured reason at :data:`_CHUNK`: a
    separate whole-grid minimum and maximum were two more passes over 84 MB per map); a chunk that
    fails has the whole array checked, which raises the same error as before. On an error a given
    ``out`` (other than the input) may hold part of the result; an input given as ``out`` is checked
    whole first, so it is unchanged on an error."""
    dose = np.asarray(dose_gy, dtype=np.float64)
    if dose.size == 0:
        _check_dose_array(dose, argument)
    try:
        n = check_fractions(fractions)
        ab = check_alpha_beta(alpha_beta_gy)
        if out is not None and (out.shape != dose.shape or out.dtype != np.float64):
            raise RadiobiologyError(f"out must be a float64 array of shape {dose.shape}, got {out.dtype} {out.shape}")
    except RadiobiologyError:
        _check_dose_array(dose, argument)  # a bad dose is reported first, as always
        raise
    if out is None:
        out = np.empty_like(dose)
    k = scale / (n * ab)
    if not (dose.flags.c_contiguous and out.flags.c_contiguous):
        _check_dose_array(dose, argument)
        np.multiply(dose, k, out=(scratch := np.empty_like(dose)))
        scratch += scale
        np.multiply(scratch, dose, out=out)
        return out
    flat_dose = dose.reshape(-1)
    flat_out = out.reshape(-1)
    if np.may_share_memory(dose, out):  # in place: checked first (unchanged on an error), each chunk through a scratch buffer
        _check_dose_array(dose, argument)
        scratch = np.empty(min(_CHUNK, flat_dose.size), dtype=np.float64)
        for start in range(0, flat_dose.size, _CHUNK):
            d = flat_dose[start : start + _CHUNK]
            t = scratch[: d.size]
            np.multiply(d, k, out=t)
            t += scale
            np.multiply(t, d, out=flat_out[start : start + _CHUNK])
        return out
    for start in range(0, flat_dose.size, _CHUNK):
        d = flat_dose[start : start + _CHUNK]
        if not _doses_valid(d):
            _check_dose_array(dose, argument)  # raises (the input is unchanged)
        _lq_into(d, k, scale, flat_out[start : start + _CHUNK])
    return out


def _lq_into(dose: FloatArray, k: float, scale: float, out: FloatArray) -> FloatArray:
    """``out = (dose * k + scale) * dose``, unchecked: ``out`` a float64 array of the shape of ``dose``
    sharing no memory with it (the arithmetic of :func:`_lq_array`, whose checks the caller made)."""
    np.multiply(dose, k, out=out)
    out += scale
    out *= dose
    return out


def _lq_coefficients(fractions: int, alpha_beta_gy: float, *, bed: bool) -> tuple[float, float]:
    """``(k, scale)`` of :func:`bed_array` (``bed``) or :func:`eqd2_array` for checked arguments: the
    floats :func:`_lq_array` computes from them."""
    scale = 1.0 if bed else eqd2_per_bed(alpha_beta_gy)
    return scale / (fractions * alpha_beta_gy), scale


def _add_scaled_lq_array(
    result: FloatArray, dose: FloatArray, fractions: int, alpha_beta_gy: float, scale: float, factor: float, argument: str
) -> None:
    """``result += factor * _lq_array(dose, fractions, alpha_beta_gy, scale, None, argument)`` one chunk
    at a time (both C-contiguous, same shape; ``fractions`` and ``alpha_beta_gy`` already checked):
    per voxel the same operations in the same order (``t = D * k; t += scale; t *= D; t *= factor;
    result += t``), so the same numbers, without a whole-grid temporary. The doses are checked as in
    :func:`_lq_array` (a chunk that fails has the whole array checked, raising its usual error;
    ``result`` then holds part of the sum)."""
    k = scale / (fractions * alpha_beta_gy)
    flat_dose, flat_result = dose.reshape(-1), result.reshape(-1)
    scratch = np.empty(min(_CHUNK, flat_dose.size), dtype=np.float64)
    for start in range(0, flat_dose.size, _CHUNK):
        d = flat_dose[start : start + _CHUNK]
        if not _doses_valid(d):
            _check_dose_array(dose, argument)  # raises (the input is unchanged)
        t = scratch[: d.size]
        np.multiply(d, k, out=t)
        t += scale
        t *= d
        t *= factor
        flat_result[start : start + _CHUNK] += t


def bed_array(
    dose_gy: npt.ArrayLike, fractions: int, alpha_beta_gy: float, *, out: FloatArray | None = None
) -> FloatArray:
    """Voxel-wise BED of a total-dose array given in ``fractions`` fractions.

    ``out`` may be a preallocated float64 array of the same shape (it may be the input itself).
    """
    return _lq_array(dose_gy, fractions, alpha_beta_gy, 1.0, out, "dose_gy")


def eqd2_array(
    dose_gy: npt.ArrayLike, fractions: int, alpha_beta_gy: float, *, out: FloatArray | None = None
) -> FloatArray:
    """Voxel-wise EQD2 of a total-dose array given in ``fractions`` fractions (see :func:`bed_array`)."""
    return _lq_array(dose_gy, fractions, alpha_beta_gy, eqd2_per_bed(alpha_beta_gy), out, "dose_gy")


def bed_array_variable_alpha_beta(
    dose_gy: npt.ArrayLike, fractions: int, alpha_beta_gy: npt.ArrayLike
) -> FloatArray:
    """Voxel-wise BED where each voxel has its own alpha/beta (same shape as the dose)."""
    dose = np.asarray(dose_gy, dtype=np.float64)
    _check_dose_array(dose, "dose_gy")
    n = check_fractions(fractions)
    ab = np.asarray(alpha_beta_gy, dtype=np.float64)
    if ab.shape != dose.shape:
        raise RadiobiologyError(f"alpha_beta_gy map shape {ab.shape} differs from the dose shape {dose.shape}")
    if not np.all(np.isfinite(ab)) or float(ab.min()) <= 0.0:
        raise RadiobiologyError("alpha_beta_gy map must hold finite ratios > 0 Gy")
    out = dose / (n * ab)
    out += 1.0
    out *= dose
    return out


def eqd2_array_variable_alpha_beta(
    dose_gy: npt.ArrayLike, fractions: int, alpha_beta_gy: npt.ArrayLike
) -> FloatArray:
    """Voxel-wise EQD2 where each voxel has its own alpha/beta (same shape as the dose)."""
    out = bed_array_variable_alpha_beta(dose_gy, fractions, alpha_beta_gy)
    ab = np.asarray(alpha_beta_gy, dtype=np.float64)
    out /= 1.0 + EQD2_REFERENCE_DOSE_PER_FRACTION_GY / ab
    return out
