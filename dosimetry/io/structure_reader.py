"""RT Structure Set files into :class:`~dosimetry.structures.StructureSet` (LPS mm).

ROIs keep their number, name, RT ROI Interpreted Type and display colour. CLOSED_PLANAR contours
are kept one per Contour Sequence item, so a plane may hold several contours; holes are inner
contours on the same plane (the rasteriser applies the even-odd rule, which also handles
"keyhole" contours). POINT contours are kept as one-point contours. OPEN_PLANAR and
OPEN_NONPLANAR contours are ignored with a warning. Empty ROIs are kept and reported as warnings,
and so are ROIs whose contour planes are unevenly spaced.
"""

from __future__ import annotations

import functools
import logging
import re
import struct
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pydicom
from pydicom.dataelem import RawDataElement
from pydicom.datadict import dictionary_VR
from pydicom.dataset import Dataset

from dosimetry.errors import DicomContentError
from dosimetry.io.dicom_file import (
    RT_STRUCTURE_SET,
    as_int,
    check_complete,
    decimal_strings,
    expect_sop_class,
    quiet_pydicom,
    read_dicom,
    require,
    tag_label,
    text,
)
from dosimetry.structures import Contour, ContourGeometricType, Roi, StructureSet

LOGGER = logging.getLogger(__name__)


# --- ROI Contour Sequence straight from its raw bytes ------------------------------------------
# pydicom builds a Dataset per sequence item and converts every value; an RT Structure Set holds
# one item per contour, so that dominates reading it. The ROI Contour Sequence is parsed here from
# the bytes pydicom leaves undecoded; any irregularity sends the file down the normal path.

