"""Atomic writes: a reader (or a rerun after a kill) sees the old content or the new, never half.

Files: :func:`write_bytes` / :func:`write_text` / :func:`open_atomic` write to a temporary file in
the destination's folder, flush and ``fsync`` it, then ``os.replace`` it over the destination (an
atomic rename on POSIX and Windows) and ``fsync`` the folder. A crash leaves at worst a hidden
``.<name>.*.tmp`` file, never a truncated destination.

Folders: a patient's outputs are written into a private staging folder
(:func:`make_staging_dir`, under ``OUT/.staging``) and published with :func:`publish_dir`: the
previous version (if any) is renamed into ``OUT/.trash``, the staging folder is renamed to the
destination, and the old version is deleted. Every step is a rename within one file system, so the
destination is always either absent, the complete old version or the complete new version.
:func:`clean_work_dirs` removes what a killed run left in ``.staging`` and ``.trash``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from dosimetry.errors import OutputError

STAGING_DIR_NAME = ".staging"
TRASH_DIR_NAME = ".trash"


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


def make_staging_dir(out_root: Path, key: str) -> Path:
    """A new empty private folder ``OUT/.staging/<key>.<random>`` on the output's file system."""
    staging_root = Path(out_root) / STAGING_DIR_NAME
    staging_root.mkdir(parents=True, exist_ok=True)
    path = staging_root / f"{key}.{secrets.token_hex(6)}"
    path.mkdir()
    return path


def _move_to_trash(out_root: Path, target: Path) -> Path:
    trash_root = Path(out_root) / TRASH_DIR_NAME
    trash_root.mkdir(parents=True, exist_ok=True)
    trashed = trash_root / f"{target.name}.{secrets.token_hex(6)}"
    os.rename(target, trashed)
    return trashed


def publish_dir(out_root: Path, staging: Path, target: Path) -> None:
    """Replace folder ``target`` by the complete folder ``staging`` (both under ``out_root``)."""
    staging, target = Path(staging), Path(target)
    if not staging.is_dir():
        raise OutputError(f"cannot publish {staging}: not a folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    trashed = _move_to_trash(out_root, target) if target.exists() else None
    os.rename(staging, target)
    _fsync_dir(target.parent)
    if trashed is not None:
        shutil.rmtree(trashed, ignore_errors=True)


def remove_dir(out_root: Path, target: Path) -> None:
    """Remove a published folder: renamed into ``.trash`` first (atomic), then deleted."""
    target = Path(target)
    if target.exists():
        trashed = _move_to_trash(out_root, target)
        _fsync_dir(target.parent)
        shutil.rmtree(trashed, ignore_errors=True)


def clean_work_dirs(out_root: Path) -> int:
    """Delete leftovers of killed runs in ``OUT/.staging`` and ``OUT/.trash``; returns how many."""
    removed = 0
    for name in (STAGING_DIR_NAME, TRASH_DIR_NAME):
        root = Path(out_root) / name
        if not root.is_dir():
            continue
        for child in root.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)
            removed += 1
    return removed
