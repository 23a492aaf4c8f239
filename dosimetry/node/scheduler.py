"""When to analyse: patients with new objects wait for the settling time, then their course is assessed
and analysed (or, past the incomplete timeout, reported as incomplete) on one worker thread.

Pending patients are persisted in ``STORAGE/.node/pending.json`` (atomic rewrite) the moment their
first new object is stored, and removed only after their analysis is logged; at start-up every
patient still listed is scheduled again, so an analysis pending at a crash runs after the restart.
The signature of the inputs of each patient's last analysis is kept there too: a resend of the same
objects changes nothing, a late object re-runs the analysis.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dosimetry.errors import DosimetryError
from dosimetry.io.atomic_files import write_text
from dosimetry.node.completeness import assess
from dosimetry.node.config import NodeConfig
from dosimetry.node.runner import Runner
from dosimetry.node.storage import Storage

logger = logging.getLogger(__name__)

#: How often the worker looks at pending patients (s) when nothing wakes it.
POLL_S = 0.25


@dataclass
class _Pending:
    generation: int
    last_arrival_s: float  # time.monotonic()


class Scheduler:
    """Tracks pending patients and runs their analyses on a worker thread (:meth:`start`/:meth:`stop`)."""

    def __init__(self, config: NodeConfig, storage: Storage) -> None:
        self.config = config
        self.storage = storage
        self.state_path = storage.node_folder / "pending.json"
        self.runner = Runner(config, storage.node_folder / "work")
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._pending: dict[str, _Pending] = {}
        self._done: dict[str, str] = {}  # patient -> signature of the last analysed inputs
        self._thread: threading.Thread | None = None
        self._load_state()

    # ------------------------------------------------------------ persistence
    def _load_state(self) -> None:
        if not self.state_path.exists():
            return
        try:
            state = json.loads(self.state_path.read_text(encoding="utf-8"))
            pending, done = list(state["pending"]), dict(state["done"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DosimetryError(f"cannot read the node state {self.state_path}: {exc} (move it away to start afresh)") from exc
        now = time.monotonic()
        self._pending = {str(p): _Pending(1, now) for p in pending}
        self._done = {str(k): str(v) for k, v in done.items()}
        if self._pending:
            logger.info("%d patient(s) pending from before the restart are scheduled again", len(self._pending))

    def _save_state(self) -> None:
        """Caller holds the lock."""
        document: dict[str, Any] = {"pending": sorted(self._pending), "done": self._done}
        write_text(self.state_path, json.dumps(document, indent=1) + "\n")

    # ------------------------------------------------------------ called by the network threads
    def arrived(self, patient_id: str) -> None:
        """A new object of ``patient_id`` was stored: (re)start its settling time. Raises ``OSError``
        when the pending list cannot be saved (the object must then not be acknowledged as safe)."""
        with self._lock:
            entry = self._pending.get(patient_id)
            if entry is None:
                self._pending[patient_id] = _Pending(1, time.monotonic())
                self._save_state()
            else:
                entry.generation += 1
                entry.last_arrival_s = time.monotonic()

    def pending(self) -> list[str]:
        with self._lock:
            return sorted(self._pending)

    # ------------------------------------------------------------ worker thread
    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="dosimetry-node-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        self.runner.stop_child()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(POLL_S)
            self._wake.clear()
            for patient_id, generation in self._due():
                if self._stop.is_set():
                    return
                try:
                    self._process(patient_id, generation)
                except Exception:  # the worker must outlive one patient's failure
                    logger.exception("processing a pending patient failed; it stays pending and is retried")
                    with self._lock:
                        entry = self._pending.get(patient_id)
                        if entry is not None:
                            entry.last_arrival_s = time.monotonic()

    def _due(self) -> list[tuple[str, int]]:
        now = time.monotonic()
        with self._lock:
            return [(p, e.generation) for p, e in self._pending.items() if now - e.last_arrival_s >= self.config.settle_time_s]

    def _process(self, patient_id: str, generation: int) -> None:
        assessment = assess(patient_id, self.storage.objects_of(patient_id), self.config.analysis)
        if assessment.complete:
            if self._done.get(patient_id) == assessment.signature:
                logger.info("a pending patient's inputs are unchanged since its last analysis: not re-run")
            else:
                line = self.runner.analyse(assessment)
                if line is None:
                    return  # the node is stopping: the patient stays pending
                logger.info("analysis run %s: %s", line.get("run"), line.get("verdict"))
                if line.get("verdict") != "ERROR":
                    with self._lock:
                        self._done[patient_id] = assessment.signature
        else:
            with self._lock:
                entry = self._pending.get(patient_id)
                waited_s = time.monotonic() - entry.last_arrival_s if entry else 0.0
            if waited_s < self.config.incomplete_timeout_s:
                return  # still settling towards completeness: look again later
            line = self.runner.report_incomplete(assessment)
            logger.info("incomplete course reported (run %s): %d item(s) missing", line.get("run"), len(assessment.missing))
        with self._lock:
            entry = self._pending.get(patient_id)
            if entry is not None and entry.generation == generation:
                del self._pending[patient_id]
            self._save_state()

    def wake(self) -> None:
        self._wake.set()


def read_state(storage_dir: Path) -> dict[str, Any]:
    """The persisted pending list and last signatures (for tests and tools)."""
    path = Path(storage_dir) / ".node" / "pending.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {"pending": [], "done": {}}
