"""Logistic regression against independent oracles: the 2x2 closed form, a generic optimiser with
a finite-difference Hessian, and recovery of a known slope from a simulated cohort."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize, stats

from dosimetry.errors import DosimetryError
from dosimetry.outcomes import LogisticFit, ModelFitError, fit_logistic
from dosimetry.outcomes.logistic import MAX_LOG_ODDS_RATIO


def _two_by_two(a: int, b: int, c: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    """a: exposed events, b: exposed non-events, c: unexposed events, d: unexposed non-events."""
    x = np.array([1.0] * (a + b) + [0.0] * (c + d))
    y = np.array([1] * a + [0] * b + [1] * c + [0] * d)
    return x, y


@pytest.mark.parametrize("a,b,c,d", [(12, 8, 5, 15), (3, 17, 9, 11), (40, 10, 10, 40), (1, 2, 3, 4)])
def test_binary_covariate_matches_the_2x2_closed_form(a: int, b: int, c: int, d: int) -> None:
    x, y = _two_by_two(a, b, c, d)
    fit = fit_logistic(x, y, name="exposed")
    assert fit.odds_ratio == pytest.approx(a * d / (b * c), rel=1e-9)
    assert fit.slope_se == pytest.approx(math.sqrt(1 / a + 1 / b + 1 / c + 1 / d), rel=1e-8)
    # intercept = log odds of the unexposed group
    assert fit.intercept == pytest.approx(math.log(c / d), rel=1e-9, abs=1e-12)
    z = stats.norm.ppf(0.975)
    se = math.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
    lo, hi = fit.odds_ratio_ci95
    assert lo == pytest.approx(a * d / (b * c) * math.exp(-z * se), rel=1e-8)
    assert hi == pytest.approx(a * d / (b * c) * math.exp(z * se), rel=1e-8)
    # LR statistic = G-test of independence of the 2x2 table
    observed = np.array([[a, b], [c, d]], dtype=float)
    g, p, _, _ = stats.chi2_contingency(observed, correction=False, lambda_="log-likelihood")
    assert fit.lr_statistic == pytest.approx(g, rel=1e-8)
    assert fit.lr_p_value == pytest.approx(p, rel=1e-7)


def _nll(beta: np.ndarray, x: np.ndarray, y: np.ndarray) -> float:
    eta = beta[0] + beta[1] * x
    return float(np.sum(np.logaddexp(0.0, eta) - y * eta))


def _fd_hessian(f, beta: np.ndarray, h: float = 1e-4) -> np.ndarray:
    k = beta.size
    hess = np.zeros((k, k))
    for i in range(k):
        for j in range(k):
            ei, ej = np.eye(k)[i] * h, np.eye(k)[j] * h
            hess[i, j] = (f(beta + ei + ej) - f(beta + ei - ej) - f(beta - ei + ej) + f(beta - ei - ej)) / (4 * h * h)
    return hess


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_continuous_metric_matches_a_generic_optimiser(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(60.0, 8.0, size=120)
    y = (rng.random(120) < 1 / (1 + np.exp(-(-10.0 + 0.17 * x)))).astype(int)
    fit = fit_logistic(x, y, name="PTV D50%[Gy]")
    result = optimize.minimize(_nll, x0=np.zeros(2), args=(x, y), method="BFGS", options={"gtol": 1e-9})
    assert fit.intercept == pytest.approx(result.x[0], rel=1e-4, abs=1e-4)
    assert fit.slope == pytest.approx(result.x[1], rel=1e-4, abs=1e-6)
    assert fit.log_likelihood == pytest.approx(-result.fun, rel=1e-9)
    cov = np.linalg.inv(_fd_hessian(lambda b: _nll(b, x, y), result.x))
    assert np.array(fit.covariance) == pytest.approx(cov, rel=1e-3)
    # null model: intercept only
    p0 = y.mean()
    null = -_nll(np.array([math.log(p0 / (1 - p0)), 0.0]), x, y)
    assert fit.lr_statistic == pytest.approx(2 * (-result.fun - null), rel=1e-6)
    # x50 and its delta-method CI by numerical differentiation of -b0/b1
    b = result.x
    x50 = -b[0] / b[1]
    assert fit.x50 == pytest.approx(x50, rel=1e-4)
    eps = 1e-6
    grad = np.array([(-(b[0] + eps) / b[1] + (b[0] - eps) / b[1]) / (2 * eps),
                     (-b[0] / (b[1] + eps) + b[0] / (b[1] - eps)) / (2 * eps)])
    half = stats.norm.ppf(0.975) * math.sqrt(grad @ cov @ grad)
    lo, hi = fit.x50_delta_ci95
    assert lo == pytest.approx(x50 - half, rel=1e-3)
    assert hi == pytest.approx(x50 + half, rel=1e-3)
    assert fit.probability(fit.x50) == pytest.approx(0.5, abs=1e-12)


def test_simulated_cohort_recovers_the_slope_within_its_ci() -> None:
    # the sample-data toxicity model's dose slope, 400 patients over the protocol's dose levels
    rng = np.random.default_rng(2026)
    dose = rng.choice(2.5 * np.arange(21, 27), size=400) + rng.normal(0.0, 1.0, 400)
    true_slope, true_intercept = 0.2355, -2.944 - 0.2355 * 52.5
    y = rng.random(400) < 1 / (1 + np.exp(-(true_intercept + true_slope * dose)))
    fit = fit_logistic(dose, y, name="PTV Mean[Gy]")
    lo, hi = fit.odds_ratio_ci95
    assert lo < math.exp(true_slope) < hi
    assert fit.lr_p_value < 1e-6
    x_lo, x_hi = fit.x50_ci95
    assert x_lo is not None and x_hi is not None and x_lo < 65.0 < x_hi  # the model's dose at 50 %: 52.5 + 2.944 / 0.2355


def test_no_association_gives_a_large_p_value_and_an_or_ci_covering_one() -> None:
    rng = np.random.default_rng(5)
    x = rng.uniform(0, 30, 300)
    y = rng.random(300) < 0.3
    fit = fit_logistic(x, y, name="Lens_L Max[Gy]")
    lo, hi = fit.odds_ratio_ci95
    assert lo < 1.0 < hi
    assert fit.lr_p_value > 0.05


@settings(max_examples=40, deadline=None)
@given(
    shift=st.floats(-1e3, 1e3),
    scale=st.floats(0.01, 100.0),
    seed=st.integers(0, 10_000),
)
def test_fit_is_equivariant_under_affine_changes_of_the_metric(shift: float, scale: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 1.0, 60)
    y = rng.random(60) < 1 / (1 + np.exp(-(0.3 + 0.8 * x)))
    y[:2] = [True, False]
    x[:2] = [-5.0, 5.0]  # an event at the lowest and a non-event at the highest value: no separation
    base = fit_logistic(x, y)
    moved = fit_logistic(x * scale + shift, y)
    assert moved.slope == pytest.approx(base.slope / scale, rel=1e-6)
    assert moved.lr_p_value == pytest.approx(base.lr_p_value, rel=1e-6, abs=1e-300)
    assert moved.x50 == pytest.approx(base.x50 * scale + shift, rel=1e-6, abs=1e-6 * (abs(shift) + scale))
    assert moved.log_likelihood == pytest.approx(base.log_likelihood, rel=1e-9)


@pytest.mark.parametrize(
    "x,y,fragment",
    [
        ([1.0, 2.0, 3.0, 4.0], [0, 0, 0, 0], "no events"),
        ([1.0, 2.0, 3.0, 4.0], [1, 1, 1, 1], "all 4 patients"),
        ([7.0, 7.0, 7.0, 7.0], [0, 1, 0, 1], "constant"),
        ([1.0, 2.0, 3.0, 4.0], [0, 0, 1, 1], "complete separation"),
        ([1.0, 2.0, 2.0, 4.0], [0, 0, 1, 1], "quasi-complete separation"),
        ([4.0, 3.0, 2.0, 1.0], [0, 0, 1, 1], "complete separation"),
        ([1.0, 2.0], [0, 1], "at least 3"),
        ([1.0, float("nan"), 3.0], [0, 1, 0], "non-finite"),
        ([1.0, 2.0, 3.0], [0, 2, 1], "0/1"),
    ],
)
def test_degenerate_data_raise_an_error_naming_the_metric(x: list[float], y: list[int], fragment: str) -> None:
    with pytest.raises(ModelFitError) as info:
        fit_logistic(x, y, name="Brainstem D0.03cc[Gy]")
    assert "Brainstem D0.03cc[Gy]" in str(info.value)
    assert fragment in str(info.value)
    assert isinstance(info.value, DosimetryError) and isinstance(info.value, ValueError)


def test_overlap_of_one_point_each_way_is_fittable() -> None:
    fit = fit_logistic([1.0, 2.0, 3.0, 4.0, 2.5, 1.5], [0, 0, 1, 1, 0, 1], name="m")
    assert isinstance(fit, LogisticFit) and math.isfinite(fit.slope) and fit.slope > 0


def test_rounding_noise_counts_as_constant() -> None:
    x = np.array([100.0, 100.0 - 1.4e-14, 100.0, 100.0 - 1.4e-14, 100.0, 100.0])
    with pytest.raises(ModelFitError, match=r"GTV V95%\[%\]: constant"):
        fit_logistic(x, [0, 1, 1, 0, 0, 1], name="GTV V95%[%]")


def test_an_odds_ratio_per_unit_beyond_a_double_is_an_error() -> None:
    # overlapping groups on a metric that spans 1e-4 units: log OR per unit ~ 1e4
    x = 1e-4 * np.array([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 0.45])
    y = [0, 0, 0, 0, 1, 0, 1, 0, 1, 1, 1, 1]
    with pytest.raises(ModelFitError, match=r"Eye_R Mean\[Gy\]: log odds ratio .* overflows"):
        fit_logistic(x, y, name="Eye_R Mean[Gy]")
    scaled = fit_logistic(x * 1e4, y, name="Eye_R Mean[Gy] x 1e4")
    assert scaled.slope * 1e4 > MAX_LOG_ODDS_RATIO


def test_x50_profile_interval_matches_brute_force_and_respects_the_domain() -> None:
    """Oracle: brute force - for each candidate x50 c on a grid, the maximum over a fine slope grid of
    the log-likelihood of logit P = g (x - c); the set {2 (l_max - l(c)) <= 3.84} brackets the reported
    interval. Then the issue's small cohort (6 patients, 2 events, doses near 0 Gy): the interval must
    not contain negative doses and the truncation must be flagged."""
    from dosimetry.outcomes.profile import CHI2_1_95

    rng = np.random.default_rng(11)
    x = rng.uniform(40.0, 70.0, 60)
    y = (rng.random(60) < 1 / (1 + np.exp(-(x - 55.0) / 3.0))).astype(float)
    fit = fit_logistic(x, y, name="D50")
    lo, hi = fit.x50_ci95
    assert lo is not None and hi is not None
    slopes = np.linspace(0.001, 3.0, 3000)
    grid = np.linspace(lo - 2.0, hi + 2.0, 81)

    def loglik(c: float) -> float:
        eta = slopes[:, None] * (x[None, :] - c)
        return float(np.max(np.sum(y * eta - np.logaddexp(0.0, eta), axis=1)))

    inside = grid[[2.0 * (fit.log_likelihood - loglik(c)) <= CHI2_1_95 for c in grid]]
    step = grid[1] - grid[0]
    assert abs(inside.min() - lo) <= step and abs(inside.max() - hi) <= step

    small = fit_logistic([0.01, 0.03, 0.05, 0.08, 0.12, 0.14], [0, 1, 0, 0, 1, 0], name="BrainStem D50[Gy]", domain_lower=0.0)
    s_lo, s_hi = small.x50_ci95
    assert s_lo is not None and s_lo >= 0.0 and (s_hi is None or s_hi >= 0.0)
    assert small.x50_ci95_truncated
    assert any("truncated" in w for w in small.warnings)
