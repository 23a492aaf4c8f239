"""Rectilinear voxel grids in DICOM patient coordinates (LPS, mm).

Loaders bring every axis-aligned grid (any of the eight standard patient orientations) to one
canonical form: array axis order ``(z, y, x)`` with voxel-centre coordinate vectors ``x_mm``,
``y_mm`` and ``z_mm`` that all *increase* along their array axis. Flipping or transposing an
axis-aligned array is exact, so nothing downstream needs direction cosines. ``x_mm`` and ``y_mm``
are uniformly spaced (DICOM PixelSpacing); ``z_mm`` may be non-uniform (GridFrameOffsetVector).

Voxel boundaries: half-way between neighbouring centres; the outer boundaries lie half of the
adjacent spacing beyond the first and last centres.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from dosimetry.errors import GeometryError

FloatArray = npt.NDArray[np.float64]

#: Relative tolerance used to decide whether spacings are uniform.
UNIFORM_SPACING_RTOL = 1e-4


def _readonly(values: npt.ArrayLike, name: str) -> FloatArray:
    array = np.array(values, dtype=np.float64)
    if array.ndim != 1 or array.size == 0:
        raise GeometryError(f"{name} must be a non-empty 1-D coordinate vector, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise GeometryError(f"{name} contains non-finite coordinates")
    if array.size > 1 and not np.all(np.diff(array) > 0):
        raise GeometryError(f"{name} must be strictly increasing (canonical grid), got {array[:5]}...")
    array.flags.writeable = False
    return array


def _boundaries(centres_mm: FloatArray) -> FloatArray:
    if centres_mm.size == 1:
        raise GeometryError("a grid axis with a single voxel has no defined thickness; give its spacing")
    mids = 0.5 * (centres_mm[1:] + centres_mm[:-1])
    first = centres_mm[0] - 0.5 * (centres_mm[1] - centres_mm[0])
    last = centres_mm[-1] + 0.5 * (centres_mm[-1] - centres_mm[-2])
    return np.concatenate([[first], mids, [last]])


@dataclass(frozen=True, eq=False)
class RectilinearGrid:
    """Voxel-centre coordinates of an axis-aligned grid, LPS mm, array order (z, y, x).

    ``single_slice_thickness_mm`` gives the thickness of a grid with a single z plane (DICOM
    SliceThickness); it is required only in that case.
    """

    x_mm: FloatArray
    y_mm: FloatArray
    z_mm: FloatArray
    single_slice_thickness_mm: float | None = None
    _x_edges: FloatArray = field(init=False, repr=False)
    _y_edges: FloatArray = field(init=False, repr=False)
    _z_edges: FloatArray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "x_mm", _readonly(self.x_mm, "x_mm"))
        object.__setattr__(self, "y_mm", _readonly(self.y_mm, "y_mm"))
        object.__setattr__(self, "z_mm", _readonly(self.z_mm, "z_mm"))
        for name in ("x_mm", "y_mm"):
            axis = getattr(self, name)
            if axis.size > 1:
                steps = np.diff(axis)
                if not np.allclose(steps, steps[0], rtol=UNIFORM_SPACING_RTOL, atol=1e-6):
                    raise GeometryError(f"{name} must be uniformly spaced (PixelSpacing), got steps {steps[:5]}")
        if self.z_mm.size == 1:
            if self.single_slice_thickness_mm is None or not self.single_slice_thickness_mm > 0:
                raise GeometryError(
                    "a single-slice grid needs single_slice_thickness_mm > 0 (DICOM SliceThickness)"
                )
            half = 0.5 * float(self.single_slice_thickness_mm)
            z_edges = np.array([self.z_mm[0] - half, self.z_mm[0] + half])
        else:
            z_edges = _boundaries(self.z_mm)
        object.__setattr__(self, "_x_edges", _boundaries(self.x_mm))
        object.__setattr__(self, "_y_edges", _boundaries(self.y_mm))
        object.__setattr__(self, "_z_edges", z_edges)

    @property
    def shape_zyx(self) -> tuple[int, int, int]:
        return (self.z_mm.size, self.y_mm.size, self.x_mm.size)

    @property
    def spacing_x_mm(self) -> float:
        return float(self._x_edges[1] - self._x_edges[0])

    @property
    def spacing_y_mm(self) -> float:
        return float(self._y_edges[1] - self._y_edges[0])

    @property
    def z_is_uniform(self) -> bool:
        if self.z_mm.size < 3:
            return True
        steps = np.diff(self.z_mm)
        return bool(np.allclose(steps, steps[0], rtol=UNIFORM_SPACING_RTOL, atol=1e-6))

    @property
    def x_edges_mm(self) -> FloatArray:
        return self._x_edges.copy()

    @property
    def y_edges_mm(self) -> FloatArray:
        return self._y_edges.copy()

    @property
    def z_edges_mm(self) -> FloatArray:
        return self._z_edges.copy()

    @property
    def slice_thickness_mm(self) -> FloatArray:
        """Thickness of each z slab, mm (length nz)."""
        return np.diff(self._z_edges)

    def voxel_volume_cc(self) -> FloatArray:
        """Volume of the voxels of each z slab, cc (length nz); in-plane voxels share an area."""
        area_mm2 = self.spacing_x_mm * self.spacing_y_mm
        return area_mm2 * self.slice_thickness_mm / 1000.0

    def total_volume_cc(self) -> float:
        return float(self.voxel_volume_cc().sum() * self.x_mm.size * self.y_mm.size)

    def bounds_mm(self) -> tuple[tuple[float, float], tuple[float, float], tuple[float, float]]:
        """Outer voxel boundaries ((x0, x1), (y0, y1), (z0, z1)), mm."""
        return (
            (float(self._x_edges[0]), float(self._x_edges[-1])),
            (float(self._y_edges[0]), float(self._y_edges[-1])),
            (float(self._z_edges[0]), float(self._z_edges[-1])),
        )

    def same_as(self, other: RectilinearGrid, atol_mm: float = 1e-3) -> bool:
        """True when both grids have the same voxel centres within ``atol_mm``."""
        return (
            self.shape_zyx == other.shape_zyx
            and bool(np.allclose(self.x_mm, other.x_mm, atol=atol_mm, rtol=0))
            and bool(np.allclose(self.y_mm, other.y_mm, atol=atol_mm, rtol=0))
            and bool(np.allclose(self.z_mm, other.z_mm, atol=atol_mm, rtol=0))
        )

    @classmethod
    def uniform(
        cls,
        origin_mm: tuple[float, float, float],
        spacing_mm: tuple[float, float, float],
        shape_zyx: tuple[int, int, int],
    ) -> RectilinearGrid:
        """A uniform grid from the centre of its first voxel (x, y, z), spacing (x, y, z) and shape (z, y, x)."""
        if any(s <= 0 for s in spacing_mm):
            raise GeometryError(f"spacing_mm must be positive, got {spacing_mm}")
        if any(n <= 0 for n in shape_zyx):
            raise GeometryError(f"shape_zyx must be positive, got {shape_zyx}")
        nz, ny, nx = shape_zyx
        return cls(
            x_mm=np.asarray(origin_mm[0] + spacing_mm[0] * np.arange(nx), dtype=np.float64),
            y_mm=np.asarray(origin_mm[1] + spacing_mm[1] * np.arange(ny), dtype=np.float64),
            z_mm=np.asarray(origin_mm[2] + spacing_mm[2] * np.arange(nz), dtype=np.float64),
            single_slice_thickness_mm=spacing_mm[2] if nz == 1 else None,
        )
