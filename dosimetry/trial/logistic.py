"""End-of-trial two-parameter logistic regression of pDLT on dose (protocol, phase I analysis).

Model: ``logit pDLT(x) = a + b (x - x_c)`` where ``x`` is the dose of the patient's level (by
default the total RBE-weighted dose of Table 1 in GyE, 52.5 ... 65) and ``x_c`` the mean dose of the
patients (centring only improves the conditioning; ``a`` is the log-odds at ``x_c``).

Likelihood: the usual binomial one, generalised as in the TITE-CRM so that patients who became
un-evaluable before the end of the window count with their observed fraction ``w`` (protocol:
"weighted by the proportion of the observation period for which they were evaluable")::

    L = prod_{DLT} p(x) * prod_{no DLT} (1 - w p(x))            (w = 1: ordinary logistic regression)

The maximum-likelihood estimate is found by Newton-Raphson with the analytic gradient and Hessian.
Confidence intervals are **Wald intervals on the logit scale**: for level k,
``eta_k = a + b (x_k - x_c)``, ``se_k^2 = [1, x_k - x_c] C [1, x_k - x_c]^T`` with ``C`` the inverse
observed information, and the interval ``expit(eta_k +/- z se_k)`` (so it stays inside (0, 1)).
With the small samples of a phase I trial these intervals are approximate (they assume a quadratic
log-likelihood), and they are kept unchanged in ``ci_lower`` / ``ci_upper``.

**Profile-likelihood intervals** (``profile_ci_lower`` / ``profile_ci_upper`` of each level, the
ones to quote with few DLTs): reparametrise by ``eta_k = a + b (x_k - x_c)`` and the slope ``b``;
the profile log-likelihood ``l_k(eta) = max over b`` of the (weighted) log-likelihood above with
``eta_k = eta`` fixed; the interval is ``{eta : 2 (l_max - l_k(eta)) <= chi2_1(level)}``
(3.8415 for 95 %), mapped by ``expit``. The ends are roots found by :func:`scipy.optimize.brentq`
on brackets expanded from the estimate in doubling steps of the Wald standard error (the interval
is the connected region around the estimate). The inner maximisation over ``b`` is Newton's method
with step halving; with partial weights the weighted likelihood need not be concave in ``b`` (it
can have a second maximum, or its supremum as ``b -> +-infinity``), so then a grid of slopes (0.5
logit steps at the farthest patient) and the exact limits at ``b -> +-infinity`` are compared too
and Newton restarted from the best grid slope. The same weighted likelihood (follow-up fractions
``w``) is profiled. When the profile somewhere exceeds the likelihood at the estimate, the Newton
estimate above is only a local maximum (the likelihood grows towards a step function): this is
reported as a warning. An end is **unbounded** when
the profile has not fallen by the critical value within 40 logits beyond ``max(eta_hat, 0)`` (or
below ``min(eta_hat, 0)``), where ``expit`` is 1 (0) to double precision: this happens with partial
weights (a patient without DLT and ``w < 1`` costs only ``log(1 - w)`` as his pDLT goes to 1) or
few events. Such an end is reported as pDLT 1.0 (upper) or 0.0 (lower) with
``profile_upper_unbounded`` / ``profile_lower_unbounded`` set and a warning, never silently.

Degenerate data are refused with :class:`TrialDesignError` rather than returning an infinite or
arbitrary slope: no DLT at all, no patient without DLT, fewer than two distinct doses, or
(quasi-)complete separation (every DLT at doses >= every non-DLT dose, or the reverse), for which
the maximum-likelihood estimate does not exist. This is common in dose-escalation data; the
TITE-CRM estimate (one-parameter model) remains available then.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special, stats

from dosimetry.errors import TrialDesignError
from dosimetry.trial.constants import PROTOCOL_TOTAL_DOSE_GYE  # defined there for the CLI parser; re-exported

logger = logging.getLogger(__name__)

_MAX_ITER = 100
#: logits beyond max(eta_hat, 0) (below min(eta_hat, 0)) searched for a profile-likelihood end; expit(40) is 1 in doubles
PROFILE_LOGIT_SPAN = 40.0
#: grid step of the slope scan (in logits at the farthest patient) used when the likelihood may be non-concave
PROFILE_SCAN_LOGIT_STEP = 0.5


@dataclass(frozen=True)
class LevelEstimate:
    level: int
    dose_gye: float
    n_patients: int
    n_dlt: int
    pdlt: float
    ci_lower: float
    ci_upper: float
    #: profile-likelihood interval of pDLT (1.0 / 0.0 at an unbounded end, flagged below)
    profile_ci_lower: float
    profile_ci_upper: float
    profile_lower_unbounded: bool
    profile_upper_unbounded: bool


@dataclass(frozen=True)
class LogisticFit:
    """Maximum-likelihood fit of ``logit p = a + b (dose - dose_centre_gye)``."""

    intercept_at_centre: float
    slope_per_gye: float
    dose_centre_gye: float
    covariance: tuple[tuple[float, float], tuple[float, float]]
    confidence_level: float
    levels: tuple[LevelEstimate, ...]
    #: dose (GyE) where the fitted pDLT equals ``target``, when asked for and inside the fitted range.
    dose_at_target_gye: float | None
    target: float | None
    iterations: int
    interval_method: str = "Wald on the logit scale (inverse observed information)"
    warnings: tuple[str, ...] = ()
    profile_interval_method: str = (
        "profile likelihood of the logit at each level (chi-square 1 df, weighted likelihood); quote these with few DLTs"
    )

    def as_dict(self) -> dict[str, object]:
        return {
            "model": "logit pDLT = a + b (dose_gye - dose_centre_gye)",
            "intercept_at_centre": self.intercept_at_centre,
            "slope_per_gye": self.slope_per_gye,
            "dose_centre_gye": self.dose_centre_gye,
            "covariance": [list(r) for r in self.covariance],
            "confidence_level": self.confidence_level,
            "interval_method": self.interval_method,
            "profile_interval_method": self.profile_interval_method,
            "levels": [vars(lv) for lv in self.levels],
            "target": self.target,
            "dose_at_target_gye": self.dose_at_target_gye,
            "iterations": self.iterations,
            "warnings": list(self.warnings),
        }


def _loglik_grad_hess(
    theta: np.ndarray, xc: np.ndarray, y: np.ndarray, w: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray]:
    eta = theta[0] + theta[1] * xc
    p = special.expit(eta)
    q = special.expit(-eta)  # 1 - p without cancellation
    one_minus_wp = np.where(y, 1.0, 1.0 - w * p)
    with np.errstate(divide="ignore"):  # log1p(-1) = -inf for a full-weight patient at p = 1, as intended
        ll = float(np.sum(np.where(y, special.log_expit(eta), np.log1p(-w * p))))
    # d l / d eta and d2 l / d eta2 (see module docstring for the likelihood)
    d1 = np.where(y, q, -w * p * q / one_minus_wp)
    d2 = np.where(
        y,
        -p * q,
        -w * p * q * ((1.0 - 2.0 * p) * one_minus_wp + w * p * q) / one_minus_wp**2,
    )
    design = np.stack([np.ones_like(xc), xc], axis=1)
    grad = design.T @ d1
    hess = (design * d2[:, None]).T @ design
    return ll, grad, hess


def _log_terms(eta: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Each patient's log-likelihood term (``eta`` may carry leading axes), finite for large ``|eta|``."""
    with np.errstate(divide="ignore"):
        log_one_minus_wp = np.where(
            w >= 1.0,
            special.log_expit(-eta),
            np.logaddexp(special.log_expit(-eta), np.log1p(-np.minimum(w, 1.0)) + special.log_expit(eta)),
        )
    return np.where(y, special.log_expit(eta), log_one_minus_wp)


