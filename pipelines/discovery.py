"""Find every patient under a batch ROOT from DICOM headers only.

Every regular file under ROOT is opened with pydicom ``stop_before_pixels=True`` (pixel data are
never read here). Files that are not DICOM, hidden files and folders (name starting with ``.``) and
anything inside the batch's own output folder are listed in :attr:`CohortDiscovery.skipped` with
the reason.

Patients are formed by two rules:

* **folder per patient**: each top-level folder of ROOT whose DICOM files (at any depth, e.g.
  ``patient01/current/...`` and ``patient01/prior/...``) all carry one PatientID (0010,0020) is one
  patient (layout ``FOLDER``); a folder whose files carry no PatientID at all is also one patient;
* **grouped by PatientID**: DICOM files lying directly in ROOT, and the files of top-level folders
  that mix several PatientIDs, are grouped by PatientID across all those places (layout
  ``GROUPED``). Such files without a PatientID cannot be attributed and are skipped.

Each patient gets a unique, deterministic, sanitised output folder name (``key``) from its
PatientID (or, lacking one, its folder name) through :func:`pipelines.paths.unique_keys`. Two
patients with the same PatientID (for example anonymised as ``ANON`` in separate folders) stay
separate patients and get a warning (each patient's, and one in :attr:`CohortDiscovery.warnings`,
which the batch summary prints).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from dosimetry.errors import InputFileError
from dosimetry.io.dicom_file import read_dicom_header
from dosimetry.io.folder_walk import SkippedFile, walk_files
from pipelines.analysis import DicomFileInfo, Layout, PatientInputs
from pipelines.paths import unique_keys

logger = logging.getLogger(__name__)

_HEADER_TAGS = [
    "SOPClassUID",
    "SOPInstanceUID",
    "Modality",
    "PatientID",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "FrameOfReferenceUID",
]


@dataclass(frozen=True)
class CohortDiscovery:
    root: Path
    patients: tuple[PatientInputs, ...]
    skipped: tuple[SkippedFile, ...]
    warnings: tuple[str, ...]


def read_header(path: Path, relative_path: str) -> DicomFileInfo:
    """Header facts of one file; ``InputFileError`` when it is not a readable DICOM file."""
    dataset = read_dicom_header(path, _HEADER_TAGS)  # probe, size and time limits: dosimetry.io.dicom_probe
    sop_class = str(dataset.get("SOPClassUID", "") or "")
    modality = str(dataset.get("Modality", "") or "")
    if not sop_class and not modality:
        raise InputFileError(f"{path}: DICOM file without SOPClassUID (0008,0016) and Modality (0008,0060)")
    return DicomFileInfo(
        path=path,
        relative_path=relative_path,
        modality=modality,
        sop_class_uid=sop_class,
        sop_instance_uid=str(dataset.get("SOPInstanceUID", "") or ""),
        patient_id=str(dataset.get("PatientID", "") or ""),
        study_instance_uid=str(dataset.get("StudyInstanceUID", "") or ""),
        series_instance_uid=str(dataset.get("SeriesInstanceUID", "") or ""),
        frame_of_reference_uid=str(dataset.get("FrameOfReferenceUID", "") or ""),
        size_bytes=path.stat().st_size,
    )


def discover_patients(root: Path, *, exclude: tuple[Path, ...] = ()) -> CohortDiscovery:
    """All patients under ``root`` (see the module docstring); ``exclude``: folders to ignore."""
    root = Path(root)
    if not root.is_dir():
        raise InputFileError(f"batch root {root} is not a folder")
    root = root.resolve()
    excluded = tuple(Path(p).resolve() for p in exclude)
    skipped: list[SkippedFile] = []
    notes: list[str] = []

    headers: list[tuple[str | None, DicomFileInfo]] = []  # (top-level folder or None, header)
    walk = walk_files(root, skip_hidden=True, exclude=excluded)
    skipped.extend(walk.skipped)
    for path in walk.files:
        rel = path.relative_to(root)
        top = rel.parts[0] if len(rel.parts) > 1 else None
        try:
            headers.append((top, read_header(path, rel.as_posix())))
        except InputFileError as exc:
            skipped.append(SkippedFile(path, str(exc)))

    by_folder: dict[str, list[DicomFileInfo]] = defaultdict(list)
    grouped: dict[str, list[DicomFileInfo]] = defaultdict(list)
    for top, info in headers:
        if top is None:
            if info.patient_id:
                grouped[info.patient_id].append(info)
            else:
                skipped.append(SkippedFile(info.path, "DICOM file directly in ROOT without PatientID (0010,0020)"))
        else:
            by_folder[top].append(info)

    # (preferred name, disambiguator, PatientInputs without key)
    found: list[tuple[str, str, str, Layout, Path, list[DicomFileInfo]]] = []
    for folder in sorted(by_folder):
        infos = by_folder[folder]
        ids = sorted({i.patient_id for i in infos})
        if len(ids) == 1:
            source = root / folder
            rebased = [_rebase(i, source) for i in infos]
            found.append((ids[0] or folder, f"folder:{folder}", ids[0], Layout.FOLDER, source, rebased))
        else:
            notes.append(
                f"folder {root / folder} mixes {len(ids)} PatientIDs; its files are grouped by PatientID"
            )
            for info in infos:
                if info.patient_id:
                    grouped[info.patient_id].append(info)
                else:
                    skipped.append(SkippedFile(info.path, "DICOM file without PatientID (0010,0020) in a mixed folder"))
    for patient_id in sorted(grouped):
        found.append((patient_id, f"id:{patient_id}", patient_id, Layout.GROUPED, root, grouped[patient_id]))

    keys = unique_keys([(name, disambiguator) for name, disambiguator, *_ in found])
    patients: list[PatientInputs] = []
    id_count: dict[str, int] = defaultdict(int)
    for _, _, patient_id, _, _, _ in found:
        if patient_id:
            id_count[patient_id] += 1
    shared_keys: dict[str, list[str]] = defaultdict(list)
    for key, (_, _, patient_id, *_rest) in zip(keys, found, strict=True):
        if patient_id and id_count[patient_id] > 1:
            shared_keys[patient_id].append(key)
    for patient_id in sorted(shared_keys):  # also in the batch summary, not only each patient's record
        notes.append(
            f"PatientID {patient_id!r} is shared by {id_count[patient_id]} patients found under {root} "
            f"(output folders {', '.join(sorted(shared_keys[patient_id]))}); they are analysed separately"
        )
    for key, (_, _, patient_id, layout, source, infos) in zip(keys, found, strict=True):
        patient_warnings = []
        if patient_id and id_count[patient_id] > 1:
            patient_warnings.append(
                f"PatientID {patient_id!r} is shared by {id_count[patient_id]} patients found under {root}; "
                "they are analysed separately"
            )
        patients.append(
            PatientInputs(
                key=key,
                patient_id=patient_id,
                layout=layout,
                source_dir=source,
                files=tuple(sorted(infos, key=lambda i: i.relative_path)),
                warnings=tuple(patient_warnings),
            )
        )
    patients.sort(key=lambda p: p.key)
    logger.info("found %d patients under %s (%d files skipped)", len(patients), root, len(skipped))
    return CohortDiscovery(root=root, patients=tuple(patients), skipped=tuple(skipped), warnings=tuple(notes))


def _rebase(info: DicomFileInfo, source: Path) -> DicomFileInfo:
    return DicomFileInfo(
        path=info.path,
        relative_path=info.path.relative_to(source).as_posix(),
        modality=info.modality,
        sop_class_uid=info.sop_class_uid,
        sop_instance_uid=info.sop_instance_uid,
        patient_id=info.patient_id,
        study_instance_uid=info.study_instance_uid,
        series_instance_uid=info.series_instance_uid,
        frame_of_reference_uid=info.frame_of_reference_uid,
        size_bytes=info.size_bytes,
    )
