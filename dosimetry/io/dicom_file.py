"""Reading one DICOM file safely: every failure becomes a project error naming the file.

The loaders never call :func:`pydicom.dcmread` directly; they go through :func:`read_dicom`, which
turns "not DICOM", "truncated" and "wrong kind of object" into one readable
:class:`~dosimetry.errors.InputFileError` / :class:`~dosimetry.errors.DicomContentError` line, and
through :func:`require` / :func:`optional_float` / :func:`required_int`, which name the missing or
malformed tag.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import pydicom
from pydicom.dataset import Dataset
from pydicom.datadict import dictionary_VR, dictionary_has_tag, keyword_for_tag, tag_for_keyword
from pydicom.dataelem import RawDataElement
from pydicom.errors import InvalidDicomError
from pydicom.tag import Tag

from dosimetry.errors import DicomContentError, InputFileError
from dosimetry.io.dicom_probe import (
    DeadlineReader,
    ParseTimeLimitExceeded,
    probe_dicom_file,
    time_limit_reason,
)

LOGGER = logging.getLogger(__name__)

UNDEFINED_LENGTH = 0xFFFFFFFF

#: Elements left undecoded by :func:`read_dicom` (their length is still checked); the loaders
#: parse them with :func:`decimal_strings` (pydicom's DS conversion is slow for long contours).
LAZY_TAGS = frozenset({0x30060050})  # (3006,0050) ContourData

# SOP Class UIDs (PS3.4 B.5)
CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
ENHANCED_CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2.1"
RT_DOSE = "1.2.840.10008.5.1.4.1.1.481.2"
RT_STRUCTURE_SET = "1.2.840.10008.5.1.4.1.1.481.3"
RT_PLAN = "1.2.840.10008.5.1.4.1.1.481.5"
RT_ION_PLAN = "1.2.840.10008.5.1.4.1.1.481.8"
SPATIAL_REGISTRATION = "1.2.840.10008.5.1.4.1.1.66.1"
DEFORMABLE_SPATIAL_REGISTRATION = "1.2.840.10008.5.1.4.1.1.66.3"

SOP_CLASS_NAMES: dict[str, str] = {
    CT_IMAGE: "CT Image",
    ENHANCED_CT_IMAGE: "Enhanced CT Image",
    RT_DOSE: "RT Dose",
    RT_STRUCTURE_SET: "RT Structure Set",
    RT_PLAN: "RT Plan",
    RT_ION_PLAN: "RT Ion Plan",
    SPATIAL_REGISTRATION: "Spatial Registration",
    DEFORMABLE_SPATIAL_REGISTRATION: "Deformable Spatial Registration",
}

#: Modality (0008,0060) that goes with each SOP class, used when a file lacks SOPClassUID.
MODALITY_OF_SOP_CLASS: dict[str, str] = {
    CT_IMAGE: "CT",
    ENHANCED_CT_IMAGE: "CT",
    RT_DOSE: "RTDOSE",
    RT_STRUCTURE_SET: "RTSTRUCT",
    RT_PLAN: "RTPLAN",
    RT_ION_PLAN: "RTPLAN",
    SPATIAL_REGISTRATION: "REG",
    DEFORMABLE_SPATIAL_REGISTRATION: "REG",
}


def one_line(message: object) -> str:
    """``message`` with all whitespace runs (newlines included) collapsed to single spaces."""
    return " ".join(str(message).split())


@functools.lru_cache(maxsize=512)
def tag_label(keyword: str) -> str:
    """``"(3004,000E) DoseGridScaling"`` for a keyword (or the keyword alone if unknown); cached,
    as messages and contexts ask for the same few labels many times."""
    tag = tag_for_keyword(keyword)
    if tag is None or not dictionary_has_tag(tag):
        return keyword
    t = Tag(tag)
    return f"({t.group:04X},{t.element:04X}) {keyword}"


@contextmanager
def quiet_pydicom() -> Iterator[None]:
    """pydicom reports value-representation oddities (for example a UID component with a leading
    zero) through its logger and warnings; they are harmless for reading, so they are kept out of
    the command's stderr and logged at debug level by the caller instead."""
    logger = logging.getLogger("pydicom")
    previous = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(previous)


