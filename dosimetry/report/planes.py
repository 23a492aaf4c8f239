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

import itertools
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

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


def plane_index(axis: PlaneAxis, index: int) -> tuple[int | slice, ...]:
    """The index of the plane ``index`` of ``axis`` in a (z, y, x) array (what :meth:`CtPlane.take` takes)."""
    axis = PlaneAxis(axis)
    if axis is PlaneAxis.AXIAL:
        return (index,)
    if axis is PlaneAxis.SAGITTAL:
        return (slice(None), slice(None), index)
    return (slice(None), index)


class CtSource(Protocol):
    """A CT that gives the HU of a plane on request (:func:`ct_plane`), e.g. the overlays' scene's
    (:class:`~dosimetry.report.overlay_scene.SceneCt`), instead of a whole HU volume."""

    @property
    def shape_zyx(self) -> tuple[int, int, int]: ...

    def plane_hu(self, axis: PlaneAxis, index: int) -> FloatArray:
        """The HU of the plane ``index`` of ``axis`` (:func:`plane_index`): a 2-D float64 array."""
        ...


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


@dataclass(frozen=True, eq=False)
class DoseBlock:
    """The part of a dose grid the interpolation onto one CT plane reads: the grid's coordinates
    (``z_mm``, ``y_mm``, ``x_mm``) with those along the plane's normal cut to the planes around it,
    and the dose there (``dose_gy``, (z, y, x)). Made by :func:`dose_block`.

    Measured reason (issue 20, clinical case): the render process drawing the overlays held the
    whole planned dose (80 MiB as float64) for the run to sample a few planes of it; a block is
    at most 5 dose planes (2.6 MiB on a 256 x 256 grid)."""

    z_mm: FloatArray
    y_mm: FloatArray
    x_mm: FloatArray
    dose_gy: FloatArray


#: Dose grid planes kept on each side of the one below a CT plane (:func:`dose_block`): the
#: interpolation reads the planes below and above it; one more on each side keeps the interval it
#: finds the same as in the whole grid also for a CT plane exactly on a dose plane.
_BLOCK_MARGIN = 2


def plane_coordinate_mm(ct_grid: RectilinearGrid, axis: PlaneAxis, point_mm: tuple[float, float, float]) -> float:
    """The coordinate along the plane's normal of the CT plane :func:`ct_plane` draws through ``point_mm``."""
    x, y, z = point_mm
    axis = PlaneAxis(axis)
    if axis is PlaneAxis.AXIAL:
        return float(ct_grid.z_mm[nearest_index(ct_grid.z_mm, z)])
    if axis is PlaneAxis.SAGITTAL:
        return float(ct_grid.x_mm[nearest_index(ct_grid.x_mm, x)])
    return float(ct_grid.y_mm[nearest_index(ct_grid.y_mm, y)])


def dose_block(dose: DoseGrid, ct_grid: RectilinearGrid, axis: PlaneAxis, point_mm: tuple[float, float, float]) -> DoseBlock:
    """The :class:`DoseBlock` of ``dose`` that :func:`ct_plane` on ``ct_grid`` through ``point_mm``
    interpolates from (its own copy: the whole grid need not be kept). The dose on the plane is the
    same as from the whole grid, bit for bit: the same trilinear interpolation finds the same interval
    of the same coordinates (the planes below and above the CT plane are in the block, with
    :data:`_BLOCK_MARGIN` more on each side unless the grid ends there) and weighs the same values;
    a CT plane outside the dose grid is outside the block too (the block then reaches the grid's end)."""
    axis = PlaneAxis(axis)
    normal = {PlaneAxis.AXIAL: 0, PlaneAxis.CORONAL: 1, PlaneAxis.SAGITTAL: 2}[axis]
    g = dose.grid
    coords = [np.asarray(c, dtype=np.float64) for c in (g.z_mm, g.y_mm, g.x_mm)]
    along = coords[normal]
    below = int(np.searchsorted(along, plane_coordinate_mm(ct_grid, axis, point_mm), side="right")) - 1
    lo, hi = max(0, below - _BLOCK_MARGIN), min(along.size, below + 2 + _BLOCK_MARGIN)
    cut = [slice(None)] * 3
    cut[normal] = slice(lo, hi)
    coords[normal] = along[lo:hi].copy()
    values = np.array(np.asarray(dose.dose_gy, dtype=np.float64)[tuple(cut)], dtype=np.float64, order="C")
    return DoseBlock(coords[0], coords[1], coords[2], values)


