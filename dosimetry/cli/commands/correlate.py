"""``dosimetry correlate --results OUT --outcomes outcomes.csv``: which dosimetric metrics go with
the outcome across a cohort.

This module only parses arguments and prints; the analysis lives in :mod:`pipelines.correlate`
and the statistics in :mod:`dosimetry.outcomes`. Exit code 0 when the analysis ran, 1 on error.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from dosimetry.cli.commands._lazy import LazyValue

# The outcomes package imports scipy (about 2 s of CPU): its default endpoint is looked up only when used,
# and printed by --help from this copy (checked against the module by tests/test_cli_lazy_parser.py).
_DEFAULT_ENDPOINT = LazyValue("dosimetry.outcomes.table", "DEFAULT_ENDPOINT", shown="worst_toxicity_grade>=3")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "correlate",
        description=(
            "Join the cohort metrics of a 'dosimetry batch' output (OUT/metrics.csv, or OUT/cohort.sqlite) with an "
            "outcomes CSV (patient_id plus endpoint columns) on the DICOM PatientID, and for every ROI, quantity and "
            "metric fit a univariable logistic regression of the endpoint (odds ratio per unit with Wald 95%% CI and "
            "profile-likelihood 95%% CI, the one to quote with few events; likelihood-ratio p-value, metric value at "
            "50%% probability) and compute the ROC AUC with the Mann-Whitney "
            "p-value. Metrics are ranked by the unadjusted likelihood-ratio p-value; Holm-adjusted p-values are given "
            "alongside. Patients present in only one input are listed as warnings."
        ),
    )
    parser.add_argument(
        "--results", type=str, default=None, metavar="OUT",
        help="batch output folder (or a metrics.csv / cohort.sqlite file); not needed with --source DATABASE_URL",
    )
    parser.add_argument("--outcomes", type=Path, required=True, metavar="CSV", help="outcomes CSV with a patient_id column")
    parser.add_argument(
        "--endpoint", default=_DEFAULT_ENDPOINT, metavar="EXPR",
        help="binary endpoint: COLUMN OP NUMBER (OP one of >= > <= < == !=) or a 0/1 COLUMN (default %(default)r)",
    )
    parser.add_argument(
        "--source", default="auto", metavar="{auto,csv,sqlite,DATABASE_URL}",
        help="read OUT/metrics.csv or OUT/cohort.sqlite (default: the CSV when present), or the cohort database at an "
        "SQLAlchemy URL such as postgresql+psycopg://USER:PASSWORD@HOST/DB or sqlite:///PATH (the patients of its latest "
        "run; the password is never printed)",
    )
    parser.add_argument("--roi", nargs="+", metavar="NAME", default=None, help="only these ROIs (case-insensitive)")
    parser.add_argument("--quantity", nargs="+", metavar="Q", default=None, help="only these quantities, e.g. EQD2_2_cumulative")
    parser.add_argument("--metric", nargs="+", metavar="M", default=None, help="only these metrics, e.g. 'D0.03cc[Gy]'")
    parser.add_argument("--top", type=int, default=20, metavar="N", help="rows of the printed table (default 20; 0 prints all)")
    parser.add_argument("--json", action="store_true", help="print the full result as JSON")
    parser.add_argument("--csv", type=Path, default=None, metavar="FILE", help="also write every ranked association to FILE")
    study = parser.add_argument_group(
        "study report",
        "with --study-report DIR: an HTML page (dose-response curve, ROC, Kaplan-Meier with numbers at risk, forest plots, "
        "methods paragraph with software versions) and a CSV of every table",
    )
    study.add_argument("--study-report", type=Path, default=None, metavar="DIR", help="write study.html, study.json and the CSV tables into DIR")
    study.add_argument("--lkb-roi", default=None, metavar="NAME", help="fit the LKB NTCP model to this organ's DVHs (OUT/patients/*/dvh.csv, or the cohort database's DVH curves with --source DATABASE_URL)")
    study.add_argument("--lkb-quantity", default="EQD2_2_cumulative", metavar="Q", help="DVH quantity of the LKB fit (default %(default)s)")
    study.add_argument("--lkb-fix-n", type=float, default=None, metavar="N", help="fix the LKB volume parameter n (e.g. 1 for a parallel organ)")
    study.add_argument("--bootstrap", type=int, default=200, metavar="B", help="bootstrap resamples of the LKB fit (default %(default)s)")
    study.add_argument("--covariates", nargs="+", default=(), metavar="COLUMN", help="outcomes-table columns entering the multivariable and Cox models")
    study.add_argument("--time-column", default=None, metavar="COLUMN", help="months to the event or last follow-up, e.g. progression_months")
    study.add_argument("--event", default=None, metavar="EXPR", help="event of the time-to-event analysis (default: --endpoint), e.g. local_progression")
    study.add_argument("--group-metric", nargs=3, default=None, metavar=("ROI", "QUANTITY", "METRIC"),
                       help="dose metric of the multivariable/Cox models and of the median split (default: the best-ranked)")
    parser.set_defaults(handler=run)


def _g(value: float) -> str:
    """Three decimals in the usual range (so that a CI bound of 1.004 is not shown as 1)."""
    if not math.isfinite(value):
        return str(value)
    return f"{value:.3f}" if 0.01 <= abs(value) < 1000 else f"{value:.3g}"


def _p(value: float) -> str:
    return f"{value:.2e}" if value < 1e-3 else f"{value:.3f}"


def run(args: argparse.Namespace) -> int:
    from dosimetry.errors import ArgumentError
    from dosimetry.outcomes.table import parse_endpoint
    from pipelines.correlate import (
        MetricsSource,
        correlate,
        is_database_url,
        load_cohort_metrics,
        report_json,
        write_report_csv,
    )

    if args.top < 0:
        raise ArgumentError(f"--top {args.top}: expected 0 (all) or a positive number of rows")
    if args.study_report is None:
        study_flags = [
            flag for flag, value in (
                ("--lkb-roi", args.lkb_roi), ("--lkb-fix-n", args.lkb_fix_n), ("--covariates", args.covariates or None),
                ("--time-column", args.time_column), ("--event", args.event), ("--group-metric", args.group_metric),
            ) if value is not None
        ]
        if study_flags:
            raise ArgumentError(f"{', '.join(study_flags)}: only used by the study report; add --study-report DIR")
    endpoint = parse_endpoint(args.endpoint)
    database_url: str | None = None
    if is_database_url(args.source):
        database_url = args.source
        metrics = load_cohort_metrics(args.results, database_url=args.source)
    elif args.results is not None and is_database_url(args.results):
        database_url = args.results
        metrics = load_cohort_metrics(None, database_url=args.results)
    else:
        choices = ("auto", "csv", "sqlite")
        if args.source not in choices:
            raise ArgumentError(f"--source {args.source!r}: expected one of {', '.join(choices)} or a database URL (dialect://...)")
        if args.results is None:
            raise ArgumentError("--results OUT is required unless --source is a database URL")
        metrics = load_cohort_metrics(Path(args.results), source=MetricsSource(args.source))
    report = correlate(
        metrics, args.outcomes, endpoint, rois=args.roi, quantities=args.quantity, metric_names=args.metric
    )
    if args.csv is not None:
        write_report_csv(report, args.csv)
    if args.study_report is not None:
        from pipelines.correlate import MetricKey
        from pipelines.study import StudyOptions, run_study
        from pipelines.study_report import HTML_NAME, write_study_report

        options = StudyOptions(
            lkb_roi=args.lkb_roi, lkb_quantity=args.lkb_quantity, lkb_fixed_n=args.lkb_fix_n, bootstrap=args.bootstrap,
            covariates=tuple(args.covariates), time_column=args.time_column, event=args.event,
            group_metric=MetricKey(*args.group_metric) if args.group_metric else None,
        )
        # the LKB fit reads the DVH curves from the cohort database when the metrics came from a
        # database URL, else from the per-patient dvh.csv of the batch output folder
        results_dir = None
        if args.results is not None and not is_database_url(args.results):
            given = Path(args.results)
            results_dir = given if given.is_dir() else given.parent
        study = run_study(metrics, report, results_dir, options, database_url=database_url)
        write_study_report(study, args.study_report)
        sys.stderr.write(f"wrote {args.study_report / HTML_NAME} (and study.json, CSV tables)\n")
        for name, reason in study.not_done.items():
            sys.stderr.write(f"  not done: {name}: {reason}\n")
    if args.json:
        sys.stdout.write(report_json(report) + "\n")
        return 0

    out = sys.stdout
    out.write(f"metrics:  {report.metrics_source}\noutcomes: {report.outcomes_path}\n")
    out.write(
        f"endpoint: {endpoint.label}: {report.events} events among {len(report.patients_joined)} patients; "
        f"{len(report.associations)} metrics analysed, {len(report.not_analysed)} not analysable\n"
    )
    out.write(
        "p-values are UNADJUSTED (likelihood-ratio test of the logistic slope; Mann-Whitney for the AUC); "
        "'p Holm' is Holm-adjusted over the fitted metrics. OR is per unit of the metric (per Gy for doses).\n"
        "[95% CI] of the OR is the Wald interval; 'profile 95% CI' is the profile-likelihood interval, the one to "
        "quote with few events. 'value at 50%' has a profile-likelihood 95% CI; [* marks a lower end truncated at 0 "
        "(the metric cannot be negative).\n\n"
    )
    header = (
        "#", "ROI", "quantity", "metric", "n", "ev", "OR/unit [95% CI]", "profile 95% CI", "p LR", "p Holm", "AUC",
        "p MW", "value at 50%",
    )
    rows: list[tuple[str, ...]] = []
    shown = report.associations if args.top == 0 else report.associations[: args.top]
    for rank, a in enumerate(shown, start=1):
        if a.fit is not None:
            lo, hi = a.fit.odds_ratio_ci95
            x_lo, x_hi = a.fit.x50_ci95
            odds = f"{_g(a.fit.odds_ratio)} [{_g(lo)}, {_g(hi)}]"
            p_lo, p_hi = a.fit.odds_ratio_profile_ci95
            profile = f"[{_g(p_lo)}, {_g(p_hi)}]"
            p_lr, p_holm = _p(a.fit.lr_p_value), _p(a.lr_p_value_holm if a.lr_p_value_holm is not None else 1.0)
            cut = "*" if a.fit.x50_ci95_truncated else ""
            x50 = (f"{_g(a.fit.x50)} [{cut}{'-inf' if x_lo is None else _g(x_lo)}, "
                   f"{'inf' if x_hi is None else _g(x_hi)}] {a.unit}")
        else:
            odds, profile, p_lr, p_holm, x50 = "not fitted*", "-", "-", "-", "-"
        rows.append(
            (str(rank), a.key.roi, a.key.quantity, a.key.metric, str(a.n), str(a.events), odds, profile, p_lr, p_holm,
             f"{a.discrimination.auc:.3f}", _p(a.discrimination.p_value), x50)
        )
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    out.write("  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip() + "\n")
    for r in rows:
        out.write("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() + "\n")
    if len(shown) < len(report.associations):
        out.write(f"... {len(report.associations) - len(shown)} more (--top 0 prints all; --json or --csv FILE give every row)\n")
    unfitted = [a for a in shown if a.fit is None]
    if unfitted:
        out.write("\n* not fitted by logistic regression:\n")
        for a in unfitted:
            out.write(f"  {a.fit_error}\n")
    profile_warnings = [w for a in shown if a.fit is not None for w in a.fit.warnings]
    if profile_warnings:
        out.write("\nlogistic fit notes:\n")
        for w in profile_warnings:
            out.write(f"  {w}\n")
    if report.warnings:
        out.write("\nwarnings:\n")
        for w in report.warnings:
            out.write(f"  - {w}\n")
        for na in report.not_analysed[:10]:
            out.write(f"    {na.reason}\n")
        if len(report.not_analysed) > 10:
            out.write(f"    ... {len(report.not_analysed) - 10} more (see --json)\n")
    if args.csv is not None:
        out.write(f"\nwrote {args.csv}\n")
    return 0
