"""The protocol's safety rules, each shown binding, and the next-dose recommendation."""

from __future__ import annotations

import pytest

from dosimetry.errors import TrialDesignError
from dosimetry.trial.next_dose import SelectionRule, TiteCrmDesign, recommend_next_dose, select_level
from dosimetry.trial.patients_csv import PatientRecord
from dosimetry.trial.rules import (
    EscalationReference,
    RuleName,
    SafetyRules,
    apply_safety_rules,
)

WINDOW = 6.0


def _pts(*rows: tuple[int, float, bool]) -> list[PatientRecord]:
    return [PatientRecord(f"P{i + 1}", lev, fu, dlt) for i, (lev, fu, dlt) in enumerate(rows)]


def _bound(outcomes) -> set[RuleName]:
    return {o.rule for o in outcomes if o.bound}


def test_start_level_binds_for_the_first_patient() -> None:
    level, outcomes = apply_safety_rules(4, [], WINDOW, SafetyRules())
    assert level == 2
    assert _bound(outcomes) == {RuleName.START_LEVEL}


def test_start_level_does_not_bind_when_model_agrees() -> None:
    level, outcomes = apply_safety_rules(2, [], WINDOW, SafetyRules())
    assert level == 2 and _bound(outcomes) == set()


def test_start_cohort_binds_until_four_patients() -> None:
    pts = _pts((2, 6.0, False), (2, 6.0, False), (2, 6.0, False))
    level, outcomes = apply_safety_rules(3, pts, WINDOW, SafetyRules())
    assert level == 2
    assert _bound(outcomes) == {RuleName.START_COHORT}
    # the fourth patient completes the cohort: the rule no longer binds
    level, outcomes = apply_safety_rules(3, pts + _pts((2, 6.0, False)), WINDOW, SafetyRules())
    assert level == 3
    assert RuleName.START_COHORT not in _bound(outcomes)


def test_start_cohort_never_blocks_de_escalation() -> None:
    pts = _pts((2, 1.0, True), (2, 0.5, True))
    level, outcomes = apply_safety_rules(1, pts, WINDOW, SafetyRules())
    assert level == 1
    cohort = next(o for o in outcomes if o.rule is RuleName.START_COHORT)
    assert not cohort.bound and "de-escalation" in cohort.explanation


def test_max_level_binds() -> None:
    pts = _pts(*[(6, 6.0, False)] * 4)
    level, outcomes = apply_safety_rules(7, pts, WINDOW, SafetyRules(max_level=6))
    assert level == 6
    assert _bound(outcomes) == {RuleName.MAX_LEVEL}


def test_no_skipping_binds_relative_to_most_recent_patient() -> None:
    # all completed without DLT, most recent patient at level 2, highest tried 3
    pts = _pts((2, 6, False), (2, 6, False), (2, 6, False), (2, 6, False), (3, 6, False), (2, 6, False))
    level, outcomes = apply_safety_rules(5, pts, WINDOW, SafetyRules())
    assert level == 3
    assert _bound(outcomes) == {RuleName.NO_SKIPPING}
    # measured from the highest level tried, the same data allow level 4
    level, outcomes = apply_safety_rules(
        5, pts, WINDOW, SafetyRules(escalation_reference=EscalationReference.HIGHEST_TRIED)
    )
    assert level == 4
    assert _bound(outcomes) == {RuleName.NO_SKIPPING}


def test_full_window_rule_binds_when_nobody_completed_the_window() -> None:
    pts = _pts((2, 5.9, False), (2, 5.0, False), (2, 4.0, False), (2, 3.0, False))
    level, outcomes = apply_safety_rules(3, pts, WINDOW, SafetyRules())
    assert level == 2
    assert _bound(outcomes) == {RuleName.FULL_WINDOW_BEFORE_ESCALATION}
    fw = next(o for o in outcomes if o.rule is RuleName.FULL_WINDOW_BEFORE_ESCALATION)
    assert "6-month" in fw.explanation


def test_full_window_rule_depends_on_the_window_used() -> None:
    pts = _pts((2, 5.0, False), (2, 5.0, False), (2, 4.0, False), (2, 3.0, False))
    assert apply_safety_rules(3, pts, 6.0, SafetyRules())[0] == 2
    assert apply_safety_rules(3, pts, 4.0, SafetyRules())[0] == 3


def test_full_window_rule_ignores_patients_with_dlt() -> None:
    pts = _pts((2, 6.0, True), (2, 3.0, False), (2, 3.0, False), (2, 3.0, False))
    level, outcomes = apply_safety_rules(3, pts, WINDOW, SafetyRules())
    assert level == 2 and RuleName.FULL_WINDOW_BEFORE_ESCALATION in _bound(outcomes)


def test_full_window_rule_can_be_disabled() -> None:
    pts = _pts((2, 1.0, False), (2, 1.0, False), (2, 1.0, False), (2, 1.0, False))
    rules = SafetyRules(require_full_window_before_escalation=False)
    level, outcomes = apply_safety_rules(3, pts, WINDOW, rules)
    assert level == 3 and _bound(outcomes) == set()


def test_no_rule_binds_on_de_escalation() -> None:
    pts = _pts((3, 6, False), (3, 6, True), (3, 6, True), (3, 1, True), (3, 1, True))
    level, outcomes = apply_safety_rules(1, pts, WINDOW, SafetyRules())
    assert level == 1 and _bound(outcomes) == set()


