"""Dose level for the next patient: TITE-CRM model recommendation plus the protocol's safety rules.

Selection rule of the model level (:class:`SelectionRule`):

* ``closest-not-above-target`` (default, the protocol's wording: "the dose that is estimated to
  have a pDLT closest to but not higher than 0.25") - the highest level whose estimated pDLT is
  <= target; if every level is above the target, level 1 and a warning;
* ``closest-to-target`` (dfcrm's ``recommend``): the level minimising |pDLT - target| (ties go to
  the lower level).

The estimate used for selection is dfcrm's plug-in ``skeleton ** exp(posterior mean of beta)``;
the posterior mean of each level's pDLT is reported alongside.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from dosimetry.errors import TrialDesignError
from dosimetry.trial.constants import SelectionRule  # defined there for the CLI parser; re-exported
from dosimetry.trial.crm_model import (
    PROTOCOL_SKELETON,
    PROTOCOL_TARGET,
    DEFAULT_PRIOR_VARIANCE,
    EmpiricModel,
    IntegrationMethod,
    Posterior,
    TiteObservations,
    posterior,
)
from dosimetry.trial.patients_csv import PatientRecord
from dosimetry.trial.rules import RuleOutcome, SafetyRules, apply_safety_rules
from dosimetry.trial.weights import check_window_months, linear_weights

logger = logging.getLogger(__name__)

PDLT_ESTIMATOR = "plug-in: skeleton ** exp(posterior mean of beta) (as dfcrm's ptox)"


def select_level(pdlt: Sequence[float], target: float, rule: SelectionRule) -> tuple[int, tuple[str, ...]]:
    """1-based level chosen by ``rule`` from the estimated pDLT; returns (level, warnings)."""
    if not pdlt:
        raise TrialDesignError("select_level: empty pDLT vector")
    if rule is SelectionRule.CLOSEST_TO_TARGET:
        distances = [abs(p - target) for p in pdlt]
        return distances.index(min(distances)) + 1, ()
    allowed = [k for k, p in enumerate(pdlt, start=1) if p <= target]
    if not allowed:
        return 1, (
            f"every level has an estimated pDLT above the target {target:g} (lowest level {pdlt[0]:.3f}); "
            "level 1 is returned - consider whether the trial should stop for safety",
        )
    return max(allowed), ()


def check_target(target: float) -> float:
    value = float(target)
    if not (math.isfinite(value) and 0.0 < value < 1.0):
        raise TrialDesignError(f"target: expected a pDLT strictly between 0 and 1, got {target!r}")
    return value


@dataclass(frozen=True)
class TiteCrmDesign:
    """Everything that defines the dose-assignment method (protocol defaults, window required)."""

    window_months: float
    skeleton: tuple[float, ...] = PROTOCOL_SKELETON
    target: float = PROTOCOL_TARGET
    prior_variance: float = DEFAULT_PRIOR_VARIANCE
    selection_rule: SelectionRule = SelectionRule.CLOSEST_NOT_ABOVE_TARGET
    rules: SafetyRules = field(default_factory=SafetyRules)
    integration: IntegrationMethod = IntegrationMethod.QUAD

    def __post_init__(self) -> None:
        object.__setattr__(self, "window_months", check_window_months(self.window_months))
        object.__setattr__(self, "target", check_target(self.target))
        object.__setattr__(self, "skeleton", tuple(float(s) for s in self.skeleton))
        self.rules.check(len(self.skeleton))
        # validates skeleton and prior variance
        self.model  # noqa: B018

    @property
    def model(self) -> EmpiricModel:
        return EmpiricModel(self.skeleton, self.prior_variance)


@dataclass(frozen=True)
class DoseRecommendation:
    """Result of :func:`recommend_next_dose`."""

    design: TiteCrmDesign
    n_patients: int
    weights: tuple[float, ...]
    posterior: Posterior
    #: pDLT per level used for selection (plug-in, see :data:`PDLT_ESTIMATOR`).
    pdlt: tuple[float, ...]
    model_recommended_level: int
    #: dfcrm's choice (closest to target) for comparison, whatever the selection rule.
    closest_to_target_level: int
    recommended_level: int
    rules_applied: tuple[RuleOutcome, ...]
    warnings: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        d = self.design
        return {
            "window_months": d.window_months,
            "target": d.target,
            "skeleton": list(d.skeleton),
            "prior_variance_beta": d.prior_variance,
            "selection_rule": d.selection_rule.value,
            "integration_method": self.posterior.method.value,
            "escalation_reference": d.rules.escalation_reference.value,
            "start_level": d.rules.start_level,
            "start_cohort_size": d.rules.start_cohort_size,
            "max_level": d.rules.max_level,
            "full_window_rule": d.rules.require_full_window_before_escalation,
            "n_patients": self.n_patients,
            "weights": list(self.weights),
            "posterior_mean_beta": self.posterior.mean_beta,
            "posterior_variance_beta": self.posterior.variance_beta,
            "pdlt_estimator": PDLT_ESTIMATOR,
            "pdlt": list(self.pdlt),
            "pdlt_posterior_mean": list(self.posterior.pdlt_posterior_mean),
            "model_recommended_level": self.model_recommended_level,
            "closest_to_target_level": self.closest_to_target_level,
            "recommended_level": self.recommended_level,
            "rules_applied": [r.as_dict() for r in self.rules_applied],
            "rules_bound": [r.rule.value for r in self.rules_applied if r.bound],
            "warnings": list(self.warnings),
        }


def recommend_next_dose(patients: Sequence[PatientRecord], design: TiteCrmDesign) -> DoseRecommendation:
    """TITE-CRM recommendation for the next patient, given all patients enrolled so far (enrolment order)."""
    model = design.model
    for p in patients:
        if p.dose_level > model.n_levels:
            where = f" (line {p.line_number})" if p.line_number else ""
            raise TrialDesignError(
                f"patient {p.patient_id!r}{where}: dose level {p.dose_level} exceeds the {model.n_levels} levels of the skeleton"
            )
    weights = linear_weights([p.followup_months for p in patients], [p.dlt for p in patients], design.window_months)
    obs = TiteObservations(
        tuple(p.dose_level for p in patients), tuple(p.dlt for p in patients), weights
    )
    post = posterior(model, obs, design.integration)
    pdlt = post.pdlt_plugin
    model_level, warnings = select_level(pdlt, design.target, design.selection_rule)
    closest, _ = select_level(pdlt, design.target, SelectionRule.CLOSEST_TO_TARGET)
    level, outcomes = apply_safety_rules(model_level, patients, design.window_months, design.rules)
    logger.info(
        "TITE-CRM: %d patients, posterior mean beta %.4f, model level %d, recommended level %d",
        len(patients), post.mean_beta, model_level, level,
    )
    return DoseRecommendation(
        design=design,
        n_patients=len(patients),
        weights=weights,
        posterior=post,
        pdlt=pdlt,
        model_recommended_level=model_level,
        closest_to_target_level=closest,
        recommended_level=level,
        rules_applied=outcomes,
        warnings=warnings,
    )
