"""Simulation of the design: determinism with a seed and sanity of the averages (small runs)."""

from __future__ import annotations

import pytest

from dosimetry.errors import TrialDesignError
from dosimetry.trial.next_dose import TiteCrmDesign
from dosimetry.trial.simulate import simulate_trials

TRUTH = (0.05, 0.10, 0.20, 0.30, 0.40, 0.50)


def test_same_seed_same_result() -> None:
    design = TiteCrmDesign(window_months=4)
    a = simulate_trials(TRUTH, design, n_patients=12, accrual_per_month=4, runs=25, seed=7)
    b = simulate_trials(TRUTH, design, n_patients=12, accrual_per_month=4, runs=25, seed=7)
    assert a.as_dict() == b.as_dict()
    c = simulate_trials(TRUTH, design, n_patients=12, accrual_per_month=4, runs=25, seed=8)
    assert c.as_dict() != a.as_dict()


def test_averages_are_consistent() -> None:
    res = simulate_trials(TRUTH, TiteCrmDesign(window_months=6), n_patients=15, accrual_per_month=4, runs=50, seed=3)
    assert sum(res.selection_probability) == pytest.approx(1.0)
    assert sum(res.uncapped_selection_probability) == pytest.approx(1.0)
    # the cap at the highest level given only moves selections down
    for k in range(6):
        assert sum(res.selection_probability[k:]) <= sum(res.uncapped_selection_probability[k:]) + 1e-12
    assert sum(res.mean_patients_per_level) == pytest.approx(15.0)
    assert res.mean_total_dlts == pytest.approx(sum(res.mean_dlts_per_level))
    assert all(d <= n for d, n in zip(res.mean_dlts_per_level, res.mean_patients_per_level))
    # the first four patients are always at level 2, so at least 4 per trial there on average
    assert res.mean_patients_per_level[1] >= 4.0
    # nobody skips: with escalation one level at a time from level 2, level 6 needs >= 4 escalations
    assert res.mean_rule_bindings_per_trial["start-level"] == 1.0
    # duration >= arrival of the last patient + window is at least the window
    assert res.mean_duration_months > 6.0
    assert res.true_mtd_level == 3


def test_no_toxicity_scenario_escalates_and_has_no_dlt() -> None:
    res = simulate_trials((0.0,) * 6, TiteCrmDesign(window_months=1), n_patients=20, accrual_per_month=1,
                          runs=5, seed=1)
    assert res.mean_total_dlts == 0.0
    # with a 1-month window and one patient a month, every patient has completed the window when the next
    # arrives on average, so escalation proceeds to level 6
    assert res.mean_patients_per_level[5] > 0.0


def test_certain_toxicity_scenario_selects_level_1() -> None:
    res = simulate_trials((1.0,) * 6, TiteCrmDesign(window_months=4), n_patients=10, accrual_per_month=4,
                          runs=5, seed=2)
    assert res.selection_probability[0] == 1.0
    assert res.mean_total_dlts == 10.0


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [({"true_pdlt": (0.1, 0.2)}, "one per skeleton level"), ({"runs": 0}, "runs"),
     ({"accrual_per_month": 0.0}, "accrual"), ({"n_patients": 0}, "n_patients"),
     ({"true_pdlt": (0.1, 0.2, 0.3, 0.4, 0.5, 1.5)}, "probabilities")],
)
def test_bad_settings(kwargs, pattern: str) -> None:
    args = {"true_pdlt": TRUTH, "runs": 1, "accrual_per_month": 4.0, "n_patients": 5}
    args.update(kwargs)
    truth = args.pop("true_pdlt")
    with pytest.raises(TrialDesignError, match=pattern):
        simulate_trials(truth, TiteCrmDesign(window_months=6), seed=0, **args)
