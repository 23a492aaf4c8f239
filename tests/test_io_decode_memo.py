"""The decode memo of :func:`dosimetry.io.dicom_file.check_complete` (issue 20): a value decoded
before without error or warning is not decoded again; nothing a reader raises or keeps quiet changes.

Oracle: the same files read one at a time with the memo emptied before each read (the behaviour
before the memo existed), compared with reading them in sequence with the memo warm."""

from __future__ import annotations

import struct
import warnings
from pathlib import Path

import pytest

from dosimetry.errors import DosimetryError
from dosimetry.io import dicom_file
from dosimetry.io.dicom_file import read_dicom
from tests import dicom_factory as f


def _replace_value(data: bytes, tag_vr: bytes, value: bytes) -> bytes:
    """``data`` (explicit VR little endian) with the first element starting ``tag_vr`` holding ``value``."""
    at = data.find(tag_vr)
    assert at > 0, tag_vr
    length = struct.unpack("<H", data[at + 6 : at + 8])[0]
    return data[: at + 6] + struct.pack("<H", len(value)) + value + data[at + 8 + length :]


def _outcome(path: Path) -> str:
    try:
        ds = read_dicom(path)
    except DosimetryError as exc:
        return f"{type(exc).__name__}: {exc}"
    return "ok " + ";".join(f"{e.tag}={e.value!r}" for e in ds if e.keyword != "PixelData")


@pytest.fixture()
def files(tmp_path: Path) -> list[Path]:
    """A valid CT series, then slices with the same values but one: Rows of 3 bytes (undecodable as
    US), InstanceNumber "x" (decodes with a pydicom warning), twice each."""
    series = f.make_ct_series(tmp_path, z_positions_mm=(0.0, 3.0, 6.0))
    data = series[1].read_bytes()
    bad_rows = _replace_value(data, b"\x28\x00\x10\x00US", b"\x08\x00\x00")
    warns = _replace_value(data, b"\x20\x00\x13\x00IS", b"x ")
    extra = []
    for k, content in enumerate((bad_rows, warns, bad_rows, warns)):
        path = tmp_path / f"odd{k}.dcm"
        path.write_bytes(content)
        extra.append(path)
    return [*series, *extra]


def test_memo_changes_no_outcome(files: list[Path]) -> None:
    """Oracle: each file read with an empty memo (as before the memo)."""
    alone = []
    for path in files:
        dicom_file._DECODED.clear()
        alone.append(_outcome(path))
    dicom_file._DECODED.clear()
    warm = [_outcome(path) for path in files]
    assert warm == alone
    assert any(o.startswith("DicomContentError") and "(0028,0010) Rows" in o for o in warm)
    assert dicom_file._DECODED  # the memo was used


def test_values_that_warn_are_not_remembered(files: list[Path]) -> None:
    """Oracle: Python's warning registry: reading the elements of a dataset that read_dicom returned
    (memo warm) emits no pydicom warning, as when read_dicom had decoded every element itself."""
    for path in files:
        try:
            read_dicom(path)
        except DosimetryError:
            pass
    for path in files:
        try:
            ds = read_dicom(path)
        except DosimetryError:
            continue
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            _ = [e.value for e in ds]
        assert [str(w.message) for w in caught] == [], path.name


def test_memo_is_bounded(files: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """Oracle: the bound itself: the memo never holds more than its maximum number of entries."""
    monkeypatch.setattr(dicom_file, "_DECODED_MAX_ENTRIES", 5)
    dicom_file._DECODED.clear()
    for path in files:
        try:
            read_dicom(path)
        except DosimetryError:
            pass
        assert len(dicom_file._DECODED) <= 5
