"""Kaplan-Meier estimate of a survival function (e.g. local progression-free survival).

At each distinct event time ``t_j`` with ``d_j`` events among ``n_j`` patients still at risk
(censored at ``t`` means still at risk at ``t``), ``S(t) = prod_{t_j <= t} (1 - d_j / n_j)``.
Greenwood's variance ``Var S(t) = S(t)^2 sum_{t_j <= t} d_j / (n_j (n_j - d_j))``. Computed by
statsmodels' ``SurvfuncRight`` (until e096af2 a hand-written product-limit loop; the agreement
test keeps its numbers). The 95 % interval :meth:`KaplanMeier.ci95` is the log(-log) transformed
("exponential Greenwood", Kalbfleisch-Prentice) interval, which cannot leave (0, 1) - lifelines'
default, against which it is tested; :meth:`KaplanMeier.ci95_linear` is the plain linear interval,
which can and is therefore clipped to [0, 1] (the clipping is flagged by
:meth:`KaplanMeier.ci95_linear_clipped`). Once every patient still at risk has the
event, S drops to 0 and stays there; its Greenwood variance is 0 x infinity there and is reported
as 0 (the estimate sits on the boundary), as in the usual software. Times are in months (or any one unit).

The synthetic cohort's ``outcomes.csv`` records the time to local progression or to last follow-up
(``progression_months``) and the event flag (``local_progression``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from dosimetry.errors import ArgumentError
from dosimetry.outcomes.logistic import Z_95


@dataclass(frozen=True)
class KaplanMeier:
    """The step function at its event times: ``survival[i]`` holds from ``times[i]`` on."""

    times: tuple[float, ...]
    at_risk: tuple[int, ...]
    events: tuple[int, ...]
    survival: tuple[float, ...]
    standard_error: tuple[float, ...]
    n: int

    def survival_at(self, t: float) -> float:
        """S(t): 1 before the first event time."""
        index = int(np.searchsorted(np.asarray(self.times), t, side="right")) - 1
        return 1.0 if index < 0 else self.survival[index]

    def ci95(self) -> tuple[tuple[float, float], ...]:
        """log(-log) 95 % confidence interval at each event time (inside [0, 1] by construction):
        ``S^exp(+-z se / (S |log S|))``; at S = 1 or S = 0 the interval is the point itself."""
        out = []
        for s, se in zip(self.survival, self.standard_error):
            if s <= 0.0 or s >= 1.0:
                out.append((s, s))
                continue
            half = Z_95 * se / (s * abs(math.log(s)))
            out.append((s ** math.exp(half), s ** math.exp(-half)))
        return tuple(out)

    def ci95_linear(self) -> tuple[tuple[float, float], ...]:
        """Plain Greenwood 95 % interval ``S +- z se``, clipped to [0, 1] (see :meth:`ci95_linear_clipped`)."""
        return tuple(
            (max(0.0, s - Z_95 * se), min(1.0, s + Z_95 * se)) for s, se in zip(self.survival, self.standard_error)
        )

    def ci95_linear_clipped(self) -> tuple[bool, ...]:
        """True at the event times where the linear interval left [0, 1] and was clipped."""
        return tuple(s - Z_95 * se < 0.0 or s + Z_95 * se > 1.0 for s, se in zip(self.survival, self.standard_error))

    def at_risk_at(self, times: ArrayLike, follow_up: ArrayLike) -> tuple[int, ...]:
        """Numbers at risk at ``times`` given every patient's time ``follow_up`` (event or censoring):
        the patients whose time is >= each of ``times``."""
        t = np.asarray(follow_up, dtype=float)
        return tuple(int(np.sum(t >= float(x))) for x in np.atleast_1d(np.asarray(times, dtype=float)))

    def median(self) -> float:
        """Smallest event time with S(t) <= 0.5; raises when the curve stays above 0.5."""
        for t, s in zip(self.times, self.survival):
            if s <= 0.5:
                return t
        raise ArgumentError(
            f"the median survival is not reached: S stays at {self.survival[-1] if self.survival else 1.0:.3f} "
            f"or above after the last event time"
        )


def kaplan_meier(times: ArrayLike, events: ArrayLike) -> KaplanMeier:
    """Kaplan-Meier estimate from per-patient times (>= 0) and event flags (1 = event, 0 = censored)."""
    t = np.asarray(times, dtype=float)
    e_raw = np.asarray(events)
    if t.ndim != 1 or t.shape != e_raw.shape or t.size == 0:
        raise ArgumentError(f"times and events must be non-empty 1-D arrays of equal length, got shapes {t.shape} and {e_raw.shape}")
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        raise ArgumentError("times must be finite and >= 0")
    e = e_raw.astype(float)
    if not np.all((e == 0.0) | (e == 1.0)):
        raise ArgumentError("events must be 0 (censored) or 1 (event)")
    if not np.any(e == 1.0):
        return KaplanMeier(times=(), at_risk=(), events=(), survival=(), standard_error=(), n=int(t.size))
    from statsmodels.duration.survfunc import SurvfuncRight

    fitted = SurvfuncRight(t, e)
    se = np.asarray(fitted.surv_prob_se, dtype=float)
    survival = np.asarray(fitted.surv_prob, dtype=float)
    # Greenwood's variance at S = 0 is 0 x infinity; reported as 0 (the estimate sits on the boundary)
    se = np.where((survival == 0.0) | ~np.isfinite(se), 0.0, se)
    return KaplanMeier(
        times=tuple(float(v) for v in fitted.surv_times),
        at_risk=tuple(int(v) for v in fitted.n_risk),
        events=tuple(int(v) for v in fitted.n_events),
        survival=tuple(float(v) for v in survival),
        standard_error=tuple(float(v) for v in se),
        n=int(t.size),
    )
