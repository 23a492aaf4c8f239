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
    from pipelines.patient_maps import CourseFolders


def add_patient_options(parser: argparse.ArgumentParser, *, patient_help: str) -> None:
    """PATIENT_DIR, --prior, --registration | --assume-same-position, --residual, --protocol, --mapping."""
    parser.add_argument("patient_dir", type=Path, metavar="PATIENT_DIR", help=patient_help)
    parser.add_argument("--prior", type=Path, metavar="DIR", help="prior course folder (RT Dose + RT Plan)")
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--registration", type=Path, metavar="REG.dcm", help="Spatial Registration linking the two frames")
    how.add_argument(
        "--assume-same-position",
        action="store_true",
        help="frames differ and no registration: assume the patient did not move (the report carries a warning)",
    )
    parser.add_argument(
        "--residual", type=float, default=None, metavar="R",
        help="residual fraction of the prior dose (default 0.3; needs a prior course)",
    )
    parser.add_argument("--protocol", type=Path, metavar="FILE", help="protocol file (.yaml/.toml) of TG-263 constraints")
    parser.add_argument("--mapping", type=Path, metavar="FILE", help="ROI name -> organ mapping file (.yaml/.toml)")


def course_folders(args: argparse.Namespace) -> CourseFolders:
    """The course folders of ``args``; the prior-course options without a prior course are an error
    (they would change nothing, yet be recorded as parameters)."""
    from pipelines.patient_maps import resolve_folders

    folders = resolve_folders(args.patient_dir, args.prior)
    if folders.prior is None and (args.registration is not None or args.assume_same_position or args.residual is not None):
        raise ArgumentError(
            "--registration, --assume-same-position and --residual need a prior course "
            "(prior/ sub-folder of PATIENT_DIR or --prior DIR)"
        )
    return folders
