"""The protocol's eligibility rules that the DICOM data can answer, checked and reported.

* **Prior definitive IMRT course of at least 66 Gy**: the prior RT Plan delivers photons only, its
  target prescription (DoseReferenceSequence TargetPrescriptionDose, or the beams' doses) is at
  least 66 Gy, and it is intensity modulated: some beam is DYNAMIC (BeamType (300A,00C4)) or has
  more than two control points (NumberOfControlPoints (300A,0110)). A missing prescription is
  NOT_EVALUABLE, never assumed.
* **Recurrence more than 12 months after the prior course ended**: the recurrence date is not in
  the DICOM. The interval from the prior course to the current plan bounds it from above (the
  recurrence came before the re-planning), so an interval of 12 months or less is a FAIL; a longer
  one is necessary but not sufficient and is reported NOT_EVALUABLE with the interval, to be
  confirmed from the clinical record.
"""

from __future__ import annotations

from dataclasses import dataclass

import pydicom
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
    modulated = [b for b in beams if str(b.get("BeamType", "")).upper() == "DYNAMIC" or int(b.get("NumberOfControlPoints", 0) or 0) > 2]
    text = f"{len(modulated)} of {len(beams)} beams DYNAMIC or with more than 2 control points"
    return bool(modulated), text


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
