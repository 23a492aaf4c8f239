"""TITE-CRM follow-up weights (Cheung and Chappell 2000, linear scheme).

A patient without DLT who has been followed for ``u`` months of an observation window of ``T``
months enters the likelihood with weight ``w = min(u / T, 1)``; a patient with a DLT has ``w = 1``.
The window is always an explicit argument: the protocol gives 6 months in one place and 4 months
in another, so this module has no default.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from dosimetry.errors import TrialDesignError


def check_window_months(window_months: float) -> float:
    """Validate the observation window (months) and return it as a float."""
    try:
        value = float(window_months)
    except (TypeError, ValueError) as exc:
        raise TrialDesignError(f"window_months: expected a positive number of months, got {window_months!r}") from exc
    if not (math.isfinite(value) and value > 0.0):
        raise TrialDesignError(f"window_months: expected a positive number of months, got {window_months!r}")
    return value


def linear_weight(followup_months: float, dlt: bool, window_months: float) -> float:
    """``min(followup / window, 1)`` for a patient without DLT, 1 for a patient with a DLT."""
    window = check_window_months(window_months)
    if not (math.isfinite(followup_months) and followup_months >= 0.0):
        raise TrialDesignError(f"followup_months: expected a finite number >= 0, got {followup_months!r}")
    if dlt:
        return 1.0
    return min(followup_months / window, 1.0)


def linear_weights(
    followup_months: Sequence[float], dlt: Sequence[bool], window_months: float
) -> tuple[float, ...]:
    """Linear TITE weights of several patients (same order as the inputs)."""
    if len(followup_months) != len(dlt):
        raise TrialDesignError(
            f"weights: {len(followup_months)} follow-up times but {len(dlt)} DLT indicators"
        )
    return tuple(linear_weight(float(u), bool(y), window_months) for u, y in zip(followup_months, dlt))
