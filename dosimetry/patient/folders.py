"""Where a patient's two courses are: the current course and, for a re-irradiation, the prior one.

PATIENT_DIR with sub-folders ``current/`` and ``prior/`` (case-insensitive) is the normal layout;
``prior=`` (``--prior DIR``) names the prior course explicitly; a PATIENT_DIR without ``current/``
is a single course.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dosimetry.errors import ArgumentError, InputFileError


@dataclass(frozen=True)
class CourseFolders:
    """Where the two courses are, and how that was decided (for the report)."""

    current: Path
    prior: Path | None
    how: str


def _subfolders(patient_dir: Path) -> dict[str, Path]:
    return {p.name.casefold(): p for p in patient_dir.iterdir() if p.is_dir()}


def resolve_folders(patient_dir: Path | str, prior: Path | str | None = None) -> CourseFolders:
    """The current and prior course folders of ``patient_dir`` (see the module docstring)."""
    patient_dir = Path(patient_dir)
    if not patient_dir.is_dir():
        raise InputFileError(f"PATIENT_DIR {patient_dir} is not a folder")
    if prior is not None:
        prior = Path(prior)
        if not prior.is_dir():
            raise InputFileError(f"--prior {prior} is not a folder")
        current = _subfolders(patient_dir).get("current", patient_dir)
        if prior.resolve() == current.resolve():
            raise ArgumentError(
                f"--prior {prior} is the current course folder {current}: the current dose would be added to itself "
                "as the prior course"
            )
        return CourseFolders(current, prior, "PATIENT_DIR and --prior")
    subdirs = _subfolders(patient_dir)
    if "current" in subdirs:
        found_prior = subdirs.get("prior")
        how = "sub-folders current/ and prior/ of PATIENT_DIR" if found_prior else "sub-folder current/ of PATIENT_DIR"
        return CourseFolders(subdirs["current"], found_prior, how)
    return CourseFolders(patient_dir, None, "PATIENT_DIR (no prior course)")


def check_output_outside(folders: CourseFolders, out_dir: Path) -> None:
    """Refuse an output folder inside a course folder: the exported RT Doses would be read as inputs
    by the next run."""
    out = Path(out_dir).resolve()
    for label, folder in (("current", folders.current), ("prior", folders.prior)):
        if folder is not None and (out == folder.resolve() or folder.resolve() in out.parents):
            raise ArgumentError(
                f"--out {out_dir} lies inside the {label} course folder {folder}; the exported RT Doses would be read "
                "as inputs by the next run: choose an output folder outside the course folders"
            )
