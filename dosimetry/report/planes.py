"""Axial, sagittal and coronal CT planes with the dose interpolated onto them (for isodose overlays).

Conventions (DICOM patient LPS, canonical arrays (z, y, x) with increasing coordinates):

* axial plane at ``z``: rows run along +y (anterior to posterior), columns along +x (patient right
  to left). Drawn with ``flip_vertical=True`` so anterior is at the top and the patient's right on
  the image's left (radiological view).
* sagittal plane at ``x``: rows along +z (inferior to superior), columns along +y (anterior on
  the left). Drawn with superior at the top.
* coronal plane at ``y``: rows along +z, columns along +x (patient right on the image's left),
  superior at the top.

The dose is trilinearly interpolated from the dose grid onto the CT voxel centres of the plane;
CT voxels outside the dose grid get 0 Gy (display only). ROI outlines come from the occupancy of the
ROI on the CT grid (:func:`dosimetry.dvh.rasterise_roi`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from dosimetry.dose import DoseGrid
from dosimetry.dvh.endcaps import DEFAULT_END_CAP, EndCapConvention
from dosimetry.dvh.rasterise import fine_window, geometry_for_grid, iter_fine_occupancy
from dosimetry.errors import ArgumentError
from dosimetry.grid import RectilinearGrid
from dosimetry.structures import Roi

FloatArray = npt.NDArray[np.float64]


class PlaneAxis(StrEnum):
    AXIAL = "axial"
    SAGITTAL = "sagittal"
    CORONAL = "coronal"


@dataclass(frozen=True, eq=False)
class CtPlane:
    """One displayed plane: CT (HU) and dose (Gy) on the CT pixels, image extent and how to draw it."""

    axis: PlaneAxis
    position_mm: float  # z (axial), x (sagittal) or y (coronal) of the plane
    index: int  # CT voxel index along the plane normal
    ct_hu: FloatArray
    dose_gy: FloatArray
    extent_mm: tuple[float, float, float, float]
    axis_labels: tuple[str, str]
    flip_vertical: bool

    def take(self, volume_zyx: FloatArray | BoxedOccupancy) -> FloatArray:
        """The same plane of another (z, y, x) array on the CT grid (e.g. an ROI occupancy)."""
        if isinstance(volume_zyx, BoxedOccupancy):
            return volume_zyx.plane(self.axis, self.index)
        if self.axis is PlaneAxis.AXIAL:
            return np.asarray(volume_zyx[self.index])
        if self.axis is PlaneAxis.SAGITTAL:
            return np.asarray(volume_zyx[:, :, self.index])
        return np.asarray(volume_zyx[:, self.index, :])


@dataclass(frozen=True, eq=False)
class BoxedOccupancy:
    """An ROI occupancy on the CT grid kept as its bounding box only (zero outside it): a full-grid
    float64 array per drawn ROI held 80 MB each on a 256 x 256 x 160 CT, 3 GB for 40 ROIs."""

    shape_zyx: tuple[int, int, int]
    box: tuple[slice, slice, slice]
    values: FloatArray

    @classmethod
    def of(cls, occupancy_zyx: FloatArray) -> BoxedOccupancy:
        # the z range from one pass over the grid, then y and x within those slabs only (three
        # whole-grid comparisons were 0.9 s for the 39 ROIs of a 256 x 256 x 160 CT)
        empty = (slice(0, 0), slice(0, 0), slice(0, 0))
        z_used = np.flatnonzero(occupancy_zyx.reshape(occupancy_zyx.shape[0], -1).any(axis=1))
        if z_used.size == 0:
            return cls(occupancy_zyx.shape, empty, np.zeros((0, 0, 0)))  # type: ignore[arg-type]
        slabs = occupancy_zyx[int(z_used[0]) : int(z_used[-1]) + 1] != 0
        y_used = np.flatnonzero(slabs.any(axis=(0, 2)))
        x_used = np.flatnonzero(slabs.any(axis=(0, 1)))
        box = (
            slice(int(z_used[0]), int(z_used[-1]) + 1),
            slice(int(y_used[0]), int(y_used[-1]) + 1),
            slice(int(x_used[0]), int(x_used[-1]) + 1),
        )
        return cls(occupancy_zyx.shape, box, np.array(occupancy_zyx[box], dtype=np.float64))  # type: ignore[arg-type]

    @classmethod
    def of_roi(cls, roi: Roi, grid: RectilinearGrid, end_cap: EndCapConvention = DEFAULT_END_CAP) -> BoxedOccupancy:
        """``BoxedOccupancy.of(rasterise_roi(roi, grid).occupancy)`` (the same values in every
        plane) without the full-grid array: the slices :func:`~dosimetry.dvh.rasterise.iter_fine_occupancy`
        yields (what ``rasterise_roi`` writes into the grid) go straight into a box of the ROI's
        window. Measured reason (issue 20, 39 ROIs on a 256 x 256 x 160 CT): the full-grid
        occupancy, its sum and the box search were 0.2 s of the 0.44 s the overlays' rasterisation took.
        ``end_cap``: the convention of the analysis (the patient's DVHs). GeometryError as ``rasterise_roi``."""
        geometry = geometry_for_grid(roi, grid, end_cap, None)
        pieces = list(iter_fine_occupancy(geometry, grid, 1))
        window = fine_window(geometry, grid)
        if not pieces or window is None:
            return cls(grid.shape_zyx, (slice(0, 0), slice(0, 0), slice(0, 0)), np.zeros((0, 0, 0)))
        y0, y1, x0, x1 = window
        k0, k1 = pieces[0].z_index, pieces[-1].z_index + 1
        values = np.zeros((k1 - k0, y1 - y0, x1 - x0))
        for piece in pieces:
            values[piece.z_index - k0] = piece.occupancy[0]
        return cls(grid.shape_zyx, (slice(k0, k1), slice(y0, y1), slice(x0, x1)), values)

    def centroid_mm(self, grid: RectilinearGrid) -> tuple[float, float, float]:
        """:func:`occupancy_centroid_mm` of the full array, summed over the box only."""
        bz, by, bx = self.box
        weights = self.values * grid.voxel_volume_cc()[bz][:, None, None]
        total = float(weights.sum())
        if not total > 0:
            raise ArgumentError("occupancy_centroid_mm: the ROI has no volume on this grid")
        z = float((weights.sum(axis=(1, 2)) * grid.z_mm[bz]).sum() / total)
        y = float((weights.sum(axis=(0, 2)) * grid.y_mm[by]).sum() / total)
        x = float((weights.sum(axis=(0, 1)) * grid.x_mm[bx]).sum() / total)
        return x, y, z

    def plane(self, axis: PlaneAxis, index: int) -> FloatArray:
        """What ``CtPlane.take`` gives for the full array."""
        nz, ny, nx = self.shape_zyx
        bz, by, bx = self.box
        if axis is PlaneAxis.AXIAL:
            out = np.zeros((ny, nx))
            if bz.start <= index < bz.stop:
                out[by, bx] = self.values[index - bz.start]
        elif axis is PlaneAxis.SAGITTAL:
            out = np.zeros((nz, ny))
            if bx.start <= index < bx.stop:
                out[bz, by] = self.values[:, :, index - bx.start]
        else:
            out = np.zeros((nz, nx))
            if by.start <= index < by.stop:
                out[bz, bx] = self.values[:, index - by.start, :]
        return out


def may_cross(
    roi: Roi, grid: RectilinearGrid, *, axial: set[int], sagittal: int, coronal: int,
    end_cap: EndCapConvention = DEFAULT_END_CAP,
) -> bool:
    """False only when the ROI's occupancy on ``grid`` (as :meth:`BoxedOccupancy.of_roi`) is 0 on
    every given plane (axial slice indices ``axial``, the sagittal column ``sagittal``, the coronal
    row ``coronal``): the bound is the ROI's xy window (:func:`~dosimetry.dvh.rasterise.fine_window`,
    outside which the occupancy is 0) and the slices whose z extent meets its solid's z range.
    GeometryError as :meth:`BoxedOccupancy.of_roi`."""
    geometry = geometry_for_grid(roi, grid, end_cap, None)
    window = fine_window(geometry, grid)
    if window is None:
        return False
    z_lo, z_hi = geometry.z_range_mm
    ze = grid.z_edges_mm
    slices = np.flatnonzero((ze[:-1] < z_hi) & (ze[1:] > z_lo))
    if slices.size == 0:
        return False
    y0, y1, x0, x1 = window
    in_z = any(int(slices[0]) <= k <= int(slices[-1]) for k in axial)
    return in_z or x0 <= sagittal < x1 or y0 <= coronal < y1


def nearest_index(coords_mm: FloatArray, value_mm: float) -> int:
    return int(np.argmin(np.abs(np.asarray(coords_mm) - float(value_mm))))


def occupancy_centroid_mm(grid: RectilinearGrid, occupancy_zyx: FloatArray) -> tuple[float, float, float]:
    """Volume-weighted centroid (x, y, z) in mm of an occupancy array on ``grid``."""
    weights = np.asarray(occupancy_zyx, dtype=np.float64) * grid.voxel_volume_cc()[:, None, None]
    total = float(weights.sum())
    if not total > 0:
        raise ArgumentError("occupancy_centroid_mm: the ROI has no volume on this grid")
    z = float((weights.sum(axis=(1, 2)) * grid.z_mm).sum() / total)
    y = float((weights.sum(axis=(0, 2)) * grid.y_mm).sum() / total)
    x = float((weights.sum(axis=(0, 1)) * grid.x_mm).sum() / total)
    return x, y, z


def _dose_at(dose: DoseGrid, z: FloatArray, y: FloatArray, x: FloatArray) -> FloatArray:
    g = dose.grid
    axes = []
    values = np.asarray(dose.dose_gy, dtype=np.float64)
    # RegularGridInterpolator needs at least two points per axis: repeat a single slice.
    for coords, axis in ((g.z_mm, 0), (g.y_mm, 1), (g.x_mm, 2)):
        c = np.asarray(coords, dtype=np.float64)
        if c.size == 1:
            c = np.array([c[0] - 0.5, c[0] + 0.5])
            values = np.repeat(values, 2, axis=axis)
        axes.append(c)
    from scipy.interpolate import RegularGridInterpolator  # 0.1 s of imports only where a plane is sampled (issue 20)

    interpolator = RegularGridInterpolator(tuple(axes), values, bounds_error=False, fill_value=0.0)
    points = np.stack(np.broadcast_arrays(z, y, x), axis=-1)
    result = interpolator(points)
    return np.nan_to_num(result, nan=0.0)


def plane_unavailable(ct_grid: RectilinearGrid, axis: PlaneAxis, point_mm: tuple[float, float, float]) -> str | None:
    """Why the CT cannot show the plane of ``axis`` through ``point_mm`` (x, y, z), or None when it can.

    The plane needs at least two CT pixels along each of its own axes (a CT of one slice has no
    sagittal or coronal image: seen on a planning-system export whose CT series held one slice) and
    the point within the CT along the plane's normal (else :func:`ct_plane` would draw the CT's edge
    slice under a title naming another position)."""
    axis = PlaneAxis(axis)
    g = ct_grid
    names = {"x": g.x_mm.size, "y": g.y_mm.size, "z": g.z_mm.size}
    normal, in_plane = {
        PlaneAxis.AXIAL: ("z", ("y", "x")),
        PlaneAxis.SAGITTAL: ("x", ("z", "y")),
        PlaneAxis.CORONAL: ("y", ("z", "x")),
    }[axis]
    for name in in_plane:
        if names[name] < 2:
            return f"the CT has {names[name]} pixel(s) along {name} (a {axis.value} plane needs at least 2)"
    low, high = dict(zip("xyz", g.bounds_mm()))[normal]
    value = float(point_mm["xyz".index(normal)])
    if not min(low, high) <= value <= max(low, high):
        return f"{normal} = {value:.1f} mm lies outside the CT ({normal} from {min(low, high):.1f} to {max(low, high):.1f} mm)"
    return None


def ct_plane(
    ct_hu_zyx: FloatArray, ct_grid: RectilinearGrid, dose: DoseGrid, axis: PlaneAxis, point_mm: tuple[float, float, float]
) -> CtPlane:
    """The CT plane of ``axis`` through ``point_mm`` (x, y, z) with the dose interpolated onto it."""
    ct = np.asarray(ct_hu_zyx, dtype=np.float64)
    if ct.shape != ct_grid.shape_zyx:
        raise ArgumentError(f"CT array {ct.shape} does not match its grid {ct_grid.shape_zyx}")
    g = ct_grid
    x, y, z = point_mm
    xe, ye, ze = g.x_edges_mm, g.y_edges_mm, g.z_edges_mm
    axis = PlaneAxis(axis)
    if axis is PlaneAxis.AXIAL:
        k = nearest_index(g.z_mm, z)
        yy, xx = np.meshgrid(g.y_mm, g.x_mm, indexing="ij")
        dose_plane = _dose_at(dose, np.full_like(yy, g.z_mm[k]), yy, xx)
        return CtPlane(
            axis, float(g.z_mm[k]), k, ct[k], dose_plane,
            (float(xe[0]), float(xe[-1]), float(ye[-1]), float(ye[0])),
            ("x [mm] (patient right → left)", "y [mm] (anterior at top)"), True,
        )
    if axis is PlaneAxis.SAGITTAL:
        i = nearest_index(g.x_mm, x)
        zz, yy = np.meshgrid(g.z_mm, g.y_mm, indexing="ij")
        dose_plane = _dose_at(dose, zz, yy, np.full_like(zz, g.x_mm[i]))
        return CtPlane(
            axis, float(g.x_mm[i]), i, ct[:, :, i], dose_plane,
            (float(ye[0]), float(ye[-1]), float(ze[0]), float(ze[-1])),
            ("y [mm] (anterior → posterior)", "z [mm] (superior at top)"), False,
        )
    j = nearest_index(g.y_mm, y)
    zz, xx = np.meshgrid(g.z_mm, g.x_mm, indexing="ij")
    dose_plane = _dose_at(dose, zz, np.full_like(zz, g.y_mm[j]), xx)
    return CtPlane(
        axis, float(g.y_mm[j]), j, ct[:, j, :], dose_plane,
        (float(xe[0]), float(xe[-1]), float(ze[0]), float(ze[-1])),
        ("x [mm] (patient right → left)", "z [mm] (superior at top)"), False,
    )
