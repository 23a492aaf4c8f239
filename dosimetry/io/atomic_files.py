"""Atomic file writes: a reader (or a rerun after a kill) sees the old content or the new, never half.

:func:`write_bytes` / :func:`write_text` / :func:`open_atomic` write to a temporary file in the
destination's folder, flush and ``fsync`` it, then ``os.replace`` it over the destination (an atomic
rename on POSIX and Windows) and ``fsync`` the folder. A crash leaves at worst a hidden
``.<name>.*.tmp`` file, never a truncated destination.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from dosimetry.errors import OutputError


def _fsync_dir(path: Path) -> None:
    if os.name != "posix":  # directories cannot be opened for fsync on Windows
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _file_mode() -> int:
    """The mode an ordinary ``open(path, "w")`` would give: 0666 less the process umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def open_atomic(path: Path, mode: str = "w", *, encoding: str | None = "utf-8", newline: str | None = None) -> Iterator[IO]:
    """Open a temporary file next to ``path``; on clean exit it atomically replaces ``path``.

    On an exception the temporary file is removed and ``path`` is left untouched.
    """
    if mode not in ("w", "wb"):
        raise OutputError(f"open_atomic supports modes 'w' and 'wb', got {mode!r}")
    path = Path(path)
    if not path.parent.is_dir():
        raise OutputError(f"cannot write {path}: folder {path.parent} does not exist")
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        if "b" in mode:
            handle: IO = os.fdopen(fd, mode)
        else:
            handle = os.fdopen(fd, mode, encoding=encoding, newline=newline)
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, _file_mode())  # mkstemp creates 0600; outputs get the usual umask-derived mode
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)


def write_bytes(path: Path, data: bytes) -> None:
    """Atomically replace ``path`` with ``data``."""
    with open_atomic(path, "wb", encoding=None) as handle:
        handle.write(data)


def write_text(path: Path, text: str) -> None:
    """Atomically replace ``path`` with ``text`` (UTF-8)."""
    with open_atomic(path, "w", newline="") as handle:
        handle.write(text)
