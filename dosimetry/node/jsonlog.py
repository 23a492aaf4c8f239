"""Append-only JSON-lines logs a dashboard can tail: ``analyses.jsonl`` (one line per analysis) and
``events.jsonl`` (refused associations and objects, storage errors).

Each line is one JSON object with ``time_utc`` first, written with a single ``write`` on a file
opened for appending and fsync'ed, so concurrent writers never interleave within a line and an
acknowledged event survives a crash. Both files live in the output folder: they name patients.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

from dosimetry.errors import OutputError

logger = logging.getLogger(__name__)


class JsonLinesLog:
    """One JSON-lines file; :meth:`append` is thread-safe."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def append(self, record: dict[str, Any]) -> dict[str, Any]:
        """Append ``record`` (with ``time_utc`` added) and return the line's object. Raises
        :class:`OutputError` naming the file when it cannot be written (disk full, permission)."""
        line = {"time_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds"), **record}
        data = (json.dumps(line, sort_keys=False, default=str) + "\n").encode("utf-8")
        with self._lock:
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
                try:
                    os.write(fd, data)
                    os.fsync(fd)
                finally:
                    os.close(fd)
            except OSError as exc:
                raise OutputError(f"cannot append to the node log {self.path}: {exc}") from exc
        return line


def read_lines(path: Path) -> list[dict[str, Any]]:
    """Every record of a JSON-lines log (for tests and tools); [] when the file does not exist yet."""
    if not Path(path).exists():
        return []
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
