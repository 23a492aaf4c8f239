"""Executors of the batch: each runs :func:`pipelines.worker.analyse_patient` for every task and
yields the :class:`PatientOutcome` of each as it completes: in this process, in a local process
pool (spawn start method), or on a Dask distributed cluster."""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import logging
import math
import multiprocessing
import os
import queue
import time
import uuid
from collections.abc import Generator, Sequence
from typing import Any

from dosimetry.errors import ArgumentError, ClusterError, OutputError
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


#: How long a Dask batch waits while the cluster has no worker before it stops, in seconds (the
#: default of ``run_batch(no_worker_timeout_s=...)`` and ``dosimetry batch --no-worker-timeout``).
NO_WORKER_TIMEOUT_S = 120.0
#: How often the Dask executor checks for finished patients and for live workers, in seconds.
DASK_POLL_S = 1.0

#: The environment to start every ``dask worker`` of a batch cluster with (added to the usual
#: one), e.g. ``DASK_DISTRIBUTED__NANNY__PRE_SPAWN_ENVIRON="{'MALLOC_TRIM_THRESHOLD_': None}"
#: DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED=False DASK_DISTRIBUTED__ADMIN__TICK__INTERVAL=1s
#: DASK_DISTRIBUTED__ADMIN__SYSTEM_MONITOR__INTERVAL=5s
#: DASK_DISTRIBUTED__WORKER__MEMORY__MONITOR_INTERVAL=1s dask worker SCHEDULER --nworkers 1
#: --nthreads 1`` (the scheduler may get the same). Measured per clinical-size patient
#: (benchmarks/dask_worker_cpu.py):
#:
#: - distributed's nanny otherwise sets ``MALLOC_TRIM_THRESHOLD_=65536`` in its worker process
#:   (config ``distributed.nanny.pre-spawn-environ``, where ``None`` unsets a variable; the dict
#:   form is needed because Dask lower-cases the last part of a ``DASK_..._MALLOC_TRIM_THRESHOLD_``
#:   name, which then misses the key). Setting that variable also switches off glibc's dynamic
#:   mmap threshold, so each large array of a patient's analysis is mapped and faulted in afresh
#:   and freed memory is returned at once: 2.1 s more system CPU per patient. Unset, a Dask worker
#:   allocates like the local process workers.
#: - the worker's statistical profiler (it samples the running task's stack every 10 ms, for the
#:   dashboard's profile page): 0.7 s CPU per patient.
#: - the timers of the worker's and the nanny's event loops: the loop-health tick every 20 ms
#:   (``distributed.admin.tick.interval``; it only times the loop, to log "Event loop was
#:   unresponsive" after 3 s, which a 1 s tick still does), the system monitor every 500 ms
#:   (``distributed.admin.system-monitor.interval``: the dashboard's CPU, memory, disk and network
#:   series) and the memory monitor every 100 ms (``distributed.worker.memory.monitor-interval``:
#:   the spill, pause and terminate thresholds, then checked every second; a batch task holds no
#:   Dask data to spill). Each wakes the event-loop thread, which takes the GIL from the thread
#:   running the patient: an idle nanny + worker used 5.4 % of a core with the defaults, 0.6 %
#:   with these values (the tick alone 5.4 -> 2.0 %), and one patient 35.1 -> 29.5 s CPU,
#:   batch process included (the local process worker: 27.3 s; medians of 3 alternated runs on
#:   the loaded 2-core machine of 2026-12-07, about 2x slower than the one of the 2.1 s and 0.7 s).
#:
#: A department's own ``dask worker`` needs these variables in its environment (or the same
#: values in its Dask config file, e.g. ``MALLOC_TRIM_THRESHOLD_: null`` under ``distributed:
#: nanny: pre-spawn-environ:``); :func:`run_dask` logs a warning naming the workers that run with
#: other values (:data:`DOCUMENTED_WORKER_SETTINGS`). Only the speed depends on them, never a number.
DASK_WORKER_ENVIRONMENT: dict[str, str] = {
    "DASK_DISTRIBUTED__NANNY__PRE_SPAWN_ENVIRON": "{'MALLOC_TRIM_THRESHOLD_': None}",
    "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False",
    "DASK_DISTRIBUTED__ADMIN__TICK__INTERVAL": "1s",
    "DASK_DISTRIBUTED__ADMIN__SYSTEM_MONITOR__INTERVAL": "5s",
    "DASK_DISTRIBUTED__WORKER__MEMORY__MONITOR_INTERVAL": "1s",
}

_TRIM_VARIABLE = "MALLOC_TRIM_THRESHOLD_"

#: The Dask configuration intervals :data:`DASK_WORKER_ENVIRONMENT` sets, with the unit distributed
#: reads a bare number in.
_WORKER_INTERVALS: dict[str, str] = {
    "distributed.admin.tick.interval": "ms",
    "distributed.admin.system-monitor.interval": "s",
    "distributed.worker.memory.monitor-interval": "s",
}

#: What a worker started with :data:`DASK_WORKER_ENVIRONMENT` reports from
#: :func:`_worker_settings` (intervals in seconds).
DOCUMENTED_WORKER_SETTINGS: dict[str, object] = {
    _TRIM_VARIABLE: None,
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": 1.0,
    "distributed.admin.system-monitor.interval": 5.0,
    "distributed.worker.memory.monitor-interval": 1.0,
}


