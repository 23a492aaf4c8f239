"""Write a :class:`~dosimetry.dose.DoseGrid` as a DICOM RT Dose file.

The file is what a treatment planning system exports: RT Dose Storage
(1.2.840.10008.5.1.4.1.1.481.2), explicit VR little endian, one multi-frame image whose frames
are the z planes of the canonical grid (ImageOrientationPatient ``1\\0\\0\\0\\1\\0``,
ImagePositionPatient = centre of the first voxel, GridFrameOffsetVector = z of each frame minus
z of the first, which allows non-uniform slice spacing). Pixel data are 32-bit unsigned integers;
DoseGridScaling is chosen so that the maximum dose maps to about 4e9, i.e. the quantisation error
of any voxel is at most DoseGridScaling / 2, about 1.2e-10 of the maximum dose.

Nothing here reads the wall clock: dates and times come from :class:`DicomIdentity`, so the same
inputs (with given UIDs) give the same bytes.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid
from pydicom.valuerep import format_number_as_ds

from dosimetry.dose import DoseGrid, DoseSummationType, DoseType
from dosimetry.errors import ArgumentError, GeometryError, OutputError
from dosimetry.grid import RectilinearGrid

logger = logging.getLogger(__name__)

RT_DOSE_STORAGE = "1.2.840.10008.5.1.4.1.1.481.2"
RT_PLAN_STORAGE = "1.2.840.10008.5.1.4.1.1.481.5"
RT_ION_PLAN_STORAGE = "1.2.840.10008.5.1.4.1.1.481.8"

#: The maximum dose is stored as about this many DoseGridScaling units (below 2**32 - 1).
TARGET_MAX_PIXEL_VALUE = 4.0e9
UINT32_MAX = 2**32 - 1


@dataclass(frozen=True)
class DicomIdentity:
    """Patient, study and equipment attributes shared by every object of one course.

    Dates are DICOM DA strings (``YYYYMMDD``) and times TM strings (``HHMMSS``); empty strings
    are written as empty (type 2) attributes. ``content_date``/``content_time`` default to the
    study date and time when empty.
    """

    patient_id: str
    patient_name: str
    study_instance_uid: str
    patient_birth_date: str = ""
    patient_sex: str = ""
    study_id: str = ""
    study_date: str = ""
    study_time: str = ""
    study_description: str = ""
    accession_number: str = ""
    referring_physician_name: str = ""
    content_date: str = ""
    content_time: str = ""
    manufacturer: str = "dosimetry"
    manufacturer_model_name: str = ""
    software_versions: str = ""
    institution_name: str = ""
    station_name: str = ""
    operators_name: str = ""

    def __post_init__(self) -> None:
        if not self.patient_id:
            raise ArgumentError("DicomIdentity.patient_id must not be empty (DICOM PatientID)")
        if not self.study_instance_uid:
            raise ArgumentError("DicomIdentity.study_instance_uid must not be empty (DICOM StudyInstanceUID)")
        for name in ("patient_birth_date", "study_date", "content_date"):
            value = getattr(self, name)
            if value and not (len(value) == 8 and value.isdigit()):
                raise ArgumentError(f"DicomIdentity.{name} must be a DICOM date YYYYMMDD, got {value!r}")
        for name in ("study_time", "content_time"):
            value = getattr(self, name)
            if value and not (len(value) >= 2 and value.replace(".", "").isdigit()):
                raise ArgumentError(f"DicomIdentity.{name} must be a DICOM time HHMMSS, got {value!r}")
        if self.patient_sex not in ("", "M", "F", "O"):
            raise ArgumentError(f"DicomIdentity.patient_sex must be '', 'M', 'F' or 'O', got {self.patient_sex!r}")


def apply_identity(ds: Dataset, identity: DicomIdentity) -> None:
    """Set the Patient, General Study and General Equipment attributes of ``ds`` from ``identity``."""
    ds.PatientName = identity.patient_name
    ds.PatientID = identity.patient_id
    ds.PatientBirthDate = identity.patient_birth_date
    ds.PatientSex = identity.patient_sex
    ds.StudyInstanceUID = identity.study_instance_uid
    ds.StudyDate = identity.study_date
    ds.StudyTime = identity.study_time
    ds.StudyID = identity.study_id
    ds.AccessionNumber = identity.accession_number
    ds.ReferringPhysicianName = identity.referring_physician_name
    if identity.study_description:
        ds.StudyDescription = identity.study_description
    ds.Manufacturer = identity.manufacturer
    if identity.institution_name:
        ds.InstitutionName = identity.institution_name
    if identity.station_name:
        ds.StationName = identity.station_name
    if identity.manufacturer_model_name:
        ds.ManufacturerModelName = identity.manufacturer_model_name
    if identity.software_versions:
        ds.SoftwareVersions = identity.software_versions
    if identity.operators_name:
        ds.OperatorsName = identity.operators_name


def new_file_dataset(sop_class_uid: str, sop_instance_uid: str) -> Dataset:
    """An empty dataset with file meta information for explicit VR little endian."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(sop_class_uid)
    meta.MediaStorageSOPInstanceUID = UID(sop_instance_uid)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = pydicom.uid.PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = "DOSIMETRY"
    ds = Dataset()
    ds.file_meta = meta
    ds.preamble = b"\x00" * 128
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = sop_class_uid
    ds.SOPInstanceUID = sop_instance_uid
    return ds


