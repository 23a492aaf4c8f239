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
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset

from dosimetry.errors import DicomContentError
from dosimetry.io.contour_data import parse_decimal_flat, plane_estimates, raw_contour_data, z_spans
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


def _pydicom_roi_definitions(roi_seq: Iterable[Dataset], p: Path) -> Iterator[tuple[object, str, str]]:
    for i, item in enumerate(roi_seq, start=1):
        context = f"{tag_label('StructureSetROISequence')} item {i}"
        yield require(item, "ROINumber", p, context=context), text(item, "ROIName"), text(item, "ReferencedFrameOfReferenceUID")


def _pydicom_observations(ds: Dataset) -> Iterator[tuple[object, str]]:
    for item in ds.get("RTROIObservationsSequence") or []:
        yield item.get("ReferencedROINumber"), text(item, "RTROIInterpretedType")


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
        rgb = [int(float(v)) for v in value]  # type: ignore[attr-defined]  # a MultiValue, or not iterable (TypeError)
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
    """Read an RT Structure Set (pydicom reads the file; Contour Data values are converted by
    :mod:`dosimetry.io.contour_data`, all contours of the file with one numpy call)."""
    p = Path(path)
    return structure_set_from_dataset(read_dicom(p), p)


#: per ROI Contour item: (Referenced ROI Number, ROI Display Color or None, contours as (geometric
#: type text, Number of Contour Points or None, Contour Data bytes or None when pydicom already
#: decoded them, the pydicom item))
RoiContours = list[tuple[object, object, list[tuple[str, object, "bytes | None", Dataset]]]]


def _pydicom_roi_contours(ds: Dataset) -> RoiContours:
    out: RoiContours = []
    for item in ds.get("ROIContourSequence") or []:
        number = item.get("ReferencedROINumber")
        contours = [
            (text(c, "ContourGeometricType"), c.get("NumberOfContourPoints"), raw_contour_data(c), c)
            for c in item.get("ContourSequence") or []
        ]
        out.append((number, item.get("ROIDisplayColor"), contours))
    return out


def structure_set_from_dataset(ds: Dataset, p: Path) -> StructureSet:
    """:func:`load_structure_set` on a dataset already read by :func:`~dosimetry.io.dicom_file.read_dicom`."""
    expect_sop_class(ds, p, [RT_STRUCTURE_SET])
    warnings: list[str] = []
    sop_uid = str(require(ds, "SOPInstanceUID", p))
    frame_uid, series_uid = _referenced_series(ds)
    definitions = _pydicom_roi_definitions(require(ds, "StructureSetROISequence", p), p)
    # type 1 in the RT Structure Set IOD (ROI Contour and RT ROI Observations modules, both M);
    # their absence usually means an export cut short
    require(ds, "ROIContourSequence", p, context="the ROI Contour module (is the file incomplete?)")
    require(ds, "RTROIObservationsSequence", p, context="the RT ROI Observations module (is the file incomplete?)")
    names: dict[int, tuple[str, str]] = {}
    for i, (number_value, name, roi_frame) in enumerate(definitions, start=1):
        context = f"{tag_label('StructureSetROISequence')} item {i}"
        number = as_int(number_value, "ROINumber", p, context=context)
        if number in names:
            raise DicomContentError(f"{p}: {tag_label('ROINumber')} {number} appears twice in {tag_label('StructureSetROISequence')}")
        names[number] = (name, roi_frame)
    interpreted: dict[int, str] = {}
    for referenced_number, interpreted_type in _pydicom_observations(ds):
        if referenced_number not in (None, ""):
            interpreted[as_int(referenced_number, "ReferencedROINumber", p)] = interpreted_type
    contours: dict[int, list[Contour]] = {n: [] for n in names}
    colours: dict[int, tuple[int, int, int] | None] = {}
    ignored: dict[int, int] = {}
    # (ROI number, type, pydicom item, i, j, raw Contour Data or None, declared points)
    pending: list[tuple[int, ContourGeometricType, Dataset, int, int, bytes | None, object]] = []
    for i, (number_value, colour_value, contour_items) in enumerate(_pydicom_roi_contours(ds), start=1):
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
        parse_decimal_flat([e[5] for e in raw_entries], p, _ContourContexts([(e[3], e[4]) for e in raw_entries]))  # type: ignore[misc]
        if raw_entries
        else (np.empty(0), np.empty(0, dtype=np.intp))
    )
    flat.flags.writeable = False  # contours are read-only views of it, which Contour keeps uncopied
    ends = np.cumsum(counts).tolist()
    spans = z_spans(flat, counts)  # z range of each raw contour (None: computed per contour)
    all_points = flat.reshape(-1, 3) if spans is not None else flat
    estimates, certain = plane_estimates(flat, counts) if spans is not None else ([], [])
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
