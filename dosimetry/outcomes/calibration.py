"""Calibration of predicted probabilities: binned observed vs predicted rates and the
Hosmer-Lemeshow goodness-of-fit test.

Patients are sorted by predicted probability and split into ``groups`` groups of (nearly) equal
size (:func:`numpy.array_split` of the sorted order; tied predictions may fall into neighbouring
groups). For group g with n_g patients, O_g observed events and E_g = sum of the predictions::

    C = sum_g (O_g - E_g)^2 / (E_g (1 - E_g / n_g)),   p = P(chi2_{G - 2} > C)

(Hosmer and Lemeshow 1980; "C-hat", deciles of risk with G = 10). The number of groups is reduced
so that every group has at least :data:`MIN_PER_GROUP` patients; with fewer than 3 groups the test
has no degrees of freedom and is not computed (said in ``warnings``, the bins are still given).
Each bin carries a Wilson 95 % interval of its observed rate (statsmodels ``proportion_confint``),
which stays inside [0, 1].

Hand-written because neither statsmodels nor lifelines (nor scipy) provides the Hosmer-Lemeshow
test; the chi-square tail is scipy's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from dosimetry.errors import ArgumentError

MIN_PER_GROUP = 5


@dataclass(frozen=True)
class CalibrationBin:
    n: int
    observed_events: int
    expected_events: float
    mean_predicted: float
    observed_rate: float
    observed_ci95: tuple[float, float]

    def as_dict(self) -> dict[str, object]:
        return {
            "n": self.n,
            "observed_events": self.observed_events,
            "expected_events": self.expected_events,
            "mean_predicted": self.mean_predicted,
            "observed_rate": self.observed_rate,
            "observed_rate_wilson_ci95": list(self.observed_ci95),
        }


@dataclass(frozen=True)
class Calibration:
    bins: tuple[CalibrationBin, ...]
    #: Hosmer-Lemeshow statistic, degrees of freedom and p-value; None when not computable (see warnings)
    hl_statistic: float | None
    hl_df: int | None
    hl_p_value: float | None
    warnings: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {
            "bins": [b.as_dict() for b in self.bins],
            "hosmer_lemeshow": None
            if self.hl_statistic is None
            else {"statistic": self.hl_statistic, "df": self.hl_df, "p_value": self.hl_p_value},
            "warnings": list(self.warnings),
        }


def calibration(predicted: ArrayLike, outcome: ArrayLike, *, groups: int = 10, fitted_parameters: int = 2) -> Calibration:
    """Binned calibration and the Hosmer-Lemeshow test of ``predicted`` probabilities against 0/1 ``outcome``.

    ``fitted_parameters`` is only reported context: the test uses G - 2 degrees of freedom as
    Hosmer and Lemeshow prescribe for a fitted logistic model, whatever the model."""
    from statsmodels.stats.proportion import proportion_confint

    p = np.asarray(predicted, dtype=float)
    y = np.asarray(outcome, dtype=float)
    if p.ndim != 1 or p.shape != y.shape or p.size == 0:
        raise ArgumentError(f"calibration: expected two non-empty 1-D arrays of equal length, got shapes {p.shape} and {y.shape}")
    if not np.all((p >= 0.0) & (p <= 1.0)):
        raise ArgumentError("calibration: predicted probabilities must lie in [0, 1]")
    if not np.all((y == 0.0) | (y == 1.0)):
        raise ArgumentError("calibration: the outcome must be 0/1")
    if groups < 1:
        raise ArgumentError(f"calibration: groups must be >= 1, got {groups}")
    warnings: list[str] = []
    used = max(1, min(groups, p.size // MIN_PER_GROUP))
    if used < groups:
        warnings.append(
            f"calibration: {p.size} patients allow only {used} group(s) of at least {MIN_PER_GROUP} (asked for {groups})"
        )
    order = np.argsort(p, kind="stable")
    bins = []
    statistic = 0.0
    for chunk in np.array_split(order, used):
        n_g = int(chunk.size)
        observed = int(y[chunk].sum())
        expected = float(p[chunk].sum())
        lo, hi = proportion_confint(observed, n_g, alpha=0.05, method="wilson")
        bins.append(CalibrationBin(n_g, observed, expected, expected / n_g, observed / n_g, (float(lo), float(hi))))
        denominator = expected * (1.0 - expected / n_g)
        if denominator > 0.0:
            statistic += (observed - expected) ** 2 / denominator
        elif observed != expected:
            statistic = float("inf")
    if used < 3:
        warnings.append(f"Hosmer-Lemeshow test not computed: {used} group(s) leave no degrees of freedom (needs >= 3 groups)")
        return Calibration(tuple(bins), None, None, None, tuple(warnings))
    df = used - 2
    return Calibration(tuple(bins), statistic, df, float(stats.chi2.sf(statistic, df)), tuple(warnings))
