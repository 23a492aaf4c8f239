"""What a physicist checks on a plan before signing, read from an RT Plan / RT Ion Plan (and its RT Dose).

:func:`read_plan_details`: the planning system (Manufacturer, ManufacturerModelName,
SoftwareVersions), approval (ApprovalStatus, ReviewerName, ReviewDate), the beams (name, radiation
type, ion species from RadiationAtomicNumber / RadiationMassNumber, treatment machine, gantry and
patient support (couch) angle of the first control point). The RBE model, which first-generation
DICOM RT records only in free text, is read by
:func:`dosimetry.radiobiology.rbe_conversion.recorded_rbe_model`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydicom.dataset import Dataset

from dosimetry.io.dicom_file import RT_ION_PLAN, RT_PLAN, expect_sop_class, optional_float, optional_int, read_dicom, text

@dataclass(frozen=True)
class BeamDetails:
    """One treatment beam as planned; angles in degrees (IEC 61217, as DICOM records them)."""

    number: int | None
    name: str
    radiation_type: str
    ion_atomic_number: int | None
    ion_mass_number: int | None
    treatment_machine: str
    gantry_angle_deg: float | None
    couch_angle_deg: float | None


@dataclass(frozen=True)
class PlanDetails:
    """Planning system, approval and beams of one plan."""

    source: str
    manufacturer: str
    model_name: str
    software_versions: str
    approval_status: str
    reviewer_name: str
    review_date: str
    beams: tuple[BeamDetails, ...]

    @property
    def planning_system(self) -> str:
        parts = [p for p in (self.manufacturer, self.model_name) if p]
        name = " ".join(parts) or "not recorded"
        return f"{name}, version {self.software_versions}" if self.software_versions else f"{name} (version not recorded)"


def _beam(item: Dataset, ion: bool, path: Path) -> BeamDetails:
    points = item.get("IonControlPointSequence" if ion else "ControlPointSequence") or []
    first = points[0] if len(points) else Dataset()
    context = f"beam {item.get('BeamNumber', '?')}"
    return BeamDetails(
        number=optional_int(item, "BeamNumber", path),
        name=text(item, "BeamName") or text(item, "BeamDescription"),
        radiation_type=text(item, "RadiationType"),
        ion_atomic_number=optional_int(item, "RadiationAtomicNumber", path, context=context) if ion else None,
        ion_mass_number=optional_int(item, "RadiationMassNumber", path, context=context) if ion else None,
        treatment_machine=text(item, "TreatmentMachineName"),
        gantry_angle_deg=optional_float(first, "GantryAngle", path, context=context),
        couch_angle_deg=optional_float(first, "PatientSupportAngle", path, context=context),
    )


def read_plan_details(plan_path: Path | str) -> PlanDetails:
    """The :class:`PlanDetails` of an RT Plan / RT Ion Plan."""
    path = Path(plan_path)
    ds = read_dicom(path, stop_before_pixels=True)
    ion = expect_sop_class(ds, path, [RT_PLAN, RT_ION_PLAN]) == RT_ION_PLAN
    beams = tuple(_beam(b, ion, path) for b in (ds.get("IonBeamSequence" if ion else "BeamSequence") or []))
    return PlanDetails(
        source=str(path),
        manufacturer=text(ds, "Manufacturer"),
        model_name=text(ds, "ManufacturerModelName"),
        software_versions=text(ds, "SoftwareVersions"),
        approval_status=text(ds, "ApprovalStatus"),
        reviewer_name=text(ds, "ReviewerName"),
        review_date=text(ds, "ReviewDate"),
        beams=beams,
    )
