"""The report's figures drawn in a render process while the main process goes on (issue 20).

Measured reason (clinical case, 2 cores): drawing the report's 8 figures (2 DVH plots, 6 isodose
overlays) with matplotlib, and importing matplotlib, were most of the report's 6.3 s CPU, all on
the main process while the second core idled. With a render process (:class:`RenderProcesses`),
started when ``Patient.write`` starts, matplotlib is imported on the second core during the
analysis; the report's sections send each figure (a :class:`FigureJob`: the drawing function's
name and its arguments, arrays and frozen dataclasses) as soon as its data are ready and go on
(CT planes, ROI outlines, tables), and the page waits for the PNGs at the end. Measured with
``benchmarks/report_parallel.py`` (clinical case, medians of 3, a shared machine at load 6-8): the
main process's report CPU 6.3-7.8 s -> 2.2 s; the report replayed on 2 idle cores from the CPU
times 5.6-7.8 s -> 5.4 s with one render process, 3.2-3.7 s with two (the default); the whole run's CPU
+0.6 s (one) / +3 s (two: each imports matplotlib), which is why a batch's workers run without. The
gain needs an idle core: on that machine at load 6 the measured wall time did not improve.

The PNGs are the bytes serial drawing gives: the same functions of :mod:`dosimetry.report.figures`
on the same (pickled) arrays, with the main process's matplotlib rcParams when it has imported
matplotlib (else both use matplotlib's defaults, read from the same files and environment).

Besides figures, a render process runs :class:`RenderTask` s with a state kept between them (issue 20:
the report's CT and ROI outlines are read and rasterised there during the analysis, and the planes
through the target centroid drawn then, :mod:`dosimetry.report.overlay_scene`); :meth:`RenderProcesses.run`
sends one to a chosen process. A process leaves at once (``os._exit``) when its input ends.

Safety: a figure that fails in the render process is an :class:`~dosimetry.errors.OutputError`
naming the figure and the error (no figure silently missing); a render process that exits, or no
PNG within ``timeout_s``, is an OutputError naming the figures still awaited; the processes are
stopped when the ``with`` block ends, also on an exception or KeyboardInterrupt (terminated then
killed if they do not stop); a render process also stops by itself when its parent is gone.
``report_workers=0`` (:func:`report_renderer`) draws in the main process as before, and is what a
batch's workers should use (one analysis per core already).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import pickle
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, NoReturn, Protocol

from dosimetry.errors import ArgumentError, OutputError

logger = logging.getLogger(__name__)

#: What a job may draw: its name -> the function of :mod:`dosimetry.report.figures`.
DRAWING_FUNCTIONS: dict[str, str] = {
    "dvh_panels": "dvh_panels_png",
    "isodose_overlay": "isodose_overlay_png",
}

#: The longest wait for the figures of one report, in seconds (each takes about 0.5 s on the clinical case).
DEFAULT_TIMEOUT_S = 300.0

#: How long a render process may take to stop when asked, in seconds, before it is terminated.
_STOP_TIMEOUT_S = 5.0


@dataclass(frozen=True, eq=False)
class FigureJob:
    """One figure to draw: ``function`` (a key of :data:`DRAWING_FUNCTIONS`) called with ``args``
    and ``kwargs``; ``figure_id`` names it in errors."""

    figure_id: str
    function: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.function not in DRAWING_FUNCTIONS:
            raise ArgumentError(f"figure {self.figure_id!r}: unknown drawing function {self.function!r} "
                                f"(known: {', '.join(DRAWING_FUNCTIONS)})")


def draw(job: FigureJob) -> bytes:
    """The PNG bytes of ``job``, drawn in this process."""
    from dosimetry.report import figures

    function: Callable[..., bytes] = getattr(figures, DRAWING_FUNCTIONS[job.function])
    return function(*job.args, **job.kwargs)


class RenderTask(Protocol):
    """Work other than one figure, run in a render process (:meth:`RenderProcesses.run`): ``run``
    gets the process's ``state`` (a dict kept between tasks, e.g. a report's CT and outlines,
    :mod:`dosimetry.report.overlay_scene`) and answers a picklable value; ``figure_id`` names it in errors."""

    @property
    def figure_id(self) -> str: ...

    def run(self, state: dict[str, Any]) -> Any: ...


def _perform(job: FigureJob | RenderTask, state: dict[str, Any]) -> Any:
    return draw(job) if isinstance(job, FigureJob) else job.run(state)


class FigureRenderer(Protocol):
    """Where the report's figures are drawn: ``submit`` returns a function giving the PNG bytes
    (waiting for them if they are drawn elsewhere)."""

    def submit(self, job: FigureJob) -> Callable[[], bytes]: ...


def _rc_params() -> dict[str, Any] | None:
    """The main process's matplotlib rcParams (without the backend), or None when it has not imported matplotlib."""
    matplotlib = sys.modules.get("matplotlib")
    if matplotlib is None:
        return None
    return {k: v for k, v in dict.items(matplotlib.rcParams) if k != "backend"}


