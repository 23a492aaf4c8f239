"""RT Structure Set files into :class:`~dosimetry.structures.StructureSet` (LPS mm).

ROIs keep their number, name, RT ROI Interpreted Type and display colour. CLOSED_PLANAR contours
are kept one per Contour Sequence item, so a plane may hold several contours; holes are inner
contours on the same plane (the rasteriser applies the even-odd rule, which also handles
"keyhole" contours). POINT contours are kept as one-point contours. OPEN_PLANAR and
OPEN_NONPLANAR contours are ignored with a warning. Empty ROIs are kept and reported as warnings,
and so are ROIs whose contour planes are unevenly spaced.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import numpy.typing as npt
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset

from dosimetry.errors import DicomContentError
from dosimetry.io.dicom_file import (
    RT_STRUCTURE_SET,
    as_int,
    decimal_strings,
    expect_sop_class,
    read_dicom,
    require,
    tag_label,
    text,
)
from dosimetry.structures import Contour, ContourGeometricType, Roi, StructureSet

LOGGER = logging.getLogger(__name__)

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


def parse_decimal_strings(values: list[bytes], path: Path, contexts: list[str]) -> list[FloatArray]:
    """Parse DS multi-values (raw bytes: backslash-separated decimal strings, padded with spaces or
    NUL) into float arrays with one numpy conversion for all of them.

    Values equal those of pydicom's conversion (both round each decimal string to the nearest
    float64). An empty value, an empty component, a component that is not a decimal number or a
    non-finite number raises DicomContentError naming the file and ``contexts[i]``.
    """
    if not values:
        return []
    texts = [v.replace(b"\x00", b" ") for v in values]
    counts = np.array([t.count(b"\\") + 1 for t in texts])
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
    return np.split(flat, np.cumsum(counts)[:-1])


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
    """Read an RT Structure Set."""
    p = Path(path)
    return structure_set_from_dataset(read_dicom(p), p)


def structure_set_from_dataset(ds: Dataset, p: Path) -> StructureSet:
    """:func:`load_structure_set` on a dataset already read by :func:`~dosimetry.io.dicom_file.read_dicom`."""
    expect_sop_class(ds, p, [RT_STRUCTURE_SET])
    warnings: list[str] = []
    sop_uid = str(require(ds, "SOPInstanceUID", p))
    frame_uid, series_uid = _referenced_series(ds)
    roi_seq = require(ds, "StructureSetROISequence", p)
    # type 1 in the RT Structure Set IOD (ROI Contour and RT ROI Observations modules, both M);
    # their absence usually means an export cut short
    require(ds, "ROIContourSequence", p, context="the ROI Contour module (is the file incomplete?)")
    require(ds, "RTROIObservationsSequence", p, context="the RT ROI Observations module (is the file incomplete?)")
    names: dict[int, tuple[str, str]] = {}
    for i, item in enumerate(roi_seq, start=1):
        context = f"{tag_label('StructureSetROISequence')} item {i}"
        number = as_int(require(item, "ROINumber", p, context=context), "ROINumber", p, context=context)
        if number in names:
            raise DicomContentError(f"{p}: {tag_label('ROINumber')} {number} appears twice in {tag_label('StructureSetROISequence')}")
        names[number] = (text(item, "ROIName"), text(item, "ReferencedFrameOfReferenceUID"))
    interpreted: dict[int, str] = {}
    for item in ds.get("RTROIObservationsSequence") or []:
        if item.get("ReferencedROINumber") not in (None, ""):
            interpreted[as_int(item.ReferencedROINumber, "ReferencedROINumber", p)] = text(item, "RTROIInterpretedType")
    contours: dict[int, list[Contour]] = {n: [] for n in names}
    colours: dict[int, tuple[int, int, int] | None] = {}
    ignored: dict[int, int] = {}
    pending: list[tuple[int, ContourGeometricType, Dataset, str, bytes | None]] = []
    for i, item in enumerate(ds.get("ROIContourSequence") or [], start=1):
        context = f"{tag_label('ROIContourSequence')} item {i}"
        number = as_int(require(item, "ReferencedROINumber", p, context=context), "ReferencedROINumber", p, context=context)
        if number not in names:
            warnings.append(f"{p.name}: {context} references ROI {number}, which {tag_label('StructureSetROISequence')} does not define; ignored")
            continue
        colours[number] = _colour(item.get("ROIDisplayColor"))
        for j, c in enumerate(item.get("ContourSequence") or [], start=1):
            c_context = f"{context}, {tag_label('ContourSequence')} item {j}"
            gtype_text = text(c, "ContourGeometricType").upper()
            try:
                gtype = ContourGeometricType(gtype_text)
            except ValueError:
                raise DicomContentError(
                    f"{p}: {tag_label('ContourGeometricType')} in {c_context} is {gtype_text!r}, expected one of "
                    + ", ".join(t.value for t in ContourGeometricType)
                ) from None
            if gtype in (ContourGeometricType.OPEN_PLANAR, ContourGeometricType.OPEN_NONPLANAR):
                ignored[number] = ignored.get(number, 0) + 1
                continue
            pending.append((number, gtype, c, c_context, raw_contour_data(c)))
    raw_items = [entry for entry in pending if entry[4] is not None]
    parsed = dict(
        zip(
            (id(entry[2]) for entry in raw_items),
            parse_decimal_strings([entry[4] for entry in raw_items], p, [entry[3] for entry in raw_items]),  # type: ignore[misc]
            strict=True,
        )
    )
    for number, gtype, c, c_context, raw in pending:
        if raw is not None:
            data = parsed[id(c)]
        else:  # already decoded by pydicom: its values
            data = np.asarray(decimal_strings(c, "ContourData", p, context=c_context), dtype=np.float64)
        if len(data) % 3 != 0:
            raise DicomContentError(f"{p}: {tag_label('ContourData')} in {c_context} has {len(data)} values, expected a multiple of 3")
        points = data.reshape(-1, 3)
        declared = c.get("NumberOfContourPoints")
        if declared not in (None, "") and int(declared) != points.shape[0]:
            warnings.append(
                f"{p.name}: ROI {number} {c_context}: {tag_label('NumberOfContourPoints')} says {int(declared)}, "
                f"{tag_label('ContourData')} holds {points.shape[0]} points; the points are used"
            )
        if gtype is ContourGeometricType.CLOSED_PLANAR:
            if points.shape[0] < 3:
                warnings.append(f"{p.name}: ROI {number} {c_context}: closed contour with {points.shape[0]} points ignored")
                continue
            if np.ptp(points[:, 2]) > 1e-3:
                warnings.append(
                    f"{p.name}: ROI {number} {c_context}: CLOSED_PLANAR contour is not in a transverse plane "
                    f"(z spans {np.ptp(points[:, 2]):.3f} mm); its mean z is used"
                )
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
        planes = roi.contour_planes_mm()
        if planes.size >= 3:
            steps = np.diff(planes)
            if np.ptp(steps) > 0.01 + 0.01 * float(np.median(steps)):
                warnings.append(
                    f"{p.name}: ROI {number} {name!r}: contour planes unevenly spaced "
                    f"({float(steps.min()):.3g} to {float(steps.max()):.3g} mm; gaps or skipped planes?)"
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
