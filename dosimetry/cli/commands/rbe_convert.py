"""``dosimetry rbe-convert``: carbon-ion RBE-weighted dose from LEM-I to MKM (or back), voxel by voxel.

The factor LEM-I / MKM depends on the dose per fraction; the relation is Zhang et al. 2020
(recurrent NPC, LEM-I 0.24-3.00 Gy(RBE) per fraction) unless --relation names a user relation of
the same form (dosimetry.radiobiology.rbe_conversion). Voxels outside the relation's range are
refused unless --outside zero sets them to 0 (counted in the output and its DICOM comments).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from dosimetry.errors import ArgumentError, RadiobiologyError


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "rbe-convert",
        help="convert a carbon-ion RBE-weighted dose between LEM-I and MKM (dose-per-fraction dependent)",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--dose", type=Path, required=True, metavar="RD.dcm", help="RT Dose (EFFECTIVE, total of the course)")
    parser.add_argument("--plan", type=Path, metavar="RI.dcm", help="RT Ion Plan (fraction count; RBE model if recorded)")
    parser.add_argument("--fractions", type=int, metavar="N", help="number of fractions (checked against --plan)")
    parser.add_argument("--from", dest="source_model", choices=("lem-i", "mkm"), default=None,
                        help="model the dose was computed with (required when the files do not record it)")
    parser.add_argument("--to", dest="target_model", choices=("lem-i", "mkm"), required=True, help="model to convert to")
    parser.add_argument("--relation", type=Path, metavar="FILE", help="user relation (.json/.yaml) instead of Zhang et al. 2020")
    parser.add_argument("--outside", choices=("refuse", "zero"), default="refuse",
                        help="voxels outside the relation's range: refuse (default) or set to 0 and report")
    parser.add_argument("--out", type=Path, required=True, metavar="OUT.dcm", help="output RT Dose file")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from dosimetry.dose import DoseType
    from dosimetry.io import load_plan
    from dosimetry.radiobiology.course import load_total_dose
    from dosimetry.radiobiology.export import export_dose, identity_from_dicom
    from dosimetry.radiobiology.maps import effective_dose_grid, resolve_fractions
    from dosimetry.radiobiology.rbe_conversion import (
        convert_rbe_weighted_dose,
        load_relation,
        recorded_rbe_model,
        resolve_source_model,
    )

    if args.plan is None and args.fractions is None:
        raise ArgumentError("give --plan RI.dcm or --fractions N (the dose per fraction decides the factor)")
    if args.out.resolve() == args.dose.resolve():
        raise ArgumentError(f"--out {args.out} is the input --dose file; choose another path")
    if args.out.exists() and not args.overwrite:
        raise ArgumentError(f"--out {args.out} exists; give --overwrite to replace it")
    plan = load_plan(args.plan) if args.plan is not None else None
    fractions = resolve_fractions(plan=plan, fractions=args.fractions, argument="--fractions")
    dose = load_total_dose(args.dose, fractions)
    if dose.dose_type is not DoseType.EFFECTIVE:
        raise RadiobiologyError(f"--dose {args.dose} is {dose.dose_type.value} (DoseType (3004,0004)); LEM-I/MKM conversion needs an EFFECTIVE (RBE-weighted) dose")
    recorded, where = recorded_rbe_model(args.dose, args.plan)
    source = resolve_source_model(recorded, where, args.source_model)
    relation = load_relation(args.relation)
    converted = convert_rbe_weighted_dose(
        dose.dose_gy, fractions, source_model=source, target_model=args.target_model, relation=relation, outside=args.outside
    )
    source_text = f"recorded: {where}" if args.source_model is None else "--from"
    description = f"{converted.target_model.value.upper()} from {source.value.upper()}, {fractions} fx"
    notes = (
        f"RBE-weighted dose converted from {source.value} ({source_text}) to {converted.target_model.value} voxel by voxel at each "
        f"voxel's dose per fraction; relation: {relation.source}",
        *(f"WARNING: {w}" for w in (*dose.warnings, *converted.warnings)),
    )
    grid = effective_dose_grid(dose, converted.dose_gy, plan=plan, description=description, warnings=dose.warnings + converted.warnings)
    exported = export_dose(
        grid, args.out, identity=identity_from_dicom(args.dose), plan=plan, series_description=description,
        dose_comment=f"{source.value}->{converted.target_model.value}, {converted.outside_voxels} voxels outside range",
        notes=notes,
    )
    summary: dict[str, Any] = {
        "input": str(args.dose),
        "output": str(exported.path),
        "source_model": source.value,
        "source_model_from": source_text,
        "target_model": converted.target_model.value,
        "fractions": fractions,
        "relation": relation.source,
        "relation_range_gy_per_fraction": list(relation.range_gy),
        "input_max_gy": dose.max_gy,
        "max_gy": float(converted.dose_gy.max()),
        "outside_voxels": converted.outside_voxels,
        "warnings": list(dict.fromkeys((*dose.warnings, *converted.warnings))),
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"{source.value} -> {converted.target_model.value} ({fractions} fx): {exported.path}")
        print(f"  max {dose.max_gy:.3f} -> {summary['max_gy']:.3f} Gy(RBE); relation {relation.short_source}")
        for warning in summary["warnings"]:
            print(f"  warning: {warning}")
    return 0
