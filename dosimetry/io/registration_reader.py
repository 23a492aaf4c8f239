"""Spatial Registration (rigid) and Deformable Spatial Registration objects.

Direction (PS3.3 C.20.2.1.1): in a Spatial Registration object, the Registration Sequence item
whose FrameOfReferenceUID is F carries a matrix that maps coordinates of F into the registration
object's own FrameOfReferenceUID (the "registered" frame). An item for the object's own frame is
normally the identity. Several matrices in one Matrix Sequence are applied in order
(p' = M_n ... M_2 M_1 p).

Deformable Spatial Registration (PS3.3 C.20.3.1.1): the object's own FrameOfReferenceUID is the
Registered RCS, each Deformable Registration Sequence item's SourceFrameOfReferenceUID a Source
RCS. A point of the *Registered* RCS is mapped by the pre-deformation matrix, offset by the
deformation grid's vector at that point (the grid is placed in the Registered RCS), then mapped
by the post-deformation matrix; the result is the sample point in the *Source* RCS. The grid is
kept here as a frozen value object (origin, direction cosines, resolution, vectors (z, y, x, 3) in
mm); :mod:`dosimetry.align.deformable` applies it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset

from dosimetry.errors import ConsistencyError, DicomContentError, UnsupportedDataError
from dosimetry.io.dicom_file import (
    DEFORMABLE_SPATIAL_REGISTRATION,
    SPATIAL_REGISTRATION,
    as_int,
    expect_sop_class,
    float_vector,
    read_dicom,
    require,
    tag_label,
    text,
)
from dosimetry.registration import RigidRegistration

LOGGER = logging.getLogger(__name__)


def _matrix_from_sequence(seq_item: Dataset, path: Path, context: str) -> tuple[npt.NDArray[np.float64], tuple[str, ...]]:
    """Compose the matrices of a Matrix Registration Sequence item's Matrix Sequence."""
    matrices = seq_item.get("MatrixSequence") or []
    if not matrices:
        raise DicomContentError(f"{path}: {tag_label('MatrixSequence')} missing or empty in {context}")
    total = np.eye(4)
    types: list[str] = []
    for k, m_item in enumerate(matrices, start=1):
        m_context = f"{context}, {tag_label('MatrixSequence')} item {k}"
        values = float_vector(m_item, "FrameOfReferenceTransformationMatrix", path, 16, context=m_context)
        m = _checked_matrix(np.asarray(values, dtype=np.float64).reshape(4, 4), path, m_context)
        types.append(text(m_item, "FrameOfReferenceTransformationMatrixType") or "")
        total = m @ total
    return total, tuple(types)


def _item_matrix(item: Dataset, keyword: str, path: Path, context: str) -> npt.NDArray[np.float64]:
    seq = item.get(keyword)
    if not seq:
        return np.eye(4)
    m_context = f"{context}, {tag_label(keyword)}"
    values = float_vector(seq[0], "FrameOfReferenceTransformationMatrix", path, 16, context=m_context)
    return _checked_matrix(np.asarray(values, dtype=np.float64).reshape(4, 4), path, m_context)


#: Smallest |determinant| of a matrix's linear part accepted (a rigid matrix has 1; below this every
#: point would be squeezed onto a plane, line or point: one dose value read for a whole region).
_MIN_ABS_DETERMINANT = 1e-6


def _checked_matrix(matrix: npt.NDArray[np.float64], path: Path, m_context: str) -> npt.NDArray[np.float64]:
    """``matrix`` if it is an invertible homogeneous 4 x 4 transformation; DicomContentError otherwise."""
    label = f"{path}: {tag_label('FrameOfReferenceTransformationMatrix')} in {m_context}"
    if not np.allclose(matrix[3], [0, 0, 0, 1], atol=1e-6):
        raise DicomContentError(f"{label} has last row {matrix[3].tolist()}, expected (0, 0, 0, 1)")
    det = float(np.linalg.det(matrix[:3, :3]))
    if not abs(det) >= _MIN_ABS_DETERMINANT:
        raise DicomContentError(
            f"{label} is singular (determinant of its 3 x 3 part {det:.3g}), expected an invertible rigid or affine transformation"
        )
    return matrix


