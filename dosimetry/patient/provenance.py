"""Provenance of an analysis: every input file with its DICOM identity and SHA-256."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pydicom

from dosimetry.errors import InputFileError
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
    """One input file: path relative to ``root`` when inside it, DICOM identity ("not DICOM" otherwise), hash, size."""
    modality = sop_class = sop_instance = ""
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        modality = str(ds.get("Modality", ""))
        sop_class = str(ds.get("SOPClassUID", ""))
        sop_instance = str(ds.get("SOPInstanceUID", ""))
    except (pydicom.errors.InvalidDicomError, OSError, ValueError, AttributeError, EOFError):
        modality = "not DICOM"
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
        sha256=file_sha256(path),
        size_bytes=path.stat().st_size,
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
        for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
            if path.resolve() in seen:
                continue
            seen.add(path.resolve())
            records.append(input_record(path, course, root))
    for label, extra_path in extra:
        if extra_path is not None and Path(extra_path).resolve() not in seen:
            seen.add(Path(extra_path).resolve())
            records.append(input_record(Path(extra_path), label, root))
    return tuple(records)
