"""Write an RT Structure Set on a CT series: rt-utils for the references, our own contours.

rt-utils (``RTStructBuilder.create_new``) reads the CT series, sorts it by slice position and
builds the Referenced Frame of Reference Sequence with its RT Referenced Study / Series and
Contour Image sequences, as a planning system exports them; that part is used as is.

Contours do not come from rt-utils' ``add_roi``: it traces the centres of the boundary voxels of
a mask, so every contour lies half a CT pixel inside the structure, small organs lose about half
their volume and one- or two-voxel-wide parts get zero-area contours (the prior course's Lens_L
came out as 0.0 cc in dicompyler-core). The contours are traced from the analytic solids with
sub-pixel accuracy instead (:mod:`dosimetry.sampledata.contouring`) and written with pydicom.

Also redone with pydicom, for reproducible and well-formed output: rt-utils stamps wall-clock
dates and random UIDs, writes implicit VR with "Qurit" as manufacturer; here dates come from
:class:`DicomIdentity`, UIDs are given, the file is explicit VR little endian, every ROI carries
its RT ROI Interpreted Type, and ContourData are 16-character DS values.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from rt_utils import RTStructBuilder

from dosimetry.errors import GeometryError
from dosimetry.sampledata.contouring import SliceContour
from dosimetry.io.rtdose_writer import DicomIdentity, apply_identity, ds_str, new_file_dataset, save_dataset

logger = logging.getLogger(__name__)

RT_STRUCTURE_SET_STORAGE = "1.2.840.10008.5.1.4.1.1.481.3"


@dataclass(frozen=True)
class RoiContours:
    """One ROI to write and its contours on the CT slices (indices in ascending z order)."""

    name: str
    interpreted_type: str
    color_rgb: tuple[int, int, int]
    contours: tuple[SliceContour, ...]


def write_structure_set(
    ct_dir: Path,
    rois: tuple[RoiContours, ...],
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
    """Write the RT Structure Set of ``rois`` on the CT series in ``ct_dir`` (a folder holding
    only that series) to ``path``; returns its SOP Instance UID."""
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
    slices = rtstruct.series_data  # sorted by position along the slice normal (ascending z here)
    slice_z = [float(s.ImagePositionPatient[2]) for s in slices]
    frame_uid = str(rtstruct.frame_of_reference_uid)

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
    ds.ReferencedFrameOfReferenceSequence = rtstruct.ds.ReferencedFrameOfReferenceSequence

    roi_items = Sequence()
    contour_items = Sequence()
    observations = Sequence()
    for number, roi in enumerate(rois, start=1):
        if not roi.contours:
            raise GeometryError(f"ROI {roi.name!r} has no contour on the CT series in {ct_dir}")
        item = Dataset()
        item.ROINumber = number
        item.ReferencedFrameOfReferenceUID = frame_uid
        item.ROIName = roi.name
        item.ROIGenerationAlgorithm = "AUTOMATIC"
        roi_items.append(item)

        contours = Sequence()
        for contour in roi.contours:
            k = contour.slice_index
            if not 0 <= k < len(slices):
                raise GeometryError(f"ROI {roi.name!r}: contour on slice {k}, the CT has {len(slices)}")
            image = Dataset()
            image.ReferencedSOPClassUID = slices[k].SOPClassUID
            image.ReferencedSOPInstanceUID = slices[k].SOPInstanceUID
            points = np.column_stack([contour.points_xy_mm, np.full(contour.points_xy_mm.shape[0], slice_z[k])])
            c = Dataset()
            c.ContourImageSequence = Sequence([image])
            c.ContourGeometricType = "CLOSED_PLANAR"
            c.NumberOfContourPoints = int(points.shape[0])
            c.ContourData = [ds_str(round(float(v), 3)) for v in points.ravel()]
            contours.append(c)
        roi_contour = Dataset()
        roi_contour.ROIDisplayColor = list(roi.color_rgb)
        roi_contour.ContourSequence = contours
        roi_contour.ReferencedROINumber = number
        contour_items.append(roi_contour)

        obs = Dataset()
        obs.ObservationNumber = number
        obs.ReferencedROINumber = number
        obs.RTROIInterpretedType = roi.interpreted_type
        obs.ROIInterpreter = ""
        observations.append(obs)
    ds.StructureSetROISequence = roi_items
    ds.ROIContourSequence = contour_items
    ds.RTROIObservationsSequence = observations
    ds.ApprovalStatus = "APPROVED"
    ds.ReviewDate = structure_set_date
    ds.ReviewTime = structure_set_time
    ds.ReviewerName = identity.operators_name or "Physician^Synthetic"
    save_dataset(ds, path)
    logger.info("wrote RT Structure Set %s with %d ROIs to %s", sop_instance_uid, len(rois), path)
    return sop_instance_uid
