"""The cumulative DVH curves of a batch patient: read from its ``dvh.csv``, stored in the cohort
database, and turned into the differential DVH of the LKB fit.

One reader serves both places the curves come from, so that a fit from the output folder and a
fit from the cohort database see the same float64 numbers: the batch parses the patient's
``dvh.csv`` (``roi, quantity, dose_gy, volume_cc, volume_pct``, see
:mod:`dosimetry.patient.writers`) with :func:`read_dvh_csv` and stores each curve's two columns as
little-endian float64 bytes (:func:`to_blob`, exact: no decimal round trip), and the study reads
either the file or the bytes back into the same arrays.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from dosimetry.constraints.samples import OrganDoseBins
from dosimetry.errors import InputFileError, OutcomesTableError

DVH_FILE_NAME = "dvh.csv"
#: float64, little-endian: the byte layout of the stored curve columns on every platform
BLOB_DTYPE = np.dtype("<f8")

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class DvhCurve:
    """One cumulative DVH: ``volume_cc[k]`` receives at least ``dose_gy[k]`` (increasing doses)."""

    roi: str
    quantity: str
    dose_gy: FloatArray
    volume_cc: FloatArray


def read_dvh_csv(path: Path, *, roi: str | None = None, quantity: str | None = None) -> tuple[DvhCurve, ...]:
    """The curves of ``path`` in file order (only ``roi``/``quantity`` when given). Raises
    :class:`OutcomesTableError` naming the line for a row without finite numbers, and
    :class:`InputFileError` when the file cannot be read or lacks a column."""
    doses: dict[tuple[str, str], list[float]] = {}
    volumes: dict[tuple[str, str], list[float]] = {}
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in ("roi", "quantity", "dose_gy", "volume_cc") if c not in (reader.fieldnames or [])]
            if missing:
                raise InputFileError(f"{path}, line 1: missing column(s) {', '.join(missing)} (expected roi, quantity, dose_gy, volume_cc)")
            for line, row in enumerate(reader, start=2):
                if (roi is not None and row.get("roi") != roi) or (quantity is not None and row.get("quantity") != quantity):
                    continue
                try:
                    dose, volume = float(row["dose_gy"]), float(row["volume_cc"])
                except (TypeError, ValueError):
                    raise OutcomesTableError(f"{path}, line {line}: dose_gy/volume_cc not numbers") from None
                if not (math.isfinite(dose) and math.isfinite(volume)):
                    raise OutcomesTableError(f"{path}, line {line}: dose_gy/volume_cc not finite")
                key = (str(row["roi"]), str(row["quantity"]))
                doses.setdefault(key, []).append(dose)
                volumes.setdefault(key, []).append(volume)
    except OSError as exc:
        raise InputFileError(f"cannot read {path}: {exc}") from exc
    return tuple(
        DvhCurve(r, q, np.asarray(doses[(r, q)], dtype=np.float64), np.asarray(volumes[(r, q)], dtype=np.float64))
        for r, q in doses
    )


def to_blob(values: FloatArray) -> bytes:
    """``values`` as little-endian float64 bytes (exact)."""
    return np.ascontiguousarray(values, dtype=BLOB_DTYPE).tobytes()


def from_blob(data: bytes, what: str) -> FloatArray:
    """The float64 array stored by :func:`to_blob`; ``what`` names it in the error."""
    if len(data) % BLOB_DTYPE.itemsize:
        raise InputFileError(f"{what}: {len(data)} bytes is not a whole number of float64 values")
    return np.frombuffer(bytes(data), dtype=BLOB_DTYPE).astype(np.float64)


def differential_bins(dose_gy: FloatArray, cumulative_cc: FloatArray, label: str) -> OrganDoseBins | None:
    """The differential DVH of a cumulative curve: each step's volume (the difference of the
    cumulative volumes) at the step's centre dose, the last point's volume at its dose. None for a
    curve of fewer than 2 points. Raises :class:`OutcomesTableError` naming ``label`` for a curve
    whose doses do not increase or whose cumulative volume increases with dose (reordered or
    edited rows: its differences would be a different, plausible-looking DVH)."""
    if dose_gy.size < 2:
        return None
    if np.any(np.diff(dose_gy) <= 0.0):
        k = int(np.argmax(np.diff(dose_gy) <= 0.0))
        raise OutcomesTableError(
            f"{label}: cumulative DVH doses must increase row by row, got {float(dose_gy[k])!r} Gy then {float(dose_gy[k + 1])!r} Gy"
        )
    steps = -np.diff(cumulative_cc)
    if np.any(steps < 0.0):
        k = int(np.argmax(steps < 0.0))
        raise OutcomesTableError(
            f"{label}: cumulative DVH volume must not increase with dose, got {float(cumulative_cc[k])!r} cc at "
            f"{float(dose_gy[k])!r} Gy then {float(cumulative_cc[k + 1])!r} cc at {float(dose_gy[k + 1])!r} Gy"
        )
    differential = np.append(steps, cumulative_cc[-1])
    centres = np.append(0.5 * (dose_gy[:-1] + dose_gy[1:]), dose_gy[-1])
    return OrganDoseBins(centres, differential, label=label)