def dask_worker_environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) with :data:`DASK_WORKER_ENVIRONMENT` added
    and ``MALLOC_TRIM_THRESHOLD_`` removed (the nanny would pass an inherited value on): the
    environment for a ``dask worker`` process of a batch cluster."""
    env = dict(os.environ if base is None else base)
    env.pop(_TRIM_VARIABLE, None)
    env.update(DASK_WORKER_ENVIRONMENT)
    return env


def _worker_settings() -> dict[str, object]:
    """The settings of :data:`DOCUMENTED_WORKER_SETTINGS` as this process (a Dask worker) has them."""
    import dask
    from dask.utils import parse_timedelta

    settings: dict[str, object] = {
        _TRIM_VARIABLE: os.environ.get(_TRIM_VARIABLE),
        "distributed.worker.profile.enabled": bool(dask.config.get("distributed.worker.profile.enabled")),
    }
    for key, unit in _WORKER_INTERVALS.items():
        settings[key] = parse_timedelta(dask.config.get(key), default=unit)
    return settings


def _warn_unprepared_workers(client: Any, scheduler_address: str) -> None:
    """Log a warning when a worker of the cluster runs with settings other than
    :data:`DOCUMENTED_WORKER_SETTINGS` (see :data:`DASK_WORKER_ENVIRONMENT`). Only the speed
    depends on them, never a number."""
    try:
        values: dict[str, dict[str, object]] = client.run(_worker_settings)
    except Exception as exc:  # noqa: BLE001 - a check of speed only; the batch itself reports real failures
        logger.debug("could not read the Dask workers' settings: %s", exc)
        return
    differing = {
        worker: {key: value for key, value in settings.items() if DOCUMENTED_WORKER_SETTINGS.get(key, value) != value}
        for worker, settings in values.items()
    }
    differing = {worker: keys for worker, keys in differing.items() if keys}
    if differing:
        names = " ".join(f"{k}={v}" for k, v in DASK_WORKER_ENVIRONMENT.items())
        first = differing[min(differing)]
        logger.warning(
            "%d of the %d Dask workers at %s run with %s instead of %s, which costs up to 1.4x the CPU per "
            "clinical-size patient (benchmarks/dask_worker_cpu.py); start them with %s (%s)",
            len(differing), len(values), scheduler_address,
            ", ".join(f"{k}={v}" for k, v in sorted(first.items())),
            ", ".join(f"{k}={DOCUMENTED_WORKER_SETTINGS[k]}" for k in sorted(first)),
            names, ", ".join(sorted(differing)),
        )


def run_dask(
    tasks: Sequence[PatientTask], scheduler_address: str, *, no_worker_timeout_s: float = NO_WORKER_TIMEOUT_S
) -> Generator[PatientOutcome, None, None]:
    """The patients on a Dask cluster. A worker that dies is replaced by the scheduler's
    rescheduling; when the cluster has had no worker for ``no_worker_timeout_s`` seconds the batch
    stops with :class:`ClusterError` (the patients finished so far are already yielded, hence
    recorded and published; the rest are analysed by the next run)."""
    try:
        from distributed import Client
    except ImportError as exc:  # pragma: no cover - dependency declared in the batch extra
        raise ArgumentError("--scheduler needs the 'distributed' package (pip install 'dosimetry[batch]')") from exc
    if not (math.isfinite(no_worker_timeout_s) and no_worker_timeout_s > 0):
        raise ArgumentError(f"--no-worker-timeout must be a positive finite number of seconds, got {no_worker_timeout_s}")
    try:
        client = Client(scheduler_address, timeout="20s", set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise ArgumentError(f"cannot connect to the Dask scheduler at {scheduler_address}: {exc}") from exc
    futures = {}
    try:
        _warn_unprepared_workers(client, scheduler_address)
        futures = {
            client.submit(analyse_patient, task, key=f"patient-{task.inputs.key}-{uuid.uuid4().hex}", pure=False): task
            for task in tasks
        }
        pending = set(futures)
        finished: queue.Queue[Any] = queue.Queue()
        for future in futures:
            future.add_done_callback(finished.put)
        no_worker_since: float | None = None
        while pending:
            done = []
            with contextlib.suppress(queue.Empty):
                done.append(finished.get(timeout=DASK_POLL_S))
                while True:
                    done.append(finished.get_nowait())
            for future in sorted(done, key=lambda f: futures[f].inputs.key):
                pending.discard(future)
                task = futures[future]
                try:
                    yield future.result()
                except Exception as exc:  # noqa: BLE001 - KilledWorker and friends: the worker died
                    yield _died(task, one_line_reason(exc).removeprefix("internal error: "))
            if done:
                no_worker_since = None
                continue
            if client.nthreads():
                no_worker_since = None
                continue
            now = time.monotonic()
            if no_worker_since is None:
                no_worker_since = now
                logger.warning(
                    "the Dask cluster at %s has no worker; waiting up to %.0f s for one (%d patients not analysed yet)",
                    scheduler_address, no_worker_timeout_s, len(pending),
                )
            elif now - no_worker_since >= no_worker_timeout_s:
                raise ClusterError(
                    f"the Dask cluster at {scheduler_address} has had no worker for {no_worker_timeout_s:.0f} s "
                    f"(--no-worker-timeout): {len(futures) - len(pending)} patients finished (recorded and published), "
                    f"{len(pending)} not analysed; start workers and run the same command again to resume"
                )
    except BaseException:
        client.cancel(list(futures))
        raise
    finally:
        client.close()