def _limit_log_likelihood(eta_k: float, u: np.ndarray, y: np.ndarray, w: np.ndarray, sign: float) -> float:
    """Limit of the log-likelihood with ``eta_i = eta_k + b u_i`` as ``b -> sign * infinity``:
    pDLT -> 1 where ``sign u_i > 0`` (a DLT contributes 0, a patient without DLT ``log(1 - w)``),
    pDLT -> 0 where ``sign u_i < 0`` (a DLT contributes -inf, a patient without DLT 0)."""
    to_one, to_zero = sign * u > 0.0, sign * u < 0.0
    if np.any(y & to_zero) or np.any(~y & to_one & (w >= 1.0)):
        return -math.inf
    at_level = u == 0.0
    return float(np.sum(np.log1p(-w[~y & to_one])) + np.sum(_log_terms(np.full(int(at_level.sum()), eta_k), y[at_level], w[at_level])))


def _profile_terms(
    eta: np.ndarray, y: np.ndarray, w: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray]:
    """Log-likelihood and its first and second derivatives in each patient's ``eta``, in a form
    that stays finite for large ``|eta|`` (``1 - w p = q + (1 - w) p``), for the profile search."""
    p = special.expit(eta)
    q = special.expit(-eta)
    full = w >= 1.0
    ll = float(np.sum(_log_terms(eta, y, w)))
    denom = q + (1.0 - w) * p
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(full, 1.0, q / np.where(denom > 0.0, denom, 1.0))  # q / (1 - w p)
    wpr = w * p * r
    d1 = np.where(y, q, -wpr)
    d2 = np.where(y, -p * q, -wpr * ((1.0 - 2.0 * p) + wpr))
    return ll, d1, d2


