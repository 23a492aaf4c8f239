"""CT image series: geometry and slice order (and, on request, the HU volume).

Slices are grouped by SeriesInstanceUID, checked for a common orientation, pixel spacing, matrix
size, in-plane position and frame of reference, and ordered along the slice normal into a
canonical :class:`~dosimetry.grid.RectilinearGrid`. Unevenly spaced slices are kept (the grid's z
may be non-uniform) and reported as a warning; repeated slice positions are an error.

A folder is scanned with the one folder walker (:func:`dosimetry.io.folder_walk.walk_files`).
What it leaves out (links to folders, broken links, unreadable folders, ...) and the files that are
not readable DICOM are listed in ``CtSeries.skipped`` and as warnings ``skipped NAME: REASON`` (the
text the course loader uses, so a report listing both shows one line), and logged with their path;
files that are DICOM but not CT Image are not used, as documented, and not listed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset

from dosimetry.errors import (
    ArgumentError,
    ConsistencyError,
    DicomContentError,
    DosimetryError,
    GeometryError,
    InputFileError,
    UnsupportedDataError,
)
from dosimetry.grid import RectilinearGrid
from dosimetry.io.folder_walk import SkippedFile, walk_files
from dosimetry.io.dicom_file import (
    CT_IMAGE,
    expect_sop_class,
    float_vector,
    one_line,
    optional_float,
    read_dicom,
    require,
    required_int,
    tag_label,
    text,
)
from dosimetry.io.orientation import CanonicalLayout, axis_map, canonical_layout, orientation_name

LOGGER = logging.getLogger(__name__)

#: Relative deviation of a slice gap from the median gap reported as inconsistent spacing.
SPACING_RTOL = 0.01


@dataclass(frozen=True, eq=False)
class CtSeries:
    """Geometry of a CT series; ``slice_paths`` / ``sop_instance_uids`` follow ``grid.z_mm``."""

    series_instance_uid: str
    study_instance_uid: str
    frame_of_reference_uid: str
    patient_id: str
    grid: RectilinearGrid
    slice_paths: tuple[Path, ...]
    sop_instance_uids: tuple[str, ...]
    orientation: str
    layout: CanonicalLayout = field(repr=False)
    description: str = ""
    warnings: tuple[str, ...] = field(default=())
    #: files of the scanned folder not read, and why (module docstring); also in ``warnings``
    skipped: tuple[SkippedFile, ...] = field(default=())

    @property
    def n_slices(self) -> int:
        return len(self.slice_paths)


def _expand(paths: str | Path | Iterable[str | Path]) -> tuple[list[Path], list[SkippedFile]]:
    """The files to read, and what the folder walker left out (with its reason)."""
    if isinstance(paths, (str, Path)):
        p = Path(paths)
        if p.is_dir():
            walk = walk_files(p)
            return list(walk.files), list(walk.skipped)
        return [p], []
    return [Path(q) for q in paths], []


def _reason(exc: DosimetryError, path: Path) -> str:
    """The error's message without its leading path (the warning names the file)."""
    message, prefix = one_line(exc), f"{path}: "
    return message[len(prefix):] if message.startswith(prefix) else message


def load_ct_series(paths: str | Path | Sequence[str | Path], *, series_instance_uid: str | None = None) -> CtSeries:
    """Read the geometry of one CT series from files or a folder.

    Non-CT files in a folder are ignored; when several CT series are present,
    ``series_instance_uid`` must name one.
    """
    files, skipped = _expand(paths)
    if not files:
        raise InputFileError(f"{paths}: no files")
    folder_scan = isinstance(paths, (str, Path)) and Path(paths).is_dir()
    headers = []
    for path in files:
        if folder_scan:
            try:
                ds = read_dicom(path, stop_before_pixels=True)
            except InputFileError as exc:
                skipped.append(SkippedFile(path, _reason(exc, path)))
                continue
            if str(ds.get("SOPClassUID", "")) != CT_IMAGE:
                continue
        else:
            ds = read_dicom(path, stop_before_pixels=True)
            expect_sop_class(ds, path, [CT_IMAGE])
        headers.append((path, ds))
    for entry in skipped:
        LOGGER.warning("CT series in %s: skipped %s: %s", paths, entry.path, entry.reason)
    if not headers:
        listing = "".join(f"; skipped {e.path.name}: {e.reason}" for e in skipped)
        raise InputFileError(f"{paths}: no CT Image files found{listing}")
    series = ct_series_from_headers(headers, series_instance_uid=series_instance_uid, where=str(paths))
    if not skipped:
        return series
    notes = tuple(f"skipped {e.path.name}: {e.reason}" for e in skipped)
    return replace(series, warnings=(*series.warnings, *notes), skipped=tuple(skipped))


