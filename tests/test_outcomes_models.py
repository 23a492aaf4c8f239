"""Multivariable logistic regression (statsmodels / firthmodels), Kaplan-Meier by group with the
log-rank test and the Cox model (lifelines).

Oracles: Firth's closed form for a binary covariate (the penalised estimate of a 2x2 table adds 1/2
to every cell, Firth 1993); the score equations X'(y - p) = 0 evaluated independently; the Rossi
recidivism data bundled with lifelines against the coefficients published by Fox and Weisberg
(An R Companion to Applied Regression, appendix "Cox Proportional-Hazards Regression"); the
Freireich 6-MP vs placebo remission data against the published log-rank chi-square 16.79
(Kleinbaum and Klein, Survival Analysis, ch. 2)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dosimetry.errors import ArgumentError, ModelFitError
from dosimetry.outcomes.multivariable import LogisticMethod, covariate_column, fit_multivariable_logistic
from dosimetry.outcomes.timetoevent import compare_groups, fit_cox, split_at_median

SIX_MP_TIMES = [6, 6, 6, 6, 7, 9, 10, 10, 11, 13, 16, 17, 19, 20, 22, 23, 25, 32, 32, 34, 35]
SIX_MP_EVENTS = [1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]
PLACEBO_TIMES = [1, 1, 2, 2, 3, 4, 4, 5, 5, 8, 8, 8, 8, 11, 11, 12, 12, 15, 17, 22, 23]


def test_firth_on_a_separated_2x2_table_adds_one_half_to_each_cell() -> None:
    """Oracle: closed form log(((a+.5)(d+.5)) / ((b+.5)(c+.5))) for a binary covariate."""
    x = [0] * 6 + [1] * 5
    y = [0, 0, 0, 0, 0, 0] + [1, 1, 1, 1, 1]  # complete separation: a=5, b=0, c=0, d=6
    fit = fit_multivariable_logistic({"x": x}, y)
    assert fit.method is LogisticMethod.FIRTH and fit.separation
    assert fit.terms[0].log_odds_ratio == pytest.approx(math.log(5.5 * 6.5 / (0.5 * 0.5)), rel=1e-6)
    lo, hi = fit.terms[0].ci95
    assert 0.0 < lo < fit.terms[0].odds_ratio < hi < math.inf
    assert any("separated" in w for w in fit.warnings)


def test_maximum_likelihood_solves_the_score_equations() -> None:
    """Oracle: X'(y - expit(X b)) = 0 at the estimate, evaluated here with numpy."""
    rng = np.random.default_rng(3)
    dose = rng.uniform(40, 70, 120)
    age = rng.uniform(30, 80, 120)
    y = rng.random(120) < 1 / (1 + np.exp(-(-6 + 0.1 * (dose - 40) + 0.03 * age)))
    fit = fit_multivariable_logistic({"dose_gy": dose, "age_years": age}, y)
    assert fit.method is LogisticMethod.MAXIMUM_LIKELIHOOD
    b = np.array([fit.intercept] + [t.log_odds_ratio for t in fit.terms])
    design = np.column_stack([np.ones(120), dose, age])
    score = design.T @ (y - 1 / (1 + np.exp(-design @ b)))
    assert np.max(np.abs(score)) < 1e-6
    for t in fit.terms:
        assert 0.0 < t.ci95[0] < t.odds_ratio < t.ci95[1]


