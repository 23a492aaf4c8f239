"""A'Hern single-stage design: exact tails vs scipy, minimality by brute force, the protocol's numbers."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from dosimetry.errors import TrialDesignError
from dosimetry.trial.phase2 import binomial_upper_tail, check_single_stage, design_single_stage


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 150), data=st.data(), p=st.floats(0.001, 0.999))
def test_upper_tail_matches_scipy(n: int, data: st.DataObject, p: float) -> None:
    r = data.draw(st.integers(0, n + 1))
    expected = float(stats.binom.sf(r - 1, n, p))
    # scipy's tail loses relative precision far out (n=134, r=116, p=2^-9: 4.6998948e-293 where the
    # exact rational sum is 4.6998958e-293, 2e-7 apart), so the oracle is trusted to 1e-9 only above 1e-250
    rel = 1e-9 if expected > 1e-250 else 1e-5
    assert binomial_upper_tail(n, r, p) == pytest.approx(expected, rel=rel, abs=1e-300)


def test_upper_tail_far_out_is_the_exact_rational_sum() -> None:
    """Hand oracle where scipy is 2e-7 off: sum_k C(134, k) p^k (1-p)^(134-k), k >= 116, p = 1/512,
    in exact rational arithmetic (p is a power of 2, so the float argument is exact)."""
    p = Fraction(1, 512)
    exact = sum((math.comb(134, k) * p**k * (1 - p) ** (134 - k) for k in range(116, 135)), Fraction(0))
    assert binomial_upper_tail(134, 116, 0.001953125) == float(exact) == 4.699895835585245e-293


def test_upper_tail_hand_values() -> None:
    assert binomial_upper_tail(3, 2, 0.5) == 0.5  # (3 + 1) / 8
    assert binomial_upper_tail(4, 4, 0.5) == 1 / 16
    assert binomial_upper_tail(5, 0, 0.3) == 1.0
    assert binomial_upper_tail(5, 6, 0.3) == 0.0


def _scipy_design(p0: float, p1: float, alpha: float, power: float) -> tuple[int, int]:
    """Oracle: brute force with scipy, smallest n then smallest r."""
    for n in range(1, 400):
        for r in range(0, n + 1):
            if stats.binom.sf(r - 1, n, p0) <= alpha:
                if stats.binom.sf(r - 1, n, p1) >= power:
                    return n, r
                break
    raise AssertionError("no design")


@pytest.mark.parametrize(
    ("p0", "p1", "alpha", "power"),
    [(0.5, 0.7, 0.05, 0.8), (0.05, 0.20, 0.05, 0.8), (0.1, 0.3, 0.05, 0.9), (0.2, 0.4, 0.1, 0.9), (0.3, 0.5, 0.05, 0.8)],
)
def test_design_matches_brute_force_scipy(p0: float, p1: float, alpha: float, power: float) -> None:
    d = design_single_stage(p0, p1, alpha, power)
    assert (d.n, d.reject_if_at_least) == _scipy_design(p0, p1, alpha, power)
    assert d.alpha == pytest.approx(float(stats.binom.sf(d.reject_if_at_least - 1, d.n, p0)), rel=1e-9)
    assert d.power == pytest.approx(float(stats.binom.sf(d.reject_if_at_least - 1, d.n, p1)), rel=1e-9)
    assert d.alpha <= alpha and d.power >= power


def test_protocol_phase2_numbers() -> None:
    """Protocol: n = 37, reject if >= 23 survivors, alpha 0.05, power 0.8 (p0 0.5, p1 0.7)."""
    d = design_single_stage(0.5, 0.7, 0.05, 0.8)
    assert d.n == 37  # the protocol's sample size agrees
    assert d.reject_if_at_least == 24  # ... but the threshold is 24, not 23
    assert d.alpha == pytest.approx(0.049436, abs=1e-6)
    assert d.power == pytest.approx(0.807096, abs=1e-6)
    c = check_single_stage(37, 23, 0.5, 0.7, 0.05, 0.8)
    assert c.alpha == pytest.approx(0.093871, abs=1e-6)  # exceeds 0.05
    assert c.power == pytest.approx(0.887040, abs=1e-6)
    assert c.meets_alpha is False and c.meets_power is True
    # independent exact sum with math.comb (integers; p = 1/2 is exact)
    assert c.alpha == sum(math.comb(37, k) for k in range(23, 38)) / 2**37


@pytest.mark.parametrize(
    ("args", "pattern"),
    [((0.7, 0.5, 0.05, 0.8), "greater than p0"), ((0.0, 0.5, 0.05, 0.8), "p0"), ((0.2, 0.4, 1.5, 0.8), "alpha"),
     ((0.2, 0.4, 0.05, 0.0), "power")],
)
def test_design_rejects_bad_input(args, pattern: str) -> None:
    with pytest.raises(TrialDesignError, match=pattern):
        design_single_stage(*args)


def test_design_reports_when_n_max_is_too_small() -> None:
    with pytest.raises(TrialDesignError, match="n_max"):
        design_single_stage(0.5, 0.7, 0.05, 0.8, n_max=30)


def test_check_rejects_bad_threshold() -> None:
    with pytest.raises(TrialDesignError, match="reject_if_at_least"):
        check_single_stage(10, 11, 0.2, 0.4)