def _draw_with(job: FigureJob | RenderTask, rc_params: dict[str, Any] | None, state: dict[str, Any]) -> Any:
    if rc_params is None:
        return _perform(job, state)
    import matplotlib

    with matplotlib.rc_context():
        dict.update(matplotlib.rcParams, rc_params)  # type: ignore[misc]  # as rc_context restores them: no validation, no warnings
        return _perform(job, state)


def _read_message(stream: IO[bytes]) -> Any:
    """The next message of ``stream`` (:func:`_write_message`), :data:`_EOF` at its end."""
    header = stream.read(16)
    if len(header) < 16:
        return _EOF
    size, count = int.from_bytes(header[:8], "little"), int.from_bytes(header[8:], "little")
    lengths = stream.read(8 * count)
    data = stream.read(size)
    if len(lengths) < 8 * count or len(data) < size:
        return _EOF
    buffers = []
    for n in range(count):
        buffer = bytearray(int.from_bytes(lengths[8 * n : 8 * n + 8], "little"))
        view, filled = memoryview(buffer), 0
        while filled < len(buffer):
            got = stream.readinto(view[filled:])  # type: ignore[attr-defined]
            if not got:
                return _EOF
            filled += got
        buffers.append(buffer)
    return pickle.loads(data, buffers=buffers)


def _write_message(stream: IO[bytes], message: Any) -> None:
    """Write ``message``: 8-byte little-endian lengths of its pickle and of the number of its
    out-of-band buffers, each buffer's length, the pickle, then the buffers' bytes. Measured reason
    (issue 20, clinical case): the overlays' scene sends the planned dose (80 MiB) to a render
    process; pickled in-band it was a second copy in the main process (the pickle) and two in the
    render process (the bytes read, then the array made of them); out of band (pickle protocol 5)
    the array's memory is written as it is and read into the one buffer the array then uses."""
    buffers: list[pickle.PickleBuffer] = []
    data = pickle.dumps(message, protocol=5, buffer_callback=buffers.append)
    raws = [buffer.raw() for buffer in buffers]
    stream.write(len(data).to_bytes(8, "little") + len(raws).to_bytes(8, "little"))
    stream.write(b"".join(raw.nbytes.to_bytes(8, "little") for raw in raws))
    stream.write(data)
    for raw in raws:
        stream.write(raw)
    stream.flush()
    for buffer in buffers:
        buffer.release()


_EOF: Any = object()  # what _read_message gives at the end of its stream


def _malloc_trim() -> Callable[[], object] | None:
    """The C library's ``malloc_trim`` (glibc), None where there is none."""
    import ctypes

    try:
        function: Callable[[int], object] = ctypes.CDLL(None).malloc_trim
    except (AttributeError, OSError, TypeError):  # no such function, no C library to load (TypeError: Windows' CDLL(None))
        return None
    return lambda: function(0)


