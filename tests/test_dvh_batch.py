"""The batch DVH API (``compute_dvhs``, ``roi_dose_samples_batch``, used by ``dosimetry dvh``) gives
exactly the numbers of one ``compute_dvh`` / ``roi_dose_samples`` call per ROI: on the sample
patient (all 18 ROIs, External included) and on a set of analytic phantoms sharing one dose grid,
with ROIs partly and wholly outside the grid and one without closed contours."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from dosimetry.dose import DoseGrid
from dosimetry.dvh import (
    Dvh,
    compute_dvh,
    compute_dvhs,
    roi_dose_samples,
    roi_dose_samples_batch,
)
from dosimetry.dvh.phantoms import GradientAxis, Shape, make_phantom
from dosimetry.errors import GeometryError
from dosimetry.io import load_dose, load_structure_set
from dosimetry.structures import Roi

CURRENT = Path(__file__).resolve().parents[1] / "sample_data" / "patient01" / "current"
RD = CURRENT / "RD_patient01.dcm"
RS = CURRENT / "RS_patient01.dcm"


def _assert_same_dvh(batch: Dvh, single: Dvh) -> None:
    for name in ("roi_name", "roi_number", "volume_cc", "volume_in_dose_grid_cc", "volume_outside_dose_grid_cc",
                 "min_gy", "max_gy", "mean_gy", "median_gy", "end_cap", "supersample", "dose_type", "warnings"):
        assert getattr(batch, name) == getattr(single, name), name
    np.testing.assert_array_equal(batch.bin_edges_gy, single.bin_edges_gy)
    np.testing.assert_array_equal(batch.cumulative_cc, single.cumulative_cc)
    np.testing.assert_array_equal(batch.edge_mass_cc, single.edge_mass_cc)


def _assert_batch_matches_single(dose: DoseGrid, rois: list[Roi]) -> int:
    """Compare compute_dvhs with compute_dvh ROI by ROI; returns the number of ROIs with a DVH."""
    outcomes = compute_dvhs(dose, rois)
    assert [o.roi for o in outcomes] == rois
    computed = 0
    for outcome, roi in zip(outcomes, rois, strict=True):
        try:
            single = compute_dvh(dose, roi)
        except GeometryError as exc:
            assert outcome.dvh is None
            assert isinstance(outcome.error, GeometryError)
            assert str(outcome.error) == str(exc)
            continue
        assert outcome.error is None
        assert outcome.dvh is not None
        _assert_same_dvh(outcome.dvh, single)
        computed += 1
    # the samples themselves, element by element and in the same order
    for item, roi in zip(roi_dose_samples_batch(dose, rois), rois, strict=True):
        try:
            single_samples = roi_dose_samples(dose, roi)
        except GeometryError as exc:
            assert item.samples is None and str(item.error) == str(exc)
            continue
        assert item.samples is not None and item.error is None
        np.testing.assert_array_equal(item.samples.dose_gy, single_samples.dose_gy)
        np.testing.assert_array_equal(item.samples.weight_cc, single_samples.weight_cc)
        np.testing.assert_array_equal(item.samples.spread_gy, single_samples.spread_gy)
        assert item.samples.volume_outside_grid_cc == single_samples.volume_outside_grid_cc
        assert item.samples.warnings == single_samples.warnings
    return computed


def test_batch_equals_per_roi_on_the_sample_patient() -> None:
    assert RD.exists() and RS.exists(), f"sample patient missing in {CURRENT} (run 'dosimetry sample-data')"
    dose = load_dose(RD)
    rois = list(load_structure_set(RS).rois)
    assert len(rois) >= 10
    assert any(r.interpreted_type == "EXTERNAL" for r in rois)
    assert _assert_batch_matches_single(dose, rois) == len(rois)


def _phantom_set(grid_mm: float, axis: GradientAxis) -> tuple[DoseGrid, list[Roi]]:
    base = make_phantom(Shape.SPHERE, 2.0, gradient_axis=axis, sphere_radius_mm=16.0)
    dose = base.dose_grid(grid_mm)
    rois = [base.roi(1)]
    specs = [
        (Shape.SPHERE, 3.0, (2.0, -1.5, 0.5), 0.5),
        (Shape.CYLINDER, 2.0, (0.0, 0.0, 0.0), 0.0),
        (Shape.CONE, 1.0, (-1.0, 2.0, 0.0), 0.25),
        (Shape.CYLINDER_ROTATED, 2.0, (0.0, 0.0, 1.0), 0.0),
        (Shape.CONE_ROTATED, 3.0, (0.5, 0.0, 0.0), 0.5),
        (Shape.SPHERE, 2.0, (18.0, 0.0, 0.0), 0.0),  # partly outside the dose grid
        (Shape.SPHERE, 2.0, (200.0, 0.0, 0.0), 0.0),  # wholly outside: GeometryError
    ]
    for number, (shape, spacing, centre, offset) in enumerate(specs, start=2):
        ph = make_phantom(shape, spacing, gradient_axis=axis, centre_mm=centre, plane_offset_fraction=offset)
        rois.append(dataclasses.replace(ph.roi(number), name=f"{shape.value}_{number}"))
    rois.append(Roi(99, "no_contours", "ORGAN", ()))  # GeometryError from the geometry
    return dose, rois


@pytest.mark.parametrize(("grid_mm", "axis"), [(2.0, GradientAxis.Y), (3.0, GradientAxis.Z), (1.5, GradientAxis.Y)])
def test_batch_equals_per_roi_on_a_phantom_set(grid_mm: float, axis: GradientAxis) -> None:
    dose, rois = _phantom_set(grid_mm, axis)
    computed = _assert_batch_matches_single(dose, rois)
    assert computed == len(rois) - 2
    outcomes = compute_dvhs(dose, rois)
    assert outcomes[-1].error is not None and outcomes[-2].error is not None
    partly = outcomes[-3].dvh
    assert partly is not None and partly.volume_outside_dose_grid_cc > 0


def test_batch_of_no_rois_is_empty() -> None:
    dose, _ = _phantom_set(3.0, GradientAxis.Y)
    assert compute_dvhs(dose, []) == ()


def test_batch_with_only_failing_rois_reports_each_error() -> None:
    dose, rois = _phantom_set(3.0, GradientAxis.Y)
    outcomes = compute_dvhs(dose, rois[-2:])
    assert [o.dvh for o in outcomes] == [None, None]
    assert all(isinstance(o.error, GeometryError) for o in outcomes)
