"""The worker side of the batch: one patient's task, its outcome, and :func:`analyse_patient`.

:func:`analyse_patient` runs in a worker (a local process, a Dask worker, or the coordinator itself
with ``workers=0``): it computes the patient's run key, skips the patient when
``OUT/patients/<key>/batch_result.json`` already holds the same key, and otherwise runs the
analysis into a private staging folder, which the coordinator publishes atomically
(:mod:`pipelines.atomic`) after recording the outcome in the cohort database.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import sys
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from dosimetry.errors import DosimetryError, OutputError
from pipelines import atomic
from pipelines.analysis import (
    AnalysisParameters,
    PatientAnalysis,
    PatientInputs,
    PatientResult,
)
from pipelines.hashing import parameters_document, run_key
from pipelines.paths import inside

logger = logging.getLogger("pipelines.batch")

PATIENTS_DIR_NAME = "patients"
MANIFEST_NAME = "batch_result.json"
MANIFEST_SCHEMA_VERSION = 1


class PatientStatus(StrEnum):
    SUCCEEDED = "succeeded"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True)
class PatientTask:
    """Everything a worker needs for one patient (picklable)."""

    inputs: PatientInputs
    parameters: AnalysisParameters
    out_dir: Path
    analysis: PatientAnalysis
    analysis_id: str
    software_version: str
    run_id: str
    force: bool = False


@dataclass(frozen=True)
class PatientOutcome:
    """What happened to one patient. ``result`` is None for failures.

    ``peak_rss_mib``: the worker process's peak resident memory (``getrusage`` ru_maxrss) when
    the task ended; None on platforms without :mod:`resource`. ``staging``: for a success, the
    complete output folder (manifest included) that the coordinator publishes once the database
    records the outcome; None otherwise.
    """

    key: str
    patient_id: str
    status: PatientStatus
    error: str | None
    run_key: str | None
    inputs_sha256: str | None
    file_sha256: tuple[tuple[str, str], ...]
    result: PatientResult | None
    duration_s: float
    worker: str
    peak_rss_mib: float | None
    staging: Path | None = None




def one_line_reason(exc: BaseException) -> str:
    """The failure reason recorded for a patient: the project error's message, or
    ``internal error: Type: message`` for anything unexpected; always a single line."""
    text = " ".join(str(exc).split())
    if isinstance(exc, DosimetryError):
        return text or type(exc).__name__
    return f"internal error: {type(exc).__name__}: {text}" if text else f"internal error: {type(exc).__name__}"


def _peak_rss_mib() -> float | None:
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def patient_dir(out_dir: Path, key: str) -> Path:
    """The published output folder of a patient, guaranteed inside ``out_dir``."""
    return inside(out_dir, PATIENTS_DIR_NAME, key)


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The ``batch_result.json`` of a published patient folder, or None when absent or unreadable
    (an unreadable manifest only means the patient is analysed again)."""
    path = folder / MANIFEST_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("schema_version") != MANIFEST_SCHEMA_VERSION:
        return None
    return data


def previous_result(manifest: dict[str, Any]) -> PatientResult | None:
    """The result stored in a manifest; None when it does not parse (the patient is then rerun)."""
    try:
        return PatientResult.from_json_dict(manifest["result"])
    except (KeyError, TypeError, ValueError):
        return None


def _check_result(result: object, staging: Path) -> PatientResult:
    if not isinstance(result, PatientResult):
        raise TypeError(f"the patient analysis returned {type(result).__name__}, expected PatientResult")
    for name in result.output_files:
        if name == MANIFEST_NAME:
            raise OutputError(f"the patient analysis must not write {MANIFEST_NAME} (reserved for the batch runner)")
        path = inside(staging, name)
        if not path.is_file():
            raise OutputError(f"the patient analysis lists output file {name!r} but did not write it")
    return result


def analyse_patient(task: PatientTask) -> PatientOutcome:
    """Run one patient (in a worker): skip when up to date, else analyse into a staging folder.

    The worker never publishes: the coordinator records the outcome in the cohort database first
    and then renames the staging folder into place (:func:`pipelines.batch.run_batch`), so no
    patient folder appears without the run that produced it being recorded, and a worker that
    outlives a killed coordinator cannot publish anything."""
    started = time.perf_counter()
    inputs = task.inputs
    key_info = None

    def outcome(
        status: PatientStatus, error: str | None, result: PatientResult | None, staged: Path | None = None
    ) -> PatientOutcome:
        return PatientOutcome(
            key=inputs.key,
            patient_id=inputs.patient_id,
            status=status,
            error=error,
            run_key=None if key_info is None else key_info.key,
            inputs_sha256=None if key_info is None else key_info.inputs_sha256,
            file_sha256=() if key_info is None else key_info.file_sha256,
            result=result,
            duration_s=time.perf_counter() - started,
            worker=_worker_name(),
            peak_rss_mib=_peak_rss_mib(),
            staging=staged,
        )

    target = patient_dir(task.out_dir, inputs.key)
    staging: Path | None = None
    try:
        key_info = run_key(inputs, task.parameters, task.analysis_id, task.software_version)
        if not task.force:
            manifest = read_manifest(target)
            if manifest is not None and manifest.get("run_key") == key_info.key:
                previous = previous_result(manifest)
                if previous is not None and all((target / name).is_file() for name in previous.output_files):
                    return outcome(PatientStatus.SKIPPED, None, previous)
        staging = atomic.make_staging_dir(task.out_dir, inputs.key)
        result = _check_result(task.analysis(inputs, task.parameters, staging), staging)
        manifest = {
            "schema_version": MANIFEST_SCHEMA_VERSION,
            "patient_key": inputs.key,
            "patient_id": inputs.patient_id,
            "run_key": key_info.key,
            "inputs_sha256": key_info.inputs_sha256,
            "input_files": [{"relative_path": rel, "sha256": sha} for rel, sha in key_info.file_sha256],
            "analysis_id": task.analysis_id,
            "software_version": task.software_version,
            "run_id": task.run_id,
            "parameters": parameters_document(task.parameters),
            "result": result.to_json_dict(),
        }
        atomic.write_text(staging / MANIFEST_NAME, json.dumps(manifest, indent=1, sort_keys=True))
        staged, staging = staging, None
        return outcome(PatientStatus.SUCCEEDED, None, result, staged)
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - one bad patient never stops the batch
        reason = one_line_reason(exc)
        logger.debug("patient %s failed", inputs.key, exc_info=True)
        return outcome(PatientStatus.FAILED, reason, None)
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)

