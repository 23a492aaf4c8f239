"""Atomic file writes and atomic publication of a patient's output folder."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dosimetry.errors import OutputError
from pipelines import atomic


def test_write_text_creates_and_replaces(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    atomic.write_text(path, "one")
    atomic.write_text(path, "two")
    assert path.read_text() == "two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_write_bytes(tmp_path: Path) -> None:
    atomic.write_bytes(tmp_path / "b.bin", b"\x00\x01")
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"


def test_exception_mid_write_keeps_old_content_and_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    atomic.write_text(path, "complete old content")
    with pytest.raises(RuntimeError), atomic.open_atomic(path) as handle:
        handle.write("half of the new")
        raise RuntimeError("crash")
    assert path.read_text() == "complete old content"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_process_killed_mid_write_keeps_old_content(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    atomic.write_text(path, "old")
    code = textwrap.dedent(
        f"""
        import os
        from pathlib import Path
        from pipelines import atomic
        with atomic.open_atomic(Path({str(path)!r})) as handle:
            handle.write("new but never finished")
            handle.flush()
            os._exit(9)
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], check=False, cwd=Path(__file__).parents[1])
    assert proc.returncode == 9
    assert path.read_text() == "old"
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "a.txt"]
    assert len(leftovers) == 1 and leftovers[0].startswith(".a.txt.") and leftovers[0].endswith(".tmp")


def test_missing_folder_is_an_output_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="does not exist"):
        atomic.write_text(tmp_path / "nope" / "a.txt", "x")


def test_publish_dir_replaces_whole_folder(tmp_path: Path) -> None:
    target = tmp_path / "patients" / "P01"
    first = atomic.make_staging_dir(tmp_path, "P01")
    (first / "old.txt").write_text("old")
    (first / "common.txt").write_text("v1")
    atomic.publish_dir(tmp_path, first, target)
    assert sorted(p.name for p in target.iterdir()) == ["common.txt", "old.txt"]
    second = atomic.make_staging_dir(tmp_path, "P01")
    (second / "common.txt").write_text("v2")
    atomic.publish_dir(tmp_path, second, target)
    assert sorted(p.name for p in target.iterdir()) == ["common.txt"]
    assert (target / "common.txt").read_text() == "v2"
    assert not first.exists() and not second.exists()
    assert list((tmp_path / atomic.TRASH_DIR_NAME).iterdir()) == []


def test_remove_dir_and_clean_work_dirs(tmp_path: Path) -> None:
    staging = atomic.make_staging_dir(tmp_path, "P02")
    (staging / "half.txt").write_text("half")
    target = tmp_path / "patients" / "P01"
    target.mkdir(parents=True)
    (target / "x").write_text("x")
    atomic.remove_dir(tmp_path, target)
    assert not target.exists()
    assert atomic.clean_work_dirs(tmp_path) == 1
    assert list((tmp_path / atomic.STAGING_DIR_NAME).iterdir()) == []


def test_publish_refuses_missing_staging(tmp_path: Path) -> None:
    with pytest.raises(OutputError):
        atomic.publish_dir(tmp_path, tmp_path / "absent", tmp_path / "target")


def test_atomic_file_gets_umask_mode_not_mkstemp_0600(tmp_path: Path) -> None:
    import os

    from pipelines.atomic import write_text

    old = os.umask(0o022)
    try:
        target = tmp_path / "report.html"
        write_text(target, "<html></html>")
    finally:
        os.umask(old)
    assert target.stat().st_mode & 0o777 == 0o644