def save_dataset(ds: Dataset, path: Path | str) -> Path:
    """Write ``ds`` as a DICOM file (preamble + meta), raising :class:`OutputError` on failure."""
    target = Path(path)
    try:
        ds.save_as(target, enforce_file_format=True)
    except OSError as exc:
        raise OutputError(f"cannot write DICOM file {target}: {exc}") from exc
    return target


def ds_str(value: float) -> str:
    """``value`` as a DICOM DS string of at most 16 characters."""
    return format_number_as_ds(float(value))


def dose_grid_scaling(max_dose_gy: float) -> float:
    """The DoseGridScaling (Gy per pixel unit) used for a grid whose maximum is ``max_dose_gy``.

    It is the smallest 16-character DS value at or above ``max_dose_gy / 4e9`` (1.0 for an
    all-zero grid), so every voxel is stored within DoseGridScaling / 2 of its value.
    """
    if not math.isfinite(max_dose_gy) or max_dose_gy < 0:
        raise ArgumentError(f"maximum dose must be finite and >= 0, got {max_dose_gy}")
    if max_dose_gy == 0:
        return 1.0
    raw = max_dose_gy / TARGET_MAX_PIXEL_VALUE
    exponent = math.floor(math.log10(raw))
    mantissa_digits = 9  # "d.ddddddddde-XX" is 15 characters
    step = 10.0 ** (exponent - mantissa_digits)
    scaling = math.ceil(raw / step) * step
    scaling = float(ds_str(scaling))
    if scaling < raw:  # formatting rounded down: go one step up
        scaling = float(ds_str(scaling + step))
    return scaling


#: voxels converted to pixel values at once (:func:`_scaled_pixels`; 1 M float64 = 8 MB)
_PIXEL_CHUNK = 1 << 20
#: voxels encoded at once by :func:`encode_dose` (2 MB of float64, 1 MB of pixels)
_ENCODE_CHUNK = 1 << 18
#: bytes of an :class:`EncodedDose`'s pixel file copied into the RT Dose file at once
_STREAM_CHUNK_BYTES = 4 << 20


def _pixel_blocks(dose_gy: npt.NDArray[np.float64], scaling: float, chunk: int) -> Iterator[npt.NDArray[np.uint32]]:
    """``rint(dose_gy / scaling)`` as little-endian uint32, ``chunk`` voxels at a time in C order (the
    same values as converting the whole grid at once), through two small buffers reused for every
    block: the whole-grid quotient and its rounding were two float64 copies of the grid (160 MB on a
    256 x 256 x 160 grid) at the export's memory peak, and fresh multi-MB blocks were page-faulted
    again each time (0.3-0.6 s of system time for six clinical-size maps). Each yielded block is
    overwritten by the next: use it before asking for the next."""
    flat = dose_gy.reshape(-1)
    size = min(chunk, flat.size)
    quotient, pixels = np.empty(size, dtype=np.float64), np.empty(size, dtype="<u4")
    for start in range(0, flat.size, chunk):
        n = min(chunk, flat.size - start)
        block, out = quotient[:n], pixels[:n]
        np.divide(flat[start : start + n], scaling, out=block)
        np.rint(block, out=block)
        if block.max() > UINT32_MAX:
            raise ArgumentError(f"internal: DoseGridScaling {scaling} overflows 32-bit pixels")
        out[...] = block
        yield out


def _scaled_pixels(dose_gy: npt.NDArray[np.float64], scaling: float) -> npt.NDArray[np.uint32]:
    """The whole grid's pixels (:func:`_pixel_blocks`) in one uint32 array."""
    out = np.empty(dose_gy.size, dtype="<u4")
    start = 0
    for block in _pixel_blocks(dose_gy, scaling, _PIXEL_CHUNK):
        out[start : start + block.size] = block
        start += block.size
    return out.reshape(dose_gy.shape)


