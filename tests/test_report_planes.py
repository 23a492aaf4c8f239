"""CT planes for isodose overlays: orientation, dose interpolation (exact for a linear dose), centroid,
and the drawn overlay (anterior at the top of the axial view)."""

from __future__ import annotations

import io

import matplotlib.image as mpimg
import numpy as np
import pytest

from dosimetry.dose import DoseGrid, DoseSummationType, DoseType
from dosimetry.grid import RectilinearGrid
from dosimetry.report import isodose_overlay_png
from dosimetry.report.planes import PlaneAxis, ct_plane, occupancy_centroid_mm

CT_GRID = RectilinearGrid.uniform((-20.0, -30.0, -10.0), (2.0, 2.0, 2.5), (9, 31, 21))  # z, y, x shape
DOSE_GRID = RectilinearGrid.uniform((-15.0, -25.0, -8.0), (3.0, 3.0, 3.0), (6, 17, 11))


def _linear_dose() -> DoseGrid:
    z, y, x = np.meshgrid(DOSE_GRID.z_mm, DOSE_GRID.y_mm, DOSE_GRID.x_mm, indexing="ij")
    return DoseGrid(
        grid=DOSE_GRID, dose_gy=10.0 + 0.5 * x - 0.25 * y + 0.1 * z, dose_type=DoseType.PHYSICAL,
        summation_type=DoseSummationType.PLAN, frame_of_reference_uid="1.2.3",
    )


def _ct() -> np.ndarray:
    z, y, x = np.meshgrid(CT_GRID.z_mm, CT_GRID.y_mm, CT_GRID.x_mm, indexing="ij")
    return 1000.0 * x + 10.0 * y + 0.01 * z  # each voxel encodes its own position


@pytest.mark.parametrize("axis", list(PlaneAxis))
def test_planes_take_the_right_voxels_and_interpolate_linear_dose_exactly(axis: PlaneAxis) -> None:
    point = (3.1, -4.2, 1.4)
    plane = ct_plane(_ct(), CT_GRID, _linear_dose(), axis, point)
    g = CT_GRID
    if axis is PlaneAxis.AXIAL:
        zz, yy, xx = np.meshgrid([g.z_mm[plane.index]], g.y_mm, g.x_mm, indexing="ij")
        assert plane.position_mm == pytest.approx(2.5) and plane.flip_vertical
        # extent (left, right, bottom, top): top edge is the smallest y (anterior at the top)
        assert plane.extent_mm == (g.x_edges_mm[0], g.x_edges_mm[-1], g.y_edges_mm[-1], g.y_edges_mm[0])
    elif axis is PlaneAxis.SAGITTAL:
        zz, yy, xx = np.meshgrid(g.z_mm, g.y_mm, [g.x_mm[plane.index]], indexing="ij")
        assert plane.position_mm == pytest.approx(4.0) and not plane.flip_vertical
    else:
        zz, yy, xx = np.meshgrid(g.z_mm, [g.y_mm[plane.index]], g.x_mm, indexing="ij")
        assert plane.position_mm == pytest.approx(-4.0) and not plane.flip_vertical
    expected_ct = np.squeeze(1000.0 * xx + 10.0 * yy + 0.01 * zz)
    np.testing.assert_allclose(plane.ct_hu, expected_ct)
    expected_dose = np.squeeze(10.0 + 0.5 * xx - 0.25 * yy + 0.1 * zz)
    inside = (
        (np.squeeze(xx) >= DOSE_GRID.x_mm[0]) & (np.squeeze(xx) <= DOSE_GRID.x_mm[-1])
        & (np.squeeze(yy) >= DOSE_GRID.y_mm[0]) & (np.squeeze(yy) <= DOSE_GRID.y_mm[-1])
        & (np.squeeze(zz) >= DOSE_GRID.z_mm[0]) & (np.squeeze(zz) <= DOSE_GRID.z_mm[-1])
    )
    assert inside.sum() > 20
    np.testing.assert_allclose(plane.dose_gy[inside], expected_dose[inside], atol=1e-9)
    assert np.all(plane.dose_gy[~inside] == 0.0)


def test_centroid_of_a_box_occupancy() -> None:
    occupancy = np.zeros(CT_GRID.shape_zyx)
    occupancy[2:5, 10:14, 4:9] = 1.0
    x, y, z = occupancy_centroid_mm(CT_GRID, occupancy)
    assert (x, y, z) == pytest.approx((float(CT_GRID.x_mm[4:9].mean()), float(CT_GRID.y_mm[10:14].mean()), float(CT_GRID.z_mm[2:5].mean())))


def test_axial_overlay_puts_anterior_at_the_top() -> None:
    """A dose blob in the anterior half (small y) must be drawn in the upper half of the image."""
    y, x = np.meshgrid(np.linspace(-49.5, 49.5, 100), np.linspace(-49.5, 49.5, 100), indexing="ij")  # rows: increasing y
    dose = 60.0 * np.exp(-((x - 0.0) ** 2 + (y + 30.0) ** 2) / (2 * 6.0**2))  # centred at y = -30 (anterior)
    png = isodose_overlay_png(
        np.full_like(dose, -1000.0), dose, extent_mm=(-50.0, 50.0, 50.0, -50.0), reference_gy=50.0, contours=[],
        title="", axis_labels=("x", "y"), flip_vertical=True,
    )
    image = mpimg.imread(io.BytesIO(png))
    red = (image[..., 0] > 0.6) & (image[..., 1] < 0.45) & (image[..., 2] < 0.45)
    rows = np.nonzero(red.any(axis=1))[0]
    assert rows.size > 0
    assert rows.mean() < image.shape[0] * 0.45, "the anterior dose blob should be drawn near the top"
