"""One treatment course read from a folder: its RT Dose, RT (Ion) Plan and registrations.

Used by ``dosimetry accumulate``. Every file below the folder is examined; files that are not
DICOM or of other classes (CT, RT Structure Set, ...) are skipped and listed. A course needs
exactly one plan (or the one the dose references) and either one total RT Dose or several BEAM
doses of that plan (summed).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import pydicom

from dosimetry.dose import DoseGrid, DoseSummationType
from dosimetry.errors import ConsistencyError, InputFileError
from dosimetry.io import load_beam_doses, load_dose, load_plan, load_registrations, load_structure_set, read_dose_header
from dosimetry.plan import Plan
from dosimetry.registration import RigidRegistration
from dosimetry.structures import StructureSet

logger = logging.getLogger(__name__)

RT_DOSE_STORAGE = "1.2.840.10008.5.1.4.1.1.481.2"
RT_PLAN_CLASSES = ("1.2.840.10008.5.1.4.1.1.481.5", "1.2.840.10008.5.1.4.1.1.481.8")
SPATIAL_REGISTRATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.1"
RT_STRUCTURE_SET_STORAGE = "1.2.840.10008.5.1.4.1.1.481.3"


@dataclass(frozen=True)
class CourseFiles:
    folder: Path
    doses: tuple[Path, ...]
    plans: tuple[Path, ...]
    registrations: tuple[Path, ...]
    structure_sets: tuple[Path, ...] = ()
    skipped: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class Course:
    folder: Path
    dose: DoseGrid
    dose_paths: tuple[Path, ...]
    plan: Plan
    registrations: tuple[RigidRegistration, ...] = ()
    structure_set_paths: tuple[Path, ...] = ()
    warnings: tuple[str, ...] = field(default=())

    def structure_set(self, *, argument: str) -> StructureSet:
        """The course's one RT Structure Set (an error naming ``argument`` when none or several)."""
        if len(self.structure_set_paths) != 1:
            raise ConsistencyError(
                f"{argument} {self.folder}: expected one RT Structure Set, found {len(self.structure_set_paths)}"
            )
        return load_structure_set(self.structure_set_paths[0])


PER_SESSION_SUMMATION = frozenset(
    {DoseSummationType.FRACTION, DoseSummationType.FRACTION_SESSION, DoseSummationType.BEAM_SESSION}
)


def load_total_dose(path: Path | str, fractions: int) -> DoseGrid:
    """The course's total dose from an RT Dose file: a per-session dose (DoseSummationType FRACTION,
    FRACTION_SESSION, BEAM_SESSION) is multiplied by ``fractions``; PLAN/BEAM doses are totals."""
    header = read_dose_header(path)
    if header.summation_type in PER_SESSION_SUMMATION:
        return load_dose(path, fractions=fractions)
    return load_dose(path)


def scan_course_folder(folder: Path | str, *, argument: str) -> CourseFiles:
    """Classify the DICOM files below ``folder`` by SOP Class UID."""
    root = Path(folder)
    if not root.is_dir():
        raise InputFileError(f"{argument} {root} is not a folder")
    doses: list[Path] = []
    plans: list[Path] = []
    regs: list[Path] = []
    structure_sets: list[Path] = []
    skipped: list[str] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["SOPClassUID"])
        except (pydicom.errors.InvalidDicomError, OSError, ValueError) as exc:
            skipped.append(f"{path}: not DICOM ({type(exc).__name__})")
            continue
        sop_class = str(ds.get("SOPClassUID", ""))
        if sop_class == RT_DOSE_STORAGE:
            doses.append(path)
        elif sop_class in RT_PLAN_CLASSES:
            plans.append(path)
        elif sop_class == SPATIAL_REGISTRATION_STORAGE:
            regs.append(path)
        elif sop_class == RT_STRUCTURE_SET_STORAGE:
            structure_sets.append(path)
        else:
            skipped.append(f"{path}: SOP class {sop_class or 'missing'} not used here")
    for line in skipped:
        logger.debug("skipped %s", line)
    return CourseFiles(root, tuple(doses), tuple(plans), tuple(regs), tuple(structure_sets), tuple(skipped))


def load_course(folder: Path | str, *, argument: str) -> Course:
    """Load the plan, dose and registrations of one course folder (``argument`` names the CLI option)."""
    files = scan_course_folder(folder, argument=argument)
    if not files.doses:
        raise ConsistencyError(f"{argument} {files.folder}: no RT Dose file found")
    if not files.plans:
        raise ConsistencyError(f"{argument} {files.folder}: no RT Plan or RT Ion Plan found (needed for the fraction count)")
    headers = [read_dose_header(p) for p in files.doses]
    plans = [load_plan(p) for p in files.plans]
    referenced = {h.referenced_plan_uid for h in headers} - {None}
    candidates = [p for p in plans if p.sop_instance_uid in referenced] if referenced else plans
    if len(candidates) != 1:
        names = ", ".join(str(p.source_path) for p in (candidates or plans))
        raise ConsistencyError(
            f"{argument} {files.folder}: cannot tell which plan the dose belongs to ({len(candidates)} candidates: {names}); "
            "keep one course per folder"
        )
    plan = candidates[0]
    if len(files.doses) == 1:
        dose = load_total_dose(files.doses[0], plan.fractions_planned)
    else:
        kinds = {h.summation_type for h in headers}
        if kinds != {DoseSummationType.BEAM}:
            listing = ", ".join(f"{p.name} ({h.summation_type.value})" for p, h in zip(files.doses, headers, strict=True))
            raise ConsistencyError(
                f"{argument} {files.folder}: several RT Dose files ({listing}); expected one plan dose or only BEAM doses"
            )
        dose = load_beam_doses(list(files.doses), plan)
    registrations: list[RigidRegistration] = []
    for path in files.registrations:
        registrations.extend(load_registrations(path))
    warnings = tuple(dict.fromkeys(plan.warnings + dose.warnings))
    return Course(files.folder, dose, files.doses, plan, tuple(registrations), files.structure_sets, warnings)


def find_registration(
    registrations: tuple[RigidRegistration, ...], *, current_frame_uid: str, prior_frame_uid: str
) -> RigidRegistration | None:
    """The one registration linking the two frames (either direction), None when there is none."""
    linking = [
        r
        for r in registrations
        if {r.source_frame_uid, r.target_frame_uid} == {current_frame_uid, prior_frame_uid}
    ]
    if len(linking) > 1:
        paths = ", ".join(str(r.source_path) for r in linking)
        raise ConsistencyError(f"several registrations link frames {prior_frame_uid} and {current_frame_uid} ({paths}); give --registration")
    return linking[0] if linking else None