def read_dicom(path: str | Path, *, stop_before_pixels: bool = False) -> Dataset:
    """Read ``path`` as a DICOM Part 10 file; raise InputFileError on any failure.

    Files without the 128-byte preamble are accepted only when they parse into a dataset with
    SOP Class and SOP Instance UIDs (older exports). Every element is decoded once here.
    """
    with quiet_pydicom():
        return _read_dicom(Path(path), stop_before_pixels)


def _read_dicom(path: Path, stop_before_pixels: bool) -> Dataset:
    p = path
    if not p.exists():
        raise InputFileError(f"{p}: no such file")
    if p.is_dir():
        raise InputFileError(f"{p}: is a directory, expected a DICOM file")
    probe_dicom_file(p)  # microseconds; refuses non-DICOM and oversized files before pydicom parses them
    ds: Dataset
    try:
        with DeadlineReader(p) as handle:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    ds = pydicom.dcmread(handle, stop_before_pixels=stop_before_pixels)
            except InvalidDicomError:
                handle.seek(0)
                ds = _read_without_preamble(p, handle, stop_before_pixels)
    except ParseTimeLimitExceeded:
        raise InputFileError(f"{p}: {time_limit_reason()}") from None
    except InputFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - pydicom's parser fails in many ways (struct.error, EOFError, ...) on corrupt bytes
        raise InputFileError(f"{p}: cannot be read as DICOM, the file is truncated or corrupt ({type(exc).__name__}: {one_line(exc)})") from None
    check_complete(ds, p)
    _remember_identity(p, ds)
    return ds


#: (Modality, SOPClassUID, SOPInstanceUID) of the files :func:`read_dicom` accepted, by path, with
#: the file's (size, mtime_ns, inode) when read; bounded (cleared when it reaches
#: :data:`_IDENTITIES_MAX_ENTRIES`). Measured reason (issue 20, clinical case, 327 files): the
#: provenance and the treatment-record search read every header again after discovery, 0.25-0.3 s CPU.
_IDENTITIES: dict[str, tuple[tuple[int, int, int], tuple[str, str, str]]] = {}
_IDENTITIES_MAX_ENTRIES = 20_000  # a few MB at most


