"""gEUD and LKB NTCP against hand-computed values and analytic limits."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dosimetry.constraints.ntcp import NTCP_FLAG_THRESHOLD, evaluate_ntcp, geud_gy, lkb_ntcp
from dosimetry.constraints.samples import OrganDoseBins
from dosimetry.constraints.tables import Organ, load_burman
from dosimetry.errors import ConstraintError


def _phi(t: float) -> float:
    return 0.5 * (1.0 + math.erf(t / math.sqrt(2.0)))


@pytest.mark.parametrize("params", load_burman().entries, ids=lambda p: p.key)
def test_ntcp_at_td50_uniform_is_half(params) -> None:
    samples = OrganDoseBins.uniform(params.td50_gy, 12.0)
    result = evaluate_ntcp(samples, params)
    assert result.geud_gy == pytest.approx(params.td50_gy, rel=1e-12)
    assert result.ntcp == pytest.approx(0.5, abs=1e-12)
    assert result.flagged


@pytest.mark.parametrize("dose", [0.5, 17.0, 65.0])
@pytest.mark.parametrize("n", [0.01, 0.16, 1.0, 2.0])
def test_geud_of_uniform_dose_is_the_dose(dose: float, n: float) -> None:
    samples = OrganDoseBins(np.full(7, dose), np.array([0.1, 0.2, 0.3, 1.0, 2.0, 0.05, 4.0]))
    assert geud_gy(samples, n) == pytest.approx(dose, rel=1e-12)


def test_geud_n1_is_mean_and_small_n_tends_to_max() -> None:
    dose = np.array([10.0, 20.0, 60.0, 35.0])
    volume = np.array([1.0, 2.0, 0.5, 1.5])
    samples = OrganDoseBins(dose, volume)
    assert geud_gy(samples, 1.0) == pytest.approx(np.sum(dose * volume) / volume.sum(), rel=1e-12)
    # n -> 0: only the hottest sample survives, gEUD = D_max * v_max^n -> D_max (v_max = 0.1 here)
    assert geud_gy(samples, 1e-3) == pytest.approx(60.0 * 0.1**1e-3, rel=1e-12)
    assert geud_gy(samples, 1e-7) == pytest.approx(60.0, rel=1e-6)
    # Hand computation for n = 0.5: (sum v_i D_i^2)^0.5
    expected = math.sqrt((1.0 * 100 + 2.0 * 400 + 0.5 * 3600 + 1.5 * 1225) / 5.0)
    assert geud_gy(samples, 0.5) == pytest.approx(expected, rel=1e-12)


def test_lkb_hand_values() -> None:
    parotid = load_burman().for_endpoint(Organ.PAROTID, "xerostomia")
    assert parotid is not None
    # Uniform 26 Gy mean to a parotid: t = (26 - 46) / (0.18 * 46)
    t = (26.0 - 46.0) / (0.18 * 46.0)
    result = evaluate_ntcp(OrganDoseBins.uniform(26.0, 20.0), parotid)
    assert result.ntcp == pytest.approx(_phi(t), rel=1e-9)
    assert result.ntcp == pytest.approx(0.00786, abs=5e-5)
    assert not result.flagged
    # One slope unit above TD50: Phi(1)
    assert lkb_ntcp(46.0 * 1.18, 46.0, 0.18) == pytest.approx(0.841344746, abs=1e-9)


def test_flag_threshold_is_five_percent() -> None:
    lens = load_burman().for_endpoint(Organ.LENS, "cataract")
    assert lens is not None
    # The uniform dose where NTCP = 5 %: TD50 (1 + m * Phi^-1(0.05))
    d5 = lens.td50_gy * (1.0 + lens.m * -1.6448536269514722)
    assert NTCP_FLAG_THRESHOLD == 0.05
    assert not evaluate_ntcp(OrganDoseBins.uniform(d5 - 0.05, 0.2), lens).flagged
    assert evaluate_ntcp(OrganDoseBins.uniform(d5 + 0.05, 0.2), lens).flagged


def test_bad_parameters_raise() -> None:
    samples = OrganDoseBins.uniform(10.0, 1.0)
    with pytest.raises(ConstraintError):
        geud_gy(samples, 0.0)
    with pytest.raises(ConstraintError):
        lkb_ntcp(10.0, 0.0, 0.1)


@pytest.mark.parametrize(
    ("geud", "td50", "m"),
    [
        (10.0, 46.0, 0.0),  # m <= 0
        (10.0, 46.0, -0.18),
        (10.0, 46.0, math.inf),  # gave a plausible 0.5 (t = -0)
        (50.0, math.inf, 0.18),  # gave nan
        (10.0, 46.0, math.nan),
        (math.nan, 46.0, 0.18),  # gave nan
        (math.inf, 46.0, 0.18),  # gave 1.0
        (-5.0, 46.0, 0.18),  # a gEUD is never negative
    ],
)
def test_lkb_refuses_non_finite_or_out_of_range_inputs(geud: float, td50: float, m: float) -> None:
    with pytest.raises(ConstraintError, match="LKB"):
        lkb_ntcp(geud, td50, m)


doses = st.lists(st.floats(0.0, 100.0), min_size=1, max_size=30)


@settings(max_examples=60, deadline=None)
@given(doses, st.floats(0.02, 1.0), st.floats(0.02, 1.0))
def test_geud_bounded_and_monotone_in_n(values: list[float], n1: float, n2: float) -> None:
    dose = np.array(values)
    volume = np.linspace(1.0, 2.0, dose.size)
    samples = OrganDoseBins(dose, volume)
    lo, hi = sorted((n1, n2))
    g_lo, g_hi = geud_gy(samples, lo), geud_gy(samples, hi)
    tol = 1e-9 * max(1.0, samples.max_gy)
    assert samples.mean_gy - tol <= g_hi <= g_lo + tol <= samples.max_gy + 2 * tol  # power means order
    assert 0.0 <= lkb_ntcp(g_lo, 60.0, 0.15) <= 1.0
