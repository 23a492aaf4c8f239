"""Small synthetic DICOM builders for tests (RT Dose, RT Plan / RT Ion Plan, RT Structure Set,
Spatial and Deformable Spatial Registration, CT series).

Other engineers may import these read-only; the signatures are kept stable. Every builder writes
one file (or one series) into ``directory`` and returns its path(s). UIDs are derived
deterministically from the ``seed`` strings, so the same call gives the same bytes.

Geometry helpers (:func:`voxel_positions_lps`) implement the DICOM formulas directly, independently
of the loaders, so tests can check where every voxel lands.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.valuerep import format_number_as_ds
from pydicom.uid import (
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    PYDICOM_IMPLEMENTATION_UID,
    RLELossless,
    generate_uid,
)

RT_DOSE_CLASS = "1.2.840.10008.5.1.4.1.1.481.2"
RT_STRUCT_CLASS = "1.2.840.10008.5.1.4.1.1.481.3"
RT_PLAN_CLASS = "1.2.840.10008.5.1.4.1.1.481.5"
RT_ION_PLAN_CLASS = "1.2.840.10008.5.1.4.1.1.481.8"
REG_CLASS = "1.2.840.10008.5.1.4.1.1.66.1"
DEFORMABLE_REG_CLASS = "1.2.840.10008.5.1.4.1.1.66.3"
CT_CLASS = "1.2.840.10008.5.1.4.1.1.2"

#: ImageOrientationPatient of transverse images per patient position (written out independently
#: of dosimetry.io.orientation, from the DICOM definition of the patient axes).
ORIENTATIONS: dict[str, tuple[int, int, int, int, int, int]] = {
    "HFS": (1, 0, 0, 0, 1, 0),
    "HFP": (-1, 0, 0, 0, -1, 0),
    "FFS": (-1, 0, 0, 0, 1, 0),
    "FFP": (1, 0, 0, 0, -1, 0),
    "HFDL": (0, -1, 0, 1, 0, 0),
    "HFDR": (0, 1, 0, -1, 0, 0),
    "FFDL": (0, 1, 0, 1, 0, 0),
    "FFDR": (0, -1, 0, -1, 0, 0),
}

TRANSFER_SYNTAXES = {
    "implicit_le": ImplicitVRLittleEndian,
    "explicit_le": ExplicitVRLittleEndian,
    "explicit_be": ExplicitVRBigEndian,
    "rle": RLELossless,
    "jpeg2000_lossless": JPEG2000Lossless,  # needs pylibjpeg + pylibjpeg-openjpeg, BitsAllocated 16
}


def ds_text(value: float) -> str:
    """A Decimal String of at most 16 characters for ``value``."""
    return format_number_as_ds(float(value))


def uid(seed: str) -> str:
    """A deterministic UID from a seed string."""
    return generate_uid(entropy_srcs=[seed])


@dataclass(frozen=True)
class Identity:
    """Patient / study / frame of reference shared by a set of synthetic files."""

    patient_id: str = "SYN001"
    patient_name: str = "Synthetic^Patient"
    study_instance_uid: str = field(default_factory=lambda: uid("study-1"))
    frame_of_reference_uid: str = field(default_factory=lambda: uid("frame-1"))
    study_description: str = "synthetic study"


DEFAULT_IDENTITY = Identity()


def _orientation(orientation: str | Sequence[float]) -> tuple[float, ...]:
    if isinstance(orientation, str):
        return tuple(float(v) for v in ORIENTATIONS[orientation])
    return tuple(float(v) for v in orientation)


def voxel_positions_lps(
    shape_frc: tuple[int, int, int],
    orientation: str | Sequence[float],
    position_mm: Sequence[float],
    pixel_spacing_mm: Sequence[float],
    offsets_mm: Sequence[float],
    *,
    absolute_offsets: bool = False,
) -> npt.NDArray[np.float64]:
    """LPS centre of voxel (frame, row, column), shape (F, R, C, 3), from PS3.3 C.7.6.2.1.1 and C.8.8.3.2.

    P = IPP + column * PixelSpacing[1] * row_cosine + row * PixelSpacing[0] * column_cosine + offset * normal
    (relative offsets); absolute offsets replace the z coordinate by the offset.
    """
    iop = np.asarray(_orientation(orientation))
    row_cos, col_cos = iop[:3], iop[3:]
    normal = np.cross(row_cos, col_cos)
    n_f, n_r, n_c = shape_frc
    f = np.arange(n_f)[:, None, None, None]
    r = np.arange(n_r)[None, :, None, None]
    c = np.arange(n_c)[None, None, :, None]
    offsets = np.asarray(offsets_mm, dtype=np.float64)[f[..., 0]][..., None]
    base = np.asarray(position_mm, dtype=np.float64) + c * pixel_spacing_mm[1] * row_cos + r * pixel_spacing_mm[0] * col_cos
    if absolute_offsets:
        pos = np.broadcast_to(base, (n_f, n_r, n_c, 3)).copy()
        pos[..., 2] = offsets[..., 0]
        return pos
    return base + offsets * normal


def linear_dose_gy(points_lps: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """A dose that identifies its position: 10 + 0.01 x + 0.1 y + 1.0 z (Gy, x/y/z mm), positive on
    the small test grids; every voxel of a test grid gets a distinct value."""
    return 100.0 + 0.01 * points_lps[..., 0] + 0.1 * points_lps[..., 1] + 1.0 * points_lps[..., 2]


def _file_meta(sop_class: str, sop_instance: str, transfer_syntax: str) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_instance
    meta.TransferSyntaxUID = transfer_syntax
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    return meta


def _base(sop_class: str, sop_instance: str, modality: str, identity: Identity, series_uid: str, transfer_syntax: str) -> Dataset:
    ds = Dataset()
    ds.file_meta = _file_meta(sop_class, sop_instance, transfer_syntax)
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_instance
    ds.Modality = modality
    ds.PatientID = identity.patient_id
    ds.PatientName = identity.patient_name
    ds.PatientBirthDate = ""
    ds.PatientSex = "O"
    ds.StudyInstanceUID = identity.study_instance_uid
    ds.StudyDescription = identity.study_description
    ds.StudyDate = "20260101"
    ds.StudyTime = "120000"
    ds.StudyID = "1"
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.SeriesInstanceUID = series_uid
    ds.SeriesNumber = 1
    ds.Manufacturer = "dosimetry tests"
    return ds


def _save(ds: Dataset, path: Path, transfer_syntax: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    little = transfer_syntax != ExplicitVRBigEndian
    implicit = transfer_syntax == ImplicitVRLittleEndian
    if transfer_syntax in (RLELossless, JPEG2000Lossless):
        little, implicit = True, False
    ds.save_as(path, implicit_vr=implicit, little_endian=little, enforce_file_format=True)
    return path


def make_rt_dose(
    directory: Path,
    *,
    filename: str = "RD.dcm",
    shape_frc: tuple[int, int, int] = (4, 5, 6),
    orientation: str | Sequence[float] = "HFS",
    position_mm: Sequence[float] = (-10.0, -20.0, -30.0),
    pixel_spacing_mm: Sequence[float] = (2.0, 3.0),
    offsets_mm: Sequence[float] | None = None,
    absolute_offsets: bool = False,
    dose_fn: Callable[[npt.NDArray[np.float64]], npt.NDArray[np.float64]] | None = linear_dose_gy,
    dose_frc_gy: npt.NDArray[np.float64] | None = None,
    scaling: float = 1e-4,
    units: str = "GY",
    dose_type: str = "PHYSICAL",
    summation: str = "PLAN",
    referenced_plan_uid: str | None = None,
    fraction_group: int = 1,
    beam_number: int | None = None,
    identity: Identity = DEFAULT_IDENTITY,
    transfer_syntax: str = "explicit_le",
    bits_allocated: int = 32,
    signed: bool = False,
    number_of_frames: str | int | None = None,
    slice_thickness_mm: float | None = None,
    sop_instance_uid: str | None = None,
    seed: str = "dose",
    edit: Callable[[Dataset], None] | None = None,
) -> Path:
    """Write an RT Dose. Dose values come from ``dose_frc_gy`` (frame, row, column) or
    ``dose_fn(positions_lps)``; stored as round(dose / scaling) unsigned integers.

    ``offsets_mm``: GridFrameOffsetVector (default 0, 2.5, 5, ... relative). With
    ``absolute_offsets`` the given offsets are absolute z and the first must equal position z.
    ``number_of_frames`` overrides the written NumberOfFrames (for example "abc"). ``signed``
    stores two's-complement integers (PixelRepresentation 1, as for ERROR doses).
    ``transfer_syntax``: implicit_le, explicit_le, explicit_be, rle (16-bit) or jpeg2000_lossless
    (16-bit, needs pylibjpeg and pylibjpeg-openjpeg).
    """
    n_f, n_r, n_c = shape_frc
    if offsets_mm is None:
        offsets_mm = [2.5 * k for k in range(n_f)]
        if absolute_offsets:
            offsets_mm = [position_mm[2] + o for o in offsets_mm]
    offsets_mm = [float(o) for o in offsets_mm]
    if dose_frc_gy is None:
        if dose_fn is None:
            raise ValueError("give dose_fn or dose_frc_gy")
        pts = voxel_positions_lps(shape_frc, orientation, position_mm, pixel_spacing_mm, offsets_mm, absolute_offsets=absolute_offsets)
        dose_frc_gy = dose_fn(pts)
    stored = np.rint(np.asarray(dose_frc_gy, dtype=np.float64) / scaling)
    dtype = {(32, False): np.uint32, (16, False): np.uint16, (32, True): np.int32, (16, True): np.int16}[(bits_allocated, signed)]
    stored = stored.astype(dtype)
    ts = TRANSFER_SYNTAXES[transfer_syntax]
    sop = sop_instance_uid or uid(f"{seed}-sop")
    ds = _base(RT_DOSE_CLASS, sop, "RTDOSE", identity, uid(f"{seed}-series"), ts if ts not in (RLELossless, JPEG2000Lossless) else ExplicitVRLittleEndian)
    ds.FrameOfReferenceUID = identity.frame_of_reference_uid
    ds.PositionReferenceIndicator = ""
    ds.InstanceNumber = 1
    ds.ImagePositionPatient = [float(v) for v in position_mm]
    ds.ImageOrientationPatient = list(_orientation(orientation))
    ds.PixelSpacing = [float(v) for v in pixel_spacing_mm]
    if slice_thickness_mm is not None:
        ds.SliceThickness = slice_thickness_mm
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = n_r
    ds.Columns = n_c
    ds.BitsAllocated = bits_allocated
    ds.BitsStored = bits_allocated
    ds.HighBit = bits_allocated - 1
    ds.PixelRepresentation = 1 if signed else 0
    ds.NumberOfFrames = n_f
    ds.FrameIncrementPointer = 0x3004000C
    ds.GridFrameOffsetVector = offsets_mm
    ds.DoseUnits = units
    ds.DoseType = dose_type
    ds.DoseSummationType = summation
    ds.DoseGridScaling = f"{scaling:.10g}"
    if referenced_plan_uid is not None:
        ref = Dataset()
        ref.ReferencedSOPClassUID = RT_PLAN_CLASS
        ref.ReferencedSOPInstanceUID = referenced_plan_uid
        if summation in ("BEAM", "FRACTION", "BEAM_SESSION", "FRACTION_SESSION") or beam_number is not None:
            fg = Dataset()
            fg.ReferencedFractionGroupNumber = fraction_group
            if beam_number is not None:
                beam = Dataset()
                beam.ReferencedBeamNumber = beam_number
                fg.ReferencedBeamSequence = DicomSequence([beam])
            ref.ReferencedFractionGroupSequence = DicomSequence([fg])
        ds.ReferencedRTPlanSequence = DicomSequence([ref])
    if ts == ExplicitVRBigEndian:
        ds.PixelData = stored.astype(stored.dtype.newbyteorder(">")).tobytes()
    else:
        ds.PixelData = stored.astype(stored.dtype.newbyteorder("<")).tobytes()
    ds["PixelData"].VR = "OW"
    if ts == RLELossless:
        ds.compress(RLELossless, stored if n_f > 1 else stored[0], encoding_plugin="pydicom")
    elif ts == JPEG2000Lossless:
        ds.compress(JPEG2000Lossless, stored if n_f > 1 else stored[0], encoding_plugin="pylibjpeg")
    if edit is not None:
        edit(ds)
    path = _save(ds, Path(directory) / filename, ts)
    if number_of_frames is not None:
        _patch_number_of_frames(path, n_f, str(number_of_frames), ts)
    return path


def _patch_number_of_frames(path: Path, n_frames: int, value: str, ts: str) -> None:
    """Rewrite the bytes of (0028,0008) NumberOfFrames (pydicom refuses to write invalid IS)."""
    data = path.read_bytes()
    old_value = str(n_frames).encode()
    if len(old_value) % 2:
        old_value += b" "
    new_value = value.encode()
    if len(new_value) % 2:
        new_value += b" "
    if ts == ImplicitVRLittleEndian:
        old = b"\x28\x00\x08\x00" + len(old_value).to_bytes(4, "little") + old_value
        new = b"\x28\x00\x08\x00" + len(new_value).to_bytes(4, "little") + new_value
    elif ts == ExplicitVRBigEndian:
        old = b"\x00\x28\x00\x08IS" + len(old_value).to_bytes(2, "big") + old_value
        new = b"\x00\x28\x00\x08IS" + len(new_value).to_bytes(2, "big") + new_value
    else:
        old = b"\x28\x00\x08\x00IS" + len(old_value).to_bytes(2, "little") + old_value
        new = b"\x28\x00\x08\x00IS" + len(new_value).to_bytes(2, "little") + new_value
    if data.count(old) != 1:
        raise ValueError(f"cannot locate NumberOfFrames in {path}")
    path.write_bytes(data.replace(old, new))


@dataclass(frozen=True)
class BeamSpec:
    number: int
    name: str = ""
    radiation_type: str = "PHOTON"
    dose_per_fraction_gy: float | None = 1.0
    meterset: float | None = 100.0
    atomic_number: int | None = None
    mass_number: int | None = None


def make_rt_plan(
    directory: Path,
    *,
    filename: str = "RP.dcm",
    fractions: int | None = 33,
    beams: Sequence[BeamSpec] = (BeamSpec(1, "AP"), BeamSpec(2, "PA")),
    prescription_gy: float | None = 70.0,
    label: str = "IMRT",
    structure_set_uid: str | None = None,
    identity: Identity = DEFAULT_IDENTITY,
    ion: bool = False,
    manufacturer: str = "dosimetry tests",
    model_name: str = "SyntheticTPS",
    approval_status: str = "APPROVED",
    sop_instance_uid: str | None = None,
    seed: str = "plan",
    edit: Callable[[Dataset], None] | None = None,
) -> Path:
    """Write an RT Plan (or RT Ion Plan when ``ion``); ``fractions=None`` omits the
    FractionGroupSequence."""
    sop_class = RT_ION_PLAN_CLASS if ion else RT_PLAN_CLASS
    sop = sop_instance_uid or uid(f"{seed}-sop")
    ds = _base(sop_class, sop, "RTPLAN", identity, uid(f"{seed}-series"), ExplicitVRLittleEndian)
    ds.Manufacturer = manufacturer
    ds.ManufacturerModelName = model_name
    ds.FrameOfReferenceUID = identity.frame_of_reference_uid
    ds.RTPlanLabel = label
    ds.RTPlanName = label
    ds.RTPlanDate = "20260101"
    ds.RTPlanTime = "120000"
    ds.RTPlanGeometry = "PATIENT"
    ds.ApprovalStatus = approval_status
    if structure_set_uid is not None:
        ref = Dataset()
        ref.ReferencedSOPClassUID = RT_STRUCT_CLASS
        ref.ReferencedSOPInstanceUID = structure_set_uid
        ds.ReferencedStructureSetSequence = DicomSequence([ref])
    if prescription_gy is not None:
        dr = Dataset()
        dr.DoseReferenceNumber = 1
        dr.DoseReferenceUID = uid(f"{seed}-doseref")
        dr.DoseReferenceStructureType = "VOLUME"
        dr.DoseReferenceDescription = "PTV"
        dr.DoseReferenceType = "TARGET"
        dr.TargetPrescriptionDose = prescription_gy
        ds.DoseReferenceSequence = DicomSequence([dr])
    beam_items = []
    for b in beams:
        item = Dataset()
        item.BeamNumber = b.number
        item.BeamName = b.name or f"B{b.number}"
        item.BeamType = "STATIC"
        item.RadiationType = b.radiation_type
        item.TreatmentDeliveryType = "TREATMENT"
        if b.atomic_number is not None:
            item.RadiationAtomicNumber = b.atomic_number
        if b.mass_number is not None:
            item.RadiationMassNumber = b.mass_number
        if b.radiation_type == "ION":
            item.RadiationChargeState = b.atomic_number
        item.NumberOfControlPoints = 0
        beam_items.append(item)
    if ion:
        ds.IonBeamSequence = DicomSequence(beam_items)
    else:
        ds.BeamSequence = DicomSequence(beam_items)
    if fractions is not None:
        fg = Dataset()
        fg.FractionGroupNumber = 1
        fg.NumberOfFractionsPlanned = fractions
        fg.NumberOfBeams = len(beams)
        fg.NumberOfBrachyApplicationSetups = 0
        refs = []
        for b in beams:
            r = Dataset()
            r.ReferencedBeamNumber = b.number
            if b.dose_per_fraction_gy is not None:
                r.BeamDose = b.dose_per_fraction_gy
            if b.meterset is not None:
                r.BeamMeterset = b.meterset
            refs.append(r)
        fg.ReferencedBeamSequence = DicomSequence(refs)
        ds.FractionGroupSequence = DicomSequence([fg])
    if edit is not None:
        edit(ds)
    return _save(ds, Path(directory) / filename, ExplicitVRLittleEndian)


def make_rt_ion_plan(
    directory: Path,
    *,
    filename: str = "RN.dcm",
    fractions: int | None = 22,
    dose_per_fraction_gy: float = 2.5,
    atomic_number: int = 6,
    mass_number: int = 12,
    n_beams: int = 2,
    label: str = "C12",
    **kwargs: object,
) -> Path:
    """Write an RT Ion Plan (carbon by default: ION, Z=6, A=12) whose beams share the dose per fraction."""
    beams = tuple(
        BeamSpec(k + 1, f"C{k + 1}", "ION", dose_per_fraction_gy / n_beams, 1.0e6, atomic_number, mass_number)
        for k in range(n_beams)
    )
    kwargs.setdefault("prescription_gy", (fractions or 0) * dose_per_fraction_gy or None)
    kwargs.setdefault("seed", "ionplan")
    return make_rt_plan(directory, filename=filename, fractions=fractions, beams=beams, label=label, ion=True, **kwargs)  # type: ignore[arg-type]


@dataclass(frozen=True)
class RoiSpec:
    """An ROI to write: contours are (geometric type, (N, 3) points) pairs."""

    number: int
    name: str
    interpreted_type: str = "ORGAN"
    contours: tuple[tuple[str, npt.NDArray[np.float64]], ...] = ()
    color_rgb: tuple[int, int, int] = (255, 0, 0)


def square_contour(cx: float, cy: float, z: float, half_mm: float) -> npt.NDArray[np.float64]:
    """Closed square (counter-clockwise) of side 2*half_mm centred on (cx, cy) in plane z."""
    return np.array(
        [[cx - half_mm, cy - half_mm, z], [cx + half_mm, cy - half_mm, z], [cx + half_mm, cy + half_mm, z], [cx - half_mm, cy + half_mm, z]],
        dtype=np.float64,
    )


def box_roi(number: int, name: str, centre_mm: Sequence[float], half_mm: float, z_planes_mm: Sequence[float], interpreted_type: str = "ORGAN") -> RoiSpec:
    """An ROI made of one square contour on each given plane."""
    return RoiSpec(
        number, name, interpreted_type, tuple(("CLOSED_PLANAR", square_contour(centre_mm[0], centre_mm[1], z, half_mm)) for z in z_planes_mm)
    )


def make_rt_struct(
    directory: Path,
    *,
    filename: str = "RS.dcm",
    rois: Sequence[RoiSpec] = (),
    referenced_series_uid: str | None = None,
    identity: Identity = DEFAULT_IDENTITY,
    label: str = "RS",
    sop_instance_uid: str | None = None,
    seed: str = "struct",
    edit: Callable[[Dataset], None] | None = None,
) -> Path:
    """Write an RT Structure Set with the given ROIs in ``identity``'s frame of reference."""
    sop = sop_instance_uid or uid(f"{seed}-sop")
    ds = _base(RT_STRUCT_CLASS, sop, "RTSTRUCT", identity, uid(f"{seed}-series"), ExplicitVRLittleEndian)
    ds.StructureSetLabel = label
    ds.StructureSetDate = "20260101"
    ds.StructureSetTime = "120000"
    ref_frame = Dataset()
    ref_frame.FrameOfReferenceUID = identity.frame_of_reference_uid
    if referenced_series_uid is not None:
        series = Dataset()
        series.SeriesInstanceUID = referenced_series_uid
        series.ContourImageSequence = DicomSequence([])
        study = Dataset()
        study.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.1"
        study.ReferencedSOPInstanceUID = identity.study_instance_uid
        study.RTReferencedSeriesSequence = DicomSequence([series])
        ref_frame.RTReferencedStudySequence = DicomSequence([study])
    ds.ReferencedFrameOfReferenceSequence = DicomSequence([ref_frame])
    ss_rois, contours, observations = [], [], []
    for k, roi in enumerate(rois, start=1):
        item = Dataset()
        item.ROINumber = roi.number
        item.ReferencedFrameOfReferenceUID = identity.frame_of_reference_uid
        item.ROIName = roi.name
        item.ROIGenerationAlgorithm = "MANUAL"
        ss_rois.append(item)
        rc = Dataset()
        rc.ReferencedROINumber = roi.number
        rc.ROIDisplayColor = list(roi.color_rgb)
        cseq = []
        for gtype, pts in roi.contours:
            c = Dataset()
            c.ContourGeometricType = gtype
            arr = np.asarray(pts, dtype=np.float64).reshape(-1, 3)
            c.NumberOfContourPoints = arr.shape[0]
            c.ContourData = [f"{v:.6g}" for v in arr.ravel()]
            cseq.append(c)
        if cseq:
            rc.ContourSequence = DicomSequence(cseq)
        contours.append(rc)
        obs = Dataset()
        obs.ObservationNumber = k
        obs.ReferencedROINumber = roi.number
        obs.RTROIInterpretedType = roi.interpreted_type
        obs.ROIInterpreter = ""
        observations.append(obs)
    ds.StructureSetROISequence = DicomSequence(ss_rois)
    ds.ROIContourSequence = DicomSequence(contours)
    ds.RTROIObservationsSequence = DicomSequence(observations)
    if edit is not None:
        edit(ds)
    return _save(ds, Path(directory) / filename, ExplicitVRLittleEndian)


