"""Univariable logistic regression of a binary endpoint on one dosimetric metric.

Model: ``logit P(event | x) = b0 + b1 x``, fitted by maximum likelihood with Newton-Raphson on the
centred metric (x - mean x) for numerical stability; the intercept is transformed back exactly.

Reported (all from the same fit):

* odds ratio per unit of the metric ``exp(b1)`` with the Wald 95 % CI ``exp(b1 +- z se(b1))``,
  se from the inverse observed (= expected, for the canonical logit link) information matrix;
* the likelihood-ratio test of ``b1 = 0``: ``LR = 2 (l_fit - l_null)`` with the intercept-only null
  (``p = events / n``), ``p = P(chi2_1 > LR)``; also the Wald p-value;
* the metric value at 50 % probability, ``x50 = -b0 / b1`` (a TD50-like value for dose metrics),
  with a delta-method 95 % CI using the gradient ``(-1/b1, b0/b1^2)`` of ``x50`` in ``(b0, b1)``;
* the **profile-likelihood** 95 % CI of the odds ratio per unit, ``exp`` of the set of slopes ``b1``
  with ``2 (l_max - l_profile(b1)) <= chi2_1(0.95) = 3.8415``, where ``l_profile(b1)`` maximises the
  log-likelihood over ``b0`` with ``b1`` fixed (:attr:`LogisticFit.odds_ratio_profile_ci95`).

Which interval to quote: the Wald interval (``odds_ratio_ci95``, symmetric on the log scale) relies
on the log-likelihood being quadratic in ``b1``; with the small cohorts of a phase I/II trial (~20
patients, a handful of events) it is not, and the Wald interval can be badly placed (too short on
the side away from zero). The profile-likelihood interval inverts the likelihood-ratio test and
needs no such approximation: **quote the profile interval when there are few events**; the two
agree in large samples. Both are reported, the Wald numbers unchanged.

Profile interval computation: the two ends are roots of ``2 (l_max - l_profile(b1)) - 3.8415``,
found by :func:`scipy.optimize.brentq` on a bracket expanded outwards from the estimate in steps of
the Wald standard error (doubling); the inner maximisation over the intercept is a safeguarded
1-D Newton iteration on the centred, scaled metric (the log-likelihood is concave in it). With the
overlap required for the estimate to exist the profile falls without bound on both sides, so both
ends exist in exact arithmetic; an end is nevertheless reported as **unbounded** (odds ratio
``0.0`` for the lower end, ``math.inf`` for the upper) when the profile has not fallen by 3.84
before ``|b1|`` reaches :data:`MAX_LOG_ODDS_RATIO` per unit (the odds ratio would overflow a
double); this is said in :attr:`LogisticFit.warnings` and in ``profile_ci95_unbounded`` of
:meth:`LogisticFit.as_dict` (where an infinite end is written as ``null``), never silently.

Degenerate data raise :class:`ModelFitError` naming the metric: fewer than 3 patients, no events,
only events, a constant metric (range within 1e-9 of its magnitude), non-finite values,
(quasi-)complete separation, and a fitted odds ratio per unit that overflows a double (a metric
spanning a tiny fraction of its unit). For one
covariate with an intercept the maximum-likelihood estimate exists exactly when the two groups
overlap (Albert and Anderson 1984): ``max x(non-events) > min x(events)`` and
``max x(events) > min x(non-events)``; otherwise the estimate runs off to infinity, so this is
checked before fitting rather than discovered as a non-converging iteration.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, special, stats

from dosimetry.errors import ArgumentError, ModelFitError

logger = logging.getLogger(__name__)

Z_95 = float(stats.norm.ppf(0.975))
MAX_ITERATIONS = 100
TOLERANCE = 1e-10
MIN_PATIENTS = 3
CONSTANT_RELATIVE_RANGE = 1e-9
MAX_LOG_ODDS_RATIO = 700.0  # exp(709.8) is the largest finite double
#: chi-square (1 degree of freedom) 95 % quantile: the profile deviance at the ends of the 95 % interval
CHI2_1_95 = float(stats.chi2.ppf(0.95, 1))
PROFILE_ROOT_XTOL = 1e-12


@dataclass(frozen=True)
class LogisticFit:
    """Maximum-likelihood fit of ``logit P = intercept + slope * x``."""

    name: str
    n: int
    events: int
    intercept: float
    slope: float
    covariance: tuple[tuple[float, float], tuple[float, float]]
    log_likelihood: float
    null_log_likelihood: float
    iterations: int
    #: profile-likelihood 95 % CI of the slope per unit; -inf / +inf for an unbounded end
    slope_profile_ci95: tuple[float, float] = (-math.inf, math.inf)
    #: recoverable problems of the fit, e.g. an unbounded profile-likelihood end
    warnings: tuple[str, ...] = ()

    @property
    def slope_se(self) -> float:
        return math.sqrt(self.covariance[1][1])

    @property
    def odds_ratio(self) -> float:
        """Odds ratio per unit of the metric (per Gy for dose metrics)."""
        return math.exp(self.slope)

    @property
    def odds_ratio_ci95(self) -> tuple[float, float]:
        """Wald 95 % confidence interval of :attr:`odds_ratio`."""
        return (math.exp(self.slope - Z_95 * self.slope_se), math.exp(self.slope + Z_95 * self.slope_se))

    @property
    def odds_ratio_profile_ci95(self) -> tuple[float, float]:
        """Profile-likelihood 95 % confidence interval of :attr:`odds_ratio` (the one to quote with
        few events); an unbounded end is ``0.0`` (lower) or ``math.inf`` (upper), see
        :attr:`profile_ci95_unbounded`."""
        lo, hi = self.slope_profile_ci95
        return (math.exp(lo) if math.isfinite(lo) else 0.0, math.exp(hi) if math.isfinite(hi) else math.inf)

    @property
    def profile_ci95_unbounded(self) -> tuple[bool, bool]:
        """(lower, upper): True where the profile likelihood did not fall by 3.84 on that side."""
        lo, hi = self.slope_profile_ci95
        return (not math.isfinite(lo), not math.isfinite(hi))

    @property
    def lr_statistic(self) -> float:
        return max(0.0, 2.0 * (self.log_likelihood - self.null_log_likelihood))

    @property
    def lr_p_value(self) -> float:
        """Likelihood-ratio test of slope = 0 (chi-square, 1 degree of freedom)."""
        return float(stats.chi2.sf(self.lr_statistic, 1))

    @property
    def wald_p_value(self) -> float:
        return float(2.0 * stats.norm.sf(abs(self.slope) / self.slope_se))

    @property
    def x50(self) -> float:
        """Metric value at which the fitted probability is 50 % (``-intercept / slope``)."""
        return -self.intercept / self.slope

    @property
    def x50_ci95(self) -> tuple[float, float]:
        """Delta-method 95 % confidence interval of :attr:`x50`."""
        b0, b1 = self.intercept, self.slope
        grad = np.array([-1.0 / b1, b0 / b1**2])
        variance = float(grad @ np.array(self.covariance) @ grad)
        half = Z_95 * math.sqrt(max(variance, 0.0))
        return (self.x50 - half, self.x50 + half)

    def probability(self, x: float) -> float:
        return float(1.0 / (1.0 + math.exp(-(self.intercept + self.slope * x))))

    def as_dict(self) -> dict[str, object]:
        lo, hi = self.odds_ratio_ci95
        x_lo, x_hi = self.x50_ci95
        p_lo, p_hi = self.odds_ratio_profile_ci95
        s_lo, s_hi = self.slope_profile_ci95
        lower_open, upper_open = self.profile_ci95_unbounded
        return {
            "n": self.n,
            "events": self.events,
            "intercept": self.intercept,
            "slope_per_unit": self.slope,
            "slope_se": self.slope_se,
            "odds_ratio_per_unit": self.odds_ratio,
            "odds_ratio_ci95": [lo, hi],
            "lr_statistic": self.lr_statistic,
            "lr_p_value": self.lr_p_value,
            "wald_p_value": self.wald_p_value,
            "x50": self.x50,
            "x50_ci95": [x_lo, x_hi],
            "iterations": self.iterations,
            "odds_ratio_profile_ci95": [p_lo, p_hi if math.isfinite(p_hi) else None],
            "slope_profile_ci95": [s_lo if math.isfinite(s_lo) else None, s_hi if math.isfinite(s_hi) else None],
            "profile_ci95_unbounded": {"lower": lower_open, "upper": upper_open},
            "warnings": list(self.warnings),
        }


def is_constant(x: NDArray[np.float64]) -> bool:
    """True when the values' range is at most :data:`CONSTANT_RELATIVE_RANGE` of their largest
    magnitude (a range of 1e-14 % on a V95% of 100 % is rounding, not information)."""
    return bool(np.ptp(x) <= CONSTANT_RELATIVE_RANGE * float(np.max(np.abs(x))))


def _as_arrays(x: ArrayLike, y: ArrayLike, name: str) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    xa = np.asarray(x, dtype=float)
    ya_raw = np.asarray(y)
    if xa.ndim != 1 or ya_raw.ndim != 1 or xa.shape != ya_raw.shape:
        raise ModelFitError(f"metric {name}: expected two 1-D arrays of equal length, got shapes {xa.shape} and {ya_raw.shape}")
    if not np.all(np.isfinite(xa)):
        raise ModelFitError(f"metric {name}: {int(np.sum(~np.isfinite(xa)))} non-finite metric value(s)")
    ya = ya_raw.astype(float)
    if not np.all((ya == 0.0) | (ya == 1.0)):
        raise ModelFitError(f"metric {name}: the endpoint must be 0/1 (or boolean)")
    return xa, ya


def check_fittable(x: ArrayLike, y: ArrayLike, name: str) -> None:
    """Raise :class:`ModelFitError` naming ``name`` when the logistic MLE does not exist."""
    xa, ya = _as_arrays(x, y, name)
    n = xa.size
    events = int(ya.sum())
    if n < MIN_PATIENTS:
        raise ModelFitError(f"metric {name}: {n} patient(s), at least {MIN_PATIENTS} are needed")
    if events == 0:
        raise ModelFitError(f"metric {name}: no events among the {n} patients")
    if events == n:
        raise ModelFitError(f"metric {name}: all {n} patients have the event")
    if is_constant(xa):
        raise ModelFitError(f"metric {name}: constant ({xa[0]:.6g}) across the {n} patients")
    x1, x0 = xa[ya == 1.0], xa[ya == 0.0]
    if x0.max() <= x1.min() or x1.max() <= x0.min():
        kind = "complete" if (x0.max() < x1.min() or x1.max() < x0.min()) else "quasi-complete"
        raise ModelFitError(
            f"metric {name}: {kind} separation (events span {x1.min():g}..{x1.max():g}, non-events "
            f"{x0.min():g}..{x0.max():g}); the odds ratio is infinite and has no maximum-likelihood estimate"
        )


def _log_likelihood(eta: NDArray[np.float64], y: NDArray[np.float64]) -> float:
    # sum y*eta - log(1 + exp(eta)), stable for large |eta|
    return float(np.sum(y * eta - np.logaddexp(0.0, eta)))


def profile_likelihood_ends(
    deviance: Callable[[float], float],
    estimate: float,
    step: float,
    lower_limit: float,
    upper_limit: float,
    critical: float = CHI2_1_95,
) -> tuple[float, float]:
    """Ends of the profile-likelihood interval ``{t : deviance(t) <= critical}`` around ``estimate``.

    ``deviance(t) = 2 (l_max - l_profile(t))`` is ~0 at the maximum-likelihood ``estimate`` and
    grows away from it. On each side the bracket is expanded from the estimate by ``step``, doubling,
    until the deviance reaches ``critical``; the end is then the root of ``deviance - critical`` in
    the last bracket, by :func:`scipy.optimize.brentq`. When the deviance is still below
    ``critical`` at ``lower_limit`` (``upper_limit``) that end is returned as ``-inf`` (``+inf``):
    the caller reports it as unbounded.
    """
    if not lower_limit <= estimate <= upper_limit:
        raise ArgumentError(f"profile interval: estimate {estimate!r} outside the search range [{lower_limit!r}, {upper_limit!r}]")
    if not (math.isfinite(step) and step > 0.0):
        raise ArgumentError(f"profile interval: expected a positive finite initial step, got {step!r}")
    ends: list[float] = []
    for limit in (lower_limit, upper_limit):
        direction = 1.0 if limit > estimate else -1.0
        span = abs(limit - estimate)
        inner, outer = 0.0, min(step, span)
        bounded = False
        while True:
            if deviance(estimate + direction * outer) >= critical:
                bounded = True
                break
            if outer >= span:
                break
            inner, outer = outer, min(2.0 * outer, span)
        if not bounded:
            ends.append(direction * math.inf)
            continue
        offset = optimize.brentq(
            lambda d: deviance(estimate + direction * d) - critical, inner, outer, xtol=PROFILE_ROOT_XTOL, maxiter=200
        )
        ends.append(estimate + direction * float(offset))
    return ends[0], ends[1]


def _profile_log_likelihood(slope_z: float, z: NDArray[np.float64], y: NDArray[np.float64], start: float) -> float:
    """``max over g0`` of the log-likelihood of ``logit P = g0 + slope_z z`` (slope fixed).

    The score ``events - sum expit(g0 + slope_z z)`` decreases monotonically in ``g0`` (concave
    log-likelihood), so Newton's method is safeguarded by a bracket on which the score changes
    sign (bisection whenever a Newton step leaves it); with events and non-events present the
    maximum is finite.
    """
    events = float(y.sum())
    offsets = slope_z * z
    lo, hi = -40.0 - float(offsets.max()), 40.0 - float(offsets.min())
    g0 = min(max(start, lo), hi)
    for _ in range(300):
        prob = special.expit(g0 + offsets)
        score = events - float(prob.sum())
        curvature = float(np.sum(prob * special.expit(-(g0 + offsets))))
        if score == 0.0:
            break
        if score > 0.0:
            lo = g0
        else:
            hi = g0
        candidate = g0 + score / curvature if curvature > 0.0 else math.nan
        if abs(candidate - g0) <= 1e-13 * (1.0 + abs(g0)):
            g0 = candidate
            break
        if not lo < candidate < hi:
            candidate = 0.5 * (lo + hi)
        g0 = candidate
    else:
        raise ModelFitError(f"profile likelihood: the intercept did not converge at slope {slope_z!r} (centred metric)")
    return _log_likelihood(g0 + offsets, y)


def fit_logistic(x: ArrayLike, y: ArrayLike, *, name: str = "x") -> LogisticFit:
    """Maximum-likelihood logistic regression of ``y`` (0/1) on ``x``; ``name`` labels errors."""
    check_fittable(x, y, name)
    xa, ya = _as_arrays(x, y, name)
    n = xa.size
    events = int(ya.sum())
    centre = float(xa.mean())
    scale = float(xa.std())
    z = (xa - centre) / scale
    design = np.column_stack([np.ones(n), z])
    p0 = events / n
    beta = np.array([math.log(p0 / (1.0 - p0)), 0.0])
    loglik = _log_likelihood(design @ beta, ya)
    information = np.eye(2)
    for iteration in range(1, MAX_ITERATIONS + 1):  # noqa: B007 (reported after the loop)
        eta = design @ beta
        prob = 1.0 / (1.0 + np.exp(-eta))
        gradient = design.T @ (ya - prob)
        information = design.T @ (design * (prob * (1.0 - prob))[:, None])
        step = np.linalg.solve(information, gradient)
        # step halving keeps every iteration an ascent step
        t = 1.0
        while True:
            candidate = beta + t * step
            cand_loglik = _log_likelihood(design @ candidate, ya)
            if cand_loglik >= loglik - 1e-12 or t < 1e-8:
                break
            t /= 2.0
        beta, previous = candidate, loglik
        loglik = cand_loglik
        if np.max(np.abs(t * step)) < TOLERANCE or abs(loglik - previous) < TOLERANCE * (1.0 + abs(loglik)):
            break
    else:
        raise ModelFitError(f"metric {name}: Newton-Raphson did not converge in {MAX_ITERATIONS} iterations")
    eta = design @ beta
    prob = 1.0 / (1.0 + np.exp(-eta))
    information = design.T @ (design * (prob * (1.0 - prob))[:, None])
    cov_z = np.linalg.inv(information)
    # back-transform: b1 = g1 / s, b0 = g0 - g1 * c / s  (linear map A @ [g0, g1])
    transform = np.array([[1.0, -centre / scale], [0.0, 1.0 / scale]])
    b = transform @ beta
    cov = transform @ cov_z @ transform.T
    if not np.all(np.isfinite(cov)) or cov[1, 1] <= 0.0:
        raise ModelFitError(f"metric {name}: the information matrix is singular at the estimate")
    if abs(b[1]) + Z_95 * math.sqrt(cov[1, 1]) > MAX_LOG_ODDS_RATIO:
        raise ModelFitError(
            f"metric {name}: log odds ratio {b[1]:.3g} +- {Z_95 * math.sqrt(cov[1, 1]):.3g} per unit, the odds ratio "
            f"per unit or its 95 % CI overflows (the metric spans only {np.ptp(xa):.3g} units across the {n} patients)"
        )
    null_loglik = events * math.log(p0) + (n - events) * math.log(1.0 - p0)
    slope_ci = _profile_slope_ci(z, ya, beta, cov_z, loglik, scale)
    warnings = []
    for end, value, shown in (("lower", slope_ci[0], "0"), ("upper", slope_ci[1], "infinity")):
        if not math.isfinite(value):
            warnings.append(
                f"metric {name}: the profile log-likelihood does not fall by {CHI2_1_95:.4g}/2 for log odds ratios up to "
                f"{math.copysign(MAX_LOG_ODDS_RATIO, value):g} per unit: the {end} end of the profile-likelihood 95 % CI "
                f"of the odds ratio is unbounded and reported as {shown}"
            )
    logger.debug("fitted %s: slope %.6g in %d iterations", name, b[1], iteration)
    return LogisticFit(
        name=name,
        n=n,
        events=events,
        intercept=float(b[0]),
        slope=float(b[1]),
        covariance=((float(cov[0, 0]), float(cov[0, 1])), (float(cov[1, 0]), float(cov[1, 1]))),
        log_likelihood=loglik,
        null_log_likelihood=null_loglik,
        iterations=iteration,
        slope_profile_ci95=slope_ci,
        warnings=tuple(warnings),
    )


def _profile_slope_ci(
    z: NDArray[np.float64],
    y: NDArray[np.float64],
    beta_z: NDArray[np.float64],
    cov_z: NDArray[np.float64],
    loglik_max: float,
    scale: float,
) -> tuple[float, float]:
    """Profile-likelihood 95 % CI of the slope per unit of the metric (``-inf``/``+inf`` for an
    end that does not exist up to ``|slope| = MAX_LOG_ODDS_RATIO``), computed on the scaled metric
    ``z = (x - centre) / scale`` (slope_z = slope * scale; the intercepts are a bijection for a fixed
    slope, so the profile over either is the same)."""
    g0_hat, g1_hat = float(beta_z[0]), float(beta_z[1])
    regression = float(cov_z[0, 1] / cov_z[1, 1])  # warm start: conditional mean of g0 given g1 (normal approx.)

    def deviance(g1: float) -> float:
        return 2.0 * (loglik_max - _profile_log_likelihood(g1, z, y, g0_hat + regression * (g1 - g1_hat)))

    limit = MAX_LOG_ODDS_RATIO * scale
    lo, hi = profile_likelihood_ends(deviance, g1_hat, math.sqrt(float(cov_z[1, 1])), -limit, limit)
    return (lo / scale, hi / scale)
