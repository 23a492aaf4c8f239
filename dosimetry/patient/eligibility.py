"""The protocol's eligibility rules that the DICOM data can answer, checked and reported.

* **Prior definitive IMRT course of at least 66 Gy**: the prior RT Plan delivers photons only, its
  target prescription (DoseReferenceSequence TargetPrescriptionDose, or the beams' doses) is at
  least 66 Gy, and it is intensity modulated: some beam is MLC-modulated (:func:`beam_modulation`:
  its MLC leaf positions (LeafJawPositions (300A,011C) of an MLCX/MLCY/MLC device) change between
  its control points, or, when the control points give no leaf positions, it is DYNAMIC (BeamType
  (300A,00C4)) and has an MLC (BeamLimitingDeviceSequence (300A,00B6)) and no dynamic wedge). A
  DYNAMIC beam without an MLC, or whose MLC stays still (a dynamic or motorised wedge, a conformal
  field), is not IMRT. A missing prescription, or beams that cannot say (several control points
  without leaf positions), is NOT_EVALUABLE, never assumed.
* **Recurrence more than 12 months after the prior course ended**: the recurrence date is not in
  the DICOM. The interval from the prior course to the current plan bounds it from above (the
  recurrence came before the re-planning), so an interval of 12 months or less is a FAIL; a longer
  one is necessary but not sufficient and is reported NOT_EVALUABLE with the interval, to be
  confirmed from the clinical record.
"""

from __future__ import annotations

from dataclasses import dataclass

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from dosimetry.constraints.partial_volume import Status
from dosimetry.errors import DosimetryError
from dosimetry.plan import RadiationType
from dosimetry.radiobiology.course import Course
from dosimetry.radiobiology.interval import CourseInterval

MIN_PRIOR_DOSE_GY = 66.0
MIN_RECURRENCE_INTERVAL_MONTHS = 12.0


@dataclass(frozen=True)
class EligibilityCheck:
    rule: str
    status: Status
    value: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "status": self.status.value, "value": self.value, "reason": self.reason}


MLC_DEVICE_TYPES = frozenset({"MLCX", "MLCY", "MLC"})


def _mlc_positions(control_point: Dataset) -> tuple[tuple[str, tuple[float, ...]], ...]:
    """The MLC leaf positions a control point gives (empty when it gives none: the previous ones hold)."""
    found = []
    for item in control_point.get("BeamLimitingDevicePositionSequence", []) or []:
        kind = str(item.get("RTBeamLimitingDeviceType", "")).upper()
        if kind in MLC_DEVICE_TYPES and item.get("LeafJawPositions") is not None:
            found.append((kind, tuple(float(v) for v in item.LeafJawPositions)))
    return tuple(sorted(found))


def beam_modulation(beam: Dataset) -> tuple[bool | None, str]:
    """Whether one beam is MLC-modulated (module docstring), None when it cannot say, and why."""
    has_mlc = any(
        str(d.get("RTBeamLimitingDeviceType", "")).upper() in MLC_DEVICE_TYPES for d in beam.get("BeamLimitingDeviceSequence", []) or []
    )
    dynamic = str(beam.get("BeamType", "")).upper() == "DYNAMIC"
    wedges = [str(w.get("WedgeType", "")).upper() for w in beam.get("WedgeSequence", []) or []]
    dynamic_wedge = any(w in ("DYNAMIC", "MOTORIZED") for w in wedges)
    points = list(beam.get("ControlPointSequence", []) or [])
    positions = [p for p in (_mlc_positions(cp) for cp in points) if p]
    if len(positions) >= 2:
        if len(set(positions)) > 1:
            return True, f"MLC leaves move across {len(points)} control points"
        return False, f"MLC leaves still across {len(points)} control points{' (dynamic wedge)' if dynamic_wedge else ''}"
    if dynamic:
        if dynamic_wedge:
            return False, "DYNAMIC with a dynamic wedge (WedgeType (300A,00D3))"
        if has_mlc:
            return True, "DYNAMIC with an MLC (no leaf positions to confirm)"
        return False, "DYNAMIC without an MLC"
    count = int(beam.get("NumberOfControlPoints", 0) or 0)
    if max(count, len(points)) > 2 and has_mlc:
        return None, f"STATIC with {max(count, len(points))} control points but no MLC leaf positions to tell segments from a wedge"
    return False, f"STATIC, {'no MLC' if not has_mlc else 'MLC without moving leaves'}"


