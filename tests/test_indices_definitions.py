"""Index formulas against hand-computed values, published worked examples and invariants."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dosimetry.errors import ArgumentError, MetricError
from dosimetry.indices.definitions import (
    CTV_COVERAGE_RULE,
    PTV_COVERAGE_RULE,
    CoverageRule,
    CoverageStatus,
    IndexValue,
    check_coverage,
    gradient_index,
    icru83_homogeneity_index,
    lomax_scheib_index,
    paddick_conformity_index,
    rtog_conformity_index,
    rtog_homogeneity_index,
    target_coverage,
    vant_riet_conformation_number,
)


def test_hand_computed_conformity() -> None:
    # TV 10 cc, PIV 12 cc, overlap 9 cc.
    assert rtog_conformity_index(10.0, 12.0).require() == pytest.approx(1.2)
    assert paddick_conformity_index(10.0, 12.0, 9.0).require() == pytest.approx(81.0 / 120.0)
    assert vant_riet_conformation_number(10.0, 12.0, 9.0).require() == pytest.approx(0.9 * 0.75)
    assert lomax_scheib_index(12.0, 9.0).require() == pytest.approx(0.75)
    assert target_coverage(10.0, 9.0).require() == pytest.approx(0.9)


def test_paddick_2000_figure_example() -> None:
    # Paddick (2000) fig. 1 style: an isodose volume equal in size to the target (RTOG CI = 1)
    # but displaced so that only half of each overlaps: Paddick CI = 0.5^2 / 1 = 0.25.
    assert rtog_conformity_index(4.0, 4.0).require() == 1.0
    assert paddick_conformity_index(4.0, 4.0, 2.0).require() == pytest.approx(0.25)
    # No overlap at all: RTOG CI still 1, Paddick 0.
    assert paddick_conformity_index(4.0, 4.0, 0.0).require() == 0.0


def test_gradient_index_paddick_lippitz() -> None:
    assert gradient_index(2.0, 6.0).require() == pytest.approx(3.0)
    assert gradient_index(2.0, 6.0).name == "gradient_index"
    other = gradient_index(2.0, 3.0, low_fraction=0.8)
    assert other.name == "gradient_index_80"
    assert other.require() == pytest.approx(1.5)
    assert "80 %" in other.definition


def test_homogeneity() -> None:
    assert icru83_homogeneity_index(58.0, 52.0, 55.0).require() == pytest.approx(6.0 / 55.0)
    assert rtog_homogeneity_index(60.5, 55.0).require() == pytest.approx(1.1)


def test_every_index_carries_definition_and_reference() -> None:
    values = [
        rtog_conformity_index(1, 1),
        paddick_conformity_index(1, 1, 1),
        vant_riet_conformation_number(1, 1, 1),
        lomax_scheib_index(1, 1),
        target_coverage(1, 1),
        gradient_index(1, 2),
        icru83_homogeneity_index(1, 1, 1),
        rtog_homogeneity_index(1, 1),
    ]
    years = ["1993", "2000", "1997", "2003", "1997", "2006", "ICRU", "1993"]
    for value, year in zip(values, years, strict=True):
        assert value.definition and year in value.reference
    assert "Paddick" in values[2].definition  # van't Riet CN says it equals the Paddick CI


# --- degenerate cases ----------------------------------------------------------------------------


def test_no_isodose_volume_makes_ratios_over_piv_undefined() -> None:
    paddick = paddick_conformity_index(10.0, 0.0, 0.0)
    assert paddick.value is None and "PIV is 0" in (paddick.undefined_reason or "")
    assert not vant_riet_conformation_number(10.0, 0.0, 0.0).is_defined
    assert not lomax_scheib_index(0.0, 0.0).is_defined
    assert not gradient_index(0.0, 5.0).is_defined
    with pytest.raises(MetricError, match="PIV is 0"):
        paddick.require()
    # PIV/TV = 0/10 is a genuine 0, and so is the coverage.
    assert rtog_conformity_index(10.0, 0.0).require() == 0.0
    assert target_coverage(10.0, 0.0).require() == 0.0


def test_empty_target_makes_ratios_over_tv_undefined() -> None:
    for value in (
        rtog_conformity_index(0.0, 3.0),
        paddick_conformity_index(0.0, 3.0, 0.0),
        vant_riet_conformation_number(0.0, 3.0, 0.0),
        target_coverage(0.0, 0.0),
    ):
        assert value.value is None and "TV is 0" in (value.undefined_reason or "")
    result = check_coverage(CTV_COVERAGE_RULE, 0.0, 0.0)
    assert result.status is CoverageStatus.UNDEFINED and result.covered_pct is None


def test_target_without_dose_hi_undefined() -> None:
    hi = icru83_homogeneity_index(0.0, 0.0, 0.0)
    assert hi.value is None and "no dose" in (hi.undefined_reason or "")
    assert rtog_homogeneity_index(0.0, 55.0).require() == 0.0


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: rtog_conformity_index(-1.0, 1.0), "TV"),
        (lambda: rtog_conformity_index(1.0, math.nan), "PIV"),
        (lambda: paddick_conformity_index(1.0, 2.0, 1.5), "cannot exceed TV"),
        (lambda: paddick_conformity_index(2.0, 1.0, 1.5), "cannot exceed PIV"),
        (lambda: lomax_scheib_index(1.0, 2.0), "cannot exceed"),
        (lambda: gradient_index(3.0, 2.0), "cannot enclose less"),
        (lambda: gradient_index(1.0, 2.0, low_fraction=1.0), "low_fraction"),
        (lambda: icru83_homogeneity_index(50.0, 55.0, 52.0), "D98% <= D50% <= D2%"),
        (lambda: rtog_homogeneity_index(50.0, 0.0), "Rx must be > 0"),
        (lambda: CoverageRule("x", isodose_pct=95.0, required_volume_pct=0.0), "required_volume_pct"),
    ],
)
def test_bad_inputs_raise(call: object, match: str) -> None:
    with pytest.raises(ArgumentError, match=match):
        call()  # type: ignore[operator]


def test_index_value_needs_exactly_one_of_value_and_reason() -> None:
    with pytest.raises(ArgumentError):
        IndexValue("x", None, None, "d", "r")
    with pytest.raises(ArgumentError):
        IndexValue("x", 1.0, "why", "d", "r")
    with pytest.raises(ArgumentError):
        IndexValue("x", math.inf, None, "d", "r")


# --- coverage ------------------------------------------------------------------------------------


def test_coverage_rules_of_the_protocol() -> None:
    assert CTV_COVERAGE_RULE.metric == "V95%" and CTV_COVERAGE_RULE.required_volume_pct == 100.0
    assert PTV_COVERAGE_RULE.metric == "V90%"
    full = check_coverage(CTV_COVERAGE_RULE, 20.0, 20.0)
    assert full.status is CoverageStatus.PASS and full.covered_pct == pytest.approx(100.0)
    short = check_coverage(CTV_COVERAGE_RULE, 20.0, 19.8)
    assert short.status is CoverageStatus.FAIL and short.covered_pct == pytest.approx(99.0)
    assert "99.00 % < required 100 %" in short.reason
    # Partial-volume noise of a fully covered target (99.995 %) passes; 99.98 % does not.
    assert check_coverage(CTV_COVERAGE_RULE, 20.0, 20.0 * 0.99995).status is CoverageStatus.PASS
    assert check_coverage(CTV_COVERAGE_RULE, 20.0, 20.0 * 0.9998).status is CoverageStatus.FAIL
    relaxed = CoverageRule("CTV 98 %", isodose_pct=95.0, required_volume_pct=98.0)
    assert check_coverage(relaxed, 20.0, 19.8).status is CoverageStatus.PASS


# --- invariants ----------------------------------------------------------------------------------

volumes = st.floats(min_value=1e-3, max_value=1e4, allow_nan=False)
fractions = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


@given(tv=volumes, piv=volumes, overlap=fractions)
def test_paddick_is_coverage_times_selectivity(tv: float, piv: float, overlap: float) -> None:
    tv_piv = overlap * min(tv, piv)
    paddick = paddick_conformity_index(tv, piv, tv_piv).require()
    coverage = target_coverage(tv, tv_piv).require()
    selectivity = lomax_scheib_index(piv, tv_piv).require()
    assert 0.0 <= paddick <= 1.0 + 1e-12
    assert paddick == pytest.approx(coverage * selectivity, rel=1e-12, abs=1e-300)
    assert paddick <= min(coverage, selectivity) + 1e-12
    assert vant_riet_conformation_number(tv, piv, tv_piv).require() == pytest.approx(paddick, rel=1e-12, abs=1e-300)
    # Paddick <= min(RTOG, 1/RTOG): coverage <= 1 and selectivity <= TV/PIV.
    rtog = rtog_conformity_index(tv, piv).require()
    assert paddick <= min(rtog, 1.0 / rtog) * (1 + 1e-12)


@given(piv=volumes, grow=st.floats(min_value=1.0, max_value=100.0))
def test_gradient_index_at_least_one(piv: float, grow: float) -> None:
    assert gradient_index(piv, piv * grow).require() == pytest.approx(grow)
    assert gradient_index(piv, piv * grow).require() >= 1.0
