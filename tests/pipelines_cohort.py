"""Tiny deterministic DICOM patients for the pipelines tests, and picklable fake analyses.

Each patient: an RT Dose (10 x 12 x 6 voxels, 3 mm, a linear dose ramp along x so metrics are
known by hand) and an RT Structure Set with a cube "PTV" and a box "Brainstem". UIDs derive from
the patient's name, so the same call writes the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian

from dosimetry.dose import DoseGrid, DoseSummationType, DoseType
from dosimetry.errors import ConsistencyError, DicomContentError, InputFileError
from dosimetry.grid import RectilinearGrid
from dosimetry.io.rtdose_writer import DicomIdentity, write_rt_dose
from pipelines.analysis import AnalysisParameters, MetricRow, PatientInputs, PatientResult

RT_STRUCTURE_SET = "1.2.840.10008.5.1.4.1.1.481.3"
RT_DOSE = "1.2.840.10008.5.1.4.1.1.481.2"


def uid(*parts: str) -> str:
    digits = str(int(hashlib.sha256("/".join(parts).encode()).hexdigest()[:24], 16))
    return "2.25." + digits[:38]


def dose_grid(frame_uid: str, scale_gy: float = 1.0) -> DoseGrid:
    grid = RectilinearGrid.uniform((-15.0, -18.0, -9.0), (3.0, 3.0, 3.0), (6, 12, 10))
    x = np.asarray(grid.x_mm)
    dose = np.broadcast_to(scale_gy * (30.0 + x), grid.shape_zyx).copy()  # 15 .. 42 Gy along x
    return DoseGrid(grid, dose, DoseType.PHYSICAL, DoseSummationType.PLAN, frame_uid)


def _square(z: float, x0: float, x1: float, y0: float, y1: float) -> list[float]:
    return [x0, y0, z, x1, y0, z, x1, y1, z, x0, y1, z]


def write_structure_set(path: Path, *, patient_id: str, study_uid: str, frame_uid: str, seed: str) -> None:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = RT_STRUCTURE_SET
    meta.MediaStorageSOPInstanceUID = uid(seed, "rs")
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = RT_STRUCTURE_SET
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "RTSTRUCT"
    ds.PatientID = patient_id
    ds.PatientName = "Test^Patient"
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = uid(seed, "rs-series")
    ds.StructureSetLabel = "RS"
    ref = Dataset()
    ref.FrameOfReferenceUID = frame_uid
    ds.ReferencedFrameOfReferenceSequence = Sequence([ref])
    rois = {1: ("PTV", "PTV", (-6.0, 6.0, -6.0, 6.0)), 2: ("Brainstem", "ORGAN", (3.0, 9.0, -9.0, 9.0))}
    roi_items, contour_items, obs_items = [], [], []
    for number, (name, kind, (x0, x1, y0, y1)) in rois.items():
        item = Dataset()
        item.ROINumber = number
        item.ReferencedFrameOfReferenceUID = frame_uid
        item.ROIName = name
        item.ROIGenerationAlgorithm = "MANUAL"
        roi_items.append(item)
        contours = []
        for z in (-3.0, 0.0, 3.0):
            c = Dataset()
            c.ContourGeometricType = "CLOSED_PLANAR"
            data = _square(z, x0, x1, y0, y1)
            c.NumberOfContourPoints = len(data) // 3
            c.ContourData = data
            contours.append(c)
        rc = Dataset()
        rc.ReferencedROINumber = number
        rc.ROIDisplayColor = [255, 0, 0]
        rc.ContourSequence = Sequence(contours)
        contour_items.append(rc)
        obs = Dataset()
        obs.ObservationNumber = number
        obs.ReferencedROINumber = number
        obs.RTROIInterpretedType = kind
        obs.ROIInterpreter = ""
        obs_items.append(obs)
    ds.StructureSetROISequence = Sequence(roi_items)
    ds.ROIContourSequence = Sequence(contour_items)
    ds.RTROIObservationsSequence = Sequence(obs_items)
    pydicom.dcmwrite(path, ds, enforce_file_format=True)


def write_patient(
    folder: Path,
    *,
    patient_id: str,
    seed: str | None = None,
    structure_set: bool = True,
    structure_frame_uid: str | None = None,
    truncate_dose: bool = False,
    scale_gy: float = 1.0,
) -> Path:
    """One patient in ``folder``: RD.dcm (+ RS.dcm). Returns the folder."""
    seed = seed or patient_id
    folder.mkdir(parents=True, exist_ok=True)
    frame_uid = uid(seed, "frame")
    study_uid = uid(seed, "study")
    identity = DicomIdentity(patient_id=patient_id, patient_name="Test^Patient", study_instance_uid=study_uid,
                             study_date="20240101", study_time="120000")
    dose_path = folder / "RD.dcm"
    write_rt_dose(
        dose_grid(frame_uid, scale_gy),
        dose_path,
        identity=identity,
        referenced_plan_uid=None,
        series_description="test dose",
        sop_instance_uid=uid(seed, "rd"),
        series_instance_uid=uid(seed, "rd-series"),
    )
    if truncate_dose:
        data = dose_path.read_bytes()
        dose_path.write_bytes(data[: len(data) - 700])
    if structure_set:
        write_structure_set(
            folder / "RS.dcm",
            patient_id=patient_id,
            study_uid=study_uid,
            frame_uid=structure_frame_uid or frame_uid,
            seed=seed,
        )
    return folder


# ---------------------------------------------------------------------------------------------
# Fake analyses (module level: picklable for process pools)
# ---------------------------------------------------------------------------------------------


def header_analysis(inputs: PatientInputs, parameters: AnalysisParameters, out_dir: Path) -> PatientResult:
    """Checks what the real analysis checks, from pydicom alone, and reports the dose range."""
    doses = inputs.files_of("RTDOSE")
    structures = inputs.files_of("RTSTRUCT")
    if len(doses) != 1:
        raise DicomContentError(f"patient {inputs.patient_id!r}: expected one RT Dose, found {len(doses)}")
    if not structures:
        raise DicomContentError(f"patient {inputs.patient_id!r}: no RT Structure Set")
    try:
        ds = pydicom.dcmread(doses[0].path)
        pixels = ds.pixel_array
    except Exception as exc:  # noqa: BLE001 - test double
        raise InputFileError(f"{doses[0].path}: truncated or corrupt RT Dose ({type(exc).__name__})") from exc
    rs = pydicom.dcmread(structures[0].path, stop_before_pixels=True)
    rs_frame = rs.ReferencedFrameOfReferenceSequence[0].FrameOfReferenceUID
    if rs_frame != ds.FrameOfReferenceUID:
        raise ConsistencyError(f"RT Structure Set frame of reference {rs_frame} differs from the RT Dose's {ds.FrameOfReferenceUID}")
    max_gy = float(pixels.max()) * float(ds.DoseGridScaling)
    rows = (
        MetricRow("ALL", "physical", "Max[Gy]", max_gy, "Gy"),
        MetricRow("ALL", "physical", "Scaled[Gy]", max_gy * parameters.residual_fraction, "Gy"),
    )
    (out_dir / "summary.json").write_text(json.dumps({"max_gy": max_gy}))
    return PatientResult(metrics=rows, output_files=("summary.json",))


header_analysis.analysis_id = "tests.header_analysis"  # type: ignore[attr-defined]


def dying_analysis(inputs: PatientInputs, parameters: AnalysisParameters, out_dir: Path) -> PatientResult:
    """Writes part of its outputs, then kills its process when the patient id says so."""
    (out_dir / "partial.txt").write_text("half")
    if inputs.patient_id == os.environ.get("PIPELINES_TEST_DIE_ON", "P03"):
        os._exit(17)
    return header_analysis(inputs, parameters, out_dir)


dying_analysis.analysis_id = "tests.header_analysis"  # type: ignore[attr-defined]


def unstorable_analysis(inputs: PatientInputs, parameters: AnalysisParameters, out_dir: Path) -> PatientResult:
    """A result the database refuses (NULL unit) for P02 only."""
    result = header_analysis(inputs, parameters, out_dir)
    if inputs.patient_id != "P02":
        return result
    bad = MetricRow("ALL", "physical", "Mean[Gy]", 1.0, "Gy")
    object.__setattr__(bad, "unit", None)
    return PatientResult(metrics=(bad,), output_files=result.output_files)


def slow_analysis(inputs: PatientInputs, parameters: AnalysisParameters, out_dir: Path) -> PatientResult:
    """``header_analysis`` after sleeping ``PIPELINES_TEST_SLOW_S`` seconds (default 0.4), so a
    fault can be injected while patients are in flight."""
    import time

    (out_dir / "partial.txt").write_text("half")
    time.sleep(float(os.environ.get("PIPELINES_TEST_SLOW_S", "0.4")))
    (out_dir / "partial.txt").unlink()
    return header_analysis(inputs, parameters, out_dir)


slow_analysis.analysis_id = "tests.header_analysis"  # type: ignore[attr-defined]


#: the LKB cohort behind :func:`lkb_dvh_analysis` (patients P01 .. P30 get its organs in order)
LKB_COHORT = {"patients": 30, "td50_gy": 55.0, "m": 0.2, "n": 0.25, "seed": 12}


def lkb_cohort() -> object:
    from dosimetry.outcomes.simulate import simulate_lkb_cohort

    spec = dict(LKB_COHORT)
    return simulate_lkb_cohort(int(spec.pop("patients")), **spec)  # type: ignore[arg-type]


def lkb_dvh_analysis(inputs: PatientInputs, parameters: AnalysisParameters, out_dir: Path) -> PatientResult:
    """Writes the ``dvh.csv`` of patient ``Pk``'s simulated BrainStem (organ k of :data:`LKB_COHORT`)
    on ``EQD2_2_cumulative``: the cumulative DVH at the simulation's bin edges (exact ``repr``
    volumes), plus a ``Parotid_L`` ``physical`` curve written like the library writes (``%.4f`` Gy,
    ``%.6g`` cc); its metric rows are the organ's mean and maximum dose."""
    import csv

    from dosimetry.outcomes.simulate import BIN_EDGES_GY

    cohort = lkb_cohort()
    organ = cohort.organs[int(inputs.patient_id[1:]) - 1]  # type: ignore[attr-defined]
    order = np.argsort(organ.dose_gy)
    volumes = np.zeros(BIN_EDGES_GY.size - 1)
    volumes[np.searchsorted(BIN_EDGES_GY, organ.dose_gy[order]) - 1] = organ.volume_cc[order]
    cumulative = np.append(np.cumsum(volumes[::-1])[::-1], 0.0)
    with open(out_dir / "dvh.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["roi", "quantity", "dose_gy", "volume_cc", "volume_pct"])
        for d, v in zip(BIN_EDGES_GY, cumulative, strict=True):
            writer.writerow(["BrainStem", "EQD2_2_cumulative", f"{d:.4f}", repr(float(v)), "0"])
        for d, v in zip(BIN_EDGES_GY, cumulative, strict=True):
            writer.writerow(["Parotid_L", "physical", f"{d / 3.0:.4f}", f"{v / 2.0:.6g}", "0"])
    rows = (
        MetricRow("BrainStem", "EQD2_2_cumulative", "Mean[Gy]", float(organ.mean_gy), "Gy"),
        MetricRow("BrainStem", "EQD2_2_cumulative", "Max[Gy]", float(organ.max_gy), "Gy"),
    )
    return PatientResult(metrics=rows, output_files=("dvh.csv",))


lkb_dvh_analysis.analysis_id = "tests.lkb_dvh_analysis"  # type: ignore[attr-defined]
