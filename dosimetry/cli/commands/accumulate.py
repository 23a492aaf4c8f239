"""``dosimetry accumulate``: cumulative BED/EQD2 of the current course and a prior course.

Writes, for each alpha/beta, the current course's BED and EQD2 maps and the cumulative EQD2 map
(current + r x prior) as RT Dose files (EFFECTIVE, referencing the current plan), plus
``accumulate.json`` with how they were made.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dosimetry.cli.commands._lazy import LazyChoices, LazyValue, set_lazy_choices
from dosimetry.errors import ArgumentError, DosimetryError, OutputError

if TYPE_CHECKING:
    import numpy as np

    from dosimetry.grid import RectilinearGrid
    from dosimetry.radiobiology.course import Course
    from dosimetry.radiobiology.summation import RecoveryAssignment
    from dosimetry.radiobiology.alpha_beta import AlphaBetaPolicy
    from dosimetry.radiobiology.export import ExportedMap
    from dosimetry.structures import Roi, StructureSet

SUMMARY_FILE = "accumulate.json"

# Alignment (scipy, SimpleITK), the DVH engine and the radiobiology maps (numpy) are imported by the
# handler; the parser refers to the summation defaults without importing them. The usage prints the
# summation methods from a copy (importing the radiobiology package costs about 0.3 s of CPU; the copy
# is checked against the enum by tests/test_cli_lazy_parser.py).
_SUMMATION = "dosimetry.radiobiology.summation"
_SUMMATION_METHODS_SHOWN = ("bed-space", "physical")


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "accumulate",
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
    how.add_argument(
        "--registration", type=Path, metavar="REG.dcm",
        help="DICOM Spatial Registration or Deformable Spatial Registration linking the two frames",
    )
    how.add_argument(
        "--transform", type=Path, metavar="T.tfm", help="ITK transform (rigid/affine/displacement field) mapping current to prior points"
    )
    how.add_argument(
        "--assume-same-position",
        action="store_true",
        help="frames differ but no registration: assume the patient did not move (every output carries a warning)",
    )
    how.add_argument(
        "--register", choices=("deformable",), default=None,
        help="compute a registration of the prior CT to the current CT (deformable: rigid then demons, SimpleITK) and apply "
        "it; written to --out as REG_deformable.dcm and prior_to_current_deformable.h5",
    )
    parser.add_argument(
        "--residual", type=float, default=LazyValue(_SUMMATION, "DEFAULT_RESIDUAL"), metavar="R",
        help="residual fraction of the prior dose (default 0.3)",
    )
    parser.add_argument(
        "--recovery", metavar="MODEL", default=None,
        help="recovery model of the prior course instead of --residual: constant[:R] | step[:TABLE] | "
        "jones-grant-2014[:DOSE_GY/FRACTIONS][:fitted] (bed-space only)",
    )
    parser.add_argument(
        "--interval-months", type=float, default=None, metavar="M",
        help="months between the courses (default: from the DICOM dates; needed by time-dependent models)",
    )
    parser.add_argument("--alpha-beta", type=float, nargs="+", default=[2.0, 9.0], metavar="GY", help="alpha/beta ratios (default 2 9)")
    set_lazy_choices(
        parser.add_argument("--method", default=LazyValue(_SUMMATION, "SummationMethod.BED_SPACE.value"), help="default bed-space"),
        LazyChoices(_SUMMATION, "SummationMethod", shown=_SUMMATION_METHODS_SHOWN),
    )
    parser.add_argument(
        "--composite",
        action="store_true",
        help="also write composite EQD2 maps (per-voxel alpha/beta from the current RT Structure Set: overrides, then "
        "organs at risk, then targets, else the OAR ratio)",
    )
    parser.add_argument(
        "--evaluate-rois",
        action="store_true",
        help="EQD2 metrics per ROI of the current RT Structure Set: targets on the current course (target alpha/beta), "
        "other ROIs on the cumulative map (their alpha/beta)",
    )
    parser.add_argument("--target-alpha-beta", type=float, default=9.0, metavar="GY", help="alpha/beta of GTV/CTV/PTV ROIs (default 9)")
    parser.add_argument("--oar-alpha-beta", type=float, default=2.0, metavar="GY", help="alpha/beta of other ROIs (default 2)")
    parser.add_argument(
        "--roi-alpha-beta", action="append", default=[], metavar="NAME=GY", help="alpha/beta of one ROI by name (repeatable)"
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


COMPOSITE_FILES = {"EQD2": "RD_EQD2_composite.dcm", "cumEQD2": "RD_cumEQD2_composite.dcm"}


def _policy(args: argparse.Namespace) -> AlphaBetaPolicy:
    from dosimetry.radiobiology.alpha_beta import AlphaBetaPolicy
    from dosimetry.radiobiology.lq import check_alpha_beta

    overrides: dict[str, float] = {}
    for item in args.roi_alpha_beta:
        name, sep, value = item.rpartition("=")
        if not sep or not name.strip():
            raise ArgumentError(f"--roi-alpha-beta expects NAME=GY, got {item!r}")
        try:
            number = float(value)
        except ValueError as exc:
            raise ArgumentError(f"--roi-alpha-beta {item!r}: {value!r} is not a number of Gy") from exc
        overrides[name.strip()] = number
    return AlphaBetaPolicy(
        check_alpha_beta(args.target_alpha_beta, argument="--target-alpha-beta"),
        check_alpha_beta(args.oar_alpha_beta, argument="--oar-alpha-beta"),
        overrides,
    )


def _composite_label(policy: AlphaBetaPolicy) -> str:
    label = f"T{policy.target_alpha_beta_gy:g}/O{policy.oar_alpha_beta_gy:g}"
    return label + ("+ovr" if policy.overrides else "")


def _composite_ab_map(structures: StructureSet, grid: RectilinearGrid, policy: AlphaBetaPolicy) -> tuple[np.ndarray, list[str]]:
    from dosimetry.dvh import rasterise_roi
    from dosimetry.radiobiology.alpha_beta import MASK_OCCUPANCY_THRESHOLD, RoiRole, composite_alpha_beta_map, roi_role

    masks: dict[str, tuple[Roi, np.ndarray]] = {}
    warnings: list[str] = []
    for roi in structures.rois:
        if roi_role(roi) is RoiRole.OTHER and policy.override_for(roi.name) is None:
            continue
        try:
            masks[roi.name] = (roi, rasterise_roi(roi, grid).occupancy >= MASK_OCCUPANCY_THRESHOLD)
        except DosimetryError as exc:
            warnings.append(f"ROI {roi.name!r} left out of the composite alpha/beta map: {exc}")
    return composite_alpha_beta_map(grid.shape_zyx, masks, policy), warnings


def _output_record(exported: ExportedMap, quantity: str, course: str, alpha_beta: float | str, max_gy: float) -> dict[str, Any]:
    """One entry of the summary's ``outputs``: an exported RT Dose map."""
    return {
        "file": exported.path.name,
        "quantity": quantity,
        "course": course,
        "alpha_beta_gy": alpha_beta,
        "max_gy": max_gy,
        "sop_instance_uid": exported.sop_instance_uid,
        "series_description": exported.series_description,
        "dose_comment": exported.dose_comment,
    }


