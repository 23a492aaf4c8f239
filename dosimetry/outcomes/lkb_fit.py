"""Maximum-likelihood fit of the Lyman-Kutcher-Burman NTCP model to a cohort's DVHs of one organ.

Model (evaluated by :mod:`dosimetry.constraints.ntcp`, not re-implemented here)::

    NTCP_i = Phi((gEUD_i(n) - TD50) / (m TD50)),   gEUD_i(n) = (sum_j v_ij D_ij^(1/n))^n  (a = 1/n)

with ``D_ij`` the dose bins of patient i's differential DVH (default quantity: cumulative EQD2 at
alpha/beta 2 Gy) and ``v_ij`` their fractional volumes; the binary endpoint ``y_i`` is Bernoulli.

Fit. For a fixed ``n`` the model is a probit regression of ``y`` on gEUD: ``Phi(a + b gEUD)`` with
``b = 1 / (m TD50)``, ``a = -1 / m`` (so ``TD50 = -a/b``, ``m = -1/a``), whose log-likelihood is
concave in ``(a, b)``. The maximum over ``(TD50, m)`` at a given ``n`` is therefore found reliably by
Newton's method; the maximum over ``n`` is a 1-D search over ``log n`` in :data:`N_SEARCH_RANGE`: a
grid of :data:`N_GRID_POINTS` values, then a bounded Brent refinement between the neighbours of the
best grid point. Fixing TD50 and/or m turns the inner problem into a one-parameter probit (``Phi(c
(gEUD - TD50))`` or ``Phi(u gEUD - 1/m)``), also concave; fixing n removes the outer search.

Profile-likelihood 95 % intervals. For each free parameter the profile deviance
``2 (l_max - max over the others)`` is computed on the log scale of the parameter (all three are
positive, so the interval cannot leave the domain) and its crossings of ``chi2_1(0.95)`` are found
by the shared :func:`dosimetry.outcomes.profile.profile_likelihood_ends` within the search range
(TD50 and m: a factor :data:`TD50_RANGE_FACTOR` / :data:`M_RANGE_FACTOR` either side of the
estimate; n: :data:`N_SEARCH_RANGE`). An end that is not reached is reported as **unbounded**
(``None``) with a warning; a parameter with both ends unbounded is reported as **not identifiable**
from these data, never with a made-up interval. At profile points where the unconstrained probit
maximum leaves the LKB domain (``b <= 0`` or ``a >= 0``, i.e. a non-increasing curve or NTCP(0 Gy)
>= 50 %), the unconstrained supremum is used: the deviance is then smaller, so the interval can
only be wider (conservative).

Refused (:class:`ModelFitError`): fewer than :data:`MIN_MINORITY_PER_FREE_PARAMETER` events (or
non-events) per free parameter; a cohort whose gEUD separates events from non-events at some n of
the search grid (the likelihood then grows without bound as m -> 0, the MLE does not exist); a fit
whose probit slope is not positive (no increasing dose-response) or whose TD50 is not positive.

Cross-checks reported with the fit: a patient-level (nonparametric) bootstrap of the MLE
(percentile 95 % intervals; failed resamples are counted and said), the calibration of the fitted
curve (:mod:`dosimetry.outcomes.calibration`: binned observed vs predicted, Hosmer-Lemeshow) and
the ROC AUC of the predicted NTCP. Fewer than :data:`EVENTS_PER_PARAMETER_WARNING` events (or
non-events) per free parameter adds a small-sample warning to every output.

Hand-written Newton for the probit (reason, measured): statsmodels' ``Probit``/``GLM`` fit costs
~2-4 ms per call on 50 patients (model construction, summary bookkeeping), and one LKB fit with
profile intervals needs ~10^4 inner fits (grid over n x profile points), i.e. tens of seconds per
fit and hours for the coverage benchmark; the Newton loop here takes ~0.1 ms. It is checked
against statsmodels' Probit in the tests.
"""

from __future__ import annotations

import enum
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, special, stats

from dosimetry.constraints.ntcp import OrganDoseMatrix, lkb_ntcp
from dosimetry.constraints.samples import OrganDoseBins
from dosimetry.errors import ArgumentError, ModelFitError
from dosimetry.outcomes.calibration import Calibration, calibration
from dosimetry.outcomes.discrimination import roc_auc
from dosimetry.outcomes.profile import CHI2_1_95, profile_likelihood_ends

