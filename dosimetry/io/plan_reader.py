"""RT Plan and RT Ion Plan files into :class:`~dosimetry.plan.Plan` (doses in Gy).

Fraction groups (NumberOfFractionsPlanned, per-beam BeamDose and BeamMeterset), beams with their
radiation type (ION beams with RadiationAtomicNumber / RadiationMassNumber), the Dose Reference
Sequence (prescriptions), Manufacturer / ManufacturerModelName, RTPlanLabel, ApprovalStatus and
the referenced structure set. Recoverable gaps (a fraction group without a fraction count, a beam
dose referencing an unknown beam) become warnings on the Plan; a plan without any usable fraction
group is still returned (``Plan.fractions_planned`` then raises, naming the file).
"""

from __future__ import annotations

import logging
from pathlib import Path

from pydicom.dataset import Dataset

from dosimetry.errors import DicomContentError, UnsupportedDataError
from dosimetry.io.dicom_file import (
    RT_ION_PLAN,
    RT_PLAN,
    as_int,
    expect_sop_class,
    optional_float,
    optional_int,
    read_dicom,
    require,
    tag_label,
    text,
)
from dosimetry.plan import Beam, FractionGroup, Plan, PlanKind, Prescription, RadiationType

LOGGER = logging.getLogger(__name__)


def _radiation_type(value: str, path: Path, context: str) -> RadiationType:
    try:
        return RadiationType(value.strip().upper())
    except ValueError:
        allowed = ", ".join(r.value for r in RadiationType)
        raise UnsupportedDataError(f"{path}: {tag_label('RadiationType')} in {context} is {value!r}, expected one of {allowed}") from None


def _beams(ds: Dataset, kind: PlanKind, path: Path, warnings: list[str]) -> dict[int, tuple[str, RadiationType, int | None, int | None]]:
    keyword = "IonBeamSequence" if kind is PlanKind.RT_ION_PLAN else "BeamSequence"
    beams: dict[int, tuple[str, RadiationType, int | None, int | None]] = {}
    for i, item in enumerate(ds.get(keyword) or [], start=1):
        context = f"{tag_label(keyword)} item {i}"
        number = as_int(require(item, "BeamNumber", path, context=context), "BeamNumber", path, context=context)
        name = text(item, "BeamName")
        rtype = _radiation_type(str(require(item, "RadiationType", path, context=context)), path, context)
        atomic = optional_int(item, "RadiationAtomicNumber", path, context=context)
        mass = optional_int(item, "RadiationMassNumber", path, context=context)
        if rtype is RadiationType.ION and (atomic is None or mass is None):
            raise DicomContentError(
                f"{path}: ION beam {number} in {context} lacks {tag_label('RadiationAtomicNumber')} or "
                f"{tag_label('RadiationMassNumber')}; the ion species is required"
            )
        if number in beams:
            warnings.append(f"{path.name}: beam number {number} appears twice in {tag_label(keyword)}")
        beams[number] = (name, rtype, atomic, mass)
    return beams


def _prescriptions(ds: Dataset, path: Path) -> tuple[Prescription, ...]:
    result: list[Prescription] = []
    for i, item in enumerate(ds.get("DoseReferenceSequence") or [], start=1):
        context = f"{tag_label('DoseReferenceSequence')} item {i}"
        result.append(
            Prescription(
                number=optional_int(item, "DoseReferenceNumber", path, context=context) or i,
                structure_type=text(item, "DoseReferenceStructureType"),
                description=text(item, "DoseReferenceDescription"),
                dose_reference_type=text(item, "DoseReferenceType"),
                target_prescription_dose_gy=optional_float(item, "TargetPrescriptionDose", path, context=context),
                delivery_maximum_dose_gy=optional_float(item, "DeliveryMaximumDose", path, context=context),
                organ_at_risk_maximum_dose_gy=optional_float(item, "OrganAtRiskMaximumDose", path, context=context),
            )
        )
    return tuple(result)


def load_plan(path: str | Path) -> Plan:
    """Read an RT Plan or RT Ion Plan."""
    p = Path(path)
    return plan_from_dataset(read_dicom(p), p)


def plan_from_dataset(ds: Dataset, p: Path) -> Plan:
    """:func:`load_plan` on a dataset already read by :func:`~dosimetry.io.dicom_file.read_dicom`."""
    sop_class = expect_sop_class(ds, p, [RT_PLAN, RT_ION_PLAN])
    kind = PlanKind.RT_ION_PLAN if sop_class == RT_ION_PLAN else PlanKind.RT_PLAN
    warnings: list[str] = []
    sop_uid = str(require(ds, "SOPInstanceUID", p))
    require(ds, "RTPlanLabel", p, context="the RT General Plan module (type 1; is the file incomplete?)")
    beams = _beams(ds, kind, p, warnings)
    groups: list[FractionGroup] = []
    fg_seq = ds.get("FractionGroupSequence")
    if not fg_seq:
        warnings.append(f"{p.name}: no {tag_label('FractionGroupSequence')}: the number of fractions is unknown")
    for i, item in enumerate(fg_seq or [], start=1):
        context = f"{tag_label('FractionGroupSequence')} item {i}"
        number = optional_int(item, "FractionGroupNumber", p, context=context) or i
        fractions = optional_int(item, "NumberOfFractionsPlanned", p, context=context)
        if fractions is None or fractions < 1:
            warnings.append(
                f"{p.name}: fraction group {number} has {tag_label('NumberOfFractionsPlanned')} {fractions!r}, "
                "expected a positive integer; group ignored"
            )
            continue
        group_beams: list[Beam] = []
        for j, ref in enumerate(item.get("ReferencedBeamSequence") or [], start=1):
            ref_context = f"{context}, {tag_label('ReferencedBeamSequence')} item {j}"
            beam_number = as_int(require(ref, "ReferencedBeamNumber", p, context=ref_context), "ReferencedBeamNumber", p, context=ref_context)
            if beam_number not in beams:
                warnings.append(f"{p.name}: fraction group {number} references beam {beam_number}, which the plan does not define")
                continue
            name, rtype, atomic, mass = beams[beam_number]
            group_beams.append(
                Beam(
                    number=beam_number,
                    name=name,
                    radiation_type=rtype,
                    dose_per_fraction_gy=optional_float(ref, "BeamDose", p, context=ref_context),
                    meterset=optional_float(ref, "BeamMeterset", p, context=ref_context),
                    atomic_number=atomic,
                    mass_number=mass,
                )
            )
        groups.append(FractionGroup(number=number, fractions_planned=fractions, beams=tuple(group_beams)))
    referenced_ss = None
    rss = ds.get("ReferencedStructureSetSequence")
    if rss:
        referenced_ss = text(rss[0], "ReferencedSOPInstanceUID") or None
    approval = text(ds, "ApprovalStatus")
    if approval and approval != "APPROVED":
        warnings.append(f"{p.name}: {tag_label('ApprovalStatus')} is {approval}, not APPROVED")
    return Plan(
        sop_instance_uid=sop_uid,
        kind=kind,
        label=text(ds, "RTPlanLabel"),
        name=text(ds, "RTPlanName"),
        frame_of_reference_uid=text(ds, "FrameOfReferenceUID"),
        fraction_groups=tuple(groups),
        prescriptions=_prescriptions(ds, p),
        referenced_structure_set_uid=referenced_ss,
        manufacturer=text(ds, "Manufacturer"),
        model_name=text(ds, "ManufacturerModelName"),
        approval_status=approval,
        source_path=p,
        warnings=tuple(warnings),
    )