def _allclose(values: list[float], reference: list[float], *, atol: float) -> bool:
    """``np.allclose(values, reference, atol=atol)`` (rtol 1e-05) for two lists of finite floats of
    the same length (what :func:`float_vector` returns), with numpy's test ``|v - r| <= atol + rtol
    |r|`` in the same float64 arithmetic. Measured reason (issue 20, clinical case, two 160-slice
    series): np.allclose on 2- and 6-value lists costs about 25 us per call, 640 calls per load; this
    loop a few microseconds."""
    return len(values) == len(reference) and all(
        abs(v - r) <= atol + 1e-05 * abs(r) or v == r for v, r in zip(values, reference)
    )


def ct_series_from_headers(
    headers: Sequence[tuple[Path, Dataset]], *, series_instance_uid: str | None = None, where: str = "CT files"
) -> CtSeries:
    """:func:`load_ct_series` on (path, dataset) pairs already read (CT Image only)."""
    paths = where
    headers = list(headers)
    series = sorted({str(require(ds, "SeriesInstanceUID", p)) for p, ds in headers})
    if series_instance_uid is None:
        if len(series) > 1:
            raise ArgumentError(f"{paths}: {len(series)} CT series found {series}; give series_instance_uid")
        series_instance_uid = series[0]
    headers = [(p, ds) for p, ds in headers if str(ds.SeriesInstanceUID) == series_instance_uid]
    if not headers:
        raise ArgumentError(f"{paths}: no CT slice of series {series_instance_uid}")
    first_path, first = headers[0]
    iop = float_vector(first, "ImageOrientationPatient", first_path, 6)
    spacing = float_vector(first, "PixelSpacing", first_path, 2)
    rows = required_int(first, "Rows", first_path)
    columns = required_int(first, "Columns", first_path)
    frame = str(require(first, "FrameOfReferenceUID", first_path))
    amap = axis_map(iop, first_path)
    positions = []
    for p, ds in headers:
        if not _allclose(float_vector(ds, "ImageOrientationPatient", p, 6), iop, atol=1e-4):
            raise ConsistencyError(f"{p}: {tag_label('ImageOrientationPatient')} differs from {first_path.name} in series {series_instance_uid}")
        if not _allclose(float_vector(ds, "PixelSpacing", p, 2), spacing, atol=1e-4):
            raise ConsistencyError(f"{p}: {tag_label('PixelSpacing')} differs from {first_path.name} in series {series_instance_uid}")
        if required_int(ds, "Rows", p) != rows or required_int(ds, "Columns", p) != columns:
            raise ConsistencyError(f"{p}: image size differs from {first_path.name} in series {series_instance_uid}")
        if str(require(ds, "FrameOfReferenceUID", p)) != frame:
            raise ConsistencyError(f"{p}: {tag_label('FrameOfReferenceUID')} differs from {first_path.name} in series {series_instance_uid}")
        positions.append(float_vector(ds, "ImagePositionPatient", p, 3))
    pos = np.asarray(positions)
    in_plane = [a for a in range(3) if a != amap.frame_axis]
    if not np.allclose(pos[:, in_plane], pos[0, in_plane], atol=0.01):
        raise UnsupportedDataError(
            f"{first_path}: slices of series {series_instance_uid} are shifted in-plane ({tag_label('ImagePositionPatient')} varies "
            "across slices: gantry tilt or a sheared stack); only straight stacks are supported"
        )
    order = np.argsort(pos[:, amap.frame_axis] * amap.frame_sign)
    pos = pos[order]
    headers = [headers[i] for i in order]
    along = pos[:, amap.frame_axis]
    if np.any(np.abs(np.diff(along)) < 1e-3):
        dup = along[np.argmin(np.abs(np.diff(along)))]
        raise ConsistencyError(f"series {series_instance_uid}: two slices at the same position {dup:g} mm ({tag_label('ImagePositionPatient')})")
    warnings: list[str] = []
    thickness = None
    if len(headers) == 1:
        thickness = optional_float(first, "SliceThickness", first_path)
        if thickness is None or thickness <= 0:
            raise GeometryError(f"{first_path}: a one-slice CT series needs a positive {tag_label('SliceThickness')}")
    else:
        gaps = np.abs(np.diff(along))
        median = float(np.median(gaps))
        bad = np.flatnonzero(np.abs(gaps - median) > SPACING_RTOL * median)
        if bad.size:
            warnings.append(
                f"CT series {series_instance_uid}: inconsistent slice spacing: median {median:.3g} mm, "
                f"{bad.size} gap(s) differ (e.g. {gaps[bad[0]]:.3g} mm between {along[bad[0]]:.3g} and {along[bad[0] + 1]:.3g} mm; missing slices?)"
            )
    layout = canonical_layout(
        (len(headers), rows, columns),
        position_mm=list(pos[0]),
        pixel_spacing_mm=spacing,
        frame_positions_mm=along,
        amap=amap,
        path=first_path,
        single_slice_thickness_mm=thickness,
    )
    return CtSeries(
        series_instance_uid=series_instance_uid,
        study_instance_uid=text(first, "StudyInstanceUID"),
        frame_of_reference_uid=frame,
        patient_id=text(first, "PatientID"),
        grid=layout.grid,
        slice_paths=tuple(p for p, _ in headers),
        sop_instance_uids=tuple(text(ds, "SOPInstanceUID") for _, ds in headers),
        orientation=orientation_name(iop),
        layout=layout,
        description=text(first, "SeriesDescription"),
        warnings=tuple(warnings),
    )


