"""The batch runner: every patient under ROOT through a :data:`PatientAnalysis`, in parallel.

:func:`run_batch` is the whole of ``dosimetry batch``:

1. takes an exclusive lock on ``OUT`` (``OUT/.batch.lock``; two batches never share an output
   folder) and removes what a killed run left in ``OUT/.staging`` / ``OUT/.trash``;
2. finds the patients (:func:`pipelines.discovery.discover_patients`, ``OUT`` excluded);
3. runs :func:`analyse_patient` for each: in this process (``workers=0``), in a local process pool
   (``workers >= 1``, spawn start method), or on a Dask distributed cluster
   (``scheduler_address``); see :mod:`pipelines.executors`. Each task computes the patient's run
   key; when ``OUT/patients/<key>/batch_result.json`` already holds the same key the patient is
   *skipped*. Otherwise the analysis writes into a private staging folder;
4. records each outcome in the cohort database as it arrives (only this process writes to it) and
   only then publishes the staging folder atomically (a failure removes the old folder), so a
   published folder always has its run recorded; shows progress (a tqdm bar on a terminal, one
   plain line per patient otherwise), then writes ``OUT/metrics.csv`` (from this run's published
   manifests) and ``OUT/batch_summary.json`` atomically.

Local worker processes die with the coordinator (:mod:`pipelines.lifecycle`: a parent-death
signal and a watchdog), and SIGTERM stops the batch like Ctrl-C: the workers are terminated, the
run is recorded as ``interrupted``, and the rerun resumes.

One bad patient never stops the batch: a :class:`DosimetryError` is recorded with its one-line
message, any other exception as ``internal error: Type: message``, and a worker process that dies
(segfault, ``os._exit``, out of memory) is detected: the unfinished patients are retried one at a
time in a fresh single-worker pool, so the patient that kills its worker is the one marked failed
(``worker process died while analysing this patient``). A failed patient's earlier published
outputs and database rows are removed: they would not match its current inputs.

Resumability: a run killed at any point leaves only complete patient folders (see
:mod:`pipelines.atomic`), database transactions that either happened or not, and a ``runs`` row
still ``running`` that the next run marks ``interrupted``. The rerun skips every patient already
published with the same key and re-synchronises its database rows from ``batch_result.json``.
The key holds every parameter, the DVH end-cap convention (``--end-cap``) included: a rerun with
another convention analyses every patient again (never reuses a result computed under the old one)
and its summary says so in a warning.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import logging
import os
import pickle
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa

from dosimetry import __version__
from dosimetry.errors import ArgumentError, DosimetryError, OutputError
from pipelines import atomic
from pipelines.analysis import (
    AnalysisParameters,
    PatientAnalysis,
    PatientInputs,
    analysis_identity,
)
from pipelines.csv_out import METRICS_CSV_NAME, write_metrics_csv
from pipelines.discovery import CohortDiscovery, discover_patients
from pipelines.dvh_curves import DVH_FILE_NAME, DvhCurve, read_dvh_csv
from pipelines.executors import NO_WORKER_TIMEOUT_S, run_dask, run_in_process, run_process_pool
from pipelines.hashing import parameters_document
from pipelines.lifecycle import BatchTerminated, sigterm_raises
from pipelines.store import CohortStore, default_url, redact_url
from pipelines.worker import (
    MANIFEST_NAME,
    MANIFEST_SCHEMA_VERSION,
    PATIENTS_DIR_NAME,
    PatientOutcome,
    PatientStatus,
    PatientTask,
    analyse_patient,
    one_line_reason,
    patient_dir,
    previous_result,
    read_manifest,
)

__all__ = [
    "MANIFEST_NAME",
    "MANIFEST_SCHEMA_VERSION",
    "PATIENTS_DIR_NAME",
    "SUMMARY_NAME",
    "BatchSummary",
    "BatchTerminated",
    "PatientOutcome",
    "PatientStatus",
    "PatientSummary",
    "PatientTask",
    "ProgressMode",
    "analyse_patient",
    "one_line_reason",
    "patient_dir",
    "read_manifest",
    "run_batch",
]

logger = logging.getLogger(__name__)

SUMMARY_NAME = "batch_summary.json"
LOCK_NAME = ".batch.lock"


class ProgressMode(StrEnum):
    AUTO = "auto"  # bar when the stream is a terminal, lines otherwise
    BAR = "bar"
    LINES = "lines"
    OFF = "off"



@dataclass(frozen=True)
class PatientSummary:
    key: str
    patient_id: str
    status: PatientStatus
    error: str | None
    duration_s: float
    worker: str
    peak_rss_mib: float | None


@dataclass(frozen=True)
class BatchSummary:
    """The result of :func:`run_batch`."""

    run_id: str
    root: Path
    out_dir: Path
    database: str
    total: int
    succeeded: int
    skipped: int
    failed: int
    metrics_rows: int
    skipped_files: int
    duration_s: float
    patients: tuple[PatientSummary, ...]
    warnings: tuple[str, ...] = field(default=())

    @property
    def failures(self) -> tuple[PatientSummary, ...]:
        return tuple(p for p in self.patients if p.status is PatientStatus.FAILED)

    @property
    def exit_code(self) -> int:
        """0 when no patient failed, 1 otherwise."""
        return 1 if self.failed else 0

    def summary_line(self) -> str:
        return (
            f"{self.total} patients: {self.succeeded} analysed, {self.skipped} unchanged (skipped), "
            f"{self.failed} failed; {self.metrics_rows} metric rows in {self.out_dir / METRICS_CSV_NAME}"
        )

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "root": str(self.root),
            "out_dir": str(self.out_dir),
            "database": self.database,
            "total": self.total,
            "succeeded": self.succeeded,
            "skipped": self.skipped,
            "failed": self.failed,
            "metrics_rows": self.metrics_rows,
            "skipped_files": self.skipped_files,
            "duration_s": self.duration_s,
            "warnings": list(self.warnings),
            "patients": [
                {
                    "key": p.key,
                    "patient_id": p.patient_id,
                    "status": str(p.status),
                    "error": p.error,
                    "duration_s": p.duration_s,
                    "worker": p.worker,
                    "peak_rss_mib": p.peak_rss_mib,
                }
                for p in self.patients
            ],
        }



# ------------------------------------------------------------------------------------------
# Progress
# ------------------------------------------------------------------------------------------


class _Progress:
    def __init__(self, total: int, mode: ProgressMode, stream: IO[str]) -> None:
        self.total = total
        self.done = 0
        self.counts = {status: 0 for status in PatientStatus}
        self.stream = stream
        self.bar = None
        if mode is ProgressMode.AUTO:
            mode = ProgressMode.BAR if _isatty(stream) else ProgressMode.LINES
        self.mode = mode
        if mode is ProgressMode.BAR:
            from tqdm import tqdm

            self.bar = tqdm(total=total, file=stream, unit="patient", dynamic_ncols=True)

    def update(self, outcome: PatientOutcome) -> None:
        self.done += 1
        self.counts[outcome.status] += 1
        summary = ", ".join(f"{self.counts[s]} {s}" for s in PatientStatus)
        if self.bar is not None:
            self.bar.set_postfix_str(summary, refresh=False)
            self.bar.update(1)
        elif self.mode is ProgressMode.LINES:
            detail = f": {outcome.error}" if outcome.error else ""
            self.stream.write(
                f"batch: {self.done}/{self.total} ({summary}) {outcome.key} {outcome.status}{detail}\n"
            )
            self.stream.flush()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError, io.UnsupportedOperation):
        return False


# ------------------------------------------------------------------------------------------
# The coordinator
# ------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _out_lock(out_dir: Path) -> Iterator[None]:
    if os.name != "posix":  # pragma: no cover - no advisory lock on Windows: one batch per OUT by convention
        yield
        return
    import fcntl

    handle = open(out_dir / LOCK_NAME, "a+")  # noqa: SIM115 - held for the whole batch
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise OutputError(f"another batch is already writing to {out_dir} ({LOCK_NAME} is locked)") from exc
        yield
    finally:
        handle.close()


def _default_analysis() -> PatientAnalysis:
    from pipelines.analysis import DEFAULT_ANALYSIS_SPEC, load_analysis

    return load_analysis(DEFAULT_ANALYSIS_SPEC)


def run_batch(
    root: Path,
    out_dir: Path,
    *,
    analysis: PatientAnalysis | None = None,
    parameters: AnalysisParameters | None = None,
    workers: int = 1,
    scheduler_address: str | None = None,
    no_worker_timeout_s: float = NO_WORKER_TIMEOUT_S,
    db_url: str | None = None,
    force: bool = False,
    progress: ProgressMode = ProgressMode.AUTO,
    progress_stream: IO[str] | None = None,
    on_outcome: Callable[[PatientOutcome], None] | None = None,
) -> BatchSummary:
    """Analyse every patient under ``root`` into ``out_dir`` (see the module docstring).

    ``analysis`` defaults to :func:`pipelines.analyze.full_analysis`; with ``workers >= 1``
    (process pool) it must be picklable (a module-level function or an instance of a module-level
    class). ``workers=0`` runs in this process. ``scheduler_address`` (e.g. ``tcp://host:8786``)
    sends the patients to a Dask distributed cluster instead; ``OUT`` must then be on a file system
    the workers share, and when the cluster has had no worker for ``no_worker_timeout_s`` seconds
    the batch stops with :class:`~dosimetry.errors.ClusterError` (finished patients recorded and
    published, the run marked ``failed``, the rest analysed by the next run). ``db_url`` is an SQLAlchemy URL (default ``sqlite:///OUT/cohort.sqlite``).
    ``force`` analyses every patient even when unchanged. ``on_outcome`` is called in this process
    after each patient is recorded.
    """
    started = time.perf_counter()
    analysis = _default_analysis() if analysis is None else analysis
    parameters = AnalysisParameters() if parameters is None else parameters
    if workers < 0:
        raise ArgumentError(f"--workers must be 0 (in this process) or a positive number, got {workers}")
    if scheduler_address is None and workers >= 1:
        try:
            pickle.dumps(analysis)
        except (pickle.PicklingError, AttributeError, TypeError) as exc:
            raise ArgumentError(
                f"the patient analysis {analysis!r} cannot be sent to worker processes ({exc}); "
                "use a module-level function or workers=0"
            ) from exc
    root = Path(root)
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"--out {out_dir} exists and is not a folder")
    if out_dir.resolve() == root.resolve():
        # The next run would read OUT/patients/*/ (RT Dose maps of the analysis) as another patient.
        raise ArgumentError(
            f"--out {out_dir} is the batch root {root}: the next run would read the outputs as patients; "
            "choose another folder (a sub-folder of ROOT is excluded from discovery)"
        )
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the output folder --out {out_dir}: {exc.strerror or exc}") from exc
    out_dir = out_dir.resolve()
    if root.resolve() != out_dir and out_dir.is_relative_to(root.resolve()):
        logger.info("output folder %s lies inside ROOT; it is excluded from discovery", out_dir)
    stream = sys.stderr if progress_stream is None else progress_stream
    url = default_url(out_dir) if db_url is None else db_url
    analysis_id = analysis_identity(analysis)

    with _out_lock(out_dir):
        leftovers = atomic.clean_work_dirs(out_dir)
        if leftovers:
            logger.info("removed %d leftovers of an interrupted run in %s", leftovers, out_dir)
        discovery: CohortDiscovery = discover_patients(root, exclude=(out_dir,))
        store = CohortStore.open(url)
        run_id = str(uuid.uuid4())
        parameters_json = json.dumps(parameters_document(parameters), sort_keys=True)
        store.start_run(
            run_id,
            parameters_json=parameters_json,
            analysis_id=analysis_id,
            software_version=__version__,
            out_dir=out_dir,
        )
        previous = store.last_run_parameters(out_dir, before_run_id=run_id)
        previous_end_cap = None if previous is None else previous.get("end_cap")
        end_cap_note = None
        if previous is not None and previous_end_cap != parameters.end_cap.value:
            end_cap_note = (
                f"the previous run into {out_dir} used DVH end caps {previous_end_cap or 'not recorded'} and this one "
                f"{parameters.end_cap.value}: the end cap is part of every patient's run key, so no earlier result is "
                "reused (every patient is analysed again)"
            )
            logger.warning("%s", end_cap_note)
        tasks = [
            PatientTask(
                inputs=patient,
                parameters=parameters,
                out_dir=out_dir,
                analysis=analysis,
                analysis_id=analysis_id,
                software_version=__version__,
                run_id=run_id,
                force=force,
            )
            for patient in discovery.patients
        ]
        by_key = {p.key: p for p in discovery.patients}
        summaries: list[PatientSummary] = []
        bar = _Progress(len(tasks), progress, stream)
        status = "interrupted"
        error: str | None = "the run stopped before it finished (killed or interrupted)"
        outcomes: Generator[PatientOutcome, None, None] | None = None
        try:
            if scheduler_address:
                outcomes = run_dask(tasks, scheduler_address, no_worker_timeout_s=no_worker_timeout_s)
            elif workers == 0:
                outcomes = run_in_process(tasks)
            else:
                outcomes = run_process_pool(tasks, workers)
            with sigterm_raises():
                for outcome in outcomes:
                    outcome = _record(store, run_id, by_key[outcome.key], outcome, out_dir)
                    summaries.append(
                        PatientSummary(
                            key=outcome.key,
                            patient_id=outcome.patient_id,
                            status=outcome.status,
                            error=outcome.error,
                            duration_s=outcome.duration_s,
                            worker=outcome.worker,
                            peak_rss_mib=outcome.peak_rss_mib,
                        )
                    )
                    bar.update(outcome)
                    if on_outcome is not None:
                        on_outcome(outcome)
            metrics_rows = write_metrics_csv(out_dir / METRICS_CSV_NAME, _published_metric_rows(out_dir, summaries))
            replaced = store.replaced_patients(run_id)
            run_warnings = list(discovery.warnings)
            if end_cap_note is not None:
                run_warnings.append(end_cap_note)
            if replaced:
                run_warnings.append(
                    f"another batch sharing the cohort database {redact_url(url)} has since stored other results for "
                    f"{len(replaced)} patient(s) of this run ({', '.join(replaced[:10])}{', ...' if len(replaced) > 10 else ''}); "
                    f"{METRICS_CSV_NAME} and OUT/patients hold this run's numbers, the database the other run's: "
                    "give each batch its own --db"
                )
            counts = {s: sum(1 for p in summaries if p.status is s) for s in PatientStatus}
            summary = BatchSummary(
                run_id=run_id,
                root=discovery.root,
                out_dir=out_dir,
                database=redact_url(url),
                total=len(summaries),
                succeeded=counts[PatientStatus.SUCCEEDED],
                skipped=counts[PatientStatus.SKIPPED],
                failed=counts[PatientStatus.FAILED],
                metrics_rows=metrics_rows,
                skipped_files=len(discovery.skipped),
                duration_s=time.perf_counter() - started,
                patients=tuple(sorted(summaries, key=lambda p: p.key)),
                warnings=tuple(run_warnings),
            )
            document = summary.to_json_dict()
            document["skipped_files"] = [{"path": str(s.path), "reason": s.reason} for s in discovery.skipped]
            atomic.write_text(out_dir / SUMMARY_NAME, json.dumps(document, indent=1))
            status = "completed_with_failures" if summary.failed else "completed"
            error = None
            return summary
        except Exception as exc:
            status, error = "failed", one_line_reason(exc)
            raise
        finally:
            if outcomes is not None:
                outcomes.close()  # stops the workers now (a no-op once they have all finished)
            bar.close()
            counts_now = {s: sum(1 for p in summaries if p.status is s) for s in PatientStatus}
            with contextlib.suppress(Exception):
                store.finish_run(
                    run_id,
                    status=status,
                    error=error,
                    total=len(tasks),
                    succeeded=counts_now[PatientStatus.SUCCEEDED],
                    skipped=counts_now[PatientStatus.SKIPPED],
                    failed=counts_now[PatientStatus.FAILED],
                )
            store.close()


def _record(store: CohortStore, run_id: str, inputs: PatientInputs, outcome: PatientOutcome, out_dir: Path) -> PatientOutcome:
    """Write ``outcome`` to the database, then publish its outputs (a success) or remove the old
    ones (a failure: they no longer match the inputs). The database is written first, so a kill
    between the two leaves a recorded patient whose folder is missing (the rerun analyses it
    again), never a published folder that no recorded run produced. A result the database
    refuses, a ``dvh.csv`` it cannot read, or outputs that cannot be published, fail that patient only."""
    try:
        try:
            dvhs = _dvh_curves(store, outcome, out_dir)
        except DosimetryError as exc:
            return _fail_recorded(store, run_id, inputs, outcome, out_dir, f"cannot store the DVH curves in the cohort database: {exc}")
        _write_outcome(store, run_id, inputs, outcome, dvhs)
    except sa.exc.SQLAlchemyError as exc:
        if outcome.status is PatientStatus.FAILED:
            raise OutputError(f"cannot record patient {inputs.key} in the cohort database: {one_line_reason(exc)}") from exc
        reason = "cannot store the results in the cohort database: " + " ".join(str(exc.orig if hasattr(exc, "orig") else exc).split())
        return _fail_recorded(store, run_id, inputs, outcome, out_dir, reason)
    target = patient_dir(out_dir, inputs.key)
    if outcome.status is PatientStatus.SUCCEEDED and outcome.staging is not None:
        try:
            atomic.publish_dir(out_dir, outcome.staging, target)
        except OSError as exc:
            return _fail_recorded(store, run_id, inputs, outcome, out_dir, f"cannot publish the outputs into {target}: {exc.strerror or exc}")
    elif outcome.status is PatientStatus.FAILED:
        with contextlib.suppress(OSError):
            atomic.remove_dir(out_dir, target)
    return outcome


def _published_metric_rows(out_dir: Path, summaries: list[PatientSummary]) -> Iterator[dict[str, Any]]:
    """The metric rows of this run's patients (analysed or unchanged) as published in their
    manifests, in (patient_key, roi, quantity, metric) order: exactly the numbers ``OUT`` holds,
    whatever another batch sharing the database wrote since."""
    for key in sorted(p.key for p in summaries if p.status is not PatientStatus.FAILED):
        folder = patient_dir(out_dir, key)
        manifest = read_manifest(folder)
        result = None if manifest is None else previous_result(manifest)
        if manifest is None or result is None:
            raise OutputError(f"{folder / MANIFEST_NAME} is missing or unreadable although this run published it")
        for m in sorted(result.metrics, key=lambda m: (m.roi, m.quantity, m.metric)):
            yield {
                "patient_key": key,
                "patient_id": manifest["patient_id"],
                "roi": m.roi,
                "quantity": m.quantity,
                "metric": m.metric,
                "value": m.value,
                "unit": m.unit,
                "end_cap": manifest.get("parameters", {}).get("end_cap"),
            }


def _fail_recorded(
    store: CohortStore, run_id: str, inputs: PatientInputs, outcome: PatientOutcome, out_dir: Path, reason: str
) -> PatientOutcome:
    logger.warning("patient %s: %s", inputs.key, reason)
    store.record_failure(run_id, inputs, error=reason, run_key=outcome.run_key, duration_s=outcome.duration_s)
    if outcome.staging is not None:
        shutil.rmtree(outcome.staging, ignore_errors=True)
    with contextlib.suppress(OSError):
        atomic.remove_dir(out_dir, patient_dir(out_dir, inputs.key))
    return dataclasses.replace(outcome, status=PatientStatus.FAILED, error=reason, result=None, staging=None)


def _dvh_curves(store: CohortStore, outcome: PatientOutcome, out_dir: Path) -> tuple[DvhCurve, ...]:
    """The cumulative DVH curves to store for a patient whose analysis wrote ``dvh.csv``: from the
    staging folder (analysed now) or the published folder (unchanged), i.e. the file the patient's
    published folder holds after this run; none when the database already holds this run key's curves."""
    if outcome.status is PatientStatus.FAILED or outcome.result is None or DVH_FILE_NAME not in outcome.result.output_files:
        return ()
    if (
        outcome.status is PatientStatus.SKIPPED
        and store.patient_run_key(outcome.key) == outcome.run_key
        and store.has_dvh_curves(outcome.key)
    ):
        return ()
    folder = outcome.staging if outcome.status is PatientStatus.SUCCEEDED and outcome.staging is not None else patient_dir(out_dir, outcome.key)
    return read_dvh_csv(folder / DVH_FILE_NAME)


def _write_outcome(
    store: CohortStore, run_id: str, inputs: PatientInputs, outcome: PatientOutcome, dvhs: tuple[DvhCurve, ...] = ()
) -> None:
    if outcome.status is PatientStatus.FAILED:
        store.record_failure(run_id, inputs, error=outcome.error or "failed", run_key=outcome.run_key, duration_s=outcome.duration_s)
        return
    assert outcome.result is not None and outcome.run_key is not None and outcome.inputs_sha256 is not None
    if (
        outcome.status is PatientStatus.SKIPPED
        and store.patient_run_key(inputs.key) == outcome.run_key
        and not dvhs  # curves read: the database lacks them (written before its DVH table): fill them in
    ):
        store.record_skip(run_id, inputs.key, run_key=outcome.run_key)
        return
    store.record_success(
        run_id,
        inputs,
        run_key=outcome.run_key,
        inputs_sha256=outcome.inputs_sha256,
        file_sha256=outcome.file_sha256,
        result=outcome.result,
        skipped=outcome.status is PatientStatus.SKIPPED,
        duration_s=outcome.duration_s,
        dvhs=dvhs,
    )
