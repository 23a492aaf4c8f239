"""The researcher's step: correlate a binary outcome with every dosimetric metric of a cohort.

Inputs: the output folder of ``dosimetry batch`` (its ``metrics.csv``, or its ``cohort.sqlite``
when asked or when there is no CSV), or the cohort database itself given by its SQLAlchemy URL
(``sqlite:///...`` or ``postgresql+psycopg://user:password@host/db``: the patients of its latest
run; the password never appears in a message or a result), and an outcomes CSV (``patient_id`` plus endpoint columns,
see :mod:`dosimetry.outcomes.table`). The two are joined on the DICOM PatientID. Patients present
in only one of them, patients without a value for the endpoint, and PatientIDs that occur under
two batch patient folders are listed as warnings and left out, never dropped silently.

For every (ROI, quantity, metric) the patients having both the metric and the endpoint give:
n, events, the univariable logistic fit (odds ratio per unit of the metric with Wald 95 % CI and
profile-likelihood 95 % CI - the one to quote with few events -, likelihood-ratio p-value, metric
value at 50 % probability), and the ROC AUC with the two-sided
Mann-Whitney p-value. Metrics that cannot be fitted (separation) keep their AUC and the reason;
metrics that cannot be analysed at all (constant, no events among their patients, fewer than 3
patients) are listed with the reason. Associations are ranked by the likelihood-ratio p-value;
p-values are unadjusted, and Holm-adjusted values over the fitted metrics are given alongside.
"""

from __future__ import annotations

import csv
import enum
import json
import logging
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np

from dosimetry.errors import ArgumentError, InputFileError
from dosimetry.outcomes import (
    Discrimination,
    Endpoint,
    LogisticFit,
    ModelFitError,
    discrimination,
    endpoint_values,
    fit_logistic,
    holm_adjust,
    read_outcomes_csv,
)
from dosimetry.errors import OutcomesTableError
from dosimetry.io.csv_cells import csv_writer, restore_row
from pipelines.atomic import open_atomic
from pipelines.csv_out import METRICS_COLUMNS, METRICS_CSV_NAME
from pipelines.store import DEFAULT_DB_NAME

logger = logging.getLogger(__name__)

RESULT_SCHEMA = "dosimetry.correlate/1"
#: units of metrics that cannot be negative (doses, volumes, percentages, dimensionless indices):
#: the interval of the value at 50 % probability is truncated at 0 for them (flagged)
NONNEGATIVE_UNITS = frozenset({"Gy", "GyE", "Gy(RBE)", "cc", "%", "", "1"})
#: fewer events (or non-events) than this per estimated parameter draws a small-sample warning
EVENTS_PER_PARAMETER_WARNING = 10


class MetricsSource(enum.Enum):
    AUTO = "auto"
    CSV = "csv"
    SQLITE = "sqlite"
    DATABASE = "database"  # a database URL


def is_database_url(text: str | Path) -> bool:
    """Whether ``text`` is a database URL (``dialect[+driver]://...``) rather than a path."""
    return isinstance(text, str) and "://" in text and text.split("://", 1)[0].replace("+", "").replace("_", "").isalnum()


@dataclass(frozen=True, order=True)
class MetricKey:
    roi: str
    quantity: str
    metric: str

    @property
    def label(self) -> str:
        return f"{self.roi} {self.quantity} {self.metric}"


@dataclass(frozen=True)
class CohortMetrics:
    """Metric values per key and PatientID, read from a batch output."""

    source: Path | str  # a path, or a database URL without its password
    values: Mapping[MetricKey, Mapping[str, float]]
    units: Mapping[MetricKey, str]
    patient_ids: tuple[str, ...]
    warnings: tuple[str, ...] = ()
    #: batch patient folder (``OUT/patients/<key>``) of each unambiguous PatientID
    patient_keys: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    #: the batch run whose patients were read from a cohort database (None: read from a CSV file);
    #: its DVH curves are read through the same run (:func:`pipelines.study.load_cohort_dvhs_from_database`)
    run_id: str | None = None


