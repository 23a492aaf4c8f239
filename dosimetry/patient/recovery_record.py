"""What results.json and the report say about recovery: the models, the interval and the
side-by-side comparison of each organ's cumulative EQD2 under the protocol's model and the
alternatives the user asked for.

Columns of :func:`recovery_comparison`: the protocol's constant 30 % residual everywhere, this
run's model(s) when they differ (with their per-organ assignment), then each alternative applied to
every organ. Rows: every organ at risk that has a cumulative DVH, with ``D0.03cc[Gy]`` and
``Mean[Gy]`` of the cumulative EQD2 at the late alpha/beta, read by the DVH engine as in the
metrics table (so the run's column equals the metrics rows of ``EQD2_2_cumulative``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dosimetry.dvh import compute_dvh, evaluate_metric, release_grid_caches
from dosimetry.errors import DosimetryError
from dosimetry.patient.dvhs import PatientDvhs
from dosimetry.patient.eligibility import eligibility_checks
from dosimetry.patient.grid_tables import GridTables
from dosimetry.patient.maps import PatientMaps, lq_key
from dosimetry.patient.reirradiation_type import DEFAULT_THRESHOLD_GY, classify_reirradiation
from dosimetry.quantities import DoseQuantity
from dosimetry.radiobiology.alpha_beta import RoiRole
from dosimetry.radiobiology.maps import CourseDose
from dosimetry.radiobiology.recovery import ConstantResidual, RecoveryModel, model_record
from dosimetry.radiobiology.summation import RecoveryAssignment, accumulate

COMPARISON_METRICS = ("D0.03cc[Gy]", "Mean[Gy]")
PROTOCOL_COLUMN = "protocol: constant residual 0.3"


@dataclass(frozen=True)
class ComparisonRow:
    roi: str
    metric: str
    values_gy: tuple[float | None, ...]  # one per column; None: the DVH cannot give the metric (see warnings)


@dataclass(frozen=True)
class RecoveryRecord:
    """The ``recovery`` section of results.json."""

    model: dict[str, Any]
    description: str
    per_organ: tuple[dict[str, Any], ...]
    organ_models: tuple[dict[str, str], ...]
    interval: dict[str, Any] | None
    alternatives: tuple[dict[str, Any], ...]
    comparison_quantity: str
    columns: tuple[str, ...]
    rows: tuple[ComparisonRow, ...]
    warnings: tuple[str, ...] = field(default=())
    extra: dict[str, Any] = field(default_factory=dict)  # eligibility, re-irradiation type, ... (later sections)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "description": self.description,
            "per_organ": list(self.per_organ),
            "organ_models": list(self.organ_models),
            "interval": self.interval,
            "alternatives": list(self.alternatives),
            "comparison": {
                "quantity": self.comparison_quantity,
                "metrics": list(COMPARISON_METRICS),
                "columns": list(self.columns),
                "rows": [{"roi": r.roi, "metric": r.metric, "values_gy": list(r.values_gy)} for r in self.rows],
            },
            "warnings": list(self.warnings),
            **self.extra,
        }


def _uniform_map(maps: PatientMaps, model: RecoveryModel) -> Any:
    assert maps.prior is not None and maps.aligned is not None
    months = None if maps.interval is None else maps.interval.months
    return accumulate(
        CourseDose(maps.current.dose, maps.current.plan),
        CourseDose(maps.aligned.dose, maps.prior.plan),
        alpha_beta_gy=maps.alpha_beta_late_gy,
        quantity=DoseQuantity.EQD2,
        recovery=RecoveryAssignment(model, (), months),
        warnings=maps.aligned.warnings,
    ).dose


def recovery_comparison(
    maps: PatientMaps, dvhs: PatientDvhs, *, bin_width_gy: float
) -> tuple[tuple[str, ...], tuple[ComparisonRow, ...], tuple[str, ...]]:
    """The columns, rows and warnings of the side-by-side table (module docstring); no rows without a prior course."""
    if maps.prior is None or maps.aligned is None:
        return (), (), ()
    key = maps.eqd2_late_cumulative_key
    run_label = f"this run: {maps.recovery.describe()}"
    columns: list[tuple[str, RecoveryModel | None]] = [(PROTOCOL_COLUMN, None if maps.recovery.is_protocol_default else ConstantResidual())]
    if not maps.recovery.is_protocol_default:
        columns.append((run_label, None))
    for alternative in maps.recovery.alternatives:
        label = f"alternative: {alternative.label}"
        if alternative != ConstantResidual() and label not in {c for c, _ in columns}:
            columns.append((label, alternative))
    organs = [r for r in dvhs.rois if dvhs.roles[r.name] is RoiRole.ORGAN_AT_RISK and (r.name, key) in dvhs.curves]
    warnings: list[str] = []
    values: dict[tuple[str, str], list[float | None]] = {(r.name, m): [] for r in organs for m in COMPARISON_METRICS}
    for label, column_model in columns:
        dose = None if column_model is None else _uniform_map(maps, column_model)
        for roi in organs:
            dvh = dvhs.curves[(roi.name, key)] if dose is None else compute_dvh(dose, roi, bin_width_gy=bin_width_gy, end_cap=dvhs.end_cap)
            for metric in COMPARISON_METRICS:
                try:
                    values[(roi.name, metric)].append(float(evaluate_metric(dvh, metric)))
                except DosimetryError as exc:
                    values[(roi.name, metric)].append(None)
                    warnings.append(f"recovery comparison ({label}): ROI {roi.name!r} {metric} not evaluated: {exc}")
        if dose is not None:
            release_grid_caches(dose)
    rows = tuple(ComparisonRow(roi, metric, tuple(v)) for (roi, metric), v in values.items())
    return tuple(c for c, _ in columns), rows, tuple(dict.fromkeys(warnings))


def recovery_record(
    maps: PatientMaps,
    dvhs: PatientDvhs,
    *,
    bin_width_gy: float,
    threshold_prior_gy: float = DEFAULT_THRESHOLD_GY,
    threshold_current_gy: float = DEFAULT_THRESHOLD_GY,
    tables: GridTables | None = None,
) -> RecoveryRecord:
    """The ``recovery`` section of results.json for ``maps`` (models, interval, comparison,
    eligibility, re-irradiation type with the given meaningful-dose thresholds). ``tables``: the
    facade's :class:`GridTables` (see :func:`classify_reirradiation`)."""
    selection = maps.recovery
    columns, rows, warnings = recovery_comparison(maps, dvhs, bin_width_gy=bin_width_gy)
    eqd2_current = lq_key(DoseQuantity.EQD2, maps.alpha_beta_late_gy)
    kind, type_warnings = classify_reirradiation(
        maps, dvhs.rois, threshold_prior_gy=threshold_prior_gy, threshold_current_gy=threshold_current_gy, bin_width_gy=bin_width_gy,
        current_dvhs={roi: dvh for (roi, q), dvh in dvhs.curves.items() if q == eqd2_current},  # their max_gy only
        tables=tables, end_cap=dvhs.end_cap,
    )
    return RecoveryRecord(
        model=model_record(selection.default),
        description=selection.describe(),
        per_organ=tuple({"key": key, "model": model_record(model)} for key, model in selection.per_organ),
        organ_models=tuple({"roi": o.roi_name, "key": o.key, "model": o.model_label} for o in maps.organ_models),
        interval=None if maps.interval is None else maps.interval.to_dict(),
        alternatives=tuple(model_record(m) for m in selection.alternatives),
        comparison_quantity=maps.eqd2_late_cumulative_key,
        columns=columns,
        rows=rows,
        warnings=tuple(dict.fromkeys((*warnings, *type_warnings))),
        extra={
            "eligibility": [c.to_dict() for c in eligibility_checks(maps.prior, maps.interval)],
            "reirradiation_type": None if kind is None else kind.to_dict(),
        },
    )