ROI_CONTOUR_SEQUENCE_TAG = 0x30060039
_CONTOUR_SEQUENCE_TAG = 0x30060040
_ITEM, _ITEM_END, _SEQUENCE_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_UNDEFINED = 0xFFFFFFFF
_LONG_VRS = frozenset({b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"})
_HEADER = struct.Struct("<HHI")
_EXPLICIT = struct.Struct("<HH2sH")


class _RawLayoutError(Exception):
    """The raw bytes do not have the layout this parser expects (the normal path takes over)."""


RawItem = dict[int, "bytes | list[RawItem]"]


_unpack_header = _HEADER.unpack_from
_unpack_explicit = _EXPLICIT.unpack_from
_unpack_u32 = struct.Struct("<I").unpack_from
#: nested sequences up to this size are parsed once per distinct value (see _parse_sequence)
_SHARED_SEQUENCE_BYTES = 1024


@functools.lru_cache(maxsize=1024)
def _dictionary_vr(tag: int) -> str | None:
    """The data dictionary's VR of ``tag`` (None when the tag is not in it); cached."""
    try:
        return str(dictionary_VR(tag))
    except KeyError:
        return None


def _dictionary_sequence(tag: int) -> bool:
    return _dictionary_vr(tag) == "SQ"


def _is_sequence_implicit(tag: int, length: int) -> bool:
    return length == _UNDEFINED or _dictionary_sequence(tag)


def _parse_sequence(
    buf: bytes,
    pos: int,
    end: int,
    implicit: bool,
    undefined: bool,
    vrs: set[tuple[int, bytes]] | None = None,
    seen: dict[bytes, list[RawItem]] | None = None,
) -> tuple[list[RawItem], int]:
    """Items of a sequence value from ``pos``; returns them and the position after the sequence
    (after its delimiter when of undefined length). With ``vrs``, the (tag, VR) pairs met in
    explicit VR are added to it. ``seen``: small nested sequences already parsed, by their bytes
    (contours on one image plane repeat the same Contour Image Sequence); identical bytes give
    identical items, so they are parsed once and their (read-only) items shared."""
    items: list[RawItem] = []
    if seen is None:
        seen = {}
    parse_item = _parse_item_implicit if implicit else _parse_item_explicit
    while pos < end:
        if pos + 8 > end:
            raise _RawLayoutError("item header cut short")
        group, element, length = _unpack_header(buf, pos)
        tag = (group << 16) | element
        pos += 8
        if tag == _SEQUENCE_END:
            if not undefined or length != 0:
                raise _RawLayoutError("unexpected sequence delimiter")
            return items, pos
        if tag != _ITEM:
            raise _RawLayoutError(f"expected an item, found ({group:04X},{element:04X})")
        if length == _UNDEFINED:
            item, pos = parse_item(buf, pos, end, True, vrs, seen)
        else:
            stop = pos + length
            if stop > end:
                raise _RawLayoutError("item longer than its sequence")
            item, after = parse_item(buf, pos, stop, False, vrs, seen)
            if after != stop:
                raise _RawLayoutError("item length mismatch")
            pos = stop
        items.append(item)
    if undefined:
        raise _RawLayoutError("sequence delimiter missing")
    return items, pos


def _nested_sequence(
    buf: bytes,
    pos: int,
    end: int,
    length: int,
    implicit: bool,
    vrs: set[tuple[int, bytes]] | None,
    seen: dict[bytes, list[RawItem]],
) -> tuple[list[RawItem], int]:
    """A sequence value inside an item (from ``pos``, ``length`` bytes or undefined); returns its
    items and the position after it. A small one already met with the same bytes is not parsed
    again (see :func:`_parse_sequence`)."""
    if length == _UNDEFINED:
        return _parse_sequence(buf, pos, end, implicit, True, vrs, seen)
    stop = pos + length
    if stop > end:
        raise _RawLayoutError("sequence longer than its container")
    if length > _SHARED_SEQUENCE_BYTES:
        return _parse_sequence(buf, pos, stop, implicit, False, vrs, seen)[0], stop
    value = buf[pos:stop]
    shared = seen.get(value)
    if shared is None:
        shared = seen[value] = _parse_sequence(buf, pos, stop, implicit, False, vrs, seen)[0]
    return shared, stop


def _parse_item_explicit(
    buf: bytes,
    pos: int,
    end: int,
    undefined: bool,
    vrs: set[tuple[int, bytes]] | None,
    seen: dict[bytes, list[RawItem]],
) -> tuple[RawItem, int]:
    item: RawItem = {}
    while pos < end:
        if pos + 8 > end:
            raise _RawLayoutError("element header cut short")
        group, element, vr, length = _unpack_explicit(buf, pos)
        tag = (group << 16) | element
        if group == 0xFFFE:
            length = _unpack_header(buf, pos)[2]
            pos += 8
            if tag == _ITEM_END and undefined and length == 0:
                return item, pos
            raise _RawLayoutError("unexpected delimiter")
        if vrs is not None:
            vrs.add((tag, vr))
        if vr in _LONG_VRS:
            if pos + 12 > end:
                raise _RawLayoutError("element header cut short")
            length = _unpack_u32(buf, pos + 8)[0]
            pos += 12
            if vr == b"SQ":
                item[tag], pos = _nested_sequence(buf, pos, end, length, False, vrs, seen)
                continue
            if length == _UNDEFINED:
                raise _RawLayoutError("value of undefined length")
        else:
            pos += 8
        stop = pos + length
        if stop > end:
            raise _RawLayoutError("value longer than its container")
        item[tag] = buf[pos:stop]
        pos = stop
    if undefined:
        raise _RawLayoutError("item delimiter missing")
    return item, pos


def _parse_item_implicit(
    buf: bytes,
    pos: int,
    end: int,
    undefined: bool,
    vrs: set[tuple[int, bytes]] | None,
    seen: dict[bytes, list[RawItem]],
) -> tuple[RawItem, int]:
    item: RawItem = {}
    while pos < end:
        if pos + 8 > end:
            raise _RawLayoutError("element header cut short")
        group, element, length = _unpack_header(buf, pos)
        pos += 8
        tag = (group << 16) | element
        if tag == _ITEM_END:
            if not undefined or length != 0:
                raise _RawLayoutError("unexpected item delimiter")
            return item, pos
        if _is_sequence_implicit(tag, length):
            item[tag], pos = _nested_sequence(buf, pos, end, length, True, vrs, seen)
            continue
        stop = pos + length
        if stop > end:
            raise _RawLayoutError("value longer than its container")
        item[tag] = buf[pos:stop]
        pos = stop
    if undefined:
        raise _RawLayoutError("item delimiter missing")
    return item, pos


def raw_roi_contour_items(ds: Dataset) -> list[RawItem] | None:
    """The ROI Contour Sequence items parsed from pydicom's undecoded bytes (tag -> value bytes,
    nested sequences as lists of such items), or None when the element is absent, already decoded,
    big endian, or its bytes do not parse cleanly (the caller then uses pydicom's path)."""
    return _raw_sequence_items(ds, ROI_CONTOUR_SEQUENCE_TAG)


def _raw_sequence_items(ds: Dataset, tag: int, vrs: set[tuple[int, bytes]] | None = None) -> list[RawItem] | None:
    raw = ds.get_item(tag, keep_deferred=True)  # (without it pydicom decodes an empty value here)
    if not isinstance(raw, RawDataElement) or not isinstance(raw.value, (bytes, bytearray)) or not raw.is_little_endian:
        return None
    value = bytes(raw.value)
    if raw.length != _UNDEFINED and len(value) != raw.length:
        return None  # truncated: the normal path reports it
    try:
        items, _ = _parse_sequence(value, 0, len(value), bool(raw.is_implicit_VR), False, vrs)
    except (_RawLayoutError, struct.error) as exc:
        LOGGER.debug("sequence %08X not parsed from raw bytes (%s); using pydicom", tag, exc)
        return None
    return items


#: (3006,0010) Referenced Frame of Reference Sequence
REFERENCED_FRAME_SEQUENCE_TAG = 0x30060010
_UID_TEXT = re.compile(rb"[0-9.]*")


def _raw_uids_only(items: list[RawItem]) -> bool:
    """Every element in ``items`` (recursively) is a sequence or a UI element holding one plain
    UID (digits and dots, padding aside): pydicom's decoding of such a value cannot fail, so the
    value check of :func:`read_dicom` has nothing to find there."""
    for item in items:
        for tag, value in item.items():
            vr = _dictionary_vr(tag)
            if vr is None:
                return False
            if isinstance(value, list):
                if vr != "SQ" or not _raw_uids_only(value):
                    return False
            elif vr != "UI" or not _UID_TEXT.fullmatch(value.rstrip(b"\x00 ").lstrip(b" ")):
                return False
    return True


def _raw_referenced_series(ds: Dataset) -> tuple[str, str | None] | None:
    """:func:`_referenced_series` from the undecoded Referenced Frame of Reference Sequence, or
    None when it is absent, does not parse cleanly or holds anything but UIDs (pydicom then reads
    and checks it)."""
    items = _raw_sequence_items(ds, REFERENCED_FRAME_SEQUENCE_TAG)
    if not items or not _raw_uids_only(items):
        return None
    frame_uid = ""
    series_uid: str | None = None
    for ref_frame in items:
        frame_uid = frame_uid or _raw_text(ref_frame.get(0x00200052))  # Frame of Reference UID
        for study in ref_frame.get(0x30060012) or []:  # RT Referenced Study Sequence
            assert isinstance(study, dict)
            for series in study.get(0x30060014) or []:  # RT Referenced Series Sequence
                assert isinstance(series, dict)
                uid = _raw_text(series.get(0x0020000E))  # Series Instance UID
                if series_uid is None and uid:
                    series_uid = uid
    return frame_uid, series_uid


def _raw_text(value: object) -> str:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("latin-1").replace("\x00", " ").strip()
    return ""


#: the bytes :func:`_raw_text` strips (NUL and the latin-1 characters ``str.strip`` removes):
#: ``not value.strip(_BLANK)`` is ``not _raw_text(value)`` without decoding the value
_BLANK = bytes(c for c in range(256) if chr(c).isspace()) + b"\x00"


# --- Structure Set ROI and RT ROI Observations Sequences from raw bytes ----------------------------
# Decoding these ~40 small items with pydicom (and checking each value) costs more than reading
# all contours. They are read from raw bytes when every element is one of the plain ones below,
# with the VR the data dictionary gives, and a value whose pydicom decoding cannot fail and gives
# the same text: printable ASCII without backslash (trailing spaces/NULs are padding), IS a plain
# integer, DS a plain finite decimal, UI digits and dots. Anything else sends the sequence to pydicom.

#: (3006,0020) Structure Set ROI Sequence
STRUCTURE_SET_ROI_SEQUENCE_TAG = 0x30060020
#: (3006,0080) RT ROI Observations Sequence
RT_ROI_OBSERVATIONS_SEQUENCE_TAG = 0x30060080
#: elements these items may hold on the raw path, with their VR (PS3.6)
PLAIN_ROI_ELEMENTS: dict[int, bytes] = {
    0x30060022: b"IS",  # ROI Number
    0x30060024: b"UI",  # Referenced Frame of Reference UID
    0x30060026: b"LO",  # ROI Name
    0x30060028: b"ST",  # ROI Description
    0x3006002C: b"DS",  # ROI Volume
    0x30060036: b"CS",  # ROI Generation Algorithm
    0x30060038: b"LO",  # ROI Generation Description
    0x30060082: b"IS",  # Observation Number
    0x30060084: b"IS",  # Referenced ROI Number
    0x30060085: b"SH",  # ROI Observation Label
    0x30060088: b"ST",  # ROI Observation Description
    0x300600A4: b"CS",  # RT ROI Interpreted Type
    0x300600A6: b"PN",  # ROI Interpreter
}
#: Specific Character Sets in which printable ASCII bytes decode to themselves (pydicom's codecs)
_ASCII_CHARSETS = frozenset({"", "ISO_IR 6", "ISO_IR 100", "ISO_IR 192", "ISO 2022 IR 6", "ISO 2022 IR 100"})
_PRINTABLE = re.compile(rb"[\x20-\x5B\x5D-\x7E]*")  # printable ASCII but the backslash
_PLAIN_IS = re.compile(rb" *[+-]?[0-9]{1,10} *")
_PLAIN_DS = re.compile(rb" *[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})? *")


def _plain_value(vr: bytes, value: bytes) -> bool:
    v = value.rstrip(b"\x00 ")
    if vr == b"UI":
        return _UID_TEXT.fullmatch(v.lstrip(b" ")) is not None
    if not v or _PRINTABLE.fullmatch(v) is None:
        return not v
    if vr == b"IS":
        return _PLAIN_IS.fullmatch(v) is not None
    if vr == b"DS":
        return len(v) <= 16 and _PLAIN_DS.fullmatch(v) is not None and np.isfinite(float(v))
    return True


def _plain_text(value: object) -> str:
    """The text of a value accepted by :func:`_plain_value`, as ``text()`` gives it after pydicom."""
    return value.rstrip(b"\x00 ").decode("ascii").strip() if isinstance(value, bytes) else ""


def _raw_plain_items(ds: Dataset, tag: int) -> list[RawItem] | None:
    """Items of sequence ``tag`` from raw bytes when every element in them is plain (see above),
    else None (also when the sequence is absent or empty, the character set is not ASCII-based,
    or pydicom is set to raise on invalid values: pydicom's path then reads the sequence)."""
    if pydicom.config.settings.reading_validation_mode == pydicom.config.RAISE or not _ascii_charset(ds):
        return None
    vrs: set[tuple[int, bytes]] = set()
    items = _raw_sequence_items(ds, tag, vrs)
    if not items or any(PLAIN_ROI_ELEMENTS.get(t) != vr for t, vr in vrs):
        return None
    for item in items:
        for element, value in item.items():
            vr = PLAIN_ROI_ELEMENTS.get(element)
            if vr is None or not isinstance(value, bytes) or not _plain_value(vr, value):
                return None
    return items


#: VRs of other elements left undecoded when their bytes are plain (see :func:`_plain_value`);
#: dates and times too while pydicom keeps them as text (its default)
_PLAIN_VRS = frozenset({"CS", "SH", "LO", "PN", "UI", "IS", "DS"})
_TEXT_DATE_VRS = frozenset({"DA", "TM", "DT"})


def _ascii_charset(ds: Dataset) -> bool:
    """Printable ASCII bytes decode to themselves in the dataset's Specific Character Set."""
    charset = ds.get_item(0x00080005, keep_deferred=True)  # Specific Character Set (pydicom decodes it while reading)
    value = charset.value if charset is not None else ""
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode("latin-1")
    return isinstance(value, str) and value.strip("\x00 ") in _ASCII_CHARSETS


def _plain_elements(ds: Dataset) -> Callable[[int, RawDataElement], bool] | None:
    """For :func:`~dosimetry.io.dicom_file.check_complete`: which undecoded elements pydicom
    decodes without error (plain values of :data:`_PLAIN_VRS`, in the VR pydicom will use: the
    explicit one, else the dictionary's); None when the character set is not ASCII-based or
    pydicom is set to raise on invalid values."""
    if pydicom.config.settings.reading_validation_mode == pydicom.config.RAISE or not _ascii_charset(ds):
        return None
    vrs = _PLAIN_VRS if pydicom.config.datetime_conversion else _PLAIN_VRS | _TEXT_DATE_VRS

    def plain(tag: int, raw: RawDataElement) -> bool:
        vr = raw.VR or _dictionary_vr(tag)
        return vr in vrs and isinstance(raw.value, bytes) and _plain_value(vr.encode(), raw.value)

    return plain


#: per Structure Set ROI item: (ROI Number, ROI Name text, Referenced Frame of Reference UID text)
RoiDefinitions = Iterable[tuple[object, str, str]]
#: per RT ROI Observations item: (Referenced ROI Number or None, RT ROI Interpreted Type text)
RoiObservations = Iterable[tuple[object, str]]


def _raw_roi_definitions(items: list[RawItem]) -> list[tuple[object, str, str]] | None:
    """:data:`RoiDefinitions` from plain raw items; None when an ROI Number is missing or empty
    (pydicom's path reports it)."""
    out: list[tuple[object, str, str]] = []
    for item in items:
        number = _plain_text(item.get(0x30060022))  # ROI Number
        if not number:
            return None
        out.append((number, _plain_text(item.get(0x30060026)), _plain_text(item.get(0x30060024))))
    return out


def _raw_observations(items: list[RawItem]) -> list[tuple[object, str]]:
    return [
        (_plain_text(item[0x30060084]) if 0x30060084 in item else None, _plain_text(item.get(0x300600A4)))
        for item in items
    ]


def _pydicom_roi_definitions(roi_seq: Iterable[Dataset], p: Path) -> Iterator[tuple[object, str, str]]:
    for i, item in enumerate(roi_seq, start=1):
        context = f"{tag_label('StructureSetROISequence')} item {i}"
        yield require(item, "ROINumber", p, context=context), text(item, "ROIName"), text(item, "ReferencedFrameOfReferenceUID")


def _pydicom_observations(ds: Dataset) -> Iterator[tuple[object, str]]:
    for item in ds.get("RTROIObservationsSequence") or []:
        yield item.get("ReferencedROINumber"), text(item, "RTROIInterpretedType")


FloatArray = npt.NDArray[np.float64]
#: (3006,0050) Contour Data
CONTOUR_DATA_TAG = 0x30060050


def raw_contour_data(item: Dataset) -> bytes | None:
    """The undecoded bytes of an item's Contour Data (DS), or None when pydicom has already
    converted the element (a dataset built in memory) or the VR is not DS/UN."""
    raw = item.get_item(CONTOUR_DATA_TAG)
    if isinstance(raw, RawDataElement) and isinstance(raw.value, (bytes, bytearray)) and raw.VR in (None, "DS", "UN"):
        return bytes(raw.value)
    return None


def parse_decimal_strings(values: list[bytes], path: Path, contexts: Sequence[str]) -> list[FloatArray]:
    """Parse DS multi-values (raw bytes: backslash-separated decimal strings, padded with spaces or
    NUL) into float arrays with one numpy conversion for all of them.

    Values equal those of pydicom's conversion (both round each decimal string to the nearest
    float64). An empty value, an empty component, a component that is not a decimal number or a
    non-finite number raises DicomContentError naming the file and ``contexts[i]``.
    """
    if not values:
        return []
    flat, counts = _parse_decimal_flat(values, path, contexts)
    return np.split(flat, np.cumsum(counts)[:-1])


def _parse_decimal_flat(values: list[bytes], path: Path, contexts: Sequence[str]) -> tuple[FloatArray, npt.NDArray[np.intp]]:
    """:func:`parse_decimal_strings` as one array of all values and the number of values of each."""
    texts = [v.replace(b"\x00", b" ") for v in values]
    counts = np.array([t.count(b"\\") + 1 for t in texts], dtype=np.intp)
    parts = b"\\".join(texts).split(b"\\")
    try:
        flat = np.array(parts, dtype=np.float64)
    except ValueError:
        flat = None
    if flat is None or not np.all(np.isfinite(flat)):
        for text_value, context in zip(texts, contexts, strict=True):
            where = f" in {context}" if context else ""
            if not text_value.strip():
                raise DicomContentError(f"{path}: required tag {tag_label('ContourData')} is missing or empty{where}")
            for part in text_value.split(b"\\"):
                try:
                    number = float(part)
                except ValueError:
                    raise DicomContentError(
                        f"{path}: {tag_label('ContourData')}{where} holds {part.strip().decode('latin-1')!r}, "
                        "expected decimal numbers"
                    ) from None
                if not np.isfinite(number):
                    raise DicomContentError(f"{path}: {tag_label('ContourData')}{where} holds non-finite numbers")
        raise DicomContentError(f"{path}: {tag_label('ContourData')} could not be parsed")  # not reached
    return flat, counts


def _z_spans(flat: FloatArray, counts: npt.NDArray[np.intp]) -> FloatArray | None:
    """Per value list of :func:`_parse_decimal_flat`, the range of its z coordinates (max - min, as
    ``np.ptp(points[:, 2])`` gives), in one pass; None unless every list holds whole points."""
    if counts.size == 0 or np.any(counts % 3):
        return None
    z = flat[2::3]
    starts = np.concatenate(([0], np.cumsum(counts[:-1]) // 3))
    return np.maximum.reduceat(z, starts) - np.minimum.reduceat(z, starts)


def _plane_estimates(flat: FloatArray, counts: npt.NDArray[np.intp]) -> tuple[list[float], list[bool]]:
    """Per value list of :func:`_parse_decimal_flat` (whole points only), its contour plane as
    :meth:`~dosimetry.structures.Roi.contour_planes_mm` gives it (``round(Contour.z_mm, 3)``), and
    whether that is certain. The mean z here comes from one reduceat over all contours, summed in
    another order than numpy's per-contour mean; the two differ by less than ``4 n eps max|z|``, so
    the rounding agrees whenever the mean is farther than that from a rounding boundary
    ((k + 1/2) * 0.001 mm). Uncertain planes are left to ``Roi.contour_planes_mm``."""
    z = flat[2::3]
    n = counts // 3
    starts = np.concatenate(([0], np.cumsum(n[:-1])))
    means = np.add.reduceat(z, starts) / n
    bound = 4.0 * n * np.finfo(np.float64).eps * np.maximum.reduceat(np.abs(z), starts) + 1e-9
    scaled = means * 1000.0
    certain = np.abs(scaled - np.floor(scaled) - 0.5) / 1000.0 > bound
    return [round(m, 3) for m in means.tolist()], certain.tolist()


def _median(values: list[float]) -> float:
    """``float(np.median(values))`` for a non-empty list of finite floats (the middle value, or the
    mean of the two middle values computed as numpy does: their sum halved)."""
    ordered = sorted(values)
    half = len(ordered) // 2
    return ordered[half] if len(ordered) % 2 else (ordered[half - 1] + ordered[half]) / 2


class _ContourContexts(Sequence[str]):
    """Message contexts ("(3006,0039) ROIContourSequence item i, (3006,0040) ContourSequence item j")
    built only when a message needs one."""

    def __init__(self, positions: list[tuple[int, int]]) -> None:
        self._positions = positions

    def __len__(self) -> int:
        return len(self._positions)

    def __getitem__(self, index):  # type: ignore[no-untyped-def,override]
        if isinstance(index, slice):
            return [self[k] for k in range(*index.indices(len(self)))]
        return _contour_context(*self._positions[index])


def _roi_contour_context(i: int) -> str:
    return f"{tag_label('ROIContourSequence')} item {i}"


def _contour_context(i: int, j: int) -> str:
    return f"{_roi_contour_context(i)}, {tag_label('ContourSequence')} item {j}"


_GEOMETRIC_TYPES = {t.value: t for t in ContourGeometricType}


def _declared_points(declared: object, p: Path, i: int, j: int) -> int:
    """Number of Contour Points as :func:`as_int` reads it (plain digit strings directly)."""
    if isinstance(declared, str) and declared.isascii() and declared.isdigit() and len(declared) < 16:
        return int(declared)
    return as_int(declared, "NumberOfContourPoints", p, context=_contour_context(i, j))


def contour_plane_spacing_mm(roi: Roi) -> float | None:
    """Median distance between neighbouring contour planes of ``roi`` (None with fewer than two planes)."""
    planes = roi.contour_planes_mm()
    if planes.size < 2:
        return None
    return float(np.median(np.diff(planes)))


def _colour(value: object) -> tuple[int, int, int] | None:
    if value is None or value == "":
        return None
    try:
        rgb = [int(float(v)) for v in value]  # type: ignore[union-attr]
    except (TypeError, ValueError):
        return None
    return (rgb[0], rgb[1], rgb[2]) if len(rgb) == 3 else None


def _referenced_series(ds: Dataset) -> tuple[str, str | None]:
    frame_uid = ""
    series_uid: str | None = None
    for ref_frame in ds.get("ReferencedFrameOfReferenceSequence") or []:
        frame_uid = frame_uid or text(ref_frame, "FrameOfReferenceUID")
        for study in ref_frame.get("RTReferencedStudySequence") or []:
            for series in study.get("RTReferencedSeriesSequence") or []:
                if series_uid is None and text(series, "SeriesInstanceUID"):
                    series_uid = text(series, "SeriesInstanceUID")
    return frame_uid, series_uid


def load_structure_set(path: str | Path) -> StructureSet:
    """Read an RT Structure Set.

    The ROI Contour Sequence is parsed from its raw bytes (:func:`raw_roi_contour_items`) when they
    parse cleanly, and so are the Referenced Frame of Reference, Structure Set ROI and RT ROI
    Observations Sequences when they hold only plain values (each falls back to pydicom on its
    own); every other element is checked as :func:`read_dicom` does, plain values without being
    decoded. Files the fast path does not handle (no preamble, big endian, irregular or truncated
    bytes, missing required values) are read entirely by the normal path, which reports their
    problems. Both paths give the same StructureSet, warnings and errors.
    """
    p = Path(path)
    fast = _load_with_raw_contours(p)
    return fast if fast is not None else structure_set_from_dataset(read_dicom(p), p)


def _load_with_raw_contours(p: Path) -> StructureSet | None:
    if not p.is_file():
        return None
    try:
        with quiet_pydicom():
            ds = pydicom.dcmread(p)
    except Exception:  # noqa: BLE001 - the normal path reads (or refuses) this file with its own messages
        return None
    items = raw_roi_contour_items(ds)
    if not items:
        return None
    rois = _raw_roi_contours(items)
    if rois is None:
        return None
    referenced = _raw_referenced_series(ds)
    roi_items = _raw_plain_items(ds, STRUCTURE_SET_ROI_SEQUENCE_TAG)
    definitions = _raw_roi_definitions(roi_items) if roi_items is not None else None
    observation_items = _raw_plain_items(ds, RT_ROI_OBSERVATIONS_SEQUENCE_TAG)
    observations = _raw_observations(observation_items) if observation_items is not None else None
    parsed_tags = [ROI_CONTOUR_SEQUENCE_TAG]
    parsed_tags += [REFERENCED_FRAME_SEQUENCE_TAG] if referenced is not None else []
    parsed_tags += [STRUCTURE_SET_ROI_SEQUENCE_TAG] if definitions is not None else []
    parsed_tags += [RT_ROI_OBSERVATIONS_SEQUENCE_TAG] if observations is not None else []
    saved = {tag: ds.get_item(tag) for tag in parsed_tags}
    for tag in parsed_tags:
        del ds[tag]
    with quiet_pydicom():
        # every other element, as read_dicom does (plain values need no decoding to be checked)
        check_complete(ds, p, decodes_cleanly=_plain_elements(ds))
    for tag in parsed_tags:
        ds[tag] = saved[tag]
    return structure_set_from_dataset(
        ds, p, roi_contours=rois, referenced=referenced, roi_definitions=definitions, observations=observations
    )


#: per ROI Contour item: (Referenced ROI Number text, ROI Display Color components or None,
#: contours as (geometric type text, Number of Contour Points text or None, Contour Data bytes or
#: None, the pydicom item or None))
RoiContours = list[tuple[str, "list[str] | None", list[tuple[str, "str | None", "bytes | None", "Dataset | None"]]]]


def _raw_roi_contours(items: list[RawItem]) -> RoiContours | None:
    """The values the loader needs from raw ROI Contour items; None when one is missing or not
    plain bytes (the normal path then reads the file and reports it)."""
    out: RoiContours = []
    texts: dict[bytes, str] = {}  # geometric types and point counts: few values, many times
    for item in items:
        number = item.get(0x30060084)  # Referenced ROI Number
        colour = item.get(0x3006002A)  # ROI Display Color
        sequence = item.get(_CONTOUR_SEQUENCE_TAG, [])
        if not isinstance(number, bytes) or not _raw_text(number) or not isinstance(sequence, list):
            return None
        if colour is not None and not isinstance(colour, bytes):
            return None
        contours = []
        for c in sequence:
            gtype, declared, data = c.get(0x30060042), c.get(0x30060046), c.get(CONTOUR_DATA_TAG)
            if not isinstance(gtype, bytes) or not isinstance(data, bytes) or not data.strip(_BLANK):
                return None
            if declared is not None and not isinstance(declared, bytes):
                return None
            gtype_text = texts.get(gtype)
            if gtype_text is None:
                gtype_text = texts[gtype] = _raw_text(gtype)
            declared_text = texts.get(declared) if declared is not None else None
            if declared_text is None:
                declared_text = texts[declared] = _raw_text(declared) if declared is not None else ""
            contours.append((gtype_text, declared_text or None, data, None))
        colour_parts = [v.strip() for v in _raw_text(colour).split("\\")] if colour is not None and _raw_text(colour) else None
        out.append((_raw_text(number), colour_parts, contours))
    return out


def _pydicom_roi_contours(ds: Dataset) -> RoiContours:
    out: RoiContours = []
    for item in ds.get("ROIContourSequence") or []:
        number = item.get("ReferencedROINumber")
        contours = [
            (text(c, "ContourGeometricType"), c.get("NumberOfContourPoints"), raw_contour_data(c), c)
            for c in item.get("ContourSequence") or []
        ]
        out.append((number, item.get("ROIDisplayColor"), contours))  # type: ignore[arg-type]
    return out


def structure_set_from_dataset(
    ds: Dataset,
    p: Path,
    *,
    roi_contours: RoiContours | None = None,
    referenced: tuple[str, str | None] | None = None,
    roi_definitions: list[tuple[object, str, str]] | None = None,
    observations: list[tuple[object, str]] | None = None,
) -> StructureSet:
    """:func:`load_structure_set` on a dataset already read by :func:`~dosimetry.io.dicom_file.read_dicom`
    (``roi_contours``: the ROI Contour Sequence already parsed from raw bytes; ``referenced``: the
    frame of reference and series UIDs already read from the raw Referenced Frame of Reference
    Sequence; ``roi_definitions`` / ``observations``: the Structure Set ROI / RT ROI Observations
    Sequences already read from raw bytes, not empty)."""
    expect_sop_class(ds, p, [RT_STRUCTURE_SET])
    warnings: list[str] = []
    sop_uid = str(require(ds, "SOPInstanceUID", p))
    frame_uid, series_uid = _referenced_series(ds) if referenced is None else referenced
    definitions: RoiDefinitions = (
        _pydicom_roi_definitions(require(ds, "StructureSetROISequence", p), p) if roi_definitions is None else roi_definitions
    )
    # type 1 in the RT Structure Set IOD (ROI Contour and RT ROI Observations modules, both M);
    # their absence usually means an export cut short
    if roi_contours is None:  # (parsed from raw bytes only when present and not empty)
        require(ds, "ROIContourSequence", p, context="the ROI Contour module (is the file incomplete?)")
    if observations is None:
        require(ds, "RTROIObservationsSequence", p, context="the RT ROI Observations module (is the file incomplete?)")
    names: dict[int, tuple[str, str]] = {}
    for i, (number_value, name, roi_frame) in enumerate(definitions, start=1):
        context = f"{tag_label('StructureSetROISequence')} item {i}"
        number = as_int(number_value, "ROINumber", p, context=context)
        if number in names:
            raise DicomContentError(f"{p}: {tag_label('ROINumber')} {number} appears twice in {tag_label('StructureSetROISequence')}")
        names[number] = (name, roi_frame)
    interpreted: dict[int, str] = {}
    for referenced_number, interpreted_type in _pydicom_observations(ds) if observations is None else observations:
        if referenced_number not in (None, ""):
            interpreted[as_int(referenced_number, "ReferencedROINumber", p)] = interpreted_type
    contours: dict[int, list[Contour]] = {n: [] for n in names}
    colours: dict[int, tuple[int, int, int] | None] = {}
    ignored: dict[int, int] = {}
    # (ROI number, type, pydicom item or None, i, j, raw Contour Data or None, declared points)
    pending: list[tuple[int, ContourGeometricType, Dataset | None, int, int, bytes | None, object]] = []
    if roi_contours is None:
        roi_contours = _pydicom_roi_contours(ds)
    for i, (number_value, colour_value, contour_items) in enumerate(roi_contours, start=1):
        context = _roi_contour_context(i)
        if number_value in (None, ""):
            raise DicomContentError(f"{p}: required tag {tag_label('ReferencedROINumber')} is missing or empty in {context}")
        number = as_int(number_value, "ReferencedROINumber", p, context=context)
        if number not in names:
            warnings.append(f"{p.name}: {context} references ROI {number}, which {tag_label('StructureSetROISequence')} does not define; ignored")
            continue
        colours[number] = _colour(colour_value)
        for j, (gtype_value, declared, raw, c) in enumerate(contour_items, start=1):
            gtype_text = gtype_value.upper()
            gtype = _GEOMETRIC_TYPES.get(gtype_text)
            if gtype is None:
                raise DicomContentError(
                    f"{p}: {tag_label('ContourGeometricType')} in {_contour_context(i, j)} is {gtype_text!r}, expected one of "
                    + ", ".join(t.value for t in ContourGeometricType)
                )
            if gtype in (ContourGeometricType.OPEN_PLANAR, ContourGeometricType.OPEN_NONPLANAR):
                ignored[number] = ignored.get(number, 0) + 1
                continue
            pending.append((number, gtype, c, i, j, raw, declared))
    raw_entries = [entry for entry in pending if entry[5] is not None]
    flat, counts = (
        _parse_decimal_flat([e[5] for e in raw_entries], p, _ContourContexts([(e[3], e[4]) for e in raw_entries]))  # type: ignore[misc]
        if raw_entries
        else (np.empty(0), np.empty(0, dtype=np.intp))
    )
    flat.flags.writeable = False  # contours are read-only views of it, which Contour keeps uncopied
    ends = np.cumsum(counts).tolist()
    spans = _z_spans(flat, counts)  # z range of each raw contour (None: computed per contour)
    all_points = flat.reshape(-1, 3) if spans is not None else flat
    estimates, certain = _plane_estimates(flat, counts) if spans is not None else ([], [])
    planes_of: dict[int, list[float]] = {n: [] for n in names}  # closed contours' planes, when all certain
    exact_planes: set[int] = set()  # ROIs whose planes Roi.contour_planes_mm computes
    n_raw = 0
    for number, gtype, c, i, j, raw, declared in pending:
        z_span = None
        index = None  # position among the raw contours (flat[start:stop] holds its values)
        if raw is not None:
            index, n_raw = n_raw, n_raw + 1
            start, stop = (ends[index - 1] if index else 0), ends[index]
        if index is not None and spans is not None:  # whole points: a slice of all points
            points, z_span = all_points[start // 3 : stop // 3], spans[index]
        else:
            if index is not None:
                data = flat[start:stop]
            else:  # already decoded by pydicom: its values
                assert c is not None
                data = np.asarray(decimal_strings(c, "ContourData", p, context=_contour_context(i, j)), dtype=np.float64)
            if len(data) % 3 != 0:
                raise DicomContentError(
                    f"{p}: {tag_label('ContourData')} in {_contour_context(i, j)} has {len(data)} values, expected a multiple of 3"
                )
            points = data.reshape(-1, 3)
        if declared not in (None, "") and (n_declared := _declared_points(declared, p, i, j)) != points.shape[0]:
            warnings.append(
                f"{p.name}: ROI {number} {_contour_context(i, j)}: {tag_label('NumberOfContourPoints')} says {n_declared}, "
                f"{tag_label('ContourData')} holds {points.shape[0]} points; the points are used"
            )
        if gtype is ContourGeometricType.CLOSED_PLANAR:
            if points.shape[0] < 3:
                warnings.append(f"{p.name}: ROI {number} {_contour_context(i, j)}: closed contour with {points.shape[0]} points ignored")
                continue
            if z_span is None:
                z_span = np.ptp(points[:, 2])
            if z_span > 1e-3:
                warnings.append(
                    f"{p.name}: ROI {number} {_contour_context(i, j)}: CLOSED_PLANAR contour is not in a transverse plane "
                    f"(z spans {z_span:.3f} mm); its mean z is used"
                )
            if index is not None and certain and certain[index]:
                planes_of[number].append(estimates[index])
            else:
                exact_planes.add(number)
        contours[number].append(Contour(points_mm=points, geometric_type=gtype))
    rois: list[Roi] = []
    for number, (name, roi_frame) in names.items():
        roi = Roi(
            number=number,
            name=name,
            interpreted_type=interpreted.get(number, ""),
            contours=tuple(contours[number]),
            color_rgb=colours.get(number),
            frame_of_reference_uid=roi_frame or frame_uid,
        )
        if number in ignored:
            warnings.append(f"{p.name}: ROI {number} {name!r}: {ignored[number]} OPEN_PLANAR/OPEN_NONPLANAR contour(s) ignored")
        if roi.is_empty:
            warnings.append(f"{p.name}: ROI {number} {name!r} has no contours (empty ROI)")
        planes = roi.contour_planes_mm().tolist() if number in exact_planes else sorted(set(planes_of[number]))
        if len(planes) >= 3:
            steps = [b - a for a, b in zip(planes, planes[1:])]
            if max(steps) - min(steps) > 0.01 + 0.01 * _median(steps):
                warnings.append(
                    f"{p.name}: ROI {number} {name!r}: contour planes unevenly spaced "
                    f"({min(steps):.3g} to {max(steps):.3g} mm; gaps or skipped planes?)"
                )
        rois.append(roi)
    if not frame_uid:
        frames = {r.frame_of_reference_uid for r in rois if r.frame_of_reference_uid}
        if len(frames) == 1:
            frame_uid = frames.pop()
        else:
            raise DicomContentError(
                f"{p}: no {tag_label('ReferencedFrameOfReferenceSequence')} and the ROIs give "
                f"{len(frames)} frames of reference; expected exactly one"
            )
    return StructureSet(
        rois=tuple(rois),
        frame_of_reference_uid=frame_uid,
        sop_instance_uid=sop_uid,
        label=text(ds, "StructureSetLabel"),
        referenced_series_uid=series_uid,
        source_path=p,
        warnings=tuple(warnings),
    )