def _resolve_source(results: Path, source: MetricsSource) -> tuple[Path, MetricsSource]:
    results = Path(results)
    if results.is_file():
        if source is MetricsSource.AUTO:
            source = MetricsSource.CSV if results.suffix.lower() == ".csv" else MetricsSource.SQLITE
        return results, source
    if not results.is_dir():
        raise InputFileError(f"--results {results}: no such folder or file (expected a 'dosimetry batch' output folder)")
    csv_path, db_path = results / METRICS_CSV_NAME, results / DEFAULT_DB_NAME
    if source is MetricsSource.CSV or (source is MetricsSource.AUTO and csv_path.is_file()):
        if not csv_path.is_file():
            raise InputFileError(f"--results {results}: no {METRICS_CSV_NAME} (run 'dosimetry batch ROOT --out {results}' first)")
        return csv_path, MetricsSource.CSV
    if not db_path.is_file():
        if source is MetricsSource.SQLITE and csv_path.is_file():
            raise InputFileError(
                f"--results {results} --source sqlite: no {DEFAULT_DB_NAME} in {results} (the batch wrote its database "
                f"elsewhere with --db?); {METRICS_CSV_NAME} exists: use --source csv, or --source DATABASE_URL"
            )
        raise InputFileError(
            f"--results {results}: neither {METRICS_CSV_NAME} nor {DEFAULT_DB_NAME} found "
            f"(run 'dosimetry batch ROOT --out {results}' first)"
        )
    return db_path, MetricsSource.SQLITE


def _rows_from_csv(path: Path) -> list[dict[str, str]]:
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in METRICS_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise OutcomesTableError(f"{path}, line 1: missing column(s) {', '.join(missing)} (expected {', '.join(METRICS_COLUMNS)})")
            rows = []
            for line, row in enumerate(reader, start=2):
                if None in row or any(row[c] is None for c in METRICS_COLUMNS):
                    raise OutcomesTableError(f"{path}, line {line}: expected {len(reader.fieldnames or [])} fields")
                row = restore_row(row)  # undo the formula-injection escape of csv_writer
                row["_line"] = str(line)
                rows.append(row)
            return rows
    except OSError as exc:
        raise InputFileError(f"cannot read {path}: {exc}") from exc


def redact_secret(text: str, url: str) -> str:
    """``text`` with ``url``'s password (and the URL itself) replaced, for messages and results."""
    from pipelines.store import redact_url

    text = text.replace(url, redact_url(url))
    try:
        import sqlalchemy as sa

        password = sa.engine.make_url(url).password
    except Exception:  # noqa: BLE001 - an unparsable URL: hide everything after the scheme
        password = url.split("://", 1)[-1] if "://" in url else None
    if password:
        text = text.replace(str(password), "***")
    return text


def _read_only(url: str) -> str:
    """An SQLite URL opened read-only (an absent file is an error, never created); others unchanged."""
    import sqlalchemy as sa

    try:
        parsed = sa.engine.make_url(url)
    except (sa.exc.ArgumentError, ValueError):
        return url  # _rows_from_database reports it
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:" or parsed.database.startswith("file:"):
        return url
    path = Path(parsed.database)
    if not path.is_file():
        raise InputFileError(f"--source: no such SQLite file {path}")
    return f"sqlite:///file:{path.resolve()}?mode=ro&uri=true"


