"""Contour Data parsed from the raw element bytes with numpy (one conversion per file) gives
bit-identical arrays to pydicom's own DS conversion (the oracle): pydicom's bundled rtstruct.dcm,
the sample patient's RS, hand-written values with exponents, signs, odd spacing and NUL padding,
and sequences of undefined length, in both explicit and implicit VR little endian."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from dosimetry.errors import DicomContentError
from dosimetry.io import load_structure_set
from dosimetry.io.dicom_file import read_dicom
from dosimetry.io.contour_data import raw_contour_data
from dosimetry.io.structure_reader import structure_set_from_dataset

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_RS = ROOT / "sample_data" / "patient01" / "current" / "RS_patient01.dcm"
ODD_VALUES = [
    [b" 1.5E+01", b"-2.000e-3 ", b"+7", b" 1e2", b"  -0.0", b"7", b"3.25E-1 ", b"1E-0", b"7.0"],
    [b"1.0", b"2", b"-3E0", b"4.5e+00", b".5", b"-3.", b"0.1", b"0.2", b"-3.000\x00"],
    [b"-1.25e-07", b"1234567.875", b"0", b" +0.5", b"9.99999E+5", b"0", b"-12", b"0.3", b"0"],
]


def _contour_items(ds: pydicom.Dataset) -> list[pydicom.Dataset]:
    return [c for r in ds.get("ROIContourSequence") or [] for c in r.get("ContourSequence") or []]


def _pydicom_points(data: bytes) -> list[np.ndarray]:
    """Contour Data as pydicom converts it (its normal path), from a fresh read."""
    ds = pydicom.dcmread(io.BytesIO(data), force=True)
    return [np.array([float(v) for v in c.ContourData], dtype=np.float64).reshape(-1, 3) for c in _contour_items(ds)]


def _our_points(path: Path) -> list[np.ndarray]:
    ss = load_structure_set(path)
    return [c.points_mm for roi in ss.rois for c in roi.contours]


def _assert_identical(ours: list[np.ndarray], theirs: list[np.ndarray]) -> None:
    assert len(ours) == len(theirs) > 0
    for a, b in zip(ours, theirs, strict=True):
        assert a.shape == b.shape
        assert a.tobytes() == b.tobytes()  # bit for bit (also the sign of -0.0)


def _odd_rs(source: Path, implicit: bool) -> bytes:
    """``source`` with the first contours' Contour Data replaced by ODD_VALUES, byte for byte."""
    ds = pydicom.dcmread(source)
    placeholders = []
    for c, values in zip(_contour_items(ds), ODD_VALUES):
        digits = ["1" * len(v) for v in values]
        c.ContourData = digits
        c.NumberOfContourPoints = len(values) // 3
        placeholders.append(b"\\".join(d.encode() for d in digits))
    if implicit:
        ds.file_meta.TransferSyntaxUID = pydicom.uid.ImplicitVRLittleEndian
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    data = buffer.getvalue()
    for placeholder, values in zip(placeholders, ODD_VALUES, strict=True):
        assert data.count(placeholder) == 1
        data = data.replace(placeholder, b"\\".join(values))
    return data


@pytest.mark.parametrize("source", ["bundled", "sample"])
def test_raw_parse_equals_pydicom_on_real_files(source: str) -> None:
    path = Path(get_testdata_file("rtstruct.dcm", download=False)) if source == "bundled" else SAMPLE_RS
    ds = read_dicom(path)
    # the raw form is what the loader sees (nothing decoded Contour Data before)
    assert all(raw_contour_data(c) is not None for c in _contour_items(ds))
    _assert_identical(_our_points(path), _pydicom_points(path.read_bytes()))


@pytest.mark.parametrize("implicit", [False, True])
def test_raw_parse_equals_pydicom_on_exponents_and_odd_spacing(implicit: bool, tmp_path: Path) -> None:
    data = _odd_rs(SAMPLE_RS, implicit)
    path = tmp_path / "RS_odd.dcm"
    path.write_bytes(data)
    ds = read_dicom(path)
    items = _contour_items(ds)
    joined = b"\\".join(ODD_VALUES[0])
    assert raw_contour_data(items[0]) == joined + b" " * (len(joined) % 2)  # raw bytes, padded to even length
    assert (items[0].get_item(0x30060050).VR is None) is implicit
    ours = _our_points(path)
    _assert_identical(ours, _pydicom_points(data))
    np.testing.assert_array_equal(ours[0].ravel(), [15.0, -0.002, 7.0, 100.0, -0.0, 7.0, 0.325, 1.0, 7.0])
    assert np.signbit(ours[0][1, 1])  # "-0.0" keeps its sign
    np.testing.assert_array_equal(ours[1].ravel(), [1.0, 2.0, -3.0, 4.5, 0.5, -3.0, 0.1, 0.2, -3.0])
    assert ours[2][2, 1] == 0.3  # the nearest float64, as Python float() gives


def test_decoded_elements_take_the_normal_path_with_the_same_values() -> None:
    path = SAMPLE_RS
    fast = structure_set_from_dataset(read_dicom(path), path)
    ds = read_dicom(path)
    for c in _contour_items(ds):
        _ = c.ContourData  # pydicom converts the element: no raw bytes left
        assert raw_contour_data(c) is None
    slow = structure_set_from_dataset(ds, path)
    _assert_identical(
        [c.points_mm for r in fast.rois for c in r.contours], [c.points_mm for r in slow.rois for c in r.contours]
    )


@pytest.mark.parametrize(
    "bad",
    [b"1.0\\2.0\\abc", b"1.0\\\\3.0", b"1.0\\2.0\\nan", b"1.2.3\\4\\5", b"1.0\\2.0\\inf", b"-Infinity\\2\\3", b"1 5\\2\\3"],
)
def test_malformed_contour_data_is_refused(bad: bytes, tmp_path: Path) -> None:
    """Oracle: the DS value representation (DICOM PS3.5 table 6.2-1: a decimal number, spaces only leading or
    trailing, no empty component) and finite coordinates; each value here breaks one of those rules."""
    data = _odd_rs(SAMPLE_RS, implicit=False)
    good = b"\\".join(ODD_VALUES[2])
    path = tmp_path / "RS_bad.dcm"
    path.write_bytes(data.replace(good, bad.ljust(len(good))))
    with pytest.raises(DicomContentError, match="ContourData|Contour Data"):
        load_structure_set(path)


def _nested_undefined_lengths(source: Path, implicit: bool) -> bytes:
    """``source`` re-encoded with the Contour Sequences and their items of undefined length."""
    ds = pydicom.dcmread(source)
    for item in ds.ROIContourSequence:
        contours = item["ContourSequence"]
        contours.is_undefined_length = True
        for c in contours.value:
            c.is_undefined_length_sequence_item = True
    if implicit:
        ds.file_meta.TransferSyntaxUID = pydicom.uid.ImplicitVRLittleEndian
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


@pytest.mark.parametrize("implicit", [False, True])
def test_nested_undefined_lengths_give_pydicoms_values(implicit: bool, tmp_path: Path) -> None:
    data = _nested_undefined_lengths(SAMPLE_RS, implicit)
    path = tmp_path / "RS.dcm"
    path.write_bytes(data)
    _assert_identical(_our_points(path), _pydicom_points(data))