@dataclass(frozen=True)
class EncodedDose:
    """A dose grid's RT Dose pixel data already encoded into a file (``pixel_path``: the
    little-endian 32-bit pixels, DoseGridScaling ``scaling``), with the fields of the grid the file's
    header needs: what :func:`write_rt_dose` writes for the grid, without the grid's values in memory.

    Measured reason (issue 20, clinical 256 x 256 x 160 grid): the analysis released each BED/EQD2
    map after use and the export computed all six again, 0.6-1.3 s CPU; encoding each map when the
    analysis computes it (:func:`encode_dose`) and writing the file from it later saves that."""

    grid: RectilinearGrid
    dose_type: DoseType
    summation_type: DoseSummationType
    frame_of_reference_uid: str
    pixel_path: Path
    scaling: float
    max_gy: float
    sop_instance_uid: str = ""
    referenced_plan_uid: str | None = None
    referenced_beam_number: int | None = None


def _check_not_negative(dose_gy: npt.NDArray[np.float64]) -> None:
    if dose_gy.min() < 0:
        raise ArgumentError(
            f"cannot write RT Dose: negative dose {dose_gy.min():.6g} Gy (pixel data are unsigned)"
        )


def encode_dose(dose: DoseGrid, pixel_path: Path | str) -> EncodedDose:
    """Write the pixels :func:`write_rt_dose` would write for ``dose`` into ``pixel_path`` (the same
    DoseGridScaling and values, a small buffer at a time) and return them with the grid's fields."""
    dose_gy = np.asarray(dose.dose_gy, dtype=np.float64)
    _check_not_negative(dose_gy)
    max_gy = float(dose_gy.max())
    scaling = dose_grid_scaling(max_gy)
    target = Path(pixel_path)
    try:
        with open(target, "wb") as handle:
            for block in _pixel_blocks(dose_gy, scaling, _ENCODE_CHUNK):
                handle.write(block.data)  # the block's bytes, no copy
    except OSError as exc:
        raise OutputError(f"cannot write the encoded pixels {target}: {exc}") from exc
    return EncodedDose(
        grid=dose.grid, dose_type=dose.dose_type, summation_type=dose.summation_type,
        frame_of_reference_uid=dose.frame_of_reference_uid, pixel_path=target, scaling=scaling, max_gy=max_gy,
        sop_instance_uid=dose.sop_instance_uid, referenced_plan_uid=dose.referenced_plan_uid,
        referenced_beam_number=dose.referenced_beam_number,
    )


