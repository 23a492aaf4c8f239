"""The whole ``dosimetry analyze`` as the batch's per-patient analysis (:func:`full_analysis`).

The analysis itself is the library's (:func:`dosimetry.load_patient` and
:meth:`dosimetry.patient.Patient.write`); this module only adapts one batch patient to it (a folder
per patient whatever the layout) and turns its results into the batch's rows.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dosimetry.constraints.partial_volume import Status as ConstraintStatus
from dosimetry.patient import AnalysisResults, load_patient, resolve_folders
from dosimetry.patient.background import without_background_maps
from pipelines.analysis import AnalysisParameters, ConstraintRow, CourseRow, MetricRow, PatientInputs, PatientResult, RoiRow

if TYPE_CHECKING:
    from dosimetry.radiobiology.recovery import RecoverySelection


def _course_root(folder: Path) -> Path:
    """The folder holding ``current/`` (and ``prior/``) at any depth below ``folder`` when there is
    exactly one such folder (grouped patients keep their ROOT-relative paths), else ``folder``."""
    found = sorted(p for p in Path(folder).rglob("*") if p.is_dir() and p.name.casefold() == "current")
    return found[0].parent if len(found) == 1 else Path(folder)


#: prefix of the metric rows that carry plan-quality indices (``index:paddick_ci``) and coverage (``coverage:V95%[%]``)
INDEX_METRIC_PREFIX = "index:"
COVERAGE_METRIC_PREFIX = "coverage:"


def index_metric_rows(results: AnalysisResults) -> tuple[tuple[MetricRow, ...], tuple[str, ...]]:
    """Every defined plan-quality index and coverage of every target and quantity as a metric row
    (unit ``""`` for indices, ``%`` for coverage), so that they enter metrics.csv, the cohort
    database and ``dosimetry correlate`` like any DVH metric; undefined ones are listed as notes."""
    rows: list[MetricRow] = []
    notes: list[str] = []
    for record in results.indices:
        fields = dict(record.indices)
        for name, item in dict(fields.get("indices") or {}).items():
            value = item.get("value") if isinstance(item, dict) else None
            if value is None:
                reason = item.get("undefined_reason") if isinstance(item, dict) else "no value"
                notes.append(f"index {name} of {record.target} on {record.quantity} undefined ({reason}); not stored as a metric")
                continue
            rows.append(MetricRow(roi=record.target, quantity=record.quantity, metric=f"{INDEX_METRIC_PREFIX}{name}", value=float(value), unit=""))
        for item in fields.get("coverage") or ():
            if isinstance(item, dict) and item.get("covered_pct") is not None:
                rows.append(
                    MetricRow(roi=record.target, quantity=record.quantity, metric=f"{COVERAGE_METRIC_PREFIX}{item['metric']}[%]",
                              value=float(item["covered_pct"]), unit="%")
                )
    return tuple(rows), tuple(notes)


def patient_result(results: AnalysisResults) -> PatientResult:
    """The batch's rows of one patient's results (metrics, constraint checks with a value, courses, ROIs)."""
    constraints: list[ConstraintRow] = []
    seen: set[tuple[object, ...]] = set()
    for row in results.constraints.rows:
        if row.value is None or row.limit is None:
            continue
        key = (row.roi, row.quantity, row.metric, row.comparator, row.limit)
        if key in seen:  # several Emami endpoints with the same limit: keep the first
            continue
        seen.add(key)
        constraints.append(
            ConstraintRow(
                roi=row.roi, quantity=row.quantity, metric=row.metric, comparator=row.comparator,
                limit=float(row.limit), value=float(row.value), unit=row.unit,
                passed=row.status == ConstraintStatus.PASS.value,
                description=f"{row.source}: {row.organ} {row.endpoint}",
            )
        )
    courses = tuple(
        CourseRow(
            label=c.label, plan_sop_instance_uid=c.plan_sop_instance_uid, radiation_type=",".join(c.radiation_types),
            fractions=c.fractions, prescription_dose_gy=c.prescription_dose_gy, frame_of_reference_uid=c.frame_of_reference_uid,
        )
        for c in results.courses
    )
    rois = tuple(
        RoiRow(name=r.name, interpreted_type=r.interpreted_type, volume_cc=r.volume_cc)
        for r in results.rois
        if r.volume_cc is not None
    )
    index_rows, index_notes = index_metric_rows(results)
    return PatientResult(
        metrics=results.metrics + index_rows,
        constraints=tuple(constraints),
        courses=courses,
        rois=rois,
        warnings=results.warnings + index_notes,
        output_files=tuple(o.path for o in results.outputs),
    )


def _recovery(parameters: AnalysisParameters, extra: dict[str, Any]) -> RecoverySelection | None:
    """The batch's recovery models (``extra``), over the protocol file's ``recovery`` block; None: the residual."""
    from dosimetry.constraints.protocol import load_protocol
    from dosimetry.radiobiology.recovery import ConstantResidual, RecoverySelection, selection_from_specs

    base = load_protocol(parameters.protocol_path).recovery if parameters.protocol_path is not None else None
    texts = {k: extra.get(k) for k in ("recovery", "organ_recovery", "compare_recovery")}
    if not any(texts.values()):
        return base
    if base is None and not texts["recovery"] and parameters.residual_fraction != 0.3:
        base = RecoverySelection(ConstantResidual(parameters.residual_fraction, citation="constant residual given by the user (--residual)"))

    def split(name: str) -> list[str]:
        value = texts[name]
        return [s for s in str(value).split(";") if s] if value else []

    return selection_from_specs(str(texts["recovery"]) if texts["recovery"] else None, split("organ_recovery"), split("compare_recovery"), base=base)


def full_analysis(inputs: PatientInputs, parameters: AnalysisParameters, out_dir: Path) -> PatientResult:
    """The :data:`pipelines.analysis.PatientAnalysis` running ``dosimetry analyze`` for one batch patient.

    The patient's folder (:func:`pipelines.adapters.patient_folder`) must have the ``current/``
    (and optionally ``prior/``) layout, or be a single course. ``parameters`` give the residual,
    the alpha/beta ratios, the protocol and the DVH end-cap convention; ``extra`` may hold ``assume_same_position`` (bool) and
    the recovery options of ``dosimetry batch`` (``recovery``, ``organ_recovery`` and
    ``compare_recovery``, lists joined with ";", ``interval_months`` and ``overlap_threshold_gy``
    "PRIOR,CURRENT"); without them the protocol
    file's ``recovery`` block applies, if any.
    Every output of ``dosimetry analyze`` is written into ``out_dir``.
    """
    from pipelines.adapters import patient_folder

    extra = dict(parameters.extra)
    with tempfile.TemporaryDirectory(prefix="analyze-") as scratch:
        folder = _course_root(patient_folder(inputs, Path(scratch)))
        has_prior = resolve_folders(folder).prior is not None
        recovery = _recovery(parameters, extra) if has_prior else None
        interval = extra.get("interval_months")
        thresholds = [float(v) for v in str(extra.get("overlap_threshold_gy") or "10,10").split(",")]
        # without_background_maps: every map made in the worker's thread (dosimetry.patient.background:
        # a batch runs one analysis per core already, as report_workers=0 below says for the report)
        with without_background_maps():
            patient = load_patient(
                folder,
                assume_same_position=bool(extra.get("assume_same_position", False)) and has_prior,
                residual=parameters.residual_fraction if has_prior and recovery is None else None,
                recovery=recovery,
                interval_months=float(interval) if has_prior and isinstance(interval, (int, float)) else None,
                reirradiation_thresholds_gy=(thresholds[0], thresholds[1]),
                alpha_beta_late_gy=parameters.alpha_beta_late_gy,
                alpha_beta_tumour_gy=parameters.alpha_beta_tumour_gy,
                end_cap=parameters.end_cap,
            )
            # report_workers=0: a batch runs one analysis per core already; render processes beside each
            # would oversubscribe the cores and escape the worker's per-patient memory figure
            results = patient.write(Path(out_dir), parameters.protocol_path, report_workers=0)
    return patient_result(results)


full_analysis.analysis_id = "pipelines.analyze.full_analysis"  # type: ignore[attr-defined]
full_analysis.analysis_version = "2"  # type: ignore[attr-defined]  # 2: indices and coverage as metric rows
