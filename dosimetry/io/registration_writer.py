"""Write a DICOM Deformable Spatial Registration (PS3.3 A.39.2, module C.20.3) with pydicom.

The object's FrameOfReferenceUID is the registration's Registered RCS
(:attr:`DeformableRegistration.target_frame_uid`); its one Deformable Registration Sequence item
names the Source RCS and carries the pre-deformation matrix, the deformation grid (32-bit float
vectors, x fastest, then y, then z, as VectorGridData requires) and the post-deformation matrix.
Matrices are written as DS strings of at most 16 characters; :func:`ds_exact` gives the values a
reader gets back, so a registration built with it round-trips exactly.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pydicom
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

import dosimetry
from dosimetry.io.dicom_file import DEFORMABLE_SPATIAL_REGISTRATION
from dosimetry.io.registration_reader import DeformableRegistration
from dosimetry.io.rtdose_writer import (
    DicomIdentity,
    apply_identity,
    ds_str,
    new_file_dataset,
    save_dataset,
)


def ds_exact(matrix: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """``matrix`` rounded to what its DS strings encode (what a reader of the written file gets)."""
    values = np.asarray(matrix, dtype=np.float64)
    return np.array([float(ds_str(v)) for v in values.ravel()], dtype=np.float64).reshape(values.shape)


def _matrix_item(matrix: npt.NDArray[np.float64]) -> Dataset:
    m = np.asarray(matrix, dtype=np.float64)
    r = m[:3, :3]
    rigid = np.allclose(r @ r.T, np.eye(3), atol=1e-6) and np.isclose(np.linalg.det(r), 1.0, atol=1e-6)
    item = Dataset()
    item.FrameOfReferenceTransformationMatrixType = "RIGID" if rigid else "AFFINE"
    item.FrameOfReferenceTransformationMatrix = [ds_str(v) for v in m.ravel()]
    return item


def write_deformable_registration(
    registration: DeformableRegistration,
    path: Path | str,
    *,
    identity: DicomIdentity,
    description: str,
    sop_instance_uid: str | None = None,
    series_instance_uid: str | None = None,
) -> str:
    """Write ``registration`` as a Deformable Spatial Registration file; returns its SOP Instance UID."""
    sop = sop_instance_uid or pydicom.uid.generate_uid()
    now = _dt.datetime.now(_dt.UTC)
    date, time_ = now.strftime("%Y%m%d"), now.strftime("%H%M%S")
    ds = new_file_dataset(DEFORMABLE_SPATIAL_REGISTRATION, sop)
    apply_identity(ds, identity)
    ds.InstanceCreationDate = date
    ds.InstanceCreationTime = time_
    ds.Modality = "REG"
    ds.SeriesInstanceUID = series_instance_uid or pydicom.uid.generate_uid()
    ds.SeriesNumber = 1
    ds.SeriesDescription = description[:64]
    ds.FrameOfReferenceUID = registration.target_frame_uid
    ds.PositionReferenceIndicator = ""
    ds.ManufacturerModelName = identity.manufacturer_model_name or "dosimetry"
    ds.DeviceSerialNumber = "0"
    ds.SoftwareVersions = identity.software_versions or dosimetry.__version__
    ds.ContentDate = date
    ds.ContentTime = time_
    ds.InstanceNumber = 1
    ds.ContentLabel = "DEFORMABLE"
    ds.ContentDescription = description[:64]
    ds.ContentCreatorName = identity.operators_name or ""
    grid = Dataset()
    grid.ImagePositionPatient = [ds_str(v) for v in registration.origin_mm]
    grid.ImageOrientationPatient = [ds_str(v) for v in registration.orientation]
    grid.GridDimensions = list(registration.grid_dimensions_xyz)
    grid.GridResolution = [float(v) for v in registration.resolution_mm]
    grid.VectorGridData = np.ascontiguousarray(registration.vectors_mm, dtype="<f4").tobytes()
    item = Dataset()
    item.SourceFrameOfReferenceUID = registration.source_frame_uid
    item.RegistrationTypeCodeSequence = Sequence()
    item.PreDeformationMatrixRegistrationSequence = Sequence([_matrix_item(registration.pre_matrix)])
    item.PostDeformationMatrixRegistrationSequence = Sequence([_matrix_item(registration.post_matrix)])
    item.DeformableRegistrationGridSequence = Sequence([grid])
    item.FrameOfReferenceTransformationComment = description[:64]
    ds.DeformableRegistrationSequence = Sequence([item])
    save_dataset(ds, path)
    return sop

