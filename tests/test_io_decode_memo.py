"""The memories of :mod:`dosimetry.io.dicom_file` (issue 20): check_complete's decode memo (a value
decoded before without error or warning is not decoded again), in explicit- and implicit-VR files
(the data dictionary's VR there: the real-size breast plan's RT Structure Set is implicit VR), and
read_dicom's file identities (the provenance and the treatment-record search do not read a header
again). Nothing a reader raises, keeps quiet or returns changes.

Oracles: the same files read with the memories emptied (the behaviour before they existed), the
explicit-VR original of an implicit-VR copy, and a fresh header read of the file."""

from __future__ import annotations

import struct
import warnings
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


def _replace_value(data: bytes, tag_vr: bytes, value: bytes) -> bytes:
    """``data`` (explicit VR little endian) with the first element starting ``tag_vr`` holding ``value``."""
    at = data.find(tag_vr)
    assert at > 0, tag_vr
    length = struct.unpack("<H", data[at + 6 : at + 8])[0]
    return data[: at + 6] + struct.pack("<H", len(value)) + value + data[at + 8 + length :]


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


@pytest.fixture(params=["explicit", "implicit"])
def files(request: pytest.FixtureRequest, tmp_path: Path) -> list[Path]:
    """A valid CT series (explicit VR, or implicit-VR copies), then slices with the same values but
    one: Rows of 3 bytes (undecodable as US), InstanceNumber "x" (decodes with a pydicom warning),
    twice each."""
    series = f.make_ct_series(tmp_path, z_positions_mm=(0.0, 3.0, 6.0))
    if request.param == "implicit":
        series = [_implicit_copy(p, p.with_name("implicit_" + p.name)) for p in series]
        data = series[1].read_bytes()
        bad_rows = _replace_implicit_value(data, b"\x28\x00\x10\x00", b"\x08\x00\x00")
        warns = _replace_implicit_value(data, b"\x20\x00\x13\x00", b"x ")
    else:
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
    if "implicit_" in files[0].name:
        assert any(key[4] for key in dicom_file._DECODED)  # implicit-VR values were remembered


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


def test_header_identity_equals_a_fresh_header_read(files: list[Path], tmp_path: Path) -> None:
    """Oracle: read_dicom_header of the file (what the provenance read before): header_identity
    gives the same three values, from read_dicom's memory while the file is unchanged and from
    the file once it was replaced; known_sop_class is None for a file read_dicom has not accepted."""
    from dosimetry.io.dicom_file import header_identity, known_sop_class, read_dicom_header

    def fresh(path: Path) -> tuple[str, str, str]:
        ds = read_dicom_header(path, ["Modality"])
        return str(ds.get("Modality", "")), str(ds.get("SOPClassUID", "")), str(ds.get("SOPInstanceUID", ""))

    path = files[0]
    assert known_sop_class(tmp_path / "never-read.dcm") is None
    read_dicom(path)
    assert str(path) in dicom_file._IDENTITIES
    assert header_identity(path) == fresh(path)
    assert known_sop_class(path) == fresh(path)[1]
    other = f.make_rt_plan(tmp_path / "plan")
    path.write_bytes(other.read_bytes())  # replaced: another size and content
    assert header_identity(path) == fresh(path) != fresh(files[1])
    assert known_sop_class(path) is None


def test_treatment_records_are_found_after_discovery(tmp_path: Path) -> None:
    """Oracle: course_dates of a folder no reader has seen (it opens every file): after discovery
    read the same folder (the records and CT slices remembered), the same dates and source."""
    from dosimetry.io import discover
    from dosimetry.radiobiology.interval import course_dates

    def _record(folder: Path, day: str, name: str) -> None:  # an RT Beams Treatment Record (PS3.3 A.29) with its day
        ds = pydicom.Dataset()
        ds.file_meta = pydicom.dataset.FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.481.4"
        ds.file_meta.MediaStorageSOPInstanceUID = f.uid(name)
        ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
        ds.Modality = "RTRECORD"
        ds.TreatmentDate = day
        ds.save_as(folder / name, enforce_file_format=True)

    folder = tmp_path / "prior"
    folder.mkdir()
    _record(folder, "20230102", "RT1.dcm")
    _record(folder, "20230210", "RT2.dcm")
    f.make_ct_series(folder)
    dicom_file._IDENTITIES.clear()
    unseen = course_dates(folder, None, ())
    discover(folder)
    assert str(folder / "RT1.dcm") in dicom_file._IDENTITIES and str(folder / "CT000.dcm") in dicom_file._IDENTITIES
    assert course_dates(folder, None, ()) == unseen
    assert unseen is not None and unseen.from_records and unseen.end.isoformat() == "2023-02-10"


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
