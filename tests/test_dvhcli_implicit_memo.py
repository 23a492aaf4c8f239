"""check_complete's decode memo in implicit-VR files (the data dictionary's VR, issue 20: the
real-size breast plan's RT Structure Set is implicit VR): nothing read_dicom raises, keeps quiet or
returns changes, and a structure set reads the same.

Oracles: the same files read with the memo emptied (the behaviour before it applied to implicit
VR), and the explicit-VR original of each file."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import ImplicitVRLittleEndian

from dosimetry.errors import DosimetryError
from dosimetry.io import dicom_file, load_structure_set
from dosimetry.io.dicom_file import read_dicom
from tests import dicom_factory as f

RS = Path(__file__).resolve().parents[1] / "sample_data" / "patient01" / "current" / "RS_patient01.dcm"


def _implicit_copy(source: Path, target: Path) -> Path:
    ds = pydicom.dcmread(source)
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    ds.save_as(target, implicit_vr=True, little_endian=True)
    return target


def _replace_implicit_value(data: bytes, tag: bytes, value: bytes) -> bytes:
    """``data`` (implicit VR little endian) with the first element of ``tag`` holding ``value``."""
    at = data.find(tag)
    assert at > 0, tag
    length = struct.unpack("<I", data[at + 4 : at + 8])[0]
    return data[: at + 4] + struct.pack("<I", len(value)) + value + data[at + 8 + length :]


def _outcome(path: Path) -> str:
    try:
        ds = read_dicom(path)
    except DosimetryError as exc:
        return f"{type(exc).__name__}: {exc}"
    return "ok " + ";".join(f"{e.tag}={e.value!r}" for e in ds if e.keyword != "PixelData")


@pytest.fixture()
def files(tmp_path: Path) -> list[Path]:
    """An implicit-VR CT series, then slices with the same values but one: Rows of 3 bytes
    (undecodable as US), InstanceNumber "x" (decodes with a pydicom warning), twice each."""
    series = [_implicit_copy(p, p.with_name("implicit_" + p.name)) for p in f.make_ct_series(tmp_path, z_positions_mm=(0.0, 3.0, 6.0))]
    data = series[1].read_bytes()
    bad_rows = _replace_implicit_value(data, b"\x28\x00\x10\x00", b"\x08\x00\x00")
    warns = _replace_implicit_value(data, b"\x20\x00\x13\x00", b"x ")
    extra = []
    for k, content in enumerate((bad_rows, warns, bad_rows, warns)):
        path = tmp_path / f"odd{k}.dcm"
        path.write_bytes(content)
        extra.append(path)
    return [*series, *extra]


def test_implicit_memo_changes_no_outcome(files: list[Path]) -> None:
    alone = []
    for path in files:
        dicom_file._DECODED.clear()
        alone.append(_outcome(path))
    dicom_file._DECODED.clear()
    warm = [_outcome(path) for path in files]
    assert warm == alone
    assert any(o.startswith("DicomContentError") and "(0028,0010) Rows" in o for o in warm)
    assert any(key[4] for key in dicom_file._DECODED)  # implicit-VR values were remembered


def test_implicit_structure_set_reads_the_same(tmp_path: Path) -> None:
    implicit = _implicit_copy(RS, tmp_path / "RS_implicit.dcm")
    dicom_file._DECODED.clear()
    explicit_set = load_structure_set(RS)
    cold = load_structure_set(implicit)
    assert any(key[4] for key in dicom_file._DECODED)
    warm = load_structure_set(implicit)  # every remembered value skipped
    for other in (cold, warm):
        assert [r.name for r in other.rois] == [r.name for r in explicit_set.rois]
        assert [w.replace("RS_implicit.dcm", "RS_patient01.dcm") for w in other.warnings] == list(explicit_set.warnings)
        for a, b in zip(other.rois, explicit_set.rois, strict=True):
            assert (a.number, a.interpreted_type, a.color_rgb, a.frame_of_reference_uid) == (
                b.number, b.interpreted_type, b.color_rgb, b.frame_of_reference_uid
            )
            assert len(a.contours) == len(b.contours)
            for ca, cb in zip(a.contours, b.contours, strict=True):
                assert ca.geometric_type == cb.geometric_type
                np.testing.assert_array_equal(ca.points_mm, cb.points_mm)


def test_implicit_truncated_structure_set_still_refused(tmp_path: Path) -> None:
    implicit = _implicit_copy(RS, tmp_path / "RS_implicit.dcm")
    load_structure_set(implicit)  # memo warm
    cut = tmp_path / "RS_cut.dcm"
    cut.write_bytes(implicit.read_bytes()[: implicit.stat().st_size * 2 // 3])
    with pytest.raises(DosimetryError, match="RS_cut.dcm"):
        load_structure_set(cut)
