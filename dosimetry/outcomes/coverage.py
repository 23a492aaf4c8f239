"""Coverage of the LKB fit's profile-likelihood intervals over repeated simulated cohorts.

For ``cohorts`` independent cohorts drawn by :func:`dosimetry.outcomes.simulate.simulate_lkb_cohort`
from the true parameters, the model is fitted (no bootstrap) and each free parameter's 95 %
profile interval is checked for containing the truth. An unbounded end (``None``) extends to
infinity on that side (it covers there) and is counted separately; a cohort the fit refuses
(too few events, separation) is counted as refused and left out of the coverage denominator.
The Monte-Carlo standard error of a coverage ``c`` over ``k`` fitted cohorts is ``sqrt(c (1-c) / k)``.
When every cohort is refused the coverage is not evaluable: :class:`~dosimetry.errors.ModelFitError`
("not evaluable: all N cohorts refused", with the first refusal's reason), never a NaN coverage.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from dosimetry.errors import ArgumentError, ModelFitError
from dosimetry.outcomes.lkb_fit import LkbParameter, fit_lkb
from dosimetry.outcomes.simulate import simulate_lkb_cohort


@dataclass(frozen=True)
class ParameterCoverage:
    parameter: LkbParameter
    true_value: float
    fitted: int
    covered: int
    unbounded: int
    median_estimate: float

    def _require_fitted(self) -> None:
        if self.fitted < 1:
            raise ModelFitError(f"coverage of {self.parameter.value}: not evaluable, no cohort was fitted")

    @property
    def coverage(self) -> float:
        self._require_fitted()
        return self.covered / self.fitted

    @property
    def monte_carlo_se(self) -> float:
        c = self.coverage
        return math.sqrt(c * (1.0 - c) / self.fitted)


@dataclass(frozen=True)
class CoverageStudy:
    cohorts: int
    patients: int
    refused: int
    mean_events: float
    parameters: tuple[ParameterCoverage, ...]


def coverage_study(
    *, cohorts: int, patients: int, td50_gy: float, m: float, n: float, seed: int, fixed: Mapping[LkbParameter, float] | None = None
) -> CoverageStudy:
    """Fit ``cohorts`` simulated cohorts and count how often each 95 % profile interval covers the truth."""
    if cohorts < 1:
        raise ArgumentError(f"coverage study: cohorts must be >= 1, got {cohorts}")
    truth = {LkbParameter.TD50: td50_gy, LkbParameter.M: m, LkbParameter.N: n}
    fixed = dict(fixed or {})
    free = [p for p in LkbParameter if p not in fixed]
    covered = dict.fromkeys(free, 0)
    unbounded = dict.fromkeys(free, 0)
    estimates: dict[LkbParameter, list[float]] = {p: [] for p in free}
    refused = 0
    first_refusal = ""
    events = []
    for k in range(cohorts):
        cohort = simulate_lkb_cohort(patients, td50_gy=td50_gy, m=m, n=n, seed=seed + k)
        events.append(sum(cohort.outcome))
        try:
            fit = fit_lkb(cohort.organs, cohort.outcome, fixed=fixed, bootstrap=0)
        except ModelFitError as exc:
            refused += 1
            first_refusal = first_refusal or str(exc)
            continue
        by = {LkbParameter.TD50: fit.td50, LkbParameter.M: fit.m, LkbParameter.N: fit.n}
        for p in free:
            lo, hi = by[p].profile_ci95
            estimates[p].append(by[p].estimate)
            if lo is None or hi is None:
                unbounded[p] += 1
            if (lo is None or lo <= truth[p]) and (hi is None or truth[p] <= hi):
                covered[p] += 1
    fitted = cohorts - refused
    if fitted == 0:
        raise ModelFitError(
            f"coverage study not evaluable: all {cohorts} cohorts refused ({patients} patients each; first: {first_refusal})"
        )
    return CoverageStudy(
        cohorts=cohorts,
        patients=patients,
        refused=refused,
        mean_events=float(np.mean(events)),
        parameters=tuple(
            ParameterCoverage(p, truth[p], fitted, covered[p], unbounded[p], float(np.median(estimates[p])))
            for p in free
        ),
    )
