"""An ROI geometry passed to ``roi_dose_samples`` keeps its sampling plan (the dose-independent part:
polygon moments, boundary pieces, interior voxels) and reuses it on every dose map of the same grid
(issue 20). The samples must be exactly those of a fresh computation: on the sample patient's ROIs
(External included), on several maps of one grid (the planned dose, an LQ-like nonlinear map
whose steep voxels differ, a map on an equal but distinct grid object), with the automatic, an
odd and an even supersampling factor, with and without spreads, on a different grid (a plan of
its own) and for ROIs reaching past the outermost voxel centres (their prepared boundary pieces
take the border nodes' range). The batch API is unchanged by it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from dosimetry.dose import DoseGrid
from dosimetry.dvh import _roi_samples, compute_dvh, roi_dose_samples, roi_dose_samples_batch
from dosimetry.dvh.curve import dvh_from_samples
from dosimetry.dvh._boundary import _PreparedPieces
from dosimetry.dvh.endcaps import DEFAULT_END_CAP
from dosimetry.dvh.rasterise import geometry_for_grid
from dosimetry.dvh.sampling import DoseSamples, release_grid_caches, release_sampling_plans
from dosimetry.errors import ArgumentError
from dosimetry.grid import RectilinearGrid
from dosimetry.io import load_dose, load_structure_set
from tests.dvh_helpers import box_roi, dose_from, uniform_grid

CURRENT = Path(__file__).resolve().parents[1] / "sample_data" / "patient01" / "current"


def _assert_same(a: DoseSamples, b: DoseSamples) -> None:
    np.testing.assert_array_equal(a.dose_gy, b.dose_gy)
    np.testing.assert_array_equal(a.weight_cc, b.weight_cc)
    np.testing.assert_array_equal(a.spread_gy, b.spread_gy)
    for name in ("volume_cc", "volume_in_grid_cc", "volume_outside_grid_cc", "end_cap", "supersample", "warnings"):
        assert getattr(a, name) == getattr(b, name), name


@pytest.fixture(scope="module")
def patient() -> tuple[DoseGrid, list]:  # type: ignore[type-arg]
    dose = load_dose(CURRENT / "RD_patient01.dcm")
    rois = [r for r in load_structure_set(CURRENT / "RS_patient01.dcm").rois if r.closed_planar_contours]
    return dose, rois


def _maps(dose: DoseGrid) -> list[DoseGrid]:
    d = dose.dose_gy
    lq_like = d + d * d / 9.0  # nonlinear: other steep voxels than the planned dose
    same_values = RectilinearGrid(dose.grid.x_mm.copy(), dose.grid.y_mm.copy(), dose.grid.z_mm.copy(),
                                  dose.grid.single_slice_thickness_mm)
    return [
        dose,
        dataclasses.replace(dose, dose_gy=lq_like),
        dataclasses.replace(dose, dose_gy=0.5 * d),
        dataclasses.replace(dose, grid=same_values, dose_gy=np.sqrt(d)),
    ]


@pytest.mark.parametrize(("supersample", "spread"), [(None, True), (3, True), (2, False)])
def test_plan_reused_across_maps_gives_fresh_samples(
    patient: tuple[DoseGrid, list], supersample: int | None, spread: bool  # type: ignore[type-arg]
) -> None:
    dose, rois = patient
    maps = _maps(dose)
    for roi in rois:
        geometry = geometry_for_grid(roi, dose.grid, DEFAULT_END_CAP, None)
        for dose_map in maps:
            reused = roi_dose_samples(dose_map, roi, geometry=geometry, supersample=supersample, spread=spread)
            fresh = roi_dose_samples(dose_map, roi, supersample=supersample, spread=spread)
            _assert_same(reused, fresh)
        # one plan per grid object and supersampling request, made once for all its maps
        assert _roi_samples._PLANS[dose.grid][(id(geometry), supersample)][0] is geometry
    for dose_map in maps:
        release_grid_caches(dose_map)
    release_sampling_plans(dose.grid)
    assert dose.grid not in _roi_samples._PLANS


def test_plan_made_again_on_another_grid(patient: tuple[DoseGrid, list]) -> None:  # type: ignore[type-arg]
    dose, rois = patient
    grid = dose.grid
    shifted = RectilinearGrid(grid.x_mm + 0.7, grid.y_mm - 1.3, grid.z_mm, grid.single_slice_thickness_mm)
    other = dataclasses.replace(dose, grid=shifted)
    for roi in rois[:6]:
        geometry = geometry_for_grid(roi, grid, DEFAULT_END_CAP, None)
        roi_dose_samples(dose, roi, geometry=geometry)
        _assert_same(roi_dose_samples(other, roi, geometry=geometry), roi_dose_samples(other, roi, geometry=None))
        assert (id(geometry), None) in _roi_samples._PLANS[shifted]
    release_sampling_plans(shifted)
    release_sampling_plans(grid)


def test_plans_do_not_change_the_batch(patient: tuple[DoseGrid, list]) -> None:  # type: ignore[type-arg]
    dose, rois = patient
    for item, roi in zip(roi_dose_samples_batch(dose, rois), rois, strict=True):
        assert item.samples is not None
        geometry = geometry_for_grid(roi, dose.grid, DEFAULT_END_CAP, None)
        roi_dose_samples(dose, roi, geometry=geometry)  # a plan made first
        _assert_same(item.samples, roi_dose_samples(dose, roi, geometry=geometry))


def test_bad_supersample_still_raises_with_a_cached_plan(patient: tuple[DoseGrid, list]) -> None:  # type: ignore[type-arg]
    dose, rois = patient
    geometry = geometry_for_grid(rois[0], dose.grid, DEFAULT_END_CAP, None)
    roi_dose_samples(dose, rois[0], geometry=geometry)
    for bad in (0, 9, 2.5, True):
        with pytest.raises(ArgumentError, match="supersample"):
            roi_dose_samples(dose, rois[0], geometry=geometry, supersample=bad)  # type: ignore[arg-type]


def test_pieces_beyond_the_outermost_centres() -> None:
    """An ROI reaching past the grid's outermost voxel centres (and out of the grid): its pieces
    there take their dose range from the border nodes; reused plans give the fresh samples."""
    grid = uniform_grid((0.0, 0.0, 0.0), (2.5, 2.5, 3.0), (6, 8, 9))
    maps = [
        dose_from(grid, lambda x, y, z: 1.0 + 0.3 * x + 0.05 * y * y - 0.2 * z),
        dose_from(grid, lambda x, y, z: np.exp(-((x - 9.0) ** 2 + (y - 8.0) ** 2) / 40.0) * (1.0 + 0.1 * z)),
    ]
    rois = [
        box_roi(-3.0, 7.3, -2.0, 6.1, [-2.0, 1.0, 4.0, 7.0], name="corner"),
        box_roi(12.2, 24.0, 10.4, 21.0, [9.0, 12.0, 15.0, 18.0], name="far corner", number=2),
    ]
    for roi in rois:
        geometry = geometry_for_grid(roi, grid, DEFAULT_END_CAP, None)
        for dose in maps:
            for supersample in (None, 4):
                reused = roi_dose_samples(dose, roi, geometry=geometry, supersample=supersample)
                assert reused.dose_gy.size
                _assert_same(reused, roi_dose_samples(dose, roi, supersample=supersample))
        prepared = _roi_samples._PLANS[grid][(id(geometry), None)][1]
        assert prepared.slices is not None and isinstance(prepared.slices.pieces, _PreparedPieces)
        assert prepared.slices.pieces.beyond_rows.size > 0


def test_keep_plan_false_keeps_no_new_plan(patient: tuple[DoseGrid, list]) -> None:  # type: ignore[type-arg]
    """A geometry sampled on one map only (the convention sensitivity) keeps no plan, uses one
    already kept, and gives the same samples either way."""
    dose, rois = patient
    grid = dose.grid
    release_sampling_plans(grid)
    roi = rois[0]
    geometry = geometry_for_grid(roi, grid, DEFAULT_END_CAP, None)
    once = roi_dose_samples(dose, roi, geometry=geometry, keep_plan=False)
    assert grid not in _roi_samples._PLANS or (id(geometry), None) not in _roi_samples._PLANS[grid]
    _assert_same(once, roi_dose_samples(dose, roi))
    kept = roi_dose_samples(dose, roi, geometry=geometry)
    plan = _roi_samples._PLANS[grid][(id(geometry), None)][1]
    _assert_same(roi_dose_samples(dose, roi, geometry=geometry, keep_plan=False), kept)
    assert _roi_samples._PLANS[grid][(id(geometry), None)][1] is plan
    release_sampling_plans(grid)


def test_sampling_without_a_geometry_uses_a_kept_plan(patient: tuple[DoseGrid, list]) -> None:  # type: ignore[type-arg]
    """roi_dose_samples / compute_dvh without a geometry (the recovery comparison, the indices)
    use the plan kept for the memoised geometry on the grid, keep none of their own, and give the
    samples they give with no plan kept; the batch ignores kept plans."""
    dose, rois = patient
    grid = dose.grid
    other = dataclasses.replace(dose, dose_gy=dose.dose_gy * 1.3 + 0.1)
    release_sampling_plans(grid)
    fresh = {roi.name: roi_dose_samples(other, roi) for roi in rois}
    assert grid not in _roi_samples._PLANS
    for roi in rois:
        roi_dose_samples(dose, roi, geometry=geometry_for_grid(roi, grid, DEFAULT_END_CAP, None))  # keeps a plan
    kept = dict(_roi_samples._PLANS[grid])
    for roi in rois:
        _assert_same(roi_dose_samples(other, roi), fresh[roi.name])
        dvh = compute_dvh(other, roi)
        expected = dvh_from_samples(fresh[roi.name], roi_name=roi.name, roi_number=roi.number)
        np.testing.assert_array_equal(dvh.cumulative_cc, expected.cumulative_cc)
        assert (dvh.mean_gy, dvh.median_gy, dvh.max_gy) == (expected.mean_gy, expected.median_gy, expected.max_gy)
    assert _roi_samples._PLANS[grid] == kept
    for item, roi in zip(roi_dose_samples_batch(other, rois), rois, strict=True):
        assert item.samples is not None
        _assert_same(item.samples, fresh[roi.name])
    release_sampling_plans(grid)

