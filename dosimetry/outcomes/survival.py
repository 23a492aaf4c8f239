"""Kaplan-Meier estimate of a survival function (e.g. local progression-free survival).

At each distinct event time ``t_j`` with ``d_j`` events among ``n_j`` patients still at risk
(censored at ``t`` means still at risk at ``t``), ``S(t) = prod_{t_j <= t} (1 - d_j / n_j)``.
Greenwood's variance ``Var S(t) = S(t)^2 sum_{t_j <= t} d_j / (n_j (n_j - d_j))`` gives a plain
(linear) 95 % confidence interval, clipped to [0, 1]. Once every patient still at risk has the
event, S drops to 0 and stays there; its Greenwood variance is 0 x infinity there and is reported
as 0 (the estimate sits on the boundary), as in the usual software. Times are in months (or any one unit).

The synthetic cohort's ``outcomes.csv`` records follow-up and whether local progression occurred,
but not when; a progression-free survival curve needs the time of progression (or of last
follow-up without it) per patient.
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
        """Greenwood 95 % confidence interval at each event time, clipped to [0, 1]."""
        return tuple(
            (max(0.0, s - Z_95 * se), min(1.0, s + Z_95 * se)) for s, se in zip(self.survival, self.standard_error)
        )

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
    event_times = np.unique(t[e == 1.0])
    survival, greenwood_sum = 1.0, 0.0
    out_s, out_se, out_n, out_d = [], [], [], []
    for tj in event_times:
        n_j = int(np.sum(t >= tj))
        d_j = int(np.sum((t == tj) & (e == 1.0)))
        survival *= 1.0 - d_j / n_j
        greenwood_sum += d_j / (n_j * (n_j - d_j)) if n_j > d_j else math.inf
        out_s.append(survival)
        out_se.append(survival * math.sqrt(greenwood_sum) if math.isfinite(greenwood_sum) else 0.0)
        out_n.append(n_j)
        out_d.append(d_j)
    return KaplanMeier(
        times=tuple(float(x) for x in event_times),
        at_risk=tuple(out_n),
        events=tuple(out_d),
        survival=tuple(out_s),
        standard_error=tuple(out_se),
        n=int(t.size),
    )