def _dose_at(dose: DoseBlock, z: FloatArray, y: FloatArray, x: FloatArray) -> FloatArray:
    """The dose of ``dose`` trilinearly interpolated at the points (``z``, ``y``, ``x``: arrays of one
    shape), 0 outside the grid: scipy's ``RegularGridInterpolator(method="linear", bounds_error=False,
    fill_value=0.0)`` (scipy 1.17), in its operations and their order, hence its numbers (tested
    against it, ``tests/test_report_scene_memory.py``): per axis the interval i with
    c[i] <= p < c[i + 1] (clipped to the grid's first and last), the distance (p - c[i]) / (c[i + 1] - c[i]),
    then the sum of the 8 corners' values times their weights' product, corner after corner.

    Measured reason (issue 20, clinical case): importing scipy.interpolate added 14 MiB (and about
    0.1 s CPU) to the render process drawing the overlays, whose resident memory counts in the run's
    summed peak; nothing else there imports it."""
    values = np.asarray(dose.dose_gy, dtype=np.float64)
    axes = []
    # a single slice is repeated half a millimetre either side (as two points are needed per axis)
    for coords, axis in ((dose.z_mm, 0), (dose.y_mm, 1), (dose.x_mm, 2)):
        c = np.asarray(coords, dtype=np.float64)
        if c.size == 1:
            c = np.array([c[0] - 0.5, c[0] + 0.5])
            values = np.repeat(values, 2, axis=axis)
        if not np.all(np.diff(c) > 0):
            raise ArgumentError(f"dose block: the coordinates along axis {axis} are not strictly ascending")
        axes.append(c)
    points = np.broadcast_arrays(np.asarray(z, dtype=np.float64), np.asarray(y, dtype=np.float64), np.asarray(x, dtype=np.float64))
    shape = points[0].shape
    lower: list[npt.NDArray[np.intp]] = []
    distances: list[FloatArray] = []
    outside = np.zeros(points[0].size, dtype=bool)
    for p, c in zip((q.reshape(-1) for q in points), axes, strict=True):
        i = np.clip(np.searchsorted(c, p, side="right") - 1, 0, c.size - 2)
        lower.append(i)
        distances.append((p - c[i]) / (c[i + 1] - c[i]))
        outside |= (p < c[0]) | (p > c[-1])
    below = [1 - d for d in distances]
    result = np.array([0.0])
    for corner in itertools.product((0, 1), repeat=3):
        weight = np.array([1.0])
        for axis, upper in enumerate(corner):
            weight = weight * (distances[axis] if upper else below[axis])
        result = result + values[lower[0] + corner[0], lower[1] + corner[1], lower[2] + corner[2]] * weight
    result[outside] = 0.0
    return np.nan_to_num(result.reshape(shape), nan=0.0)


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
    ct_hu_zyx: FloatArray | CtSource, ct_grid: RectilinearGrid, dose: DoseGrid | DoseBlock, axis: PlaneAxis,
    point_mm: tuple[float, float, float],
) -> CtPlane:
    """The CT plane of ``axis`` through ``point_mm`` (x, y, z) with the dose interpolated onto it.
    ``ct_hu_zyx``: the HU volume, or a :class:`CtSource` giving the plane's HU; ``dose``: the dose
    grid, or the :func:`dose_block` of it for this plane (the same dose on the plane)."""
    if isinstance(ct_hu_zyx, np.ndarray):
        ct = np.asarray(ct_hu_zyx, dtype=np.float64)
        shape: tuple[int, ...] = ct.shape
        source: CtSource | None = None
    else:
        ct, shape, source = np.empty((0, 0, 0)), ct_hu_zyx.shape_zyx, ct_hu_zyx
    if shape != ct_grid.shape_zyx:
        raise ArgumentError(f"CT array {shape} does not match its grid {ct_grid.shape_zyx}")
    block = dose if isinstance(dose, DoseBlock) else dose_block(dose, ct_grid, axis, point_mm)

    def hu(axis: PlaneAxis, index: int) -> FloatArray:
        return source.plane_hu(axis, index) if source is not None else ct[plane_index(axis, index)]

    g = ct_grid
    x, y, z = point_mm
    xe, ye, ze = g.x_edges_mm, g.y_edges_mm, g.z_edges_mm
    axis = PlaneAxis(axis)
    if axis is PlaneAxis.AXIAL:
        k = nearest_index(g.z_mm, z)
        yy, xx = np.meshgrid(g.y_mm, g.x_mm, indexing="ij")
        dose_plane = _dose_at(block, np.full_like(yy, g.z_mm[k]), yy, xx)
        return CtPlane(
            axis, float(g.z_mm[k]), k, hu(axis, k), dose_plane,
            (float(xe[0]), float(xe[-1]), float(ye[-1]), float(ye[0])),
            ("x [mm] (patient right → left)", "y [mm] (anterior at top)"), True,
        )
    if axis is PlaneAxis.SAGITTAL:
        i = nearest_index(g.x_mm, x)
        zz, yy = np.meshgrid(g.z_mm, g.y_mm, indexing="ij")
        dose_plane = _dose_at(block, zz, yy, np.full_like(zz, g.x_mm[i]))
        return CtPlane(
            axis, float(g.x_mm[i]), i, hu(axis, i), dose_plane,
            (float(ye[0]), float(ye[-1]), float(ze[0]), float(ze[-1])),
            ("y [mm] (anterior → posterior)", "z [mm] (superior at top)"), False,
        )
    j = nearest_index(g.y_mm, y)
    zz, xx = np.meshgrid(g.z_mm, g.x_mm, indexing="ij")
    dose_plane = _dose_at(block, zz, np.full_like(zz, g.y_mm[j]), xx)
    return CtPlane(
        axis, float(g.y_mm[j]), j, hu(axis, j), dose_plane,
        (float(xe[0]), float(xe[-1]), float(ze[0]), float(ze[-1])),
        ("x [mm] (patient right → left)", "z [mm] (superior at top)"), False,
    )
