"""From DICOM image geometry (ImageOrientationPatient, ImagePositionPatient, PixelSpacing, frame
offsets) to the canonical :class:`~dosimetry.grid.RectilinearGrid`.

An axis-aligned image stack is a permutation of the patient axes with a sign per axis, so it can be
brought to canonical (z, y, x) order with increasing coordinates by transposing and flipping the
array: exact, no interpolation. This covers the eight standard patient positions (HFS, HFP, FFS,
FFP, HFDL, HFDR, FFDL, FFDR), whose transverse images differ only in the signs and order of the
row and column directions. Oblique orientations (direction cosines that are not, within
:data:`COSINE_TOLERANCE`, a signed unit axis) are refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from typing import TypeVar

import numpy as np
import numpy.typing as npt

from dosimetry.errors import GeometryError, UnsupportedDataError
from dosimetry.grid import RectilinearGrid

_Scalar = TypeVar("_Scalar", bound=np.generic)

#: Largest deviation of a direction-cosine component from 0 or +-1 accepted as axis-aligned.
#: 1e-4 keeps the position error below 0.05 mm across a 500 mm grid.
COSINE_TOLERANCE = 1e-4

#: ImageOrientationPatient of transverse images in the eight standard patient positions.
STANDARD_ORIENTATIONS: dict[str, tuple[float, float, float, float, float, float]] = {
    "HFS": (1, 0, 0, 0, 1, 0),
    "HFP": (-1, 0, 0, 0, -1, 0),
    "FFS": (-1, 0, 0, 0, 1, 0),
    "FFP": (1, 0, 0, 0, -1, 0),
    "HFDL": (0, -1, 0, 1, 0, 0),
    "HFDR": (0, 1, 0, -1, 0, 0),
    "FFDL": (0, 1, 0, 1, 0, 0),
    "FFDR": (0, -1, 0, -1, 0, 0),
}

_AXIS_NAMES = ("x", "y", "z")


@dataclass(frozen=True)
class AxisMap:
    """Which patient axis (0 x, 1 y, 2 z) and sign each array axis (frame, row, column) follows."""

    frame_axis: int
    frame_sign: int
    row_axis: int  # moving down the rows (increasing row index) follows the column direction cosine
    row_sign: int
    column_axis: int  # moving along a row follows the row direction cosine
    column_sign: int


def _signed_axis(cosines: npt.NDArray[np.float64], label: str, path: Path) -> tuple[int, int]:
    index = int(np.argmax(np.abs(cosines)))
    expected = np.zeros(3)
    expected[index] = np.sign(cosines[index])
    if not np.allclose(cosines, expected, atol=COSINE_TOLERANCE, rtol=0):
        raise UnsupportedDataError(
            f"{path}: (0020,0037) ImageOrientationPatient {label} direction {cosines.tolist()} is oblique; "
            f"only axis-aligned grids (the eight standard patient positions) are supported"
        )
    return index, int(expected[index])


def axis_map(orientation: list[float], path: Path) -> AxisMap:
    """Map of the array axes onto patient axes; UnsupportedDataError for oblique orientations."""
    iop = np.asarray(orientation, dtype=np.float64)
    row_cos, col_cos = iop[:3], iop[3:]
    column_axis, column_sign = _signed_axis(row_cos, "row", path)
    row_axis, row_sign = _signed_axis(col_cos, "column", path)
    if column_axis == row_axis:
        raise UnsupportedDataError(
            f"{path}: (0020,0037) ImageOrientationPatient {iop.tolist()} has parallel row and column directions"
        )
    normal = np.cross(np.eye(3)[column_axis] * column_sign, np.eye(3)[row_axis] * row_sign)
    frame_axis = int(np.argmax(np.abs(normal)))
    return AxisMap(frame_axis, int(np.sign(normal[frame_axis])), row_axis, row_sign, column_axis, column_sign)


def orientation_name(orientation: list[float]) -> str:
    """The standard patient position whose transverse orientation this is, or "" (any other)."""
    iop = np.asarray(orientation, dtype=np.float64)
    for name, ref in STANDARD_ORIENTATIONS.items():
        if np.allclose(iop, ref, atol=COSINE_TOLERANCE, rtol=0):
            return name
    return ""


@dataclass(frozen=True, eq=False)
class CanonicalLayout:
    """How to bring a (frame, row, column) array to canonical (z, y, x): transpose, then flip."""

    grid: RectilinearGrid
    transpose_order: tuple[int, int, int]
    flip_axes: tuple[int, ...]

    def apply(self, array_frc: npt.NDArray[_Scalar]) -> npt.NDArray[_Scalar]:
        data = np.transpose(array_frc, self.transpose_order)
        if self.flip_axes:
            data = np.flip(data, axis=self.flip_axes)
        return np.ascontiguousarray(data)


def canonical_layout(
    shape_frc: tuple[int, int, int],
    *,
    position_mm: list[float],
    pixel_spacing_mm: list[float],
    frame_positions_mm: npt.NDArray[np.float64],
    amap: AxisMap,
    path: Path,
    single_slice_thickness_mm: float | None,
) -> CanonicalLayout:
    """The canonical grid of a (frame, row, column) stack and how to reorder its array.

    ``frame_positions_mm`` are the coordinates of the frames along the patient axis
    ``amap.frame_axis`` (already absolute). ``pixel_spacing_mm`` is DICOM PixelSpacing:
    (spacing between rows, spacing between columns).
    """
    n_frames, n_rows, n_cols = shape_frc
    row_spacing, col_spacing = float(pixel_spacing_mm[0]), float(pixel_spacing_mm[1])
    if not (row_spacing > 0 and col_spacing > 0):
        raise GeometryError(f"{path}: (0028,0030) PixelSpacing {pixel_spacing_mm} must be positive")
    frame_positions = np.asarray(frame_positions_mm, dtype=np.float64)
    if frame_positions.size != n_frames:
        raise GeometryError(f"{path}: {frame_positions.size} frame positions for {n_frames} frames")
    coords: dict[int, npt.NDArray[np.float64]] = {
        amap.column_axis: np.asarray(position_mm[amap.column_axis] + amap.column_sign * col_spacing * np.arange(n_cols), dtype=np.float64),
        amap.row_axis: np.asarray(position_mm[amap.row_axis] + amap.row_sign * row_spacing * np.arange(n_rows), dtype=np.float64),
        amap.frame_axis: frame_positions,
    }
    if amap.frame_axis != 2:
        if n_frames == 1:
            raise UnsupportedDataError(f"{path}: a single sagittal or coronal plane cannot be represented as a 3-D grid")
        steps = np.diff(frame_positions)
        if not np.allclose(steps, steps[0], rtol=1e-4, atol=1e-6):
            raise UnsupportedDataError(
                f"{path}: sagittal or coronal planes with non-uniform spacing; only transverse planes may be unevenly spaced"
            )
    array_axis_of = {amap.frame_axis: 0, amap.row_axis: 1, amap.column_axis: 2}
    order = (array_axis_of[2], array_axis_of[1], array_axis_of[0])  # z, y, x
    flips: list[int] = []
    canonical: list[npt.NDArray[np.float64]] = []
    for out_axis, patient_axis in enumerate((2, 1, 0)):
        c = coords[patient_axis]
        if c.size > 1:
            steps = np.diff(c)
            if np.all(steps < 0):
                c = c[::-1]
                flips.append(out_axis)
            elif not np.all(steps > 0):
                raise GeometryError(
                    f"{path}: {_AXIS_NAMES[patient_axis]} coordinates of the planes are not strictly monotonic "
                    f"(repeated or unordered planes): {np.round(c, 3).tolist()[:8]}"
                )
        canonical.append(c)
    z, y, x = canonical
    thickness = single_slice_thickness_mm if z.size == 1 else None
    try:
        grid = RectilinearGrid(x_mm=x, y_mm=y, z_mm=z, single_slice_thickness_mm=thickness)
    except GeometryError as exc:
        raise GeometryError(f"{path}: {exc}") from None
    return CanonicalLayout(grid=grid, transpose_order=order, flip_axes=tuple(flips))
