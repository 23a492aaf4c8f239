"""Provenance of an analysis: every input file with its DICOM identity and SHA-256."""

from __future__ import annotations

import hashlib
from pathlib import Path

from dosimetry.errors import InputFileError
from dosimetry.io.dicom_file import header_identity
from dosimetry.io.dicom_probe import size_limit_reason
from dosimetry.io.folder_walk import walk_files
from dosimetry.patient.folders import CourseFolders
from dosimetry.patient.records import InputRecord

_CHUNK_BYTES = 1 << 20


def file_sha256(path: Path) -> str:
    """SHA-256 (hex) of a file's bytes, read in chunks; an unreadable file is an InputFileError naming it."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(_CHUNK_BYTES):
                digest.update(chunk)
    except OSError as exc:
        raise InputFileError(f"cannot read {path} to hash it: {exc.strerror or exc}") from exc
    return digest.hexdigest()


def input_record(path: Path, course: str, root: Path) -> InputRecord:
    """One input file: path relative to ``root`` when inside it, DICOM identity from its header only
    ("not DICOM" otherwise), hash, size. A file beyond the per-file size limit
    (:data:`dosimetry.io.dicom_probe.MAX_DICOM_FILE_BYTES`) is neither parsed nor hashed: its modality
    names the reason and its sha256 is empty."""
    modality = sop_class = sop_instance = ""
    size_bytes = path.stat().st_size
    too_large = size_limit_reason(size_bytes)
    if too_large is None:
        try:
            modality, sop_class, sop_instance = header_identity(path)
        except InputFileError:
            modality = "not DICOM"
    else:
        modality = f"not read: {too_large}"
    try:
        shown = path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        shown = str(path)
    return InputRecord(
        path=shown,
        course=course,
        modality=modality,
        sop_class_uid=sop_class,
        sop_instance_uid=sop_instance,
        sha256=file_sha256(path) if too_large is None else "",
        size_bytes=size_bytes,
    )


def input_records(
    folders: CourseFolders, root: Path, extra: tuple[tuple[str, Path | None], ...] = ()
) -> tuple[InputRecord, ...]:
    """Every file of the course folders, then each ``(label, path)`` of ``extra`` (registration,
    protocol, mapping) not already listed."""
    records: list[InputRecord] = []
    seen: set[Path] = set()
    courses = [("current", folders.current)]
    if folders.prior is not None:
        courses.append(("prior", folders.prior))
    for course, folder in courses:
        for path in walk_files(folder).files:
            if path.resolve() in seen:
                continue
            seen.add(path.resolve())
            records.append(input_record(path, course, root))
    for label, extra_path in extra:
        if extra_path is not None and Path(extra_path).resolve() not in seen:
            seen.add(Path(extra_path).resolve())
            records.append(input_record(Path(extra_path), label, root))
    return tuple(records)
