"""Executors of the batch: each runs :func:`pipelines.worker.analyse_patient` for every task and
yields the :class:`PatientOutcome` of each as it completes: in this process, in a local process
pool (spawn start method), or on a Dask distributed cluster."""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import logging
import multiprocessing
import os
import time
import uuid
from collections.abc import Generator, Sequence

from dosimetry.errors import ArgumentError, OutputError
from pipelines.lifecycle import die_with_parent
from pipelines.worker import (
    PatientOutcome,
    PatientStatus,
    PatientTask,
    analyse_patient,
    one_line_reason,
)

logger = logging.getLogger("pipelines.batch")

_WORKER_DIED = "worker process died while analysing this patient"


def _died(task: PatientTask, detail: str) -> PatientOutcome:
    return PatientOutcome(
        key=task.inputs.key,
        patient_id=task.inputs.patient_id,
        status=PatientStatus.FAILED,
        error=f"{_WORKER_DIED} ({detail})",
        run_key=None,
        inputs_sha256=None,
        file_sha256=(),
        result=None,
        duration_s=0.0,
        worker="",
        peak_rss_mib=None,
    )


def run_in_process(tasks: Sequence[PatientTask]) -> Generator[PatientOutcome, None, None]:
    for task in tasks:
        yield analyse_patient(task)


def _ping() -> int:
    return os.getpid()


def _start_pool(workers: int) -> cf.ProcessPoolExecutor:
    """A process pool whose workers are known to start (a failure here is not any patient's fault)
    and die with this process (:func:`pipelines.lifecycle.die_with_parent`)."""
    pool = cf.ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=die_with_parent,
        initargs=(os.getpid(),),
    )
    try:
        pool.submit(_ping).result()
    except cf.process.BrokenProcessPool as exc:
        pool.shutdown(wait=False, cancel_futures=True)
        raise OutputError(
            "worker processes cannot start (with the spawn start method the calling script must guard its "
            "entry point with `if __name__ == '__main__':`); use workers=0 to run in this process"
        ) from exc
    return pool


#: How long a worker process gets to end after SIGTERM before it is killed, in seconds.
TERMINATE_GRACE_S = 5.0


def stop_pool(pool: cf.ProcessPoolExecutor) -> None:
    """Stop ``pool`` now: cancel what has not started and end the worker processes (SIGTERM, then
    SIGKILL after :data:`TERMINATE_GRACE_S`), instead of waiting for the running patients. Their
    staging folders are left for the next run to remove; nothing of theirs is published."""
    processes = list((getattr(pool, "_processes", None) or {}).values())  # no public API before 3.14
    for process in processes:
        with contextlib.suppress(Exception):
            process.terminate()
    deadline = time.monotonic() + TERMINATE_GRACE_S
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join(TERMINATE_GRACE_S)
    pool.shutdown(wait=True, cancel_futures=True)


def run_process_pool(tasks: Sequence[PatientTask], workers: int) -> Generator[PatientOutcome, None, None]:
    unfinished: list[PatientTask] = []
    pool = _start_pool(workers)
    try:
        futures = {pool.submit(analyse_patient, task): task for task in tasks}
        for future in cf.as_completed(futures):
            try:
                yield future.result()
            except cf.process.BrokenProcessPool:
                unfinished.append(futures[future])
    except BaseException:  # including GeneratorExit when the coordinator stops reading
        stop_pool(pool)
        raise
    pool.shutdown(wait=True)
    if not unfinished:
        return
    logger.warning("a worker process died; retrying %d unfinished patients one at a time", len(unfinished))
    pool = _start_pool(1)
    try:
        for task in sorted(unfinished, key=lambda t: t.inputs.key):
            try:
                yield pool.submit(analyse_patient, task).result()
            except cf.process.BrokenProcessPool as exc:
                yield _died(task, type(exc).__name__)
                pool.shutdown(wait=True, cancel_futures=True)
                pool = _start_pool(1)
    except BaseException:
        stop_pool(pool)
        raise
    pool.shutdown(wait=True)


def run_dask(tasks: Sequence[PatientTask], scheduler_address: str) -> Generator[PatientOutcome, None, None]:
    try:
        from distributed import Client, as_completed
    except ImportError as exc:  # pragma: no cover - dependency declared in the batch extra
        raise ArgumentError("--scheduler needs the 'distributed' package (pip install 'dosimetry[batch]')") from exc
    try:
        client = Client(scheduler_address, timeout="20s", set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise ArgumentError(f"cannot connect to the Dask scheduler at {scheduler_address}: {exc}") from exc
    try:
        futures = {
            client.submit(analyse_patient, task, key=f"patient-{task.inputs.key}-{uuid.uuid4().hex}", pure=False): task
            for task in tasks
        }
        try:
            for future in as_completed(list(futures), loop=client.loop):
                task = futures[future]
                try:
                    yield future.result()
                except Exception as exc:  # noqa: BLE001 - KilledWorker and friends: the worker died
                    yield _died(task, one_line_reason(exc).removeprefix("internal error: "))
        except BaseException:
            client.cancel(list(futures))
            raise
    finally:
        client.close()
