"""The library-backed statistics (statsmodels Logit, statsmodels SurvfuncRight, statsmodels
multipletests, scipy mannwhitneyu) agree with the numbers of the hand-written implementations they
replaced.

Oracle: the values below were printed by the hand-written Newton-Raphson logistic fit, Kaplan-Meier
product-limit loop, Holm step-down loop and midrank U statistic (commit e096af2) before they were
replaced; they are an independent implementation of each statistic."""

from __future__ import annotations

import pytest

from dosimetry.outcomes import discrimination, fit_logistic, holm_adjust, kaplan_meier

X = [58.75, 66.92, 63.27, 46.76, 49.0, 66.21, 40.16, 64.64, 63.91, 54.04, 49.09, 48.35, 47.65, 53.35, 55.14, 56.6,
     69.87, 63.78, 58.67, 69.67, 46.46, 44.81, 58.38, 41.32]
Y = [1, 1, 1, 0, 0, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 1, 0]


def test_logistic_fit_agrees_with_the_hand_written_fit() -> None:
    fit = fit_logistic(X, Y, name="x")
    assert fit.intercept == pytest.approx(-39.97589129657706, rel=1e-7)
    assert fit.slope == pytest.approx(0.7512484666005351, rel=1e-7)
    assert fit.covariance[0][0] == pytest.approx(467.69307005495835, rel=1e-6)
    assert fit.covariance[0][1] == pytest.approx(-8.695709711818738, rel=1e-6)
    assert fit.covariance[1][1] == pytest.approx(0.1620683124113177, rel=1e-6)
    assert fit.log_likelihood == pytest.approx(-3.00359839763674, rel=1e-9)
    assert fit.slope_profile_ci95 == pytest.approx((0.27462973274070174, 2.3168792086961636), rel=1e-7)
    assert fit.lr_p_value == pytest.approx(2.510117220227086e-07, rel=1e-6)
    assert fit.wald_p_value == pytest.approx(0.062027597941741175, rel=1e-6)


def test_mann_whitney_agrees() -> None:
    d = discrimination(X, Y)
    assert d.u_statistic == 138.0
    assert d.auc == pytest.approx(0.9857142857142858, rel=1e-12)
    assert d.p_value == pytest.approx(7.73727874954841e-05, rel=1e-9)


def test_kaplan_meier_agrees() -> None:
    t = [3.0, 5.0, 5.0, 7.5, 8.0, 8.0, 10.0, 12.0, 12.0, 15.0, 18.0, 20.0]
    e = [1, 1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0]
    km = kaplan_meier(t, e)
    assert km.times == (3.0, 5.0, 7.5, 8.0, 10.0, 12.0, 18.0)
    assert km.at_risk == (12, 11, 9, 8, 6, 5, 2)
    assert km.events == (1, 1, 1, 1, 1, 1, 1)
    assert km.survival == pytest.approx(
        [0.9166666666666666, 0.8333333333333333, 0.7407407407407406, 0.648148148148148, 0.5401234567901234,
         0.43209876543209874, 0.21604938271604937], rel=1e-12)
    assert km.standard_error == pytest.approx(
        [0.07978559231302818, 0.10758287072798378, 0.12948257384816683, 0.14261129694009775, 0.1544281178217909,
         0.15683818107127162, 0.1717213488370891], rel=1e-9)


def test_holm_agrees() -> None:
    assert holm_adjust([0.01, 0.04, 0.03, 0.005, 0.2, 0.04]) == pytest.approx((0.05, 0.12, 0.12, 0.03, 0.2, 0.12), rel=1e-12)
