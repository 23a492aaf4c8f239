"""The node's archive: received objects stored atomically under ``<patient>/<study>/``, one file per
SOP Instance UID, and an in-memory index of them rebuilt from the files at start-up.

A file is written to a hidden temporary file in its folder, fsync'ed and renamed
(:mod:`dosimetry.io.atomic_files`), so a crash never leaves a half-written object under a visible
name, and an object acknowledged with success is on disk. A second object with a SOP Instance UID
already stored is a duplicate: acknowledged, not rewritten (DICOM gives a changed object a new UID).

Folder names come from the untrusted PatientID and StudyInstanceUID, so they are reduced to a safe
character set (``../x`` cannot leave the storage folder); a changed name gets a digest suffix so two
different IDs never share a folder.
"""

from __future__ import annotations

import enum
import hashlib
import logging
import re
import threading
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import pydicom

from dosimetry.errors import DicomContentError, OutputError
from dosimetry.io.atomic_files import write_bytes
from dosimetry.node.objects import StoredObject, describe

logger = logging.getLogger(__name__)

#: The node's own bookkeeping (pending analyses, staging) lives here, inside the storage folder.
NODE_FOLDER = ".node"

_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def folder_name(value: str, *, fallback: str) -> str:
    """A safe, deterministic folder name for an untrusted ``value`` (kept as is when already safe)."""
    if _SAFE.fullmatch(value) and not value.endswith("."):
        return value
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", value).strip("._-")[:48] or fallback
    return f"{cleaned}-{hashlib.sha256(value.encode('utf-8', 'surrogatepass')).hexdigest()[:10]}"


class StoreOutcome(enum.Enum):
    STORED = "stored"
    DUPLICATE = "duplicate"


class Storage:
    """The storage folder and the index of what it holds (thread-safe: several associations store at once)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._lock = threading.Lock()
        self._by_uid: dict[str, StoredObject] = {}
        self._by_patient: dict[str, list[StoredObject]] = defaultdict(list)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            (self.root / NODE_FOLDER).mkdir(exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create the storage folder {self.root}: {exc}") from exc

    @property
    def node_folder(self) -> Path:
        return self.root / NODE_FOLDER

    def path_for(self, record: StoredObject) -> Path:
        patient = folder_name(record.patient_id, fallback="patient")
        study = folder_name(record.study_instance_uid, fallback="study")
        name = folder_name(record.sop_instance_uid, fallback="object")
        return self.root / patient / study / f"{record.kind.name}_{name}.dcm"

    def store(self, record: StoredObject, encoded: bytes) -> tuple[StoreOutcome, StoredObject]:
        """Write ``encoded`` (a DICOM file: preamble, meta, data set) for ``record`` unless its SOP
        Instance UID is already stored. Raises ``OSError`` (disk full, permission) unchanged, so the
        caller can answer the sender with the right status."""
        with self._lock:  # one writer at a time: the de-duplication must see every finished write
            known = self._by_uid.get(record.sop_instance_uid)
            if known is not None:
                return StoreOutcome.DUPLICATE, known
            path = self.path_for(record)
            path.parent.mkdir(parents=True, exist_ok=True)
            write_bytes(path, encoded)
            stored = replace(record, path=path)
            self._add(stored)
            return StoreOutcome.STORED, stored

    def _add(self, record: StoredObject) -> None:
        self._by_uid[record.sop_instance_uid] = record
        self._by_patient[record.patient_id].append(record)

    def objects_of(self, patient_id: str) -> tuple[StoredObject, ...]:
        with self._lock:
            return tuple(self._by_patient.get(patient_id, ()))

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_uid)

    def rebuild_index(self) -> list[str]:
        """Index every stored object (at start-up); remove temporary files a crash left behind.
        Returns one problem line per file that could not be indexed (it stays on disk)."""
        problems: list[str] = []
        started = time.monotonic()
        for tmp in self.root.glob("*/*/.*.tmp"):
            logger.warning("removing %s, an incomplete write from before a crash", tmp)
            tmp.unlink(missing_ok=True)
        for path in sorted(self.root.glob("*/*/*.dcm")):
            if path.parts[-3].startswith("."):
                continue
            try:
                ds = pydicom.dcmread(path, stop_before_pixels=True)
                record = describe(ds, path, received_s=path.stat().st_mtime, where=str(path))
            except (OSError, pydicom.errors.InvalidDicomError, DicomContentError, ValueError) as exc:
                problems.append(f"{path}: {exc}")
                continue
            with self._lock:
                if record.sop_instance_uid not in self._by_uid:
                    self._add(record)
        logger.info("indexed %d stored objects in %.1f s", len(self), time.monotonic() - started)
        return problems
