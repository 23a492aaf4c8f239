"""Isodose volumes (PIV), target volumes (TV) and their overlap (TV_PIV) with partial-volume accuracy.

Volumes inside an ROI come from the DVH engine's dose samples (:func:`dosimetry.dvh.roi_dose_samples`:
fractional ROI occupancy on the dose grid and sub-voxel trilinear dose samples), so an isodose volume
here has the same partial-volume accuracy as a DVH. The body region is the External ROI (RT ROI
Interpreted Type EXTERNAL), counted where it lies inside the dose grid (a body outline usually extends
beyond the grid; that is not a warning). When the structure set has none, the whole dose grid is the
body: the engine samples it as the interior of a box enclosing the grid, and a warning names the
volume used.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from dosimetry.dose import DoseGrid
from dosimetry.dvh import DoseSamples, roi_dose_samples
from dosimetry.dvh.endcaps import DEFAULT_END_CAP, EndCapConvention
from dosimetry.errors import ArgumentError, ConsistencyError, GeometryError
from dosimetry.structures import Contour, ContourGeometricType, Roi, StructureSet

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

#: Names taken as the body outline when no ROI has the interpreted type EXTERNAL.
BODY_NAMES = ("EXTERNAL", "BODY", "SKIN", "OUTLINE")


@dataclass(frozen=True)
class RegionVolumes:
    """Volumes at or above a set of levels in one region (the target, or the body), cc.

    ``volumes_cc[i]`` is the volume receiving at least ``levels_gy[i]``; ``total_cc`` the region's
    volume (from its contours), ``in_grid_cc`` the part of it inside the dose grid (where the dose is
    known) and ``max_gy`` its maximum dose (of the samples the volumes come from, including half the
    engine's dose spread of the hottest sample).
    """

    description: str
    total_cc: float
    in_grid_cc: float
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


def volumes_from_samples(description: str, samples: DoseSamples, levels_gy: Sequence[float]) -> RegionVolumes:
    """Volumes at or above each level from the DVH engine's samples of one ROI.

    ``total_cc`` is the ROI volume from its contours, ``in_grid_cc`` the part inside the dose grid
    (the only part whose dose is known). Each volume is the engine's partial-volume
    ``volume_at_or_above`` (sub-voxel samples with their dose spread), so it agrees with the DVH.
    An ROI with no volume inside the grid is a :class:`GeometryError`.
    """
    levels = _check_levels(levels_gy)
    if samples.weight_cc.size == 0 or not samples.volume_in_grid_cc > 0.0:
        raise GeometryError(
            f"{description} has no volume inside the dose grid (contour volume {samples.volume_cc:.4g} cc)"
        )
    return RegionVolumes(
        description=description,
        total_cc=float(samples.volume_cc),
        # From the engine's own (noise-filtered) outside volume, so that a target wholly inside the
        # grid has in_grid_cc == total_cc exactly.
        in_grid_cc=float(samples.volume_cc) - float(samples.volume_outside_grid_cc),
        max_gy=samples.max_gy,
        levels_gy=levels,
        volumes_cc=tuple(samples.volume_at_or_above(level) for level in levels),
        warnings=tuple(samples.warnings),
    )


def roi_volumes(dose: DoseGrid, roi: Roi, levels_gy: Sequence[float]) -> RegionVolumes:
    """Volumes of ``roi`` at or above each level (see :func:`volumes_from_samples`)."""
    return volumes_from_samples(f"ROI {roi.name!r}", roi_dose_samples(dose, roi), levels_gy)


def grid_box_roi(dose: DoseGrid) -> Roi:
    """A box ROI enclosing the whole dose grid with a margin, so that the DVH engine sees every
    voxel as fully inside it (planes uniformly spaced at the finest slice spacing, 1 mm beyond the
    grid in x and y and one plane spacing beyond it in z). The same object for grids with the same
    bounds and finest slice, so that its geometry is built once per analysis (see
    :func:`dosimetry.dvh.rasterise.geometry_for_grid`)."""
    grid = dose.grid
    (x0, x1), (y0, y1), (z0, z1) = grid.bounds_mm()
    return _box_roi((float(x0), float(x1), float(y0), float(y1), float(z0), float(z1)), float(grid.slice_thickness_mm.min()))


@functools.lru_cache(maxsize=8)
def _box_roi(bounds_mm: tuple[float, float, float, float, float, float], step_mm: float) -> Roi:
    x0, x1, y0, y1, z0, z1 = bounds_mm
    planes = np.arange(z0 - step_mm, z1 + 1.5 * step_mm, step_mm)
    corners = np.array([[x0 - 1.0, y0 - 1.0], [x1 + 1.0, y0 - 1.0], [x1 + 1.0, y1 + 1.0], [x0 - 1.0, y1 + 1.0]])
    contours = tuple(
        Contour(np.column_stack([corners, np.full(4, z)]), ContourGeometricType.CLOSED_PLANAR) for z in planes
    )
    return Roi(number=-1, name="whole dose grid", interpreted_type="", contours=contours)


def grid_volumes(dose: DoseGrid, levels_gy: Sequence[float]) -> RegionVolumes:
    """Volumes of the whole dose grid at or above each level, sampled by the DVH engine exactly as an
    ROI interior (the trilinear voxel mean, or sub-samples where the dose is steep: one dose model for
    every ROI), so that they are consistent with the ROI volumes they are compared with."""
    samples = roi_dose_samples(dose, grid_box_roi(dose))
    total = float(samples.volume_in_grid_cc)
    levels = _check_levels(levels_gy)
    return RegionVolumes(
        description=f"the whole dose grid ({total:.1f} cc)",
        total_cc=total,
        in_grid_cc=total,
        max_gy=samples.max_gy,
        levels_gy=levels,
        volumes_cc=tuple(samples.volume_at_or_above(level) for level in levels),
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
    end_cap: EndCapConvention = DEFAULT_END_CAP,
    samples: DoseSamples | None = None,
) -> RegionVolumes:
    """Isodose volumes inside ``body`` (closed under ``end_cap``) (its part inside the dose grid, where the dose is known), or
    in the whole dose grid with a warning when ``body`` is None. ``samples``: the body's
    :func:`~dosimetry.dvh.roi_dose_samples` on ``dose`` under ``end_cap`` when already computed
    (measured reason, issue 20: sampling the body outline of the clinical case costs 0.25 s CPU,
    and the facade's DVH stage has just done it on the planned dose)."""
    if body is not None:
        if samples is None:
            samples = roi_dose_samples(dose, body, end_cap=end_cap)
        region = volumes_from_samples(f"ROI {body.name!r}", samples, levels_gy)
        if samples.volume_outside_grid_cc > 0.0:
            # Normal for a body outline: the dose grid covers the irradiated part only.
            description = (
                f"ROI {body.name!r} inside the dose grid ({samples.volume_in_grid_cc:.1f} of "
                f"{samples.volume_cc:.1f} cc)"
            )
            notes = tuple(w for w in samples.warnings if "outside the dose grid" not in w)
            return RegionVolumes(description, region.total_cc, region.in_grid_cc, region.max_gy,
                                 region.levels_gy, region.volumes_cc, notes)
        return region
    whole = grid_volumes(dose, levels_gy)
    warning = (
        f"no External (body) ROI: isodose volumes (PIV) are counted in {whole.description}, which may include "
        "air and couch"
    )
    logger.warning("%s", warning)
    return RegionVolumes(
        description=whole.description,
        total_cc=whole.total_cc,
        in_grid_cc=whole.in_grid_cc,
        max_gy=whole.max_gy,
        levels_gy=whole.levels_gy,
        volumes_cc=whole.volumes_cc,
        warnings=(warning,),
    )
