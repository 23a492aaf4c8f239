"""Discrimination of a binary endpoint by one metric: ROC AUC and the Mann-Whitney U test.

``AUC = U1 / (n1 n0)`` where ``U1`` is the Mann-Whitney statistic (:func:`scipy.stats.mannwhitneyu`'s
``statistic``, the U of its first sample) of the events' values against the
non-events' (midranks for ties): the probability that a random event has a higher metric value
than a random non-event, ties counting one half. AUC > 0.5 means higher values go with the event.
The two-sided p-value is :func:`scipy.stats.mannwhitneyu`'s (exact without ties for small
samples, else the normal approximation with tie and continuity corrections).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from dosimetry.errors import ModelFitError
from dosimetry.outcomes.logistic import is_constant


@dataclass(frozen=True)
class Discrimination:
    name: str
    n_events: int
    n_non_events: int
    u_statistic: float
    auc: float
    p_value: float

    def as_dict(self) -> dict[str, object]:
        return {
            "n_events": self.n_events,
            "n_non_events": self.n_non_events,
            "mann_whitney_u": self.u_statistic,
            "auc": self.auc,
            "mann_whitney_p_value": self.p_value,
        }


def _split(x: ArrayLike, y: ArrayLike, name: str) -> tuple[np.ndarray, np.ndarray]:
    xa = np.asarray(x, dtype=float)
    ya = np.asarray(y)
    if xa.ndim != 1 or xa.shape != ya.shape:
        raise ModelFitError(f"metric {name}: expected two 1-D arrays of equal length, got shapes {xa.shape} and {ya.shape}")
    if not np.all(np.isfinite(xa)):
        raise ModelFitError(f"metric {name}: non-finite metric values")
    yb = ya.astype(float)
    if not np.all((yb == 0.0) | (yb == 1.0)):
        raise ModelFitError(f"metric {name}: the endpoint must be 0/1 (or boolean)")
    x1, x0 = xa[yb == 1.0], xa[yb == 0.0]
    if x1.size == 0 or x0.size == 0:
        raise ModelFitError(f"metric {name}: {'no events' if x1.size == 0 else 'only events'} among {xa.size} patients; AUC undefined")
    return x1, x0


def mann_whitney_u(x: ArrayLike, y: ArrayLike, *, name: str = "x") -> float:
    """U statistic of the events' values (midranks): ``R1 - n1 (n1 + 1) / 2``."""
    x1, x0 = _split(x, y, name)
    return float(stats.mannwhitneyu(x1, x0, alternative="two-sided").statistic)


def roc_auc(x: ArrayLike, y: ArrayLike, *, name: str = "x") -> float:
    """Area under the ROC curve of ``x`` for the endpoint ``y`` (ties count one half)."""
    x1, x0 = _split(x, y, name)
    return mann_whitney_u(x, y, name=name) / (x1.size * x0.size)


def discrimination(x: ArrayLike, y: ArrayLike, *, name: str = "x") -> Discrimination:
    """AUC and the two-sided Mann-Whitney test of ``x`` between events and non-events."""
    x1, x0 = _split(x, y, name)
    if is_constant(np.concatenate([x1, x0])):
        raise ModelFitError(
            f"metric {name}: constant ({x1[0]:.6g}) across the {x1.size + x0.size} patients"
        )
    result = stats.mannwhitneyu(x1, x0, alternative="two-sided")
    u = float(result.statistic)
    return Discrimination(
        name=name,
        n_events=int(x1.size),
        n_non_events=int(x0.size),
        u_statistic=u,
        auc=u / (x1.size * x0.size),
        p_value=float(result.pvalue),
    )
