"""``dosimetry indices``: conformity, gradient, homogeneity and coverage indices of target ROIs.

Output with ``--json`` (stdout)::

    {"dose": {"source", "sop_instance_uid", "dose_type", "max_gy", "quantity_map", "warnings"},
     "structures_source": ..., "body": "<region PIV is counted in>",
     "results": [{"target", "reference": {"quantity", "reference_gy", "prescription_gy", "fractions",
                  "alpha_beta_gy", "rbe_weighted", "label"}, "isodose_pct", "level_gy", "TV_cc", "PIV_cc", "TV_PIV_cc",
                  "gradient_isodose_volumes_cc": [...], "body_region",
                  "target_dose_gy": {"Dmax", "D2%", "D50%", "D98%"},
                  "indices": {"<name>": {"value": float | null, "undefined_reason": str | null,
                                         "definition", "reference"}},
                  "coverage": [{"rule", "metric", "isodose_pct", "required_volume_pct", "covered_cc",
                                "covered_pct", "status": "pass" | "fail" | "undefined", "reason", ...}],
                  "warnings": [...]}],
     "warnings": [...]}

Index names: rtog_ci, paddick_ci, vant_riet_cn, lomax_scheib, target_coverage, gradient_index
(and gradient_index_<pct> for other --gradient-ratio values), icru83_hi, rtog_hi. An undefined index
(for example the Paddick CI when no point reaches the reference level) has ``"value": null`` and
its reason; it never reads as 0.

Exit codes: 0 done (whatever the indices); 2 with ``--fail-on-coverage`` when a protocol coverage
rule fails or cannot be evaluated; 1 on errors (unreadable files, unknown target, frames of
reference that differ, a target outside the External).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dosimetry.cli.commands._lazy import LazyChoices, LazyValue, set_lazy_choices
from dosimetry.errors import ArgumentError, ConsistencyError

if TYPE_CHECKING:
    from dosimetry.dose import DoseGrid
    from dosimetry.indices.definitions import CoverageRule
    from dosimetry.indices.evaluate import DoseQuantity, ReferenceLevel, TargetIndices
    from dosimetry.structures import Roi


# The indices (numpy) and the loaders (pydicom) are imported by the handler; the parser takes the dose
# quantities from the light module that defines them (dosimetry.indices.evaluate, which uses them,
# imports numpy: about 0.35 s of CPU for --help).
_QUANTITIES = "dosimetry.quantities"

EXIT_COVERAGE_FAILED = 2


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "indices",
        description=(
            "Plan-quality indices of target ROIs at a reference isodose: RTOG CI = PIV/TV, Paddick CI = "
            "TV_PIV^2/(TV x PIV), van't Riet CN, Lomax-Scheib TV_PIV/PIV, Paddick-Lippitz gradient index "
            "PIV(50 %%)/PIV(100 %%), ICRU 83 HI = (D2%% - D98%%)/D50%%, RTOG HI = Dmax/Rx, and the protocol's "
            "coverage rules (95 %% isodose covers the CTV, 90 %% the PTV). PIV is counted inside the External ROI "
            "(the whole dose grid, with a warning, when there is none), with the DVH engine's partial volumes. "
            "With --quantity BED or EQD2 the dose is converted voxel by voxel (LQ, d = D/n), or taken as it is with "
            "--dose-is-quantity (a cumulative map from 'dosimetry accumulate'), and the 100 %% level is the BED/EQD2 "
            "of the prescription."
        ),
    )
    parser.add_argument("--dose", type=Path, required=True, metavar="RD.dcm", help="RT Dose file")
    parser.add_argument(
        "--normalisation-gy", type=float, metavar="GY",
        help="for an RT Dose with DoseUnits RELATIVE: the dose in Gy of a stored relative value of 1 (refused for doses in GY)",
    )
    parser.add_argument("--structures", type=Path, required=True, metavar="RS.dcm", help="RT Structure Set file")
    parser.add_argument("--target", action="append", required=True, metavar="NAME", help="target ROI (repeatable)")
    parser.add_argument(
        "--prescription", type=float, required=True, metavar="GY", help="prescription dose in the dose file's unit: Gy, or Gy(RBE) (GyE) for RBE-weighted (EFFECTIVE) dose"
    )
    parser.add_argument(
        "--isodose", type=float, default=100.0, metavar="PCT",
        help="reference isodose for the conformity indices, %% of the reference level (default 100)",
    )
    set_lazy_choices(
        parser.add_argument(
            "--quantity", default=LazyValue(_QUANTITIES, "DoseQuantity.PHYSICAL.value"),
            help="evaluate on the physical dose (default) or on its BED or EQD2 map",
        ),
        LazyChoices(_QUANTITIES, "DoseQuantity"),
    )
    parser.add_argument("--alpha-beta", type=float, metavar="GY", help="alpha/beta ratio for BED/EQD2, Gy")
    parser.add_argument("--fractions", type=int, metavar="N", help="number of fractions for BED/EQD2")
    parser.add_argument(
        "--dose-is-quantity", action="store_true",
        help="the RT Dose already holds the --quantity map (for example RD_cumEQD2_ab9.dcm written by "
        "'dosimetry accumulate'): use it as is; the 100 %% level is still the BED/EQD2 of --prescription",
    )
    parser.add_argument(
        "--gradient-ratio", type=float, action="append", metavar="F",
        help="gradient index PIV(F x level)/PIV(level) (repeatable; default 0.5, Paddick-Lippitz)",
    )
    parser.add_argument("--body", metavar="NAME", help="ROI to count PIV in (default: the EXTERNAL ROI)")
    parser.add_argument(
        "--coverage-required-pct", type=float, default=100.0, metavar="PCT",
        help="volume %% of the target the coverage isodose must reach (default 100: the protocol's literal 'cover')",
    )
    parser.add_argument(
        "--fail-on-coverage", action="store_true",
        help=f"exit with code {EXIT_COVERAGE_FAILED} when a coverage rule fails or is undefined",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.set_defaults(handler=run)


def _reference(args: argparse.Namespace) -> ReferenceLevel:
    from dosimetry.indices.evaluate import DoseQuantity, ReferenceLevel
    from dosimetry.radiobiology.lq import check_alpha_beta, check_fractions

    quantity = DoseQuantity.parse(args.quantity)
    if quantity is DoseQuantity.PHYSICAL:
        if args.alpha_beta is not None:
            raise ArgumentError("--alpha-beta is only meaningful with --quantity BED or EQD2")
        return ReferenceLevel.physical(args.prescription)
    if args.alpha_beta is None or args.fractions is None:
        raise ArgumentError(f"--quantity {quantity} needs --alpha-beta and --fractions")
    check_alpha_beta(args.alpha_beta, argument="--alpha-beta")
    check_fractions(args.fractions, argument="--fractions")
    return ReferenceLevel.lq(quantity, args.prescription, args.fractions, args.alpha_beta)


def _rules(target: Roi, quantity: DoseQuantity, required_pct: float) -> tuple[CoverageRule, ...]:
    from dosimetry.indices.definitions import CoverageRule
    from dosimetry.indices.evaluate import protocol_coverage_rules

    return tuple(
        CoverageRule(rule.name, rule.isodose_pct, required_pct, rule.source)
        for rule in protocol_coverage_rules(target, quantity)
    )


def _dose_info(dose: DoseGrid, map_description: str, path: Path) -> dict[str, Any]:
    from dosimetry.dose import DoseType

    return {
        "source": str(path),
        "sop_instance_uid": dose.sop_instance_uid,
        "dose_type": str(dose.dose_type),
        "units": "Gy(RBE) (GyE, RBE-weighted)" if dose.dose_type is DoseType.EFFECTIVE else "Gy",
        "max_gy": dose.max_gy,
        "quantity_map": map_description,
        "warnings": list(dose.warnings),
    }


def _fmt(value: float | None, digits: str = ".4g") -> str:
    return "undefined" if value is None else format(value, digits)


def _print_text(results: tuple[TargetIndices, ...], body: str, out: Any) -> None:
    print(f"PIV counted in: {body}", file=out)
    for result in results:
        print(
            f"\n{result.target_name}: {result.isodose_pct:g} % of {result.reference.label} = {result.level_gy:.4g} "
            f"{result.reference.level_unit}",
            file=out,
        )
        print(f"  TV {result.tv_cc:.3f} cc   PIV {result.piv_cc:.3f} cc   TV_PIV {result.tv_piv_cc:.3f} cc", file=out)
        for value in result.indices:
            shown = _fmt(value.value) if value.is_defined else f"undefined ({value.undefined_reason})"
            print(f"  {value.name:<22} {shown:<12}  {value.definition}  [{value.reference}]", file=out)
        for cov in result.coverage:
            print(f"  coverage {cov.rule.metric:<13} {cov.status.value.upper():<12}  {cov.reason}", file=out)
        for warning in result.warnings:
            print(f"  warning: {warning}", file=out)


def run(args: argparse.Namespace) -> int:
    import dataclasses
    import json
    import logging

    from dosimetry.dose import DoseType
    from dosimetry.indices.definitions import CoverageStatus
    from dosimetry.indices.evaluate import DoseQuantity, evaluate_targets, lq_dose_map
    from dosimetry.indices.volumes import find_body
    from dosimetry.io import load_dose, load_structure_set

    if not (0.0 < args.coverage_required_pct <= 100.0):
        raise ArgumentError(f"--coverage-required-pct must lie in (0, 100], got {args.coverage_required_pct}")
    if not (args.prescription > 0.0):
        raise ArgumentError(f"--prescription must be a dose > 0 Gy, got {args.prescription}")
    if not (0.0 < args.isodose <= 200.0):
        raise ArgumentError(f"--isodose must lie in (0, 200] % of the reference level, got {args.isodose}")
    reference = _reference(args)
    fractions = tuple(args.gradient_ratio) if args.gradient_ratio else (0.5,)
    for ratio in fractions:
        if not (0.0 < ratio < 1.0):
            raise ArgumentError(f"--gradient-ratio must lie in (0, 1), got {ratio}")
    dose = load_dose(args.dose, normalisation_gy=args.normalisation_gy)
    if dose.dose_type is DoseType.EFFECTIVE:  # labels read Gy(RBE): the prescription is RBE-weighted
        reference = dataclasses.replace(reference, rbe_weighted=True)
    structures = load_structure_set(args.structures)
    if (
        dose.frame_of_reference_uid
        and structures.frame_of_reference_uid
        and dose.frame_of_reference_uid != structures.frame_of_reference_uid
    ):
        raise ConsistencyError(
            f"{args.dose} (FrameOfReferenceUID {dose.frame_of_reference_uid}) and {args.structures} "
            f"(FrameOfReferenceUID {structures.frame_of_reference_uid}) are in different frames of reference"
        )
    targets = [structures.roi(name) for name in args.target]
    body = structures.roi(args.body) if args.body else find_body(structures)
    if args.dose_is_quantity:
        if reference.quantity is DoseQuantity.PHYSICAL:
            raise ArgumentError("--dose-is-quantity needs --quantity BED or EQD2")
        quantity_map = dose
        map_description = f"{reference.quantity} map as read (--dose-is-quantity)"
    else:
        quantity_map = lq_dose_map(dose, reference)
        map_description = quantity_map.description if quantity_map is not dose else "physical dose as read"
    results = evaluate_targets(
        quantity_map,
        targets,
        reference,
        body=body,
        isodose_pct=args.isodose,
        gradient_fractions=fractions,
        coverage_rules={t.name: _rules(t, reference.quantity, args.coverage_required_pct) for t in targets},
    )
    for result in results:
        for warning in result.warnings:
            logging.getLogger(__name__).warning("%s: %s", result.target_name, warning)
    body_description = results[0].body_description
    if args.json:
        document = {
            "dose": _dose_info(dose, map_description, args.dose),
            "structures_source": str(args.structures),
            "body": body_description,
            "results": [result.to_dict() for result in results],
            "warnings": sorted({w for result in results for w in result.warnings}),
        }
        json.dump(document, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _print_text(results, body_description, sys.stdout)
    if args.fail_on_coverage and any(
        cov.status is not CoverageStatus.PASS for result in results for cov in result.coverage
    ):
        return EXIT_COVERAGE_FAILED
    return 0