def rigid_matrix(angle_z_deg: float = 0.0, translation_mm: Sequence[float] = (0.0, 0.0, 0.0)) -> npt.NDArray[np.float64]:
    """4x4 rotation about z by ``angle_z_deg`` followed by a translation."""
    a = np.deg2rad(angle_z_deg)
    m = np.eye(4)
    m[:2, :2] = [[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]
    m[:3, 3] = translation_mm
    return m


def _matrix_item(matrix: npt.NDArray[np.float64], matrix_type: str = "RIGID") -> Dataset:
    m = Dataset()
    m.FrameOfReferenceTransformationMatrixType = matrix_type
    m.FrameOfReferenceTransformationMatrix = [ds_text(v) for v in np.asarray(matrix, dtype=np.float64).ravel()]
    reg = Dataset()
    reg.MatrixSequence = DicomSequence([m])
    return reg


def make_reg(
    directory: Path,
    *,
    filename: str = "REG.dcm",
    source_frame_uid: str,
    matrix: npt.NDArray[np.float64],
    identity: Identity = DEFAULT_IDENTITY,
    include_identity_item: bool = True,
    matrix_type: str = "RIGID",
    sop_instance_uid: str | None = None,
    seed: str = "reg",
    edit: Callable[[Dataset], None] | None = None,
) -> Path:
    """Write a Spatial Registration whose own frame is ``identity.frame_of_reference_uid`` and
    whose item for ``source_frame_uid`` carries ``matrix`` (source coordinates -> own frame)."""
    sop = sop_instance_uid or uid(f"{seed}-sop")
    ds = _base(REG_CLASS, sop, "REG", identity, uid(f"{seed}-series"), ExplicitVRLittleEndian)
    ds.FrameOfReferenceUID = identity.frame_of_reference_uid
    ds.ContentDate = "20260101"
    ds.ContentTime = "120000"
    ds.InstanceNumber = 1
    ds.ContentLabel = "REG"
    items = []
    if include_identity_item:
        own = Dataset()
        own.FrameOfReferenceUID = identity.frame_of_reference_uid
        own.MatrixRegistrationSequence = DicomSequence([_matrix_item(np.eye(4))])
        items.append(own)
    other = Dataset()
    other.FrameOfReferenceUID = source_frame_uid
    other.MatrixRegistrationSequence = DicomSequence([_matrix_item(matrix, matrix_type)])
    items.append(other)
    ds.RegistrationSequence = DicomSequence(items)
    if edit is not None:
        edit(ds)
    return _save(ds, Path(directory) / filename, ExplicitVRLittleEndian)


def make_deformable_reg(
    directory: Path,
    *,
    filename: str = "DREG.dcm",
    source_frame_uid: str,
    vectors_zyx3_mm: npt.NDArray[np.float64],
    origin_mm: Sequence[float] = (0.0, 0.0, 0.0),
    resolution_mm: Sequence[float] = (5.0, 5.0, 5.0),
    pre_matrix: npt.NDArray[np.float64] | None = None,
    identity: Identity = DEFAULT_IDENTITY,
    seed: str = "dreg",
    post_matrix: npt.NDArray[np.float64] | None = None,
    orientation: Sequence[float] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0),
) -> Path:
    """Write a Deformable Spatial Registration with one grid (vectors shape (nz, ny, nx, 3)); its own
    frame (the Registered RCS) is ``identity.frame_of_reference_uid``."""
    vectors = np.asarray(vectors_zyx3_mm, dtype="<f4")
    nz, ny, nx, _ = vectors.shape
    sop = uid(f"{seed}-sop")
    ds = _base(DEFORMABLE_REG_CLASS, sop, "REG", identity, uid(f"{seed}-series"), ExplicitVRLittleEndian)
    ds.FrameOfReferenceUID = identity.frame_of_reference_uid
    ds.ContentDate = "20260101"
    ds.ContentTime = "120000"
    ds.InstanceNumber = 1
    ds.ContentLabel = "DREG"
    item = Dataset()
    item.SourceFrameOfReferenceUID = source_frame_uid
    if pre_matrix is not None:
        item.PreDeformationMatrixRegistrationSequence = DicomSequence([_pre(pre_matrix)])
    if post_matrix is not None:
        item.PostDeformationMatrixRegistrationSequence = DicomSequence([_pre(post_matrix)])
    grid = Dataset()
    grid.ImagePositionPatient = [float(v) for v in origin_mm]
    grid.ImageOrientationPatient = [float(v) for v in orientation]
    grid.GridDimensions = [nx, ny, nz]
    grid.GridResolution = [float(v) for v in resolution_mm]
    grid.VectorGridData = vectors.tobytes()
    item.DeformableRegistrationGridSequence = DicomSequence([grid])
    ds.DeformableRegistrationSequence = DicomSequence([item])
    return _save(ds, Path(directory) / filename, ExplicitVRLittleEndian)