def load_registrations(path: str | Path) -> tuple[RigidRegistration, ...]:
    """Every non-identity frame mapping in a Spatial Registration object (source = item frame,
    target = the object's own FrameOfReferenceUID)."""
    p = Path(path)
    return registrations_from_dataset(read_dicom(p), p)


def registrations_from_dataset(ds: Dataset, p: Path) -> tuple[RigidRegistration, ...]:
    """:func:`load_registrations` on a dataset already read."""
    expect_sop_class(ds, p, [SPATIAL_REGISTRATION])
    own_frame = str(require(ds, "FrameOfReferenceUID", p))
    sop_uid = text(ds, "SOPInstanceUID")
    result: list[RigidRegistration] = []
    for i, item in enumerate(require(ds, "RegistrationSequence", p), start=1):
        context = f"{tag_label('RegistrationSequence')} item {i}"
        frame = str(require(item, "FrameOfReferenceUID", p, context=context))
        mseq = require(item, "MatrixRegistrationSequence", p, context=context)
        matrix, types = _matrix_from_sequence(mseq[0], p, f"{context}, {tag_label('MatrixRegistrationSequence')}")
        if frame == own_frame:
            if not np.allclose(matrix, np.eye(4), atol=1e-6):
                raise ConsistencyError(
                    f"{p}: {context} maps the object's own frame {frame} onto itself with a non-identity matrix"
                )
            continue
        reg = RigidRegistration(source_frame_uid=frame, target_frame_uid=own_frame, matrix=matrix, sop_instance_uid=sop_uid, source_path=p)
        if not reg.is_rigid:
            raise UnsupportedDataError(
                f"{p}: {tag_label('FrameOfReferenceTransformationMatrix')} in {context} (type {'/'.join(types) or 'unspecified'}) "
                "is not a rigid transform (rotation + translation); scaling and affine registrations are not supported"
            )
        result.append(reg)
    return tuple(result)


def load_registration(path: str | Path) -> RigidRegistration:
    """The one rigid registration of a Spatial Registration object (another frame onto its own).

    Raises ConsistencyError when the object registers no other frame or several (then use
    :func:`load_registrations`).
    """
    p = Path(path)
    regs = load_registrations(p)
    if len(regs) != 1:
        frames = [r.source_frame_uid for r in regs]
        raise ConsistencyError(
            f"{p}: {tag_label('RegistrationSequence')} maps {len(regs)} other frames of reference onto its own {frames}; "
            "expected exactly one (use load_registrations for several)"
        )
    return regs[0]


@dataclass(frozen=True, eq=False)
class DeformableRegistration:
    """One item of a Deformable Spatial Registration between ``source_frame_uid`` (the item's Source
    RCS) and ``target_frame_uid`` (the object's own frame, the Registered RCS).

    PS3.3 C.20.3.1.1: p_source = post @ (pre @ p + v(p)) for a point p of the Registered RCS (the
    "pull" direction: where to sample source data), with ``v`` the displacement field sampled on
    the grid of voxel centres ``origin_mm + i*resolution*row_dir + j*resolution*col_dir + k*resolution*normal``.
    ``vectors_mm`` has shape (nz, ny, nx, 3) in grid order (GridDimensions x, y, z).
    """

    source_frame_uid: str
    target_frame_uid: str
    pre_matrix: npt.NDArray[np.float64]
    post_matrix: npt.NDArray[np.float64]
    origin_mm: tuple[float, float, float]
    orientation: tuple[float, float, float, float, float, float]
    resolution_mm: tuple[float, float, float]
    vectors_mm: npt.NDArray[np.float64]
    sop_instance_uid: str = ""
    source_path: Path | None = None
    warnings: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        for name in ("pre_matrix", "post_matrix", "vectors_mm"):
            array = np.array(getattr(self, name), dtype=np.float64)
            array.flags.writeable = False
            object.__setattr__(self, name, array)

    @property
    def grid_dimensions_xyz(self) -> tuple[int, int, int]:
        nz, ny, nx, _ = self.vectors_mm.shape
        return (nx, ny, nz)

    @property
    def max_displacement_mm(self) -> float:
        return float(np.linalg.norm(self.vectors_mm, axis=-1).max())


