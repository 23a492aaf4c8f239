"""Isodose volumes (PIV), target volumes (TV) and their overlap (TV_PIV) with partial-volume accuracy.

Volumes inside an ROI come from the DVH engine's dose samples (:func:`dosimetry.dvh.roi_dose_samples`:
fractional ROI occupancy on the dose grid and sub-voxel trilinear dose samples), so an isodose volume
here has the same partial-volume accuracy as a DVH. The body region is the External ROI (RT ROI
Interpreted Type EXTERNAL). When the structure set has none, the whole dose grid is the body: it is
sampled the same way (``subdivisions``^3 trilinear sub-voxel samples per voxel, dose held constant
beyond the outermost voxel centres) and a warning names the volume used.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from dosimetry.dose import DoseGrid
from dosimetry.errors import ArgumentError, ConsistencyError, GeometryError
from dosimetry.structures import Roi, StructureSet

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

#: Sub-voxel samples per axis when the whole dose grid is the body (no External ROI).
DEFAULT_GRID_SUBDIVISIONS = 4

#: Names taken as the body outline when no ROI has the interpreted type EXTERNAL.
BODY_NAMES = ("EXTERNAL", "BODY", "SKIN", "OUTLINE")


@dataclass(frozen=True)
class RegionVolumes:
    """Volumes at or above a set of levels in one region (the target, or the body), cc.

    ``volumes_cc[i]`` is the volume receiving at least ``levels_gy[i]``; ``total_cc`` the region's
    volume and ``max_gy`` its maximum dose (of the samples the volumes come from).
    """

    description: str
    total_cc: float
    max_gy: float
    levels_gy: tuple[float, ...]
    volumes_cc: tuple[float, ...]
    warnings: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if len(self.levels_gy) != len(self.volumes_cc):
            raise ArgumentError("levels_gy and volumes_cc must have the same length")

    def at(self, level_gy: float) -> float:
        """The volume at or above ``level_gy`` (which must be one of the computed levels)."""
        for level, volume in zip(self.levels_gy, self.volumes_cc, strict=True):
            if math.isclose(level, level_gy, rel_tol=1e-12, abs_tol=1e-12):
                return volume
        raise ArgumentError(f"level {level_gy:g} Gy was not computed for {self.description}; have {self.levels_gy}")


def _check_levels(levels_gy: Sequence[float]) -> tuple[float, ...]:
    levels = tuple(float(level) for level in levels_gy)
    if not levels:
        raise ArgumentError("at least one dose level is needed")
    for level in levels:
        if not (math.isfinite(level) and level > 0.0):
            raise ArgumentError(f"dose levels must be finite and > 0 Gy, got {level!r}")
    return levels


def volumes_from_samples(
    description: str,
    dose_gy: npt.ArrayLike,
    volume_cc: npt.ArrayLike,
    levels_gy: Sequence[float],
    *,
    warnings: Sequence[str] = (),
) -> RegionVolumes:
    """Volumes at or above each level from weighted dose samples (``volume_cc`` per sample).

    An empty region (no samples or zero total volume) is a :class:`GeometryError`: no index of an
    empty target or body is meaningful.
    """
    levels = _check_levels(levels_gy)
    dose = np.asarray(dose_gy, dtype=np.float64).ravel()
    volume = np.asarray(volume_cc, dtype=np.float64).ravel()
    if dose.shape != volume.shape:
        raise ArgumentError(f"dose and volume samples differ in length: {dose.shape} vs {volume.shape}")
    total = float(volume.sum())
    if dose.size == 0 or not total > 0.0:
        raise GeometryError(f"{description} has no volume on the dose grid")
    order = np.argsort(dose)  # ascending
    sorted_dose = dose[order]
    # volume at or above sorted_dose[i] = sum of volume[order[i:]]
    tail = np.concatenate([np.cumsum(volume[order][::-1])[::-1], [0.0]])
    at_or_above = tuple(float(tail[np.searchsorted(sorted_dose, level, side="left")]) for level in levels)
    return RegionVolumes(
        description=description,
        total_cc=total,
        max_gy=float(sorted_dose[-1]),
        levels_gy=levels,
        volumes_cc=at_or_above,
        warnings=tuple(warnings),
    )


def roi_volumes(dose: DoseGrid, roi: Roi, levels_gy: Sequence[float]) -> RegionVolumes:
    """Volumes of ``roi`` at or above each level, from the DVH engine's partial-volume samples."""
    from dosimetry.dvh import roi_dose_samples

    samples = roi_dose_samples(dose, roi)
    warnings = tuple(getattr(samples, "warnings", ()))
    return volumes_from_samples(f"ROI {roi.name!r}", samples.dose_gy, samples.volume_cc, levels_gy, warnings=warnings)


def _axis_samples(centres_mm: FloatArray, edges_mm: FloatArray, subdivisions: int) -> tuple[npt.NDArray[np.intp], FloatArray]:
    """Lower neighbour index and weight of the upper neighbour for each sub-voxel sample."""
    n = centres_mm.size
    offsets = (np.arange(subdivisions) + 0.5) / subdivisions
    points = (edges_mm[:-1, None] + np.diff(edges_mm)[:, None] * offsets[None, :]).ravel()
    if n == 1:
        return np.zeros(points.size, dtype=np.intp), np.zeros(points.size)
    fractional = np.interp(points, centres_mm, np.arange(n, dtype=np.float64))  # clamps beyond the ends
    lower = np.minimum(np.floor(fractional).astype(np.intp), n - 2)
    return lower, fractional - lower


