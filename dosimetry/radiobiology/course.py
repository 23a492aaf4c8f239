"""One treatment course read from a folder: its RT Dose, RT (Ion) Plan, structure set and registrations.

Used by ``dosimetry accumulate``. The folder is scanned with :func:`dosimetry.io.discover`; it
must hold one course (one plan in one frame of reference) with one total RT Dose, or the BEAM doses
of that plan (summed), or both as planning systems export them: then the PLAN dose is used and the
BEAM doses are checked to sum to it (:func:`dosimetry.io.dose_reader.check_beam_sum`; the largest
difference and where it is are logged, and a difference beyond the documented tolerance
``BEAM_SUM_TOLERANCE_FRACTION`` is a warning of the course). Discovery findings (warnings and errors) travel with the course
as warnings.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dosimetry.dose import DoseGrid, DoseSummationType
from dosimetry.errors import ConsistencyError, InputFileError
from dosimetry.io import (
    discover,
    load_beam_doses,
    load_dose,
    load_registrations,
    load_structure_set,
    read_dose_header,
)
from dosimetry.io.dicom_file import CT_IMAGE, DEFORMABLE_SPATIAL_REGISTRATION, read_dicom, sop_class_uid
from dosimetry.io.dose_reader import BeamSumCheck, DoseHeader, check_beam_sum
from dosimetry.io.registration_reader import DeformableRegistration, deformable_registrations_from_dataset, registrations_from_dataset
from dosimetry.plan import Plan
from dosimetry.registration import RigidRegistration
from dosimetry.structures import StructureSet

if TYPE_CHECKING:
    from dosimetry.io.ct_reader import CtSeries
    from dosimetry.io.discovery import DicomFileEntry

logger = logging.getLogger(__name__)

RT_STRUCTURE_SET_STORAGE = "1.2.840.10008.5.1.4.1.1.481.3"


@dataclass(frozen=True, eq=False)
class Course:
    """One treatment course loaded for an analysis: its total dose in Gy, plan, registrations and
    structure set (discovery's :class:`dosimetry.io.CourseEntry` lists a course's files unloaded)."""

    folder: Path
    dose: DoseGrid
    dose_paths: tuple[Path, ...]
    plan: Plan
    registrations: tuple[RigidRegistration, ...] = ()
    structure_set_paths: tuple[Path, ...] = ()
    warnings: tuple[str, ...] = field(default=())
    linked_structure_set: StructureSet | None = None
    beam_sum_check: BeamSumCheck | None = None  # a PLAN dose exported with its BEAM doses
    deformable_registrations: tuple[DeformableRegistration, ...] = ()
    #: the folder's CT series as discovery assembled it, when it is the folder's only CT series and
    #: discovery skipped no file (then it is what :func:`dosimetry.io.load_ct_series` of the folder
    #: gives, without reading every header again: 0.4 s on 160 slices); else None
    ct_series: CtSeries | None = None

    def structure_set(self, *, argument: str) -> StructureSet:
        """The course's RT Structure Set (the one discovery linked, else the folder's only one)."""
        if self.linked_structure_set is not None:
            return self.linked_structure_set
        if len(self.structure_set_paths) != 1:
            raise ConsistencyError(
                f"{argument} {self.folder}: expected one RT Structure Set, found {len(self.structure_set_paths)}"
            )
        return load_structure_set(self.structure_set_paths[0])


PER_SESSION_SUMMATION = frozenset(
    {DoseSummationType.FRACTION, DoseSummationType.FRACTION_SESSION, DoseSummationType.BEAM_SESSION}
)


def load_total_dose(path: Path | str, fractions: int, *, normalisation_gy: float | None = None) -> DoseGrid:
    """The course's total dose from an RT Dose file: a per-session dose (DoseSummationType FRACTION,
    FRACTION_SESSION, BEAM_SESSION) is multiplied by ``fractions``; PLAN/BEAM doses are totals.
    ``normalisation_gy``: for a RELATIVE dose (see :func:`dosimetry.io.load_dose`)."""
    header = read_dose_header(path)
    if header.summation_type in PER_SESSION_SUMMATION:
        return load_dose(path, fractions=fractions, normalisation_gy=normalisation_gy)
    return load_dose(path, normalisation_gy=normalisation_gy)


@dataclass(frozen=True, eq=False)
class ChosenDose:
    """The total dose of a course chosen among its RT Dose files (:func:`course_dose`)."""

    dose: DoseGrid
    beam_sum_check: BeamSumCheck | None
    warnings: tuple[str, ...]


def course_dose(headers: Sequence[DoseHeader], plan: Plan, *, where: str) -> ChosenDose:
    """The course's total dose from its RT Dose files (module docstring): the only file (scaled when
    per-session), else the one PLAN dose (its BEAM doses checked to sum to it), else the sum of only
    BEAM doses; ConsistencyError for any other combination. ``where`` names the course in messages."""
    plan_headers = [h for h in headers if h.summation_type is DoseSummationType.PLAN]
    beam_headers = [h for h in headers if h.summation_type is DoseSummationType.BEAM]
    if len(headers) == 1:
        return ChosenDose(load_total_dose(headers[0].path, plan.fractions_planned), None, ())
    if len(plan_headers) == 1 and len(plan_headers) + len(beam_headers) == len(headers):
        # a planning-system export: the PLAN dose is used, its BEAM doses are checked against it
        dose = load_dose(plan_headers[0].path)
        try:
            beam_sum = load_beam_doses([h.path for h in beam_headers], plan)
        except ConsistencyError as exc:
            return ChosenDose(dose, None, (
                f"{where}: the BEAM doses could not be checked against the PLAN dose {plan_headers[0].path.name} ({exc}); "
                "the PLAN dose is used",
            ))
        check = check_beam_sum(dose, beam_sum, [h.dose_grid_scaling for h in headers])
        message = check.describe(plan_headers[0].path.name)
        if check.within_tolerance:
            logger.info("%s: %s", where, message)
            return ChosenDose(dose, check, ())
        return ChosenDose(dose, check, (f"{where}: {message}; the PLAN dose is used",))
    if {h.summation_type for h in headers} != {DoseSummationType.BEAM}:
        listing = ", ".join(f"{h.path.name} ({h.summation_type.value})" for h in headers)
        raise ConsistencyError(
            f"several RT Dose files ({listing}); expected one PLAN dose (with or without the BEAM doses of its plan) or only BEAM doses"
        )
    return ChosenDose(load_beam_doses([h.path for h in headers], plan), None, ())


def load_course(folder: Path | str, *, argument: str) -> Course:
    """Load the plan, dose, structure set and registrations of one course folder with
    :func:`dosimetry.io.discover` (``argument`` names the CLI option in errors)."""
    root = Path(folder)
    if not root.is_dir():
        raise InputFileError(f"{argument} {root} is not a folder")
    found = discover(root)
    problems = [f"discovery {i.severity}: {i.message}" for i in found.issues]
    reported = {i.path for i in found.issues}
    problems += [f"skipped {s.path.name}: {s.reason}" for s in found.skipped if s.path not in reported]
    courses = [c for c in found.courses if c.plans or c.doses]

    def fail(message: str) -> ConsistencyError:
        details = ("; " + "; ".join(p for p in problems if p.startswith("discovery error"))) if found.errors else ""
        return ConsistencyError(f"{argument} {root}: {message}{details}")

    if len(courses) != 1:
        labels = ", ".join(c.label for c in courses) or "none"
        raise fail(f"expected one treatment course (plan + dose in one frame of reference), found {len(courses)}: {labels}")
    course = courses[0]
    if not course.doses:
        raise fail(f"{course.label} has no RT Dose")
    if len(course.plans) != 1:
        raise fail(f"{course.label} has {len(course.plans)} plans; keep one course (one plan) per folder")
    plan = course.plans[0]
    headers = course.doses
    try:
        chosen = course_dose(headers, plan, where=str(root))
    except ConsistencyError as exc:
        raise fail(str(exc)) from None
    dose, beam_check, check_warnings = chosen.dose, chosen.beam_sum_check, chosen.warnings
    structure_paths = tuple(f.path for f in found.files if f.sop_class_uid == RT_STRUCTURE_SET_STORAGE)
    warnings = tuple(dict.fromkeys((*problems, *check_warnings, *plan.warnings, *dose.warnings)))
    return Course(
        root,
        dose,
        tuple(h.path for h in (sorted(headers, key=lambda h: h.summation_type is not DoseSummationType.PLAN))),
        plan,
        found.registrations,
        structure_paths,
        warnings,
        course.structure_set,
        beam_check,
        deformable_registrations=found.deformable_registrations,
        ct_series=_only_ct_series(found.files, found.skipped, course.ct_series),
    )


def _only_ct_series(files: Sequence[DicomFileEntry], skipped: Sequence[object], series: CtSeries | None) -> CtSeries | None:
    """``series`` when it is the only CT series among ``files`` and nothing was ``skipped`` (see
    :attr:`Course.ct_series`), else None."""
    ct_series_uids = {f.series_instance_uid for f in files if f.sop_class_uid == CT_IMAGE}
    if series is None or skipped or ct_series_uids != {series.series_instance_uid}:
        return None
    return series


def find_registration(
    registrations: tuple[RigidRegistration, ...], *, current_frame_uid: str, prior_frame_uid: str
) -> RigidRegistration | None:
    """The one registration linking the two frames (either direction), None when there is none."""
    linking: list[RigidRegistration] = []
    for r in registrations:
        if {r.source_frame_uid, r.target_frame_uid} != {current_frame_uid, prior_frame_uid}:
            continue
        same = any(
            r.sop_instance_uid
            and r.sop_instance_uid == k.sop_instance_uid
            and r.source_frame_uid == k.source_frame_uid
            and np.allclose(r.matrix, k.matrix)
            for k in linking
        )
        if not same:  # the same REG object found in both folders counts once
            linking.append(r)
    if len(linking) > 1:
        paths = ", ".join(str(r.source_path) for r in linking)
        raise ConsistencyError(f"several registrations link frames {prior_frame_uid} and {current_frame_uid} ({paths}); give --registration")
    return linking[0] if linking else None


def course_registration(
    current: Course, prior: Course, *, registration_path: Path | None = None, search_folders: bool = True
) -> RigidRegistration | None:
    """The registration to align ``prior``'s dose with: the one in ``registration_path`` that links
    the two frames (ConsistencyError when none does), else, with ``search_folders`` and different
    frames, the one found in either course folder; None when there is none."""
    cur_frame = current.dose.frame_of_reference_uid
    prior_frame = prior.dose.frame_of_reference_uid
    if registration_path is not None:
        registration = find_registration(
            load_registrations(registration_path), current_frame_uid=cur_frame, prior_frame_uid=prior_frame
        )
        if registration is None:
            raise ConsistencyError(
                f"--registration {registration_path} does not link the prior frame {prior_frame} and the current frame {cur_frame}"
            )
        return registration
    if search_folders and cur_frame != prior_frame:
        return find_registration(
            current.registrations + prior.registrations, current_frame_uid=cur_frame, prior_frame_uid=prior_frame
        )
    return None


def find_deformable_registration(
    registrations: tuple[DeformableRegistration, ...], *, current_frame_uid: str, prior_frame_uid: str
) -> DeformableRegistration | None:
    """The one deformable registration linking the two frames (either direction), None when there is none."""
    linking: list[DeformableRegistration] = []
    for r in registrations:
        if {r.source_frame_uid, r.target_frame_uid} != {current_frame_uid, prior_frame_uid}:
            continue
        if not any(r.sop_instance_uid and r.sop_instance_uid == k.sop_instance_uid and r.source_frame_uid == k.source_frame_uid for k in linking):
            linking.append(r)
    if len(linking) > 1:  # both directions given: the one registered in the current frame is applied as is
        as_is = [r for r in linking if r.target_frame_uid == current_frame_uid]
        if len(as_is) == 1 and len(linking) == 2:
            return as_is[0]
        paths = ", ".join(str(r.source_path) for r in linking)
        raise ConsistencyError(
            f"several deformable registrations link frames {prior_frame_uid} and {current_frame_uid} ({paths}); give --registration"
        )
    return linking[0] if linking else None


def course_registrations(
    current: Course, prior: Course, *, registration_path: Path | None = None, search_folders: bool = True
) -> tuple[RigidRegistration | None, DeformableRegistration | None]:
    """The rigid and the deformable registration linking the two courses' frames (each None when
    there is none). ``registration_path`` may be a Spatial Registration or a Deformable Spatial
    Registration; it must link the two frames (ConsistencyError otherwise) and replaces the
    folders' registration of its kind. A given deformable one still lets the folders' rigid one be
    found; a given rigid one is not searched past (a folder's deformable registration would
    otherwise be applied in its place)."""
    cur_frame = current.dose.frame_of_reference_uid
    prior_frame = prior.dose.frame_of_reference_uid
    search = search_folders and cur_frame != prior_frame
    given_deformable: DeformableRegistration | None = None
    given_rigid: RigidRegistration | None = None
    if registration_path is not None:
        ds = read_dicom(registration_path, stop_before_pixels=True)
        if sop_class_uid(ds) == DEFORMABLE_SPATIAL_REGISTRATION:
            given_deformable = find_deformable_registration(
                deformable_registrations_from_dataset(ds, Path(registration_path)),
                current_frame_uid=cur_frame, prior_frame_uid=prior_frame,
            )
            if given_deformable is None:
                raise ConsistencyError(
                    f"--registration {registration_path} does not link the prior frame {prior_frame} and the current frame {cur_frame}"
                )
        else:
            given_rigid = find_registration(
                registrations_from_dataset(ds, Path(registration_path)), current_frame_uid=cur_frame, prior_frame_uid=prior_frame
            )
            if given_rigid is None:
                raise ConsistencyError(
                    f"--registration {registration_path} does not link the prior frame {prior_frame} and the current frame {cur_frame}"
                )
    rigid = given_rigid
    if rigid is None and search:
        rigid = find_registration(current.registrations + prior.registrations, current_frame_uid=cur_frame, prior_frame_uid=prior_frame)
    deformable = given_deformable
    if deformable is None and search and given_rigid is None:
        deformable = find_deformable_registration(
            current.deformable_registrations + prior.deformable_registrations,
            current_frame_uid=cur_frame, prior_frame_uid=prior_frame,
        )
    return rigid, deformable
