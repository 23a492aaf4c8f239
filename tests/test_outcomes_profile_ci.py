"""Profile-likelihood 95 % CI of the odds ratio per unit (dosimetry.outcomes.logistic) against an
independent brute-force profile: the log-likelihood written out here, the intercept maximised by
scipy's bounded scalar minimiser at every slope of a grid, and the crossing of
``l_max - chi2_1(0.95)/2`` located on the grid and refined on a fine sub-grid by linear
interpolation. Also: agreement with Wald in a large balanced sample, asymmetry with few events,
an unbounded end, and the duality with the likelihood-ratio test."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import optimize, special, stats

from dosimetry.outcomes import ModelFitError, fit_logistic
from dosimetry.outcomes.logistic import CHI2_1_95, MAX_LOG_ODDS_RATIO

CRIT = float(stats.chi2.ppf(0.95, 1))


def _loglik(b0: float, b1: float, x: np.ndarray, y: np.ndarray) -> float:
    eta = b0 + b1 * x
    return float(np.sum(y * special.log_expit(eta) + (1 - y) * special.log_expit(-eta)))


def _profile(b1: float, x: np.ndarray, y: np.ndarray) -> float:
    """max over the log-odds at mean x of the log-likelihood with slope b1 (bounded Brent)."""
    xm = float(x.mean())
    res = optimize.minimize_scalar(
        lambda a: -_loglik(a - b1 * xm, b1, x, y), bounds=(-60.0, 60.0), method="bounded",
        options={"xatol": 1e-11, "maxiter": 2000},
    )
    return -float(res.fun)


def _l_max(x: np.ndarray, y: np.ndarray, b1_start: float) -> float:
    res = optimize.minimize(lambda t: -_profile(t[0], x, y), [b1_start], method="Nelder-Mead",
                            options={"xatol": 1e-10, "fatol": 1e-13})
    return -float(res.fun)


def _crossing(f, a: float, b: float, level: float, coarse: int = 201, fine: int = 201) -> float:
    """Where f (above ``level`` at a, below at b) crosses ``level``: coarse grid, then a fine grid in
    the crossing cell, then linear interpolation."""
    grid = np.linspace(a, b, coarse)
    values = np.array([f(t) for t in grid])
    i = int(np.argmax(values < level))
    assert i > 0, "no crossing on the grid"
    sub = np.linspace(grid[i - 1], grid[i], fine)
    sv = np.array([f(t) for t in sub])
    j = int(np.argmax(sv < level))
    return float(np.interp(level, [sv[j], sv[j - 1]], [sub[j], sub[j - 1]]))


def _brute_force_ci(x: np.ndarray, y: np.ndarray, b1_hat: float, se: float) -> tuple[float, float]:
    l_max = _l_max(x, y, b1_hat)
    level = l_max - CRIT / 2.0
    prof = lambda t: _profile(t, x, y)  # noqa: E731
    upper = _crossing(prof, b1_hat, b1_hat + 10.0 * se, level)
    lower = _crossing(prof, b1_hat, b1_hat - 10.0 * se, level)
    return lower, upper


def _cohort(seed: int, n: int, b0: float, b1: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(60.0, 8.0, n)
    y = (rng.random(n) < special.expit(b0 + b1 * (x - 60.0))).astype(int)
    return x, y


FEW_EVENTS = (np.arange(1.0, 11.0), np.array([0, 0, 0, 0, 0, 0, 0, 1, 0, 1]))


def test_critical_value() -> None:
    assert CHI2_1_95 == pytest.approx(3.841458820694124, abs=1e-12)


@pytest.mark.parametrize(
    "x,y",
    [
        FEW_EVENTS,
        _cohort(7, 20, -1.0, 0.15),
        _cohort(11, 24, 0.0, 0.3),
        (np.array([0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0]), np.array([1, 0, 0, 0, 1, 1, 1, 0, 1])),
    ],
)
def test_root_found_ends_match_the_brute_force_profile(x: np.ndarray, y: np.ndarray) -> None:
    fit = fit_logistic(x, y, name="m")
    lo, hi = fit.slope_profile_ci95
    bf_lo, bf_hi = _brute_force_ci(x, y.astype(float), fit.slope, fit.slope_se)
    assert lo == pytest.approx(bf_lo, abs=1e-4 * max(1.0, fit.slope_se))
    assert hi == pytest.approx(bf_hi, abs=1e-4 * max(1.0, fit.slope_se))
    assert fit.odds_ratio_profile_ci95 == pytest.approx((math.exp(bf_lo), math.exp(bf_hi)), rel=1e-4)


def test_large_balanced_sample_profile_agrees_with_wald() -> None:
    x, y = _cohort(20261126, 2000, -0.3, 0.08)
    assert 0.3 < y.mean() < 0.7
    fit = fit_logistic(x, y, name="big")
    wald, prof = fit.odds_ratio_ci95, fit.odds_ratio_profile_ci95
    assert prof[0] == pytest.approx(wald[0], rel=0.02)
    assert prof[1] == pytest.approx(wald[1], rel=0.02)
    # and on the log scale, relative to the half-width
    half = math.log(wald[1]) - fit.slope
    assert abs(math.log(prof[0]) - math.log(wald[0])) < 0.02 * half
    assert abs(math.log(prof[1]) - math.log(wald[1])) < 0.02 * half


def test_few_events_profile_interval_is_asymmetric_and_differs_from_wald() -> None:
    x, y = FEW_EVENTS
    fit = fit_logistic(x, y, name="few")
    lo, hi = fit.slope_profile_ci95
    # asymmetric about the estimate: much longer on the side away from zero
    assert (hi - fit.slope) > 2.0 * (fit.slope - lo)
    wald_lo, wald_hi = fit.odds_ratio_ci95
    p_lo, p_hi = fit.odds_ratio_profile_ci95
    assert p_hi > 3.0 * wald_hi  # hand-checked: ~61.8 vs ~18.5
    assert p_hi == pytest.approx(61.8, rel=0.01) and wald_hi == pytest.approx(18.5, rel=0.01)
    # the Wald interval contains OR = 1 and the profile one does not, as the LR test says (p < 0.05)
    assert wald_lo < 1.0 < p_lo
    assert fit.lr_p_value < 0.05 < fit.wald_p_value
    # Wald numbers are those of the existing formula
    assert (wald_lo, wald_hi) == (
        math.exp(fit.slope - stats.norm.ppf(0.975) * fit.slope_se),
        math.exp(fit.slope + stats.norm.ppf(0.975) * fit.slope_se),
    )


def test_deviance_at_each_end_is_the_critical_value_and_the_interval_contains_the_mle() -> None:
    for x, y in (FEW_EVENTS, _cohort(3, 30, 0.5, -0.2)):
        yf = y.astype(float)
        fit = fit_logistic(x, y, name="m")
        lo, hi = fit.slope_profile_ci95
        assert lo < fit.slope < hi
        assert fit.odds_ratio_profile_ci95[0] < fit.odds_ratio < fit.odds_ratio_profile_ci95[1]
        l_max = _l_max(x, yf, fit.slope)
        assert fit.log_likelihood == pytest.approx(l_max, abs=1e-9)
        for end in (lo, hi):
            assert 2.0 * (l_max - _profile(end, x, yf)) == pytest.approx(CRIT, abs=1e-6)


def test_unbounded_upper_end_is_reported_as_infinite_with_a_warning() -> None:
    """A metric spanning a tiny fraction of its unit: the Wald interval fits in a double, but the
    profile has not fallen by 3.84 when the log odds ratio reaches 700 per unit."""
    x = np.arange(1.0, 13.0) / 200.0
    y = np.array([0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1])
    fit = fit_logistic(x, y, name="tiny")
    assert abs(fit.slope) + stats.norm.ppf(0.975) * fit.slope_se < MAX_LOG_ODDS_RATIO  # Wald is finite
    assert math.isfinite(fit.odds_ratio_ci95[1])
    lo, hi = fit.slope_profile_ci95
    assert hi == math.inf and math.isfinite(lo)
    assert fit.odds_ratio_profile_ci95[1] == math.inf
    assert fit.profile_ci95_unbounded == (False, True)
    assert len(fit.warnings) == 1 and "upper end" in fit.warnings[0] and "tiny" in fit.warnings[0]
    # independent check: the brute-force profile at slope 700 is still above l_max - 3.84/2
    l_max = _l_max(x, y.astype(float), fit.slope)
    assert 2.0 * (l_max - _profile(MAX_LOG_ODDS_RATIO, x, y.astype(float))) < CRIT
    d = fit.as_dict()
    text = json.dumps(d, allow_nan=False)
    assert json.loads(text)["odds_ratio_profile_ci95"][1] is None
    assert d["profile_ci95_unbounded"] == {"lower": False, "upper": True}
    # the lower end is finite and right
    l_level = l_max - CRIT / 2.0
    bf_lo = _crossing(lambda t: _profile(t, x, y.astype(float)), fit.slope, fit.slope - 10 * fit.slope_se, l_level)
    assert lo == pytest.approx(bf_lo, abs=1e-4 * fit.slope_se)


def test_bounded_fit_has_no_warning_and_finite_json() -> None:
    fit = fit_logistic(*FEW_EVENTS, name="few")
    d = json.loads(json.dumps(fit.as_dict(), allow_nan=False))
    assert d["profile_ci95_unbounded"] == {"lower": False, "upper": False}
    assert d["odds_ratio_profile_ci95"] == list(fit.odds_ratio_profile_ci95)
    assert d["warnings"] == [] and fit.warnings == ()


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(min_value=6, max_value=40),
    seed=st.integers(min_value=0, max_value=2**31 - 1),
    slope=st.floats(min_value=-0.5, max_value=0.5),
)
def test_profile_interval_is_the_inverted_likelihood_ratio_test(n: int, seed: int, slope: float) -> None:
    rng = np.random.default_rng(seed)
    x = np.round(rng.normal(30.0, 6.0, n), 1)
    y = (rng.random(n) < special.expit(slope * (x - 30.0))).astype(int)
    try:
        fit = fit_logistic(x, y, name="h")
    except ModelFitError:
        assume(False)
        return
    lo, hi = fit.slope_profile_ci95
    assert lo < fit.slope < hi
    # duality: slope 0 is outside the profile interval exactly when the LR test rejects at 5 %
    assume(abs(fit.lr_statistic - CRIT) > 1e-6)
    assert (lo > 0.0 or hi < 0.0) == (fit.lr_statistic > CRIT)
    # at every finite end the deviance equals the critical value (independent profile)
    l_max = fit.log_likelihood
    for end in (lo, hi):
        if math.isfinite(end):
            assert 2.0 * (l_max - _profile(end, x, y.astype(float))) == pytest.approx(CRIT, abs=1e-5)


def test_correlate_outputs_carry_the_profile_interval(tmp_path, capsys) -> None:
    """`dosimetry correlate`: the text table, the JSON and the CSV (new columns at the end) give the
    profile interval next to the unchanged Wald one, with the unbounded end said."""
    import csv

    from dosimetry.cli.main import main
    from pipelines.correlate import CSV_COLUMNS
    from pipelines.csv_out import METRICS_COLUMNS

    y = [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1]
    ids = [f"P{i:02d}" for i in range(len(y))]
    out = tmp_path / "out"
    out.mkdir()
    with open(out / "metrics.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(METRICS_COLUMNS)
        for i, pid in enumerate(ids):
            writer.writerow([pid, pid, "PTV", "rbe_weighted", "D50%[Gy]", repr(50.0 + i), "Gy"])
            writer.writerow([pid, pid, "Tiny", "rbe_weighted", "Max[Gy]", repr((i + 1) / 200.0), "Gy"])
    outcomes = tmp_path / "outcomes.csv"
    outcomes.write_text("patient_id,tox\n" + "".join(f"{pid},{v}\n" for pid, v in zip(ids, y)), encoding="utf-8")
    assoc = tmp_path / "assoc.csv"
    code = main(["correlate", "--results", str(out), "--outcomes", str(outcomes), "--endpoint", "tox", "--csv", str(assoc)])
    printed = capsys.readouterr().out
    assert code == 0
    assert "profile 95% CI" in printed and "Wald interval" in printed
    assert "logistic fit notes:" in printed and "upper end" in printed
    ptv = fit_logistic(50.0 + np.arange(12.0), np.array(y), name="ptv")
    tiny = fit_logistic((np.arange(12.0) + 1) / 200.0, np.array(y), name="tiny")
    assert tiny.profile_ci95_unbounded == (False, True) and ptv.profile_ci95_unbounded == (False, False)
    with open(assoc, newline="") as handle:
        header, *rows = list(csv.reader(handle))
    assert tuple(header) == CSV_COLUMNS
    # the profile columns follow the note; the x50 truncation and small-sample flags were appended after them
    assert header[-6:] == ["note", "or_profile_ci95_low", "or_profile_ci95_high", "or_profile_ci95_unbounded",
                           "x50_ci95_truncated", "small_sample"]
    by_roi = {r[1]: dict(zip(header, r)) for r in rows}
    assert float(by_roi["PTV"]["or_profile_ci95_low"]) == ptv.odds_ratio_profile_ci95[0]
    assert float(by_roi["PTV"]["or_profile_ci95_high"]) == ptv.odds_ratio_profile_ci95[1]
    assert float(by_roi["PTV"]["or_ci95_high"]) == ptv.odds_ratio_ci95[1]  # Wald unchanged
    assert by_roi["PTV"]["or_profile_ci95_unbounded"] == "none"
    assert by_roi["Tiny"]["or_profile_ci95_high"] == "inf" and by_roi["Tiny"]["or_profile_ci95_unbounded"] == "upper"

    code = main(["correlate", "--results", str(out), "--outcomes", str(outcomes), "--endpoint", "tox", "--json"])
    data = json.loads(capsys.readouterr().out)
    logistic = {a["roi"]: a["logistic"] for a in data["associations"]}
    assert logistic["PTV"]["odds_ratio_profile_ci95"] == list(ptv.odds_ratio_profile_ci95)
    assert logistic["Tiny"]["odds_ratio_profile_ci95"][1] is None
    assert logistic["Tiny"]["profile_ci95_unbounded"]["upper"] is True