logger = logging.getLogger(__name__)

N_SEARCH_RANGE = (0.02, 10.0)
N_GRID_POINTS = 41
TD50_RANGE_FACTOR = 20.0
M_RANGE_FACTOR = 50.0
MIN_MINORITY_PER_FREE_PARAMETER = 2
EVENTS_PER_PARAMETER_WARNING = 10
DEFAULT_BOOTSTRAP = 200
MAX_BOOTSTRAP = 5000
#: |linear predictor| beyond which the probit is at 0/1 to double precision: an inner fit reaching it is separated
SEPARATION_ETA = 38.0
PROFILE_LOG_XTOL = 1e-5


class LkbParameter(enum.Enum):
    TD50 = "td50_gy"
    M = "m"
    N = "n"


@dataclass(frozen=True)
class ParameterEstimate:
    """One LKB parameter: estimate, profile-likelihood 95 % interval (``None`` at an unbounded end)
    and bootstrap percentile 95 % interval; ``fixed`` parameters have neither."""

    parameter: LkbParameter
    estimate: float
    fixed: bool
    profile_ci95: tuple[float | None, float | None] = (None, None)
    search_range: tuple[float, float] | None = None
    bootstrap_ci95: tuple[float, float] | None = None

    @property
    def identifiable(self) -> bool:
        """False when neither profile end was reached in the search range (the data do not
        identify the parameter)."""
        return self.fixed or self.profile_ci95 != (None, None)

    def as_dict(self) -> dict[str, object]:
        lo, hi = self.profile_ci95
        return {
            "estimate": self.estimate,
            "fixed": self.fixed,
            "profile_ci95": [lo, hi],
            "profile_ci95_unbounded": {"lower": lo is None and not self.fixed, "upper": hi is None and not self.fixed},
            "identifiable": self.identifiable,
            "search_range": list(self.search_range) if self.search_range is not None else None,
            "bootstrap_ci95": list(self.bootstrap_ci95) if self.bootstrap_ci95 is not None else None,
        }


@dataclass(frozen=True)
class BootstrapSummary:
    requested: int
    succeeded: int
    failed: int
    seed: int
    #: (TD50 Gy, m, n) of each successful resample
    replicates: tuple[tuple[float, float, float], ...] = ()