def test_small_sample_warning() -> None:
    """Oracle: the documented rule (< 10 events per parameter)."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=30)
    y = rng.random(30) < 0.3
    y[:2] = [True, False]
    fit = fit_multivariable_logistic({"a": x, "b": rng.normal(size=30)}, y)
    assert any("small sample" in w for w in fit.warnings)


def test_forcing_maximum_likelihood_on_separated_data_is_refused() -> None:
    """Oracle: construction (complete separation has no finite MLE)."""
    with pytest.raises(ModelFitError, match="separated"):
        fit_multivariable_logistic({"x": [1, 2, 3, 4, 5, 6]}, [0, 0, 0, 1, 1, 1], firth=False)


def test_covariate_column_two_levels() -> None:
    """Oracle: the documented encoding (indicator of the alphabetically later level)."""
    values, label = covariate_column(["M", "F", "", "M"], "sex")
    assert label == "sex=M (vs F)"
    assert values[0] == 1.0 and values[1] == 0.0 and math.isnan(values[2])
    with pytest.raises(ArgumentError, match="not a recognised two-level encoding"):
        covariate_column(["a", "b", "c"], "grade")


@pytest.mark.parametrize(
    ("cells", "label", "coded"),
    [
        (["yes", "No", "", "YES"], "chemo=yes (vs No)", [1.0, 0.0, math.nan, 1.0]),
        (["true", "false"], "chemo=true (vs false)", [1.0, 0.0]),
        (["female", "male"], "chemo=male (vs female)", [0.0, 1.0]),
        (["0", "1", ""], "chemo", [0.0, 1.0, math.nan]),
    ],
)
def test_covariate_column_recognised_binary_encodings(cells: list[str], label: str, coded: list[float]) -> None:
    """Oracle: the documented encodings (yes/no, true/false, male/female in any case, 0/1 as numbers), each coded
    by hand: 1 for yes/true/male, an empty cell missing."""
    values, got = covariate_column(cells, "chemo")
    assert got == label
    np.testing.assert_array_equal(values, coded)


@pytest.mark.parametrize(
    ("cells", "match"),
    [
        (["0", "n/a", "1", "0"], "missing-value token.*cell 2 'n/a'"),
        (["0", "n/a", "0"], "missing-value token"),  # the review's case: "0"/"n/a" became a 0/1 covariate
        (["yes", "NA", "no"], "missing-value token.*'NA'"),
        (["61.5", "nan", "70"], "missing-value token.*'nan'"),  # float() reads "nan": no silent NaN either
        (["IMRT", "VMAT"], "not a recognised two-level encoding"),
        (["1", "inf"], "not a finite number"),
    ],
)
def test_covariate_column_refuses_missing_tokens_and_arbitrary_levels(cells: list[str], match: str) -> None:
    """Oracle: the documented rule. Only recognised binary encodings are coded; a missing-value token is an error
    naming the cell (an empty cell is the one way to say missing), never a category of its own: before, "0"/"n/a"
    became the indicator "n/a (vs 0)", i.e. whether the value was recorded."""
    with pytest.raises(ArgumentError, match=match):
        covariate_column(cells, "covariate")


def test_logrank_six_mp_vs_placebo() -> None:
    """Oracle: published log-rank chi-square 16.79 (1 df) for the Freireich data."""
    times = SIX_MP_TIMES + PLACEBO_TIMES
    events = SIX_MP_EVENTS + [1] * 21
    groups = ["6-MP"] * 21 + ["placebo"] * 21
    cmp = compare_groups(times, events, groups, risk_times=[0, 10, 20, 30])
    assert cmp.logrank_statistic == pytest.approx(16.79, abs=0.01)
    assert cmp.degrees_of_freedom == 1 and cmp.p_value < 1e-4
    placebo = next(g for g in cmp.groups if g.label == "placebo")
    assert placebo.at_risk == (21, 8, 2, 0)


def test_cox_rossi_published_coefficients() -> None:
    """Oracle: Fox and Weisberg's published Cox fit of the Rossi data (coef, se), and their
    proportional-hazards diagnostics flagging age and wexp."""
    from lifelines.datasets import load_rossi

    d = load_rossi()
    model = fit_cox(d.week, d.arrest, {c: d[c] for c in ("fin", "age", "race", "wexp", "mar", "paro", "prio")})
    published = {"fin": (-0.379, 0.191), "age": (-0.0574, 0.0220), "race": (0.314, 0.308), "wexp": (-0.150, 0.212),
                 "mar": (-0.434, 0.382), "paro": (-0.0849, 0.196), "prio": (0.0915, 0.0286)}
    for term in model.terms:
        coef, se = published[term.name]
        assert term.log_hazard_ratio == pytest.approx(coef, abs=6e-4 if abs(coef) > 0.1 else 6e-5)
        assert term.standard_error == pytest.approx(se, abs=6e-4 if se > 0.1 else 6e-5)
        assert 0.0 < term.ci95[0] < term.hazard_ratio < term.ci95[1]
    flagged = {t.name for t in model.terms if t.ph_p_value < 0.05}
    assert flagged == {"age", "wexp"}
    assert any("age" in w for w in model.warnings)


def test_split_at_median() -> None:
    """Oracle: by hand."""
    labels, median = split_at_median([1.0, 2.0, 3.0, 4.0], "Dmean")
    assert median == 2.5 and labels == ["Dmean <= 2.5", "Dmean <= 2.5", "Dmean > 2.5", "Dmean > 2.5"]


def test_cox_recovers_the_sample_data_progression_model() -> None:
    """Oracle: the known hazard ratios of the synthetic cohort generator's exponential progression
    model (dosimetry.sampledata.outcomes); each fitted log hazard ratio within 3 SE of the truth, and
    age (no effect in the model) near 0."""
    import datetime as dt

    from dosimetry.sampledata import outcomes as model

    rng = np.random.default_rng(21)
    rows = []
    for i in range(800):
        dose = 2.5 * (21 + i % 6)
        gtv = float(rng.uniform(5.0, 25.0))
        o = model.draw_outcome(seed=9, patient_id=f"P{i}", dose_level=1 + i % 6, fractions=21 + i % 6, total_dose_gye=dose,
                               gtv_volume_cc=gtv, ptv_volume_cc=40.0, treatment_start_date=dt.date(2022, 1, 1),
                               age_years=float(rng.uniform(35, 75)), sex="M")
        rows.append((o.progression_months, o.local_progression, dose, gtv, float(o.concurrent_chemotherapy), o.age_years))
    t, e, dose, gtv, chemo, age = (np.array(c, dtype=float) for c in zip(*rows))
    fit = fit_cox(t, e, {"dose_gye": dose, "gtv_cc": gtv, "chemotherapy": chemo, "age_years": age})
    truth = {"dose_gye": model.PROGRESSION_LOG_HR_PER_GYE, "gtv_cc": model.PROGRESSION_LOG_HR_PER_CC,
             "chemotherapy": model.PROGRESSION_LOG_HR_CHEMOTHERAPY, "age_years": 0.0}
    for term in fit.terms:
        assert abs(term.log_hazard_ratio - truth[term.name]) < 3.0 * term.standard_error, term
    assert np.all(t > 0) and np.all(t <= 48.0)
