"""Cross-check against dicompyler-core 0.5.6 (run in .venv-baseline) on the sample patient.

dicompyler-core's default ``get_dvh`` differs from this engine by construction, so agreement is
checked within tolerances derived from those differences:

* Volume. dicompyler counts the dose-grid voxel *centres* inside each contour (no partial
  volumes), times pixel area, times the plane spacing (each plane a full slab, like our half-slab
  convention, which is therefore named in every call here; the default, shape, differs from both
  by construction and is judged against true solids in tests/test_dvh_shape.py), and only over
  the dose grid's in-plane footprint. Its error against the exact stacked-slab volume is therefore bounded by the band of half a pixel diagonal on each side of
  the contour: |dV| <= sum over planes of perimeter x (pixel diagonal / 2) x slab thickness. We
  compare with our volume clipped to the same in-plane footprint (exact pixel coverage of each
  plane over the dose grid's x-y extent, times the slab thickness).
* Mean dose. dicompyler samples the dose at voxel centres inside the contour on each contour plane
  (dose interpolated between dose planes); we integrate the trilinear dose over the exact partial
  volumes. For small ROIs in steep gradients its few voxels give a different mean (optic nerves:
  ~0.5 Gy at 3 mm voxels). Besides, a voxel's trilinear mean differs from its centre value by the
  discrete curvature (d_- + d_+ - 2 d)/8 along each axis; where contour planes lie on dose planes
  (as here) dicompyler uses the centre values in z. Tolerance: 1 % of the plan's maximum dose plus
  the ROI's occupancy-weighted mean of that curvature term (computed here from the dose grid with
  a [1, 6, 1] / 8 filter, independently of the engine: 0.27, 0.48 and 0.52 Gy for OpticNrv_L,
  OpticNrv_R and OpticChiasm, -0.27 Gy for the PTV, below 0.04 Gy elsewhere).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks.baseline.bridge import dicompyler_dvh
from dosimetry.dvh import EndCapConvention, compute_dvh, rasterise_roi
from dosimetry.dvh.planar import pixel_coverage
from dosimetry.dvh.rasterise import geometry_for_grid
from dosimetry.io import load_dose, load_structure_set

CURRENT = Path(__file__).resolve().parents[1] / "sample_data" / "patient01" / "current"
RD = CURRENT / "RD_patient01.dcm"
RS = CURRENT / "RS_patient01.dcm"


@pytest.fixture(scope="module")
def both() -> tuple[dict, dict, object]:  # type: ignore[type-arg]
    assert RD.exists() and RS.exists(), f"sample patient missing in {CURRENT} (run 'dosimetry sample-data')"
    dose = load_dose(RD)
    ss = load_structure_set(RS)
    ours = {roi.name: (roi, compute_dvh(dose, roi, end_cap=EndCapConvention.HALF_SLAB)) for roi in ss.rois}
    theirs = {s["name"]: s for s in dicompyler_dvh(RD, RS)["structures"]}
    return ours, theirs, dose


def _footprint_volume_cc(roi, dose) -> float:  # type: ignore[no-untyped-def]
    """Exact volume of the ROI's slab solid inside the dose grid's in-plane footprint."""
    grid = dose.grid
    geometry = geometry_for_grid(roi, grid, EndCapConvention.HALF_SLAB, None)
    x0, y0 = grid.x_edges_mm[0], grid.y_edges_mm[0]
    total = 0.0
    for section, thickness in zip(geometry.sections, geometry.slabs.thickness_mm, strict=True):
        polys = [((x - x0) / grid.spacing_x_mm, (y - y0) / grid.spacing_y_mm) for x, y in section.polygons]
        area = np.clip(pixel_coverage(polys, list(section.signs), grid.x_mm.size, grid.y_mm.size), 0, 1).sum()
        total += area * grid.spacing_x_mm * grid.spacing_y_mm * float(thickness)
    return total / 1000.0


def _band_bound_cc(roi, dose) -> float:  # type: ignore[no-untyped-def]
    grid = dose.grid
    geometry = geometry_for_grid(roi, grid, EndCapConvention.HALF_SLAB, None)
    half_diagonal = 0.5 * float(np.hypot(grid.spacing_x_mm, grid.spacing_y_mm))
    total = 0.0
    for section, thickness in zip(geometry.sections, geometry.slabs.thickness_mm, strict=True):
        perimeter = sum(float(np.sum(np.hypot(np.diff(np.append(x, x[0])), np.diff(np.append(y, y[0]))))) for x, y in section.polygons)
        total += perimeter * half_diagonal * float(thickness)
    return total / 1000.0


def test_every_roi_is_evaluated_by_both(both) -> None:  # type: ignore[no-untyped-def]
    ours, theirs, _ = both
    assert set(ours) == set(theirs)
    assert len(ours) >= 10
    assert "External" in ours


def test_volumes_agree_within_the_centre_inclusion_band(both) -> None:  # type: ignore[no-untyped-def]
    ours, theirs, dose = both
    for name, (roi, dvh) in ours.items():
        footprint = _footprint_volume_cc(roi, dose)
        assert footprint <= dvh.volume_cc * (1 + 1e-9)
        bound = _band_bound_cc(roi, dose)
        difference = abs(theirs[name]["volume_cc"] - footprint)
        assert difference <= bound, f"{name}: ours {footprint:.3f} cc, dicompyler {theirs[name]['volume_cc']:.3f} cc, bound {bound:.3f}"


def _voxel_mean_minus_centre(dose) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Trilinear mean over each voxel minus its centre value (uniform grid: [1, 6, 1] / 8 per axis,
    the dose held constant beyond the outermost centres)."""
    mean = np.asarray(dose.dose_gy, dtype=np.float64)
    for axis in range(3):
        padded = np.pad(mean, [(1, 1) if a == axis else (0, 0) for a in range(3)], mode="edge")
        lower = np.take(padded, np.arange(0, mean.shape[axis]), axis=axis)
        upper = np.take(padded, np.arange(2, mean.shape[axis] + 2), axis=axis)
        mean = (lower + 6 * mean + upper) / 8
    return mean - dose.dose_gy


def test_mean_doses_agree_within_one_percent_of_max(both) -> None:  # type: ignore[no-untyped-def]
    ours, theirs, dose = both
    assert np.allclose(np.diff(dose.grid.z_mm), dose.grid.z_mm[1] - dose.grid.z_mm[0])  # uniform (the filter's premise)
    curvature = _voxel_mean_minus_centre(dose)
    for name, (roi, dvh) in ours.items():
        theirs_mean = theirs[name]["mean_gy"]
        assert theirs_mean is not None
        weights = rasterise_roi(roi, dose.grid, end_cap=EndCapConvention.HALF_SLAB).voxel_volumes_cc()
        systematic = abs(float((weights * curvature).sum() / weights.sum()))
        tolerance = 0.01 * dose.max_gy + systematic
        assert abs(dvh.mean_gy - theirs_mean) <= tolerance, (
            f"{name}: ours {dvh.mean_gy:.3f}, dicompyler {theirs_mean:.3f}, tolerance {tolerance:.3f}"
        )


def test_large_rois_agree_closely(both) -> None:  # type: ignore[no-untyped-def]
    # for ROIs of tens of cc the centre-inclusion error averages out: within 3 % in volume
    ours, theirs, dose = both
    for name, (roi, dvh) in ours.items():
        if dvh.volume_cc < 10 or name == "External":
            continue
        footprint = _footprint_volume_cc(roi, dose)
        assert abs(theirs[name]["volume_cc"] / footprint - 1) < 0.03, name