def _modulated_beams(course: Course) -> tuple[bool | None, str]:
    """Whether the plan's beams are intensity modulated (None when the plan file cannot say)."""
    path = course.plan.source_path
    if path is None:
        return None, "the prior plan has no file to read its beams from"
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
    except (InvalidDicomError, OSError) as exc:
        return None, f"cannot read the beams of {path}: {exc}"
    beams = list(ds.get("BeamSequence", [])) + list(ds.get("IonBeamSequence", []))
    if not beams:
        return None, f"{path} has no BeamSequence (300A,00B0)"
    verdicts = [beam_modulation(b) for b in beams]
    modulated = sum(1 for v, _ in verdicts if v)
    unknown = [why for v, why in verdicts if v is None]
    text = f"{modulated} of {len(beams)} beams MLC-modulated ({'; '.join(dict.fromkeys(why for _, why in verdicts))})"
    if modulated:
        return True, text
    if unknown:
        return None, text
    return False, text


def prior_course_check(prior: Course) -> EligibilityCheck:
    rule = f"prior definitive IMRT course >= {MIN_PRIOR_DOSE_GY:g} Gy"
    types = prior.plan.radiation_types
    try:
        prescription = prior.plan.target_prescription_dose_gy
    except DosimetryError:
        prescription = None
    value = "-" if prescription is None else f"{prescription:g} Gy ({'+'.join(sorted(t.value for t in types))})"
    if types != frozenset({RadiationType.PHOTON}):
        return EligibilityCheck(rule, Status.FAIL, value, f"the prior plan delivers {sorted(t.value for t in types)}, not photons only")
    modulated, beams = _modulated_beams(prior)
    if prescription is None:
        return EligibilityCheck(rule, Status.NOT_EVALUABLE, value, "the prior plan gives no target prescription dose")
    if prescription < MIN_PRIOR_DOSE_GY:
        return EligibilityCheck(rule, Status.FAIL, value, f"prescription {prescription:g} Gy < {MIN_PRIOR_DOSE_GY:g} Gy")
    if modulated is None:
        return EligibilityCheck(rule, Status.NOT_EVALUABLE, value, f"prescription >= {MIN_PRIOR_DOSE_GY:g} Gy; IMRT unknown: {beams}")
    if not modulated:
        return EligibilityCheck(rule, Status.FAIL, value, f"not intensity modulated: {beams}")
    return EligibilityCheck(rule, Status.PASS, value, f"photons, prescription >= {MIN_PRIOR_DOSE_GY:g} Gy, {beams}")


def recurrence_interval_check(interval: CourseInterval | None) -> EligibilityCheck:
    rule = f"recurrence > {MIN_RECURRENCE_INTERVAL_MONTHS:g} months after the prior course ended"
    if interval is None:
        return EligibilityCheck(rule, Status.NOT_EVALUABLE, "-", "no usable date for the interval between the courses")
    value = f"{interval.months:.1f} months to the current course"
    if interval.months <= MIN_RECURRENCE_INTERVAL_MONTHS:
        return EligibilityCheck(
            rule, Status.FAIL, value,
            f"the current course starts {interval.months:.1f} months after the prior one ({interval.source}); "
            "the recurrence came earlier still",
        )
    return EligibilityCheck(
        rule, Status.NOT_EVALUABLE, value,
        f"necessary condition met ({interval.source}); the recurrence date is not in the DICOM: confirm from the clinical record",
    )


def eligibility_checks(prior: Course | None, interval: CourseInterval | None) -> tuple[EligibilityCheck, ...]:
    """Both checks (none without a prior course)."""
    if prior is None:
        return ()
    return prior_course_check(prior), recurrence_interval_check(interval)
