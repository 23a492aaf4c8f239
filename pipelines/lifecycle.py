"""Process lifetime of a batch: worker processes die with their parent, SIGTERM stops the batch.

A reliability run (issue 21) found that a batch killed by SIGKILL, or sent SIGTERM, left its
worker processes (and multiprocessing's resource tracker) running: they went on analysing and
publishing after the coordinator had died, then blocked forever writing to the dead parent.

* :func:`die_with_parent` is the initializer of every local worker process. On Linux it asks the
  kernel for ``SIGKILL`` when the parent dies (``prctl(PR_SET_PDEATHSIG)`` through ctypes: the
  standard library has no wrapper), and on every platform a daemon thread checks ``os.getppid()``
  every :data:`WATCHDOG_PERIOD_S` seconds and ends the process when the parent is gone (the
  fallback where prctl is missing, and a guard for a parent that died before the initializer ran).
  The resource tracker then sees its pipe close and exits too. (Linux sends the parent-death
  signal when the *thread* that started the worker ends; the pools are started by the thread
  that runs the batch, which outlives them.)
* :func:`sigterm_raises` turns SIGTERM into :class:`BatchTerminated` in the main thread while the
  batch runs, so the coordinator records the run as ``interrupted``, terminates its workers and
  releases the output lock, exactly as for Ctrl-C.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from types import FrameType

logger = logging.getLogger("pipelines.batch")

#: How often a worker's watchdog thread checks that its parent process is alive, in seconds.
WATCHDOG_PERIOD_S = 0.5

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


class BatchTerminated(KeyboardInterrupt):
    """The batch received SIGTERM (a KeyboardInterrupt, so it unwinds like Ctrl-C)."""

    def __init__(self, signal_number: int) -> None:
        super().__init__(f"stopped by signal {signal.Signals(signal_number).name}")
        self.signal_number = signal_number

    @property
    def exit_code(self) -> int:
        return 128 + self.signal_number


def _parent_death_signal() -> bool:
    """Ask Linux to SIGKILL this process when its parent dies; False where unavailable."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)) == 0
    except (OSError, AttributeError):  # pragma: no cover - a libc without prctl
        return False


def _watch_parent(parent_pid: int) -> None:
    while True:
        if os.getppid() != parent_pid:
            os._exit(1)  # the parent is gone: nobody will read this worker's results
        time.sleep(WATCHDOG_PERIOD_S)


def die_with_parent(parent_pid: int) -> None:
    """Initializer of a worker process whose parent is ``parent_pid``: end with the parent."""
    _parent_death_signal()
    if os.getppid() != parent_pid:  # the parent died before the death signal was armed
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent_pid,), name="parent-watchdog", daemon=True).start()


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    """While active (main thread only; elsewhere a no-op), SIGTERM raises :class:`BatchTerminated`."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGTERM"):
        yield
        return

    def handler(signal_number: int, frame: FrameType | None) -> None:
        raise BatchTerminated(signal_number)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
