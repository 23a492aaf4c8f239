"""Kaplan-Meier (statsmodels SurvfuncRight) against the textbook 6-MP leukaemia remission data and
scipy.stats.ecdf (linear and log-log intervals)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from dosimetry.errors import ArgumentError
from dosimetry.outcomes.survival import kaplan_meier

# Freireich et al. (1963) 6-MP group, weeks of remission; 0 = censored
SIX_MP_TIMES = [6, 6, 6, 6, 7, 9, 10, 10, 11, 13, 16, 17, 19, 20, 22, 23, 25, 32, 32, 34, 35]
SIX_MP_EVENTS = [1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]


def test_six_mp_textbook_values() -> None:
    km = kaplan_meier(SIX_MP_TIMES, SIX_MP_EVENTS)
    assert km.times == (6, 7, 10, 13, 16, 22, 23)
    assert km.at_risk == (21, 17, 15, 12, 11, 7, 6)
    assert km.events == (3, 1, 1, 1, 1, 1, 1)
    # published: 0.857, 0.807, 0.753, 0.690, 0.627, 0.538, 0.448 (Greenwood SE .076 .087 .096 .107 .114 .128 .135)
    assert km.survival == pytest.approx([0.857, 0.807, 0.753, 0.690, 0.627, 0.538, 0.448], abs=6e-4)
    assert km.standard_error == pytest.approx([0.076, 0.087, 0.096, 0.107, 0.114, 0.128, 0.135], abs=6e-4)
    assert km.survival_at(5.9) == 1.0 and km.survival_at(12) == km.survival[2] and km.survival_at(99) == km.survival[-1]
    assert km.median() == 23.0


@settings(max_examples=40, deadline=None)
@given(
    times=st.lists(st.integers(0, 40), min_size=2, max_size=40),
    flags=st.lists(st.booleans(), min_size=2, max_size=40),
)
def test_matches_scipy_ecdf_with_censoring(times: list[int], flags: list[bool]) -> None:
    n = min(len(times), len(flags))
    t = np.array(times[:n], dtype=float)
    e = np.array(flags[:n], dtype=int)
    if e.sum() == 0:
        e[0] = 1
    km = kaplan_meier(t, e)
    ref = stats.ecdf(stats.CensoredData(uncensored=t[e == 1], right=t[e == 0]))
    assert np.asarray(km.survival) == pytest.approx(ref.sf.evaluate(np.asarray(km.times)), abs=1e-12)
    if km.survival[-1] > 0:
        ci = ref.sf.confidence_interval(0.95, method="linear")
        lo, hi = ci.low.evaluate(np.asarray(km.times)), ci.high.evaluate(np.asarray(km.times))
        ours = np.array(km.ci95_linear())
        finite = np.isfinite(lo) & np.isfinite(hi)
        assert ours[finite, 0] == pytest.approx(np.clip(lo[finite], 0, 1), abs=1e-9)
        assert ours[finite, 1] == pytest.approx(np.clip(hi[finite], 0, 1), abs=1e-9)
        # the log(-log) interval (the default ci95) against scipy's: inside [0, 1] without clipping
        ci = ref.sf.confidence_interval(0.95, method="log-log")
        lo, hi = ci.low.evaluate(np.asarray(km.times)), ci.high.evaluate(np.asarray(km.times))
        ours = np.array(km.ci95())
        finite = np.isfinite(lo) & np.isfinite(hi) & (np.asarray(km.survival) > 0) & (np.asarray(km.survival) < 1)
        assert ours[finite, 0] == pytest.approx(lo[finite], abs=1e-9)
        assert ours[finite, 1] == pytest.approx(hi[finite], abs=1e-9)
        assert np.all((ours >= 0.0) & (ours <= 1.0))


def test_without_censoring_it_is_the_empirical_survival_function() -> None:
    t = np.array([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0])
    km = kaplan_meier(t, np.ones_like(t))
    for tj, s in zip(km.times, km.survival):
        assert s == pytest.approx(np.mean(t > tj))


@pytest.mark.parametrize(
    "times,events,fragment",
    [([], [], "non-empty"), ([1.0, -2.0], [1, 0], ">= 0"), ([1.0, 2.0], [1, 2], r"0 \(censored\)"), ([1.0], [1, 0], "equal length")],
)
def test_bad_input(times: list[float], events: list[int], fragment: str) -> None:
    with pytest.raises(ArgumentError, match=fragment):
        kaplan_meier(times, events)


def test_median_not_reached() -> None:
    with pytest.raises(ArgumentError, match="not reached"):
        kaplan_meier([1.0, 2.0, 3.0, 4.0], [1, 0, 0, 0]).median()
