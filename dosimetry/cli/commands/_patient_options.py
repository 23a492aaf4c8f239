"""Arguments shared by ``dosimetry check`` and ``dosimetry analyze``: the patient folder, the prior
course and how it is aligned, the residual, the protocol and the ROI name mapping.

Private to the CLI (its name starts with ``_``, so it is not a sub-command); imports only light
modules at its top level (the parser is built on every ``dosimetry`` call).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from dosimetry.errors import ArgumentError

if TYPE_CHECKING:
    from dosimetry.patient import Patient


def add_patient_options(parser: argparse.ArgumentParser, *, patient_help: str) -> None:
    """PATIENT_DIR, --prior, --registration | --assume-same-position, --residual, --protocol, --mapping."""
    parser.add_argument("patient_dir", type=Path, metavar="PATIENT_DIR", help=patient_help)
    parser.add_argument("--prior", type=Path, metavar="DIR", help="prior course folder (RT Dose + RT Plan)")
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
    parser.add_argument("--protocol", type=Path, metavar="FILE", help="protocol file (.yaml/.toml) of TG-263 constraints")
    parser.add_argument("--mapping", type=Path, metavar="FILE", help="ROI name -> organ mapping file (.yaml/.toml)")


def load_patient_from_args(args: argparse.Namespace, *, alpha_beta_late_gy: float = 2.0) -> Patient:
    """:func:`dosimetry.load_patient` with the options of :func:`add_patient_options` (the prior-course
    options without a prior course are an error: they would change nothing, yet be recorded)."""
    from dosimetry.patient import load_patient

    if not alpha_beta_late_gy > 0:
        raise ArgumentError(f"--alpha-beta must be > 0 Gy, got {alpha_beta_late_gy}")
    return load_patient(
        args.patient_dir,
        prior=args.prior,
        registration=args.registration,
        assume_same_position=args.assume_same_position,
        register=args.register,
        uncertainty_margin_mm=args.registration_margin,
        residual=args.residual,
        alpha_beta_late_gy=alpha_beta_late_gy,
    )
