"""Write an RT Structure Set from voxel masks on a CT series, with rt-utils.

rt-utils (``RTStructBuilder.create_new`` + ``add_roi``) reads the CT series, traces each mask
slice with OpenCV and fills the Referenced Frame of Reference / RT Referenced Study / Series /
Contour Image sequences. Its contours run through the centres of the boundary voxels of the mask,
so a contoured structure is about half a CT pixel smaller than the solid it was drawn from.

What rt-utils does not do the way a planning system export needs, and is therefore redone here
on its dataset before writing (all with pydicom):

* it stamps wall-clock dates and random UIDs (SOP Instance, Series) - replaced by the fixed
  dates of :class:`DicomIdentity` and deterministic UIDs, so the same seed gives the same bytes;
* it writes implicit VR little endian with "Qurit" as manufacturer - the file is re-encoded as
  explicit VR little endian with the course's equipment attributes;
* RTROIInterpretedType is left empty and ROIObservationDescription holds viewer settings - the
  interpreted type (EXTERNAL, GTV, CTV, PTV, ORGAN) is set and the description dropped;
* NumberOfContourPoints is a float and ContourData float32 products - they are rewritten as IS
  and 16-character DS values;
* ``add_roi`` prints (not logs) on an empty mask - empty masks are refused here first.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from rt_utils import RTStructBuilder

from dosimetry.errors import GeometryError
from dosimetry.io.rtdose_writer import DicomIdentity, apply_identity, ds_str, new_file_dataset, save_dataset

logger = logging.getLogger(__name__)

RT_STRUCTURE_SET_STORAGE = "1.2.840.10008.5.1.4.1.1.481.3"


@dataclass(frozen=True)
class RoiMask:
    """One ROI to write: ``mask_zyx`` is a boolean array on the CT grid (axis order z, y, x)."""

    name: str
    interpreted_type: str
    color_rgb: tuple[int, int, int]
    mask_zyx: npt.NDArray[np.bool_]


def write_structure_set(
    ct_dir: Path,
    rois: tuple[RoiMask, ...],
    path: Path,
    *,
    identity: DicomIdentity,
    sop_instance_uid: str,
    series_instance_uid: str,
    label: str,
    structure_set_date: str,
    structure_set_time: str,
    series_description: str,
) -> str:
    """Contour ``rois`` on the CT series in ``ct_dir`` (a folder holding only that series) and
    write the RT Structure Set to ``path``; returns its SOP Instance UID."""
    # rt-utils 1.2.7 sets FileDataset.is_little_endian/is_implicit_VR, deprecated in pydicom 3
    # (pydicom warns and logs it); the dataset is re-encoded below, so this is noise for callers.
    pydicom_logger = logging.getLogger("pydicom")
    previous_level = pydicom_logger.level
    pydicom_logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"pydicom\..*")
            rtstruct = RTStructBuilder.create_new(dicom_series_path=str(ct_dir))
    finally:
        pydicom_logger.setLevel(previous_level)
    n_slices = len(rtstruct.series_data)
    for roi in rois:
        if not roi.mask_zyx.any():
            raise GeometryError(f"ROI {roi.name!r} has an empty mask on the CT grid of {ct_dir}")
        if roi.mask_zyx.shape[0] != n_slices:
            raise GeometryError(f"ROI {roi.name!r} mask has {roi.mask_zyx.shape[0]} slices, CT has {n_slices}")
        # rt-utils wants (rows, columns, slices) with slices in ascending position order.
        mask_rcs = np.ascontiguousarray(np.transpose(roi.mask_zyx, (1, 2, 0)))
        rtstruct.add_roi(mask=mask_rcs, name=roi.name, color=list(roi.color_rgb), approximate_contours=True)
    source = rtstruct.ds

    ds = new_file_dataset(RT_STRUCTURE_SET_STORAGE, sop_instance_uid)
    apply_identity(ds, identity)
    ds.InstanceCreationDate = structure_set_date
    ds.InstanceCreationTime = structure_set_time
    ds.Modality = "RTSTRUCT"
    ds.SeriesInstanceUID = series_instance_uid
    ds.SeriesNumber = 1
    ds.SeriesDescription = series_description
    ds.SeriesDate = structure_set_date
    ds.SeriesTime = structure_set_time
    ds.InstanceNumber = 1
    ds.StructureSetLabel = label
    ds.StructureSetName = label
    ds.StructureSetDate = structure_set_date
    ds.StructureSetTime = structure_set_time
    ds.ReferencedFrameOfReferenceSequence = source.ReferencedFrameOfReferenceSequence
    ds.StructureSetROISequence = source.StructureSetROISequence
    for item in ds.StructureSetROISequence:
        item.ROINumber = int(item.ROINumber)
        item.ROIDescription = item.ROIDescription or ""

    roi_contours = Sequence()
    for item in source.ROIContourSequence:
        contours = Sequence()
        for contour in item.ContourSequence:
            points = np.asarray([float(v) for v in contour.ContourData], dtype=np.float64).reshape(-1, 3)
            points = _unique_consecutive(points)
            if points.shape[0] < 3:
                continue  # a one- or two-voxel trace encloses no area
            new = Dataset()
            new.ContourImageSequence = contour.ContourImageSequence
            new.ContourGeometricType = "CLOSED_PLANAR"
            new.NumberOfContourPoints = int(points.shape[0])
            new.ContourData = [ds_str(v) for v in points.ravel()]
            contours.append(new)
        if len(contours) == 0:
            raise GeometryError(f"ROI number {item.ReferencedROINumber} has no contour with an area on {ct_dir}")
        out = Dataset()
        out.ROIDisplayColor = [int(v) for v in item.ROIDisplayColor]
        out.ContourSequence = contours
        out.ReferencedROINumber = int(item.ReferencedROINumber)
        roi_contours.append(out)
    ds.ROIContourSequence = roi_contours

    observations = Sequence()
    for number, roi in enumerate(rois, start=1):
        obs = Dataset()
        obs.ObservationNumber = number
        obs.ReferencedROINumber = number
        obs.RTROIInterpretedType = roi.interpreted_type
        obs.ROIInterpreter = ""
        observations.append(obs)
    ds.RTROIObservationsSequence = observations
    ds.ApprovalStatus = "APPROVED"
    ds.ReviewDate = structure_set_date
    ds.ReviewTime = structure_set_time
    ds.ReviewerName = identity.operators_name or "Physician^Synthetic"
    save_dataset(ds, path)
    logger.info("wrote RT Structure Set %s with %d ROIs to %s", sop_instance_uid, len(rois), path)
    return sop_instance_uid


def _unique_consecutive(points: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Drop repeated consecutive points (and a closing point equal to the first)."""
    keep = np.ones(points.shape[0], dtype=bool)
    keep[1:] = np.any(np.abs(np.diff(points, axis=0)) > 1e-6, axis=1)
    points = points[keep]
    if points.shape[0] > 1 and np.all(np.abs(points[-1] - points[0]) <= 1e-6):
        points = points[:-1]
    return points
