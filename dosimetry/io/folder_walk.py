"""The one folder walker: every regular file under a folder, and every entry left out with the reason.

Used by :func:`dosimetry.io.discover` (one export), :func:`pipelines.discovery.discover_patients`
(a batch ROOT) and the provenance of an analysis. Nothing is left out silently:

* symbolic links to folders are not followed (a link back to an ancestor would loop forever, a
  link elsewhere may pull in a whole other tree); each is listed, a loop as such;
* broken symbolic links, sockets, devices and FIFOs are listed;
* with ``skip_hidden``, names starting with ``.`` are listed as hidden;
* folders in ``exclude`` (e.g. the batch's own output folder) are listed;
* folders that cannot be listed (permission denied, removed during the walk) are listed with the
  operating system's reason (``os.walk`` alone drops them without a word).

Symbolic links to files are followed (the file is read once under the link's name).
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class SkippedFile:
    """A file or folder that was not read, and why."""

    path: Path
    reason: str


@dataclass(frozen=True)
class FolderWalk:
    """Regular files found (sorted, depth first) and entries left out."""

    files: tuple[Path, ...]
    skipped: tuple[SkippedFile, ...] = field(default=())


def _link_reason(path: Path) -> str:
    target = Path(os.readlink(path))
    resolved = path.resolve()
    if resolved == path.parent.resolve() or resolved in path.parent.resolve().parents:
        return f"symbolic link loop: points to {target}, an ancestor folder; not followed"
    return f"symbolic link to the folder {target}; not followed (give that folder itself to scan it)"


def _dangling_reason(path: Path) -> str:
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return f"symbolic link loop: {path.name} -> {os.readlink(path)} never reaches a file; not followed"
    return f"broken symbolic link to {os.readlink(path)}"


def walk_files(root: Path | str, *, skip_hidden: bool = False, exclude: tuple[Path, ...] = ()) -> FolderWalk:
    """Every regular file under ``root`` (see the module docstring); ``exclude`` holds resolved folders."""
    root = Path(root)
    files: list[Path] = []
    skipped: list[SkippedFile] = []

    def unreadable(exc: OSError) -> None:
        folder = Path(exc.filename) if exc.filename is not None else root
        skipped.append(SkippedFile(folder, f"folder cannot be read ({exc.strerror or exc}); nothing under it was scanned"))

    for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable, followlinks=False):
        here = Path(dirpath)
        kept: list[str] = []
        for name in sorted(dirnames):
            child = here / name
            if child.is_symlink():
                skipped.append(SkippedFile(child, _link_reason(child)))
            elif skip_hidden and name.startswith("."):
                skipped.append(SkippedFile(child, "hidden folder"))
            elif exclude and child.resolve() in exclude:
                skipped.append(SkippedFile(child, "the batch output folder"))
            else:
                kept.append(name)
        dirnames[:] = kept
        for name in sorted(filenames):
            path = here / name
            if skip_hidden and name.startswith("."):
                skipped.append(SkippedFile(path, "hidden file"))
            elif path.is_symlink() and not path.exists():
                skipped.append(SkippedFile(path, _dangling_reason(path)))
            elif path.is_symlink() and path.is_dir():  # os.walk lists a link to a folder here when it cannot stat it
                skipped.append(SkippedFile(path, _link_reason(path)))
            elif not path.is_file():
                skipped.append(SkippedFile(path, "not a regular file"))
            else:
                files.append(path)
    return FolderWalk(tuple(sorted(files)), tuple(skipped))
