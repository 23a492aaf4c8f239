"""``dosimetry analyze PATIENT_DIR --out OUT``: the whole single-patient analysis and clinical report.

PATIENT_DIR normally holds sub-folders ``current/`` (CT, RT Structure Set, RT (Ion) Plan, RT Dose)
and ``prior/`` (RT Plan, RT Dose, optionally CT, structure set and a Spatial Registration);
``--prior DIR`` names the prior course elsewhere. The prior dose is aligned to the current dose
grid, BED2/BED9/EQD2 and the cumulative EQD2 (current + r x prior) are computed, then DVH metrics
of every ROI, target indices with the protocol coverage rules, Emami/LKB and protocol constraint
checks. OUT receives report.html, results.json, dvh.csv, metrics.csv and the maps as RT Dose files.

Exit code 0 when done; 2 with --fail-on-violation when a constraint FAILs; 1 on errors.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from dosimetry.cli.commands._patient_options import add_patient_options, load_patient_from_args

EXIT_VIOLATION = 2


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "analyze",
        help="full analysis of one patient: maps, DVH metrics, indices, constraints, HTML report",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_patient_options(parser, patient_help="patient folder (current/ and prior/) or current course folder")
    parser.add_argument("--out", type=Path, required=True, metavar="OUT", help="output folder (created if needed)")
    parser.add_argument("--fail-on-violation", action="store_true", help="exit 2 when any constraint FAILs")
    parser.add_argument("--json", action="store_true", help="print a JSON summary instead of text")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import json

    from dosimetry.constraints.partial_volume import Status

    patient = load_patient_from_args(args)
    results = patient.write(args.out, args.protocol, args.mapping)
    constraints = results.constraints
    summary = {
        "report": str(Path(args.out) / "report.html"),
        "results": str(Path(args.out) / "results.json"),
        "constraints_failed": constraints.count(Status.FAIL),
        "constraints_passed": constraints.count(Status.PASS),
        "constraints_not_evaluable": constraints.count(Status.NOT_EVALUABLE),
        "warnings": len(results.warnings),
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"report: {summary['report']}")
        print(f"results: {summary['results']} (+ dvh.csv, metrics.csv, RT Dose maps in {args.out})")
        print(
            f"constraints: {summary['constraints_failed']} FAIL, {summary['constraints_passed']} PASS, "
            f"{summary['constraints_not_evaluable']} not evaluable; {summary['warnings']} warning(s)"
        )
        for r in constraints.failed:
            value = "-" if r.value is None else f"{r.value:.2f}"
            print(f"  FAIL {r.roi}: {r.metric} {value} {r.unit} vs {r.comparator} {r.limit:g} ({r.source}: {r.endpoint})")
        for w in results.warnings:  # they may change numbers: every output format carries them
            print(f"  warning: {w}")
    for w in results.warnings:
        logging.getLogger(__name__).warning("%s", w)
    sys.stdout.flush()
    return EXIT_VIOLATION if (args.fail_on_violation and results.any_fail) else 0
