"""The report's overlay helpers rewritten for memory and time (issue 20) give what the whole-grid
expressions they replaced give.

Oracles: brute force on the whole grid -- the bounding box of ``np.nonzero`` and the full-array
plane for :class:`BoxedOccupancy`; ``np.minimum(now, cum - now)`` over the whole grid, its per-slab
sums and argmax for :func:`overlap_voxel` (the code before the change, written out here);
``rasterise_roi``'s full-grid occupancy, plane by plane, for :meth:`BoxedOccupancy.of_roi` and
:func:`may_cross`.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from dosimetry.dose import DoseGrid, DoseSummationType, DoseType
from dosimetry.dvh import rasterise_roi
from dosimetry.dvh.endcaps import EndCapConvention
from dosimetry.grid import RectilinearGrid
from dosimetry.report.figure_sections import overlap_voxel
from dosimetry.report.planes import BoxedOccupancy, PlaneAxis, may_cross, occupancy_centroid_mm
from dosimetry.structures import Contour, ContourGeometricType, Roi


@pytest.mark.parametrize("seed", range(6))
def test_boxed_occupancy_box_and_planes_equal_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(3, 12)), int(rng.integers(3, 15)), int(rng.integers(3, 15)))
    occ = np.zeros(shape)
    if seed:  # seed 0: an empty occupancy
        lo = [int(rng.integers(0, n)) for n in shape]
        hi = [int(rng.integers(a, n)) + 1 for a, n in zip(lo, shape, strict=True)]
        occ[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]] = rng.random((hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2])) > 0.4
        occ[tuple(int(rng.integers(0, n)) for n in shape)] = -0.0  # a negative zero is not occupied
    boxed = BoxedOccupancy.of(occ)
    nz = np.nonzero(occ)
    if nz[0].size == 0:
        assert boxed.values.size == 0
    else:
        expected = tuple(slice(int(a.min()), int(a.max()) + 1) for a in nz)
        assert boxed.box == expected
        assert np.array_equal(boxed.values, occ[expected])
    for axis, n, take in ((PlaneAxis.AXIAL, shape[0], lambda k: occ[k]), (PlaneAxis.SAGITTAL, shape[2], lambda k: occ[:, :, k]),
                          (PlaneAxis.CORONAL, shape[1], lambda k: occ[:, k, :])):
        for index in range(n):
            assert np.array_equal(boxed.plane(axis, index), take(index))


def _grid(values: np.ndarray) -> DoseGrid:
    nz, ny, nx = values.shape
    grid = RectilinearGrid.uniform((-10.0, -20.0, 5.0), (2.5, 2.0, 3.0), (nz, ny, nx))
    return DoseGrid(grid, values, DoseType.EFFECTIVE, DoseSummationType.PLAN, "1.2.3")


def _maps(now: np.ndarray, cumulative: np.ndarray) -> SimpleNamespace:
    current = SimpleNamespace(dose=_grid(now))
    total = SimpleNamespace(dose=_grid(cumulative))
    return SimpleNamespace(
        prior=object(), alpha_beta_late_gy=2.0, eqd2_late_cumulative_key="EQD2_2_cumulative",
        lq={"EQD2_2": current}, cumulative={"EQD2_2_cumulative": total},
    )


@pytest.mark.parametrize("n_slabs", [1, 15, 16, 17, 37])
def test_overlap_voxel_equals_the_whole_grid_expression(n_slabs: int) -> None:
    rng = np.random.default_rng(n_slabs)
    now = rng.random((n_slabs, 9, 7)) * 50.0
    cumulative = now + rng.random(now.shape) * 30.0 * (rng.random(now.shape) > 0.5)
    result = overlap_voxel(_maps(now, cumulative))  # type: ignore[arg-type]
    overlap = np.minimum(now, cumulative - now)
    k = int(np.argmax(overlap.sum(axis=(1, 2))))
    j, i = np.unravel_index(int(np.argmax(overlap[k])), overlap[k].shape)
    grid = _grid(now).grid
    assert result is not None
    point, label = result
    assert point == (float(grid.x_mm[i]), float(grid.y_mm[j]), float(grid.z_mm[k]))
    assert f"= {float(overlap[k, j, i]):.2f} Gy" in label


def test_overlap_voxel_none_without_overlap() -> None:
    now = np.full((20, 4, 5), 10.0)
    assert overlap_voxel(_maps(now, now.copy())) is None  # type: ignore[arg-type]


def _ellipse_roi(number: int, centre: tuple[float, float], radii: tuple[float, float], z_planes: list[float]) -> Roi:
    t = np.linspace(0.0, 2.0 * np.pi, 40, endpoint=False)
    contours = []
    for n, z in enumerate(z_planes):
        shrink = 1.0 - 0.15 * abs(n - len(z_planes) / 2) / len(z_planes)  # a little narrower towards the ends
        x = centre[0] + shrink * radii[0] * np.cos(t)
        y = centre[1] + shrink * radii[1] * np.sin(t)
        contours.append(Contour(np.column_stack([x, y, np.full(t.size, z)]), ContourGeometricType.CLOSED_PLANAR))
    return Roi(number, f"roi{number}", "ORGAN", tuple(contours))


_CT = RectilinearGrid.uniform((-30.0, -24.0, -12.0), (2.0, 2.0, 3.0), (12, 26, 31))
_ROIS = (
    _ellipse_roi(1, (0.3, 1.1), (9.0, 6.0), [-3.0, 0.0, 3.0, 6.0]),  # inside the grid
    _ellipse_roi(2, (-28.0, 20.0), (7.0, 9.0), [-13.5, -10.5]),  # over the grid's edges (x low, y high, z low)
    _ellipse_roi(3, (12.0, -8.0), (2.5, 1.5), [15.0]),  # one plane
)


@pytest.mark.parametrize("end_cap", list(EndCapConvention))
@pytest.mark.parametrize("roi", _ROIS, ids=lambda r: r.name)
def test_boxed_rasterisation_of_an_roi_equals_the_full_grid_rasteriser(roi: Roi, end_cap: EndCapConvention) -> None:
    """Oracle: ``rasterise_roi`` (the full-grid occupancy the overlays used) through ``BoxedOccupancy.of``,
    plane by plane along every axis, and ``occupancy_centroid_mm`` of the full array, under each end-cap
    convention (the report draws the outlines of the analysis's convention, ``load_patient(end_cap=...)``)."""
    full = rasterise_roi(roi, _CT, end_cap=end_cap).occupancy
    boxed = BoxedOccupancy.of_roi(roi, _CT, end_cap)
    for axis, n, take in ((PlaneAxis.AXIAL, _CT.shape_zyx[0], lambda k: full[k]),
                          (PlaneAxis.SAGITTAL, _CT.shape_zyx[2], lambda k: full[:, :, k]),
                          (PlaneAxis.CORONAL, _CT.shape_zyx[1], lambda k: full[:, k, :])):
        for index in range(n):
            assert np.array_equal(boxed.plane(axis, index), take(index)), (axis, index)
    assert (float(boxed.values.sum()) > 0) == (float(full.sum()) > 0)
    if float(full.sum()) > 0:
        assert boxed.centroid_mm(_CT) == pytest.approx(occupancy_centroid_mm(_CT, full), rel=0, abs=1e-9)


@pytest.mark.parametrize("end_cap", list(EndCapConvention))
@pytest.mark.parametrize("roi", _ROIS, ids=lambda r: r.name)
def test_an_roi_said_not_to_cross_a_plane_has_no_occupancy_there(roi: Roi, end_cap: EndCapConvention) -> None:
    """Oracle: brute force, the full-grid occupancy of ``rasterise_roi`` on each single plane (under each
    end-cap convention); and every plane with occupancy is said to be crossed (no outline is lost)."""
    full = rasterise_roi(roi, _CT, end_cap=end_cap).occupancy
    nz, ny, nx = _CT.shape_zyx
    outside = {"sagittal": nx + 5, "coronal": ny + 5}  # an index no ROI reaches
    for k in range(nz):
        crossed = may_cross(roi, _CT, axial={k}, sagittal=outside["sagittal"], coronal=outside["coronal"], end_cap=end_cap)
        assert crossed or not full[k].any(), k
    for i in range(nx):
        crossed = may_cross(roi, _CT, axial=set(), sagittal=i, coronal=outside["coronal"], end_cap=end_cap)
        assert crossed or not full[:, :, i].any(), i
    for j in range(ny):
        crossed = may_cross(roi, _CT, axial=set(), sagittal=outside["sagittal"], coronal=j, end_cap=end_cap)
        assert crossed or not full[:, j, :].any(), j