def _rows_from_database(url: str, label: str) -> tuple[list[dict[str, str]], list[str], str]:
    """The metric rows of the latest run recorded in the cohort database at ``url``."""
    import sqlalchemy as sa

    from pipelines.store import CohortStore, patient_runs, patients, runs

    try:
        engine = sa.create_engine(url, future=True)
    except (sa.exc.ArgumentError, ValueError, ImportError) as exc:  # ValueError: e.g. a port that is not a number
        raise ArgumentError(
            redact_secret(f"--source {label}: not a usable database URL ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}); "
                          "expected sqlite:///PATH or postgresql+psycopg://USER:PASSWORD@HOST/DB", url)
        ) from None
    try:
        with engine.connect() as conn:
            latest = conn.execute(sa.select(runs.c.run_id, runs.c.out_dir).order_by(runs.c.started_utc.desc()).limit(1)).first()
            if latest is None:
                raise InputFileError(f"{label}: the cohort database records no batch run")
            failed = conn.execute(
                sa.select(patients.c.patient_id, patient_runs.c.error)
                .select_from(patient_runs.join(patients, patients.c.patient_key == patient_runs.c.patient_key))
                .where((patient_runs.c.run_id == latest.run_id) & (patient_runs.c.status == "failed"))
                .order_by(patients.c.patient_id)
            ).all()
        rows = [{**{k: str(v) for k, v in r.items()}, "_line": ""} for r in CohortStore(engine).metric_rows(latest.run_id)]
    except sa.exc.SQLAlchemyError as exc:
        reason = " ".join(str(getattr(exc, "orig", None) or exc).split()) or type(exc).__name__
        raise InputFileError(redact_secret(f"cannot read the cohort database {label}: {reason}", url)) from None
    finally:
        engine.dispose()
    warnings = [f"patient {pid} failed in the batch and has no metrics: {err}" for pid, err in failed]
    logger.info("cohort database %s: latest run %s (output folder %s)", label, latest.run_id, latest.out_dir)
    return rows, warnings, str(latest.run_id)


def load_cohort_metrics(
    results: Path | str | None, *, source: MetricsSource = MetricsSource.AUTO, database_url: str | None = None
) -> CohortMetrics:
    """Read the metric rows of a batch output folder (``metrics.csv`` preferred, else
    ``cohort.sqlite``: the patients of its latest run), of a CSV / SQLite file given directly, or
    of the cohort database at ``database_url`` (or a URL given as ``results``): the patients of
    the latest run it records."""
    if database_url is None and results is not None and is_database_url(str(results)) and not Path(results).exists():
        database_url = str(results)
    warnings: list[str] = []
    run_id: str | None = None
    path: Path | str
    if database_url is not None:
        from pipelines.store import redact_url

        path = redact_url(database_url)
        rows, warnings, run_id = _rows_from_database(_read_only(database_url), path)
    else:
        if results is None:
            raise ArgumentError("give --results OUT (a batch output folder) or --source DATABASE_URL")
        path, kind = _resolve_source(Path(results), source)
        if kind is MetricsSource.CSV:
            rows = _rows_from_csv(path)
        else:
            sqlite_url = f"sqlite:///file:{path.resolve()}?mode=ro&uri=true"
            rows, warnings, run_id = _rows_from_database(sqlite_url, str(path))
    keys_of_id: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        keys_of_id[row["patient_id"]].add(row["patient_key"])
    ambiguous = {pid for pid, keys in keys_of_id.items() if len(keys) > 1}
    for pid in sorted(ambiguous):
        warnings.append(
            f"PatientID {pid} appears under several batch patients ({', '.join(sorted(keys_of_id[pid]))}) in {path}; "
            "left out because its outcome cannot be assigned to one of them"
        )
    values: dict[MetricKey, dict[str, float]] = defaultdict(dict)
    units: dict[MetricKey, str] = {}
    for row in rows:
        pid = row["patient_id"]
        if pid in ambiguous:
            continue
        key = MetricKey(row["roi"], row["quantity"], row["metric"])
        where = f"{path}, line {row['_line']}" if row["_line"] else f"{path}"
        try:
            value = float(row["value"])
        except ValueError:
            raise OutcomesTableError(f"{where}, column 'value': {row['value']!r} is not a number ({pid}, {key.label})") from None
        if not math.isfinite(value):
            raise OutcomesTableError(f"{where}, column 'value': {row['value']!r} is not finite ({pid}, {key.label})")
        if pid in values[key]:
            raise OutcomesTableError(f"{where}: a second value of {key.label} for patient {pid}")
        unit = units.setdefault(key, row["unit"])
        if unit != row["unit"]:
            raise OutcomesTableError(f"{where}, column 'unit': {key.label} has unit {row['unit']!r} here and {unit!r} elsewhere")
        values[key][pid] = value
    if not values:
        raise InputFileError(f"{path}: no metric rows (did every patient of the batch fail?)")
    patient_ids = tuple(sorted({pid for v in values.values() for pid in v}))
    logger.info("read %d metrics of %d patients from %s", len(values), len(patient_ids), path)
    return CohortMetrics(
        source=path,
        values=MappingProxyType({k: MappingProxyType(v) for k, v in sorted(values.items())}),
        units=MappingProxyType(units),
        patient_ids=patient_ids,
        warnings=tuple(warnings),
        patient_keys=MappingProxyType({pid: next(iter(keys)) for pid, keys in keys_of_id.items() if pid not in ambiguous}),
        run_id=run_id,
    )