def _recovery(args: argparse.Namespace, current: Course, prior: Course) -> tuple[RecoveryAssignment | None, str | None, tuple[str, ...]]:
    """The uniform recovery model of --recovery at the interval (--interval-months, else the DICOM
    dates), where the interval came from and the model's warnings (an interval it clamps);
    (None, None, ()): --residual."""
    from dosimetry.patient.recovery import resolve_interval
    from dosimetry.radiobiology.recovery import DEFAULT_RESIDUAL, JonesGrant2014, RecoverySelection, check_interval_months, parse_recovery_model
    from dosimetry.radiobiology.summation import RecoveryAssignment

    if args.recovery is None:
        if args.interval_months is not None:
            raise ArgumentError("--interval-months is used only with --recovery")
        return None, None, ()
    if args.residual != DEFAULT_RESIDUAL:
        raise ArgumentError("give either --residual or --recovery (constant:R is the same as --residual R), not both")
    model = parse_recovery_model(args.recovery)
    # the one interval lookup (DICOM dates or --interval-months; a model that needs it and finds none raises)
    interval = resolve_interval(current, prior, RecoverySelection(default=model), args.interval_months)
    if model.needs_interval:
        assert interval is not None  # resolve_interval raised otherwise
        check_interval_months(interval.months, model=model.kind.value)
    if interval is None:
        return RecoveryAssignment(model), None, ()
    note = model.interval_note(interval.months) if isinstance(model, JonesGrant2014) else None
    return RecoveryAssignment(model, (), interval.months), interval.source, (() if note is None else (note,))


