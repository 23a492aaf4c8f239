"""The protocol's safety rules applied on top of the TITE-CRM model recommendation.

Protocol ("Statistics", phase I trial), with the names used in outputs:

* ``start-level`` - the first patient receives the starting level (level 2, 2.5 GyE x 22).
* ``start-cohort`` - "Four patients will be entered to the starting dose level": while fewer than
  4 patients are enrolled the next one receives the starting level.
* ``max-level`` - never above level 6 (65 GyE): "until ... 65 GyE is reached".
* ``no-skipping`` - "Dose escalation is restricted to one level between any 2 patients": the next
  level is at most one above the reference level. The reference is, by default, the level of the
  most recent patient (the protocol's wording, rows of the CSV are taken in enrolment order);
  :attr:`EscalationReference.HIGHEST_TRIED` uses the highest level tried so far (dfcrm-style
  "no skipping" restriction, less strict).
* ``full-window-before-escalation`` - "Prior to escalation, at least 1 patient must have completed
  ... the full observation period at the previous dose level without a DLT": a level k above the
  reference level is allowed only if at least one patient at level k - 1 has follow-up >= the
  observation window and no DLT; otherwise the level is lowered until this holds or the reference
  level is reached.

Safety rules only ever restrict escalation: a model recommendation *below* the starting level
during the start cohort is followed (a DLT in the first patients must be able to de-escalate);
this is stated in the ``start-cohort`` explanation when it happens.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from dosimetry.errors import TrialDesignError
from dosimetry.trial.patients_csv import PatientRecord
from dosimetry.trial.weights import check_window_months

PROTOCOL_START_LEVEL = 2
PROTOCOL_START_COHORT_SIZE = 4
PROTOCOL_MAX_LEVEL = 6


class RuleName(enum.Enum):
    START_LEVEL = "start-level"
    START_COHORT = "start-cohort"
    MAX_LEVEL = "max-level"
    NO_SKIPPING = "no-skipping"
    FULL_WINDOW_BEFORE_ESCALATION = "full-window-before-escalation"


class EscalationReference(enum.Enum):
    """Level that escalation is measured from."""

    MOST_RECENT_PATIENT = "most-recent-patient"
    HIGHEST_TRIED = "highest-tried"


@dataclass(frozen=True)
class SafetyRules:
    """Parameters of the safety rules (protocol values by default)."""

    start_level: int = PROTOCOL_START_LEVEL
    start_cohort_size: int = PROTOCOL_START_COHORT_SIZE
    max_level: int = PROTOCOL_MAX_LEVEL
    max_escalation_step: int = 1
    escalation_reference: EscalationReference = EscalationReference.MOST_RECENT_PATIENT
    require_full_window_before_escalation: bool = True

    def check(self, n_levels: int) -> None:
        """Raise :class:`TrialDesignError` when the rules do not fit a model with ``n_levels`` levels."""
        if not 1 <= self.max_level <= n_levels:
            raise TrialDesignError(f"max_level: expected 1..{n_levels} (levels of the skeleton), got {self.max_level}")
        if not 1 <= self.start_level <= self.max_level:
            raise TrialDesignError(f"start_level: expected 1..{self.max_level} (max_level), got {self.start_level}")
        if self.start_cohort_size < 1:
            raise TrialDesignError(f"start_cohort_size: expected >= 1, got {self.start_cohort_size}")
        if self.max_escalation_step < 1:
            raise TrialDesignError(f"max_escalation_step: expected >= 1, got {self.max_escalation_step}")


@dataclass(frozen=True)
class RuleOutcome:
    """One rule as evaluated for one recommendation; ``bound`` tells whether it changed the level."""

    rule: RuleName
    bound: bool
    level_before: int
    level_after: int
    explanation: str

    def as_dict(self) -> dict[str, object]:
        return {
            "rule": self.rule.value,
            "bound": self.bound,
            "level_before": self.level_before,
            "level_after": self.level_after,
            "explanation": self.explanation,
        }


def completed_without_dlt(patient: PatientRecord, window_months: float) -> bool:
    """True when the patient has been followed for the full window and had no DLT."""
    return (not patient.dlt) and patient.followup_months >= window_months


def apply_safety_rules(
    candidate_level: int,
    patients: Sequence[PatientRecord],
    window_months: float,
    rules: SafetyRules,
) -> tuple[int, tuple[RuleOutcome, ...]]:
    """Apply the rules in order to the model's level; returns the final level and every rule's outcome."""
    window = check_window_months(window_months)
    level = int(candidate_level)
    outcomes: list[RuleOutcome] = []
    n = len(patients)

    def record(rule: RuleName, new_level: int, why_bound: str, why_not: str) -> None:
        nonlocal level
        bound = new_level != level
        outcomes.append(RuleOutcome(rule, bound, level, new_level, why_bound if bound else why_not))
        level = new_level

    # start-level: the first patient always gets the starting level.
    if n == 0:
        record(
            RuleName.START_LEVEL,
            rules.start_level,
            f"no patient enrolled yet: the first patient receives the starting level {rules.start_level} "
            f"(model level {level})",
            f"no patient enrolled yet: the model level equals the starting level {rules.start_level}",
        )
    # start-cohort: the first `start_cohort_size` patients receive the starting level.
    elif n < rules.start_cohort_size:
        if level < rules.start_level:
            record(
                RuleName.START_COHORT,
                level,
                "",
                f"{n} of the {rules.start_cohort_size} start-cohort patients enrolled, but the model recommends "
                f"de-escalation to level {level}, below the starting level {rules.start_level}; safety rules never "
                "block de-escalation",
            )
        else:
            record(
                RuleName.START_COHORT,
                rules.start_level,
                f"only {n} patient(s) enrolled: the first {rules.start_cohort_size} receive the starting level "
                f"{rules.start_level}",
                f"only {n} patient(s) enrolled and the model level equals the starting level {rules.start_level}",
            )
    else:
        outcomes.append(
            RuleOutcome(
                RuleName.START_COHORT,
                False,
                level,
                level,
                f"{n} patients enrolled: the start cohort of {rules.start_cohort_size} is complete",
            )
        )

    # max-level
    record(
        RuleName.MAX_LEVEL,
        min(level, rules.max_level),
        f"level capped at the highest allowed level {rules.max_level}",
        f"level {level} is within the highest allowed level {rules.max_level}",
    )

    if n == 0:
        return level, tuple(outcomes)

    if rules.escalation_reference is EscalationReference.MOST_RECENT_PATIENT:
        reference = patients[-1].dose_level
        ref_text = f"level {reference} of the most recent patient ({patients[-1].patient_id})"
    else:
        reference = max(p.dose_level for p in patients)
        ref_text = f"the highest level tried so far ({reference})"

    # no-skipping
    ceiling = reference + rules.max_escalation_step
    record(
        RuleName.NO_SKIPPING,
        min(level, ceiling),
        f"escalation limited to {rules.max_escalation_step} level(s) above {ref_text}: level {ceiling}",
        f"level {level} is at most {rules.max_escalation_step} level(s) above {ref_text}",
    )

    # full-window-before-escalation
    if rules.require_full_window_before_escalation:
        new_level = level
        while new_level > reference and not any(
            p.dose_level == new_level - 1 and completed_without_dlt(p, window) for p in patients
        ):
            new_level -= 1
        record(
            RuleName.FULL_WINDOW_BEFORE_ESCALATION,
            new_level,
            f"escalation to level {level} needs at least one patient at level {level - 1} who completed the full "
            f"{window:g}-month observation window without DLT; none has, so the level is held at {new_level}",
            (
                f"level {level} is not an escalation above {ref_text}"
                if level <= reference
                else f"at least one patient at level {level - 1} completed the full {window:g}-month window without DLT"
            ),
        )
    return level, tuple(outcomes)