@dataclass(frozen=True)
class MetricAssociation:
    """One metric's association with the endpoint. ``fit`` is None exactly when the logistic
    model could not be fitted, and ``fit_error`` then says why (e.g. separation)."""

    key: MetricKey
    unit: str
    n: int
    events: int
    patients_without_metric: int
    discrimination: Discrimination
    fit: LogisticFit | None
    fit_error: str
    lr_p_value_holm: float | None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "roi": self.key.roi,
            "quantity": self.key.quantity,
            "metric": self.key.metric,
            "unit": self.unit,
            "n": self.n,
            "events": self.events,
            "patients_without_metric": self.patients_without_metric,
            "auc": self.discrimination.auc,
            "mann_whitney_u": self.discrimination.u_statistic,
            "mann_whitney_p_value": self.discrimination.p_value,
            "logistic": self.fit.as_dict() if self.fit is not None else None,
            "logistic_error": self.fit_error or None,
            "lr_p_value_holm": self.lr_p_value_holm,
        }
        return out


@dataclass(frozen=True)
class NotAnalysed:
    key: MetricKey
    n: int
    events: int
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"roi": self.key.roi, "quantity": self.key.quantity, "metric": self.key.metric, "n": self.n, "events": self.events, "reason": self.reason}


@dataclass(frozen=True)
class CorrelationReport:
    """Associations ranked by the likelihood-ratio p-value (fitted metrics first, then the
    metrics with separation, ranked by the Mann-Whitney p-value)."""

    metrics_source: Path | str
    outcomes_path: Path
    endpoint: Endpoint
    patients_joined: tuple[str, ...]
    events: int
    associations: tuple[MetricAssociation, ...]
    not_analysed: tuple[NotAnalysed, ...]
    warnings: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        return {
            "schema": RESULT_SCHEMA,
            "metrics_source": str(self.metrics_source),
            "outcomes": str(self.outcomes_path),
            "endpoint": self.endpoint.label,
            "patients": len(self.patients_joined),
            "events": self.events,
            "p_values": "unadjusted likelihood-ratio and Mann-Whitney p-values; lr_p_value_holm is Holm-adjusted over the fitted metrics",
            "associations": [a.as_dict() for a in self.associations],
            "not_analysed": [n.as_dict() for n in self.not_analysed],
            "warnings": list(self.warnings),
        }


def _select(keys: Sequence[MetricKey], attr: str, wanted: Sequence[str] | None, option: str) -> list[MetricKey]:
    if not wanted:
        return list(keys)
    available = sorted({getattr(k, attr) for k in keys})
    lower = {w.lower() for w in wanted}
    unknown = [w for w in wanted if w.lower() not in {a.lower() for a in available}]
    if unknown:
        raise ArgumentError(f"{option} {', '.join(unknown)}: not in the cohort metrics (available: {', '.join(available)})")
    return [k for k in keys if getattr(k, attr).lower() in lower]


def _listing(ids: Sequence[str], limit: int = 20) -> str:
    shown = ", ".join(ids[:limit])
    return shown + (f", ... ({len(ids) - limit} more)" if len(ids) > limit else "")


