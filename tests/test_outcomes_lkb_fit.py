"""LKB NTCP model fitted by maximum likelihood (dosimetry.outcomes.lkb_fit).

Oracles: a brute-force likelihood grid built from the scalar evaluation functions of
dosimetry.constraints.ntcp (geud_gy per patient, lkb_ntcp per patient; no probit reparametrisation,
no Newton), statsmodels' Probit for the inner fit, and synthetic cohorts drawn from known parameters.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from dosimetry.constraints.ntcp import geud_gy, lkb_ntcp
from dosimetry.constraints.samples import OrganDoseBins
from dosimetry.errors import ModelFitError
from dosimetry.outcomes.lkb_fit import LkbParameter, _probit_max, fit_lkb
from dosimetry.outcomes.profile import CHI2_1_95
from dosimetry.outcomes.simulate import simulate_lkb_cohort

TRUE = {"td50_gy": 55.0, "m": 0.2, "n": 0.25}


def brute_loglik(organs: tuple[OrganDoseBins, ...], y: np.ndarray, td50: np.ndarray, m: np.ndarray, n: float) -> np.ndarray:
    """Log-likelihood on a (TD50, m) grid at one n, patient by patient from the scalar LKB functions."""
    out = np.zeros((td50.size, m.size))
    for organ, event in zip(organs, y):
        g = geud_gy(organ, n)
        p = np.array([[lkb_ntcp(g, t, mm) for mm in m] for t in td50])
        p = np.clip(p, 1e-300, 1.0 - 1e-16)
        out += np.log(p) if event else np.log1p(-p)
    return out


@pytest.fixture(scope="module")
def cohort():
    return simulate_lkb_cohort(80, seed=11, **TRUE)


def test_inner_probit_matches_statsmodels(cohort) -> None:
    """Oracle: statsmodels Probit on the same gEUDs."""
    import statsmodels.api as sm

    g = np.array([geud_gy(o, 0.25) for o in cohort.organs])
    y = np.array(cohort.outcome)
    beta, ll, separated = _probit_max(np.column_stack([np.ones_like(g), g]), np.zeros_like(g), y)
    reference = sm.Probit(y.astype(float), sm.add_constant(g)).fit(disp=0, tol=1e-12)
    assert not separated
    np.testing.assert_allclose(beta, reference.params, rtol=1e-6)
    assert ll == pytest.approx(reference.llf, abs=1e-8)


def test_mle_with_fixed_n_matches_brute_force_grid(cohort) -> None:
    """Oracle: brute-force (TD50, m) grid of the LKB log-likelihood; the MLE's log-likelihood is at
    least the grid maximum and the estimate lies within one grid step of the grid's argmax."""
    y = np.array(cohort.outcome)
    fit = fit_lkb(cohort.organs, y, fixed={LkbParameter.N: 0.25}, bootstrap=0)
    td50 = np.linspace(40.0, 75.0, 71)
    m = np.linspace(0.08, 0.45, 75)
    grid = brute_loglik(cohort.organs, y, td50, m, 0.25)
    i, j = np.unravel_index(np.argmax(grid), grid.shape)
    assert fit.log_likelihood >= grid.max() - 1e-9
    assert fit.log_likelihood - grid.max() < 0.05
    assert abs(fit.td50.estimate - td50[i]) <= 0.5 + 1e-9
    assert abs(fit.m.estimate - m[j]) <= 0.005 + 1e-9


def test_profile_interval_of_td50_matches_brute_force(cohort) -> None:
    """Oracle: the brute-force profile (max over an m grid at each TD50 of a fine grid, n fixed);
    the set {deviance <= 3.84} on the grid starts and ends within one TD50 step of the reported ends."""
    y = np.array(cohort.outcome)
    fit = fit_lkb(cohort.organs, y, fixed={LkbParameter.N: 0.25}, bootstrap=0)
    lo, hi = fit.td50.profile_ci95
    assert lo is not None and hi is not None
    td50 = np.linspace(lo - 3.0, hi + 3.0, 121)
    m = np.exp(np.linspace(math.log(0.05), math.log(1.0), 300))
    profile = brute_loglik(cohort.organs, y, td50, m, 0.25).max(axis=1)
    inside = td50[2.0 * (fit.log_likelihood - profile) <= CHI2_1_95]
    step = td50[1] - td50[0]
    assert abs(inside.min() - lo) <= step
    assert abs(inside.max() - hi) <= step


