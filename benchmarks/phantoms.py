"""Write analytic DVH phantoms (:mod:`dosimetry.dvh.phantoms`) as RT Dose + RT Structure Set files.

Used by ``benchmarks/dvh_vs_dicompyler.py`` (so dicompyler-core reads the very same geometry) and by
the CLI tests. The RT Dose goes through the project's writer; the structure set writer here is a
minimal, standard RT Structure Set (no CT references) with contour coordinates at full DS
precision.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import generate_uid

from dosimetry.dose import DoseGrid
from dosimetry.io.rtdose_writer import DicomIdentity, apply_identity, ds_str, new_file_dataset, save_dataset, write_rt_dose
from dosimetry.structures import Roi

RT_STRUCT_CLASS = "1.2.840.10008.5.1.4.1.1.481.3"
PREFIX = "1.2.826.0.1.3680043.10.1234."


def identity(seed: str = "phantom") -> DicomIdentity:
    return DicomIdentity(
        patient_id="DVH-PHANTOM",
        patient_name="Phantom^DVH",
        study_instance_uid=generate_uid(prefix=PREFIX, entropy_srcs=[seed, "study"]),
        study_date="20260101",
        study_time="120000",
    )


def write_structure_set(
    rois: Sequence[Roi], path: Path, *, frame_of_reference_uid: str, ident: DicomIdentity, seed: str = "phantom"
) -> Path:
    """A minimal RT Structure Set holding ``rois`` (CLOSED_PLANAR contours as given)."""
    sop = generate_uid(prefix=PREFIX, entropy_srcs=[seed, "rs"])
    ds = new_file_dataset(RT_STRUCT_CLASS, sop)
    apply_identity(ds, ident)
    ds.Modality = "RTSTRUCT"
    ds.SeriesInstanceUID = generate_uid(prefix=PREFIX, entropy_srcs=[seed, "rs-series"])
    ds.SeriesNumber = 2
    ds.InstanceNumber = 1
    ds.FrameOfReferenceUID = frame_of_reference_uid
    ds.StructureSetLabel = "PHANTOM"
    ds.StructureSetDate = "20260101"
    ds.StructureSetTime = "120000"
    ref = Dataset()
    ref.FrameOfReferenceUID = frame_of_reference_uid
    ds.ReferencedFrameOfReferenceSequence = DicomSequence([ref])
    ss, rc_items, obs_items = [], [], []
    for k, roi in enumerate(rois, start=1):
        item = Dataset()
        item.ROINumber = roi.number
        item.ReferencedFrameOfReferenceUID = frame_of_reference_uid
        item.ROIName = roi.name
        item.ROIGenerationAlgorithm = "AUTOMATIC"
        ss.append(item)
        rc = Dataset()
        rc.ReferencedROINumber = roi.number
        rc.ROIDisplayColor = [255, 0, 0]
        seq = []
        for contour in roi.contours:
            c = Dataset()
            c.ContourGeometricType = str(contour.geometric_type)
            c.NumberOfContourPoints = contour.points_mm.shape[0]
            c.ContourData = [ds_str(v) for v in np.asarray(contour.points_mm).ravel()]
            seq.append(c)
        rc.ContourSequence = DicomSequence(seq)
        rc_items.append(rc)
        obs = Dataset()
        obs.ObservationNumber = k
        obs.ReferencedROINumber = roi.number
        obs.RTROIInterpretedType = roi.interpreted_type or "ORGAN"
        obs.ROIInterpreter = ""
        obs_items.append(obs)
    ds.StructureSetROISequence = DicomSequence(ss)
    ds.ROIContourSequence = DicomSequence(rc_items)
    ds.RTROIObservationsSequence = DicomSequence(obs_items)
    return save_dataset(ds, path)


def write_case(dose: DoseGrid, rois: Sequence[Roi], directory: Path, *, seed: str) -> tuple[Path, Path]:
    """Write ``dose`` and ``rois`` as RD.dcm and RS.dcm in ``directory``; return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    ident = identity(seed)
    rd = directory / "RD.dcm"
    rs = directory / "RS.dcm"
    write_rt_dose(
        dose,
        rd,
        identity=ident,
        referenced_plan_uid=None,
        series_description="analytic phantom dose",
        sop_instance_uid=generate_uid(prefix=PREFIX, entropy_srcs=[seed, "rd"]),
        series_instance_uid=generate_uid(prefix=PREFIX, entropy_srcs=[seed, "rd-series"]),
    )
    write_structure_set(rois, rs, frame_of_reference_uid=dose.frame_of_reference_uid, ident=ident, seed=seed)
    return rd, rs
