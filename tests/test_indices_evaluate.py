"""Indices of spherical targets in a spherically symmetric dose, against closed-form volumes.

Phantom: D(r) = 60 Gy for r <= 6 mm, falling linearly to 0 at r = 30 mm (isodose radius
r(L) = 30 - 0.4 L mm), dose centred at the origin on a 1 mm grid whose voxel centres are offset
from it. Prescription 50 Gy: r(100 %) = 10 mm, r(50 %) = 20 mm (GI = 8), r(95 %) = 11 mm,
r(90 %) = 12 mm. Target spheres are 128-gon contours every 1 mm.

Tolerances: TV, PIV and TV_PIV within 1.5 % (contour stacking +0.13 %, trilinear interpolation of
|r| -0.3 %, the engine's voxel dose-spread model a few 0.1 %, see test_indices_volumes.py); ratios of
two or three such volumes within 3 %.

Where the target surface coincides with the isodose surface, the smooth-sphere oracle does not
apply: the contoured target is a stack of cylinders, 1.8 % of which sticks out of the sphere at
1 mm planes. That case is checked against the exact stacked-cylinder overlap
(:func:`tests.indices_phantoms.stacked_sphere_in_isodose_cc`).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dosimetry.dose import DoseGrid, DoseSummationType, DoseType
from dosimetry.errors import ArgumentError, ConsistencyError, GeometryError
from dosimetry.grid import RectilinearGrid
from dosimetry.indices.definitions import CoverageRule, CoverageStatus
from dosimetry.indices.evaluate import (
    DoseQuantity,
    ReferenceLevel,
    evaluate_quantity,
    evaluate_target,
    protocol_coverage_rules,
)
from tests.indices_phantoms import (
    RadialFalloff,
    box_roi,
    dose_grid,
    lens_cc,
    sphere_cc,
    sphere_roi,
    stacked_sphere_in_isodose_cc,
)

FALLOFF = RadialFalloff(dmax_gy=60.0, plateau_mm=6.0, zero_mm=30.0)
RX = ReferenceLevel.physical(50.0)
VOLUME_RTOL = 0.015
RATIO_RTOL = 0.03


@pytest.fixture(scope="module")
def dose():
    return dose_grid(FALLOFF, half_width_mm=26.0, spacing_mm=1.0)


@pytest.fixture(scope="module")
def body():
    # A sphere holding every isodose sphere used (r <= 21 mm), small to keep the tests fast.
    return sphere_roi("BODY", 22.5, interpreted_type="EXTERNAL", number=99, vertices=96)


def values(result) -> dict[str, float | None]:
    return {v.name: v.value for v in result.indices}


def test_phantom_radii() -> None:
    assert FALLOFF.radius_mm(50.0) == pytest.approx(10.0)
    assert FALLOFF.radius_mm(25.0) == pytest.approx(20.0)
    assert FALLOFF.radius_mm(47.5) == pytest.approx(11.0)
    assert FALLOFF.radius_mm(45.0) == pytest.approx(12.0)


def test_isodose_inside_oversized_target(dose, body) -> None:
    # Target R = 12 mm contains the 10 mm isodose sphere: TV_PIV = PIV.
    result = evaluate_target(dose, sphere_roi("CTV", 12.0), RX, body=body)
    tv, piv = sphere_cc(12.0), sphere_cc(10.0)
    assert result.tv_cc == pytest.approx(tv, rel=VOLUME_RTOL)
    assert result.piv_cc == pytest.approx(piv, rel=VOLUME_RTOL)
    assert result.tv_piv_cc == pytest.approx(piv, rel=VOLUME_RTOL)
    v = values(result)
    assert v["rtog_ci"] == pytest.approx(piv / tv, rel=RATIO_RTOL)
    assert v["paddick_ci"] == pytest.approx(piv / tv, rel=RATIO_RTOL)  # (10/12)^3 = 0.579
    assert v["vant_riet_cn"] == pytest.approx(v["paddick_ci"], rel=1e-12)
    assert v["lomax_scheib"] == pytest.approx(1.0, abs=0.01)
    assert v["target_coverage"] == pytest.approx(piv / tv, rel=RATIO_RTOL)
    # ICRU 83 HI in closed form: Dx% at radius R (1 - x/100)^(1/3)... of the hottest x %:
    # the hottest x % of a sphere is the inner sphere of radius R (x/100)^(1/3).
    d2 = FALLOFF.dose_at_radius(12.0 * 0.02 ** (1 / 3))
    d50 = FALLOFF.dose_at_radius(12.0 * 0.50 ** (1 / 3))
    d98 = FALLOFF.dose_at_radius(12.0 * 0.98 ** (1 / 3))
    assert d2 == 60.0 and d50 == pytest.approx(51.19, abs=0.01) and d98 == pytest.approx(45.20, abs=0.01)
    assert result.statistics.d50_gy == pytest.approx(d50, abs=0.3)
    assert result.statistics.d98_gy == pytest.approx(d98, abs=0.3)
    assert result.statistics.d2_gy == pytest.approx(d2, abs=0.5)
    assert v["icru83_hi"] == pytest.approx((d2 - d98) / d50, abs=0.015)
    assert v["rtog_hi"] == pytest.approx(60.0 / 50.0, rel=0.02)
    assert not result.warnings


def test_undersized_target_inside_isodose(dose, body) -> None:
    # Target R = 8 mm inside the 10 mm isodose: TV_PIV = TV, Paddick = TV / PIV = 0.512.
    result = evaluate_target(dose, sphere_roi("GTV", 8.0, interpreted_type="GTV"), RX, body=body)
    tv, piv = sphere_cc(8.0), sphere_cc(10.0)
    assert result.tv_piv_cc == pytest.approx(tv, rel=VOLUME_RTOL)
    v = values(result)
    assert v["paddick_ci"] == pytest.approx(tv / piv, rel=RATIO_RTOL)
    assert v["rtog_ci"] == pytest.approx(piv / tv, rel=RATIO_RTOL)  # 1.95
    assert v["lomax_scheib"] == pytest.approx(tv / piv, rel=RATIO_RTOL)
    assert v["target_coverage"] == pytest.approx(1.0, abs=0.005)
    assert result.coverage == ()  # no protocol rule for a GTV


@pytest.mark.parametrize(
    ("radius_mm", "shift_mm"),
    [(10.0, (4.0, 0.0, 0.0)), (12.0, (0.0, 2.0, 2.0)), (7.0, (3.0, -3.0, 3.0))],
)
def test_shifted_target_lens_overlap(dose, body, radius_mm: float, shift_mm: tuple[float, float, float]) -> None:
    d = math.dist(shift_mm, (0.0, 0.0, 0.0))
    tv, piv, overlap = sphere_cc(radius_mm), sphere_cc(10.0), lens_cc(radius_mm, 10.0, d)
    result = evaluate_target(dose, sphere_roi("PTV", radius_mm, centre_mm=shift_mm, interpreted_type="PTV"), RX, body=body)
    assert result.tv_cc == pytest.approx(tv, rel=VOLUME_RTOL)
    assert result.tv_piv_cc == pytest.approx(overlap, rel=VOLUME_RTOL)
    assert result.index("paddick_ci").require() == pytest.approx(overlap**2 / (tv * piv), rel=RATIO_RTOL)
    assert result.index("lomax_scheib").require() == pytest.approx(overlap / piv, rel=RATIO_RTOL)


def test_target_surface_on_the_isodose(dose, body) -> None:
    # Target R = 10 mm centred on the 10 mm isodose sphere: the contoured target (a cylinder stack)
    # loses 1.8 % outside the sphere; the engine must match the exact stacked overlap.
    result = evaluate_target(dose, sphere_roi("CTV", 10.0), RX, body=body)
    overlap = stacked_sphere_in_isodose_cc(10.0, 10.0)
    assert overlap == pytest.approx(sphere_cc(10.0) * (1 - 0.018125), rel=1e-6)
    assert result.tv_piv_cc == pytest.approx(overlap, rel=VOLUME_RTOL)
    expected = overlap**2 / (stacked_sphere_in_isodose_cc(10.0, 100.0) * sphere_cc(10.0))
    assert result.index("paddick_ci").require() == pytest.approx(expected, rel=RATIO_RTOL)


def test_stacked_oracle_limits() -> None:
    # Inside a huge isodose: the whole cylinder stack, i.e. the midpoint-rule sphere (+0.125 %).
    assert stacked_sphere_in_isodose_cc(10.0, 100.0) == pytest.approx(sphere_cc(10.0) * 1.00125, rel=1e-9)
    # A small isodose sphere inside the stack: its own volume.
    assert stacked_sphere_in_isodose_cc(10.0, 5.0) == pytest.approx(sphere_cc(5.0), rel=1e-6)


def test_lens_formula_limits() -> None:
    assert lens_cc(10.0, 10.0, 0.0) == pytest.approx(sphere_cc(10.0))
    assert lens_cc(10.0, 10.0, 1e-9) == pytest.approx(sphere_cc(10.0))
    assert lens_cc(10.0, 10.0, 20.0) == 0.0
    # Centres 10 mm apart: two spherical caps of height h = 5 mm, each pi h^2 (3R - h) / 3.
    assert lens_cc(10.0, 10.0, 10.0) == pytest.approx(2 * math.pi * 5**2 * (30 - 5) / 3 / 1000)
    # Small sphere inside the big one.
    assert lens_cc(10.0, 4.0, 5.0) == pytest.approx(sphere_cc(4.0))


def test_gradient_index_and_other_ratios(dose, body) -> None:
    result = evaluate_target(dose, sphere_roi("CTV", 10.5), RX, body=body, gradient_fractions=(0.5, 0.8))
    gi = result.index("gradient_index").require()
    assert gi == pytest.approx((20.0 / 10.0) ** 3, rel=RATIO_RTOL)  # 8
    assert result.index("gradient_index_80").require() == pytest.approx((14.0 / 10.0) ** 3, rel=RATIO_RTOL)
    fractions = [f for f, _ in result.gradient_volumes_cc]
    assert fractions == [0.5, 0.8]
    assert result.gradient_volumes_cc[0][1] == pytest.approx(sphere_cc(20.0), rel=VOLUME_RTOL)


def test_gradient_relative_to_the_chosen_isodose(dose, body) -> None:
    # --isodose 90: level 45 Gy (r = 12), half of it 22.5 Gy (r = 21): GI = (21/12)^3.
    result = evaluate_target(dose, sphere_roi("CTV", 10.5), RX, body=body, isodose_pct=90.0)
    assert result.level_gy == pytest.approx(45.0)
    assert result.piv_cc == pytest.approx(sphere_cc(12.0), rel=VOLUME_RTOL)
    assert result.index("gradient_index").require() == pytest.approx((21.0 / 12.0) ** 3, rel=RATIO_RTOL)


def test_protocol_coverage_ctv_and_ptv(dose, body) -> None:
    # CTV R = 10.5 mm inside the 95 % isodose (r = 11): V95% = 100 % -> pass.
    covered = evaluate_target(dose, sphere_roi("CTV", 10.5), RX, body=body)
    (ctv_rule,) = covered.coverage
    assert ctv_rule.rule.metric == "V95%" and ctv_rule.status is CoverageStatus.PASS
    # CTV R = 12 mm: V95% = (11/12)^3 = 77 % -> fail.
    short = evaluate_target(dose, sphere_roi("CTV", 12.0), RX, body=body)
    (rule,) = short.coverage
    assert rule.status is CoverageStatus.FAIL
    assert rule.covered_pct == pytest.approx(100 * (11.0 / 12.0) ** 3, rel=RATIO_RTOL)
    # PTV R = 11.5 mm with the 90 % rule (r = 12): pass.
    ptv = evaluate_target(dose, sphere_roi("PTV", 11.5, interpreted_type="PTV"), RX, body=body)
    (ptv_rule,) = ptv.coverage
    assert ptv_rule.rule.metric == "V90%" and ptv_rule.status is CoverageStatus.PASS
    # An explicit relaxed rule: 75 % of the 12 mm CTV must get 95 %.
    relaxed = evaluate_target(
        dose, sphere_roi("CTV", 12.0), RX, body=body,
        coverage_rules=(CoverageRule("relaxed", isodose_pct=95.0, required_volume_pct=75.0),),
    )
    assert relaxed.coverage[0].status is CoverageStatus.PASS


def test_protocol_rules_by_type_and_name() -> None:
    assert protocol_coverage_rules(sphere_roi("CTV_high", 5.0, interpreted_type=""), DoseQuantity.PHYSICAL)[0].isodose_pct == 95.0
    assert protocol_coverage_rules(sphere_roi("x", 5.0, interpreted_type="PTV"), DoseQuantity.PHYSICAL)[0].isodose_pct == 90.0
    assert protocol_coverage_rules(sphere_roi("x", 5.0, interpreted_type="GTV"), DoseQuantity.PHYSICAL) == ()
    assert protocol_coverage_rules(sphere_roi("CTV", 5.0), DoseQuantity.BED) == ()


# --- degenerate cases ----------------------------------------------------------------------------


def test_reference_above_maximum_dose(dose, body) -> None:
    result = evaluate_target(dose, sphere_roi("CTV", 10.0), ReferenceLevel.physical(70.0), body=body)
    assert result.piv_cc == 0.0 and result.tv_piv_cc == 0.0
    v = values(result)
    for name in ("paddick_ci", "vant_riet_cn", "lomax_scheib", "gradient_index"):
        assert v[name] is None
        assert "PIV is 0" in (result.index(name).undefined_reason or "")
    assert v["rtog_ci"] == 0.0 and v["target_coverage"] == 0.0
    assert result.coverage[0].status is CoverageStatus.FAIL and result.coverage[0].covered_pct == 0.0
    assert any("above the maximum" in w for w in result.warnings)
    # JSON form keeps the reason, never a number standing in for it.
    paddick = result.to_dict()["indices"]["paddick_ci"]
    assert paddick["value"] is None and "PIV is 0" in paddick["undefined_reason"]


def test_target_without_dose(dose, body) -> None:
    # r >= 30 mm gets no dose: a 3 mm sphere centred 35.8 mm away, in the grid corner.
    cold = sphere_roi("CTV", 3.0, centre_mm=(22.0, 22.0, 20.0))
    result = evaluate_target(dose, cold, RX, body=body)
    v = values(result)
    assert result.statistics.dmax_gy == 0.0
    assert v["icru83_hi"] is None and "no dose" in (result.index("icru83_hi").undefined_reason or "")
    assert v["rtog_hi"] == 0.0
    assert v["paddick_ci"] == 0.0 and v["target_coverage"] == 0.0
    assert v["rtog_ci"] == pytest.approx(sphere_cc(10.0) / sphere_cc(3.0), rel=RATIO_RTOL)
    assert result.coverage[0].status is CoverageStatus.FAIL
    assert any("receives no dose" in w for w in result.warnings)


def test_target_partly_outside_the_grid(dose, body) -> None:
    # Sphere R = 8 centred at x = 23: the grid ends at x ~ 26.6, so about a quarter lies outside.
    target = sphere_roi("CTV", 8.0, centre_mm=(23.0, 0.0, 0.0))
    result = evaluate_target(dose, target, RX, body=box_roi("BODY", 35.0))
    assert result.tv_cc == pytest.approx(sphere_cc(8.0), rel=VOLUME_RTOL)  # the full contour volume
    assert any("outside the dose grid" in w and "counts in TV" in w for w in result.warnings)
    # No part of it reaches 50 Gy (r >= 15 mm > 10 mm): coverage 0, Paddick 0.
    assert result.index("paddick_ci").require() == 0.0


def test_target_entirely_outside_the_grid(dose, body) -> None:
    with pytest.raises(GeometryError, match="dose grid"):
        evaluate_target(dose, sphere_roi("CTV", 5.0, centre_mm=(60.0, 0.0, 0.0)), RX, body=box_roi("BODY", 80.0))


def test_target_outside_the_body_is_an_error(dose) -> None:
    # Body box of half-width 6 mm cannot hold the 10 mm isodose overlap of a 10.5 mm target.
    with pytest.raises(ConsistencyError, match="extends outside"):
        evaluate_target(dose, sphere_roi("CTV", 10.5), RX, body=box_roi("BODY", 6.0))


def test_no_external_uses_the_whole_grid(dose) -> None:
    result = evaluate_target(dose, sphere_roi("CTV", 12.0), RX, body=None)
    assert result.piv_cc == pytest.approx(sphere_cc(10.0), rel=VOLUME_RTOL)
    assert "whole dose grid" in result.body_description
    assert any("no External" in w for w in result.warnings)


def test_bad_isodose_raises(dose, body) -> None:
    with pytest.raises(ArgumentError, match="isodose_pct"):
        evaluate_target(dose, sphere_roi("CTV", 10.0), RX, body=body, isodose_pct=0.0)


@pytest.mark.parametrize("fraction", [0.0, 1.0, 1.5, math.nan])
def test_bad_gradient_fraction_named_before_sampling(dose, body, fraction: float) -> None:
    # (0 and NaN used to fail as "dose levels must be finite and > 0 Gy", naming no gradient)
    with pytest.raises(ArgumentError, match="gradient low_fraction must lie in"):
        evaluate_target(dose, sphere_roi("CTV", 10.0), RX, body=body, gradient_fractions=(0.5, fraction))


# --- BED and EQD2 --------------------------------------------------------------------------------


def _physical_for_bed(bed: float, fractions: int, alpha_beta: float) -> float:
    # BED = D (1 + D / (n ab))  ->  D = n ab (sqrt(1 + 4 BED / (n ab)) - 1) / 2
    k = fractions * alpha_beta
    return k * (math.sqrt(1.0 + 4.0 * bed / k) - 1.0) / 2.0


def test_bed_reference_and_indices(dose, body) -> None:
    n, ab = 20, 9.0
    result = evaluate_quantity(
        dose, sphere_roi("CTV", 12.0), prescription_gy=50.0, quantity=DoseQuantity.BED,
        alpha_beta_gy=ab, fractions=n, body=body,
    )
    bed_rx = 50.0 * (1 + 2.5 / ab)
    assert result.reference.reference_gy == pytest.approx(bed_rx)
    assert result.reference.label.startswith("BED9 ")
    # The 100 % BED isodose is the physical 50 Gy surface (r = 10 mm) ...
    assert result.piv_cc == pytest.approx(sphere_cc(10.0), rel=VOLUME_RTOL)
    # ... but BED is convex in dose, so 50 % of BED(Rx) is a higher physical dose than 25 Gy:
    # a smaller sphere and a steeper BED gradient index than the physical GI of 8.
    half_physical = _physical_for_bed(0.5 * bed_rx, n, ab)
    assert half_physical > 25.0
    r_half = FALLOFF.radius_mm(half_physical)
    assert result.index("gradient_index").require() == pytest.approx((r_half / 10.0) ** 3, rel=RATIO_RTOL)
    assert result.coverage == ()  # protocol coverage rules are physical-dose rules
    assert result.statistics.dmax_gy == pytest.approx(60.0 * (1 + 3.0 / ab), rel=0.03)
    assert result.index("rtog_hi").require() == pytest.approx(60.0 * (1 + 3.0 / ab) / bed_rx, rel=0.03)


def test_protocol_table_bed9() -> None:
    # Protocol Table 1, dose level 2: 2.5 GyE x 22 = 55 GyE -> BED9 70.3, BED2 123.8 (EQD2_2 = 61.9).
    assert ReferenceLevel.lq(DoseQuantity.BED, 55.0, 22, 9.0).reference_gy == pytest.approx(70.3, abs=0.05)
    assert ReferenceLevel.lq(DoseQuantity.BED, 55.0, 22, 2.0).reference_gy == pytest.approx(123.8, abs=0.05)
    assert ReferenceLevel.lq(DoseQuantity.EQD2, 55.0, 22, 2.0).reference_gy == pytest.approx(123.75 / 2, abs=0.01)


def test_eqd2_map(dose, body) -> None:
    result = evaluate_quantity(
        dose, sphere_roi("CTV", 12.0), prescription_gy=50.0, quantity=DoseQuantity.EQD2,
        alpha_beta_gy=2.0, fractions=25, body=body,
    )
    assert result.reference.reference_gy == pytest.approx(50.0 * (1 + 2.0 / 2.0) / 2.0)
    assert result.piv_cc == pytest.approx(sphere_cc(10.0), rel=VOLUME_RTOL)


def test_quantity_arguments_checked(dose, body) -> None:
    with pytest.raises(ArgumentError, match="alpha_beta_gy and fractions"):
        evaluate_quantity(dose, sphere_roi("CTV", 5.0), prescription_gy=50.0, quantity=DoseQuantity.BED, body=body)
    with pytest.raises(ArgumentError, match="only meaningful"):
        evaluate_quantity(dose, sphere_roi("CTV", 5.0), prescription_gy=50.0, alpha_beta_gy=9.0, body=body)
    with pytest.raises(ArgumentError, match="quantity"):
        DoseQuantity.parse("LQ")
    assert DoseQuantity.parse("bed") is DoseQuantity.BED


# --- invariants on random dose distributions -----------------------------------------------------


_SMALL_GRID = RectilinearGrid.uniform((-15.0, -15.0, -15.0), (2.0, 2.0, 2.0), (16, 16, 16))
_SMALL_BODY = box_roi("BODY", 17.0)


def _blob_dose(centres: list[tuple[float, float, float]], widths: list[float]) -> DoseGrid:
    z, y, x = np.meshgrid(_SMALL_GRID.z_mm, _SMALL_GRID.y_mm, _SMALL_GRID.x_mm, indexing="ij")
    dose = np.zeros(_SMALL_GRID.shape_zyx)
    for (cx, cy, cz), width in zip(centres, widths, strict=True):
        dose += 40.0 * np.exp(-((x - cx) ** 2 + (y - cy) ** 2 + (z - cz) ** 2) / (2 * width**2))
    return DoseGrid(_SMALL_GRID, dose, DoseType.PHYSICAL, DoseSummationType.PLAN, "1.2.3")


coordinates = st.floats(min_value=-6.0, max_value=6.0)
points = st.tuples(coordinates, coordinates, coordinates)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    centres=st.lists(points, min_size=1, max_size=3),
    width=st.floats(min_value=3.0, max_value=8.0),
    radius=st.floats(min_value=3.0, max_value=8.0),
    target_centre=points,
    prescription=st.floats(min_value=10.0, max_value=60.0),
)
def test_index_invariants(centres, width, radius, target_centre, prescription) -> None:
    dose = _blob_dose(centres, [width] * len(centres))
    target = sphere_roi("CTV", radius, centre_mm=target_centre, plane_spacing_mm=2.0, vertices=48)
    result = evaluate_target(dose, target, ReferenceLevel.physical(prescription), body=_SMALL_BODY,
                             gradient_fractions=(0.5, 0.8))
    v = values(result)
    assert 0.0 <= result.tv_piv_cc <= min(result.tv_cc, result.piv_cc) + 1e-9
    assert v["rtog_ci"] == pytest.approx(result.piv_cc / result.tv_cc)
    if result.piv_cc > 0.0:
        assert 0.0 <= v["paddick_ci"] <= 1.0
        assert v["paddick_ci"] == pytest.approx(v["target_coverage"] * v["lomax_scheib"], abs=1e-12)
        assert v["vant_riet_cn"] == pytest.approx(v["paddick_ci"], abs=1e-12)
        assert v["gradient_index"] >= v["gradient_index_80"] >= 1.0
    else:
        assert v["paddick_ci"] is None and v["gradient_index"] is None
        assert any("above the maximum" in w for w in result.warnings)
    # A higher isodose never encloses more volume.
    higher = evaluate_target(dose, target, ReferenceLevel.physical(prescription), body=_SMALL_BODY, isodose_pct=110.0)
    # (to rounding of the engine's suffix sums: 1e-9 relative)
    assert higher.piv_cc <= result.piv_cc * (1 + 1e-9) + 1e-12
    assert higher.tv_piv_cc <= result.tv_piv_cc * (1 + 1e-9) + 1e-12


def test_several_targets_share_one_body_sampling(dose, body) -> None:
    from dosimetry.indices.evaluate import evaluate_targets

    ctv, ptv = sphere_roi("CTV", 10.5), sphere_roi("PTV", 11.5, interpreted_type="PTV", number=2)
    together = evaluate_targets(dose, (ctv, ptv), RX, body=body)
    alone = evaluate_target(dose, ptv, RX, body=body)
    assert [r.target_name for r in together] == ["CTV", "PTV"]
    assert together[1].piv_cc == alone.piv_cc and together[1].tv_piv_cc == alone.tv_piv_cc
    assert [c.rule.metric for c in together[0].coverage] == ["V95%"]
    assert [c.rule.metric for c in together[1].coverage] == ["V90%"]
    with pytest.raises(ArgumentError, match="at least one target"):
        evaluate_targets(dose, (), RX, body=body)


def test_target_without_contours_is_a_geometry_error(dose, body) -> None:
    from dosimetry.structures import Roi

    with pytest.raises(GeometryError):
        evaluate_target(dose, Roi(number=7, name="CTV", interpreted_type="CTV", contours=()), RX, body=body)


def test_isodose_reaching_the_grid_edge_is_flagged(body) -> None:
    # A grid of half-width 15 mm cuts the 25 Gy (r = 20 mm) isodose but holds the 50 Gy one (r = 10 mm).
    small = dose_grid(FALLOFF, half_width_mm=15.0, spacing_mm=1.0)
    result = evaluate_target(small, sphere_roi("CTV", 10.5), RX, body=None)
    edge = [w for w in result.warnings if "edge of the dose grid" in w]
    assert len(edge) == 1 and "25 Gy isodose" in edge[0] and "lower bounds" in edge[0]
    assert result.index("gradient_index").require() < 8.0 * 0.9  # truncated by the grid