def small_sample_warning(events: int, patients: int, parameters: int = 1) -> str:
    minority = min(events, patients - events)
    return (
        f"SMALL SAMPLE: {events} event(s) among {patients} patients, {minority / parameters:.1f} "
        f"{'events' if events <= patients - events else 'non-events'} per estimated parameter (fewer than "
        f"{EVENTS_PER_PARAMETER_WARNING}); odds ratios are biased away from 1, p-values and intervals approximate - "
        "treat every association as exploratory"
    )


def correlate(
    metrics: CohortMetrics,
    outcomes_path: Path | str,
    endpoint: Endpoint,
    *,
    rois: Sequence[str] | None = None,
    quantities: Sequence[str] | None = None,
    metric_names: Sequence[str] | None = None,
) -> CorrelationReport:
    """Join ``metrics`` with the outcomes CSV and analyse every selected metric."""
    table = read_outcomes_csv(outcomes_path)
    ends = endpoint_values(table, endpoint)
    warnings = list(metrics.warnings) + list(ends.warnings)
    metric_ids = set(metrics.patient_ids)
    outcome_ids = set(table.patient_ids)
    only_metrics = sorted(metric_ids - outcome_ids)
    only_outcomes = sorted(outcome_ids - metric_ids)
    if only_metrics:
        warnings.append(f"{len(only_metrics)} patient(s) have metrics but no row in {table.path}, left out: {_listing(only_metrics)}")
    if only_outcomes:
        warnings.append(f"{len(only_outcomes)} patient(s) of {table.path} have no metrics in {metrics.source}, left out: {_listing(only_outcomes)}")
    joined = tuple(sorted(metric_ids & set(ends.by_patient)))
    if not joined:
        raise ArgumentError(
            f"no patient is in both {metrics.source} ({len(metric_ids)} patients) and {table.path} "
            f"({len(outcome_ids)} patients, endpoint '{endpoint.label}'): do the patient_id values match the DICOM PatientIDs?"
        )
    events = sum(ends.by_patient[p] for p in joined)
    if events in (0, len(joined)):
        raise ModelFitError(
            f"endpoint '{endpoint.label}' of {table.path}: {'no events' if events == 0 else 'every patient has the event'} "
            f"among the {len(joined)} patients with metrics; nothing to correlate"
        )
    all_keys = list(metrics.values)
    selected = set(_select(all_keys, "roi", rois, "--roi"))
    selected &= set(_select(all_keys, "quantity", quantities, "--quantity"))
    selected &= set(_select(all_keys, "metric", metric_names, "--metric"))
    keys = [k for k in all_keys if k in selected]
    if not keys:
        raise ArgumentError("the --roi/--quantity/--metric selection matches no metric of the cohort")

    fitted: list[tuple[MetricKey, int, int, int, Discrimination, LogisticFit]] = []
    separated: list[tuple[MetricKey, int, int, int, Discrimination, str]] = []
    not_analysed: list[NotAnalysed] = []
    for key in keys:
        by_pid = metrics.values[key]
        pids = [p for p in joined if p in by_pid]
        x = np.array([by_pid[p] for p in pids], dtype=float)
        y = np.array([ends.by_patient[p] for p in pids], dtype=bool)
        n, events, without = len(pids), int(y.sum()), len(joined) - len(pids)
        label = key.label
        try:
            disc = discrimination(x, y, name=label)
        except ModelFitError as exc:
            not_analysed.append(NotAnalysed(key, n, events, str(exc)))
            continue
        try:
            fit = fit_logistic(x, y, name=label, domain_lower=0.0 if metrics.units[key] in NONNEGATIVE_UNITS else None)
        except ModelFitError as exc:
            separated.append((key, n, events, without, disc, str(exc)))
            continue
        fitted.append((key, n, events, without, disc, fit))

    holm = holm_adjust([f[5].lr_p_value for f in fitted]) if fitted else ()
    associations = [
        MetricAssociation(key, metrics.units[key], n, ev, wo, disc, fit, "", h)
        for (key, n, ev, wo, disc, fit), h in zip(fitted, holm)
    ]
    associations.sort(key=lambda a: (a.fit.lr_p_value if a.fit else 1.0, a.key))
    tail = [MetricAssociation(key, metrics.units[key], n, ev, wo, disc, None, err, None) for key, n, ev, wo, disc, err in separated]
    tail.sort(key=lambda a: (a.discrimination.p_value, a.key))
    if not_analysed:
        warnings.append(f"{len(not_analysed)} metric(s) could not be analysed (listed with the reason)")
    minority = min(events, len(joined) - events)
    if minority < EVENTS_PER_PARAMETER_WARNING:
        warnings.insert(0, small_sample_warning(events, len(joined)))
    return CorrelationReport(
        metrics_source=metrics.source,
        outcomes_path=table.path,
        endpoint=endpoint,
        patients_joined=joined,
        events=events,
        associations=tuple(associations + tail),
        not_analysed=tuple(not_analysed),
        warnings=tuple(warnings),
    )


