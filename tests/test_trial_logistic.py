"""End-of-trial two-parameter logistic regression: closed-form saturated oracle, generic optimiser
oracle, Wald intervals, and refusal of separated / degenerate data."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize, stats

from dosimetry.errors import TrialDesignError
from dosimetry.trial.logistic import PROTOCOL_TOTAL_DOSE_GYE, fit_logistic

Z95 = float(stats.norm.ppf(0.975))


def _expit(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def test_two_doses_is_saturated_closed_form() -> None:
    """With two doses the MLE reproduces the observed proportions; Var(logit p) = 1 / (n p (1 - p))."""
    levels = [2] * 10 + [4] * 8
    dlt = [True] + [False] * 9 + [True] * 3 + [False] * 5
    fit = fit_logistic(levels, dlt)
    for level, n, r in ((2, 10, 1), (4, 8, 3)):
        est = fit.levels[level - 1]
        p = r / n
        assert est.pdlt == pytest.approx(p, abs=1e-10)
        se = math.sqrt(1.0 / (n * p * (1.0 - p)))
        logit = math.log(p / (1.0 - p))
        assert est.ci_lower == pytest.approx(_expit(logit - Z95 * se), abs=1e-9)
        assert est.ci_upper == pytest.approx(_expit(logit + Z95 * se), abs=1e-9)
        assert (est.n_patients, est.n_dlt) == (n, r)
    # slope = difference of logits over the 5 GyE between levels 2 and 4
    assert fit.slope_per_gye == pytest.approx((math.log(3 / 5) - math.log(1 / 9)) / 5.0, abs=1e-10)


def _negloglik(theta, x, y, w):
    total = 0.0
    for xi, yi, wi in zip(x, y, w):
        p = _expit(theta[0] + theta[1] * xi)
        total -= math.log(p) if yi else math.log(1.0 - wi * p)
    return total


@pytest.mark.parametrize("weighted", [False, True])
def test_matches_generic_optimiser(weighted: bool) -> None:
    levels = [1, 1, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 5, 5]
    dlt = [0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0, 1, 1, 0]
    w = [1.0] * len(levels)
    if weighted:
        w[2] = 0.5
        w[10] = 0.3
        w[13] = 0.6
    fit = fit_logistic(levels, [bool(v) for v in dlt], weights=w)
    x = [PROTOCOL_TOTAL_DOSE_GYE[lev - 1] - fit.dose_centre_gye for lev in levels]
    res = optimize.minimize(_negloglik, x0=[0.0, 0.1], args=(x, dlt, w), method="Nelder-Mead",
                            options={"xatol": 1e-10, "fatol": 1e-13, "maxiter": 20000})
    assert fit.intercept_at_centre == pytest.approx(res.x[0], abs=1e-6)
    assert fit.slope_per_gye == pytest.approx(res.x[1], abs=1e-6)
    # covariance = inverse of a finite-difference Hessian of the negative log-likelihood
    h = 1e-4
    hess = np.zeros((2, 2))
    for i in range(2):
        for j in range(2):
            ei = np.eye(2)[i] * h
            ej = np.eye(2)[j] * h
            t = np.array([fit.intercept_at_centre, fit.slope_per_gye])
            hess[i, j] = (
                _negloglik(t + ei + ej, x, dlt, w) - _negloglik(t + ei - ej, x, dlt, w)
                - _negloglik(t - ei + ej, x, dlt, w) + _negloglik(t - ei - ej, x, dlt, w)
            ) / (4 * h * h)
    assert np.array(fit.covariance) == pytest.approx(np.linalg.inv(hess), rel=1e-4)


def test_dose_at_target() -> None:
    levels = [1, 1, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 5, 5]
    dlt = [bool(v) for v in [0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0, 1, 1, 0]]
    fit = fit_logistic(levels, dlt, target=0.25)
    assert fit.dose_at_target_gye is not None
    a, b = fit.intercept_at_centre, fit.slope_per_gye
    assert _expit(a + b * (fit.dose_at_target_gye - fit.dose_centre_gye)) == pytest.approx(0.25, abs=1e-12)


@pytest.mark.parametrize(
    ("levels", "dlt", "pattern"),
    [
        ([2, 2, 3, 3], [0, 0, 0, 0], "no DLT observed"),
        ([2, 2, 3, 3], [1, 1, 1, 1], "every evaluable patient had a DLT"),
        ([3, 3, 3, 3], [0, 1, 0, 1], "one dose"),
        ([1, 2, 3, 3], [0, 0, 1, 0], "separation"),  # quasi-complete (overlap only at level 3)
        ([1, 2, 3, 4], [0, 0, 1, 1], "separation"),  # complete
        ([1, 2, 3, 4], [1, 1, 0, 0], "separation"),  # reversed
    ],
)
def test_degenerate_data_are_refused(levels, dlt, pattern: str) -> None:
    with pytest.raises(TrialDesignError, match=pattern):
        fit_logistic(levels, [bool(v) for v in dlt])


def test_negative_slope_warns() -> None:
    fit = fit_logistic([1, 1, 1, 2, 2, 2], [True, True, False, True, False, False])
    assert fit.slope_per_gye < 0 and any("not positive" in w for w in fit.warnings)


def test_bad_inputs() -> None:
    with pytest.raises(TrialDesignError, match="outside 1..6"):
        fit_logistic([7, 1], [True, False])
    with pytest.raises(TrialDesignError, match="confidence_level"):
        fit_logistic([1, 2], [True, False], confidence_level=1.0)


def test_partial_weights_that_let_pdlt_reach_one_are_refused() -> None:
    # level 4: two DLTs and one patient without DLT followed for 60 % of the window only: the
    # likelihood 2 log p + log(1 - 0.6 p) increases up to p = 1, so the slope runs off to infinity
    levels = [2, 2, 2, 2, 3, 3, 3, 4, 4, 4]
    dlt = [False] * 4 + [False, True, False] + [True, False, True]
    weights = [1.0] * 8 + [0.6, 1.0]
    with pytest.raises(TrialDesignError, match="does not exist"):
        fit_logistic(levels, dlt, weights=weights)
    # the same data with complete follow-up have a finite estimate
    fit = fit_logistic(levels, dlt)
    assert 0.0 < fit.slope_per_gye < 10.0
    assert fit.warnings == ()


def test_partial_weights_are_reported() -> None:
    levels = [1, 1, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 5, 5]
    dlt = [bool(v) for v in [0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0, 1, 1, 0]]
    weights = [1.0] * 13 + [0.5]
    fit = fit_logistic(levels, dlt, weights=weights)
    assert any("1 patient(s) without DLT have follow-up weights < 1" in w for w in fit.warnings)