def write_rt_dose(
    dose: DoseGrid | EncodedDose,
    path: Path | str,
    *,
    identity: DicomIdentity,
    referenced_plan_uid: str | None,
    series_description: str,
    dose_comment: str = "",
    sop_instance_uid: str | None = None,
    series_instance_uid: str | None = None,
    referenced_plan_sop_class_uid: str = RT_PLAN_STORAGE,
    series_number: int = 1,
    instance_number: int = 1,
    image_comments: str | None = None,
) -> str:
    """Write ``dose`` to ``path`` as RT Dose and return its SOP Instance UID.

    The SOP Instance UID is ``sop_instance_uid``, else ``dose.sop_instance_uid``, else a new
    random UID; the Series Instance UID is ``series_instance_uid`` or a new random UID (give
    both for reproducible bytes). When ``referenced_plan_uid`` is given the file carries a
    ReferencedRTPlanSequence item of class ``referenced_plan_sop_class_uid`` (RT Plan by default;
    :data:`RT_ION_PLAN_STORAGE` for an RT Ion Plan) and, when ``dose.referenced_beam_number`` is
    set, the beam it refers to. Doses must be >= 0 (unsigned pixel data). ``image_comments``, when
    not None, goes into ImageComments (0020,4000; an LT of at most 10240 characters). An
    :class:`EncodedDose` gives the same file from its pixel file (streamed, not read into memory).
    """
    if not dose.frame_of_reference_uid:
        raise ArgumentError("cannot write RT Dose: DoseGrid.frame_of_reference_uid is empty (FrameOfReferenceUID)")
    dose_gy = None if isinstance(dose, EncodedDose) else np.asarray(dose.dose_gy, dtype=np.float64)
    if dose_gy is not None:
        _check_not_negative(dose_gy)
    grid = dose.grid
    nz, ny, nx = grid.shape_zyx
    if nx < 2 or ny < 2:
        raise GeometryError(f"cannot write RT Dose: a frame needs at least 2 x 2 voxels, got {ny} x {nx}")

    uid = sop_instance_uid or dose.sop_instance_uid or generate_uid()
    series_uid = series_instance_uid or generate_uid()

    if isinstance(dose, EncodedDose):
        scaling, max_gy = dose.scaling, dose.max_gy
        expected_bytes = 4 * nz * ny * nx
        held = dose.pixel_path.stat().st_size if dose.pixel_path.is_file() else -1
        if held != expected_bytes:
            raise OutputError(f"cannot write RT Dose: {dose.pixel_path} holds {held} bytes, expected {expected_bytes} (4 x {nz} x {ny} x {nx})")
    else:
        assert dose_gy is not None
        max_gy = float(dose_gy.max())
        scaling = dose_grid_scaling(max_gy)

    ds = new_file_dataset(RT_DOSE_STORAGE, uid)
    apply_identity(ds, identity)
    if identity.content_date or identity.study_date:
        ds.InstanceCreationDate = identity.content_date or identity.study_date
        ds.InstanceCreationTime = identity.content_time or identity.study_time
    ds.ContentDate = identity.content_date or identity.study_date
    ds.ContentTime = identity.content_time or identity.study_time

    # RT Series
    ds.Modality = "RTDOSE"
    ds.SeriesInstanceUID = series_uid
    ds.SeriesNumber = int(series_number)
    ds.SeriesDescription = series_description
    ds.OperatorsName = identity.operators_name

    # Frame of Reference
    ds.FrameOfReferenceUID = dose.frame_of_reference_uid
    ds.PositionReferenceIndicator = ""

    # General Image
    ds.InstanceNumber = int(instance_number)
    if image_comments is not None:
        if len(image_comments) > 10240:
            raise ArgumentError(f"cannot write RT Dose: ImageComments has {len(image_comments)} characters, an LT holds at most 10240")
        ds.ImageComments = image_comments

    # Image Plane (canonical grid: rows along +y, columns along +x, frames along +z)
    ds.ImagePositionPatient = [ds_str(grid.x_mm[0]), ds_str(grid.y_mm[0]), ds_str(grid.z_mm[0])]
    ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
    ds.PixelSpacing = [ds_str(grid.spacing_y_mm), ds_str(grid.spacing_x_mm)]
    if nz == 1:
        ds.SliceThickness = ds_str(grid.slice_thickness_mm[0])
    elif grid.z_is_uniform:
        ds.SliceThickness = ds_str(float(grid.z_mm[1] - grid.z_mm[0]))
    else:
        ds.SliceThickness = ""  # type 2: no single thickness for non-uniform frames

    # Image Pixel + Multi-frame
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.NumberOfFrames = nz
    ds.FrameIncrementPointer = pydicom.tag.Tag(0x3004, 0x000C)
    ds.Rows = ny
    ds.Columns = nx
    ds.BitsAllocated = 32
    ds.BitsStored = 32
    ds.HighBit = 31
    ds.PixelRepresentation = 0

    # RT Dose
    ds.DoseUnits = "GY"
    ds.DoseType = str(dose.dose_type)
    ds.DoseSummationType = str(dose.summation_type)
    if dose_comment:
        ds.DoseComment = dose_comment
    ds.GridFrameOffsetVector = [ds_str(z - grid.z_mm[0]) for z in grid.z_mm]
    ds.DoseGridScaling = ds_str(scaling)
    ds.TissueHeterogeneityCorrection = "IMAGE"
    if referenced_plan_uid:
        item = Dataset()
        item.ReferencedSOPClassUID = referenced_plan_sop_class_uid
        item.ReferencedSOPInstanceUID = referenced_plan_uid
        if dose.referenced_beam_number is not None and dose.summation_type in (
            DoseSummationType.BEAM,
            DoseSummationType.BEAM_SESSION,
            DoseSummationType.CONTROL_POINT,
        ):
            beam = Dataset()
            beam.ReferencedBeamNumber = int(dose.referenced_beam_number)
            group = Dataset()
            group.ReferencedFractionGroupNumber = 1
            group.ReferencedBeamSequence = Sequence([beam])
            item.ReferencedFractionGroupSequence = Sequence([group])
        ds.ReferencedRTPlanSequence = Sequence([item])
    else:
        logger.debug("RT Dose %s written without ReferencedRTPlanSequence (no plan UID given)", uid)

    if isinstance(dose, EncodedDose):
        settings = pydicom.config.settings
        chunk_bytes = settings.buffered_read_size
        try:
            with open(dose.pixel_path, "rb") as pixels:
                ds.PixelData = pixels  # streamed by pydicom when the file is written
                # pydicom copies a buffered value in chunks of buffered_read_size (8 KB by default:
                # 5,000 Python-level reads and writes per clinical-size map, 0.05 s each); the
                # chunk size changes only how the same bytes are copied
                settings.buffered_read_size = max(chunk_bytes, _STREAM_CHUNK_BYTES)
                save_dataset(ds, path)
        except OSError as exc:
            raise OutputError(f"cannot read the encoded pixels {dose.pixel_path}: {exc}") from exc
        finally:
            settings.buffered_read_size = chunk_bytes
    else:
        assert dose_gy is not None
        ds.PixelData = _scaled_pixels(dose_gy, scaling).tobytes()
        save_dataset(ds, path)
    logger.info("wrote RT Dose %s (%d x %d x %d, max %.4f Gy) to %s", uid, nz, ny, nx, max_gy, path)
    return str(uid)
