"""What the node knows about each stored object: identity, frame of reference and the references that
link an RT Dose to its plan, the plan to its structure set and the structure set to its CT images.

:func:`describe` reads these from a received dataset (the C-STORE handler) or a stored file (the
index rebuilt at start-up), so the completeness rules (:mod:`dosimetry.node.completeness`) see the
same record either way.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

from pydicom.dataset import Dataset

from dosimetry.errors import DicomContentError


class ObjectKind(enum.Enum):
    """The storage SOP classes the node accepts (UIDs from DICOM PS3.4 Annex B.5)."""

    CT = "1.2.840.10008.5.1.4.1.1.2"
    RTSTRUCT = "1.2.840.10008.5.1.4.1.1.481.3"
    RTPLAN = "1.2.840.10008.5.1.4.1.1.481.5"
    RTIONPLAN = "1.2.840.10008.5.1.4.1.1.481.8"
    RTDOSE = "1.2.840.10008.5.1.4.1.1.481.2"
    REG = "1.2.840.10008.5.1.4.1.1.66.1"

    @property
    def is_plan(self) -> bool:
        return self in (ObjectKind.RTPLAN, ObjectKind.RTIONPLAN)


#: The RT Dose maps this package writes carry these (``dosimetry.radiobiology.export.identity_from_dicom``);
#: they are derived results, never inputs of a course (a PACS may send them back to the node).
DERIVED_MANUFACTURER = ("dosimetry", "dosimetry radiobiology")


@dataclass(frozen=True)
class StoredObject:
    """One received object as the completeness rules need it (UIDs as strings, empty when absent)."""

    path: Path
    kind: ObjectKind
    sop_instance_uid: str
    patient_id: str
    study_instance_uid: str
    series_instance_uid: str
    frame_of_reference_uid: str
    study_date: str
    received_s: float
    referenced_plan_uids: tuple[str, ...] = ()
    referenced_structure_set_uids: tuple[str, ...] = ()
    referenced_image_uids: tuple[str, ...] = ()
    referenced_series_uids: tuple[str, ...] = ()
    registered_frames: tuple[str, ...] = ()
    derived: bool = False


def _uids(ds: Dataset, sequence: str, keyword: str) -> tuple[str, ...]:
    return tuple(str(item.get(keyword, "")) for item in ds.get(sequence, []) or [] if item.get(keyword))


def _required(ds: Dataset, keyword: str, where: str) -> str:
    value = ds.get(keyword)
    if value is None or not str(value).strip():
        raise DicomContentError(f"{where}: {keyword} is missing or empty")
    return str(value).strip()


def describe(ds: Dataset, path: Path, *, received_s: float, where: str) -> StoredObject:
    """The :class:`StoredObject` of ``ds`` (stored at ``path``). Raises :class:`DicomContentError`
    naming ``where`` when an attribute the node needs is missing or the SOP class is not accepted."""
    sop_class = _required(ds, "SOPClassUID", where)
    try:
        kind = ObjectKind(sop_class)
    except ValueError as exc:
        raise DicomContentError(f"{where}: SOP Class {sop_class} is not one the node accepts") from exc
    frame = str(ds.get("FrameOfReferenceUID", "") or "")
    images: list[str] = []
    series: list[str] = []
    if kind is ObjectKind.RTSTRUCT:
        for frame_item in ds.get("ReferencedFrameOfReferenceSequence", []) or []:
            frame = frame or str(frame_item.get("FrameOfReferenceUID", "") or "")
            for study in frame_item.get("RTReferencedStudySequence", []) or []:
                for series_item in study.get("RTReferencedSeriesSequence", []) or []:
                    if series_item.get("SeriesInstanceUID"):
                        series.append(str(series_item.SeriesInstanceUID))
                    images += _uids(series_item, "ContourImageSequence", "ReferencedSOPInstanceUID")
    registered: tuple[str, ...] = ()
    if kind is ObjectKind.REG:
        registered = _uids(ds, "RegistrationSequence", "FrameOfReferenceUID")
    if not frame:
        raise DicomContentError(f"{where}: no FrameOfReferenceUID (the node groups courses by frame of reference)")
    manufacturer = (str(ds.get("Manufacturer", "") or ""), str(ds.get("ManufacturerModelName", "") or ""))
    return StoredObject(
        path=path,
        kind=kind,
        sop_instance_uid=_required(ds, "SOPInstanceUID", where),
        patient_id=_required(ds, "PatientID", where),
        study_instance_uid=_required(ds, "StudyInstanceUID", where),
        series_instance_uid=str(ds.get("SeriesInstanceUID", "") or ""),
        frame_of_reference_uid=frame,
        study_date=str(ds.get("StudyDate", "") or ""),
        received_s=received_s,
        referenced_plan_uids=_uids(ds, "ReferencedRTPlanSequence", "ReferencedSOPInstanceUID"),
        referenced_structure_set_uids=_uids(ds, "ReferencedStructureSetSequence", "ReferencedSOPInstanceUID"),
        referenced_image_uids=tuple(images),
        referenced_series_uids=tuple(series),
        registered_frames=registered,
        derived=kind is ObjectKind.RTDOSE and manufacturer == DERIVED_MANUFACTURER,
    )
