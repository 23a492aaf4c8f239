"""``dosimetry schedule``: total dose, BED and EQD2 of fractionation schedules (protocol Table 1)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "schedule",
        description=(
            "Total dose, BED = D (1 + d / (alpha/beta)) and EQD2 = BED / (1 + 2 / (alpha/beta)) for each "
            "fraction count. Example (protocol Table 1): dosimetry schedule --dose-per-fraction 2.5 "
            "--fractions 21 22 23 24 25 26 --alpha-beta 2 9"
        ),
    )
    parser.add_argument("--dose-per-fraction", type=float, required=True, metavar="GY", help="dose per fraction, Gy (GyE)")
    parser.add_argument("--fractions", type=int, nargs="+", required=True, metavar="N", help="fraction counts")
    parser.add_argument(
        "--alpha-beta", type=float, nargs="+", default=[2.0, 9.0], metavar="GY", help="alpha/beta ratios, Gy (default 2 9)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import json

    from dosimetry.errors import RadiobiologyError
    from dosimetry.radiobiology.lq import check_alpha_beta, check_dose, check_fractions
    from dosimetry.radiobiology.schedule import format_table, make_schedules, schedules_to_json

    # Checked here too so that errors name the command-line options.
    if check_dose(args.dose_per_fraction, argument="--dose-per-fraction") <= 0.0:
        raise RadiobiologyError(f"--dose-per-fraction must be > 0 Gy, got {args.dose_per_fraction!r}")
    for n in args.fractions:
        check_fractions(n, argument="--fractions")
    for ab in args.alpha_beta:
        check_alpha_beta(ab, argument="--alpha-beta")
    schedules = make_schedules(args.dose_per_fraction, args.fractions, args.alpha_beta)
    if args.json:
        print(json.dumps(schedules_to_json(schedules), indent=2))
    else:
        print(format_table(schedules))
    return 0
