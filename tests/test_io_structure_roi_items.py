"""The Structure Set ROI and RT ROI Observations Sequences read from raw bytes (fast path of the
RS loader) give the same StructureSet, warnings and errors as pydicom's path; anything but plain
ASCII values of the known elements (non-ASCII names, multi-values, private or nested elements,
non-integer ROI numbers, a non-ASCII character set) sends the sequence back to pydicom."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pydicom
import pytest
from pydicom.datadict import dictionary_VR
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from dosimetry.io import load_structure_set
from tests.structure_outcomes import load_outcome
from dosimetry.io.dicom_file import read_dicom
from dosimetry.io.structure_reader import (
    PLAIN_ROI_ELEMENTS,
    RT_ROI_OBSERVATIONS_SEQUENCE_TAG,
    STRUCTURE_SET_ROI_SEQUENCE_TAG,
    _raw_plain_items,
    _raw_roi_definitions,
    structure_set_from_dataset,
)

# the odd values these tests write on purpose make pydicom warn when it decodes them
pytestmark = pytest.mark.filterwarnings("ignore:Invalid value for VR:UserWarning")

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_RS = ROOT / "sample_data" / "patient01" / "current" / "RS_patient01.dcm"
PLACEHOLDER = "98765432"  # a valid IS / LO value of 8 characters, replaced byte for byte below


def _encode(ds: Dataset, implicit: bool) -> bytes:
    if implicit:
        ds.file_meta.TransferSyntaxUID = pydicom.uid.ImplicitVRLittleEndian
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _set(keyword: str, value: object, sequence: str = "StructureSetROISequence", index: int = 0) -> Callable[[Dataset], None]:
    def edit(ds: Dataset) -> None:
        setattr(getattr(ds, sequence)[index], keyword, value)

    return edit


def _delete(keyword: str, sequence: str = "StructureSetROISequence", index: int = 0) -> Callable[[Dataset], None]:
    def edit(ds: Dataset) -> None:
        delattr(getattr(ds, sequence)[index], keyword)

    return edit


def _private(ds: Dataset) -> None:
    ds.StructureSetROISequence[0].add_new(0x30070010, "LO", "VENDOR")
    ds.StructureSetROISequence[0].add_new(0x30071001, "LO", "x")


def _nested(ds: Dataset) -> None:
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "1", "99", "m"
    ds.StructureSetROISequence[0].DerivationCodeSequence = Sequence([code])


def _duplicate(ds: Dataset) -> None:
    ds.StructureSetROISequence[1].ROINumber = ds.StructureSetROISequence[0].ROINumber


def _charset(name: str) -> Callable[[Dataset], None]:
    def edit(ds: Dataset) -> None:
        ds.SpecificCharacterSet = name

    return edit


# case -> (edit, raw bytes for PLACEHOLDER or None, Structure Set ROI raw?, Observations raw?)
CASES: dict[str, tuple[Callable[[Dataset], None], bytes | None, bool, bool]] = {
    "sample": (lambda ds: None, None, True, True),
    "name-spaces": (_set("ROIName", "  Brain stem "), None, True, True),
    "name-nul-padded": (_set("ROIName", PLACEHOLDER), b"AB\x00\x00\x00\x00\x00\x00", True, True),
    "name-empty": (_set("ROIName", ""), None, True, True),
    "name-missing": (_delete("ROIName"), None, True, True),
    "name-inner-nul": (_set("ROIName", PLACEHOLDER), b"A\x00B     ", False, True),
    "name-backslash": (_set("ROIName", "A\\B"), None, False, True),
    "name-latin1": (_set("ROIName", PLACEHOLDER), b"R\xfccken  ", False, True),
    "name-tab": (_set("ROIName", PLACEHOLDER), b"A\tB     ", False, True),
    "number-padded": (_set("ROINumber", PLACEHOLDER), b"  +7    ", True, True),
    "number-negative": (_set("ROINumber", PLACEHOLDER), b"-3      ", True, True),
    "number-float": (_set("ROINumber", PLACEHOLDER), b"1.5     ", False, True),
    "number-text": (_set("ROINumber", PLACEHOLDER), b"abc     ", False, True),
    "number-missing": (_delete("ROINumber"), None, False, True),
    "number-duplicate": (_duplicate, None, True, True),
    "frame-uid-empty": (_set("ReferencedFrameOfReferenceUID", ""), None, True, True),
    "frame-uid-other": (_set("ReferencedFrameOfReferenceUID", "1.2.3.4"), None, True, True),
    "volume": (_set("ROIVolume", "12.5"), None, True, True),
    "volume-not-a-number": (_set("ROIVolume", PLACEHOLDER), b"1x.5    ", False, True),
    "private-element": (_private, None, False, True),
    "nested-sequence": (_nested, None, False, True),
    "type-lower-case": (_set("RTROIInterpretedType", "organ", "RTROIObservationsSequence"), None, True, True),
    "type-empty": (_set("RTROIInterpretedType", "", "RTROIObservationsSequence"), None, True, True),
    "type-missing": (_delete("RTROIInterpretedType", "RTROIObservationsSequence"), None, True, True),
    "reference-missing": (_delete("ReferencedROINumber", "RTROIObservationsSequence"), None, True, True),
    "reference-empty": (_set("ReferencedROINumber", "", "RTROIObservationsSequence"), None, True, True),
    "reference-unknown": (_set("ReferencedROINumber", 999, "RTROIObservationsSequence"), None, True, True),
    "reference-float": (_set("ReferencedROINumber", PLACEHOLDER, "RTROIObservationsSequence"), b"2.5     ", True, False),
    "interpreter": (_set("ROIInterpreter", "Doe^Jane", "RTROIObservationsSequence"), None, True, True),
    "charset-latin1": (_charset("ISO_IR 100"), None, True, True),
    "charset-japanese": (_charset("ISO_IR 13"), None, False, False),
}


_outcome = load_outcome


def test_plain_elements_have_their_dictionary_vr() -> None:
    for tag, vr in PLAIN_ROI_ELEMENTS.items():
        assert dictionary_VR(tag) == vr.decode()


#: cases also written in implicit VR (the raw parser's other branch; the rest in explicit VR only)
IMPLICIT_CASES = [
    "sample", "name-nul-padded", "name-inner-nul", "number-padded", "number-float", "number-duplicate",
    "volume-not-a-number", "private-element", "nested-sequence", "reference-float", "charset-japanese",
]


@pytest.mark.parametrize(
    ("case", "implicit"),
    [(case, False) for case in CASES] + [(case, True) for case in IMPLICIT_CASES],
    ids=[f"{case}-explicit" for case in CASES] + [f"{case}-implicit" for case in IMPLICIT_CASES],
)
def test_raw_roi_items_give_what_pydicom_gives(case: str, implicit: bool, tmp_path: Path) -> None:
    edit, replacement, roi_raw, observations_raw = CASES[case]
    ds = pydicom.dcmread(SAMPLE_RS)
    edit(ds)
    data = _encode(ds, implicit)
    if replacement is not None:
        assert data.count(PLACEHOLDER.encode()) == 1 and len(replacement) == len(PLACEHOLDER)
        data = data.replace(PLACEHOLDER.encode(), replacement)
    path = tmp_path / "RS.dcm"
    path.write_bytes(data)
    read = pydicom.dcmread(path)
    roi_items = _raw_plain_items(read, STRUCTURE_SET_ROI_SEQUENCE_TAG)
    assert (roi_items is not None and _raw_roi_definitions(roi_items) is not None) is roi_raw
    assert (_raw_plain_items(read, RT_ROI_OBSERVATIONS_SEQUENCE_TAG) is not None) is observations_raw
    fast = _outcome(lambda: load_structure_set(path))
    assert fast == _outcome(lambda: structure_set_from_dataset(read_dicom(path), path))
    if case == "sample":
        assert fast[0] == "ok" and len(fast[1]) == 18
    if case == "number-duplicate":
        assert fast[0] == "error" and "appears twice" in fast[2]
    if case == "name-spaces":
        assert fast[1][0][1] == "Brain stem"


def test_raise_on_invalid_values_leaves_the_sequences_to_pydicom(monkeypatch: pytest.MonkeyPatch) -> None:
    ds = pydicom.dcmread(SAMPLE_RS)
    assert _raw_plain_items(ds, STRUCTURE_SET_ROI_SEQUENCE_TAG) is not None
    monkeypatch.setattr(pydicom.config.settings, "reading_validation_mode", pydicom.config.RAISE)
    assert _raw_plain_items(ds, STRUCTURE_SET_ROI_SEQUENCE_TAG) is None
    assert _raw_plain_items(ds, RT_ROI_OBSERVATIONS_SEQUENCE_TAG) is None


@pytest.mark.parametrize("element", [0x0010, 0x0020, 0x0039, 0x0080])
def test_a_sequence_with_an_unknown_vr_is_a_project_error(element: int, tmp_path: Path) -> None:
    # an unknown explicit VR makes pydicom read the sequence as an empty value of another kind:
    # no raw path, and pydicom's failure to decode it is reported as for any corrupt file
    data = SAMPLE_RS.read_bytes()
    header = b"\x06\x30" + element.to_bytes(2, "little") + b"SQ\x00\x00"
    assert data.count(header) == 1
    path = tmp_path / "RS_bad_vr.dcm"
    path.write_bytes(data.replace(header, header[:5] + b"\x0e\x00\x00"))
    with pytest.raises(OSError, match="truncated or corrupt") as fast:
        load_structure_set(path)
    with pytest.raises(OSError) as normal:
        read_dicom(path)
    assert str(fast.value) == str(normal.value)
