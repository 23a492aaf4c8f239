"""``dosimetry bed``: a BED or EQD2 map of one RT Dose, written as an RT Dose file (EFFECTIVE)."""

from __future__ import annotations

import argparse
from pathlib import Path

from dosimetry.cli.commands._lazy import LazyChoices, LazyValue, set_lazy_choices
from dosimetry.errors import ArgumentError, RadiobiologyError

# numpy-based radiobiology and pydicom-based loaders are imported by run(): the parser stays light.
_QUANTITIES = "dosimetry.quantities"


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "bed",
        description=(
            "Convert each voxel's total dose D in n fractions to BED = D (1 + D/n / (alpha/beta)) or "
            "EQD2 = BED / (1 + 2/(alpha/beta)). The fraction count comes from --plan or --fractions (both: they "
            "must agree). EFFECTIVE (RBE-weighted) doses are used as they are; PHYSICAL proton doses need --rbe; "
            "PHYSICAL carbon doses are refused. The output is an RT Dose file with DoseType EFFECTIVE."
        ),
    )
    parser.add_argument("--dose", type=Path, required=True, metavar="RD.dcm", help="RT Dose file (total dose of the course)")
    parser.add_argument(
        "--normalisation-gy", type=float, metavar="GY",
        help="for an RT Dose with DoseUnits RELATIVE: the dose in Gy of a stored relative value of 1 (refused for doses in GY)",
    )
    parser.add_argument("--plan", type=Path, metavar="RP.dcm", help="RT Plan / RT Ion Plan (fraction count, radiation type)")
    parser.add_argument("--fractions", type=int, metavar="N", help="number of fractions (checked against --plan)")
    parser.add_argument("--alpha-beta", type=float, required=True, metavar="GY", help="alpha/beta ratio, Gy")
    set_lazy_choices(
        parser.add_argument("--quantity", default=LazyValue(_QUANTITIES, "DoseQuantity.BED.value"), help="default BED"),
        LazyChoices(_QUANTITIES, "LQ_QUANTITIES"),
    )
    parser.add_argument("--rbe", type=float, metavar="R", help="constant RBE for a PHYSICAL proton dose (e.g. 1.1)")
    parser.add_argument("--out", type=Path, required=True, metavar="OUT.dcm", help="output RT Dose file")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import json

    from dosimetry.io import load_plan
    from dosimetry.radiobiology.course import load_total_dose
    from dosimetry.radiobiology.export import export_lq_map, identity_from_dicom
    from dosimetry.quantities import lq_quantity
    from dosimetry.radiobiology.maps import lq_map, resolve_fractions

    if args.plan is None and args.fractions is None:
        raise ArgumentError("give --plan RP.dcm or --fractions N (the fraction count of the dose)")
    if args.out.resolve() == args.dose.resolve():
        raise ArgumentError(f"--out {args.out} is the input --dose file; choose another path")
    if args.out.exists() and not args.overwrite:
        raise ArgumentError(f"--out {args.out} exists; give --overwrite to replace it")
    plan = load_plan(args.plan) if args.plan is not None else None
    dose = load_total_dose(
        args.dose, resolve_fractions(plan=plan, fractions=args.fractions, argument="--fractions"), normalisation_gy=args.normalisation_gy
    )
    try:
        result = lq_map(
            dose, quantity=lq_quantity(args.quantity, argument="--quantity"), alpha_beta_gy=args.alpha_beta, fractions=args.fractions, plan=plan, rbe=args.rbe
        )
    except RadiobiologyError as exc:  # name the command-line options
        raise RadiobiologyError(str(exc).replace("alpha_beta_gy", "--alpha-beta")) from exc
    exported = export_lq_map(result, args.out, identity=identity_from_dicom(args.dose), plan=plan)
    summary = {
        "input": str(args.dose),
        "output": str(exported.path),
        "sop_instance_uid": exported.sop_instance_uid,
        "quantity": result.quantity.value,
        "alpha_beta_gy": result.alpha_beta_gy,
        "fractions": result.fractions,
        "fractions_source": "plan" if args.fractions is None else ("argument, agrees with plan" if plan else "argument"),
        "rbe": result.rbe,
        "input_max_gy": dose.max_gy,
        "max_gy": result.dose.max_gy,
        "series_description": exported.series_description,
        "dose_comment": exported.dose_comment,
        "warnings": list(result.warnings),
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"{result.quantity.value} (alpha/beta {result.alpha_beta_gy:g} Gy, {result.fractions} fractions) -> {exported.path}")
        print(f"  max input dose {dose.max_gy:.3f} Gy, max {result.quantity.value} {result.dose.max_gy:.3f} Gy")
        print(f"  SOP Instance UID {exported.sop_instance_uid}")
        for warning in result.warnings:
            print(f"  warning: {warning}")
    return 0