def test_rules_check_against_skeleton() -> None:
    with pytest.raises(TrialDesignError, match="max_level"):
        TiteCrmDesign(window_months=6, rules=SafetyRules(max_level=7))
    with pytest.raises(TrialDesignError, match="start_level"):
        TiteCrmDesign(window_months=6, rules=SafetyRules(start_level=0))


@pytest.mark.parametrize("window", [0.0, -1.0, float("nan"), float("inf")])
def test_window_is_validated(window: float) -> None:
    with pytest.raises(TrialDesignError, match="window_months"):
        TiteCrmDesign(window_months=window)


def test_window_has_no_default() -> None:
    with pytest.raises(TypeError):
        TiteCrmDesign()  # type: ignore[call-arg]


def test_selection_rules() -> None:
    pdlt = (0.05, 0.12, 0.24, 0.27, 0.40)
    assert select_level(pdlt, 0.25, SelectionRule.CLOSEST_TO_TARGET)[0] == 3
    assert select_level(pdlt, 0.25, SelectionRule.CLOSEST_NOT_ABOVE_TARGET)[0] == 3
    pdlt = (0.05, 0.12, 0.20, 0.26, 0.40)
    assert select_level(pdlt, 0.25, SelectionRule.CLOSEST_TO_TARGET)[0] == 4
    assert select_level(pdlt, 0.25, SelectionRule.CLOSEST_NOT_ABOVE_TARGET)[0] == 3
    level, warnings = select_level((0.3, 0.4), 0.25, SelectionRule.CLOSEST_NOT_ABOVE_TARGET)
    assert level == 1 and warnings and "above the target" in warnings[0]
    # ties go to the lower level, as dfcrm's order()[1]
    assert select_level((0.125, 0.375), 0.25, SelectionRule.CLOSEST_TO_TARGET)[0] == 1


def test_recommendation_first_patient() -> None:
    rec = recommend_next_dose([], TiteCrmDesign(window_months=6))
    assert rec.recommended_level == 2
    assert rec.posterior.mean_beta == pytest.approx(0.0, abs=1e-9)
    assert rec.pdlt == pytest.approx((0.05, 0.10, 0.20, 0.30, 0.40, 0.50), abs=1e-9)
    # prior: 0.20 is the highest level not above 0.25
    assert rec.model_recommended_level == 3
    assert RuleName.START_LEVEL in _bound(rec.rules_applied)


def test_recommendation_reports_model_and_rules() -> None:
    pts = _pts((2, 7, False), (2, 6.5, False), (2, 5, False), (2, 4, False), (3, 2, False))
    rec = recommend_next_dose(pts, TiteCrmDesign(window_months=6))
    assert rec.weights == pytest.approx((1.0, 1.0, 5 / 6, 4 / 6, 2 / 6))
    assert rec.model_recommended_level > 3
    assert rec.recommended_level == 3
    assert _bound(rec.rules_applied) == {RuleName.NO_SKIPPING, RuleName.FULL_WINDOW_BEFORE_ESCALATION}
    d = rec.as_dict()
    for key in ("weights", "posterior_mean_beta", "pdlt", "model_recommended_level", "recommended_level",
                "rules_applied", "window_months", "target", "skeleton", "selection_rule", "pdlt_estimator"):
        assert key in d
    assert d["window_months"] == 6.0


def test_recommendation_refuses_level_beyond_skeleton() -> None:
    pts = [PatientRecord("X", 7, 1.0, False, line_number=3)]
    with pytest.raises(TrialDesignError, match=r"line 3"):
        recommend_next_dose(pts, TiteCrmDesign(window_months=6))


def test_protocol_constants_are_table_1_and_the_statistics_section() -> None:
    """Oracle: the protocol text (Table 1: level k is 2.5 GyE x (20 + k) fractions with initial pDLT
    <5, 10, 20, 30, 40, 50 %, start 2.5 GyE x 22; Statistics: pDLT target 0.25, 4 patients at the
    starting level, stop at 65 GyE)."""
    from dosimetry.trial.constants import PROTOCOL_SKELETON, PROTOCOL_TARGET, PROTOCOL_TOTAL_DOSE_GYE
    from dosimetry.trial.rules import PROTOCOL_MAX_LEVEL, PROTOCOL_START_COHORT_SIZE, PROTOCOL_START_LEVEL

    fractions = range(21, 27)
    assert PROTOCOL_TOTAL_DOSE_GYE == pytest.approx([2.5 * n for n in fractions], abs=1e-12)
    assert len(PROTOCOL_SKELETON) == len(PROTOCOL_TOTAL_DOSE_GYE) == PROTOCOL_MAX_LEVEL == 6
    assert PROTOCOL_SKELETON == pytest.approx([0.05, 0.10, 0.20, 0.30, 0.40, 0.50], abs=1e-12)
    assert PROTOCOL_TOTAL_DOSE_GYE[PROTOCOL_START_LEVEL - 1] == 55.0  # the starting dose, 22 fractions
    assert PROTOCOL_TOTAL_DOSE_GYE[PROTOCOL_MAX_LEVEL - 1] == 65.0
    assert PROTOCOL_TARGET == 0.25 and PROTOCOL_START_COHORT_SIZE == 4
