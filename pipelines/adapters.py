"""Helpers for plugging a folder-based analysis (such as ``dosimetry analyze PATIENT_DIR``) into the
batch seam of :mod:`pipelines.analysis`.

A patient found by folder (layout ``FOLDER``) already has a folder; a patient grouped by
PatientID from mixed folders does not. :func:`patient_folder` gives both kinds a folder holding
exactly the patient's files under their relative paths, so an adapter can be written as::

    def analyze_patient(inputs, parameters, out_dir):
        with tempfile.TemporaryDirectory() as scratch:
            folder = patient_folder(inputs, Path(scratch))
            ... run the folder-based analysis on ``folder`` writing into ``out_dir`` ...
            return PatientResult(metrics=..., constraints=..., output_files=...)
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from dosimetry.errors import OutputError
from pipelines.analysis import Layout, PatientInputs
from pipelines.paths import inside


def patient_folder(inputs: PatientInputs, scratch: Path) -> Path:
    """A folder holding only this patient's files: its own folder (layout FOLDER), or ``scratch``
    filled with links (hard links, else symbolic links, else copies) under each file's relative
    path (layout GROUPED)."""
    if inputs.layout is Layout.FOLDER:
        return inputs.source_dir
    scratch = Path(scratch)
    scratch.mkdir(parents=True, exist_ok=True)
    for info in inputs.files:
        destination = inside(scratch, info.relative_path)
        destination.parent.mkdir(parents=True, exist_ok=True)
        if destination.exists():
            raise OutputError(f"{destination} already exists; patient_folder needs an empty scratch folder")
        try:
            os.link(info.path, destination)
        except OSError:
            try:
                destination.symlink_to(info.path.resolve())
            except OSError:
                shutil.copy2(info.path, destination)
    return scratch
