"""``dosimetry analyze PATIENT_DIR --out OUT``: the whole single-patient analysis and clinical report.

PATIENT_DIR normally holds sub-folders ``current/`` (CT, RT Structure Set, RT (Ion) Plan, RT Dose)
and ``prior/`` (RT Plan, RT Dose, optionally CT, structure set and a Spatial Registration);
``--prior DIR`` names the prior course elsewhere. The prior dose is aligned to the current dose
grid, BED2/BED9/EQD2 and the cumulative EQD2 (current + r x prior) are computed, then DVH metrics
of every ROI, target indices with the protocol coverage rules, Emami/LKB and protocol constraint
checks. OUT receives report.html, results.json, dvh.csv, metrics.csv and the maps as RT Dose files
(and report.pdf with --pdf).

The console names the verdict (pass / violation / not evaluable), every failing constraint and
protocol coverage rule with its value, limit and margin, and the warnings by severity.

Exit code 0 when done; 2 with --fail-on-violation when the verdict is a violation (a constraint
FAILs or a coverage rule is not met); 1 on errors.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dosimetry.cli.commands._patient_options import (
    add_patient_options,
    load_patient_from_args,
)

EXIT_VIOLATION = 2


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "analyze",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_patient_options(parser, patient_help="patient folder (current/ and prior/) or current course folder")
    parser.add_argument("--out", type=Path, required=True, metavar="OUT", help="output folder (created if needed)")
    parser.add_argument("--fail-on-violation", action="store_true", help="exit 2 when the verdict is a violation (a constraint FAILs or a coverage rule is not met)")
    parser.add_argument("--pdf", action="store_true", help="also print the report to OUT/report.pdf (headless Chromium)")
    parser.add_argument("--json", action="store_true", help="print a JSON summary instead of text")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import json
    import logging

    from dosimetry.constraints.partial_volume import Status
    from dosimetry.patient.verdict import Verdict

    patient = load_patient_from_args(args)
    results = patient.write(args.out, args.protocol, args.mapping)
    constraints = results.constraints
    verdict = results.verdict()
    summary = {
        "report": str(Path(args.out) / "report.html"),
        "results": str(Path(args.out) / "results.json"),
        "verdict": verdict.verdict.value,
        "constraints_failed": constraints.count(Status.FAIL),
        "constraints_passed": constraints.count(Status.PASS),
        "constraints_not_evaluable": constraints.count(Status.NOT_EVALUABLE),
        "coverage_rules_not_met": len(verdict.failing_coverage),
        "failures": [f.text() for f in verdict.failures],
        "warnings": len(verdict.warnings),
        "end_cap": results.parameters.end_cap.value,
    }
    if args.pdf:
        from dosimetry.report.pdf import print_pdf

        summary["pdf"] = str(print_pdf(Path(args.out) / "report.html", Path(args.out) / "report.pdf"))
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"report: {summary['report']}")
        if "pdf" in summary:
            print(f"pdf: {summary['pdf']}")
        print(f"results: {summary['results']} (+ dvh.csv, metrics.csv, RT Dose maps in {args.out})")
        print(f"DVH end caps: {summary['end_cap']} convention")
        print(
            f"constraints: {summary['constraints_failed']} FAIL, {summary['constraints_passed']} PASS, "
            f"{summary['constraints_not_evaluable']} not evaluable"
        )
        print("\n".join(verdict.lines()))
    for w in verdict.warnings:  # also on stderr: they may change numbers
        logging.getLogger(__name__).warning("%s", w.text)
    sys.stdout.flush()
    return EXIT_VIOLATION if (args.fail_on_violation and verdict.verdict is Verdict.VIOLATION) else 0
