"""Every DVH dose lies within the range of the dose-grid values: no sample below the grid's
minimum (never below 0 Gy for a non-negative grid) nor above its maximum (hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dosimetry.dvh import compute_dvh, evaluate_metric, roi_dose_samples
from dosimetry.structures import Roi
from tests.dvh_helpers import circle, dose_from, polygon_contour, uniform_grid


@st.composite
def grid_roi_dose(draw):  # type: ignore[no-untyped-def]
    spacing = draw(st.sampled_from([(1.0, 1.0, 1.0), (2.0, 2.0, 2.5), (3.0, 3.0, 3.0), (2.5, 2.5, 2.0)]))
    shape = (draw(st.integers(1, 6)), draw(st.integers(2, 8)), draw(st.integers(2, 8)))
    grid = uniform_grid((0.0, 0.0, 0.0), spacing, shape)
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    kind = draw(st.sampled_from(["sparse", "step", "uniform"]))
    values = rng.uniform(0.0, 60.0, size=shape)
    if kind == "sparse":  # isolated hot voxels next to 0 Gy: the steepest local gradients
        values *= rng.uniform(size=shape) < 0.3
    elif kind == "step":
        values = np.where(np.arange(shape[2])[None, None, :] >= rng.integers(0, shape[2]), 50.0, 0.0) * np.ones(shape)
    extent = np.array([shape[2] * spacing[0], shape[1] * spacing[1]])
    cx, cy = draw(st.floats(0.0, 1.0)) * extent[0], draw(st.floats(0.0, 1.0)) * extent[1]
    r = draw(st.floats(0.6, 12.0))
    first = draw(st.floats(-1.0, shape[0] * spacing[2]))
    n_planes = draw(st.integers(2, 4))
    step = draw(st.sampled_from([1.0, 2.0, 3.0]))
    planes = first + step * np.arange(n_planes)
    roi = Roi(1, "random", "ORGAN", tuple(polygon_contour(circle(cx, cy, r, 24), float(z)) for z in planes))
    return roi, dose_from(grid, lambda x, y, z: values + 0 * x)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(grid_roi_dose(), st.sampled_from([1, 2, 3, None]))
def test_samples_stay_within_the_dose_grid_range(case, supersample) -> None:  # type: ignore[no-untyped-def]
    roi, dose = case
    samples = roi_dose_samples(dose, roi, supersample=supersample)
    if samples.weight_cc.size == 0:
        return
    lo, hi = float(dose.dose_gy.min()), float(dose.dose_gy.max())
    low_end = samples.dose_gy - 0.5 * samples.spread_gy
    high_end = samples.dose_gy + 0.5 * samples.spread_gy
    assert low_end.min() >= lo and low_end.min() >= 0.0
    assert high_end.max() <= hi
    dvh = compute_dvh(dose, roi, supersample=supersample)
    assert lo <= dvh.min_gy and dvh.max_gy <= hi
    assert evaluate_metric(dvh, "D98%[Gy]") >= 0.0
