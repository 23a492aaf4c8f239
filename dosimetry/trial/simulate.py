"""Operating characteristics of the TITE-CRM design with the protocol's safety rules, by simulation.

Each simulated trial:

* patients arrive as a Poisson process: the first at month 0, then exponential gaps with mean
  ``1 / accrual_per_month`` months;
* each arriving patient gets the level recommended by :func:`recommend_next_dose` from the data
  available at that moment (DLTs already seen, follow-up so far, capped at the window), safety
  rules included;
* the patient has a DLT with the true probability of that level; the time of a DLT is uniform over
  the observation window (dfcrm's ``titesim`` convention), and the DLT is known from then on;
* after the last patient, when everyone has completed the window, the MTD is the model's choice
  (same selection rule) from the complete data, capped at ``max_level`` and at the highest level
  actually given (a level no patient received is never declared the MTD);
* trial duration = time from the first arrival to the end of the last patient's observation
  (the last DLT time or window end).

The posterior is integrated with the fixed Gauss-Hermite rule (shown equal to adaptive quadrature to
1e-6 in the tests) for speed. Results are deterministic for a given seed (``numpy`` ``Generator``,
draws in a fixed order: inter-arrival time, DLT indicator, DLT time per patient).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from dosimetry.errors import TrialDesignError
from dosimetry.trial.crm_model import IntegrationMethod, TiteObservations, posterior
from dosimetry.trial.next_dose import TiteCrmDesign, recommend_next_dose, select_level
from dosimetry.trial.patients_csv import PatientRecord
from dosimetry.trial.rules import RuleName

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SimulationResult:
    """Averages over ``runs`` simulated trials."""

    true_pdlt: tuple[float, ...]
    n_patients: int
    accrual_per_month: float
    runs: int
    seed: int
    design: TiteCrmDesign
    #: level chosen by the selection rule from the true pDLT (the "correct" MTD).
    true_mtd_level: int
    selection_probability: tuple[float, ...]
    #: the model's choice from the complete data without the cap at the highest level given.
    uncapped_selection_probability: tuple[float, ...]
    mean_patients_per_level: tuple[float, ...]
    mean_dlts_per_level: tuple[float, ...]
    mean_total_dlts: float
    mean_duration_months: float
    sd_duration_months: float
    #: mean number of patient assignments per trial in which each safety rule bound.
    mean_rule_bindings_per_trial: dict[str, float]

    def as_dict(self) -> dict[str, object]:
        d = self.design
        return {
            "true_pdlt": list(self.true_pdlt),
            "n_patients": self.n_patients,
            "accrual_per_month": self.accrual_per_month,
            "runs": self.runs,
            "seed": self.seed,
            "window_months": d.window_months,
            "skeleton": list(d.skeleton),
            "target": d.target,
            "selection_rule": d.selection_rule.value,
            "escalation_reference": d.rules.escalation_reference.value,
            "true_mtd_level": self.true_mtd_level,
            "selection_probability": list(self.selection_probability),
            "uncapped_selection_probability": list(self.uncapped_selection_probability),
            "mean_patients_per_level": list(self.mean_patients_per_level),
            "mean_dlts_per_level": list(self.mean_dlts_per_level),
            "mean_total_dlts": self.mean_total_dlts,
            "mean_duration_months": self.mean_duration_months,
            "sd_duration_months": self.sd_duration_months,
            "mean_rule_bindings_per_trial": dict(self.mean_rule_bindings_per_trial),
        }


def _observed_at(
    time: float, arrivals: Sequence[float], levels: Sequence[int], dlt: Sequence[bool], t_dlt: Sequence[float],
    window: float,
) -> list[PatientRecord]:
    records = []
    for j, (t0, lev, y, td) in enumerate(zip(arrivals, levels, dlt, t_dlt)):
        elapsed = time - t0
        seen = bool(y) and td <= elapsed
        records.append(PatientRecord(f"sim{j + 1}", lev, min(elapsed, window), seen))
    return records


def simulate_trials(
    true_pdlt: Sequence[float],
    design: TiteCrmDesign,
    *,
    n_patients: int = 25,
    accrual_per_month: float = 4.0,
    runs: int = 1000,
    seed: int = 0,
) -> SimulationResult:
    """Simulate ``runs`` trials of ``n_patients`` under the true pDLT scenario."""
    truth = tuple(float(p) for p in true_pdlt)
    k_levels = len(design.skeleton)
    if len(truth) != k_levels:
        raise TrialDesignError(f"true_pdlt: expected {k_levels} values (one per skeleton level), got {len(truth)}")
    if any(not (0.0 <= p <= 1.0) for p in truth):
        raise TrialDesignError(f"true_pdlt: expected probabilities in [0, 1], got {list(truth)}")
    if n_patients < 1:
        raise TrialDesignError(f"n_patients: expected >= 1, got {n_patients}")
    if not (math.isfinite(accrual_per_month) and accrual_per_month > 0.0):
        raise TrialDesignError(f"accrual_per_month: expected a positive rate, got {accrual_per_month!r}")
    if runs < 1:
        raise TrialDesignError(f"runs: expected >= 1, got {runs}")

    sim_design = replace(design, integration=IntegrationMethod.GAUSS_HERMITE)
    window = sim_design.window_months
    rng = np.random.default_rng(seed)
    selected = np.zeros(k_levels)
    selected_uncapped = np.zeros(k_levels)
    patients_per_level = np.zeros(k_levels)
    dlts_per_level = np.zeros(k_levels)
    durations = np.zeros(runs)
    bindings = {r.value: 0 for r in RuleName}

    for run in range(runs):
        arrivals: list[float] = []
        levels: list[int] = []
        dlt: list[bool] = []
        t_dlt: list[float] = []
        t = 0.0
        for i in range(n_patients):
            if i > 0:
                t += float(rng.exponential(1.0 / accrual_per_month))
            rec = recommend_next_dose(_observed_at(t, arrivals, levels, dlt, t_dlt, window), sim_design)
            for outcome in rec.rules_applied:
                if outcome.bound:
                    bindings[outcome.rule.value] += 1
            level = rec.recommended_level
            y = bool(rng.random() < truth[level - 1])
            td = float(rng.uniform(0.0, window)) if y else math.inf
            arrivals.append(t)
            levels.append(level)
            dlt.append(y)
            t_dlt.append(td)
        obs = TiteObservations(tuple(levels), tuple(dlt), tuple(1.0 for _ in levels))
        post = posterior(sim_design.model, obs, IntegrationMethod.GAUSS_HERMITE)
        mtd, _ = select_level(post.pdlt_plugin, sim_design.target, sim_design.selection_rule)
        selected_uncapped[min(mtd, sim_design.rules.max_level) - 1] += 1
        mtd = min(mtd, sim_design.rules.max_level, max(levels))
        selected[mtd - 1] += 1
        for lev, y in zip(levels, dlt):
            patients_per_level[lev - 1] += 1
            dlts_per_level[lev - 1] += y
        durations[run] = max(a + (td if y else window) for a, y, td in zip(arrivals, dlt, t_dlt))
        logger.debug("simulated trial %d: levels %s, MTD %d", run + 1, levels, mtd)

    true_mtd, _ = select_level(truth, sim_design.target, sim_design.selection_rule)
    return SimulationResult(
        true_pdlt=truth,
        n_patients=n_patients,
        accrual_per_month=float(accrual_per_month),
        runs=runs,
        seed=seed,
        design=design,
        true_mtd_level=true_mtd,
        selection_probability=tuple(float(v) for v in selected / runs),
        uncapped_selection_probability=tuple(float(v) for v in selected_uncapped / runs),
        mean_patients_per_level=tuple(float(v) for v in patients_per_level / runs),
        mean_dlts_per_level=tuple(float(v) for v in dlts_per_level / runs),
        mean_total_dlts=float(dlts_per_level.sum() / runs),
        mean_duration_months=float(durations.mean()),
        sd_duration_months=float(durations.std(ddof=1)) if runs > 1 else 0.0,
        mean_rule_bindings_per_trial={k: v / runs for k, v in bindings.items()},
    )
