"""A toxicity-dosimetry study over a batch output: the correlation table plus the models a
researcher publishes, written as an HTML page with figures and a CSV of every table.

:func:`run_study` takes the :class:`pipelines.correlate.CorrelationReport` (univariable logistic
and AUC per metric) and adds, each only when asked for and each with its reason when it cannot be
done (never silently left out):

* the LKB NTCP model of one organ (``lkb_roi``) fitted to the patients' DVHs on ``lkb_quantity``
  (default ``EQD2_2_cumulative``), read from each batch patient's ``OUT/patients/<key>/dvh.csv``
  or, for a cohort database source, from the same curves the batch stored in its ``dvh_curves``
  table (the cumulative DVH every 0.1 Gy; its differences are the differential DVH, each bin's
  volume at the bin's centre dose: :func:`pipelines.dvh_curves.differential_bins`) -
  :func:`dosimetry.outcomes.lkb_fit.fit_lkb`;
* ROC curves of the best-ranked metrics (scikit-learn ``roc_curve``);
* a multivariable logistic model of the endpoint on the group metric (default: the best-ranked
  fitted metric) and the clinical ``covariates`` of the outcomes table (statsmodels; Firth when
  separated) - forest plot;
* with a ``time_column``: Kaplan-Meier curves of the patients above and at-or-below the median of
  the group metric with numbers at risk and the log-rank test, and a Cox model on the group metric
  and the covariates with the proportional-hazards check (lifelines).

:func:`write_study_report` writes ``study.html`` (figures embedded), ``study.json`` and one CSV per
table into a folder, and a methods paragraph with the software versions.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from dosimetry.constraints.samples import OrganDoseBins
from dosimetry.errors import ArgumentError, DosimetryError, InputFileError, OutcomesTableError
from dosimetry.outcomes.lkb_fit import DEFAULT_BOOTSTRAP, MAX_BOOTSTRAP, LkbFit, LkbParameter, fit_lkb
from dosimetry.outcomes.multivariable import MultivariableLogistic, covariate_column, fit_multivariable_logistic
from dosimetry.outcomes.table import endpoint_values, parse_endpoint, read_outcomes_csv, time_to_event
from dosimetry.outcomes.timetoevent import CoxModel, GroupComparison, compare_groups, fit_cox, split_at_median
from pipelines.correlate import CohortMetrics, CorrelationReport, MetricKey
from pipelines.dvh_curves import DVH_FILE_NAME, differential_bins, read_dvh_csv

logger = logging.getLogger(__name__)

STUDY_SCHEMA = "dosimetry.study/1"
PATIENTS_DIR_NAME = "patients"
SOFTWARE = ("dosimetry", "numpy", "scipy", "statsmodels", "lifelines", "firthmodels", "scikit-learn", "matplotlib")

T = TypeVar("T")


@dataclass(frozen=True)
class StudyOptions:
    lkb_roi: str | None = None
    lkb_quantity: str = "EQD2_2_cumulative"
    lkb_fixed_n: float | None = None
    bootstrap: int = DEFAULT_BOOTSTRAP
    covariates: tuple[str, ...] = ()
    time_column: str | None = None
    event: str | None = None
    group_metric: MetricKey | None = None
    roc_curves: int = 5

    def __post_init__(self) -> None:
        # checked here, so a bad option stops the command instead of becoming a "not done" line
        if not isinstance(self.bootstrap, int) or isinstance(self.bootstrap, bool) or not 0 <= self.bootstrap <= MAX_BOOTSTRAP:
            raise ArgumentError(f"--bootstrap must be a whole number of resamples in 0..{MAX_BOOTSTRAP}, got {self.bootstrap!r}")
        if self.lkb_fixed_n is not None and not (math.isfinite(self.lkb_fixed_n) and self.lkb_fixed_n > 0):
            raise ArgumentError(f"--lkb-fix-n must be a volume-effect parameter n > 0, got {self.lkb_fixed_n!r}")
        if not isinstance(self.roc_curves, int) or self.roc_curves < 0:
            raise ArgumentError(f"the number of ROC curves must be >= 0, got {self.roc_curves!r}")


@dataclass(frozen=True)
class RocData:
    label: str
    fpr: tuple[float, ...]
    tpr: tuple[float, ...]
    auc: float


@dataclass(frozen=True)
class StudyResult:
    correlation: CorrelationReport
    options: StudyOptions
    group_metric: MetricKey | None
    lkb: LkbFit | None
    roc: tuple[RocData, ...]
    multivariable: MultivariableLogistic | None
    km: GroupComparison | None
    cox: CoxModel | None
    time_event_label: str
    #: analysis -> why it was not done
    not_done: Mapping[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    software: Mapping[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "schema": STUDY_SCHEMA,
            "correlation": self.correlation.as_dict(),
            "group_metric": self.group_metric.label if self.group_metric else None,
            "lkb": self.lkb.as_dict() if self.lkb else None,
            "roc": [{"label": r.label, "auc": r.auc} for r in self.roc],
            "multivariable_logistic": self.multivariable.as_dict() if self.multivariable else None,
            "kaplan_meier": self.km.as_dict() if self.km else None,
            "cox": self.cox.as_dict() if self.cox else None,
            "time_to_event": self.time_event_label or None,
            "not_done": dict(self.not_done),
            "warnings": list(self.warnings),
            "software": dict(self.software),
            "methods": methods_paragraph(self),
        }


def software_versions() -> dict[str, str]:
    import platform

    versions = {"python": platform.python_version()}
    for name in SOFTWARE:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def load_cohort_dvhs(
    results_dir: Path, patient_keys: Mapping[str, str], patient_ids: Sequence[str], roi: str, quantity: str
) -> tuple[dict[str, OrganDoseBins], list[str]]:
    """Differential DVHs of ``roi`` on ``quantity`` per PatientID from the batch's per-patient
    ``dvh.csv``; patients without the file or the curve are listed in the returned warnings."""
    organs: dict[str, OrganDoseBins] = {}
    missing: list[str] = []
    for pid in patient_ids:
        key = patient_keys.get(pid)
        path = Path(results_dir) / PATIENTS_DIR_NAME / key / DVH_FILE_NAME if key else None
        if path is None or not path.is_file():
            missing.append(f"{pid} (no {path or 'batch folder'})")
            continue
        curves = read_dvh_csv(path, roi=roi, quantity=quantity)
        organ = differential_bins(curves[0].dose_gy, curves[0].volume_cc, f"{path}: {pid} {roi} on {quantity}") if curves else None
        if organ is None:
            missing.append(f"{pid} (no {roi} DVH on {quantity} in {path})")
            continue
        organs[pid] = organ
    return organs, _missing_warning(missing, roi, quantity)


def load_cohort_dvhs_from_database(
    url: str, run_id: str, patient_keys: Mapping[str, str], patient_ids: Sequence[str], roi: str, quantity: str
) -> tuple[dict[str, OrganDoseBins], list[str]]:
    """As :func:`load_cohort_dvhs`, from the ``dvh_curves`` table of the cohort database at ``url``
    (the patients of batch run ``run_id``, as for their metrics); the password of ``url`` appears
    in no message."""
    import sqlalchemy as sa

    from pipelines.correlate import _read_only, redact_secret
    from pipelines.store import CohortStore, dvh_curves, redact_url

    label = redact_url(url)
    engine = sa.create_engine(_read_only(url), future=True)
    try:
        if not sa.inspect(engine).has_table(dvh_curves.name):
            raise InputFileError(
                f"the cohort database {label} holds no DVH curves (written before schema version 2 added the "
                f"{dvh_curves.name} table): rerun 'dosimetry batch' with the same --out and --db to fill it in, or give --results OUT"
            )
        wanted = {patient_keys[p]: p for p in patient_ids if p in patient_keys}
        curves = {wanted[key]: curve for key, _pid, curve in CohortStore(engine).dvh_curve_rows(run_id, roi, quantity) if key in wanted}
    except sa.exc.SQLAlchemyError as exc:
        reason = " ".join(str(getattr(exc, "orig", None) or exc).split()) or type(exc).__name__
        raise InputFileError(redact_secret(f"cannot read the DVH curves of the cohort database {label}: {reason}", url)) from None
    finally:
        engine.dispose()
    organs: dict[str, OrganDoseBins] = {}
    missing: list[str] = []
    for pid in patient_ids:
        curve = curves.get(pid)
        organ = differential_bins(curve.dose_gy, curve.volume_cc, f"cohort database: {pid} {roi} on {quantity}") if curve is not None else None
        if organ is None:
            missing.append(f"{pid} (no {roi} DVH on {quantity} in the cohort database)")
            continue
        organs[pid] = organ
    return organs, _missing_warning(missing, roi, quantity)


def _missing_warning(missing: Sequence[str], roi: str, quantity: str) -> list[str]:
    if not missing:
        return []
    return [f"LKB fit: {len(missing)} patient(s) without a {roi} DVH on {quantity} are left out: {', '.join(missing[:10])}"]


def _attempt(name: str, not_done: dict[str, str], action: Callable[[], T]) -> T | None:
    try:
        return action()
    except DosimetryError as exc:
        not_done[name] = str(exc)
        logger.info("study: %s not done: %s", name, exc)
        return None


def run_study(
    metrics: CohortMetrics,
    correlation: CorrelationReport,
    results_dir: Path | None,
    options: StudyOptions,
    *,
    database_url: str | None = None,
) -> StudyResult:
    """Run the study's models (see the module docstring); failures are recorded per analysis.
    The LKB fit reads the DVH curves from the cohort database at ``database_url`` (the run
    ``metrics`` were read from) when given, else from the output folder ``results_dir``."""
    table = read_outcomes_csv(correlation.outcomes_path)
    ends = endpoint_values(table, correlation.endpoint)
    joined = list(correlation.patients_joined)
    y_by = ends.by_patient
    warnings = list(correlation.warnings)
    not_done: dict[str, str] = {}

    fitted = [a for a in correlation.associations if a.fit is not None]
    group = options.group_metric or (fitted[0].key if fitted else None)
    if group is not None and group not in metrics.values:
        raise OutcomesTableError(f"--group-metric {group.label}: not in the cohort metrics")

    lkb = None
    if options.lkb_roi:
        roi = options.lkb_roi

        def do_lkb() -> LkbFit:
            if database_url is not None and metrics.run_id is not None:
                organs, notes = load_cohort_dvhs_from_database(
                    database_url, metrics.run_id, metrics.patient_keys, joined, roi, options.lkb_quantity
                )
            elif results_dir is not None:
                organs, notes = load_cohort_dvhs(results_dir, metrics.patient_keys, joined, roi, options.lkb_quantity)
            else:
                raise InputFileError(
                    "the LKB fit reads the patients' DVH curves from the batch output folder (--results OUT) or the "
                    "cohort database (--source DATABASE_URL); neither was given"
                )
            warnings.extend(notes)
            pids = [p for p in joined if p in organs]
            fixed = {LkbParameter.N: options.lkb_fixed_n} if options.lkb_fixed_n is not None else {}
            return fit_lkb([organs[p] for p in pids], [y_by[p] for p in pids], patient_ids=pids, organ=roi,
                           quantity=options.lkb_quantity, fixed=fixed, bootstrap=options.bootstrap)

        lkb = _attempt("LKB NTCP fit", not_done, do_lkb)
    else:
        not_done["LKB NTCP fit"] = "no organ given (--lkb-roi)"

    roc = []
    if options.roc_curves > 0:
        from sklearn.metrics import roc_curve

        for a in fitted[: options.roc_curves]:
            pids = [p for p in joined if p in metrics.values[a.key]]
            x = np.array([metrics.values[a.key][p] for p in pids])
            y = np.array([y_by[p] for p in pids], dtype=int)
            fpr, tpr, _ = roc_curve(y, x)
            roc.append(RocData(a.key.label, tuple(map(float, fpr)), tuple(map(float, tpr)), a.discrimination.auc))

    covariate_values: dict[str, dict[str, float]] = {}
    for name in options.covariates:
        column = _attempt(f"covariate {name}", not_done, functools.partial(_covariate, table, name))
        if column is not None:
            label, values = column
            covariate_values[label] = values

    multivariable = None
    if group is not None:
        def do_multivariable() -> MultivariableLogistic:
            predictors = {group.label: dict(metrics.values[group]), **covariate_values}
            pids = [p for p in joined if all(p in v and math.isfinite(v[p]) for v in predictors.values())]
            if len(pids) < len(joined):
                warnings.append(f"multivariable logistic: {len(joined) - len(pids)} patient(s) with a missing predictor left out")
            return fit_multivariable_logistic({k: [v[p] for p in pids] for k, v in predictors.items()}, [y_by[p] for p in pids])

        multivariable = _attempt("multivariable logistic regression", not_done, do_multivariable)
    else:
        not_done["multivariable logistic regression"] = "no metric could be fitted to be its dose predictor"

    km = cox = None
    time_label = ""
    if options.time_column and group is not None:
        event = parse_endpoint(options.event) if options.event else correlation.endpoint
        time_label = f"{options.time_column} to {event.label}"
        tte = time_to_event(table, options.time_column, event)
        pids = [p for p in tte.times if p in metrics.values[group]]
        t = np.array([tte.times[p] for p in pids])
        e = np.array([tte.events[p] for p in pids], dtype=int)
        x = np.array([metrics.values[group][p] for p in pids])

        def do_km() -> GroupComparison:
            labels, _ = split_at_median(x, group.label)
            return compare_groups(t, e, labels)

        km = _attempt("Kaplan-Meier and log-rank", not_done, do_km)

        def do_cox() -> CoxModel:
            keep = [i for i, p in enumerate(pids) if all(p in v and math.isfinite(v[p]) for v in covariate_values.values())]
            covs = {group.label: x[keep], **{k: np.array([v[pids[i]] for i in keep]) for k, v in covariate_values.items()}}
            return fit_cox(t[keep], e[keep], covs)

        cox = _attempt("Cox proportional hazards", not_done, do_cox)
    else:
        reason = "no --time-column given" if not options.time_column else "no group metric"
        not_done["Kaplan-Meier and log-rank"] = reason
        not_done["Cox proportional hazards"] = reason
    for model in (lkb, multivariable, km, cox):
        if model is not None:
            warnings.extend(model.warnings)
    return StudyResult(
        correlation, options, group, lkb, tuple(roc), multivariable, km, cox, time_label, not_done,
        tuple(dict.fromkeys(warnings)), software_versions(),
    )


def _covariate(table: Any, name: str) -> tuple[str, dict[str, float]]:
    from dosimetry.outcomes.table import column_cells

    cells = column_cells(table, name, "a covariate")
    pids = list(cells)
    values, label = covariate_column([cells[p] for p in pids], name)
    return label, {p: float(v) for p, v in zip(pids, values)}


def methods_paragraph(result: StudyResult) -> str:
    v = result.software
    c = result.correlation
    parts = [
        f"{len(c.patients_joined)} patients with {c.events} events of the endpoint {c.endpoint.label} were analysed. "
        "Each dosimetric metric was related to the endpoint by univariable logistic regression (statsmodels "
        f"{v.get('statsmodels')}) with profile-likelihood 95 % confidence intervals of the odds ratio and of the metric "
        "value at 50 % probability (truncated at 0 for non-negative metrics), likelihood-ratio p-values with Holm "
        "adjustment over the metrics, and the ROC AUC with the Mann-Whitney test (scipy "
        f"{v.get('scipy')})."
    ]
    if result.lkb is not None:
        fit = result.lkb
        fixed = [p.parameter.value for p in (fit.td50, fit.m, fit.n) if p.fixed]
        parts.append(
            f"The Lyman-Kutcher-Burman model (gEUD with a = 1/n) was fitted by maximum likelihood to the differential DVHs "
            f"of {fit.organ} on {fit.quantity}{' with ' + ', '.join(fixed) + ' fixed' if fixed else ''}; 95 % confidence "
            f"intervals are profile-likelihood intervals on the log scale of each parameter, cross-checked by a "
            f"patient-level bootstrap ({fit.bootstrap.succeeded} of {fit.bootstrap.requested} resamples fitted); "
            "calibration was assessed by the Hosmer-Lemeshow test over groups of predicted risk and discrimination by the AUC."
        )
    if result.multivariable is not None:
        parts.append(
            f"A multivariable logistic model ({result.multivariable.method.value}, firthmodels {v.get('firthmodels')} for "
            "Firth's penalised likelihood) related the endpoint to the dose metric and the clinical covariates."
        )
    if result.km is not None or result.cox is not None:
        parts.append(
            f"Time to event ({result.time_event_label}) was estimated by the Kaplan-Meier method with log(-log) 95 % "
            "confidence intervals and compared between dose groups (split at the median of the dose metric) by the log-rank "
            f"test; a Cox proportional-hazards model (lifelines {v.get('lifelines')}) gave hazard ratios, with the "
            "proportional-hazards assumption checked by the scaled Schoenfeld residual test."
        )
    parts.append(
        f"Analyses used dosimetry {v.get('dosimetry')}, Python {v.get('python')}, numpy {v.get('numpy')} and matplotlib "
        f"{v.get('matplotlib')}. Fewer than 10 events per estimated parameter is flagged as a small sample."
    )
    return " ".join(parts)
