"""Invariants of DVHs on random doses and random ROIs (hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dosimetry.dvh import compute_dvh, evaluate_metric, rasterise_roi
from dosimetry.structures import Roi
from tests.dvh_helpers import dose_from, polygon_contour, uniform_grid

GRID = uniform_grid((0.0, 0.0, 0.0), (2.0, 2.0, 2.5), (6, 8, 8))  # x, y 0..14 mm, z 0..12.5 mm


@st.composite
def roi_and_dose(draw):  # type: ignore[no-untyped-def]
    n_vertices = draw(st.integers(3, 9))
    cx = draw(st.floats(2.0, 12.0))
    cy = draw(st.floats(2.0, 12.0))
    radii = draw(st.lists(st.floats(0.5, 9.0), min_size=n_vertices, max_size=n_vertices))
    # star-shaped around (cx, cy) with angular gaps below pi: a simple polygon
    jitter = min((np.pi - 2 * np.pi / n_vertices) / 2, np.pi / n_vertices) * 0.99  # keeps the order
    offsets = draw(st.lists(st.floats(-1.0, 1.0), min_size=n_vertices, max_size=n_vertices))
    angles = 2 * np.pi * np.arange(n_vertices) / n_vertices + jitter * np.array(offsets)
    xy = np.column_stack([cx + np.array(radii) * np.cos(angles), cy + np.array(radii) * np.sin(angles)])
    first = draw(st.floats(-1.0, 8.0))
    n_planes = draw(st.integers(1, 4))
    spacing = draw(st.sampled_from([1.0, 2.0, 2.5, 3.0]))
    planes = first + spacing * np.arange(n_planes)
    roi = Roi(1, "random", "ORGAN", tuple(polygon_contour(xy, float(z)) for z in planes))
    seed = draw(st.integers(0, 2**16))
    values = np.random.default_rng(seed).uniform(0.0, 70.0, size=GRID.shape_zyx)
    dose = dose_from(GRID, lambda x, y, z: values + 0 * x)
    return roi, dose


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(roi_and_dose(), st.sampled_from([0.01, 0.1, 1.0]))
def test_dvh_invariants(case, bin_width) -> None:  # type: ignore[no-untyped-def]
    roi, dose = case
    occupancy = rasterise_roi(roi, dose.grid)
    if occupancy.volume_in_grid_cc <= 1e-9:
        # an ROI outside the grid must be refused, not given an empty DVH
        from dosimetry.errors import GeometryError

        try:
            compute_dvh(dose, roi, bin_width_gy=bin_width)
        except GeometryError:
            return
        raise AssertionError("compute_dvh accepted an ROI with no volume in the grid")
    dvh = compute_dvh(dose, roi, bin_width_gy=bin_width)
    cum = dvh.cumulative_cc
    # the cumulative DVH never rises
    assert np.all(np.diff(cum) <= 1e-12 * max(1.0, cum[0]))
    # volume at 0 Gy is the whole in-grid volume, equal to the rasterised in-grid volume
    assert dvh.volume_at_dose_cc(0.0) == dvh.volume_in_dose_grid_cc
    assert abs(dvh.volume_in_dose_grid_cc - occupancy.volume_in_grid_cc) <= 1e-9 * max(1.0, occupancy.volume_in_grid_cc)
    assert dvh.volume_in_dose_grid_cc + dvh.volume_outside_dose_grid_cc == np.float64(dvh.volume_cc) or abs(
        dvh.volume_in_dose_grid_cc + dvh.volume_outside_dose_grid_cc - dvh.volume_cc
    ) <= 1e-9 * max(1.0, dvh.volume_cc)
    # D metrics never increase with the volume argument, and stay within [min, max]
    percents = np.linspace(0.0, 100.0, 21)
    doses = [evaluate_metric(dvh, f"D{p:g}%[Gy]") for p in percents]
    assert all(b <= a + 1e-9 for a, b in zip(doses, doses[1:]))
    assert all(dvh.min_gy - 1e-9 <= d <= dvh.max_gy + 1e-9 for d in doses)
    assert dvh.min_gy - 1e-9 <= dvh.mean_gy <= dvh.max_gy + 1e-9
    # differential volumes sum to the total
    assert abs(dvh.differential_cc.sum() - dvh.volume_in_dose_grid_cc) <= 1e-9 * max(1.0, dvh.volume_in_dose_grid_cc)