def _profile_at_level(
    eta_k: float, u: np.ndarray, y: np.ndarray, w: np.ndarray, start: float, var_b: float, scan: np.ndarray | None
) -> float:
    """``sup over b`` of the weighted log-likelihood with the logit at level k fixed to ``eta_k``
    (each patient's logit is ``eta_k + b u_i``, ``u_i = x_i - x_k``).

    With every follow-up weight 1 the log-likelihood is concave in ``b`` and Newton's method from
    ``start`` finds the maximum. With partial weights it need not be (a patient without DLT and
    ``w < 1`` costs only ``log(1 - w)`` as his pDLT goes to 1), so the values on the grid ``scan``
    of slopes and the limits as ``b -> +-infinity`` (exact, :func:`_limit_log_likelihood`) are
    compared as well, Newton's method being restarted from the best grid slope.
    """
    best = _newton_over_slope(eta_k, u, y, w, start, var_b)
    if scan is None:
        return best
    grid_values = np.sum(_log_terms(eta_k + scan[:, None] * u[None, :], y, w), axis=1)
    i = int(np.argmax(grid_values))
    return max(
        best,
        float(grid_values[i]),
        _newton_over_slope(eta_k, u, y, w, float(scan[i]), var_b),
        _limit_log_likelihood(eta_k, u, y, w, 1.0),
        _limit_log_likelihood(eta_k, u, y, w, -1.0),
    )


def _newton_over_slope(eta_k: float, u: np.ndarray, y: np.ndarray, w: np.ndarray, start: float, var_b: float) -> float:
    """Newton's method with step halving over the slope from ``start`` (a local maximum)."""
    b = start
    ll, d1, d2 = _profile_terms(eta_k + b * u, y, w)
    for _ in range(500):
        grad = float(d1 @ u)
        curv = float(d2 @ (u * u))
        step = grad / -curv if curv < 0.0 else grad * var_b
        t = 1.0
        while True:
            cand = b + t * step
            ll_new, d1_new, d2_new = _profile_terms(eta_k + cand * u, y, w)
            if ll_new >= ll or t < 1e-12:
                break
            t /= 2.0
        if ll_new < ll:  # no ascent along the gradient: b is a maximum to rounding
            return ll
        small = abs(t * step) <= 1e-12 * (1.0 + abs(b)) or ll_new - ll <= 1e-15 * (1.0 + abs(ll))
        b, ll, d1, d2 = cand, ll_new, d1_new, d2_new
        if small:
            return ll
    raise TrialDesignError(f"logistic fit: the profile likelihood over the slope did not converge at logit {eta_k:.6g}")


def _profile_eta_ci(
    d_k: float,
    theta: np.ndarray,
    cov: np.ndarray,
    ll_max: float,
    xc: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    critical: float,
) -> tuple[float, float, float]:
    """Profile-likelihood interval of ``eta_k = a + b d_k`` (``d_k = x_k - x_c``), -inf/+inf ends when
    unbounded, and the lowest deviance met on the way (negative when the likelihood somewhere exceeds
    its value at the estimate, i.e. the estimate is only a local maximum)."""
    from dosimetry.outcomes.profile import profile_likelihood_ends

    v = np.array([1.0, d_k])
    eta_hat = float(theta[0] + theta[1] * d_k)
    var_eta = float(v @ cov @ v)
    cov_b_eta = float(cov[1, 0] + d_k * cov[1, 1])
    var_b = max(float(cov[1, 1]) - cov_b_eta**2 / var_eta, 1e-12 * float(cov[1, 1]))
    u = xc - d_k
    scan: np.ndarray | None = None
    if np.any(~y & (w > 0.0) & (w < 1.0)):  # the likelihood may be non-concave in b: scan slopes too
        spread = np.abs(u[u != 0.0])
        if spread.size:
            reach = (PROFILE_LOGIT_SPAN + 20.0) / float(spread.min())
            scan = np.linspace(-reach, reach, 2 * int(math.ceil(reach * float(spread.max()) / PROFILE_SCAN_LOGIT_STEP)) + 1)
    lowest = [0.0]

    def deviance(eta: float) -> float:
        start = float(theta[1]) + cov_b_eta / var_eta * (eta - eta_hat)
        value = 2.0 * (ll_max - _profile_at_level(eta, u, y, w, start, var_b, scan))
        lowest[0] = min(lowest[0], value)
        return value

    ends = profile_likelihood_ends(
        deviance, eta_hat, math.sqrt(var_eta), min(eta_hat, 0.0) - PROFILE_LOGIT_SPAN, max(eta_hat, 0.0) + PROFILE_LOGIT_SPAN,
        critical=critical,
    )
    return ends[0], ends[1], lowest[0]


