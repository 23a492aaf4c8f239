"""The results of one patient's analysis: a frozen, typed document with a readable summary.

:class:`AnalysisResults` is what :meth:`dosimetry.patient.Patient.results` returns and what
``dosimetry analyze`` writes as ``results.json`` (:meth:`AnalysisResults.to_dict`, schema
:mod:`dosimetry.patient.schema`). :func:`constraint_checks` flattens a
:class:`~dosimetry.constraints.evaluate.ConstraintReport` into rows; :func:`dose_levels` recomputes
the protocol's Table 1 and finds the current plan's level.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dosimetry.constraints.evaluate import ConstraintReport
from dosimetry.constraints.metrics import parse_constraint
from dosimetry.constraints.partial_volume import Status as ConstraintStatus
from dosimetry.dvh.endcaps import DEFAULT_END_CAP, EndCapConvention
from dosimetry.errors import ConsistencyError, DosimetryError
from dosimetry.patient.maps import PatientMaps
from dosimetry.patient.planning_system import PlanningSystemRow
from dosimetry.patient.recovery_record import RecoveryRecord
from dosimetry.patient.records import (
    AlignmentRecord,
    ConstraintCheck,
    CourseRecord,
    DoseLevelRow,
    DoseLevels,
    IndicesRecord,
    InputRecord,
    MetricRow,
    OutputRecord,
    QuantityRecord,
    RoiRecord,
    json_ready,
    record_dict,
)
from dosimetry.patient.verdict import PlanVerdict, plan_verdict, summation_scope
from dosimetry.radiobiology import make_schedules
from dosimetry.radiobiology.course import Course

SCHEMA_VERSION = "1.2"

#: Protocol Table 1: dose levels 1..6 = 2.5 Gy(RBE) x 21..26 fractions.
PROTOCOL_DOSE_PER_FRACTION_GY = 2.5
PROTOCOL_FRACTIONS: tuple[int, ...] = (21, 22, 23, 24, 25, 26)


@dataclass(frozen=True)
class RunParameters:
    """The parameters that change the answer, as recorded in ``results.json``."""

    residual: float | None  # None when the recovery model is not one constant residual (see ``recovery``)
    alpha_beta_late_gy: float
    alpha_beta_tumour_gy: float
    summation_method: str
    dvh_bin_width_gy: float
    dvh_csv_step_gy: float
    protocol: str | None
    mapping: str | None
    registration: str | None
    assume_same_position: bool
    folders: str
    register: str | None = None  # "deformable" when the registration was computed (--register)
    registration_margin_mm: float | None = None  # prior-dose shift of the registration uncertainty (None: not computed)
    end_cap: EndCapConvention = DEFAULT_END_CAP  # the DVH end-cap convention of every ROI (schema 1.2)


@dataclass(frozen=True)
class ConstraintSummary:
    """The constraint checks: every row, whether any FAILs, the quantity and alpha/beta of the Emami checks."""

    any_fail: bool
    quantity: str
    alpha_beta_gy: float
    rows: tuple[ConstraintCheck, ...]

    @property
    def failed(self) -> tuple[ConstraintCheck, ...]:
        return tuple(r for r in self.rows if r.status == ConstraintStatus.FAIL.value)

    def count(self, status: ConstraintStatus) -> int:
        return sum(1 for r in self.rows if r.status == status.value)


@dataclass(frozen=True)
class AnalysisResults:
    """Everything one analysis found (field names and units as in ``results.json``)."""

    software_version: str
    generated_utc: str
    parameters: RunParameters
    patient_id: str
    patient_name: str
    courses: tuple[CourseRecord, ...]
    alignment: AlignmentRecord | None
    dose_levels: DoseLevels
    quantities: tuple[QuantityRecord, ...]
    rois: tuple[RoiRecord, ...]
    metrics: tuple[MetricRow, ...]
    indices: tuple[IndicesRecord, ...]
    constraints: ConstraintSummary
    outputs: tuple[OutputRecord, ...] = ()
    inputs: tuple[InputRecord, ...] = ()
    warnings: tuple[str, ...] = field(default=())
    #: ours vs the planning system's DVH Sequence (dosimetry.patient.planning_system); empty when none
    planning_system: tuple[PlanningSystemRow, ...] = ()
    schema_version: str = SCHEMA_VERSION
    recovery: RecoveryRecord | None = None
    #: rigid vs deformable, shift spread, mapping quality (dosimetry.patient.registration_quality); None when not computed
    registration_uncertainty: Any = None

    @property
    def any_fail(self) -> bool:
        return self.constraints.any_fail

    def verdict(self) -> PlanVerdict:
        """Pass / violation / not evaluable, every failing constraint and coverage rule with its margin,
        and the warnings de-duplicated by severity (:mod:`dosimetry.patient.verdict`)."""
        p = self.parameters
        recovery = "" if self.recovery is None else self.recovery.description
        scope = summation_scope(self.alignment is not None, p.residual, self.constraints.alpha_beta_gy, p.summation_method, recovery)
        return plan_verdict(self.constraints.rows, [i.to_dict() for i in self.indices], self.warnings, scope)

    def metric(self, roi: str, quantity: str, metric: str) -> float:
        """The value of a metric row, e.g. ``metric("OpticChiasm", "EQD2_2_cumulative", "Max[Gy]")``."""
        for row in self.metrics:
            if (row.roi, row.quantity, row.metric) == (roi, quantity, metric):
                return row.value
        from dosimetry.errors import ArgumentError

        raise ArgumentError(f"no metric {metric} of ROI {roi!r} on {quantity!r} in these results")

    def to_dict(self) -> dict[str, Any]:
        """The ``results.json`` document (schema :data:`SCHEMA_VERSION`)."""
        document = {
            "schema_version": self.schema_version,
            "software": {"name": "dosimetry", "version": self.software_version},
            "generated_utc": self.generated_utc,
            "parameters": record_dict(self.parameters),
            "patient": {"patient_id": self.patient_id, "patient_name": self.patient_name},
            "courses": [record_dict(c) for c in self.courses],
            "alignment": None if self.alignment is None else record_dict(self.alignment),
            "registration_uncertainty": None if self.registration_uncertainty is None else record_dict(self.registration_uncertainty),
            "dose_levels": {
                "rows": [record_dict(r) for r in self.dose_levels.rows],
                "patient_level": self.dose_levels.patient_level,
                "note": self.dose_levels.note,
            },
            "quantities": [record_dict(q) for q in self.quantities],
            "rois": [record_dict(r) for r in self.rois],
            "metrics": [record_dict(m) for m in self.metrics],
            "indices": [i.to_dict() for i in self.indices],
            "constraints": {
                "any_fail": self.constraints.any_fail,
                "quantity": self.constraints.quantity,
                "alpha_beta_gy": self.constraints.alpha_beta_gy,
                "rows": [record_dict(r) for r in self.constraints.rows],
            },
            "outputs": [record_dict(o) for o in self.outputs],
            "inputs": [record_dict(i) for i in self.inputs],
            "warnings": list(self.warnings),
            "planning_system": [record_dict(r) for r in self.planning_system],
            "verdict": self.verdict().to_dict(),
        }
        if self.recovery is not None:
            document["recovery"] = self.recovery.to_dict()
        return json_ready(document)  # type: ignore[no-any-return]

    def summary(self) -> str:
        """A few readable lines: patient, courses, verdict, each failing check, warnings."""
        lines = [f"patient {self.patient_id} {self.patient_name}".rstrip()]
        for c in self.courses:
            rx = "-" if c.prescription_dose_gy is None else f"{c.prescription_dose_gy:g} Gy"
            lines.append(f"  {c.label} course: {'+'.join(c.radiation_types)} {rx} in {c.fractions} fractions ({c.dose_type})")
        if self.alignment is not None:
            model = self.recovery.description if self.recovery is not None else f"constant residual {self.parameters.residual:g}"
            lines.append(f"  prior dose: {self.alignment.method} ({self.alignment.registration_source}), recovery: {model}")
        cons = self.constraints
        lines.append(
            f"constraints on {cons.quantity} (alpha/beta {cons.alpha_beta_gy:g} Gy): {cons.count(ConstraintStatus.FAIL)} FAIL, "
            f"{cons.count(ConstraintStatus.PASS)} PASS, {cons.count(ConstraintStatus.NOT_EVALUABLE)} not evaluable"
        )
        lines += self.verdict().lines()
        u = self.registration_uncertainty
        if u is not None:
            flips = [r for r in u.rows if r.verdict == "UNCERTAIN"]
            lines.append(f"registration uncertainty (prior dose shifted {u.margin_mm:g} mm): {len(flips)} check(s) UNCERTAIN")
            lines += [f"  UNCERTAIN {r.roi}: {r.metric} {r.status} at {_num(r.value)} {r.unit}, "
                      f"{_num(r.spread_low)}-{_num(r.spread_high)} {r.unit} within the margin" for r in flips]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def constraint_checks(report: ConstraintReport) -> tuple[ConstraintCheck, ...]:
    """Flat rows of an Emami + protocol report (results.json ``constraints.rows``)."""
    rows: list[ConstraintCheck] = []
    for organ in report.organs:
        for e in organ.endpoints:
            rows.append(
                ConstraintCheck(
                    source="emami", roi=e.roi_name, organ=e.organ.value, endpoint=e.endpoint, quantity=e.quantity.value,
                    metric="Max[Gy]", comparator="<=", limit=e.limit_gy, value=e.max_dose_gy, unit="Gy",
                    status=e.status.value, ntcp=e.ntcp, reason=e.reason,
                )
            )
    for p in report.protocol:
        constraint = parse_constraint(p.constraint)
        rows.append(
            ConstraintCheck(
                source="protocol", roi=p.roi_name or "", organ=p.structure, endpoint=f"line {p.line}: {p.constraint}",
                quantity=p.quantity.value, metric=constraint.metric.text, comparator=constraint.op, limit=constraint.limit,
                value=p.value, unit=p.unit, status=p.status.value, ntcp=None, reason=p.reason,
            )
        )
    return tuple(rows)


def course_record(label: str, course: Course) -> CourseRecord:
    plan = course.plan
    fractions = plan.fractions_planned
    prescription = plan.target_prescription_dose_gy
    return CourseRecord(
        label=label,
        folder=str(course.folder),
        plan_sop_instance_uid=plan.sop_instance_uid,
        plan_label=plan.label or plan.name or "",
        radiation_types=tuple(sorted(t.value for t in plan.radiation_types)),
        fractions=int(fractions),
        dose_per_fraction_gy=None if prescription is None else prescription / fractions,
        prescription_dose_gy=prescription,
        dose_type=course.dose.dose_type.value,
        dose_sop_instance_uid=course.dose.sop_instance_uid or "",
        frame_of_reference_uid=course.dose.frame_of_reference_uid,
    )


def dose_levels(maps: PatientMaps) -> DoseLevels:
    """Protocol Table 1 (levels 1-6) via make_schedules and the patient's level (None if off-table)."""
    schedules = make_schedules(PROTOCOL_DOSE_PER_FRACTION_GY, PROTOCOL_FRACTIONS, (2.0, 9.0))
    rows = tuple(
        DoseLevelRow(
            level=i + 1, fractions=s.fractions, dose_per_fraction_gy=s.dose_per_fraction_gy, total_gy=s.total_gy,
            bed2_gy=s.bed_for(2.0), bed9_gy=s.bed_for(9.0), eqd2_2_gy=s.eqd2_for(2.0), eqd2_9_gy=s.eqd2_for(9.0),
        )
        for i, s in enumerate(schedules)
    )
    plan = maps.current.plan
    level: int | None = None
    try:
        n = plan.fractions_planned
        prescription_gy = plan.target_prescription_dose_gy
        if prescription_gy is None:
            raise ConsistencyError(f"{plan.source_path}: no TargetPrescriptionDose of a TARGET item in its DoseReferenceSequence")
        d = float(prescription_gy) / n
        for row in rows:
            if row.fractions == n and abs(row.dose_per_fraction_gy - d) < 1e-6:
                level = row.level
        note = (
            f"current plan: {d:.4g} GyE x {n} fractions = dose level {level}"
            if level is not None
            else f"current plan: {d:.4g} GyE x {n} fractions is not a dose level of the protocol (2.5 GyE x 21-26)"
        )
    except DosimetryError as exc:
        note = f"the current plan's fractionation is unknown ({exc})"
    return DoseLevels(rows, level, note)
