"""Empiric (power) CRM model with a normal prior and the TITE-CRM likelihood.

Model (Cheung and Chappell, Biometrics 2000; dfcrm's ``model = "empiric"``)::

    p_k(beta) = skeleton_k ** exp(beta)                 k = 1..K (dose levels, 1-based)
    beta ~ Normal(0, prior_variance)                    prior_variance = 1.34 by default
    L(beta) = prod_{DLT} p(beta) * prod_{no DLT} (1 - w * p(beta))

where ``w`` is the follow-up weight of a patient without DLT (see :mod:`dosimetry.trial.weights`);
a patient with a DLT contributes ``p`` whatever its weight (dfcrm sets that weight to 1).

The posterior mean and variance of ``beta`` and the posterior mean of each level's pDLT are
computed by numerical integration, with two independent methods that must agree:

* :attr:`IntegrationMethod.QUAD` - adaptive quadrature (``scipy.integrate.quad``) over the two
  half-lines either side of the posterior mode, infinite limits;
* :attr:`IntegrationMethod.GAUSS_HERMITE` - a fixed 120-point Gauss-Hermite rule centred on the
  posterior mode and scaled by the Laplace (curvature) standard deviation.

Both integrate ``exp(log_posterior(beta) - log_posterior(mode))`` so that no under- or overflow
occurs however peaked the likelihood is. dfcrm reports the plug-in estimate
``skeleton ** exp(posterior mean of beta)`` as its toxicity estimate (``ptox``); this module gives
that (:attr:`Posterior.pdlt_plugin`) and the posterior mean of ``p_k`` as well
(:attr:`Posterior.pdlt_posterior_mean`).
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import integrate, optimize

from dosimetry.errors import TrialDesignError
# Defined in the light constants module (the CLI parser shows them) and re-exported here.
from dosimetry.trial.constants import (  # noqa: F401 - PROTOCOL_TARGET is re-exported
    DEFAULT_PRIOR_VARIANCE,
    PROTOCOL_SKELETON,
    PROTOCOL_TARGET,
    IntegrationMethod,
)

logger = logging.getLogger(__name__)

#: Number of Gauss-Hermite nodes of the fixed rule.
GAUSS_HERMITE_NODES: int = 120

# Search interval of the posterior mode. Below -40 the prior density ratio (exp(-600)) outweighs any
# likelihood ratio achievable with a few hundred patients; above 15, exp(beta) > 3e6 kills any DLT
# term and the prior decays faster than a likelihood bounded by 1 can grow.
_MODE_GRID = np.linspace(-40.0, 15.0, 441)


@dataclass(frozen=True)
class EmpiricModel:
    """The empiric (power) dose-toxicity model ``p_k = skeleton_k ** exp(beta)`` with its prior."""

    skeleton: tuple[float, ...] = PROTOCOL_SKELETON
    prior_variance: float = DEFAULT_PRIOR_VARIANCE

    def __post_init__(self) -> None:
        skeleton = tuple(float(s) for s in self.skeleton)
        object.__setattr__(self, "skeleton", skeleton)
        if len(skeleton) < 2:
            raise TrialDesignError(f"skeleton: expected at least 2 dose levels, got {len(skeleton)}")
        for k, s in enumerate(skeleton, start=1):
            if not (0.0 < s < 1.0) or not math.isfinite(s):
                raise TrialDesignError(f"skeleton: level {k} value {s!r} is not a probability strictly between 0 and 1")
        if any(b <= a for a, b in zip(skeleton, skeleton[1:])):
            raise TrialDesignError(f"skeleton: expected strictly increasing pDLT guesses, got {list(skeleton)}")
        if not (math.isfinite(self.prior_variance) and self.prior_variance > 0.0):
            raise TrialDesignError(f"prior_variance: expected a positive finite number, got {self.prior_variance!r}")

    @property
    def n_levels(self) -> int:
        return len(self.skeleton)

    def pdlt(self, beta: float) -> NDArray[np.float64]:
        """pDLT of every level for one value of ``beta``."""
        return np.asarray(self.skeleton, dtype=float) ** math.exp(beta)


@dataclass(frozen=True)
class TiteObservations:
    """Data entering the TITE-CRM likelihood, one entry per patient (enrolment order).

    ``levels`` are 1-based dose levels; ``weights`` are the follow-up weights in [0, 1] (ignored for
    patients with a DLT, who contribute ``p`` as in dfcrm, which sets their weight to 1).
    """

    levels: tuple[int, ...]
    dlt: tuple[bool, ...]
    weights: tuple[float, ...]

    def __post_init__(self) -> None:
        n = len(self.levels)
        if len(self.dlt) != n or len(self.weights) != n:
            raise TrialDesignError(
                f"observations: levels ({n}), dlt ({len(self.dlt)}) and weights ({len(self.weights)}) differ in length"
            )
        for i, (lev, w) in enumerate(zip(self.levels, self.weights), start=1):
            if int(lev) != lev or lev < 1:
                raise TrialDesignError(f"observations: patient {i} dose level {lev!r} is not an integer >= 1")
            if not (0.0 <= w <= 1.0):
                raise TrialDesignError(f"observations: patient {i} weight {w!r} is outside [0, 1]")

    @property
    def n_patients(self) -> int:
        return len(self.levels)

    @classmethod
    def from_sequences(
        cls, levels: Sequence[int], dlt: Sequence[bool | int], weights: Sequence[float]
    ) -> TiteObservations:
        return cls(tuple(int(x) for x in levels), tuple(bool(x) for x in dlt), tuple(float(x) for x in weights))


@dataclass(frozen=True)
class Posterior:
    """Posterior summary of ``beta`` and of the pDLT of each level."""

    method: IntegrationMethod
    mean_beta: float
    variance_beta: float
    mode_beta: float
    #: dfcrm's estimate: ``skeleton ** exp(mean_beta)``.
    pdlt_plugin: tuple[float, ...]
    #: Posterior mean of ``skeleton_k ** exp(beta)``.
    pdlt_posterior_mean: tuple[float, ...]
    #: log of the marginal likelihood ``integral L(beta) prior(beta) dbeta`` (normalised prior).
    log_marginal_likelihood: float


def _check_levels(model: EmpiricModel, obs: TiteObservations) -> None:
    for i, lev in enumerate(obs.levels, start=1):
        if lev > model.n_levels:
            raise TrialDesignError(
                f"observations: patient {i} dose level {lev} exceeds the {model.n_levels} levels of the skeleton"
            )


@dataclass(frozen=True)
class _Kernel:
    """The log posterior in a compact form: DLT patients summed, others grouped by (level, weight)."""

    has_tox: bool
    tox_log_s: float  # sum over DLT patients of log(skeleton of their level)
    notox_log_s: tuple[float, ...]  # per group of patients without DLT
    notox_w: tuple[float, ...]
    notox_count: tuple[int, ...]
    inv_two_var: float

    @classmethod
    def build(cls, model: EmpiricModel, obs: TiteObservations) -> _Kernel:
        _check_levels(model, obs)
        log_s = [math.log(s) for s in model.skeleton]
        tox = 0.0
        groups: dict[tuple[int, float], int] = {}
        for lev, y, w in zip(obs.levels, obs.dlt, obs.weights):
            if y:
                tox += log_s[lev - 1]
            elif w > 0.0:  # a weight of 0 contributes log(1) = 0
                groups[(lev, w)] = groups.get((lev, w), 0) + 1
        keys = sorted(groups)
        return cls(
            has_tox=any(obs.dlt),
            tox_log_s=tox,
            notox_log_s=tuple(log_s[lev - 1] for lev, _ in keys),
            notox_w=tuple(w for _, w in keys),
            notox_count=tuple(groups[k] for k in keys),
            inv_two_var=1.0 / (2.0 * model.prior_variance),
        )

    def log_likelihood(self, beta: NDArray[np.float64]) -> NDArray[np.float64]:
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            # exp(beta) may overflow to inf for huge beta: p = 0 there, which is the right limit.
            u = np.exp(beta)
            value = u * self.tox_log_s if self.has_tox else np.zeros_like(beta)
            if self.notox_count:
                log_p = u[:, None] * np.asarray(self.notox_log_s)[None, :]
                value = value + np.log1p(-np.asarray(self.notox_w) * np.exp(log_p)) @ np.asarray(
                    self.notox_count, dtype=float
                )
        return value

    def log_post(self, beta: NDArray[np.float64]) -> NDArray[np.float64]:
        return self.log_likelihood(beta) - beta * beta * self.inv_two_var

    def log_post_scalar(self, b: float) -> float:
        """Same as :meth:`log_post` for one value, in plain floats (fast inside quad and Brent)."""
        if b > 700.0:  # exp(beta) overflows; p = 0: DLT terms -inf, (1 - w p) = 1
            return -math.inf if self.has_tox else -b * b * self.inv_two_var
        u = math.exp(b)
        value = u * self.tox_log_s - b * b * self.inv_two_var
        for ls, w, c in zip(self.notox_log_s, self.notox_w, self.notox_count):
            wp = w * math.exp(u * ls)
            if wp >= 1.0:  # p -> 1 with a full weight: likelihood 0
                return -math.inf
            value += c * math.log1p(-wp)
        return value

    def curvature(self, b: float) -> float:
        """Second derivative of the log posterior at ``b`` (analytic)."""
        u = math.exp(b)
        value = u * self.tox_log_s - 2.0 * self.inv_two_var
        for ls, w, cnt in zip(self.notox_log_s, self.notox_w, self.notox_count):
            c = u * ls
            p = math.exp(c)
            one_minus = 1.0 - w * p
            value += cnt * (-w * p * c * ((c + 1.0) * one_minus + w * p * c) / (one_minus * one_minus))
        return value


def log_likelihood(beta: NDArray[np.float64] | float, model: EmpiricModel, obs: TiteObservations) -> NDArray[np.float64]:
    """TITE log-likelihood at each value of ``beta`` (vectorised; returns an array of beta's shape)."""
    b = np.atleast_1d(np.asarray(beta, dtype=float))
    return _Kernel.build(model, obs).log_likelihood(b)


def log_posterior_unnormalised(
    beta: NDArray[np.float64] | float, model: EmpiricModel, obs: TiteObservations
) -> NDArray[np.float64]:
    """``log L(beta) - beta^2 / (2 prior_variance)`` (constant of the normal prior dropped)."""
    b = np.atleast_1d(np.asarray(beta, dtype=float))
    return _Kernel.build(model, obs).log_post(b)


def _mode_and_scale(kernel: _Kernel, prior_variance: float) -> tuple[float, float, float]:
    """Posterior mode, Laplace standard deviation and the log posterior at the mode."""
    grid_lp = kernel.log_post(_MODE_GRID)
    i = int(np.argmax(grid_lp))
    lo = float(_MODE_GRID[max(i - 1, 0)])
    hi = float(_MODE_GRID[min(i + 1, len(_MODE_GRID) - 1)])
    res = optimize.minimize_scalar(
        lambda b: -kernel.log_post_scalar(b), bounds=(lo, hi), method="bounded", options={"xatol": 1e-10}
    )
    mode = float(res.x)
    lp_mode = kernel.log_post_scalar(mode)
    curvature = -kernel.curvature(mode)
    if not (math.isfinite(curvature) and curvature > 0.0):
        # Flat or non-concave at the mode: use the prior's spread, always a safe scale.
        scale = math.sqrt(prior_variance)
    else:
        scale = 1.0 / math.sqrt(curvature)
    return mode, scale, lp_mode


def _moments_quad(
    model: EmpiricModel, kernel: _Kernel, mode: float, lp_mode: float
) -> tuple[float, float, float, NDArray[np.float64]]:
    """(Z, E[beta], E[beta^2], E[p_k]) by adaptive quadrature, Z relative to exp(lp_mode)."""

    def density(b: float) -> float:
        return math.exp(kernel.log_post_scalar(b) - lp_mode)

    def both_halves(fun: object) -> float:
        kw = {"limit": 400, "epsabs": 0.0, "epsrel": 1e-12}
        left = integrate.quad(fun, -np.inf, mode, **kw)[0]  # type: ignore[arg-type]
        right = integrate.quad(fun, mode, np.inf, **kw)[0]  # type: ignore[arg-type]
        return float(left + right)

    z = both_halves(density)
    m1 = both_halves(lambda b: b * density(b)) / z
    m2 = both_halves(lambda b: b * b * density(b)) / z
    def power(s: float, b: float) -> float:
        return 0.0 if b > 700.0 else s ** math.exp(b)

    pk = np.array(
        [both_halves(lambda b, s=s: power(s, b) * density(b)) / z for s in model.skeleton],
        dtype=float,
    )
    return z, m1, m2, pk


@functools.lru_cache(maxsize=4)
def _hermite_rule(n_nodes: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Nodes and log(weights) + nodes^2 of the n-point Gauss-Hermite rule (read-only arrays)."""
    x, w = np.polynomial.hermite.hermgauss(n_nodes)
    log_w = np.log(w) + x * x
    x.setflags(write=False)
    log_w.setflags(write=False)
    return x, log_w


def _moments_gauss_hermite(
    model: EmpiricModel, kernel: _Kernel, mode: float, scale: float, lp_mode: float
) -> tuple[float, float, float, NDArray[np.float64]]:
    """(Z, E[beta], E[beta^2], E[p_k]) with a fixed Gauss-Hermite rule centred on the mode."""
    x, log_w = _hermite_rule(GAUSS_HERMITE_NODES)
    beta = mode + math.sqrt(2.0) * scale * x
    # integral f(beta) dbeta = sqrt(2) * scale * sum_i w_i exp(x_i^2) f(beta_i)
    log_terms = log_w + (kernel.log_post(beta) - lp_mode)
    terms = np.exp(log_terms)
    z = math.sqrt(2.0) * scale * float(np.sum(terms))
    probs = terms / np.sum(terms)
    m1 = float(np.sum(probs * beta))
    m2 = float(np.sum(probs * beta * beta))
    with np.errstate(over="ignore"):
        pk = np.asarray(model.skeleton, dtype=float)[None, :] ** np.exp(beta)[:, None]
    return z, m1, m2, probs @ pk


def posterior(
    model: EmpiricModel, obs: TiteObservations, method: IntegrationMethod = IntegrationMethod.QUAD
) -> Posterior:
    """Posterior of ``beta`` given the (weighted) observations, by the chosen integration method."""
    kernel = _Kernel.build(model, obs)
    mode, scale, lp_mode = _mode_and_scale(kernel, model.prior_variance)
    if method is IntegrationMethod.QUAD:
        z, m1, m2, pk = _moments_quad(model, kernel, mode, lp_mode)
    elif method is IntegrationMethod.GAUSS_HERMITE:
        z, m1, m2, pk = _moments_gauss_hermite(model, kernel, mode, scale, lp_mode)
    else:  # pragma: no cover - closed enum
        raise TrialDesignError(f"integration method: unknown {method!r}")
    if not (math.isfinite(z) and z > 0.0 and math.isfinite(m1)):
        raise TrialDesignError(f"posterior: numerical integration ({method.value}) failed (normalising constant {z!r})")
    log_z = lp_mode + math.log(z) - 0.5 * math.log(2.0 * math.pi * model.prior_variance)
    plugin = np.asarray(model.skeleton) ** math.exp(m1)
    return Posterior(
        method=method,
        mean_beta=m1,
        variance_beta=max(m2 - m1 * m1, 0.0),
        mode_beta=mode,
        pdlt_plugin=tuple(float(p) for p in plugin),
        pdlt_posterior_mean=tuple(float(p) for p in pk),
        log_marginal_likelihood=log_z,
    )
