"""``dosimetry batch ROOT --out OUT``: every patient under ROOT, in parallel, resumable.

This module only parses arguments; the orchestration lives in :mod:`pipelines.batch`.
Per-patient verdicts (:mod:`pipelines.verdicts`): one console line per patient (verdict, failing
constraints, worst check and margin), the same fields in ``batch_summary.json``, and
``OUT/cohort_overview.html`` linking every patient's report.

Exit codes: 0 when every patient succeeded (or was unchanged), 1 when any patient failed (the
summary says how many) or the batch could not run, 143 when stopped by SIGTERM (130 for Ctrl-C);
a stopped batch is resumed by running the same command again; 2 with --fail-on-violation when no
patient failed but any patient's verdict is a violation.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from dosimetry.cli.commands._patient_options import add_end_cap_option, add_recovery_options


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "batch",
        description=(
            "Find every patient under ROOT (a folder per patient, or files grouped by PatientID), analyse each "
            "into OUT/patients/<patient>/, and collect OUT/metrics.csv and a cohort database (SQLite "
            "OUT/cohort.sqlite unless --db). A rerun skips patients whose inputs and parameters are unchanged. "
            "One failing patient does not stop the batch; exit code 1 when any failed."
        ),
    )
    parser.add_argument("root", type=Path, metavar="ROOT", help="folder holding the patients' DICOM files")
    parser.add_argument("--out", type=Path, required=True, metavar="OUT", help="output folder")
    parser.add_argument(
        "--workers", type=int, default=1, metavar="N",
        help="worker processes (default 1; 0 runs in this process)",
    )
    parser.add_argument(
        "--scheduler", metavar="ADDRESS", default=None,
        help="Dask distributed scheduler address (e.g. tcp://10.0.0.5:8786); OUT must be on a file system the workers share; --workers is then ignored",
    )
    parser.add_argument(
        "--no-worker-timeout", type=float, default=120.0, metavar="SECONDS",
        help="with --scheduler: stop when the Dask cluster has had no worker for this long (default 120 s); "
        "finished patients stay published, run the same command again to resume",
    )
    parser.add_argument("--db", metavar="URL", default=None, help="SQLAlchemy database URL (default: sqlite:///OUT/cohort.sqlite)")
    parser.add_argument(
        "--residual", type=float, default=0.3, metavar="FRACTION",
        help="fraction of the prior course's dose still counted for OARs (protocol: 0.3)",
    )
    parser.add_argument("--alpha-beta-late", type=float, default=2.0, metavar="GY", help="alpha/beta of late-responding tissue, Gy (default 2)")
    parser.add_argument("--alpha-beta-tumour", type=float, default=9.0, metavar="GY", help="alpha/beta of the tumour, Gy (default 9)")
    parser.add_argument("--protocol", type=Path, default=None, metavar="FILE", help="constraint protocol file passed to the analysis")
    add_recovery_options(parser)
    add_end_cap_option(parser)  # part of the resumability key: another convention analyses every patient again
    parser.add_argument(
        "--analysis", default=None, metavar="MODULE:CALLABLE",
        help="per-patient analysis to run (default: pipelines.analyze:full_analysis; pipelines.default_analysis:dvh_analysis is DVH metrics only)",
    )
    parser.add_argument("--force", action="store_true", help="analyse every patient even when unchanged")
    parser.add_argument(
        "--progress", choices=("auto", "bar", "lines", "off"), default="auto",
        help="progress display on stderr (auto: a bar on a terminal, one line per patient otherwise)",
    )
    parser.add_argument(
        "--fail-on-violation", action="store_true",
        help="exit 2 when any patient's verdict is a violation (a constraint FAILs or a coverage rule is not met)",
    )
    parser.add_argument("--json", action="store_true", help="print the batch summary as JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import json

    from pipelines.analysis import (
        DEFAULT_ANALYSIS_SPEC,
        AnalysisParameters,
        load_analysis,
    )
    from pipelines.batch import BatchTerminated, ProgressMode, run_batch
    from pipelines.verdicts import add_verdicts_to_summary, any_violation, patient_verdicts, verdict_line, write_overview

    from dosimetry.dvh.endcaps import EndCapConvention
    from dosimetry.radiobiology.recovery import selection_from_specs

    # Checked here so that a bad model stops the batch before any patient; the analysis rebuilds it.
    selection_from_specs(args.recovery, args.organ_recovery, args.compare_recovery)
    recovery = {
        "recovery": args.recovery,
        "organ_recovery": ";".join(args.organ_recovery) or None,
        "compare_recovery": ";".join(args.compare_recovery) or None,
        "interval_months": args.interval_months,
        "overlap_threshold_gy": None if args.overlap_threshold_gy == [10.0, 10.0] else ",".join(f"{v:g}" for v in args.overlap_threshold_gy),
    }
    parameters = AnalysisParameters(
        residual_fraction=args.residual,
        alpha_beta_tumour_gy=args.alpha_beta_tumour,
        alpha_beta_late_gy=args.alpha_beta_late,
        protocol_path=args.protocol,
        extra=tuple((k, v) for k, v in recovery.items() if v is not None),
        end_cap=EndCapConvention.parse(str(args.end_cap)),
    )
    try:
        summary = run_batch(
            args.root,
            args.out,
            analysis=load_analysis(args.analysis or DEFAULT_ANALYSIS_SPEC),
            parameters=parameters,
            workers=args.workers,
            scheduler_address=args.scheduler,
            no_worker_timeout_s=args.no_worker_timeout,
            db_url=args.db,
            force=args.force,
            progress=ProgressMode(args.progress),
        )
    except BatchTerminated as exc:
        sys.stderr.write(
            f"dosimetry: batch {exc}: the patients finished so far are recorded and published, the run is marked "
            "'interrupted'; run the same command again to resume\n"
        )
        return exc.exit_code
    verdicts = patient_verdicts(summary)
    add_verdicts_to_summary(summary.out_dir, verdicts)
    overview = write_overview(summary.out_dir, verdicts)
    out = sys.stdout
    if args.json:
        document = summary.to_json_dict()
        by_key = {v.key: v for v in verdicts}
        for patient in document["patients"]:
            v = by_key[patient["key"]]
            patient.update({"verdict": v.verdict, "verdict_line": verdict_line(v)})
        document["overview"] = str(overview)
        json.dump(document, out, indent=2)
        out.write("\n")
    else:
        for v in verdicts:
            out.write(verdict_line(v) + "\n")
        for warning in summary.warnings:
            out.write(f"warning: {warning}\n")
        out.write(summary.summary_line() + "\n")
        counts = ", ".join(f"{sum(1 for v in verdicts if v.verdict == k)} {k.replace('_', ' ')}"
                           for k in ("violation", "pass", "not_evaluable", "failed"))
        out.write(f"verdicts: {counts}; overview {overview}\n")
    if summary.exit_code:
        return summary.exit_code
    return 2 if (args.fail_on_violation and any_violation(verdicts)) else 0
