"""Deterministic DICOM UIDs: the same seed and labels always give the same UID."""

from __future__ import annotations

from dataclasses import dataclass

from pydicom.uid import generate_uid


@dataclass(frozen=True)
class UidFactory:
    """UIDs derived from (seed, patient id, label...) with :func:`pydicom.uid.generate_uid`'s
    entropy sources (a SHA-512 hash under pydicom's UID root), so they are reproducible."""

    seed: int
    patient_id: str

    def uid(self, *labels: object) -> str:
        return str(generate_uid(entropy_srcs=["dosimetry-sample-data", str(self.seed), self.patient_id, *map(str, labels)]))
