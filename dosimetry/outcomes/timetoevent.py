"""Time-to-event analysis by maintained libraries: Kaplan-Meier curves by group with numbers at
risk and the log-rank test (lifelines ``multivariate_logrank_test``), and the Cox proportional
hazards model (lifelines ``CoxPHFitter``) with the proportional-hazards check (lifelines
``proportional_hazard_test``, scaled Schoenfeld residuals against the rank of time).

Hazard ratios and their Wald intervals are exponentiated from the log scale (an interval cannot
leave (0, inf)). Fewer than :data:`EVENTS_PER_PARAMETER_WARNING` events per covariate adds a
small-sample warning; a proportional-hazards test with p < 0.05 adds a warning naming the covariate.
"""

from __future__ import annotations

import logging
import math
import warnings as _warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from dosimetry.errors import ArgumentError, ModelFitError
from dosimetry.outcomes.survival import KaplanMeier, kaplan_meier

logger = logging.getLogger(__name__)

EVENTS_PER_PARAMETER_WARNING = 10
PH_ALPHA = 0.05


def _times_events(times: ArrayLike, events: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(times, dtype=float)
    e = np.asarray(events, dtype=float)
    if t.ndim != 1 or t.shape != e.shape or t.size == 0:
        raise ArgumentError(f"times and events must be non-empty 1-D arrays of equal length, got {t.shape} and {e.shape}")
    if not np.all(np.isfinite(t)) or np.any(t < 0.0):
        raise ArgumentError("times must be finite and >= 0")
    if not np.all((e == 0.0) | (e == 1.0)):
        raise ArgumentError("events must be 0 (censored) or 1 (event)")
    return t, e.astype(int)


@dataclass(frozen=True)
class GroupCurve:
    label: str
    n: int
    events: int
    km: KaplanMeier
    at_risk: tuple[int, ...]


@dataclass(frozen=True)
class GroupComparison:
    """Kaplan-Meier per group, numbers at risk at ``risk_times`` and the log-rank test."""

    groups: tuple[GroupCurve, ...]
    risk_times: tuple[float, ...]
    logrank_statistic: float
    degrees_of_freedom: int
    p_value: float
    warnings: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {
            "groups": [
                {"label": g.label, "n": g.n, "events": g.events, "at_risk": list(g.at_risk),
                 "times": list(g.km.times), "survival": list(g.km.survival), "ci95_loglog": [list(c) for c in g.km.ci95()]}
                for g in self.groups
            ],
            "risk_times": list(self.risk_times),
            "logrank_statistic": self.logrank_statistic,
            "degrees_of_freedom": self.degrees_of_freedom,
            "p_value": self.p_value,
            "warnings": list(self.warnings),
        }


def compare_groups(
    times: ArrayLike, events: ArrayLike, groups: Sequence[str], *, risk_times: Sequence[float] | None = None
) -> GroupComparison:
    """Kaplan-Meier curves of each group and the log-rank test of their equality."""
    from lifelines.statistics import multivariate_logrank_test

    t, e = _times_events(times, events)
    labels = [str(g) for g in groups]
    if len(labels) != t.size:
        raise ArgumentError(f"{len(labels)} group labels for {t.size} patients")
    distinct = sorted(set(labels))
    if len(distinct) < 2:
        raise ModelFitError(f"log-rank test: a single group ({distinct[0] if distinct else 'none'}); nothing to compare")
    if risk_times is None:
        top = float(t.max())
        step = 6.0 if top > 24.0 else 3.0
        risk_times = tuple(float(v) for v in np.arange(0.0, top + 1e-9, step))
    curves = []
    for label in distinct:
        mask = np.array([lab == label for lab in labels])
        km = kaplan_meier(t[mask], e[mask])
        curves.append(GroupCurve(label, int(mask.sum()), int(e[mask].sum()), km, km.at_risk_at(risk_times, t[mask])))
    result = multivariate_logrank_test(t, np.asarray(labels), e)
    warnings = []
    if int(e.sum()) < EVENTS_PER_PARAMETER_WARNING * (len(distinct) - 1):
        warnings.append(f"small sample: {int(e.sum())} events for a {len(distinct) - 1}-df log-rank test; its chi-square p-value is approximate")
    return GroupComparison(
        tuple(curves), tuple(float(v) for v in risk_times), float(result.test_statistic), int(result.degrees_of_freedom),
        float(result.p_value), tuple(warnings),
    )


def split_at_median(values: ArrayLike, name: str) -> tuple[list[str], float]:
    """Two dose groups: ``<= median`` and ``> median`` of ``values`` (labels name the metric)."""
    v = np.asarray(values, dtype=float)
    median = float(np.median(v))
    if not np.any(v > median):
        raise ModelFitError(f"{name}: more than half of the patients share the maximum value {median:g}; no split at the median")
    return [f"{name} <= {median:.4g}" if x <= median else f"{name} > {median:.4g}" for x in v], median


@dataclass(frozen=True)
class HazardRatio:
    name: str
    log_hazard_ratio: float
    standard_error: float
    hazard_ratio: float
    ci95: tuple[float, float]
    p_value: float
    ph_statistic: float
    ph_p_value: float

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "log_hazard_ratio": self.log_hazard_ratio,
            "standard_error": self.standard_error,
            "hazard_ratio": self.hazard_ratio,
            "ci95": list(self.ci95),
            "p_value": self.p_value,
            "proportional_hazards_test": {"statistic": self.ph_statistic, "p_value": self.ph_p_value},
        }


