"""RT Plan and RT Ion Plan content as value objects (doses in Gy)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from dosimetry.errors import ConsistencyError


class RadiationType(StrEnum):
    """Beam radiation type (RT Plan (300A,00C6) / RT Ion Plan (300A,00C6))."""

    PHOTON = "PHOTON"
    ELECTRON = "ELECTRON"
    NEUTRON = "NEUTRON"
    PROTON = "PROTON"
    ION = "ION"


class PlanKind(StrEnum):
    RT_PLAN = "RT_PLAN"
    RT_ION_PLAN = "RT_ION_PLAN"


@dataclass(frozen=True)
class Beam:
    """One beam. ``dose_per_fraction_gy`` is the Beam Dose of the fraction group (None if not given).
    ``meterset`` is the Beam Meterset (300A,0086) as stored, not converted: MU, or for ion beams
    the plan's Primary Dosimeter Unit (MU or NP, number of particles).

    For ION beams ``atomic_number`` and ``mass_number`` name the ion (carbon: 6 and 12).
    """

    number: int
    name: str
    radiation_type: RadiationType
    dose_per_fraction_gy: float | None = None
    meterset: float | None = None
    atomic_number: int | None = None
    mass_number: int | None = None


@dataclass(frozen=True)
class FractionGroup:
    number: int
    fractions_planned: int
    beams: tuple[Beam, ...]


@dataclass(frozen=True)
class Prescription:
    """One Dose Reference Sequence item (doses in Gy; None when the tag is absent)."""

    number: int
    structure_type: str
    description: str
    dose_reference_type: str
    target_prescription_dose_gy: float | None = None
    delivery_maximum_dose_gy: float | None = None
    organ_at_risk_maximum_dose_gy: float | None = None


@dataclass(frozen=True)
class Plan:
    sop_instance_uid: str
    kind: PlanKind
    label: str
    name: str
    frame_of_reference_uid: str
    fraction_groups: tuple[FractionGroup, ...]
    prescriptions: tuple[Prescription, ...] = ()
    referenced_structure_set_uid: str | None = None
    manufacturer: str = ""
    model_name: str = ""
    approval_status: str = ""
    source_path: Path | None = None
    warnings: tuple[str, ...] = field(default=())

    @property
    def radiation_types(self) -> frozenset[RadiationType]:
        return frozenset(b.radiation_type for g in self.fraction_groups for b in g.beams)

    @property
    def fractions_planned(self) -> int:
        """Fractions of the plan; an error when fraction groups disagree or none exist."""
        counts = {g.fractions_planned for g in self.fraction_groups}
        where = f" in {self.source_path}" if self.source_path else f" (plan {self.sop_instance_uid})"
        if not counts:
            raise ConsistencyError(f"plan has no FractionGroupSequence (300A,0070){where}; give the fraction count explicitly")
        if len(counts) > 1:
            raise ConsistencyError(
                f"fraction groups plan different fraction counts {sorted(counts)}{where}; give the fraction count explicitly"
            )
        return counts.pop()

    @property
    def target_prescription_dose_gy(self) -> float | None:
        """Largest TargetPrescriptionDose among TARGET dose references (None when none is given)."""
        values = [
            p.target_prescription_dose_gy
            for p in self.prescriptions
            if p.target_prescription_dose_gy is not None and p.dose_reference_type.strip().upper() == "TARGET"
        ]
        return max(values) if values else None
