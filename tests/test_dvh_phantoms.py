"""Analytic phantoms (Nelms-style) at a size CI affords; the full matrix runs in
benchmarks/dvh_vs_dicompyler.py. The oracle itself is first checked against brute force.

The oracle is the closed-form DVH of the stacked-slab solid (half-slab end caps), so the engine is
run with ``end_cap=HALF_SLAB`` named explicitly: these tests judge that convention's exact
partial volumes and dose sampling, not the default (shape), which tests/test_dvh_true_solids*.py
judge against the true solids."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dosimetry.dvh import EndCapConvention, compute_dvh, evaluate_metric
from dosimetry.dvh.phantoms import ConeSection, GradientAxis, Shape, make_phantom

# tighter than the targets (volume 1 %, dose metrics 1 % of the span) so regressions show early
VOLUME_TOL_PERCENT = 0.05
DOSE_TOL_PERCENT_OF_SPAN = 0.2

CASES = [
    (shape, spacing, grid_mm, axis, shift)
    for shape in Shape
    for axis in ("y", "z")
    for spacing, grid_mm, shift in ((1.0, 3.0, 0.5), (3.0, 2.0, 0.0), (2.0, 3.0, 0.0))
]


def test_sphere_oracle_volume_by_hand() -> None:
    ph = make_phantom(Shape.SPHERE, 3.0)
    planes = ph.planes_mm
    assert planes.min() > -12 and planes.max() < 12
    expected = sum(math.pi * (144 - z * z) * 3.0 for z in planes) / 1000
    assert ph.volume_cc() == pytest.approx(expected, rel=1e-12)
    # symmetric solid in a symmetric gradient: median = mean = dose at the centre
    assert ph.mean_gy() == pytest.approx(40.0, abs=1e-9)
    assert ph.dose_at_volume_percent(50) == pytest.approx(40.0, abs=1e-6)


def test_cone_section_oracle_against_numerical_integration() -> None:
    # closed form (antiderivative of sqrt(u^2 - a^2)) vs a midpoint sum of chord lengths
    section = ConeSection(xc=0.0, y0=-12.0, r0=10.0, h=24.0, a=4.0)
    lo, hi = section.y_range()
    m = 200_000
    y = lo + (np.arange(m) + 0.5) * (hi - lo) / m
    radius = 10.0 * (1 - (y + 12) / 24)
    chord = 2 * np.sqrt(np.clip(radius**2 - 16.0, 0, None))
    dy = (hi - lo) / m
    assert section.area() == pytest.approx(chord.sum() * dy, rel=1e-6)
    for y_star in (-8.0, 0.0, 5.0):
        assert section.area_above(y_star) == pytest.approx(chord[y >= y_star].sum() * dy, rel=1e-4)
    # polygon (what goes into the RT Structure Set) has the section's area
    px, py = section.polygon()
    shoelace = 0.5 * abs(np.dot(px, np.roll(py, -1)) - np.dot(np.roll(px, -1), py))
    assert shoelace == pytest.approx(section.area(), rel=1e-4)


def test_slab_oracle_dvh_against_brute_force() -> None:
    ph = make_phantom(Shape.CYLINDER_ROTATED, 2.0, gradient_axis=GradientAxis.Z)
    # z gradient: V(>= D) = sum over slabs of area x length above z*
    d = 41.3
    z_star = d - 40.0
    expected = sum(s.area() * max(0.0, min(hi, 1e9) - max(lo, z_star)) for s, lo, hi in zip(ph.sections, ph.slab_lower_mm, ph.slab_upper_mm)) / 1000
    assert ph.volume_at_or_above_cc(d) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(("shape", "spacing", "grid_mm", "axis", "shift"), CASES)
def test_phantom_within_targets(shape: Shape, spacing: float, grid_mm: float, axis: str, shift: float) -> None:
    ph = make_phantom(shape, spacing, gradient_axis=axis)
    dose = ph.dose_grid(grid_mm, shift_fraction=shift)
    dvh = compute_dvh(dose, ph.roi(), end_cap=EndCapConvention.HALF_SLAB)  # the oracle's convention
    lo, hi = ph.dose_range_gy()
    span = hi - lo
    assert abs(dvh.volume_cc / ph.volume_cc() - 1) * 100 < VOLUME_TOL_PERCENT
    assert abs(dvh.mean_gy - ph.mean_gy()) / span * 100 < DOSE_TOL_PERCENT_OF_SPAN
    for p in (99, 95, 5, 1):
        error = abs(evaluate_metric(dvh, f"D{p}%[Gy]") - ph.dose_at_volume_percent(p)) / span * 100
        assert error < DOSE_TOL_PERCENT_OF_SPAN, f"D{p}: {error:.3f} % of span"
