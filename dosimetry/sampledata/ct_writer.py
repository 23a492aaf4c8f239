"""Write a synthetic CT series (one file per axial slice, head first supine)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from dosimetry.errors import GeometryError
from dosimetry.grid import RectilinearGrid
from dosimetry.io.rtdose_writer import DicomIdentity, apply_identity, ds_str, new_file_dataset, save_dataset

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
#: Stored value = HU - RESCALE_INTERCEPT (unsigned 16-bit, like most scanners).
RESCALE_INTERCEPT = -1024


@dataclass(frozen=True)
class CtSeries:
    """What was written: the grid (canonical, LPS), UIDs and one path per slice (ascending z)."""

    grid: RectilinearGrid
    series_instance_uid: str
    frame_of_reference_uid: str
    sop_instance_uids: tuple[str, ...]
    paths: tuple[Path, ...]


def write_ct_series(
    hu_zyx: npt.NDArray[np.int16],
    grid: RectilinearGrid,
    out_dir: Path,
    *,
    identity: DicomIdentity,
    series_instance_uid: str,
    frame_of_reference_uid: str,
    slice_uids: tuple[str, ...],
    series_description: str,
    series_number: int = 1,
) -> CtSeries:
    """Write ``hu_zyx`` (axis order z, y, x on ``grid``) as ``CT_<n>.dcm`` files in ``out_dir``."""
    nz, ny, nx = grid.shape_zyx
    if hu_zyx.shape != grid.shape_zyx or len(slice_uids) != nz:
        raise GeometryError(f"CT array {hu_zyx.shape} / {len(slice_uids)} slice UIDs do not match grid {grid.shape_zyx}")
    stored = np.clip(hu_zyx.astype(np.int32) - RESCALE_INTERCEPT, 0, 4095).astype("<u2")
    thickness = float(grid.z_mm[1] - grid.z_mm[0]) if nz > 1 else float(grid.slice_thickness_mm[0])
    paths = []
    for k in range(nz):
        ds = new_file_dataset(CT_IMAGE_STORAGE, slice_uids[k])
        apply_identity(ds, identity)
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.InstanceCreationDate = identity.study_date
        ds.InstanceCreationTime = identity.study_time
        ds.SeriesDate = identity.study_date
        ds.SeriesTime = identity.study_time
        ds.AcquisitionDate = identity.study_date
        ds.AcquisitionTime = identity.study_time
        ds.ContentDate = identity.study_date
        ds.ContentTime = identity.study_time
        ds.Modality = "CT"
        ds.SeriesDescription = series_description
        ds.BodyPartExamined = "HEAD"
        ds.SliceThickness = ds_str(thickness)
        ds.KVP = "120"
        ds.PatientPosition = "HFS"
        ds.SeriesInstanceUID = series_instance_uid
        ds.SeriesNumber = series_number
        ds.AcquisitionNumber = 1
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = [ds_str(grid.x_mm[0]), ds_str(grid.y_mm[0]), ds_str(grid.z_mm[k])]
        ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
        ds.FrameOfReferenceUID = frame_of_reference_uid
        ds.PositionReferenceIndicator = ""
        ds.SliceLocation = ds_str(grid.z_mm[k])
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows = ny
        ds.Columns = nx
        ds.PixelSpacing = [ds_str(grid.spacing_y_mm), ds_str(grid.spacing_x_mm)]
        ds.BitsAllocated = 16
        ds.BitsStored = 12
        ds.HighBit = 11
        ds.PixelRepresentation = 0
        ds.WindowCenter = "40"
        ds.WindowWidth = "400"
        ds.RescaleIntercept = str(RESCALE_INTERCEPT)
        ds.RescaleSlope = "1"
        ds.RescaleType = "HU"
        ds.PixelData = stored[k].tobytes()
        path = out_dir / f"CT_{k + 1:03d}.dcm"
        save_dataset(ds, path)
        paths.append(path)
    return CtSeries(grid, series_instance_uid, frame_of_reference_uid, tuple(slice_uids), tuple(paths))
