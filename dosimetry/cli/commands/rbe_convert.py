"""``dosimetry rbe-convert``: carbon-ion RBE-weighted dose from LEM-I to MKM (or back), voxel by voxel.

The factor LEM-I / MKM depends on the dose per fraction; the relation is Zhang et al. 2020
(recurrent NPC, LEM-I 0.24-3.00 Gy(RBE) per fraction) unless --relation names a user relation of
the same form (dosimetry.radiobiology.rbe_conversion). Voxels outside the relation's range are
refused unless --outside zero sets them to 0 (counted in the output and its DICOM comments).

To convert only where the relation applies, --structure NAME (repeatable) with --rtstruct RS.dcm
restricts the conversion to the voxels those ROIs touch, and --min-dose-gy GY to the voxels whose
total input dose is at least GY Gy(RBE) (both: the voxels in both). The other voxels keep their
input dose (--outside-mask keep, the default: the output then mixes the two models) or are set to 0
(--outside-mask zero); their count and the mask are in the summary, the log, the DoseComment, the
ImageComments and the SeriesDescription ("masked").
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dosimetry.errors import ArgumentError, RadiobiologyError

if TYPE_CHECKING:
    import numpy as np

    from dosimetry.dose import DoseGrid


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "rbe-convert",
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
    parser.add_argument("--structure", action="append", metavar="NAME",
                        help="convert only inside this ROI of --rtstruct (repeatable: the union of the ROIs)")
    parser.add_argument("--rtstruct", type=Path, metavar="RS.dcm", help="RT Structure Set of --structure (same frame of reference as --dose)")
    parser.add_argument("--min-dose-gy", type=float, metavar="GY",
                        help="convert only voxels whose total input dose is at least GY Gy(RBE) (e.g. the relation's lowest dose per fraction x fractions)")
    parser.add_argument("--outside-mask", choices=("keep", "zero"), default="keep",
                        help="voxels outside --structure/--min-dose-gy: keep their input dose (default) or set them to 0")
    parser.add_argument("--out", type=Path, required=True, metavar="OUT.dcm", help="output RT Dose file")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import json

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
    mask, mask_label = _conversion_mask(args, dose, fractions, source.value)
    converted = convert_rbe_weighted_dose(
        dose.dose_gy, fractions, source_model=source, target_model=args.target_model, relation=relation, outside=args.outside,
        mask=mask, mask_label=mask_label or "the mask", outside_mask=args.outside_mask,
    )
    source_text = f"recorded: {where}" if args.source_model is None else "--from"
    description = f"{converted.target_model.value.upper()} from {source.value.upper()}, {fractions} fx{', masked' if mask is not None else ''}"
    mask_note = (
        () if mask is None else
        (f"converted only inside {mask_label}; {converted.masked_voxels} voxel(s) with dose outside it "
         f"{'keep their ' + source.value + ' dose' if args.outside_mask == 'keep' else 'were set to 0'} (--outside-mask {args.outside_mask})",)
    )
    notes = (
        f"RBE-weighted dose converted from {source.value} ({source_text}) to {converted.target_model.value} voxel by voxel at each "
        f"voxel's dose per fraction; relation: {relation.source}",
        *mask_note,
        *(f"WARNING: {w}" for w in (*dose.warnings, *converted.warnings)),
    )
    grid = effective_dose_grid(dose, converted.dose_gy, plan=plan, description=description, warnings=dose.warnings + converted.warnings)
    exported = export_dose(
        grid, args.out, identity=identity_from_dicom(args.dose), plan=plan, series_description=description,
        dose_comment=f"{source.value}->{converted.target_model.value}, {converted.outside_voxels} voxels outside range"
        + ("" if mask is None else f", {converted.masked_voxels} outside mask {args.outside_mask}"),
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
        "mask": None if mask is None else {
            "label": mask_label, "voxels_converted_region": int(mask.sum()), "voxels_outside_with_dose": converted.masked_voxels,
            "outside": args.outside_mask,
        },
        "warnings": list(dict.fromkeys((*dose.warnings, *converted.warnings))),
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"{source.value} -> {converted.target_model.value} ({fractions} fx): {exported.path}")
        print(f"  max {dose.max_gy:.3f} -> {summary['max_gy']:.3f} Gy(RBE); relation {relation.short_source}")
        if mask is not None:
            print(f"  converted only inside {mask_label}; {converted.masked_voxels} voxel(s) outside: {args.outside_mask}")
        for warning in summary["warnings"]:
            print(f"  warning: {warning}")
    return 0


def _conversion_mask(args: argparse.Namespace, dose: DoseGrid, fractions: int, source_model: str) -> tuple[np.ndarray | None, str]:
    """The voxels to convert (--structure/--rtstruct, --min-dose-gy; None: all) and what they are."""
    import math

    import numpy as np

    from dosimetry.dvh import rasterise_roi
    from dosimetry.errors import GeometryError
    from dosimetry.io.structure_reader import load_structure_set

    if args.rtstruct is not None and not args.structure:
        raise ArgumentError(f"--rtstruct {args.rtstruct} needs --structure NAME (the ROI to convert inside)")
    if args.structure and args.rtstruct is None:
        raise ArgumentError("--structure needs --rtstruct RS.dcm (the RT Structure Set the ROI is in)")
    mask: np.ndarray | None = None
    parts: list[str] = []
    if args.structure:
        structures = load_structure_set(args.rtstruct)
        if structures.frame_of_reference_uid and dose.frame_of_reference_uid and structures.frame_of_reference_uid != dose.frame_of_reference_uid:
            raise GeometryError(
                f"--rtstruct {args.rtstruct} (FrameOfReferenceUID {structures.frame_of_reference_uid}) and --dose {args.dose} "
                f"(FrameOfReferenceUID {dose.frame_of_reference_uid}) are in different frames of reference"
            )
        mask = np.zeros(dose.grid.shape_zyx, dtype=bool)
        for name in args.structure:
            mask |= rasterise_roi(structures.roi(name), dose.grid).occupancy > 0.0
        if not mask.any():
            raise ArgumentError(f"--structure {', '.join(args.structure)}: the ROI(s) touch no voxel of the dose grid of {args.dose}")
        parts.append(f"ROI {'+'.join(args.structure)} (voxels the contour touches)")
    if args.min_dose_gy is not None:
        if not math.isfinite(args.min_dose_gy) or args.min_dose_gy <= 0:
            raise ArgumentError(f"--min-dose-gy must be a positive number of Gy(RBE), got {args.min_dose_gy!r}")
        above = dose.dose_gy >= args.min_dose_gy
        mask = above if mask is None else mask & above
        parts.append(f"total {source_model} dose >= {args.min_dose_gy:g} Gy(RBE) ({args.min_dose_gy / fractions:.3g} Gy(RBE) per fraction)")
        if not mask.any():  # nothing would be converted: the output would be the input under the target model's name
            raise ArgumentError(
                f"--min-dose-gy {args.min_dose_gy:g}{' with --structure ' + ', '.join(args.structure) if args.structure else ''}: "
                f"no voxel of --dose {args.dose} is selected (its maximum is {float(dose.dose_gy.max()):.4g} Gy(RBE)); nothing to convert"
            )
    return mask, " and ".join(parts)
