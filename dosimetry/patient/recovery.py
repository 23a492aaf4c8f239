"""A patient's recovery models: the interval between the courses and which model applies to which organ.

:func:`resolve_interval` reads both courses' dates (:mod:`dosimetry.radiobiology.interval`) or
takes ``--interval-months``; a time-dependent model without a usable date is a
:class:`~dosimetry.errors.RadiobiologyError` naming what is missing.

:func:`recovery_assignment` turns a :class:`~dosimetry.radiobiology.recovery.RecoverySelection`
into voxel masks: a per-organ key is a structure name (matched to the ROIs through the TG-263
synonyms of :mod:`dosimetry.constraints.naming`, as protocol keys are) or one of the organ classes
``serial`` / ``parallel`` (:data:`SERIAL_ORGANS`, :data:`PARALLEL_ORGANS`: the functional-subunit
architecture of Withers HR, Taylor JM, Maciejewski B. Int J Radiat Oncol Biol Phys
1988;14(4):751-759, as commonly applied; organs in neither class keep the default model). A name
wins over a class. Only organs at risk get an organ model (targets are reported on the current
course alone, as the protocol does; External/support ROIs are not evaluated).

An organ's mask is every voxel its contour touches (occupancy > 0) and their 26 neighbours (the DVH
engine interpolates the dose between voxels), so the organ's DVH samples its own model everywhere; where masks of organs with different models overlap, the model leaving the
most prior BED counts. A default-model organ sharing a boundary voxel with an organ that has its
own model sees that model there (only in such shared boundary voxels).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dosimetry.constraints.naming import NameMapper
from dosimetry.constraints.tables import Organ
from dosimetry.dvh import rasterise_roi
from dosimetry.errors import ArgumentError, DosimetryError, RadiobiologyError
from dosimetry.grid import RectilinearGrid
from dosimetry.radiobiology.alpha_beta import RoiRole, roi_role
from dosimetry.radiobiology.course import Course
from dosimetry.radiobiology.interval import CourseInterval, course_dates, course_interval, missing_dates_message
from dosimetry.radiobiology.recovery import JonesGrant2014, RecoveryModel, RecoverySelection
from dosimetry.radiobiology.summation import RecoveryAssignment
from dosimetry.structures import Roi

SERIAL_ORGANS = frozenset(
    {
        Organ.SPINAL_CORD, Organ.BRAIN_STEM, Organ.OPTIC_NERVE, Organ.OPTIC_CHIASM, Organ.CAUDA_EQUINA,
        Organ.BRACHIAL_PLEXUS, Organ.ESOPHAGUS, Organ.SMALL_INTESTINE, Organ.COLON, Organ.RECTUM,
    }
)
PARALLEL_ORGANS = frozenset({Organ.PAROTID, Organ.LUNG, Organ.LIVER, Organ.KIDNEY})
ORGAN_CLASSES = {"serial": SERIAL_ORGANS, "parallel": PARALLEL_ORGANS}


@dataclass(frozen=True)
class OrganModel:
    """The model an ROI gets and why (the per-organ key that matched, or "default")."""

    roi_name: str
    key: str
    model_label: str


def resolve_interval(current: Course, prior: Course | None, selection: RecoverySelection, override_months: float | None) -> CourseInterval | None:
    """The interval between the courses (None without a prior course or without dates when no
    model needs it); a model that needs it and finds no date raises, naming what is missing."""
    if prior is None:
        if override_months is not None:
            raise ArgumentError("--interval-months needs a prior course (prior/ sub-folder of PATIENT_DIR or --prior DIR)")
        return None
    prior_dates = course_dates(prior.folder, prior.plan.source_path, prior.dose_paths)
    current_dates = course_dates(current.folder, current.plan.source_path, current.dose_paths)
    interval = course_interval(prior_dates, current_dates, override_months=override_months)
    if interval is None and selection.needs_interval:
        needing = ", ".join(m.label for m in (*selection.models, *selection.alternatives) if m.needs_interval)
        raise RadiobiologyError(
            f"recovery model(s) {needing} need the interval between the courses: "
            f"{missing_dates_message(prior_dates, current_dates)}; give --interval-months"
        )
    return interval


def _key_matches(key: str, roi_name: str, mapper: NameMapper) -> bool:
    return mapper.map(key).match_key == mapper.map(roi_name).match_key


def organ_models(
    selection: RecoverySelection, rois: Sequence[Roi], mapper: NameMapper | None = None
) -> tuple[tuple[OrganModel, ...], dict[str, tuple[RecoveryModel, list[Roi]]]]:
    """Which ROI gets which per-organ model: one :class:`OrganModel` per ROI that is not a target,
    and the ROIs of each per-organ key (a key may match none: :func:`recovery_assignment` warns)."""
    mapper = mapper or NameMapper()
    by_key: dict[str, tuple[RecoveryModel, list[Roi]]] = {key: (model, []) for key, model in selection.per_organ}
    records: list[OrganModel] = []
    for roi in rois:
        if roi_role(roi) is not RoiRole.ORGAN_AT_RISK:
            continue
        chosen: str | None = None
        for key, _ in selection.per_organ:
            if key.lower() not in ORGAN_CLASSES and _key_matches(key, roi.name, mapper):
                chosen = key
                break
        if chosen is None:
            organ = mapper.map(roi.name).organ
            for key, _ in selection.per_organ:
                if key.lower() in ORGAN_CLASSES and organ in ORGAN_CLASSES[key.lower()]:
                    chosen = key
                    break
        if chosen is None:
            records.append(OrganModel(roi.name, "default", selection.default.label))
        else:
            by_key[chosen][1].append(roi)
            records.append(OrganModel(roi.name, chosen, by_key[chosen][0].label))
    return tuple(records), by_key


def recovery_assignment(
    selection: RecoverySelection,
    rois: Sequence[Roi],
    grid: RectilinearGrid,
    interval: CourseInterval | None,
    mapper: NameMapper | None = None,
) -> tuple[RecoveryAssignment, tuple[OrganModel, ...], tuple[str, ...]]:
    """The voxel assignment of the selection's models on ``grid``, the ROI -> model table and the
    warnings (an ROI that cannot be rasterised keeps the default model; an interval clamped by a model)."""
    records, by_key = organ_models(selection, rois, mapper)
    warnings: list[str] = []
    overrides = []
    for key, (model, matched) in by_key.items():
        if not matched:
            warnings.append(f"per-organ recovery key {key!r} ({model.label}) matches no organ-at-risk ROI; the default model applies")
            continue
        mask = np.zeros(grid.shape_zyx, dtype=bool)
        for roi in matched:
            try:
                mask |= rasterise_roi(roi, grid).occupancy > 0.0
            except DosimetryError as exc:
                warnings.append(f"recovery model {model.label} for {key!r}: ROI {roi.name!r} not rasterised, default model used there: {exc}")
        from scipy.ndimage import binary_dilation  # only per-organ recovery models need it: not imported by every analyze

        overrides.append((model, binary_dilation(mask, structure=np.ones((3, 3, 3), dtype=bool))))
    months = None if interval is None else interval.months
    if months is not None:
        for model in (*selection.models, *selection.alternatives):
            if isinstance(model, JonesGrant2014) and (note := model.interval_note(months)) is not None:
                warnings.append(note)
    return RecoveryAssignment(selection.default, tuple(overrides), months), records, tuple(dict.fromkeys(warnings))