CSV_COLUMNS = (
    "rank", "roi", "quantity", "metric", "unit", "n", "events", "odds_ratio_per_unit", "or_ci95_low", "or_ci95_high",
    "lr_p_value", "lr_p_value_holm", "auc", "mann_whitney_p_value", "x50", "x50_ci95_low", "x50_ci95_high", "note",
    "or_profile_ci95_low", "or_profile_ci95_high", "or_profile_ci95_unbounded", "x50_ci95_truncated", "small_sample",
)


def report_csv_rows(report: CorrelationReport) -> list[list[str]]:
    """One row per association in rank order (empty cells where the logistic fit is absent,
    with the reason in ``note``). Then the profile-likelihood 95 % CI of the odds ratio (``inf`` /
    ``0.0`` at an unbounded end) and which ends are unbounded (``none``, ``lower``, ``upper`` or
    ``lower,upper``); ``or_ci95_*`` are the Wald interval. ``x50_ci95_*`` is the profile-likelihood
    interval of the value at 50 % probability (empty at an unbounded end), ``x50_ci95_truncated``
    whether it was cut at the metric's domain (0), ``small_sample`` whether fewer than 10 events
    (or non-events) per parameter stand behind the row."""
    rows = []
    for rank, a in enumerate(report.associations, start=1):
        if a.fit is not None:
            lo, hi = a.fit.odds_ratio_ci95
            x_lo, x_hi = a.fit.x50_ci95
            fit_cells = [repr(a.fit.odds_ratio), repr(lo), repr(hi), repr(a.fit.lr_p_value), repr(a.lr_p_value_holm)]
            x50_cells = [repr(a.fit.x50), "" if x_lo is None else repr(x_lo), "" if x_hi is None else repr(x_hi)]
            p_lo, p_hi = a.fit.odds_ratio_profile_ci95
            open_ends = [end for end, flag in zip(("lower", "upper"), a.fit.profile_ci95_unbounded) if flag]
            profile_cells = [repr(p_lo), repr(p_hi), ",".join(open_ends) or "none"]
        else:
            fit_cells, x50_cells, profile_cells = [""] * 5, [""] * 3, [""] * 3
        rows.append(
            [str(rank), a.key.roi, a.key.quantity, a.key.metric, a.unit, str(a.n), str(a.events), *fit_cells,
             repr(a.discrimination.auc), repr(a.discrimination.p_value), *x50_cells, a.fit_error, *profile_cells,
             str(bool(a.fit is not None and a.fit.x50_ci95_truncated)).lower(),
             str(min(a.events, a.n - a.events) < EVENTS_PER_PARAMETER_WARNING).lower()]
        )
    return rows


def write_report_csv(report: CorrelationReport, path: Path | str) -> None:
    """Write the ranked associations atomically to ``path``."""
    with open_atomic(Path(path), "w", newline="") as handle:
        writer = csv_writer(handle, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        writer.writerows(report_csv_rows(report))


def report_json(report: CorrelationReport) -> str:
    return json.dumps(report.as_dict(), indent=2, allow_nan=False)
