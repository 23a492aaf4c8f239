"""The one profile-likelihood interval routine, shared by every likelihood fit of the package.

Used by the univariable logistic fit (:mod:`dosimetry.outcomes.logistic`), the LKB NTCP fit
(:mod:`dosimetry.outcomes.lkb_fit`) and the end-of-trial weighted logistic fit
(:mod:`dosimetry.trial.logistic`). Each caller supplies its own profile deviance
``t -> 2 (l_max - l_profile(t))`` (the inner maximisation differs); this module only finds where it
crosses the chi-square critical value.

Why hand-written: statsmodels offers profile likelihood for GLM coefficients of its own models only
(not for a parameter of an arbitrary likelihood such as the LKB model or the trial's
follow-up-weighted likelihood), and lifelines has none; the root search itself is
:func:`scipy.optimize.brentq`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from scipy import optimize, stats

from dosimetry.errors import ArgumentError

#: chi-square (1 degree of freedom) 95 % quantile: the profile deviance at the ends of the 95 % interval
CHI2_1_95 = float(stats.chi2.ppf(0.95, 1))
PROFILE_ROOT_XTOL = 1e-12


def profile_likelihood_ends(
    deviance: Callable[[float], float],
    estimate: float,
    step: float,
    lower_limit: float,
    upper_limit: float,
    critical: float = CHI2_1_95,
    xtol: float = PROFILE_ROOT_XTOL,
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
        if span == 0.0:
            ends.append(direction * math.inf)
            continue
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
        sign = direction

        def excess(d: float, sign: float = sign) -> float:
            return deviance(estimate + sign * d) - critical

        offset = optimize.brentq(excess, inner, outer, xtol=xtol, maxiter=200)
        ends.append(estimate + direction * float(offset))
    return ends[0], ends[1]