def load_deformable_registrations(path: str | Path) -> tuple[DeformableRegistration, ...]:
    """Every Deformable Registration Sequence item that carries a deformation grid."""
    p = Path(path)
    return deformable_registrations_from_dataset(read_dicom(p), p)


def deformable_registrations_from_dataset(ds: Dataset, p: Path) -> tuple[DeformableRegistration, ...]:
    """:func:`load_deformable_registrations` on a dataset already read."""
    expect_sop_class(ds, p, [DEFORMABLE_SPATIAL_REGISTRATION])
    own_frame = str(require(ds, "FrameOfReferenceUID", p))
    result: list[DeformableRegistration] = []
    for i, item in enumerate(require(ds, "DeformableRegistrationSequence", p), start=1):
        context = f"{tag_label('DeformableRegistrationSequence')} item {i}"
        source = str(require(item, "SourceFrameOfReferenceUID", p, context=context))
        grids = item.get("DeformableRegistrationGridSequence")
        if not grids:
            continue
        g = grids[0]
        g_context = f"{context}, {tag_label('DeformableRegistrationGridSequence')}"
        raw_dims = require(g, "GridDimensions", p, context=g_context)
        items = list(raw_dims) if not isinstance(raw_dims, (str, bytes, int, float)) else [raw_dims]
        dims = [as_int(v, "GridDimensions", p, context=g_context) for v in items]
        if len(dims) != 3 or min(dims) < 1:
            raise DicomContentError(f"{p}: {tag_label('GridDimensions')} in {g_context} is {dims}, expected three positive integers")
        resolution = float_vector(g, "GridResolution", p, 3, context=g_context)
        if min(resolution) <= 0:
            raise DicomContentError(f"{p}: {tag_label('GridResolution')} in {g_context} is {resolution}, expected three positive spacings in mm")
        origin = float_vector(g, "ImagePositionPatient", p, 3, context=g_context)
        orientation = float_vector(g, "ImageOrientationPatient", p, 6, context=g_context)
        raw_bytes = bytes(require(g, "VectorGridData", p, context=g_context))
        if len(raw_bytes) % 4:
            raise DicomContentError(
                f"{p}: {tag_label('VectorGridData')} in {g_context} holds {len(raw_bytes)} bytes, expected 32-bit floats (a multiple of 4)"
            )
        vectors = np.frombuffer(raw_bytes, dtype="<f4" if ds.is_little_endian in (True, None) else ">f4")
        if not np.all(np.isfinite(vectors)):
            raise DicomContentError(f"{p}: {tag_label('VectorGridData')} in {g_context} holds non-finite displacements")
        expected = 3 * dims[0] * dims[1] * dims[2]
        if vectors.size != expected:
            raise DicomContentError(
                f"{p}: {tag_label('VectorGridData')} in {g_context} holds {vectors.size} floats, expected 3 x {dims} = {expected}"
            )
        result.append(
            DeformableRegistration(
                source_frame_uid=source,
                target_frame_uid=own_frame,
                pre_matrix=_item_matrix(item, "PreDeformationMatrixRegistrationSequence", p, context),
                post_matrix=_item_matrix(item, "PostDeformationMatrixRegistrationSequence", p, context),
                origin_mm=(origin[0], origin[1], origin[2]),
                orientation=tuple(orientation),  # type: ignore[arg-type]
                resolution_mm=(resolution[0], resolution[1], resolution[2]),
                vectors_mm=vectors.astype(np.float64).reshape(dims[2], dims[1], dims[0], 3),
                sop_instance_uid=text(ds, "SOPInstanceUID"),
                source_path=p,
            )
        )
    if not result:
        raise DicomContentError(f"{p}: no {tag_label('DeformableRegistrationGridSequence')} in any {tag_label('DeformableRegistrationSequence')} item")
    return tuple(result)
