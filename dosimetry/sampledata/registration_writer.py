"""Write a rigid DICOM Spatial Registration (REG) object.

The object's FrameOfReferenceUID is the *registered* (target) frame. Its Registration Sequence
holds one item per source frame: the item's FrameOfReferenceUID names the source frame and its
FrameOfReferenceTransformationMatrix (4x4, row-major, RIGID) maps points given in that frame into
the object's frame (PS3.3 C.20.2.1.1). A second item for the target frame itself carries the
identity matrix, as planning systems write it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from dosimetry.errors import ArgumentError
from dosimetry.io.rtdose_writer import DicomIdentity, apply_identity, ds_str, new_file_dataset, save_dataset

SPATIAL_REGISTRATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.1"


def _registration_item(frame_uid: str, matrix: npt.NDArray[np.float64]) -> Dataset:
    m = Dataset()
    m.FrameOfReferenceTransformationMatrixType = "RIGID"
    m.FrameOfReferenceTransformationMatrix = [ds_str(v) for v in np.asarray(matrix, dtype=np.float64).ravel()]
    reg = Dataset()
    reg.MatrixSequence = Sequence([m])
    reg.RegistrationTypeCodeSequence = Sequence()
    item = Dataset()
    item.FrameOfReferenceUID = frame_uid
    item.MatrixRegistrationSequence = Sequence([reg])
    return item


def write_spatial_registration(
    path: Path,
    *,
    identity: DicomIdentity,
    sop_instance_uid: str,
    series_instance_uid: str,
    target_frame_uid: str,
    source_frame_uid: str,
    source_to_target: npt.NDArray[np.float64],
    content_date: str,
    content_time: str,
    description: str,
) -> str:
    """Write a REG mapping ``source_frame_uid`` points into ``target_frame_uid`` with the 4x4
    ``source_to_target`` matrix (p_target = M @ p_source); returns the SOP Instance UID."""
    matrix = np.asarray(source_to_target, dtype=np.float64)
    if matrix.shape != (4, 4):
        raise ArgumentError(f"registration matrix must be 4x4, got {matrix.shape}")
    ds = new_file_dataset(SPATIAL_REGISTRATION_STORAGE, sop_instance_uid)
    apply_identity(ds, identity)
    ds.InstanceCreationDate = content_date
    ds.InstanceCreationTime = content_time
    ds.Modality = "REG"
    ds.SeriesInstanceUID = series_instance_uid
    ds.SeriesNumber = 1
    ds.SeriesDescription = description
    ds.SeriesDate = content_date
    ds.SeriesTime = content_time
    ds.FrameOfReferenceUID = target_frame_uid
    ds.PositionReferenceIndicator = ""
    ds.InstanceNumber = 1
    ds.ContentLabel = "PRIOR_TO_CURRENT"
    ds.ContentDescription = description
    ds.ContentCreatorName = identity.operators_name or "Physicist^Synthetic"
    ds.ContentDate = content_date
    ds.ContentTime = content_time
    ds.RegistrationSequence = Sequence(
        [_registration_item(source_frame_uid, matrix), _registration_item(target_frame_uid, np.eye(4))]
    )
    save_dataset(ds, path)
    return sop_instance_uid
