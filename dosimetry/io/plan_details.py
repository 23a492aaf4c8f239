"""What a physicist checks on a plan before signing, read from an RT Plan / RT Ion Plan (and its RT Dose).

:func:`read_plan_details`: the planning system (Manufacturer, ManufacturerModelName,
SoftwareVersions), approval (ApprovalStatus, ReviewerName, ReviewDate), the beams (name, radiation
type, ion species from RadiationAtomicNumber / RadiationMassNumber, treatment machine, gantry and
patient support (couch) angle of the first control point), and the RBE model when the planning
system records it.

First-generation DICOM RT has no attribute for the RBE model of an RBE-weighted (EFFECTIVE) dose;
some planning systems name it in free text. The texts searched are RT Plan Description, Dose
Reference Description, Beam Description and the RT Dose's Dose Comment; a text naming a model
(LEM, MKM, RBE model or a constant RBE) is reported with the attribute it came from, otherwise
``rbe_model`` is None and reports say "not recorded".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pydicom.dataset import Dataset

from dosimetry.io.dicom_file import RT_ION_PLAN, RT_PLAN, expect_sop_class, optional_float, optional_int, read_dicom, text

#: Free text that names an RBE model (Local Effect Model, Microdosimetric Kinetic Model, a constant RBE).
RBE_MODEL_PATTERN = re.compile(r"\b(LEM\s*-?\s*[IV]*|m?MKM|microdosimetric kinetic|local effect model|RBE\s*(model|=|of)\s*[^,;]*)", re.I)


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
    """Planning system, approval, RBE model (None: not recorded, with where it was looked for) and beams."""

    source: str
    manufacturer: str
    model_name: str
    software_versions: str
    approval_status: str
    reviewer_name: str
    review_date: str
    rbe_model: str | None
    rbe_model_searched: str
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


def _rbe_model(texts: list[tuple[str, str]]) -> str | None:
    for where, value in texts:
        if value and RBE_MODEL_PATTERN.search(value):
            return f"{value} ({where})"
    return None


def read_plan_details(plan_path: Path | str, dose_path: Path | str | None = None) -> PlanDetails:
    """The :class:`PlanDetails` of an RT Plan / RT Ion Plan (and the Dose Comment of its RT Dose)."""
    path = Path(plan_path)
    ds = read_dicom(path, stop_before_pixels=True)
    ion = expect_sop_class(ds, path, [RT_PLAN, RT_ION_PLAN]) == RT_ION_PLAN
    beams = tuple(_beam(b, ion, path) for b in (ds.get("IonBeamSequence" if ion else "BeamSequence") or []))
    texts = [(f"{path.name} RTPlanDescription", text(ds, "RTPlanDescription"))]
    texts += [(f"{path.name} DoseReferenceDescription", text(r, "DoseReferenceDescription")) for r in ds.get("DoseReferenceSequence") or []]
    texts += [(f"{path.name} BeamDescription", text(b, "BeamDescription"))
              for b in ds.get("IonBeamSequence" if ion else "BeamSequence") or []]
    searched = "RTPlanDescription, DoseReferenceDescription, BeamDescription"
    if dose_path is not None:
        dose = read_dicom(Path(dose_path), stop_before_pixels=True)
        texts.append((f"{Path(dose_path).name} DoseComment", text(dose, "DoseComment")))
        searched += ", DoseComment of the RT Dose"
    return PlanDetails(
        source=str(path),
        manufacturer=text(ds, "Manufacturer"),
        model_name=text(ds, "ManufacturerModelName"),
        software_versions=text(ds, "SoftwareVersions"),
        approval_status=text(ds, "ApprovalStatus"),
        reviewer_name=text(ds, "ReviewerName"),
        review_date=text(ds, "ReviewDate"),
        rbe_model=_rbe_model(texts),
        rbe_model_searched=searched,
        beams=beams,
    )