def _pre(matrix: npt.NDArray[np.float64]) -> Dataset:
    d = Dataset()
    d.FrameOfReferenceTransformationMatrixType = "RIGID"
    d.FrameOfReferenceTransformationMatrix = [ds_text(v) for v in np.asarray(matrix, dtype=np.float64).ravel()]
    return d


def make_ct_series(
    directory: Path,
    *,
    z_positions_mm: Sequence[float] = (0.0, 3.0, 6.0, 9.0),
    rows: int = 8,
    columns: int = 8,
    pixel_spacing_mm: Sequence[float] = (2.0, 2.0),
    origin_xy_mm: Sequence[float] = (-8.0, -8.0),
    orientation: str | Sequence[float] = "HFS",
    identity: Identity = DEFAULT_IDENTITY,
    series_instance_uid: str | None = None,
    seed: str = "ct",
    prefix: str = "CT",
) -> list[Path]:
    """Write one CT slice per z position (HU = 0 water, -1000 outside a central disc)."""
    series = series_instance_uid or uid(f"{seed}-series")
    paths = []
    yy, xx = np.mgrid[0:rows, 0:columns]
    disc = (yy - rows / 2) ** 2 + (xx - columns / 2) ** 2 < (min(rows, columns) / 2.5) ** 2
    hu = np.where(disc, 0, -1000).astype(np.int16)
    for k, z in enumerate(z_positions_mm):
        sop = uid(f"{seed}-sop-{k}")
        ds = _base(CT_CLASS, sop, "CT", identity, series, ExplicitVRLittleEndian)
        ds.FrameOfReferenceUID = identity.frame_of_reference_uid
        ds.PositionReferenceIndicator = ""
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = [float(origin_xy_mm[0]), float(origin_xy_mm[1]), float(z)]
        ds.ImageOrientationPatient = list(_orientation(orientation))
        ds.PixelSpacing = [float(v) for v in pixel_spacing_mm]
        ds.SliceThickness = 3.0
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows = rows
        ds.Columns = columns
        ds.BitsAllocated = 16
        ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 1
        ds.RescaleIntercept = 0
        ds.RescaleSlope = 1
        ds.RescaleType = "HU"
        ds.KVP = 120
        ds.PixelData = hu.tobytes()
        paths.append(_save(ds, Path(directory) / f"{prefix}{k:03d}.dcm", ExplicitVRLittleEndian))
    return paths


