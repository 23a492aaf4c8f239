"""Write BED / EQD2 / cumulative maps as RT Dose files a planning system can load.

Every file gets new SOP Instance and Series Instance UIDs, references the current plan (RT Plan or
RT Ion Plan SOP class as appropriate), has DoseType EFFECTIVE, and states in SeriesDescription and
DoseComment (each a DICOM LO, at most 64 characters) the quantity, alpha/beta, fraction counts, the
residual and the summation method. Patient and study attributes are copied from the current
course's RT Dose file so the maps land in the same patient and study.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

import pydicom

from dosimetry.dose import DoseGrid, DoseSummationType, DoseType
from dosimetry.errors import ArgumentError, DicomContentError, InputFileError, OutputError
from dosimetry.io.rtdose_writer import RT_ION_PLAN_STORAGE, RT_PLAN_STORAGE, DicomIdentity, EncodedDose, write_rt_dose
from dosimetry.plan import Plan, PlanKind
from dosimetry.radiobiology.maps import SingleCourseMap, effective_dose_grid
from dosimetry.radiobiology.summation import CumulativeMap

logger = logging.getLogger(__name__)

#: Maximum length of a DICOM LO value (SeriesDescription, DoseComment).
LO_MAX_CHARS = 64


def identity_from_dicom(path: Path | str) -> DicomIdentity:
    """Patient, study and dates of an existing DICOM file (usually the current RT Dose)."""
    source = Path(path)
    try:
        ds = pydicom.dcmread(source, stop_before_pixels=True)
    except (OSError, pydicom.errors.InvalidDicomError) as exc:
        raise InputFileError(f"cannot read patient and study attributes from {source}: {exc}") from exc

    def get(keyword: str) -> str:
        value = ds.get(keyword, "")
        return "" if value is None else str(value)

    if not get("PatientID") or not get("StudyInstanceUID"):
        raise DicomContentError(f"{source}: PatientID (0010,0020) and StudyInstanceUID (0020,000D) are needed to export maps")
    date = get("StudyDate")
    return DicomIdentity(
        patient_id=get("PatientID"),
        patient_name=get("PatientName"),
        study_instance_uid=get("StudyInstanceUID"),
        patient_birth_date=get("PatientBirthDate") if len(get("PatientBirthDate")) == 8 else "",
        patient_sex=get("PatientSex"),
        study_id=get("StudyID"),
        study_date=date if len(date) == 8 else "",
        study_time=get("StudyTime"),
        study_description=get("StudyDescription"),
        accession_number=get("AccessionNumber"),
        referring_physician_name=get("ReferringPhysicianName"),
        manufacturer="dosimetry",
        manufacturer_model_name="dosimetry radiobiology",
    )


@dataclass(frozen=True)
class ExportedMap:
    path: Path
    sop_instance_uid: str
    series_description: str
    dose_comment: str


def _lo(text: str, what: str) -> str:
    if len(text) > LO_MAX_CHARS:
        raise ArgumentError(f"{what} {text!r} is longer than {LO_MAX_CHARS} characters (DICOM LO)")
    return text


def _plan_class(plan: Plan | None) -> str:
    return RT_ION_PLAN_STORAGE if plan is not None and plan.kind is PlanKind.RT_ION_PLAN else RT_PLAN_STORAGE


def _write(
    dose: DoseGrid | EncodedDose,
    path: Path,
    *,
    identity: DicomIdentity,
    plan: Plan | None,
    series_description: str,
    dose_comment: str,
    summation_type: DoseSummationType,
    notes: tuple[str, ...],
) -> ExportedMap:
    target = Path(path)
    if not target.parent.is_dir():
        raise OutputError(f"cannot write {target}: folder {target.parent} does not exist")
    effective: DoseGrid | EncodedDose
    if isinstance(dose, EncodedDose):  # the fields effective_dose_grid gives a DoseGrid
        effective = replace(
            dose, dose_type=DoseType.EFFECTIVE, summation_type=summation_type, sop_instance_uid="",
            referenced_plan_uid=plan.sop_instance_uid if plan else dose.referenced_plan_uid, referenced_beam_number=None,
        )
    else:
        effective = effective_dose_grid(
            dose, dose.dose_gy, plan=plan, description=dose.description, warnings=dose.warnings, summation_type=summation_type
        )
    uid = write_rt_dose(
        effective,
        target,
        identity=identity,
        referenced_plan_uid=effective.referenced_plan_uid,
        referenced_plan_sop_class_uid=_plan_class(plan),
        series_description=_lo(series_description, "SeriesDescription"),
        dose_comment=_lo(dose_comment, "DoseComment"),
        image_comments=image_comments_text(notes),
    )
    logger.info("exported %s to %s", series_description, target)
    return ExportedMap(target, uid, series_description, dose_comment)


def image_comments_text(notes: tuple[str, ...]) -> str:
    """The full provenance and every warning for ImageComments (0020,4000), an LT of up to 10240
    characters (General Image module, part of the RT Dose IOD for grid-based doses); written with
    the file (it was read back and rewritten: 0.4 s for six clinical-size maps)."""
    text = "\n".join(dict.fromkeys(notes))
    if len(text) > 10240:
        text = text[:10200] + "\n[... more in the summary JSON]"
    return text


@dataclass(frozen=True)
class MapFileText:
    """What a map's RT Dose file says about it besides its values: SeriesDescription, DoseComment,
    DoseSummationType and the notes that open ImageComments (the map's description and warnings)."""

    series_description: str
    dose_comment: str
    summation_type: DoseSummationType
    notes: tuple[str, ...]


def lq_map_text(lq: SingleCourseMap) -> MapFileText:
    """The texts of a single-course BED/EQD2 map's file (:func:`export_lq_map`)."""
    return MapFileText(
        series_description=lq.description,
        dose_comment=f"{lq.quantity.value} a/b {lq.alpha_beta_label}; {lq.fractions} fx; residual n/a; single course",
        summation_type=DoseSummationType.PLAN,
        notes=(
            f"{lq.description}; BED = D (1 + d/(a/b)), d = D/n per voxel; EQD2 = BED / (1 + 2/(a/b))",
            "single course: no prior dose, no residual",
            *(f"WARNING: {w}" for w in lq.warnings),
        ),
    )


def cumulative_map_text(cum: CumulativeMap) -> MapFileText:
    """The texts of a cumulative map's file (:func:`export_cumulative_map`)."""
    prior = f"r={cum.residual:.3g} x prior" if cum.residual is not None else "prior: recovery models"
    return MapFileText(
        series_description=cum.description,
        dose_comment=f"{prior}, {cum.method.value}; targets use current only",
        summation_type=DoseSummationType.MULTI_PLAN,
        notes=(
            cum.description,
            f"summation method: {cum.method.value}; "
            + (f"residual fraction of the prior course r = {cum.residual:g} " if cum.residual is not None else "")
            + f"(recovery model: {cum.recovery_label})",
            cum.target_metrics_note,
            *(f"WARNING: {w}" for w in cum.warnings),
        ),
    )


def export_map_file(
    dose: DoseGrid | EncodedDose,
    text: MapFileText,
    path: Path | str,
    *,
    identity: DicomIdentity,
    plan: Plan | None,
    notes: tuple[str, ...] = (),
) -> ExportedMap:
    """Write a map's values (a grid, or pixels encoded when the map was computed) with its
    ``text``; ``notes`` (for example the run's warnings) follow the map's own in ImageComments."""
    return _write(
        dose,
        Path(path),
        identity=identity,
        plan=plan,
        series_description=text.series_description,
        dose_comment=text.dose_comment,
        summation_type=text.summation_type,
        notes=(*text.notes, *(f"WARNING: {w}" for w in notes)),
    )


def export_lq_map(
    lq: SingleCourseMap,
    path: Path | str,
    *,
    identity: DicomIdentity,
    plan: Plan | None,
    notes: tuple[str, ...] = (),
) -> ExportedMap:
    """Write a single-course BED/EQD2 map (one alpha/beta or composite). ``notes`` (for example
    the run's warnings) go with the map's own warnings into ImageComments."""
    return export_map_file(lq.dose, lq_map_text(lq), path, identity=identity, plan=plan, notes=notes)


def export_cumulative_map(
    cum: CumulativeMap,
    path: Path | str,
    *,
    identity: DicomIdentity,
    plan: Plan | None,
    notes: tuple[str, ...] = (),
) -> ExportedMap:
    """Write a cumulative map (DoseSummationType MULTI_PLAN, referencing the current plan); the
    method, residual, what target metrics use and every warning go into ImageComments."""
    return export_map_file(cum.dose, cumulative_map_text(cum), path, identity=identity, plan=plan, notes=notes)


def export_dose(
    dose: DoseGrid,
    path: Path | str,
    *,
    identity: DicomIdentity,
    plan: Plan | None,
    series_description: str,
    dose_comment: str,
    notes: tuple[str, ...] = (),
) -> ExportedMap:
    """Write any EFFECTIVE dose on the grid of ``dose`` (for example an RBE-model conversion) with
    ``notes`` (provenance, warnings) in ImageComments; DoseSummationType PLAN."""
    return _write(
        dose, Path(path), identity=identity, plan=plan, series_description=series_description, dose_comment=dose_comment,
        summation_type=DoseSummationType.PLAN, notes=notes,
    )


__all__ = [
    "ExportedMap", "MapFileText", "cumulative_map_text", "export_cumulative_map", "export_dose", "export_lq_map",
    "export_map_file", "identity_from_dicom", "lq_map_text",
]
