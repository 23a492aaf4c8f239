"""Elements outside the sequences the RS loader parses itself are checked by check_complete; the
loader lets it skip decoding those whose bytes are plain values pydicom decodes without error.
Files with odd top-level values, written in explicit and implicit VR, give the same StructureSet
or the same error as pydicom's path, and a truncated plain value is still reported."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset

from dosimetry.io import load_structure_set
from tests.structure_outcomes import load_outcome
from dosimetry.io.dicom_file import check_complete, read_dicom
from dosimetry.io.structure_reader import _plain_elements, structure_set_from_dataset

# the odd values these tests write on purpose make pydicom warn when it decodes them
pytestmark = pytest.mark.filterwarnings("ignore:Invalid value for VR:UserWarning")

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_RS = ROOT / "sample_data" / "patient01" / "current" / "RS_patient01.dcm"
PLACEHOLDER = b"98765432"


def _encode(ds: Dataset, implicit: bool) -> bytes:
    if implicit:
        ds.file_meta.TransferSyntaxUID = pydicom.uid.ImplicitVRLittleEndian
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _top(keyword: str, value: object) -> Callable[[Dataset], None]:
    def edit(ds: Dataset) -> None:
        setattr(ds, keyword, value)

    return edit


def _private(ds: Dataset) -> None:
    ds.add_new(0x30070010, "LO", "VENDOR")
    ds.add_new(0x30071001, "DS", "1.5")


# case -> (edit, raw bytes replacing PLACEHOLDER or None, expected plain decision for the edited tag or None)
CASES: dict[str, tuple[Callable[[Dataset], None], bytes | None, int | None, bool | None]] = {
    "instance-number-float": (_top("InstanceNumber", PLACEHOLDER.decode()), b"1.5     ", 0x00200013, False),
    "series-number-text": (_top("SeriesNumber", PLACEHOLDER.decode()), b"abc     ", 0x00200011, False),
    "study-date-odd": (_top("StudyDate", "20991231"), None, 0x00080020, True),
    "study-date-letters": (_top("StudyDate", PLACEHOLDER.decode()), b"2026xx01", 0x00080020, True),
    "patient-name-utf8": (_top("PatientName", "Müller^Jörg"), None, 0x00100010, False),
    "station-name-backslash": (_top("StationName", "A\\B"), None, 0x00081010, False),
    "label-nul-padded": (_top("StructureSetLabel", PLACEHOLDER.decode()), b"RS\x00\x00\x00\x00\x00\x00", 0x30060002, True),
    "label-inner-nul": (_top("StructureSetLabel", PLACEHOLDER.decode()), b"R\x00S     ", 0x30060002, False),
    "modality-lower-case": (_top("Modality", "rtstruct"), None, 0x00080060, True),
    "sop-uid-letters": (_top("SOPInstanceUID", PLACEHOLDER.decode()), b"1.2.abc ", 0x00080018, False),
    "private-elements": (_private, None, 0x30071001, None),
    "charset-latin1": (_top("SpecificCharacterSet", "ISO_IR 100"), None, None, None),
    "charset-japanese": (_top("SpecificCharacterSet", "ISO_IR 13"), None, None, None),
}


_outcome = load_outcome


#: cases also written in implicit VR (VR from the dictionary; the rest in explicit VR only)
IMPLICIT_CASES = [
    "instance-number-float", "study-date-letters", "patient-name-utf8", "label-nul-padded",
    "sop-uid-letters", "private-elements", "charset-japanese",
]


@pytest.mark.parametrize(
    ("case", "implicit"),
    [(case, False) for case in CASES] + [(case, True) for case in IMPLICIT_CASES],
    ids=[f"{case}-explicit" for case in CASES] + [f"{case}-implicit" for case in IMPLICIT_CASES],
)
def test_odd_top_level_values_give_what_pydicom_gives(case: str, implicit: bool, tmp_path: Path) -> None:
    edit, replacement, tag, plain = CASES[case]
    ds = pydicom.dcmread(SAMPLE_RS)
    edit(ds)
    data = _encode(ds, implicit)
    if replacement is not None:
        assert data.count(PLACEHOLDER) >= 1 and len(replacement) == len(PLACEHOLDER)  # (SOP UID: file meta too)
        data = data.replace(PLACEHOLDER, replacement)
    path = tmp_path / "RS.dcm"
    path.write_bytes(data)
    if plain is not None:
        read = pydicom.dcmread(path)
        decide = _plain_elements(read)
        assert decide is not None
        assert decide(tag, read.get_item(tag)) is plain
    if case == "charset-japanese":
        assert _plain_elements(pydicom.dcmread(path)) is None
    fast = _outcome(lambda: load_structure_set(path))
    assert fast == _outcome(lambda: structure_set_from_dataset(read_dicom(path), path))
    if case == "label-nul-padded":
        assert fast[0] == "ok" and fast[4] == "RS"


def test_sample_top_level_elements_are_mostly_plain() -> None:
    ds = pydicom.dcmread(SAMPLE_RS)
    decide = _plain_elements(ds)
    assert decide is not None
    raw = {tag: ds.get_item(tag) for tag in ds.keys() if not isinstance(ds.get_item(tag).value, (list, type(None))) and ds.get_item(tag).VR != "SQ"}
    plain = [tag for tag, element in raw.items() if isinstance(element, pydicom.dataelem.RawDataElement) and decide(tag, element)]
    assert len(plain) >= 25  # dates, times, names, UIDs, codes of the sample


def test_dates_are_decoded_when_pydicom_converts_them(monkeypatch: pytest.MonkeyPatch) -> None:
    ds = pydicom.dcmread(SAMPLE_RS)
    study_date = ds.get_item(0x00080020)
    decide = _plain_elements(ds)
    assert decide is not None and decide(0x00080020, study_date)
    monkeypatch.setattr(pydicom.config, "datetime_conversion", True)
    decide = _plain_elements(ds)
    assert decide is not None and not decide(0x00080020, study_date)
    monkeypatch.setattr(pydicom.config.settings, "reading_validation_mode", pydicom.config.RAISE)
    assert _plain_elements(ds) is None


def test_a_truncated_plain_value_is_still_reported(tmp_path: Path) -> None:
    data = SAMPLE_RS.read_bytes()
    name = b"Physicist^Synthetic"  # (300E,0008) ReviewerName, the last element, a plain PN value
    assert data.rstrip(b" ").endswith(name)
    path = tmp_path / "RS_cut.dcm"
    path.write_bytes(data[: data.rindex(name) + 5])
    ds = pydicom.dcmread(path)
    decide = _plain_elements(ds)
    assert decide is not None
    with pytest.raises(OSError, match="truncated file: \\(300E,0008\\)"):
        check_complete(ds, path, decodes_cleanly=decide)
    with pytest.raises(OSError, match="truncated file: \\(300E,0008\\)"):
        load_structure_set(path)


def test_without_the_predicate_every_value_is_decoded() -> None:
    ds = pydicom.dcmread(SAMPLE_RS)
    check_complete(ds, SAMPLE_RS)
    left = [tag for tag in ds.keys() if isinstance(ds.get_item(tag), pydicom.dataelem.RawDataElement)]
    assert left == []  # (Contour Data inside the decoded sequences stays raw: LAZY_TAGS)