def serve() -> None:
    """The render process: draw each job read from stdin, answer (number, png, None, CPU seconds) or
    (number, None, error text, CPU seconds) on the original stdout, until stdin ends (the main process closed it, or is gone)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process stops it (Ctrl-C reaches the whole group)
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything printed goes to stderr, not into the answers
    from dosimetry.report import figures  # noqa: F401  (imported while the main process is busy)

    jobs = sys.stdin.buffer
    state: dict[str, Any] = {}  # what tasks keep between jobs (RenderTask)
    # After each job, the memory the C allocator keeps of what the job freed is given back to the
    # system (glibc's malloc_trim; elsewhere nothing is done, the memory is only not given back).
    # Measured reason (issue 20, clinical case, benchmarks/report_scene_memory.py): after drawing the
    # three centre overlays the render process kept about 40 MiB of freed heap (the drawing's and the
    # interpolation's arrays below the allocator's mmap threshold), which trimming returned in < 1 ms.
    trim = _malloc_trim() or (lambda: None)
    while True:
        message = _read_message(jobs)
        if message is _EOF:
            _leave(answers)
        number, job, rc_params = message
        started = time.process_time()
        png: Any = None
        try:
            png = _draw_with(job, rc_params, state)
        except Exception as exc:  # reported to the main process, which raises it naming the figure
            _write_message(answers, (number, None, f"{type(exc).__name__}: {exc}", time.process_time() - started))
        else:
            _write_message(answers, (number, png, None, time.process_time() - started))
        # not held while the next job is awaited: a job's arrays (the overlays' scene gets the planned
        # dose, 80 MiB on the clinical case, and keeps what it needs of it) go with it
        del message, job, png
        trim()


def _leave(answers: IO[bytes]) -> NoReturn:
    """End the render process at once, its answers flushed: no interpreter shutdown. Measured reason
    (issue 20, clinical case): the shutdown of a process that imported matplotlib (its modules'
    finalisation, the garbage collection of every object) took 0.2 s that ``Patient.write`` waited for
    at its end; the process holds no file or resource of its own besides its pipes."""
    with contextlib.suppress(OSError, ValueError):
        answers.close()
    for stream in (sys.stdout, sys.stderr):  # what was printed (both go to stderr)
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(0)


@dataclass(frozen=True)
class FigureTiming:
    """When a figure was sent (the main process's CPU time, ``time.process_time``) and the render
    process's CPU seconds drawing it (``benchmarks/report_parallel.py`` replays them on idle cores)."""

    figure_id: str
    process: str
    submitted_cpu_s: float
    drawn_cpu_s: float


class _RenderProcess:
    """One render process (``python -c`` running :func:`serve`; not multiprocessing, which would
    import the main script again in the child), with a thread writing its jobs (so that sending a
    job never waits for the drawing of the one before) and a thread reading its answers into ``answers``."""

    def __init__(self, name: str, answers: queue.Queue[tuple[_RenderProcess, Any]]) -> None:
        self.name = name
        root = str(Path(__file__).resolve().parents[2])  # the folder holding the dosimetry package
        code = f"import sys; sys.path.insert(0, {root!r}); from dosimetry.report.render_process import serve; serve()"
        try:
            self.popen = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        except (OSError, ValueError) as exc:
            raise OutputError(f"cannot start a report render process with {sys.executable!r}: {exc} "
                              "(report_workers=0 draws the figures in this process)") from exc
        self.awaited: dict[int, str] = {}  # job number -> figure id
        self.submitted_cpu_s: dict[int, float] = {}  # job number -> the main process's CPU time when sent
        self.exited = False
        self._outbox: queue.Queue[Any] = queue.Queue()
        threading.Thread(target=self._write_jobs, name=f"{name}-writer", daemon=True).start()
        threading.Thread(target=self._read_answers, args=(answers,), name=f"{name}-reader", daemon=True).start()

    def send(self, message: Any) -> None:
        self._outbox.put(message)

    def stop_sending(self) -> None:
        self._outbox.put(None)

    def _write_jobs(self) -> None:
        stdin = self.popen.stdin
        assert stdin is not None
        try:
            while (message := self._outbox.get()) is not None:
                _write_message(stdin, message)
            stdin.close()
        except (OSError, ValueError):  # the process is gone: the reader reports it
            return

    def _read_answers(self, answers: queue.Queue[tuple[_RenderProcess, Any]]) -> None:
        stdout = self.popen.stdout
        assert stdout is not None
        try:
            while (message := _read_message(stdout)) is not _EOF:
                answers.put((self, message))
        except (OSError, ValueError, pickle.UnpicklingError):
            pass
        answers.put((self, _EOF))

    def stop(self, *, wait: bool) -> None:
        """Ask the process to stop (``wait``: give it :data:`_STOP_TIMEOUT_S`), then terminate, then kill it."""
        self.stop_sending()
        if wait:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(_STOP_TIMEOUT_S)
        for end in (self.popen.terminate, self.popen.kill):
            if self.popen.poll() is not None:
                break
            end()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(_STOP_TIMEOUT_S)
        for stream in (self.popen.stdin, self.popen.stdout):
            with contextlib.suppress(OSError, ValueError):
                if stream is not None:
                    stream.close()


class RenderProcesses:
    """``workers`` render processes drawing :class:`FigureJob` s (see the module docstring), each
    job to the process with the fewest awaited figures. Use as a context manager; :meth:`close` stops them."""

    def __init__(self, workers: int = 1, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        if workers < 1:
            raise ArgumentError(f"render processes: workers must be >= 1, got {workers}")
        if not timeout_s > 0:
            raise ArgumentError(f"render processes: timeout_s must be > 0, got {timeout_s}")
        self.timeout_s = timeout_s
        self._answers: queue.Queue[tuple[_RenderProcess, Any]] = queue.Queue()
        self._numbers = itertools.count()
        self._done: dict[int, bytes] = {}
        self._closed = False
        self.timings: list[FigureTiming] = []
        self.processes: list[_RenderProcess] = []
        try:
            for n in range(workers):
                self.processes.append(_RenderProcess(f"dosimetry-report-render-{n}", self._answers))
        except BaseException:
            self.close(wait=False)
            raise
        logger.debug("report render processes started: %s", [p.popen.pid for p in self.processes])

    def submit(self, job: FigureJob) -> Callable[[], bytes]:
        """Send ``job`` to a render process; the returned function waits for its PNG."""
        return self.run(job)

    def least_busy(self, among: Sequence[int] | None = None) -> int:
        """The index of the process (of ``among``; None: all) with the fewest answers awaited."""
        indices = range(len(self.processes)) if among is None else among
        return min(indices, key=lambda k: len(self.processes[k].awaited))

    def run(self, job: FigureJob | RenderTask, *, process: int | None = None) -> Callable[[], Any]:
        """Send ``job`` (a figure or a :class:`RenderTask`) to render process number ``process`` (None:
        the one with the fewest answers awaited); the returned function waits for its answer."""
        if self._closed:
            raise OutputError(f"report figure {job.figure_id!r}: the render processes are stopped")
        gone = [p for p in self.processes if p.exited]
        if gone:
            raise OutputError(f"report figure {job.figure_id!r}: {self._exit_text(gone[0])}")
        if process is not None and not 0 <= process < len(self.processes):
            raise ArgumentError(f"report figure {job.figure_id!r}: no render process {process} (there are {len(self.processes)})")
        number = next(self._numbers)
        process_ = self.processes[self.least_busy() if process is None else process]
        process_.awaited[number] = job.figure_id
        process_.submitted_cpu_s[number] = time.process_time()
        process_.send((number, job, _rc_params()))
        return lambda: self._png(number)

    def _exit_text(self, process: _RenderProcess) -> str:
        code = process.popen.poll()
        return f"render process {process.name} exited (code {code}; its error, if any, is on stderr)"

    def _awaiting(self) -> str:
        return ", ".join(repr(f) for p in self.processes for f in p.awaited.values())

    def _png(self, number: int) -> Any:
        deadline = time.monotonic() + self.timeout_s
        while number not in self._done:
            if not any(number in p.awaited for p in self.processes):
                raise OutputError(f"report figure job {number}: its PNG was already taken or never submitted")
            if self._closed:
                raise OutputError(f"report figures {self._awaiting()}: the render processes are stopped")
            remaining = deadline - time.monotonic()
            try:
                if remaining <= 0:
                    raise queue.Empty
                process, message = self._answers.get(timeout=remaining)
            except queue.Empty:
                raise OutputError(
                    f"report figures {self._awaiting()}: no PNG from the render process within {self.timeout_s:g} s"
                ) from None
            if message is _EOF:
                process.exited = True
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.popen.wait(1.0)
                if process.awaited:
                    raise OutputError(f"report figures {self._awaiting()}: {self._exit_text(process)}")
                continue
            done, png, error, drawn_cpu_s = message
            figure_id = process.awaited.pop(done)
            self.timings.append(FigureTiming(figure_id, process.name, process.submitted_cpu_s.pop(done), drawn_cpu_s))
            if error is not None:
                raise OutputError(f"report figure {figure_id!r} could not be drawn (in the render process): {error}")
            self._done[done] = png
        return self._done.pop(number)

    def close(self, *, wait: bool = True) -> None:
        """Stop the render processes: ask them (``wait``), then terminate, then kill what is left."""
        if self._closed:
            return
        self._closed = True
        for process in self.processes:
            process.stop_sending()
        for process in self.processes:
            process.stop(wait=wait)
        logger.debug("report render processes stopped")

    def __enter__(self) -> RenderProcesses:
        return self

    def __exit__(self, exc_type: object, exc: object, traceback: object) -> None:
        self.close(wait=exc_type is None)


def default_report_workers() -> int:
    """2 render processes when the machine has a second core, else 0 (draw in the main process).
    Two, not one: the main process mostly waits while the figures are drawn (its own part of the
    report, CT planes and outlines, is about 2.2 s CPU of 6.5 on the clinical case), so a second
    render process uses the main process's core; ``benchmarks/report_parallel.py`` replays the
    clinical report on 2 idle cores in 5.4 s with one render process and 3.2-3.7 s with two (module docstring)."""
    return 2 if (os.cpu_count() or 1) >= 2 else 0


@contextlib.contextmanager
def report_renderer(workers: int | None = None, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> Iterator[RenderProcesses | None]:
    """``workers`` render processes for a report (None: :func:`default_report_workers`; 0: none,
    the figures are drawn in the main process as the sections ask for them), stopped on leaving."""
    count = default_report_workers() if workers is None else workers
    if count < 0:
        raise ArgumentError(f"report_workers must be >= 0, got {count}")
    if count == 0:
        yield None
        return
    with RenderProcesses(count, timeout_s=timeout_s) as processes:
        yield processes
