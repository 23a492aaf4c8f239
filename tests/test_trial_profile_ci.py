"""Profile-likelihood intervals of pDLT per level of the end-of-trial logistic fit
(dosimetry.trial.logistic) against an independent brute-force profile: the weighted likelihood
written out here, the slope maximised at every fixed logit ``eta_k`` by a dense grid refined with
scipy's bounded scalar minimiser, and the crossing of ``l_max - chi2_1(0.95)/2`` located on a grid of
``eta_k`` and refined by linear interpolation on a fine sub-grid. Also: agreement with Wald in a
large sample, asymmetry with few DLTs, unbounded ends with partial weights, and the weights being
used by the profile."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import optimize, special, stats

from dosimetry.cli.main import main
from dosimetry.errors import TrialDesignError
from dosimetry.trial.logistic import PROFILE_LOGIT_SPAN, PROTOCOL_TOTAL_DOSE_GYE, fit_logistic

CRIT = float(stats.chi2.ppf(0.95, 1))
DOSES = np.asarray(PROTOCOL_TOTAL_DOSE_GYE, dtype=float)


def _loglik(eta: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """sum_DLT log p + sum_noDLT log(1 - w p), written independently of the module."""
    p = special.expit(eta)
    with np.errstate(divide="ignore"):
        no_dlt = np.where(w >= 1.0, special.log_expit(-eta), np.log1p(-w * p))
    return np.sum(np.where(y, special.log_expit(eta), no_dlt), axis=-1)


class BruteProfile:
    def __init__(self, levels, dlt, weights=None) -> None:
        self.x = DOSES[np.asarray(levels) - 1]
        self.y = np.asarray(dlt, dtype=bool)
        self.w = np.ones(len(levels)) if weights is None else np.asarray(weights, dtype=float)
        self.b_grid = np.linspace(-4.0, 4.0, 1601)  # per GyE

    def at(self, k: int, eta_k: float) -> float:
        """max over b of the log-likelihood with logit(pDLT at level k) = eta_k."""
        u = self.x - DOSES[k - 1]
        values = _loglik(eta_k + self.b_grid[:, None] * u[None, :], self.y, self.w)
        i = int(np.argmax(values))
        lo, hi = self.b_grid[max(i - 1, 0)], self.b_grid[min(i + 1, self.b_grid.size - 1)]
        res = optimize.minimize_scalar(lambda b: -float(_loglik(eta_k + b * u, self.y, self.w)), bounds=(lo, hi),
                                       method="bounded", options={"xatol": 1e-12, "maxiter": 2000})
        return max(-float(res.fun), float(values[i]))

    def ends(self, k: int, eta_hat: float, l_max: float, reach: float = 25.0) -> tuple[float, float]:
        level = l_max - CRIT / 2.0
        out = []
        for direction in (-1.0, 1.0):
            grid = eta_hat + direction * np.linspace(0.0, reach, 251)
            values = np.array([self.at(k, e) for e in grid])
            i = int(np.argmax(values < level))
            assert i > 0, "no crossing within reach"
            sub = np.linspace(grid[i - 1], grid[i], 201)
            sv = np.array([self.at(k, e) for e in sub])
            j = int(np.argmax(sv < level))
            out.append(float(np.interp(level, [sv[j], sv[j - 1]], [sub[j], sub[j - 1]])))
        return out[0], out[1]


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


FEW_DLT = ([2] * 10 + [4] * 8, [True] + [False] * 9 + [True] * 3 + [False] * 5)
WEIGHTED = ([1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4], [0, 0, 0, 0, 1, 0, 0, 1, 0, 1, 0], [1, 1, 1, 1, 1, 0.3, 1, 1, 0.2, 1, 0.1])
# all non-DLT patients at levels 1-2 are partially followed: pDLT there may go to 1 at little cost
UNBOUNDED = ([4, 1, 2, 3, 4, 4, 4], [1, 0, 0, 1, 1, 0, 0], [1.0, 0.1, 0.5, 1.0, 1.0, 0.5, 1.0])


@pytest.mark.parametrize("case", [FEW_DLT, WEIGHTED])
@pytest.mark.parametrize("k", [1, 2, 4, 6])
def test_root_found_ends_match_the_brute_force_profile(case, k: int) -> None:
    levels, dlt, *rest = case
    weights = rest[0] if rest else None
    fit = fit_logistic(levels, [bool(d) for d in dlt], weights=weights)
    brute = BruteProfile(levels, dlt, weights)
    est = fit.levels[k - 1]
    l_max = brute.at(k, _logit(est.pdlt))
    lo, hi = brute.ends(k, _logit(est.pdlt), l_max)
    assert not (est.profile_lower_unbounded or est.profile_upper_unbounded)
    assert _logit(est.profile_ci_lower) == pytest.approx(lo, abs=1e-4)
    assert _logit(est.profile_ci_upper) == pytest.approx(hi, abs=1e-4)


def test_large_sample_profile_agrees_with_wald() -> None:
    rng = np.random.default_rng(20261126)
    levels = rng.integers(1, 7, 2000)
    dlt = rng.random(2000) < np.array([0.05, 0.1, 0.15, 0.25, 0.35, 0.5])[levels - 1]
    fit = fit_logistic(levels.tolist(), dlt.tolist())
    for est in fit.levels:
        assert est.n_patients > 250
        assert est.profile_ci_lower == pytest.approx(est.ci_lower, rel=0.02)
        assert est.profile_ci_upper == pytest.approx(est.ci_upper, rel=0.02)


def test_few_dlts_profile_interval_is_asymmetric_and_differs_from_wald() -> None:
    levels, dlt = FEW_DLT
    fit = fit_logistic(levels, dlt)
    est = fit.levels[1]  # 1 DLT among 10 at level 2
    eta = _logit(est.pdlt)
    lo, hi = _logit(est.profile_ci_lower), _logit(est.profile_ci_upper)
    assert (eta - lo) > 1.3 * (hi - eta)  # longer towards 0 on the logit scale
    # upper end: profile 0.372 vs Wald 0.467 (the Wald numbers are those of the saturated closed form)
    se = math.sqrt(1.0 / (10 * 0.1 * 0.9))
    z = stats.norm.ppf(0.975)
    assert est.ci_upper == pytest.approx(special.expit(eta + z * se), abs=1e-9)
    assert est.profile_ci_upper == pytest.approx(0.3716, abs=5e-4)
    assert est.ci_upper - est.profile_ci_upper > 0.09


def test_ends_have_the_critical_deviance_and_contain_the_estimate() -> None:
    levels, dlt, weights = WEIGHTED
    fit = fit_logistic(levels, [bool(d) for d in dlt], weights=weights)
    brute = BruteProfile(levels, dlt, weights)
    for est in fit.levels:
        assert est.profile_ci_lower < est.pdlt < est.profile_ci_upper
        l_max = brute.at(est.level, _logit(est.pdlt))
        for end in (est.profile_ci_lower, est.profile_ci_upper):
            assert 2.0 * (l_max - brute.at(est.level, _logit(end))) == pytest.approx(CRIT, abs=1e-6)


def test_profile_uses_the_follow_up_weights() -> None:
    levels, dlt, weights = WEIGHTED
    weighted = fit_logistic(levels, [bool(d) for d in dlt], weights=weights)
    full = fit_logistic(levels, [bool(d) for d in dlt])
    brute_full = BruteProfile(levels, dlt)
    est_w, est_f = weighted.levels[3], full.levels[3]
    assert abs(est_w.profile_ci_lower - est_f.profile_ci_lower) > 0.05
    # the unweighted profile would put the weighted fit's ends elsewhere
    l_max = brute_full.at(4, _logit(est_f.pdlt))
    assert abs(2.0 * (l_max - brute_full.at(4, _logit(est_w.profile_ci_lower))) - CRIT) > 0.5


def test_unbounded_ends_are_flagged_and_reported_as_0_or_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    levels, dlt, weights = UNBOUNDED
    fit = fit_logistic(levels, [bool(d) for d in dlt], weights=weights)
    flags = [(e.profile_lower_unbounded, e.profile_upper_unbounded) for e in fit.levels]
    assert flags == [(False, True), (False, True), (False, True), (False, False), (True, False), (True, False)]
    for est in fit.levels:
        assert est.profile_ci_lower < est.pdlt < est.profile_ci_upper
        assert math.isfinite(est.ci_lower) and 0.0 < est.ci_lower < est.ci_upper < 1.0  # Wald is always bounded
        if est.profile_upper_unbounded:
            assert est.profile_ci_upper == 1.0
        if est.profile_lower_unbounded:
            assert est.profile_ci_lower == 0.0
    assert any("unbounded" in w and "level 1 upper" in w and "level 6 lower" in w for w in fit.warnings)
    # independent check: at the search limit the brute-force profile has not fallen by 3.84/2
    brute = BruteProfile(levels, dlt, weights)
    brute.b_grid = np.linspace(-30.0, 30.0, 6001)
    l_max = brute.at(4, _logit(fit.levels[3].pdlt))
    eta_1 = _logit(fit.levels[0].pdlt)
    assert 2.0 * (l_max - brute.at(1, max(eta_1, 0.0) + PROFILE_LOGIT_SPAN)) < CRIT
    eta_6 = _logit(fit.levels[5].pdlt)
    assert 2.0 * (l_max - brute.at(6, min(eta_6, 0.0) - PROFILE_LOGIT_SPAN)) < CRIT
    # JSON carries the flags
    payload = json.loads(json.dumps(fit.as_dict(), allow_nan=False))
    assert payload["levels"][0]["profile_upper_unbounded"] is True
    assert payload["levels"][0]["profile_ci_upper"] == 1.0
    assert "profile likelihood" in payload["profile_interval_method"]

    # CLI text output marks them
    path = tmp_path / "patients.csv"
    rows = "".join(
        f"P{i},{lev},{6.0 * w:g},{d}\n" for i, (lev, d, w) in enumerate(zip(levels, dlt, weights))
    )
    path.write_text("patient_id,dose_level,followup_months,dlt\n" + rows)
    code = main(["trial", "final-estimate", "--patients", str(path), "--window-months", "6"])
    out = capsys.readouterr().out
    assert code == 0
    assert "profile CI" in out and "1 (unbounded)" in out and "0 (unbounded)" in out


@settings(max_examples=25, deadline=None)
@given(
    levels=st.lists(st.integers(min_value=1, max_value=6), min_size=6, max_size=16),
    seed=st.integers(min_value=0, max_value=2**31 - 1),
)
def test_property_finite_ends_have_the_critical_deviance(levels: list[int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    p = np.array([0.05, 0.1, 0.2, 0.3, 0.45, 0.6])[np.asarray(levels) - 1]
    dlt = (rng.random(len(levels)) < p).tolist()
    weights = [1.0 if d else float(rng.choice([1.0, 1.0, 0.5, 0.25])) for d in dlt]
    try:
        fit = fit_logistic(levels, dlt, weights=weights)
    except TrialDesignError:
        assume(False)
        return
    brute = BruteProfile(levels, dlt, weights)
    brute.b_grid = np.linspace(-12.0, 12.0, 2401)
    k = int(levels[0])
    est = fit.levels[k - 1]
    l_max = brute.at(k, _logit(est.pdlt))
    assert est.profile_ci_lower < est.pdlt < est.profile_ci_upper
    for end, unbounded in ((est.profile_ci_lower, est.profile_lower_unbounded), (est.profile_ci_upper, est.profile_upper_unbounded)):
        if not unbounded and 1e-12 < end < 1.0 - 1e-12:
            assert 2.0 * (l_max - brute.at(k, _logit(end))) == pytest.approx(CRIT, abs=1e-4)


def test_profile_follows_the_confidence_level() -> None:
    levels, dlt = FEW_DLT
    fit90 = fit_logistic(levels, dlt, confidence_level=0.90)
    fit95 = fit_logistic(levels, dlt)
    brute = BruteProfile(levels, dlt)
    crit90 = float(stats.chi2.ppf(0.90, 1))
    est = fit90.levels[3]
    l_max = brute.at(4, _logit(est.pdlt))
    for end in (est.profile_ci_lower, est.profile_ci_upper):
        assert 2.0 * (l_max - brute.at(4, _logit(end))) == pytest.approx(crit90, abs=1e-6)
    assert fit95.levels[3].profile_ci_lower < est.profile_ci_lower < est.profile_ci_upper < fit95.levels[3].profile_ci_upper
    # Wald numbers untouched by the addition
    assert (fit95.levels[3].ci_lower, fit95.levels[3].ci_upper) == pytest.approx((0.12540845310773363, 0.7151500216408215), abs=1e-12)


def test_a_local_maximum_estimate_is_warned_about() -> None:
    """Partial weights: the likelihood's supremum is a step function (slope -> infinity), higher than
    at the Newton estimate; the profile search meets it and says so."""
    levels = [3, 1, 4, 6, 4, 1, 1, 1, 1, 6, 4, 3, 4, 6, 4]
    dlt = [False, False, True, False, False, False, False, False, False, False, False, False, False, False, True]
    w = [1.0, 0.25, 1.0, 0.25, 1.0, 0.5, 0.5, 1.0, 0.25, 0.5, 0.5, 1.0, 1.0, 0.25, 1.0]
    fit = fit_logistic(levels, dlt, weights=w)
    x = DOSES[np.asarray(levels) - 1] - fit.dose_centre_gye
    y, ww = np.asarray(dlt), np.asarray(w)
    at_estimate = float(_loglik(fit.intercept_at_centre + fit.slope_per_gye * x, y, ww))
    a, b = np.meshgrid(np.linspace(-30.0, 30.0, 241), np.linspace(-10.0, 10.0, 241))
    assert float(np.max(_loglik(a[..., None] + b[..., None] * x, y, ww))) > at_estimate + 0.1  # independent
    assert any("only a local maximum" in m for m in fit.warnings)
    for est in fit.levels:
        assert est.profile_ci_lower <= est.pdlt <= est.profile_ci_upper