def _read_slice(path: Path) -> tuple[npt.NDArray[Any], float, float]:
    """One slice: (the decoded stored values, RescaleSlope, RescaleIntercept), the slope 1 and the
    intercept 0 when absent; errors name the file."""
    ds = read_dicom(path)
    try:
        pixels = ds.pixel_array
    except (ValueError, RuntimeError, NotImplementedError, AttributeError) as exc:
        raise UnsupportedDataError(f"{path}: cannot decode {tag_label('PixelData')}: {one_line(exc)}") from None
    slope = optional_float(ds, "RescaleSlope", path)
    if slope == 0.0:
        raise DicomContentError(f"{path}: {tag_label('RescaleSlope')} is 0, expected a non-zero number (HU = stored value x slope + intercept)")
    slope = 1.0 if slope is None else slope
    intercept = optional_float(ds, "RescaleIntercept", path)
    intercept = 0.0 if intercept is None else intercept
    return pixels, slope, intercept


def _stored_slices(series: CtSeries) -> Iterator[tuple[Path, npt.NDArray[Any], float, float]]:
    """Each slice of ``series`` in its order: (path, :func:`_read_slice`)."""
    for p in series.slice_paths:
        yield (p, *_read_slice(p))


def _check_slice_shape(path: Path, pixels: npt.NDArray[Any], expected: tuple[int, ...]) -> None:
    if pixels.shape != expected:
        raise DicomContentError(
            f"{path}: {tag_label('PixelData')} decodes to {pixels.shape}, expected {expected} as the series' first slice"
        )


def load_ct_volume(series: CtSeries) -> npt.NDArray[np.float64]:
    """The series' voxel values in HU (RescaleSlope/Intercept applied), canonical (z, y, x).

    Each slice is scaled into one preallocated float64 volume (the same arithmetic, stored value x
    slope + intercept): the list of scaled slices and their stacked copy were two volumes at once
    (168 MB for 160 slices of 256 x 256; issue 20)."""
    volume: npt.NDArray[np.float64] | None = None
    for k, (p, pixels, slope, intercept) in enumerate(_stored_slices(series)):
        if volume is None:
            volume = np.empty((len(series.slice_paths), *pixels.shape), dtype=np.float64)
        _check_slice_shape(p, pixels, volume.shape[1:])
        plane = volume[k]
        plane[...] = pixels  # the float64 values of astype(np.float64)
        plane *= slope
        plane += intercept
    assert volume is not None  # a CtSeries has at least one slice
    return series.layout.apply(volume)