def _interpolate_axis(array: FloatArray, lower: npt.NDArray[np.intp], weight: FloatArray, axis: int) -> FloatArray:
    upper = np.minimum(lower + 1, array.shape[axis] - 1)
    a = np.take(array, lower, axis=axis)
    b = np.take(array, upper, axis=axis)
    shape = [1] * array.ndim
    shape[axis] = weight.size
    w = weight.reshape(shape)
    return a * (1.0 - w) + b * w


def grid_volumes(
    dose: DoseGrid, levels_gy: Sequence[float], *, subdivisions: int = DEFAULT_GRID_SUBDIVISIONS
) -> RegionVolumes:
    """Volumes of the whole dose grid at or above each level, with sub-voxel trilinear sampling.

    Each voxel is split into ``subdivisions``^3 equal sub-voxels whose dose is the trilinear
    interpolation of the voxel-centre doses at the sub-voxel centre (constant beyond the outermost
    centres). Processed one sub-plane at a time, so memory stays at a few planes.
    """
    levels = _check_levels(levels_gy)
    if not (isinstance(subdivisions, int) and 1 <= subdivisions <= 16):
        raise ArgumentError(f"subdivisions must be an integer in [1, 16], got {subdivisions!r}")
    grid = dose.grid
    zl, zw = _axis_samples(grid.z_mm, grid.z_edges_mm, subdivisions)
    yl, yw = _axis_samples(grid.y_mm, grid.y_edges_mm, subdivisions)
    xl, xw = _axis_samples(grid.x_mm, grid.x_edges_mm, subdivisions)
    sub_volume_cc = np.repeat(grid.voxel_volume_cc(), subdivisions) / subdivisions**3
    level_array = np.asarray(levels)
    counts = np.zeros((zl.size, level_array.size))
    cache: dict[int, FloatArray] = {}

    def plane(index: int) -> FloatArray:
        if index not in cache:
            if len(cache) > 4:
                cache.pop(min(cache))
            xy = _interpolate_axis(dose.dose_gy[index], yl, yw, axis=0)
            cache[index] = _interpolate_axis(xy, xl, xw, axis=1)
        return cache[index]

    dmax = 0.0
    nz = grid.shape_zyx[0]
    for k in range(zl.size):
        lower = int(zl[k])
        upper = min(lower + 1, nz - 1)
        w = float(zw[k])
        values = plane(lower) * (1.0 - w) + plane(upper) * w if w > 0.0 else plane(lower)
        dmax = max(dmax, float(values.max()))
        counts[k] = (values[..., None] >= level_array).sum(axis=(0, 1))
    volumes = (counts * sub_volume_cc[:, None]).sum(axis=0)
    total = grid.total_volume_cc()
    description = f"the whole dose grid ({total:.1f} cc)"
    return RegionVolumes(
        description=description,
        total_cc=total,
        max_gy=dmax,
        levels_gy=levels,
        volumes_cc=tuple(float(v) for v in volumes),
    )


def find_body(structures: StructureSet) -> Roi | None:
    """The External (body outline) ROI: interpreted type EXTERNAL, else a ROI named like one.

    Returns None only when there is genuinely none (the caller then uses the whole grid and warns);
    several EXTERNAL ROIs are a :class:`ConsistencyError` naming them.
    """
    externals = [r for r in structures.rois if r.interpreted_type.strip().upper() == "EXTERNAL" and not r.is_empty]
    if len(externals) == 1:
        return externals[0]
    where = f" in {structures.source_path}" if structures.source_path else ""
    if len(externals) > 1:
        raise ConsistencyError(
            f"several ROIs have RT ROI Interpreted Type EXTERNAL{where}: {[r.name for r in externals]}; "
            "give the body ROI explicitly"
        )
    named = [
        r for r in structures.rois
        if r.name.strip().upper() in BODY_NAMES and not r.interpreted_type.strip() and not r.is_empty
    ]
    if len(named) == 1:
        logger.info("no EXTERNAL interpreted type%s; using ROI %r as the body by its name", where, named[0].name)
        return named[0]
    return None


def body_volumes(
    dose: DoseGrid,
    body: Roi | None,
    levels_gy: Sequence[float],
    *,
    subdivisions: int = DEFAULT_GRID_SUBDIVISIONS,
) -> RegionVolumes:
    """Isodose volumes inside ``body``, or in the whole dose grid with a warning when it is None."""
    if body is not None:
        return roi_volumes(dose, body, levels_gy)
    whole = grid_volumes(dose, levels_gy, subdivisions=subdivisions)
    warning = (
        f"no External (body) ROI: isodose volumes (PIV) are counted in {whole.description}, which may include "
        "air and couch"
    )
    logger.warning("%s", warning)
    return RegionVolumes(
        description=whole.description,
        total_cc=whole.total_cc,
        max_gy=whole.max_gy,
        levels_gy=whole.levels_gy,
        volumes_cc=whole.volumes_cc,
        warnings=(warning,),
    )
