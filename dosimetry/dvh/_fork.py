"""The DVHs of a structure set computed by this process and one forked child process together
(the ``dosimetry dvh`` command): :func:`compute_dvhs_shared`.

Measured reason (issue 20, benchmarks/dvh_command_profile.py, real-size breast plan): the DVHs were
computed one ROI after another on one core of two, 1.9 s CPU of a 2.4 s process with the shape end
caps (geometries 1.1 s, two ROIs 0.43 s each; sampling and curves 0.9 s) and 0.7 s of 1.2 s with
half-slab end caps. A child forked after the imports and the loading computes the DVHs of some ROIs
while this process computes the others. CPU of each process over the shared part (``--debug`` logs
it): breast shape 0.89-1.06 / 0.87-0.96 s, clinical-size case 0.73-0.81 / 0.74-0.79 s, its
dense-contour variant 0.74-0.75 / 0.75-0.92 s; with half-slab end caps the External alone bounds it
(breast 0.55 s against 0.23 s for the 9 other ROIs, clinical 0.24 against 0.12 s for 39). The total
CPU stays the same (the child's scipy imports and the grid's tables are made before the fork).

Same numbers: each process computes an ROI with :func:`~dosimetry.dvh.compute.compute_dvhs` of that
ROI alone, which gives it exactly the numbers of the whole structure set's batch
(tests/test_dvh_batch.py); the child's copy of the dose and the ROIs is a fork's copy, and its
results come back pickled (numpy arrays and floats round-trip bit for bit).

The work is shared through a pipe holding the ROI indices (largest ROIs first, by contour points):
each process takes the next index with one 4-byte read (the kernel serialises the reads of a pipe),
so neither waits while the other has work. An ROI the child did not send back (it failed with an
error other than GeometryError, or ended early) is computed here afterwards, which raises that
error here as before. Once this process has finished its share it waits for the child a bounded time
(:func:`child_wait_limit_s`), then stops it and computes its ROIs here, with a warning. Used only where forking is safe and useful (:func:`can_fork`: Linux, two or
more usable cores, no other thread running in this process: a fork copies no other thread, and a
lock another thread held would stay locked in the child); otherwise, and for a single ROI, the ROIs
are computed here in one :func:`~dosimetry.dvh.compute.compute_dvhs` call.
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
import struct
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, BinaryIO

from dosimetry.dose import DoseGrid
from dosimetry.dvh.compute import BatchDvh, compute_dvhs
from dosimetry.dvh.curve import Dvh
from dosimetry.dvh.endcaps import EndCapConvention
from dosimetry.errors import GeometryError
from dosimetry.structures import Roi

logger = logging.getLogger(__name__)

#: At most this many ROIs are shared (their 4-byte indices are written to the pipe at once, within
#: one pipe buffer); a larger structure set is computed here alone.
MAX_SHARED_ROIS = 1024
_INDEX = struct.Struct("<i")

_Outcome = tuple[Dvh | None, GeometryError | None]

#: How long this process waits for the child once it has finished its own share of the ROIs: the
#: child then has at most the ROIs it already took (largest first, so the later ones are smaller),
#: which should take no longer than this process's whole share; ten times that, and at least a
#: minute, before the child is stopped and its ROIs are computed here.
CHILD_WAIT_FACTOR = 10.0
CHILD_WAIT_MIN_S = 60.0


def child_wait_limit_s(own_share_s: float) -> float:
    """Seconds to wait for the child after this process spent ``own_share_s`` on its share."""
    return max(CHILD_WAIT_MIN_S, CHILD_WAIT_FACTOR * own_share_s)


def can_fork() -> bool:
    """Whether :func:`compute_dvhs_shared` forks here: on Linux (elsewhere system libraries such as
    macOS's Accelerate are not known to be safe in a forked child), with two or more cores this
    process may run on, and no other Python thread running."""
    return sys.platform.startswith("linux") and len(os.sched_getaffinity(0)) >= 2 and threading.active_count() == 1


def _before_fork(dose: DoseGrid, convention: EndCapConvention) -> None:
    """What both processes would otherwise do each: the shape model's imports (scipy, contourpy)
    and the dose grid's tables shared by every ROI (its largest absolute dose, its axis steps)."""
    from dosimetry.dvh._trilinear import _axis_steps
    from dosimetry.dvh._voxel_stats import steep_threshold_gy

    if convention is EndCapConvention.SHAPE:
        import contourpy  # noqa: F401
        from scipy import ndimage  # type: ignore[import-untyped,unused-ignore]  # noqa: F401
        from scipy.spatial import ConvexHull, cKDTree  # type: ignore[import-untyped,unused-ignore]  # noqa: F401

        import dosimetry.dvh._shape  # noqa: F401
    steep_threshold_gy(dose)
    _axis_steps(dose)


def _next_index(tasks: int) -> int | None:
    data = os.read(tasks, _INDEX.size)
    if not data:
        return None
    if len(data) != _INDEX.size:  # every write and every read is one whole index
        raise AssertionError(f"partial ROI index read from the work pipe ({len(data)} bytes)")
    return int(_INDEX.unpack(data)[0])


def compute_dvhs_shared(
    dose: DoseGrid,
    rois: list[Roi] | tuple[Roi, ...],
    *,
    bin_width_gy: float,
    end_cap: EndCapConvention | str,
    supersample: int | None,
) -> tuple[BatchDvh, ...]:
    """:func:`~dosimetry.dvh.compute.compute_dvhs` of ``rois`` (the same outcomes, in their order),
    shared with a forked child process when :func:`can_fork` (see the module docstring)."""
    convention = EndCapConvention.parse(end_cap)

    def one(i: int) -> _Outcome:
        outcome = compute_dvhs(dose, [rois[i]], bin_width_gy=bin_width_gy, end_cap=convention, supersample=supersample)[0]
        return outcome.dvh, outcome.error

    if len(rois) < 2 or len(rois) > MAX_SHARED_ROIS or not can_fork():
        return compute_dvhs(dose, rois, bin_width_gy=bin_width_gy, end_cap=convention, supersample=supersample)
    _before_fork(dose, convention)
    order = sorted(range(len(rois)), key=lambda i: -sum(c.points_mm.shape[0] for c in rois[i].contours))
    tasks_r, tasks_w = os.pipe()
    try:
        os.write(tasks_w, b"".join(_INDEX.pack(i) for i in order))
    finally:
        os.close(tasks_w)
    results_r, results_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: compute, send, and leave without the parent's exit handlers and buffers
        status = 1
        try:
            os.close(results_r)
            with os.fdopen(results_w, "wb") as out:
                _child(one, tasks_r, out)
            status = 0
        finally:
            os._exit(status)
    os.close(results_w)
    received: list[tuple[int, Any, GeometryError | None]] = []

    def receive() -> None:
        with os.fdopen(results_r, "rb") as stream:
            while True:
                try:
                    received.append(pickle.load(stream))
                except EOFError:
                    return
                except Exception:  # noqa: BLE001 - a record cut short by a child that ended mid-write: its ROIs are computed here
                    return

    reader = threading.Thread(target=receive, name="dvh-fork-results", daemon=True)
    reader.start()
    outcomes: dict[int, _Outcome] = {}
    finished = False
    start_s = time.process_time()
    start_wall_s = time.monotonic()
    try:
        while (i := _next_index(tasks_r)) is not None:
            outcomes[i] = one(i)
        finished = True
    finally:
        os.close(tasks_r)
        if finished:
            # the child has at most the ROIs it took before the pipe ran dry left: bounded, so that a
            # child stuck in a system library (a lock a fork copied held) cannot make the command hang
            limit_s = child_wait_limit_s(time.monotonic() - start_wall_s)
            reader.join(timeout=limit_s)
            if reader.is_alive():
                logger.warning(
                    "the forked DVH process was still running %.0f s after this process finished its share; "
                    "it was stopped and its ROIs are computed here", limit_s,
                )
                os.kill(pid, signal.SIGKILL)
        else:  # an error here: the child's work is not needed
            os.kill(pid, signal.SIGKILL)
        _, wait_status = os.waitpid(pid, 0)
        reader.join()
    own_s = time.process_time() - start_s
    child_s = None
    sent = 0
    for i, dvh, error in received:
        if i < 0:
            child_s = dvh
        else:
            outcomes[i] = (dvh, error)
            sent += 1
    missing = [i for i in range(len(rois)) if i not in outcomes]
    if missing:
        logger.warning(
            "the forked DVH process ended with exit code %d before sending %d ROI(s); they are computed here",
            os.waitstatus_to_exitcode(wait_status), len(missing),
        )
        for i in missing:
            outcomes[i] = one(i)
    logger.debug(
        "DVHs: %d of %d ROIs computed by a forked child (CPU: this process %.3f s, the child %s s)",
        sent, len(rois), own_s,
        "?" if child_s is None else f"{child_s:.3f}",
    )
    return tuple(BatchDvh(roi, *outcomes[i]) for i, roi in enumerate(rois))


def _child(one: Callable[[int], _Outcome], tasks: int, out: BinaryIO) -> None:
    start_s = time.process_time()
    while (i := _next_index(tasks)) is not None:
        dvh, error = one(i)
        pickle.dump((i, dvh, error), out, protocol=pickle.HIGHEST_PROTOCOL)
        out.flush()
    pickle.dump((-1, time.process_time() - start_s, None), out, protocol=pickle.HIGHEST_PROTOCOL)  # its CPU, for the log