@dataclass(frozen=True)
class TwoCourseExport:
    """What :func:`make_two_course_export` wrote (paths and identities)."""

    root: Path
    current: Identity
    prior: Identity
    current_plan: Path
    current_dose: Path
    current_struct: Path
    prior_plan: Path
    prior_dose: Path
    prior_struct: Path
    registration: Path | None
    prior_to_current: npt.NDArray[np.float64]


def make_two_course_export(directory: Path, *, with_registration: bool = True) -> TwoCourseExport:
    """A small export like the sample patient: a current carbon course (CT, RS, RT Ion Plan 22 x 2.5
    GyE, EFFECTIVE dose) and a prior photon course in another frame (CT, RS, RT Plan 33 fx, PHYSICAL
    dose) with a Spatial Registration mapping the prior frame onto the current one."""
    root = Path(directory)
    cur = Identity(frame_of_reference_uid=uid("cur-frame"), study_instance_uid=uid("cur-study"))
    pri = Identity(frame_of_reference_uid=uid("pri-frame"), study_instance_uid=uid("pri-study"))
    z = (-6.0, -3.0, 0.0, 3.0, 6.0)
    dose_kw = dict(shape_frc=(7, 12, 12), pixel_spacing_mm=(3.0, 3.0), position_mm=(-16.5, -16.5, -9.0), offsets_mm=[3.0 * k for k in range(7)])
    make_ct_series(root / "current" / "CT", identity=cur, series_instance_uid=uid("cur-ct"), seed="cur-ct", z_positions_mm=z, rows=16, columns=16, origin_xy_mm=(-15, -15))
    rois = [box_roi(1, "GTV", (0, 0), 5, (-3, 0, 3), "GTV"), box_roi(2, "PTV", (0, 0), 8, (-3, 0, 3), "PTV"), box_roi(3, "BrainStem", (0, 10), 3, (-3, 0, 3))]
    cur_ss = make_rt_struct(root / "current", filename="RS.cur.dcm", identity=cur, rois=rois, referenced_series_uid=uid("cur-ct"), seed="cur-ss", label="CURRENT")
    cur_plan = make_rt_ion_plan(root / "current", identity=cur, structure_set_uid=uid("cur-ss-sop"), seed="cur-plan")
    cur_dose = make_rt_dose(root / "current", filename="RD.cur.dcm", identity=cur, dose_type="EFFECTIVE", referenced_plan_uid=uid("cur-plan-sop"), seed="cur-dose", **dose_kw)  # type: ignore[arg-type]
    make_ct_series(root / "prior" / "CT", identity=pri, series_instance_uid=uid("pri-ct"), seed="pri-ct", z_positions_mm=z, rows=16, columns=16, origin_xy_mm=(-15, -15))
    pri_ss = make_rt_struct(root / "prior", filename="RS.pri.dcm", identity=pri, rois=[box_roi(1, "PTV_70", (0, 0), 8, (-3, 0, 3), "PTV")], referenced_series_uid=uid("pri-ct"), seed="pri-ss", label="PRIOR")
    pri_plan = make_rt_plan(root / "prior", identity=pri, fractions=33, structure_set_uid=uid("pri-ss-sop"), seed="pri-plan",
                            beams=(BeamSpec(1, "A", "PHOTON", 1.0), BeamSpec(2, "B", "PHOTON", 1.0 + 2.0 / 30)))
    pri_dose = make_rt_dose(root / "prior", filename="RD.pri.dcm", identity=pri, referenced_plan_uid=uid("pri-plan-sop"), seed="pri-dose", **dose_kw)  # type: ignore[arg-type]
    matrix = rigid_matrix(3.0, (2.0, -1.0, 4.0))
    reg = make_reg(root / "prior", identity=cur, source_frame_uid=pri.frame_of_reference_uid, matrix=matrix) if with_registration else None
    return TwoCourseExport(root, cur, pri, cur_plan, cur_dose, cur_ss, pri_plan, pri_dose, pri_ss, reg, matrix)