def _file_state(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns, st.st_ino


def _remember_identity(path: Path, ds: Dataset) -> None:
    state = _file_state(path)
    if state is None:
        return
    if len(_IDENTITIES) >= _IDENTITIES_MAX_ENTRIES:
        _IDENTITIES.clear()
    _IDENTITIES[os.fspath(path)] = (state, (str(ds.get("Modality", "")), str(ds.get("SOPClassUID", "")), str(ds.get("SOPInstanceUID", ""))))


def header_identity(path: str | Path) -> tuple[str, str, str]:
    """``(Modality, SOPClassUID, SOPInstanceUID)`` of ``path``, each ``str(ds.get(keyword, ""))``
    of its header: what :func:`read_dicom` read when it accepted the unchanged file (same path,
    size, modification time and inode) in this process, else read with :func:`read_dicom_header`
    (InputFileError when the file is not DICOM)."""
    p = Path(path)
    known = _IDENTITIES.get(os.fspath(p))
    if known is not None and known[0] == _file_state(p):
        return known[1]
    ds = read_dicom_header(p, ["Modality"])
    return str(ds.get("Modality", "")), str(ds.get("SOPClassUID", "")), str(ds.get("SOPInstanceUID", ""))


def known_sop_class(path: str | Path) -> str | None:
    """``str(ds.get("SOPClassUID", ""))`` of ``path`` when :func:`read_dicom` accepted the unchanged
    file in this process (see :func:`header_identity`), else None (not known: read the file)."""
    p = Path(path)
    known = _IDENTITIES.get(os.fspath(p))
    if known is not None and known[0] == _file_state(p):
        return known[1][1]
    return None


def _read_without_preamble(path: Path, handle: DeadlineReader, stop_before_pixels: bool) -> Dataset:
    """Old exports may lack the 128-byte preamble and file meta: accept them only when the forced
    read yields a dataset with a SOP Class UID and a SOP Instance UID that look like UIDs."""
    not_dicom = InputFileError(f"{path}: not a DICOM file (no DICM preamble or recognisable DICOM header)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(handle, force=True, stop_before_pixels=stop_before_pixels)
            sop_class = str(ds.get("SOPClassUID", ""))
            sop_instance = str(ds.get("SOPInstanceUID", ""))
    except ParseTimeLimitExceeded:
        raise
    except Exception:  # noqa: BLE001 - any failure of a forced read means "not DICOM"
        raise not_dicom from None
    uid = re.compile(r"^[0-9]+(\.[0-9]+)+$")
    if not (uid.match(sop_class) and uid.match(sop_instance)):
        raise not_dicom
    LOGGER.info("%s: no DICOM preamble/file meta; read as a raw dataset", path)
    return ds


def read_dicom_header(path: str | Path, keywords: Iterable[str]) -> Dataset:
    """Only the elements ``keywords`` of ``path`` (no pixel data, nothing else decoded), after the
    same probe, size and time limits as :func:`read_dicom`; InputFileError when the file is not
    DICOM (a file without preamble must hold UID-shaped SOPClassUID and SOPInstanceUID)."""
    p = Path(path)
    tags = list(dict.fromkeys(["SOPClassUID", "SOPInstanceUID", *keywords]))
    probe_dicom_file(p)
    uid = re.compile(r"^[0-9]+(\.[0-9]+)+$")
    try:
        with quiet_pydicom(), DeadlineReader(p) as handle:
            try:
                ds = pydicom.dcmread(handle, stop_before_pixels=True, specific_tags=tags)
            except InvalidDicomError:
                handle.seek(0)
                ds = pydicom.dcmread(handle, stop_before_pixels=True, specific_tags=tags, force=True)
                if not (uid.match(str(ds.get("SOPClassUID", ""))) and uid.match(str(ds.get("SOPInstanceUID", "")))):
                    raise InputFileError(f"{p}: not a DICOM file (no DICM preamble or recognisable DICOM header)") from None
    except ParseTimeLimitExceeded:
        raise InputFileError(f"{p}: {time_limit_reason()}") from None
    except InputFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - pydicom raises many types on arbitrary bytes
        raise InputFileError(f"{p}: unreadable DICOM header ({type(exc).__name__}: {one_line(exc)})") from None
    return ds


def check_pixel_data_extent(path: str | Path) -> None:
    """Without reading the voxels: InputFileError when the file ends before the end of its
    (7FE0,0010) PixelData (the truncation :func:`read_dicom` finds when it reads the pixels), and
    DicomContentError when a native PixelData is shorter than Rows x Columns x NumberOfFrames x
    BitsAllocated / 8. Encapsulated (compressed) pixel data are checked when decoded.

    pydicom leaves the file at the PixelData tag when it stops before the pixels; the element's
    header (tag, VR, 4-byte length) is read from there (PS3.5 7.1)."""
    p = Path(path)
    size = p.stat().st_size
    try:
        with quiet_pydicom(), DeadlineReader(p) as handle:
            try:
                ds = pydicom.dcmread(handle, stop_before_pixels=True)
            except InvalidDicomError:
                handle.seek(0)
                ds = pydicom.dcmread(handle, stop_before_pixels=True, force=True)
            at = handle.tell()
            head = handle.read(12)
    except ParseTimeLimitExceeded:
        raise InputFileError(f"{p}: {time_limit_reason()}") from None
    except Exception as exc:  # noqa: BLE001 - pydicom's parser fails in many ways on corrupt bytes
        raise InputFileError(f"{p}: cannot be read as DICOM, the file is truncated or corrupt ({type(exc).__name__}: {one_line(exc)})") from None
    implicit_vr, little_endian = ds.original_encoding
    order: Literal["little", "big"] = "big" if little_endian is False else "little"
    tag_bytes = (0x7FE0).to_bytes(2, order) + (0x0010).to_bytes(2, order)
    if len(head) < 8 or head[:4] != tag_bytes:
        raise DicomContentError(f"{p}: required tag {tag_label('PixelData')} is missing")
    if not implicit_vr:  # explicit VR (OB/OW): 2 reserved bytes, then a 4-byte length
        if len(head) < 12:
            raise InputFileError(f"{p}: truncated file: the file ends inside the (7FE0,0010) PixelData header")
        length, value_at = int.from_bytes(head[8:12], order), at + 12
    else:  # implicit VR: a 4-byte length right after the tag
        length, value_at = int.from_bytes(head[4:8], order), at + 8
    if length == UNDEFINED_LENGTH:
        return
    held = size - value_at
    if held < length:
        raise InputFileError(f"{p}: truncated file: (7FE0,0010) PixelData holds {max(held, 0)} of its {length} declared bytes")
    try:
        frames = int(str(ds.get("NumberOfFrames", 1) or 1).strip())
        expected = frames * int(ds.Rows) * int(ds.Columns) * int(ds.BitsAllocated) // 8
    except (AttributeError, TypeError, ValueError):
        return  # the loader names the missing or malformed tag
    if length < expected:
        raise DicomContentError(
            f"{p}: {tag_label('PixelData')} holds {length} bytes, expected {expected} "
            "(NumberOfFrames x Rows x Columns x BitsAllocated / 8)"
        )


#: Raw elements already decoded without error (:func:`check_complete`), by everything the decoding
#: depends on; bounded: cleared when it reaches :data:`_DECODED_MAX_ENTRIES`.
_DECODED: dict[tuple[Any, ...], None] = {}
_DECODED_MAX_ENTRIES = 20_000  # about 8 MB at most (a clinical patient: 2,700 entries, 1 MB)
#: Values longer than this are decoded every time (long values rarely repeat; keeps the memo small).
_DECODED_MAX_VALUE_BYTES = 512
#: A sequence (explicit VR SQ) of at most this many bytes whose items all passed is remembered too.
_DECODED_MAX_SEQUENCE_BYTES = 4096
#: VRs whose decoding depends on nothing but the bytes, the VR, the byte order and the character set
#: (not UN: pydicom may look the VR up from the tag and its context).
_MEMO_VRS = frozenset({"AE", "AS", "AT", "CS", "DA", "DS", "DT", "FD", "FL", "IS", "LO", "LT", "OB", "OD", "OF",
                       "OL", "OV", "OW", "PN", "SH", "SL", "SS", "ST", "SV", "TM", "UC", "UI", "UL", "UR", "US",
                       "UT", "UV"})


@functools.lru_cache(maxsize=1024)
def _implicit_vr(tag: int) -> str | None:
    """The VR pydicom decodes an implicit-VR value of the public ``tag`` with: its data dictionary
    VR (None when the dictionary does not know the tag; an ambiguous one such as "US or SS" is
    resolved from the dataset, so it is in no memo VR set)."""
    try:
        return str(dictionary_VR(tag))
    except KeyError:
        return None


def _decoding_settings() -> tuple[Any, ...]:
    """The pydicom settings a value's decoding depends on (part of every :data:`_DECODED` key)."""
    from pydicom import config
    from pydicom.hooks import hooks

    return (
        config.settings.reading_validation_mode, config.use_DS_decimal, config.use_DS_numpy, config.use_IS_numpy,
        config.datetime_conversion, config.replace_un_with_known_vr, config.convert_wrong_length_to_UN,
        hooks.raw_element_value, hooks.raw_element_vr,
    )


def check_complete(ds: Dataset, path: Path) -> None:
    """Find truncation here rather than later: pydicom stops silently at end of file, leaving the
    last value (or sequence) shorter than its declared length. Also decodes every element once
    (:data:`LAZY_TAGS` aside), so that a value pydicom cannot decode is reported here as a
    DicomContentError naming the file and the tag. :func:`read_dicom` calls it on every file.

    Measured reason for the memo (issue 20, clinical case, 327 files, 28,000 elements): decoding
    every element cost 0.57 s CPU, and the slices of a CT series repeat most values byte for byte. A
    public-tag value of a VR in :data:`_MEMO_VRS` with the same bytes, VR, byte order, character set
    and pydicom settings as one decoded before without error or warning decodes the same way, so it
    is not decoded again here (it stays raw, and pydicom decodes it when it is read); anything else
    is decoded as before. In an implicit-VR file the VR is the data dictionary's for the tag (what
    pydicom decodes the value with; an ambiguous one is never remembered). Measured reason for
    implicit VR (issue 20, ``dosimetry dvh`` of the real-size breast plan, whose RT Structure Set is
    implicit VR: 442 Contour Image Sequences, most repeating byte for byte between the ROIs'
    contours on one CT slice): check_complete of the structure set took 0.06 s CPU."""
    truncated = InputFileError  # alias for the messages below
    settings = _decoding_settings()
    caught: list[warnings.WarningMessage] = []

    def walk(dataset: Dataset) -> None:
        charset = None
        for tag in list(dataset.keys()):
            raw = dataset.get_item(tag)
            memo_key: tuple[Any, ...] | None = None
            if isinstance(raw, RawDataElement) and raw.length != UNDEFINED_LENGTH and raw.value is not None:
                if len(raw.value) < raw.length:
                    t = Tag(tag)
                    keyword = keyword_for_tag(t) or ""
                    raise truncated(
                        f"{path}: truncated file: ({t.group:04X},{t.element:04X}) {keyword} holds {len(raw.value)} "
                        f"of its {raw.length} declared bytes"
                    )
                vr = raw.VR if raw.VR is not None or not raw.is_implicit_VR else _implicit_vr(tag)
                limit = _DECODED_MAX_SEQUENCE_BYTES if vr == "SQ" else _DECODED_MAX_VALUE_BYTES
                if (vr in _MEMO_VRS or vr == "SQ") and len(raw.value) <= limit and not (tag >> 16) & 1:
                    if charset is None:
                        found = getattr(dataset, "original_character_set", None) or getattr(dataset, "_character_set", None)
                        charset = tuple(found) if isinstance(found, list) else found
                    memo_key = (int(tag), raw.VR, bytes(raw.value), raw.is_little_endian, raw.is_implicit_VR, charset, settings)
                    if memo_key in _DECODED:
                        continue
            if tag in LAZY_TAGS and isinstance(raw, RawDataElement):
                continue  # parsed by the loader that needs it (fast path for large numeric strings)
            warned = len(caught)
            try:
                elem = dataset[tag]
            except Exception as exc:  # noqa: BLE001 - any failure to decode a value is a content error of this file
                t = Tag(tag)
                value = raw.value if isinstance(raw, RawDataElement) else None
                shown = value.decode("latin-1", errors="replace").strip() if isinstance(value, bytes) else value
                raise DicomContentError(
                    f"{path}: ({t.group:04X},{t.element:04X}) {keyword_for_tag(t) or ''} has the invalid value "
                    f"{shown!r} for its VR {getattr(raw, 'VR', None) or dictionary_VR_or_unknown(t)} ({one_line(exc)})"
                ) from None
            if elem.VR == "SQ":
                for item in elem.value:
                    walk(item)
            if memo_key is not None and len(caught) == warned:  # a value that warns is decoded again (quietly) each time
                if len(_DECODED) >= _DECODED_MAX_ENTRIES:
                    _DECODED.clear()
                _DECODED[memo_key] = None

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            walk(ds)
            meta = getattr(ds, "file_meta", None)
            if meta is not None:
                walk(meta)
    except (InputFileError, DicomContentError):
        raise
    except Exception as exc:  # noqa: BLE001 - corrupt sequences fail inside pydicom in many ways
        raise InputFileError(f"{path}: cannot be read as DICOM, the file is truncated or corrupt ({type(exc).__name__}: {one_line(exc)})") from None


def dictionary_VR_or_unknown(tag: int) -> str:
    try:
        return str(dictionary_VR(tag))
    except KeyError:
        return "unknown"


def sop_class_uid(ds: Dataset) -> str:
    """The SOP Class UID from the dataset, else from the file meta information ("" when neither)."""
    value = ds.get("SOPClassUID")
    if value:
        return str(value)
    meta = getattr(ds, "file_meta", None)
    if meta is not None and meta.get("MediaStorageSOPClassUID"):
        return str(meta.MediaStorageSOPClassUID)
    return ""


def describe_sop_class(uid: str) -> str:
    return SOP_CLASS_NAMES.get(uid, f"SOP class {uid or '(none)'}")


def expect_sop_class(ds: Dataset, path: Path, allowed: Iterable[str]) -> str:
    """Return the SOP Class UID when it is one of ``allowed``; else DicomContentError naming both."""
    allowed = tuple(allowed)
    uid = sop_class_uid(ds)
    if uid in allowed:
        modality = str(ds.get("Modality", "")).strip()
        expected = MODALITY_OF_SOP_CLASS[uid]
        if modality and modality != expected:
            raise DicomContentError(
                f"{path}: {tag_label('Modality')} is {modality!r} but the SOP class is {describe_sop_class(uid)}; expected Modality {expected}"
            )
        return uid
    if not uid:
        modality = str(ds.get("Modality", ""))
        matching = [a for a in allowed if MODALITY_OF_SOP_CLASS.get(a) == modality]
        if len(matching) == 1:
            return matching[0]
    wanted = " or ".join(describe_sop_class(a) for a in allowed)
    modality = ds.get("Modality", "")
    raise DicomContentError(
        f"{path}: {tag_label('SOPClassUID')} is {describe_sop_class(uid)} (Modality {modality or 'absent'}), expected {wanted}"
    )


def require(ds: Dataset, keyword: str, path: Path, *, context: str = "") -> Any:
    """The value of ``keyword``; DicomContentError when absent or empty."""
    value = ds.get(keyword)
    if value is None or (isinstance(value, (str, bytes, list, tuple)) and len(value) == 0) or (
        hasattr(value, "__len__") and not isinstance(value, (str, bytes)) and len(value) == 0
    ):
        where = f" in {context}" if context else ""
        raise DicomContentError(f"{path}: required tag {tag_label(keyword)} is missing or empty{where}")
    return value


def _raw_text(value: Any) -> str:
    return str(value).strip()


def as_float(value: Any, keyword: str, path: Path, *, context: str = "") -> float:
    where = f" in {context}" if context else ""
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise DicomContentError(f"{path}: {tag_label(keyword)}{where} is {_raw_text(value)!r}, expected a number") from None
    if result != result or result in (float("inf"), float("-inf")):
        raise DicomContentError(f"{path}: {tag_label(keyword)}{where} is {result}, expected a finite number")
    return result


def as_int(value: Any, keyword: str, path: Path, *, context: str = "") -> int:
    where = f" in {context}" if context else ""
    text = _raw_text(value)
    try:
        number = float(text) if not isinstance(value, int) else value
    except (TypeError, ValueError):
        raise DicomContentError(f"{path}: {tag_label(keyword)}{where} is {text!r}, expected an integer") from None
    if number != int(number):
        raise DicomContentError(f"{path}: {tag_label(keyword)}{where} is {text!r}, expected an integer")
    return int(number)


def required_float(ds: Dataset, keyword: str, path: Path, *, context: str = "") -> float:
    return as_float(require(ds, keyword, path, context=context), keyword, path, context=context)


def required_int(ds: Dataset, keyword: str, path: Path, *, context: str = "") -> int:
    return as_int(require(ds, keyword, path, context=context), keyword, path, context=context)


def optional_float(ds: Dataset, keyword: str, path: Path, *, context: str = "") -> float | None:
    value = ds.get(keyword)
    if value is None or value == "":
        return None
    return as_float(value, keyword, path, context=context)


def optional_int(ds: Dataset, keyword: str, path: Path, *, context: str = "") -> int | None:
    value = ds.get(keyword)
    if value is None or value == "":
        return None
    return as_int(value, keyword, path, context=context)


def float_vector(ds: Dataset, keyword: str, path: Path, length: int | None = None, *, context: str = "") -> list[float]:
    """A required multi-valued numeric tag as floats (checks the number of values when given)."""
    value = require(ds, keyword, path, context=context)
    items = list(value) if not isinstance(value, (str, bytes, int, float)) else [value]
    numbers = [as_float(v, keyword, path, context=context) for v in items]
    if length is not None and len(numbers) != length:
        where = f" in {context}" if context else ""
        raise DicomContentError(f"{path}: {tag_label(keyword)}{where} has {len(numbers)} values, expected {length}")
    return numbers


def decimal_strings(ds: Dataset, keyword: str, path: Path, *, context: str = "") -> list[float]:
    """A required DS (or numeric) multi-value as floats, parsing the raw bytes directly when the
    element has not been decoded yet."""
    tag = tag_for_keyword(keyword)
    raw = ds.get_item(tag) if tag is not None else None
    if isinstance(raw, RawDataElement) and isinstance(raw.value, (bytes, bytearray)) and raw.VR in (None, "DS"):
        where = f" in {context}" if context else ""
        parts = bytes(raw.value).decode("ascii", errors="replace").replace("\x00", " ").split("\\")
        try:
            values = [float(v) for v in parts if v.strip()]
        except ValueError:
            bad = next(v for v in parts if v.strip() and not _is_float(v))
            raise DicomContentError(f"{path}: {tag_label(keyword)}{where} holds {bad.strip()!r}, expected decimal numbers") from None
        if not values:
            raise DicomContentError(f"{path}: required tag {tag_label(keyword)} is missing or empty{where}")
        if not all(v == v and abs(v) != float("inf") for v in values):
            raise DicomContentError(f"{path}: {tag_label(keyword)}{where} holds non-finite numbers")
        return values
    return float_vector(ds, keyword, path, context=context)


def _is_float(text_value: str) -> bool:
    try:
        float(text_value)
    except ValueError:
        return False
    return True


def text(ds: Dataset, keyword: str) -> str:
    value = ds.get(keyword)
    return "" if value is None else str(value).strip()
