"""Whether an analysis makes dose maps in a background thread (issue 20).

One ``analyze`` makes its BED/EQD2 and cumulative maps in a background thread while the main thread
samples the previous map (:mod:`dosimetry.patient.dvhs`) and the prior course's EQD2 while the
re-irradiation type samples its organs (:mod:`dosimetry.patient.reirradiation_type`): numpy's
whole-array arithmetic releases the GIL, so the second core does the arithmetic. Where an analysis
already runs on every core beside others (a batch's workers), the thread gains nothing and takes CPU
from the neighbouring worker: measured (``benchmarks/batch_clinical.py --patients 20``, 2 cores) one
worker used 1.11 cores and two workers 1.78, so two workers gave 1.58x the throughput of one (9.5
patients a minute). Batch workers therefore run their analysis under :func:`without_background_maps`
(as they draw their reports in-process, ``report_workers=0``): then 1.91x, 10.65 patients a minute
(Dask 1.93x, 10.73). The maps and every number are the same either way (the
same functions, called once each, in the same order).

The setting is a :class:`contextvars.ContextVar`, so it holds for the code run in its ``with``
block and in that thread only (like threadpoolctl's limits), not for other threads or analyses.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_BACKGROUND_MAPS: ContextVar[bool] = ContextVar("dosimetry_background_maps", default=True)


def background_maps_allowed() -> bool:
    """True unless the caller runs inside :func:`without_background_maps`."""
    return _BACKGROUND_MAPS.get()


@contextmanager
def without_background_maps() -> Iterator[None]:
    """Within the block, every dose map of an analysis is made in the calling thread."""
    token = _BACKGROUND_MAPS.set(False)
    try:
        yield
    finally:
        _BACKGROUND_MAPS.reset(token)