def test_three_parameter_fit_matches_brute_force_grid(cohort) -> None:
    """Oracle: brute-force grid over (n, TD50, m); the fitted log-likelihood is at least the grid's."""
    y = np.array(cohort.outcome)
    fit = fit_lkb(cohort.organs, y, bootstrap=0)
    td50 = np.linspace(40.0, 80.0, 41)
    m = np.linspace(0.08, 0.5, 43)
    best = max(brute_loglik(cohort.organs, y, td50, m, n).max() for n in (0.05, 0.1, 0.15, 0.2, 0.25, 0.35, 0.5, 0.75, 1.0))
    assert fit.log_likelihood >= best - 1e-9
    assert fit.free_parameters == 3


def test_recovers_true_parameters_on_a_large_cohort() -> None:
    """Oracle: the known parameters of the simulated cohort lie inside the profile-likelihood intervals.
    (One draw: any seed misses one of three 95 % intervals with probability ~14 %; seed 6 is one that
    covers - the seed 5 cohort misses n narrowly. Coverage over many cohorts is tested in
    test_outcomes_coverage.py.)"""
    cohort = simulate_lkb_cohort(400, seed=6, **TRUE)
    fit = fit_lkb(cohort.organs, cohort.outcome, bootstrap=30, seed=1)
    for estimate, truth in ((fit.td50, 55.0), (fit.m, 0.2), (fit.n, 0.25)):
        lo, hi = estimate.profile_ci95
        assert lo is not None and hi is not None and lo <= truth <= hi, (estimate.parameter, lo, hi)
        assert lo < estimate.estimate < hi
        assert estimate.bootstrap_ci95 is not None
    assert fit.td50.estimate == pytest.approx(55.0, rel=0.1)
    assert fit.auc > 0.7
    assert fit.calibration.hl_p_value is not None and fit.calibration.hl_p_value > 0.01
    assert not any("small sample" in w for w in fit.warnings)


def test_too_few_events_refused_with_reason() -> None:
    """Oracle: the documented rule (2 events and 2 non-events per free parameter)."""
    cohort = simulate_lkb_cohort(30, seed=2, **TRUE)
    y = np.zeros(30, dtype=bool)
    y[:5] = True
    with pytest.raises(ModelFitError, match=r"5 event\(s\).*at least 6"):
        fit_lkb(cohort.organs, y, bootstrap=0)


def test_separation_refused() -> None:
    """Oracle: construction - events exactly the patients with the highest mean dose and uniform
    organ doses (gEUD = that dose at every n), so every n separates."""
    organs = tuple(OrganDoseBins.uniform(d, 10.0) for d in np.linspace(20.0, 70.0, 20))
    y = np.arange(20) >= 12
    with pytest.raises(ModelFitError, match="separates"):
        fit_lkb(organs, y, bootstrap=0)


def test_n_not_identifiable_with_uniform_organ_doses() -> None:
    """Oracle: analytic - with a uniform dose in each organ gEUD equals that dose for every n, so the
    likelihood is flat in n: n must be reported as not identifiable (no interval), TD50 and m still."""
    rng = np.random.default_rng(4)
    doses = rng.uniform(30.0, 80.0, 60)
    organs = tuple(OrganDoseBins.uniform(float(d), 10.0) for d in doses)
    y = rng.random(60) < np.array([lkb_ntcp(float(d), 55.0, 0.2) for d in doses])
    fit = fit_lkb(organs, y, bootstrap=0)
    assert fit.n.profile_ci95 == (None, None)
    assert not fit.n.identifiable
    assert any("n is not identifiable" in w for w in fit.warnings)
    assert fit.td50.identifiable and None not in fit.td50.profile_ci95


def test_small_sample_warning_in_output() -> None:
    """Oracle: the documented rule (< 10 events per free parameter)."""
    cohort = simulate_lkb_cohort(40, seed=8, **TRUE)
    fit = fit_lkb(cohort.organs, cohort.outcome, fixed={LkbParameter.N: 0.25}, bootstrap=0)
    assert any("small sample" in w for w in fit.warnings)
    assert any("small sample" in w for w in fit.as_dict()["warnings"])  # type: ignore[union-attr]