def fit_logistic(
    levels: Sequence[int],
    dlt: Sequence[bool],
    *,
    dose_gye_per_level: Sequence[float] = PROTOCOL_TOTAL_DOSE_GYE,
    weights: Sequence[float] | None = None,
    confidence_level: float = 0.95,
    target: float | None = None,
) -> LogisticFit:
    """Fit the two-parameter logistic model to per-patient (level, DLT[, weight]) data."""
    n = len(levels)
    if len(dlt) != n:
        raise TrialDesignError(f"logistic fit: {n} dose levels but {len(dlt)} DLT indicators")
    if weights is not None and len(weights) != n:
        raise TrialDesignError(f"logistic fit: {n} patients but {len(weights)} weights")
    if not 0.0 < confidence_level < 1.0:
        raise TrialDesignError(f"confidence_level: expected a value in (0, 1), got {confidence_level!r}")
    doses = tuple(float(d) for d in dose_gye_per_level)
    if any(b <= a for a, b in zip(doses, doses[1:])):
        raise TrialDesignError(f"dose_gye_per_level: expected strictly increasing doses, got {list(doses)}")
    for i, lev in enumerate(levels, start=1):
        if not 1 <= lev <= len(doses):
            raise TrialDesignError(f"logistic fit: patient {i} dose level {lev} outside 1..{len(doses)}")
    y = np.asarray(dlt, dtype=bool)
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    if np.any((w < 0.0) | (w > 1.0)):
        raise TrialDesignError("logistic fit: weights must lie in [0, 1]")
    x = np.asarray([doses[lev - 1] for lev in levels], dtype=float)

    informative = y | (w > 0.0)
    x1 = x[y]
    x0 = x[~y & informative]
    if x1.size == 0:
        raise TrialDesignError(
            "logistic fit: no DLT observed - the maximum-likelihood pDLT is 0 at every dose and the two-parameter "
            "logistic model cannot be estimated"
        )
    if x0.size == 0:
        raise TrialDesignError(
            "logistic fit: every evaluable patient had a DLT - the two-parameter logistic model cannot be estimated"
        )
    if np.unique(x[informative]).size < 2:
        raise TrialDesignError("logistic fit: all patients were treated at one dose - the slope is not identifiable")
    if x0.max() <= x1.min():
        raise TrialDesignError(
            f"logistic fit: (quasi-)complete separation - every DLT occurred at a dose >= {x1.min():g} GyE and every "
            f"patient without DLT at a dose <= {x0.max():g} GyE, so the maximum-likelihood slope is infinite; the "
            "two-parameter logistic estimate does not exist for these data (use the TITE-CRM estimate)"
        )
    if x1.max() <= x0.min():
        raise TrialDesignError(
            f"logistic fit: (quasi-)complete separation with DLTs only at the lower doses (<= {x1.max():g} GyE); the "
            "maximum-likelihood slope is -infinity and the estimate does not exist"
        )

    centre = float(np.mean(x[informative]))
    xc = x - centre
    theta = np.array([0.0, 0.0])
    ll, grad, hess = _loglik_grad_hess(theta, xc, y, w)
    for iteration in range(1, _MAX_ITER + 1):
        try:
            step = np.linalg.solve(hess, -grad)
        except np.linalg.LinAlgError as exc:
            raise TrialDesignError(f"logistic fit: singular information matrix at iteration {iteration}") from exc
        t = 1.0
        while True:
            cand = theta + t * step
            ll_new, g_new, h_new = _loglik_grad_hess(cand, xc, y, w)
            if ll_new >= ll - 1e-12 or t < 1e-8:
                break
            t /= 2.0
        converged = abs(ll_new - ll) < 1e-13 and float(np.max(np.abs(g_new))) < 1e-9
        theta, ll, grad, hess = cand, ll_new, g_new, h_new
        if converged or float(np.max(np.abs(grad))) < 1e-12:
            break
    else:
        raise TrialDesignError(f"logistic fit: Newton-Raphson did not converge in {_MAX_ITER} iterations")

    fitted = special.expit(theta[0] + theta[1] * np.unique(xc[informative]))
    if np.any(fitted < 1e-6) or np.any(fitted > 1.0 - 1e-6):
        raise TrialDesignError(
            "logistic fit: the likelihood keeps increasing as the fitted pDLT at a treated dose goes to 0 or 1 "
            f"(slope {theta[1]:.3g} per GyE after {iteration} iterations): the maximum-likelihood estimate does not "
            "exist for these data (near-separation; with follow-up weights < 1 a patient without DLT does not keep "
            "pDLT below 1); use the TITE-CRM estimate"
        )
    info = -hess
    if not np.all(np.linalg.eigvalsh(info) > 0.0):
        raise TrialDesignError("logistic fit: the observed information is not positive definite at the estimate")
    cov = np.linalg.inv(info)
    z = float(stats.norm.ppf(0.5 + confidence_level / 2.0))
    critical = float(stats.chi2.ppf(confidence_level, 1))

    estimates = []
    unbounded: list[str] = []
    above: list[int] = []
    for k, dose in enumerate(doses, start=1):
        v = np.array([1.0, dose - centre])
        eta = float(theta[0] + theta[1] * v[1])
        se = math.sqrt(float(v @ cov @ v))
        eta_lo, eta_hi, lowest = _profile_eta_ci(float(v[1]), theta, cov, ll, xc, y, w, critical)
        if lowest < -1e-6:
            above.append(k)
        if not math.isfinite(eta_lo):
            unbounded.append(f"level {k} lower")
        if not math.isfinite(eta_hi):
            unbounded.append(f"level {k} upper")
        at = [i for i, lev in enumerate(levels) if lev == k]
        estimates.append(
            LevelEstimate(
                level=k,
                dose_gye=dose,
                n_patients=len(at),
                n_dlt=int(sum(bool(dlt[i]) for i in at)),
                pdlt=float(special.expit(eta)),
                ci_lower=float(special.expit(eta - z * se)),
                ci_upper=float(special.expit(eta + z * se)),
                profile_ci_lower=float(special.expit(eta_lo)),
                profile_ci_upper=float(special.expit(eta_hi)),
                profile_lower_unbounded=not math.isfinite(eta_lo),
                profile_upper_unbounded=not math.isfinite(eta_hi),
            )
        )

    warnings: list[str] = []
    n_partial = int(np.sum(~y & (w < 1.0)))
    if n_partial:
        warnings.append(
            f"{n_partial} patient(s) without DLT have follow-up weights < 1 and enter with the observed fraction of "
            "the window (the protocol's rule for patients who became un-evaluable)"
        )
    if unbounded:
        warnings.append(
            f"profile-likelihood {confidence_level:.0%} interval unbounded ({', '.join(unbounded)}): the profile "
            f"log-likelihood does not fall by {critical:.4g}/2 within {PROFILE_LOGIT_SPAN:g} logits; these ends are "
            "reported as pDLT 1 (upper) or 0 (lower)"
        )
    if above:
        warnings.append(
            f"the profile likelihood of level(s) {', '.join(map(str, above))} exceeds the likelihood at the estimate: "
            "the estimate is only a local maximum (the likelihood grows towards pDLT 0 or 1 at some doses, as with "
            "partial follow-up weights) and its profile intervals are those of the region around it"
        )
    if theta[1] <= 0.0:
        warnings.append(f"fitted slope {theta[1]:.4g} per GyE is not positive: pDLT does not increase with dose")
    dose_at_target: float | None = None
    if target is not None:
        if not 0.0 < target < 1.0:
            raise TrialDesignError(f"target: expected a pDLT in (0, 1), got {target!r}")
        if theta[1] != 0.0:
            d = centre + (float(special.logit(target)) - theta[0]) / theta[1]
            if doses[0] <= d <= doses[-1]:
                dose_at_target = float(d)
            else:
                warnings.append(
                    f"the fitted pDLT reaches the target {target:g} at {d:.2f} GyE, outside the studied doses "
                    f"{doses[0]:g}-{doses[-1]:g} GyE (not reported)"
                )
    logger.info("logistic fit: a=%.4f b=%.4f per GyE after %d iterations", theta[0], theta[1], iteration)
    return LogisticFit(
        intercept_at_centre=float(theta[0]),
        slope_per_gye=float(theta[1]),
        dose_centre_gye=centre,
        covariance=((float(cov[0, 0]), float(cov[0, 1])), (float(cov[1, 0]), float(cov[1, 1]))),
        confidence_level=confidence_level,
        levels=tuple(estimates),
        dose_at_target_gye=dose_at_target,
        target=target,
        iterations=iteration,
        warnings=tuple(warnings),
    )
