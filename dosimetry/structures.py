"""RT Structure Set content as value objects (coordinates LPS, mm)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import numpy as np
import numpy.typing as npt

from dosimetry.errors import DicomContentError, GeometryError


class ContourGeometricType(StrEnum):
    """DICOM (3006,0042) ContourGeometricType."""

    POINT = "POINT"
    OPEN_PLANAR = "OPEN_PLANAR"
    OPEN_NONPLANAR = "OPEN_NONPLANAR"
    CLOSED_PLANAR = "CLOSED_PLANAR"


def _read_only_throughout(array: object) -> bool:
    """Is ``array`` a C-contiguous float64 ndarray that nobody can write through: read-only
    itself, and every array it is a view of too, down to memory it owns or immutable bytes?"""
    if type(array) is not np.ndarray or array.dtype != np.float64:
        return False
    if array.flags.writeable or not array.flags.c_contiguous:
        return False
    base = array.base
    while isinstance(base, np.ndarray):
        if base.flags.writeable:
            return False
        base = base.base
    return base is None or isinstance(base, bytes)


@dataclass(frozen=True, eq=False)
class Contour:
    """One contour: ``points_mm`` is an (N, 3) read-only C-contiguous float64 array of LPS coordinates.

    The points are copied, except an array already read-only throughout (itself and whatever it is
    a view of, e.g. a slice of a read-only array of all contours' points, as the RS reader gives):
    that one is kept as given, since nobody can write through it."""

    points_mm: npt.NDArray[np.float64]
    geometric_type: ContourGeometricType

    def __post_init__(self) -> None:
        given = self.points_mm
        points = given if _read_only_throughout(given) else np.array(given, dtype=np.float64)
        if points.ndim != 2 or points.shape[1] != 3 or points.shape[0] == 0:
            raise GeometryError(f"contour points must have shape (N, 3) with N >= 1, got {points.shape}")
        if points is not given:
            points.flags.writeable = False
        object.__setattr__(self, "points_mm", points)

    @property
    def z_mm(self) -> float:
        """Plane of a planar contour (mean z of its points; ``np.mean``'s sum over the count,
        without its overhead)."""
        z = self.points_mm[:, 2]
        return float(np.add.reduce(z) / z.size)


@dataclass(frozen=True, eq=False)
class Roi:
    """A region of interest with its contours.

    ``interpreted_type`` is the RT ROI Interpreted Type (EXTERNAL, PTV, CTV, GTV, ORGAN, AVOIDANCE,
    ...), or "" when the file gives none. ``color_rgb`` is the ROI Display Color or None.
    """

    number: int
    name: str
    interpreted_type: str
    contours: tuple[Contour, ...]
    color_rgb: tuple[int, int, int] | None = None
    frame_of_reference_uid: str = ""

    @property
    def closed_planar_contours(self) -> tuple[Contour, ...]:
        return tuple(c for c in self.contours if c.geometric_type is ContourGeometricType.CLOSED_PLANAR)

    @property
    def is_empty(self) -> bool:
        return len(self.contours) == 0

    def contour_planes_mm(self) -> npt.NDArray[np.float64]:
        """Sorted unique z planes of the closed planar contours, mm (rounded to 1e-3 mm)."""
        planes = {round(c.z_mm, 3) for c in self.closed_planar_contours}
        return np.array(sorted(planes), dtype=np.float64)


@dataclass(frozen=True, eq=False)
class StructureSet:
    rois: tuple[Roi, ...]
    frame_of_reference_uid: str
    sop_instance_uid: str = ""
    label: str = ""
    referenced_series_uid: str | None = None
    source_path: Path | None = None
    warnings: tuple[str, ...] = field(default=())

    @property
    def roi_names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.rois)

    def roi(self, name: str) -> Roi:
        """The ROI named ``name`` (exact match first, then case-insensitive); raises when absent."""
        for roi in self.rois:
            if roi.name == name:
                return roi
        matches = [r for r in self.rois if r.name.casefold() == name.casefold()]
        if len(matches) == 1:
            return matches[0]
        where = f" in {self.source_path}" if self.source_path else ""
        if len(matches) > 1:
            raise DicomContentError(f"ROI name {name!r} is ambiguous{where}: {[r.name for r in matches]}")
        raise DicomContentError(f"no ROI named {name!r}{where}; ROIs present: {list(self.roi_names)}")
