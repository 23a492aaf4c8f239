"""The Referenced Frame of Reference Sequence read from raw bytes (fast path of the RS loader)
gives the same frame of reference and series UIDs as pydicom's path, and anything but plain UIDs
in it sends the sequence back to pydicom's decoding and checks."""

from __future__ import annotations

import io
from pathlib import Path

import pydicom
import pytest

from dosimetry.errors import DicomContentError
from dosimetry.io import load_structure_set
from dosimetry.io.dicom_file import read_dicom
from dosimetry.io.structure_reader import _raw_referenced_series, _referenced_series, structure_set_from_dataset

# the odd values these tests write on purpose make pydicom warn when it decodes them
pytestmark = pytest.mark.filterwarnings("ignore:Invalid value for VR:UserWarning")

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_RS = ROOT / "sample_data" / "patient01" / "current" / "RS_patient01.dcm"


def _encode(ds: pydicom.Dataset, implicit: bool) -> bytes:
    if implicit:
        ds.file_meta.TransferSyntaxUID = pydicom.uid.ImplicitVRLittleEndian
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _variant(case: str) -> bytes:
    ds = pydicom.dcmread(SAMPLE_RS)
    ref = ds.ReferencedFrameOfReferenceSequence
    series = ref[0].RTReferencedStudySequence[0].RTReferencedSeriesSequence[0]
    if case.startswith("undefined"):  # nested sequences and items of undefined length
        for holder, keyword in ((ref[0], "RTReferencedStudySequence"), (ref[0].RTReferencedStudySequence[0], "RTReferencedSeriesSequence")):
            holder[keyword].is_undefined_length = True
            for item in holder[keyword].value:
                item.is_undefined_length_sequence_item = True
    elif case == "second-series":
        second = pydicom.Dataset()
        second.SeriesInstanceUID = "1.2.3.4.5"
        ref[0].RTReferencedStudySequence[0].RTReferencedSeriesSequence.insert(0, second)
        series.SeriesInstanceUID = "1.2.3.4.6"
    elif case == "empty-frame-uid":
        ref[0].FrameOfReferenceUID = ""
    return _encode(ds, implicit=case.endswith("implicit"))


def _summary(ss) -> tuple:  # type: ignore[no-untyped-def]
    return ss.frame_of_reference_uid, ss.referenced_series_uid, ss.warnings, tuple(r.frame_of_reference_uid for r in ss.rois)


@pytest.mark.parametrize("case", ["sample-explicit", "sample-implicit", "undefined-explicit", "undefined-implicit", "second-series", "empty-frame-uid"])
def test_raw_referenced_uids_equal_pydicoms(case: str, tmp_path: Path) -> None:
    path = tmp_path / "RS.dcm"
    path.write_bytes(_variant(case))
    raw = _raw_referenced_series(pydicom.dcmread(path))
    assert raw is not None  # the fast path is taken
    assert raw == _referenced_series(read_dicom(path))
    if case == "second-series":
        assert raw[1] == "1.2.3.4.5"  # the first series listed, as pydicom's path gives
    if case == "empty-frame-uid":
        assert raw[0] == ""
    assert _summary(load_structure_set(path)) == _summary(structure_set_from_dataset(read_dicom(path), path))


def test_other_elements_in_the_sequence_take_pydicoms_path(tmp_path: Path) -> None:
    ds = pydicom.dcmread(SAMPLE_RS)
    image = ds.ReferencedFrameOfReferenceSequence[0].RTReferencedStudySequence[0].RTReferencedSeriesSequence[0].ContourImageSequence[0]
    image.ReferencedFrameNumber = "1"  # IS: not a UID
    path = tmp_path / "RS.dcm"
    path.write_bytes(_encode(ds, implicit=False))
    assert _raw_referenced_series(pydicom.dcmread(path)) is None
    fast = load_structure_set(path)
    assert _summary(fast) == _summary(structure_set_from_dataset(read_dicom(path), path))
    assert fast.referenced_series_uid is not None


def test_a_non_uid_value_in_a_uid_element_takes_pydicoms_path(tmp_path: Path) -> None:
    ds = pydicom.dcmread(SAMPLE_RS)
    ds.ReferencedFrameOfReferenceSequence[0].FrameOfReferenceUID = "not a uid"
    path = tmp_path / "RS.dcm"
    path.write_bytes(_encode(ds, implicit=False))
    assert _raw_referenced_series(pydicom.dcmread(path)) is None
    assert load_structure_set(path).frame_of_reference_uid == "not a uid"


def test_an_overrunning_item_in_the_sequence_takes_pydicoms_path(tmp_path: Path) -> None:
    data = bytearray(SAMPLE_RS.read_bytes())
    start = data.find(b"\x06\x30\x10\x00SQ\x00\x00")  # (3006,0010) explicit VR header
    assert start > 0
    first_item = start + 12
    assert data[first_item : first_item + 4] == b"\xfe\xff\x00\xe0"
    data[first_item + 4 : first_item + 8] = (0x7FFFFFF0).to_bytes(4, "little")
    path = tmp_path / "RS_bad_item.dcm"
    path.write_bytes(bytes(data))
    assert _raw_referenced_series(pydicom.dcmread(path)) is None
    try:
        normal = _summary(structure_set_from_dataset(read_dicom(path), path))
    except (DicomContentError, OSError) as exc:
        with pytest.raises(type(exc)):
            load_structure_set(path)
    else:  # pydicom reads what it can of the overrunning item; the loader gives the same
        assert _summary(load_structure_set(path)) == normal