@dataclass(frozen=True, eq=False)
class StoredCtVolume:
    """A CT series as its stored values (canonical (z, y, x), the decoded slices' integer type) and
    each slice's RescaleSlope and RescaleIntercept (float64 arrays broadcastable to that shape);
    :meth:`hu` gives the HU of any part of it, the numbers :func:`load_ct_volume` gives there.

    Measured reason (issue 20, clinical case, 256 x 256 x 160 int16 slices): the report's overlays
    draw at most a few planes of the CT, and the float64 volume of :func:`load_ct_volume` held 80 MiB
    in the render process building them (its whole run, and the run's summed memory peak); the
    stored values hold 20 MiB."""

    stored_zyx: npt.NDArray[Any]
    slope_zyx: npt.NDArray[np.float64]
    intercept_zyx: npt.NDArray[np.float64]

    @property
    def shape_zyx(self) -> tuple[int, int, int]:
        z, y, x = self.stored_zyx.shape
        return int(z), int(y), int(x)

    def hu(self, index: Any) -> npt.NDArray[np.float64]:
        """The HU values of ``stored_zyx[index]`` (a basic index: integers and slices) as a new
        float64 array: the stored values converted to float64, times the slope, plus the intercept
        (element by element the operations of :func:`load_ct_volume`, hence the same numbers)."""
        shape = self.stored_zyx.shape
        out = np.array(self.stored_zyx[index], dtype=np.float64)
        out *= np.broadcast_to(self.slope_zyx, shape)[index]
        out += np.broadcast_to(self.intercept_zyx, shape)[index]
        return out


def load_ct_stored(series: CtSeries) -> StoredCtVolume:
    """The series as :class:`StoredCtVolume` (what :func:`load_ct_volume` reads, the same errors);
    a slice decoding to another type than the first promotes the volume to a type holding both."""
    volume: npt.NDArray[Any] | None = None
    slopes = np.empty(len(series.slice_paths))
    intercepts = np.empty(len(series.slice_paths))
    for k, (p, pixels, slope, intercept) in enumerate(_stored_slices(series)):
        if volume is None:
            volume = np.empty((len(series.slice_paths), *pixels.shape), dtype=pixels.dtype)
        _check_slice_shape(p, pixels, volume.shape[1:])
        if not np.can_cast(pixels.dtype, volume.dtype, casting="safe"):
            volume = volume.astype(np.promote_types(volume.dtype, pixels.dtype))
        volume[k] = pixels
        slopes[k], intercepts[k] = slope, intercept
    assert volume is not None  # a CtSeries has at least one slice
    layout = series.layout
    return StoredCtVolume(layout.apply(volume), layout.apply(slopes.reshape(-1, 1, 1)), layout.apply(intercepts.reshape(-1, 1, 1)))


def load_ct_axial_hu(series: CtSeries, index: int) -> npt.NDArray[np.float64]:
    """The HU of the canonical axial plane ``index`` (``load_ct_volume(series)[index]``, the same
    numbers: that slice's stored values as float64, times its slope, plus its intercept), reading
    only that slice's file when the series' slices are the axial planes (else the whole series).
    Measured reason (issue 20, clinical case): the overlays drawn after the analysis are axial
    planes through a few voxels; keeping the series' stored values for them held 20 MiB in the
    render process during the run's summed memory peak; reading one slice takes a few milliseconds."""
    n = len(series.slice_paths)
    if not 0 <= index < n:
        raise ArgumentError(f"CT series {series.series_instance_uid}: no axial plane {index} (it has {n}: 0 to {n - 1})")
    order = series.layout.apply(np.arange(n).reshape(n, 1, 1))  # the file each canonical plane comes from
    if order.shape != (n, 1, 1):  # the slices are not axial planes
        return load_ct_stored(series).hu((index,))
    path = series.slice_paths[int(order[index, 0, 0])]
    pixels, slope, intercept = _read_slice(path)
    plane = series.layout.apply(pixels[np.newaxis])
    expected = (1, *series.grid.shape_zyx[1:])
    if plane.shape != expected:
        raise DicomContentError(
            f"{path}: {tag_label('PixelData')} decodes to {pixels.shape}, expected the series' slice size "
            f"({series.grid.shape_zyx[1]} x {series.grid.shape_zyx[2]} in (y, x))"
        )
    out = np.array(plane[0], dtype=np.float64)
    out *= slope
    out += intercept
    return out