@dataclass(frozen=True)
class LkbFit:
    """The fitted LKB model of one organ and endpoint, with its checks."""

    organ: str
    quantity: str
    patient_ids: tuple[str, ...]
    events: int
    td50: ParameterEstimate
    m: ParameterEstimate
    n: ParameterEstimate
    log_likelihood: float
    null_log_likelihood: float
    geud_gy: tuple[float, ...]
    predicted_ntcp: tuple[float, ...]
    outcome: tuple[bool, ...]
    auc: float
    calibration: Calibration
    bootstrap: BootstrapSummary
    warnings: tuple[str, ...] = field(default=())

    @property
    def n_patients(self) -> int:
        return len(self.patient_ids)

    @property
    def free_parameters(self) -> int:
        return sum(not p.fixed for p in (self.td50, self.m, self.n))

    def ntcp(self, geud_gy: float) -> float:
        return lkb_ntcp(geud_gy, self.td50.estimate, self.m.estimate)

    def curve_band(self, geud_gy: Sequence[float] | NDArray[np.float64], level: float = 0.95) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Pointwise bootstrap percentile band of the NTCP curve at each ``geud_gy``."""
        if not self.bootstrap.replicates:
            raise ModelFitError(f"LKB fit of {self.organ}: no successful bootstrap resample, no confidence band")
        reps = np.asarray(self.bootstrap.replicates)
        g = np.asarray(geud_gy, dtype=float)
        curves = special.ndtr((g[None, :] - reps[:, :1]) / (reps[:, 1:2] * reps[:, :1]))
        tail = 50.0 * (1.0 - level)
        return np.percentile(curves, tail, axis=0), np.percentile(curves, 100.0 - tail, axis=0)

    def as_dict(self) -> dict[str, object]:
        return {
            "model": "NTCP = Phi((gEUD - TD50) / (m TD50)), gEUD = (sum v_i D_i^(1/n))^n",
            "organ": self.organ,
            "quantity": self.quantity,
            "n_patients": self.n_patients,
            "events": self.events,
            "td50_gy": self.td50.as_dict(),
            "m": self.m.as_dict(),
            "n": self.n.as_dict(),
            "a_equals_1_over_n": 1.0 / self.n.estimate,
            "log_likelihood": self.log_likelihood,
            "null_log_likelihood": self.null_log_likelihood,
            "auc": self.auc,
            "calibration": self.calibration.as_dict(),
            "bootstrap": {
                "requested": self.bootstrap.requested,
                "succeeded": self.bootstrap.succeeded,
                "failed": self.bootstrap.failed,
                "seed": self.bootstrap.seed,
            },
            "warnings": list(self.warnings),
        }


# --- probit inner fits -------------------------------------------------------------------------


def _probit_loglik(eta: NDArray[np.float64], y: NDArray[np.bool_]) -> float:
    return float(np.sum(np.where(y, special.log_ndtr(eta), special.log_ndtr(-eta))))


def _probit_max(x: NDArray[np.float64], offset: NDArray[np.float64], y: NDArray[np.bool_]) -> tuple[NDArray[np.float64], float, bool]:
    """Maximise the probit log-likelihood of ``Phi(x @ beta + offset)`` over ``beta`` (concave).

    Returns ``(beta, loglik, separated)``; ``separated`` when the linear predictor had to exceed
    :data:`SEPARATION_ETA` (the supremum is approached at infinity; loglik is then within
    ~1e-300 of it per patient)."""
    scale = np.std(x, axis=0)
    scale = np.where(scale > 0.0, scale, 1.0)
    z = x / scale
    beta = np.zeros(x.shape[1])
    loglik = _probit_loglik(offset, y)
    sign = np.where(y, 1.0, -1.0)
    for _ in range(200):
        eta = z @ beta + offset
        s = sign * eta
        mills = np.exp(stats.norm.logpdf(s) - special.log_ndtr(s))  # phi(s) / Phi(s), stable for s << 0
        grad_eta = sign * mills
        weight = mills * (mills + s)
        gradient = z.T @ grad_eta
        hessian = z.T @ (z * weight[:, None])
        try:
            step = np.linalg.solve(hessian, gradient)
        except np.linalg.LinAlgError:
            step = gradient
        t = 1.0
        while True:
            candidate = beta + t * step
            cand_ll = _probit_loglik(z @ candidate + offset, y)
            if cand_ll >= loglik - 1e-12 or t < 1e-10:
                break
            t /= 2.0
        beta, previous, loglik = candidate, loglik, cand_ll
        if np.max(np.abs(z @ beta + offset)) > SEPARATION_ETA:
            return beta / scale, loglik, True
        if float(np.max(np.abs(t * step))) < 1e-10 or abs(loglik - previous) < 1e-12 * (1.0 + abs(loglik)):
            return beta / scale, loglik, False
    return beta / scale, loglik, True


@dataclass(frozen=True)
class _Inner:
    loglik: float
    td50_gy: float
    m: float
    separated: bool


def _inner(g: NDArray[np.float64], y: NDArray[np.bool_], td50_fixed: float | None, m_fixed: float | None) -> _Inner:
    """Maximum over the free ones of (TD50, m) at fixed gEUDs ``g``."""
    zeros = np.zeros_like(g)
    if td50_fixed is not None and m_fixed is not None:
        return _Inner(_probit_loglik((g - td50_fixed) / (m_fixed * td50_fixed), y), td50_fixed, m_fixed, False)
    if td50_fixed is not None:
        beta, ll, sep = _probit_max((g - td50_fixed)[:, None], zeros, y)
        c = float(beta[0])
        if c <= 0.0:  # the constrained maximum is at c = 0 (m -> infinity)
            return _Inner(_probit_loglik(zeros, y), td50_fixed, math.inf, False)
        return _Inner(ll, td50_fixed, 1.0 / (c * td50_fixed), sep)
    if m_fixed is not None:
        beta, ll, sep = _probit_max(g[:, None], np.full_like(g, -1.0 / m_fixed), y)
        u = float(beta[0])
        if u <= 0.0:  # TD50 -> infinity
            return _Inner(_probit_loglik(np.full_like(g, -1.0 / m_fixed), y), math.inf, m_fixed, False)
        return _Inner(ll, 1.0 / (u * m_fixed), m_fixed, sep)
    beta, ll, sep = _probit_max(np.column_stack([np.ones_like(g), g]), zeros, y)
    a, b = float(beta[0]), float(beta[1])
    td50 = -a / b if b != 0.0 else math.inf
    m = -1.0 / a if a != 0.0 else math.inf
    return _Inner(ll, td50, m, sep)


class _Problem:
    """The cohort, the fixed parameters and a cache of gEUDs per n."""

    def __init__(self, doses: OrganDoseMatrix, y: NDArray[np.bool_], fixed: Mapping[LkbParameter, float]) -> None:
        self.doses = doses
        self.y = y
        self.fixed = dict(fixed)
        self._cache: dict[float, NDArray[np.float64]] = {}
        self.grid = np.exp(np.linspace(math.log(N_SEARCH_RANGE[0]), math.log(N_SEARCH_RANGE[1]), N_GRID_POINTS))

    def geud(self, n: float) -> NDArray[np.float64]:
        cached = self._cache.get(n)
        if cached is None:
            cached = self.doses.geud_gy(n)
            if len(self._cache) < 4096:
                self._cache[n] = cached
        return cached

    def at_n(self, n: float, td50: float | None, m: float | None) -> _Inner:
        return _inner(self.geud(n), self.y, td50, m)

    def best(self, td50: float | None, m: float | None) -> tuple[float, _Inner]:
        """Maximum over n (fixed, or grid + bounded Brent) with TD50/m fixed where given."""
        if LkbParameter.N in self.fixed:
            n = self.fixed[LkbParameter.N]
            return n, self.at_n(n, td50, m)
        values = [self.at_n(float(n), td50, m) for n in self.grid]
        i = int(np.argmax([v.loglik for v in values]))
        lo = math.log(self.grid[max(i - 1, 0)])
        hi = math.log(self.grid[min(i + 1, self.grid.size - 1)])
        result = optimize.minimize_scalar(
            lambda log_n: -self.at_n(math.exp(log_n), td50, m).loglik, bounds=(lo, hi), method="bounded", options={"xatol": 1e-5}
        )
        n_best = math.exp(float(result.x))
        refined = self.at_n(n_best, td50, m)
        if refined.loglik >= values[i].loglik:
            return n_best, refined
        return float(self.grid[i]), values[i]


def _separated_ns(problem: _Problem) -> list[float]:
    ns = [problem.fixed[LkbParameter.N]] if LkbParameter.N in problem.fixed else [float(n) for n in problem.grid]
    out = []
    for n in ns:
        g = problem.geud(n)
        g1, g0 = g[problem.y], g[~problem.y]
        if g0.max() <= g1.min() or g1.max() <= g0.min():
            out.append(n)
    return out


def _check_fixed(fixed: Mapping[LkbParameter, float]) -> None:
    for parameter, value in fixed.items():
        if not isinstance(parameter, LkbParameter):
            raise ArgumentError(f"LKB fit: fixed parameter {parameter!r} is not one of {', '.join(p.value for p in LkbParameter)}")
        if not (math.isfinite(value) and value > 0.0):
            raise ArgumentError(f"LKB fit: fixed {parameter.value} must be a positive finite number, got {value!r}")


def _mle(problem: _Problem) -> tuple[float, float, float, float]:
    """(TD50, m, n, loglik) of the maximum-likelihood fit; raises when it does not exist."""
    fixed = problem.fixed
    n_hat, inner = problem.best(fixed.get(LkbParameter.TD50), fixed.get(LkbParameter.M))
    if not (math.isfinite(inner.td50_gy) and inner.td50_gy > 0.0 and math.isfinite(inner.m) and inner.m > 0.0):
        raise ModelFitError(
            f"LKB fit: the maximum-likelihood probit curve in gEUD is not an LKB curve (TD50 {inner.td50_gy:.4g} Gy, "
            f"m {inner.m:.4g} at n {n_hat:.3g}): no increasing dose-response with NTCP(0 Gy) < 50 % in these data"
        )
    return inner.td50_gy, inner.m, n_hat, inner.loglik


def fit_lkb(
    organs: Sequence[OrganDoseBins],
    outcome: Sequence[bool],
    *,
    patient_ids: Sequence[str] | None = None,
    organ: str = "organ",
    quantity: str = "EQD2_2_cumulative",
    fixed: Mapping[LkbParameter, float] | None = None,
    bootstrap: int = DEFAULT_BOOTSTRAP,
    seed: int = 20240601,
    calibration_groups: int = 10,
) -> LkbFit:
    """Fit TD50, m and n (those not in ``fixed``) to the patients' dose bins and binary outcomes."""
    fixed = dict(fixed or {})
    _check_fixed(fixed)
    y = np.asarray(outcome, dtype=bool)
    if len(organs) != y.size:
        raise ArgumentError(f"LKB fit of {organ}: {len(organs)} DVHs but {y.size} outcomes")
    ids = tuple(patient_ids) if patient_ids is not None else tuple(f"#{i + 1}" for i in range(y.size))
    if len(ids) != y.size:
        raise ArgumentError(f"LKB fit of {organ}: {len(ids)} patient ids but {y.size} outcomes")
    if not 0 <= bootstrap <= MAX_BOOTSTRAP:
        raise ArgumentError(f"bootstrap: expected 0..{MAX_BOOTSTRAP} resamples, got {bootstrap}")
    free = [p for p in LkbParameter if p not in fixed]
    if not free:
        raise ArgumentError(f"LKB fit of {organ}: every parameter is fixed, nothing to fit")
    events, non_events = int(y.sum()), int((~y).sum())
    minority = min(events, non_events)
    needed = MIN_MINORITY_PER_FREE_PARAMETER * len(free)
    if minority < needed:
        raise ModelFitError(
            f"LKB fit of {organ} ({quantity}): {events} event(s) and {non_events} non-event(s) among {y.size} patients; "
            f"at least {needed} of each ({MIN_MINORITY_PER_FREE_PARAMETER} per free parameter, {len(free)} free: "
            f"{', '.join(p.value for p in free)}) are needed for a maximum-likelihood fit (fix n or m to fit fewer parameters)"
        )
    doses = OrganDoseMatrix.of(organs)
    problem = _Problem(doses, y, fixed)
    separated = _separated_ns(problem)
    if separated:
        raise ModelFitError(
            f"LKB fit of {organ} ({quantity}): the gEUD separates the {events} events from the {non_events} non-events for "
            f"n in [{min(separated):.3g}, {max(separated):.3g}]; the likelihood grows without bound as m -> 0 there and the "
            "maximum-likelihood estimate does not exist (more patients are needed, or fix n outside that range)"
        )
    td50, m, n, loglik = _mle(problem)
    warnings: list[str] = []
    if minority < EVENTS_PER_PARAMETER_WARNING * len(free):
        warnings.append(
            f"small sample: {minority} {'events' if events <= non_events else 'non-events'} for {len(free)} free "
            f"parameter(s) (fewer than {EVENTS_PER_PARAMETER_WARNING} per parameter); estimates may be biased and "
            "intervals approximate"
        )
    if LkbParameter.N not in fixed and (n <= N_SEARCH_RANGE[0] * 1.0001 or n >= N_SEARCH_RANGE[1] / 1.0001):
        warnings.append(f"the estimate of n ({n:.3g}) is at the edge of the search range {N_SEARCH_RANGE}: consider fixing n")

    estimates = {LkbParameter.TD50: td50, LkbParameter.M: m, LkbParameter.N: n}
    lowest = [0.0]
    results: dict[LkbParameter, ParameterEstimate] = {}
    for parameter in LkbParameter:
        value = estimates[parameter]
        if parameter in fixed:
            results[parameter] = ParameterEstimate(parameter, value, True)
            continue
        search = (
            N_SEARCH_RANGE if parameter is LkbParameter.N
            else (value / TD50_RANGE_FACTOR, value * TD50_RANGE_FACTOR) if parameter is LkbParameter.TD50
            else (value / M_RANGE_FACTOR, value * M_RANGE_FACTOR)
        )

        def deviance(log_value: float, parameter: LkbParameter = parameter) -> float:
            v = math.exp(log_value)
            if parameter is LkbParameter.N:
                inner = problem.at_n(v, fixed.get(LkbParameter.TD50), fixed.get(LkbParameter.M))
            else:
                td = v if parameter is LkbParameter.TD50 else fixed.get(LkbParameter.TD50)
                mm = v if parameter is LkbParameter.M else fixed.get(LkbParameter.M)
                inner = problem.best(td, mm)[1]
            d = 2.0 * (loglik - inner.loglik)
            lowest[0] = min(lowest[0], d)
            return d

        log_hat = min(max(math.log(value), math.log(search[0])), math.log(search[1]))
        lo, hi = profile_likelihood_ends(
            deviance, log_hat, 0.1, math.log(search[0]), math.log(search[1]), xtol=PROFILE_LOG_XTOL
        )
        ends = (math.exp(lo) if math.isfinite(lo) else None, math.exp(hi) if math.isfinite(hi) else None)
        results[parameter] = ParameterEstimate(parameter, value, False, ends, (float(search[0]), float(search[1])))
        if ends == (None, None):
            warnings.append(
                f"{parameter.value} is not identifiable from these data: the profile log-likelihood does not fall by "
                f"{CHI2_1_95:.4g}/2 anywhere in [{search[0]:.4g}, {search[1]:.4g}]; no interval is reported"
            )
        elif None in ends:
            side = "lower" if ends[0] is None else "upper"
            warnings.append(
                f"{parameter.value}: the {side} end of the profile-likelihood 95 % interval is not reached within "
                f"[{search[0]:.4g}, {search[1]:.4g}] (unbounded, reported as empty)"
            )
    if lowest[0] < -1e-6:
        warnings.append(
            f"a profile found a log-likelihood {-lowest[0] / 2:.3g} above the reported maximum: the maximum over n is "
            "multimodal and the estimate may be a local maximum"
        )

    g_hat = doses.geud_gy(n)
    predicted = special.ndtr((g_hat - td50) / (m * td50))
    boot = _bootstrap(problem, bootstrap, seed)
    if boot.failed:
        warnings.append(
            f"bootstrap: {boot.failed} of {boot.requested} resamples could not be fitted (separation, too few events or no "
            "LKB curve) and are left out; the bootstrap intervals describe the fitted resamples only"
        )
    if boot.replicates:
        reps = np.asarray(boot.replicates)
        for k, parameter in enumerate(LkbParameter):
            if parameter in fixed:
                continue
            lo_b, hi_b = np.percentile(reps[:, k], [2.5, 97.5])
            results[parameter] = _with_bootstrap(results[parameter], (float(lo_b), float(hi_b)))
    p0 = events / y.size
    null_ll = events * math.log(p0) + non_events * math.log(1.0 - p0)
    cal = calibration(predicted, y, groups=calibration_groups, fitted_parameters=len(free))
    warnings.extend(cal.warnings)
    logger.info("LKB fit of %s: TD50 %.4g Gy, m %.4g, n %.4g (loglik %.4f)", organ, td50, m, n, loglik)
    return LkbFit(
        organ=organ,
        quantity=quantity,
        patient_ids=ids,
        events=events,
        td50=results[LkbParameter.TD50],
        m=results[LkbParameter.M],
        n=results[LkbParameter.N],
        log_likelihood=loglik,
        null_log_likelihood=null_ll,
        geud_gy=tuple(float(v) for v in g_hat),
        predicted_ntcp=tuple(float(v) for v in predicted),
        outcome=tuple(bool(v) for v in y),
        auc=roc_auc(predicted, y, name=f"LKB NTCP of {organ}"),
        calibration=cal,
        bootstrap=boot,
        warnings=tuple(warnings),
    )


def _with_bootstrap(estimate: ParameterEstimate, interval: tuple[float, float]) -> ParameterEstimate:
    return ParameterEstimate(
        estimate.parameter, estimate.estimate, estimate.fixed, estimate.profile_ci95, estimate.search_range, interval
    )


def _bootstrap(problem: _Problem, resamples: int, seed: int) -> BootstrapSummary:
    rng = np.random.default_rng(seed)
    replicates: list[tuple[float, float, float]] = []
    failed = 0
    size = problem.y.size
    needed = MIN_MINORITY_PER_FREE_PARAMETER * sum(p not in problem.fixed for p in LkbParameter)
    for _ in range(resamples):
        index = rng.integers(0, size, size=size)
        y = problem.y[index]
        if min(int(y.sum()), int((~y).sum())) < needed:
            failed += 1
            continue
        sub = _Problem(problem.doses.rows(index), y, problem.fixed)
        if _separated_ns(sub):
            failed += 1
            continue
        try:
            td50, m, n, _ = _mle(sub)
        except ModelFitError:
            failed += 1
            continue
        replicates.append((td50, m, n))
    return BootstrapSummary(resamples, len(replicates), failed, seed, tuple(replicates))