@dataclass(frozen=True)
class CoxModel:
    n: int
    events: int
    terms: tuple[HazardRatio, ...]
    log_likelihood: float
    concordance: float
    warnings: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {
            "model": "Cox proportional hazards (lifelines CoxPHFitter, Efron ties)",
            "n": self.n,
            "events": self.events,
            "log_likelihood": self.log_likelihood,
            "concordance": self.concordance,
            "terms": [t.as_dict() for t in self.terms],
            "ph_test": "scaled Schoenfeld residuals vs rank of time (lifelines proportional_hazard_test)",
            "warnings": list(self.warnings),
        }


def fit_cox(times: ArrayLike, events: ArrayLike, covariates: Mapping[str, ArrayLike]) -> CoxModel:
    """Cox proportional-hazards model of the time to event on ``covariates``, with the PH check."""
    import pandas as pd
    from lifelines import CoxPHFitter
    from lifelines.exceptions import ConvergenceError
    from lifelines.statistics import proportional_hazard_test

    t, e = _times_events(times, events)
    if not covariates:
        raise ArgumentError("Cox model: no covariates given")
    frame = pd.DataFrame({name: np.asarray(values, dtype=float) for name, values in covariates.items()})
    if len(frame) != t.size:
        raise ArgumentError(f"Cox model: {len(frame)} covariate rows for {t.size} patients")
    for name in frame.columns:
        if not np.all(np.isfinite(frame[name].to_numpy())):
            raise ModelFitError(f"Cox model: covariate {name} has non-finite values")
        if np.ptp(frame[name].to_numpy()) == 0.0:
            raise ModelFitError(f"Cox model: covariate {name} is constant")
    events_total = int(e.sum())
    if events_total < 2:
        raise ModelFitError(f"Cox model: {events_total} event(s); at least 2 are needed")
    frame["_time"] = t
    frame["_event"] = e
    fitter = CoxPHFitter()
    with _warnings.catch_warnings(record=True) as caught:
        _warnings.simplefilter("always")
        try:
            fitter.fit(frame, duration_col="_time", event_col="_event")
        except ConvergenceError as exc:
            raise ModelFitError(f"Cox model did not converge (lifelines: {str(exc).splitlines()[0]}); separation or collinearity?") from exc
        ph = proportional_hazard_test(fitter, frame, time_transform="rank")
    warnings = [f"lifelines: {str(w.message).splitlines()[0]}" for w in caught if "convergence" in str(w.message).lower()]
    k = len(covariates)
    if events_total < EVENTS_PER_PARAMETER_WARNING * k:
        warnings.append(
            f"small sample: {events_total} events for {k} covariate(s) ({events_total / k:.1f} per parameter, fewer than "
            f"{EVENTS_PER_PARAMETER_WARNING}); hazard ratios may be biased and intervals approximate"
        )
    summary = fitter.summary
    ph_summary = ph.summary
    terms = []
    for name in covariates:
        coef = float(summary.loc[name, "coef"])
        se = float(summary.loc[name, "se(coef)"])
        ph_stat = float(ph_summary.loc[name, "test_statistic"])
        ph_p = float(ph_summary.loc[name, "p"])
        if ph_p < PH_ALPHA:
            warnings.append(f"proportional-hazards assumption questionable for {name} (Schoenfeld test p = {ph_p:.3g})")
        terms.append(
            HazardRatio(name, coef, se, math.exp(coef), (math.exp(coef - 1.959963984540054 * se), math.exp(coef + 1.959963984540054 * se)),
                        float(summary.loc[name, "p"]), ph_stat, ph_p)
        )
    return CoxModel(t.size, events_total, tuple(terms), float(fitter.log_likelihood_), float(fitter.concordance_index_), tuple(warnings))
