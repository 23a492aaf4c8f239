"""``dosimetry accumulate``: cumulative BED/EQD2 of the current course and a prior course.

Writes, for each alpha/beta, the current course's BED and EQD2 maps and the cumulative EQD2 map
(current + r x prior) as RT Dose files (EFFECTIVE, referencing the current plan), plus
``accumulate.json`` with how they were made.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from dosimetry.align import align_prior_dose
from dosimetry.errors import ArgumentError, ConsistencyError, OutputError
from dosimetry.io import load_registrations
from dosimetry.radiobiology.lq import check_alpha_beta
from dosimetry.radiobiology.course import find_registration, load_course
from dosimetry.radiobiology.export import export_cumulative_map, export_lq_map, identity_from_dicom
from dosimetry.radiobiology.maps import Quantity, lq_maps
from dosimetry.radiobiology.summation import (
    DEFAULT_RESIDUAL,
    TARGET_METRICS_NOTE,
    SummationMethod,
    accumulate,
    check_residual,
)

SUMMARY_FILE = "accumulate.json"


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "accumulate",
        help="cumulative EQD2 of the current and a prior course (residual discount)",
        description=(
            "Bring the prior course's dose onto the current dose grid (same frame of reference; a Spatial "
            "Registration given with --registration or found in either folder; or an ITK transform file mapping "
            "current points to prior points), convert both courses voxel by voxel and add "
            "cumulative = current + r x prior (r = --residual, default 0.3: the protocol's 70 %% discount for organs "
            "at risk). --method bed-space (default) scales the prior BED/EQD2; physical scales the prior dose before "
            "the LQ conversion. Target metrics use the current course alone."
        ),
    )
    parser.add_argument("--current", type=Path, required=True, metavar="DIR", help="folder of the current course (RT Dose + plan)")
    parser.add_argument("--prior", type=Path, required=True, metavar="DIR", help="folder of the prior course (RT Dose + plan)")
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--registration", type=Path, metavar="REG.dcm", help="DICOM Spatial Registration linking the two frames")
    how.add_argument(
        "--transform", type=Path, metavar="T.tfm", help="ITK transform (rigid/affine/displacement field) mapping current to prior points"
    )
    how.add_argument(
        "--assume-same-position",
        action="store_true",
        help="frames differ but no registration: assume the patient did not move (every output carries a warning)",
    )
    parser.add_argument("--residual", type=float, default=DEFAULT_RESIDUAL, metavar="R", help="residual fraction of the prior dose (default 0.3)")
    parser.add_argument("--alpha-beta", type=float, nargs="+", default=[2.0, 9.0], metavar="GY", help="alpha/beta ratios (default 2 9)")
    parser.add_argument(
        "--method", choices=[m.value for m in SummationMethod], default=SummationMethod.BED_SPACE.value, help="default bed-space"
    )
    parser.add_argument("--prior-rbe", type=float, metavar="R", help="constant RBE of a PHYSICAL proton prior dose")
    parser.add_argument("--current-rbe", type=float, metavar="R", help="constant RBE of a PHYSICAL proton current dose")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder (created if absent)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(handler=run)


def _output_paths(out: Path, alpha_betas: list[float]) -> dict[tuple[str, float], Path]:
    paths: dict[tuple[str, float], Path] = {}
    for ab in alpha_betas:
        tag = f"{ab:g}".replace(".", "p")
        paths["BED", ab] = out / f"RD_BED_ab{tag}.dcm"
        paths["EQD2", ab] = out / f"RD_EQD2_ab{tag}.dcm"
        paths["cumEQD2", ab] = out / f"RD_cumEQD2_ab{tag}.dcm"
    return paths


def run(args: argparse.Namespace) -> int:
    check_residual(args.residual, argument="--residual")
    for ab in args.alpha_beta:
        check_alpha_beta(ab, argument="--alpha-beta")
    if len(set(args.alpha_beta)) != len(args.alpha_beta):
        raise ArgumentError(f"--alpha-beta lists a ratio twice: {args.alpha_beta}")
    if args.out.exists() and not args.out.is_dir():
        raise OutputError(f"--out {args.out} exists and is not a folder")
    paths = _output_paths(args.out, args.alpha_beta)
    existing = [p for p in [*paths.values(), args.out / SUMMARY_FILE] if p.exists()]
    if existing and not args.overwrite:
        raise OutputError(f"--out {args.out} already holds {existing[0].name}; give --overwrite to replace")

    current = load_course(args.current, argument="--current")
    prior = load_course(args.prior, argument="--prior")
    cur_frame = current.dose.frame_of_reference_uid
    prior_frame = prior.dose.frame_of_reference_uid
    registration = None
    registration_source = "none"
    if args.registration is not None:
        registration = find_registration(
            load_registrations(args.registration), current_frame_uid=cur_frame, prior_frame_uid=prior_frame
        )
        if registration is None:
            raise ConsistencyError(
                f"--registration {args.registration} does not link the prior frame {prior_frame} and the current frame {cur_frame}"
            )
        registration_source = str(args.registration)
    elif args.transform is None and not args.assume_same_position and cur_frame != prior_frame:
        registration = find_registration(
            current.registrations + prior.registrations, current_frame_uid=cur_frame, prior_frame_uid=prior_frame
        )
        if registration is not None:
            registration_source = f"found in course folder: {registration.source_path}"
    aligned = align_prior_dose(
        prior.dose,
        current.dose.grid,
        cur_frame,
        registration=registration,
        transform=args.transform,
        assume_same_position=args.assume_same_position,
    )
    try:
        args.out.mkdir(parents=False, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create --out folder {args.out}: {exc}") from exc

    identity = identity_from_dicom(current.dose_paths[0])
    method = SummationMethod(args.method)
    maps = lq_maps(
        current.dose, quantities=(Quantity.BED, Quantity.EQD2), alpha_betas_gy=args.alpha_beta, plan=current.plan, rbe=args.current_rbe
    )
    outputs: list[dict[str, Any]] = []
    for m in maps:
        exported = export_lq_map(m, paths[m.quantity.value, m.alpha_beta_gy], identity=identity, plan=current.plan)
        outputs.append(
            {
                "file": exported.path.name,
                "quantity": m.quantity.value,
                "course": "current",
                "alpha_beta_gy": m.alpha_beta_gy,
                "max_gy": m.dose.max_gy,
                "sop_instance_uid": exported.sop_instance_uid,
                "series_description": exported.series_description,
                "dose_comment": exported.dose_comment,
            }
        )
    warnings: list[str] = list(current.warnings) + [f"prior: {w}" for w in prior.warnings] + list(aligned.warnings)
    for ab in args.alpha_beta:
        cum = accumulate(
            current.dose,
            aligned.dose,
            alpha_beta_gy=ab,
            current_plan=current.plan,
            prior_plan=prior.plan,
            residual=args.residual,
            method=method,
            quantity=Quantity.EQD2,
            current_rbe=args.current_rbe,
            prior_rbe=args.prior_rbe,
            warnings=aligned.warnings,
        )
        exported = export_cumulative_map(cum, paths["cumEQD2", ab], identity=identity, plan=current.plan)
        warnings.extend(cum.warnings)
        outputs.append(
            {
                "file": exported.path.name,
                "quantity": "EQD2",
                "course": "cumulative",
                "alpha_beta_gy": ab,
                "max_gy": cum.dose.max_gy,
                "sop_instance_uid": exported.sop_instance_uid,
                "series_description": exported.series_description,
                "dose_comment": exported.dose_comment,
            }
        )
    summary: dict[str, Any] = {
        "current": {
            "dose": [str(p) for p in current.dose_paths],
            "plan": str(current.plan.source_path),
            "fractions": current.plan.fractions_planned,
            "frame_of_reference_uid": cur_frame,
            "max_gy": current.dose.max_gy,
        },
        "prior": {
            "dose": [str(p) for p in prior.dose_paths],
            "plan": str(prior.plan.source_path),
            "fractions": prior.plan.fractions_planned,
            "frame_of_reference_uid": prior_frame,
            "max_gy": prior.dose.max_gy,
        },
        "alignment": {
            "method": aligned.method.value,
            "transform": aligned.transform_description,
            "registration_source": registration_source,
            "uncovered_voxels": aligned.uncovered_voxel_count,
            "uncovered_volume_cc": aligned.uncovered_volume_cc,
        },
        "residual": args.residual,
        "summation_method": method.value,
        "target_metrics": TARGET_METRICS_NOTE,
        "outputs": outputs,
        "warnings": list(dict.fromkeys(warnings)),
    }
    (args.out / SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"prior dose aligned: {aligned.transform_description}")
        print(f"  outside the prior grid: {aligned.uncovered_volume_cc:.2f} cc ({aligned.uncovered_voxel_count} voxels, prior dose 0)")
        print(f"cumulative = current + {args.residual:g} x prior, method {method.value}; {TARGET_METRICS_NOTE}")
        for item in outputs:
            print(f"  {item['file']}: {item['series_description']} (max {item['max_gy']:.2f} Gy)")
        for warning in summary["warnings"]:
            print(f"  warning: {warning}")
        print(f"summary: {args.out / SUMMARY_FILE}")
    return 0
