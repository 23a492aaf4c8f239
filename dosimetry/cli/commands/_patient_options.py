"""Arguments shared by ``dosimetry check`` and ``dosimetry analyze``: the patient folder, the prior
course and how it is aligned, the residual or recovery models and the interval between the courses
(also ``dosimetry batch``: :func:`add_recovery_options`), the protocol, the ROI name mapping and the DVH
end-cap convention (also ``dosimetry batch``: :func:`add_end_cap_option`).

Private to the CLI (its name starts with ``_``, so it is not a sub-command); imports only light
modules at its top level (the parser is built on every ``dosimetry`` call).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from dosimetry.cli.commands._lazy import LazyChoices, LazyValue, set_lazy_choices
from dosimetry.errors import ArgumentError

if TYPE_CHECKING:
    from dosimetry.patient import Patient
    from dosimetry.radiobiology.recovery import RecoverySelection

# The spec grammar (dosimetry.radiobiology.recovery.RECOVERY_SPEC_HELP), repeated here so that
# building the parser imports no numpy.
_RECOVERY_HELP = (
    "constant[:R] (the protocol's 0.3, the default) | step[:TABLE.json|.yaml|.toml] (the shipped example table) | "
    "jones-grant-2014[:DOSE_GY/FRACTIONS][:fitted] (CNS, Jones & Grant 2014; tolerance course default 52/35)"
)


def add_recovery_options(parser: argparse.ArgumentParser) -> None:
    """--recovery, --organ-recovery, --compare-recovery, --interval-months."""
    parser.add_argument("--recovery", metavar="MODEL", default=None, help=f"recovery model of the prior course: {_RECOVERY_HELP}")
    parser.add_argument(
        "--organ-recovery", action="append", default=[], metavar="NAME=MODEL",
        help="recovery model of one organ (a structure name, or serial / parallel); repeatable",
    )
    parser.add_argument(
        "--compare-recovery", action="append", default=[], metavar="MODEL",
        help="alternative recovery model shown beside the protocol's in the report; repeatable",
    )
    parser.add_argument(
        "--overlap-threshold-gy", type=float, nargs=2, default=[10.0, 10.0], metavar=("PRIOR", "CURRENT"),
        help="meaningful dose (EQD2 at the late alpha/beta, Gy) of the prior and current course for the ESTRO-EORTC "
        "re-irradiation type (default 10 10; the consensus sets no number)",
    )
    parser.add_argument(
        "--interval-months", type=float, default=None, metavar="M",
        help="months between the prior course and this one (default: from the DICOM dates: treatment records, "
        "RT Plan date, RT Dose/study date)",
    )


def recovery_selection_from_args(args: argparse.Namespace, protocol_selection: RecoverySelection | None = None) -> RecoverySelection | None:
    """The :class:`RecoverySelection` of the options (the protocol file's when no option is given); None: the default."""
    from dosimetry.radiobiology.recovery import DEFAULT_RESIDUAL, ConstantResidual, RecoverySelection, selection_from_specs

    residual = getattr(args, "residual", None)
    given = args.recovery is not None or args.organ_recovery or args.compare_recovery or (residual is not None and protocol_selection)
    if not given:
        return protocol_selection
    if residual is not None and args.recovery is not None:
        raise ArgumentError("give either --residual or --recovery (constant:R is the same as --residual R), not both")
    selection = selection_from_specs(args.recovery, args.organ_recovery, args.compare_recovery, base=protocol_selection)
    if residual is not None:
        default = ConstantResidual() if residual == DEFAULT_RESIDUAL else ConstantResidual(
            residual, citation="constant residual given by the user (--residual)"
        )
        selection = RecoverySelection(default, selection.per_organ, selection.alternatives)
    return selection


#: The module that defines the end-cap conventions (named lazily: building the parser imports no numpy).
_END_CAPS = "dosimetry.dvh.convention"

END_CAP_HELP = (
    "how each ROI's solid is closed between and beyond its contour planes, for every DVH, index and check: "
    "shape (the default: reconstructed from the contours, interpolated between planes, end caps following the "
    "trend of the extreme contours: rounded where they close, flat half a spacing out otherwise; the better "
    "estimate of the real organ against true solids), half-slab (each plane a slab one contour spacing thick, "
    "half a spacing beyond the outermost planes: most planning systems' convention, about 3x faster) or "
    "truncated (the solid stops at the outermost planes); recorded as parameters.end_cap "
    "(default: %(default)s; README, 'Between and beyond the contour planes')"
)


def add_end_cap_option(parser: argparse.ArgumentParser) -> None:
    """--end-cap (default :data:`dosimetry.dvh.endcaps.DEFAULT_END_CAP`, resolved after parsing)."""
    set_lazy_choices(
        parser.add_argument("--end-cap", default=LazyValue(_END_CAPS, "DEFAULT_END_CAP.value"), help=END_CAP_HELP),
        LazyChoices(_END_CAPS, "EndCapConvention"),
    )


NO_PRIOR_HELP = (
    "evaluate the current course alone (no prior dose summed); required when PATIENT_DIR has no prior/ "
    "sub-folder and --prior is not given"
)


def add_patient_options(parser: argparse.ArgumentParser, *, patient_help: str) -> None:
    """PATIENT_DIR, --prior | --no-prior, --registration | --assume-same-position, --residual, --protocol, --mapping."""
    parser.add_argument("patient_dir", type=Path, metavar="PATIENT_DIR", help=patient_help)
    prior = parser.add_mutually_exclusive_group()
    prior.add_argument("--prior", type=Path, metavar="DIR", help="prior course folder (RT Dose + RT Plan)")
    prior.add_argument("--no-prior", action="store_true", help=NO_PRIOR_HELP)
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--registration", type=Path, metavar="REG.dcm", help="Spatial Registration or Deformable Spatial Registration linking the two frames (a deformable one is applied, "
        "a rigid one found beside it is shown for comparison)")
    how.add_argument(
        "--assume-same-position",
        action="store_true",
        help="frames differ and no registration: assume the patient did not move (the report carries a warning)",
    )
    how.add_argument(
        "--register", choices=("deformable",), default=None,
        help="compute a registration of the prior CT to the current CT and apply it: deformable = rigid then demons "
        "(SimpleITK; analyze writes it as REG_deformable.dcm and an ITK .h5 transform)",
    )
    parser.add_argument(
        "--residual", type=float, default=None, metavar="R",
        help="residual fraction of the prior dose (default 0.3; needs a prior course)",
    )
    parser.add_argument(
        "--registration-margin", type=float, default=None, metavar="MM",
        help="registration uncertainty: shift the mapped prior dose by MM along +-x/y/z and mark checks whose verdict "
        "flips UNCERTAIN (default 2 mm, computed when a deformable registration is applied; giving it computes it for a rigid one too)",
    )
    add_recovery_options(parser)
    parser.add_argument("--protocol", type=Path, metavar="FILE", help="protocol file (.yaml/.toml) of TG-263 constraints")
    parser.add_argument("--mapping", type=Path, metavar="FILE", help="ROI name -> organ mapping file (.yaml/.toml)")
    add_end_cap_option(parser)


def load_patient_from_args(args: argparse.Namespace, *, alpha_beta_late_gy: float = 2.0) -> Patient:
    """:func:`dosimetry.load_patient` with the options of :func:`add_patient_options` (the prior-course
    options without a prior course are an error: they would change nothing, yet be recorded).

    A re-irradiation check without the prior course would understate every organ-at-risk dose, so a
    missing prior course is an error unless ``--no-prior`` says the current course alone is meant;
    with ``--no-prior`` a ``prior/`` sub-folder is not read."""
    from dosimetry.patient import load_patient
    from dosimetry.patient.folders import resolve_folders

    if not alpha_beta_late_gy > 0:
        raise ArgumentError(f"--alpha-beta must be > 0 Gy, got {alpha_beta_late_gy}")
    folders = resolve_folders(args.patient_dir, args.prior)
    patient_dir = args.patient_dir
    if folders.prior is None and not args.no_prior:
        raise ArgumentError(
            f"no prior course: {args.patient_dir} has no prior/ sub-folder and --prior DIR was not given; a "
            "re-irradiation check needs the prior course (give --prior DIR), or pass --no-prior to evaluate the "
            "current course alone (no prior dose summed)"
        )
    if args.no_prior and folders.prior is not None:
        patient_dir = folders.current  # the prior/ sub-folder is deliberately left out
    protocol_selection = None
    if args.protocol is not None:
        from dosimetry.constraints.protocol import load_protocol

        protocol_selection = load_protocol(args.protocol).recovery
    recovery = recovery_selection_from_args(args, protocol_selection)
    return load_patient(
        patient_dir,
        prior=args.prior,
        registration=args.registration,
        assume_same_position=args.assume_same_position,
        register=args.register,
        uncertainty_margin_mm=args.registration_margin,
        residual=args.residual if recovery is None else None,
        alpha_beta_late_gy=alpha_beta_late_gy,
        recovery=recovery,
        interval_months=args.interval_months,
        reirradiation_thresholds_gy=(args.overlap_threshold_gy[0], args.overlap_threshold_gy[1]),
        end_cap=str(args.end_cap),
    )