def run(args: argparse.Namespace) -> int:
    import json

    from dosimetry.align import align_prior_dose
    from dosimetry.radiobiology.course import course_registrations, load_course
    from dosimetry.radiobiology.evaluation import roi_eqd2_metrics
    from dosimetry.radiobiology.export import export_cumulative_map, export_lq_map, identity_from_dicom
    from dosimetry.radiobiology.lq import check_alpha_beta
    from dosimetry.quantities import DoseQuantity
    from dosimetry.radiobiology.maps import CourseDose, composite_lq_map, lq_maps
    from dosimetry.radiobiology.recovery import model_record
    from dosimetry.radiobiology.summation import TARGET_METRICS_NOTE, SummationMethod, accumulate, check_residual

    check_residual(args.residual, argument="--residual")
    for ab in args.alpha_beta:
        check_alpha_beta(ab, argument="--alpha-beta")
    for option, rbe in (("--current-rbe", args.current_rbe), ("--prior-rbe", args.prior_rbe)):
        if rbe is not None and not (math.isfinite(rbe) and rbe > 0.0):
            raise ArgumentError(f"{option} must be a finite factor > 0, got {rbe}")
    if len(set(args.alpha_beta)) != len(args.alpha_beta):
        raise ArgumentError(f"--alpha-beta lists a ratio twice: {args.alpha_beta}")
    if args.out.exists() and not args.out.is_dir():
        raise OutputError(f"--out {args.out} exists and is not a folder")
    policy = _policy(args)
    paths = _output_paths(args.out, args.alpha_beta)
    composite_paths = [args.out / name for name in COMPOSITE_FILES.values()] if args.composite else []
    registration_files = [args.out / name for name in ("REG_deformable.dcm", "prior_to_current_deformable.h5", "registration_parameters.json")]
    existing = [
        p for p in [*paths.values(), *composite_paths, args.out / SUMMARY_FILE, *(registration_files if args.register else [])] if p.exists()
    ]
    if existing and not args.overwrite:
        raise OutputError(f"--out {args.out} already holds {existing[0].name}; give --overwrite to replace")

    current = load_course(args.current, argument="--current")
    prior = load_course(args.prior, argument="--prior")
    structures = current.structure_set(argument="--current") if (args.composite or args.evaluate_rois) else None
    cur_frame = current.dose.frame_of_reference_uid
    prior_frame = prior.dose.frame_of_reference_uid
    registration, deformable = course_registrations(
        current,
        prior,
        registration_path=args.registration,
        search_folders=args.transform is None and not args.assume_same_position,
    )
    computed = None
    if args.register is not None:
        from dosimetry.patient.deformable import compute_patient_registration

        computed = compute_patient_registration(current, prior)
        deformable = computed.deformable
    if deformable is not None:  # a deformable registration is applied when there is one
        registration = None
    registration_source = "none"
    if computed is not None:
        registration_source = f"computed (--register {args.register}: rigid + demons, {computed.computed.seconds:.1f} s)"
    elif args.registration is not None:
        registration_source = str(args.registration)
    elif deformable is not None:
        registration_source = f"deformable, found in course folder: {deformable.source_path}"
    elif registration is not None:
        registration_source = f"found in course folder: {registration.source_path}"
    aligned = align_prior_dose(
        prior.dose,
        current.dose.grid,
        cur_frame,
        registration=registration,
        transform=args.transform,
        assume_same_position=args.assume_same_position,
        deformable=deformable,
    )
    try:
        args.out.mkdir(parents=False, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create --out folder {args.out}: {exc}") from exc

    identity = identity_from_dicom(current.dose_paths[0])
    method = SummationMethod(args.method)
    maps = lq_maps(
        current.dose, quantities=(DoseQuantity.BED, DoseQuantity.EQD2), alpha_betas_gy=args.alpha_beta, plan=current.plan, rbe=args.current_rbe
    )
    outputs: list[dict[str, Any]] = []
    registration_outputs: list[dict[str, Any]] = []
    if computed is not None:
        from dosimetry.patient.deformable import write_registration_outputs

        for record in write_registration_outputs(computed, args.out, current.dose_paths[0]):
            registration_outputs.append({"file": record.path, "kind": record.kind, "description": record.description})
    for m in maps:
        exported = export_lq_map(
            m, paths[m.quantity.value, m.alpha_beta_gy], identity=identity, plan=current.plan, notes=aligned.warnings
        )
        outputs.append(_output_record(exported, m.quantity.value, "current", m.alpha_beta_gy, m.dose.max_gy))
    warnings: list[str] = list(current.warnings) + [f"prior: {w}" for w in prior.warnings] + list(aligned.warnings)
    # The summation settings every cumulative map of this run shares.
    current_course = CourseDose(current.dose, current.plan, rbe=args.current_rbe)
    prior_course = CourseDose(aligned.dose, prior.plan, rbe=args.prior_rbe)
    recovery, interval_source, recovery_warnings = _recovery(args, current, prior)
    summation: dict[str, Any] = {
        "residual": args.residual, "method": method, "warnings": (*aligned.warnings, *recovery_warnings), "recovery": recovery,
    }
    for ab in args.alpha_beta:
        cum = accumulate(current_course, prior_course, alpha_beta_gy=ab, quantity=DoseQuantity.EQD2, **summation)
        exported = export_cumulative_map(cum, paths["cumEQD2", ab], identity=identity, plan=current.plan)
        warnings.extend(cum.warnings)
        outputs.append(_output_record(exported, "EQD2", "cumulative", ab, cum.dose.max_gy))
    if args.composite and structures is not None:
        ab_map, map_warnings = _composite_ab_map(structures, current.dose.grid, policy)
        warnings.extend(map_warnings)
        label = _composite_label(policy)
        comp = composite_lq_map(
            current.dose, quantity=DoseQuantity.EQD2, alpha_beta_map_gy=ab_map, alpha_beta_rule=label, plan=current.plan, rbe=args.current_rbe
        )
        cum = accumulate(current_course, prior_course, alpha_beta_map_gy=ab_map, alpha_beta_rule=label, **summation)
        composite_rule = "composite: " + policy.describe()
        exported = export_lq_map(comp, args.out / COMPOSITE_FILES["EQD2"], identity=identity, plan=current.plan, notes=aligned.warnings)
        outputs.append(_output_record(exported, "EQD2", "current", composite_rule, comp.dose.max_gy))
        exported = export_cumulative_map(
            cum, args.out / COMPOSITE_FILES["cumEQD2"], identity=identity, plan=current.plan, notes=aligned.warnings
        )
        outputs.append(_output_record(exported, "EQD2", "cumulative", composite_rule, cum.dose.max_gy))
    evaluation: list[dict[str, Any]] = []
    if args.evaluate_rois and structures is not None:
        result = roi_eqd2_metrics(
            current_course, prior_course, structures.rois, policy=policy, residual=args.residual, method=method, recovery=recovery
        )
        warnings.extend(result.warnings)
        evaluation = [
            {
                "roi": e.roi_name,
                "role": e.role.value,
                "alpha_beta_gy": e.alpha_beta_gy,
                "basis": e.basis,
                "quantity": e.quantity.value,
                "metrics_gy": dict(e.metrics_gy),
            }
            for e in result.rois
        ]
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
            "jacobian_determinant": None if aligned.jacobian is None else aligned.jacobian.to_dict(),
        },
        "residual": args.residual if recovery is None else recovery.constant_residual,
        "recovery": None if recovery is None else {
            "models": [model_record(m) for m in recovery.models],
            "interval_months": recovery.interval_months,
            "interval_source": interval_source,
        },
        "summation_method": method.value,
        "target_metrics": TARGET_METRICS_NOTE,
        "alpha_beta_policy": policy.describe(),
        "outputs": outputs,
        "registration_outputs": registration_outputs,
        "roi_evaluation": evaluation,
        "warnings": list(dict.fromkeys(warnings)),
    }
    (args.out / SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"prior dose aligned: {aligned.transform_description}")
        print(f"  outside the prior grid: {aligned.uncovered_volume_cc:.2f} cc ({aligned.uncovered_voxel_count} voxels, prior dose 0)")
        prior_text = f"{args.residual:g} x prior" if recovery is None else f"prior counted with recovery {recovery.label}"
        print(f"cumulative = current + {prior_text}, method {method.value}; {TARGET_METRICS_NOTE}")
        for item in outputs:
            print(f"  {item['file']}: {item['series_description']} (max {item['max_gy']:.2f} Gy)")
        for e in evaluation:
            metrics = ", ".join(f"{k} {v:.2f}" for k, v in e["metrics_gy"].items())
            print(f"  ROI {e['roi']} ({e['role']}, a/b {e['alpha_beta_gy']:g} Gy, {e['basis']}): {metrics}")
        for warning in summary["warnings"]:
            print(f"  warning: {warning}")
        print(f"summary: {args.out / SUMMARY_FILE}")
    return 0
