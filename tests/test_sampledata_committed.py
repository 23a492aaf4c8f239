"""The committed sample patient: valid DICOM, linked like a planning system export, geometry and
dose as generated, and readable by dicompyler-core in its baseline environment."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import pydicom
import pytest

from dosimetry.sampledata.cohort import sphere_union_volume_cc
from dosimetry.sampledata.patient import reference_patient_spec

ROOT = Path(__file__).resolve().parents[1]
PATIENT = ROOT / "sample_data" / "patient01"
CURRENT = PATIENT / "current"
PRIOR = PATIENT / "prior"

CT = "1.2.840.10008.5.1.4.1.1.2"
RTSTRUCT = "1.2.840.10008.5.1.4.1.1.481.3"
RTDOSE = "1.2.840.10008.5.1.4.1.1.481.2"
RTPLAN = "1.2.840.10008.5.1.4.1.1.481.5"
RTIONPLAN = "1.2.840.10008.5.1.4.1.1.481.8"
REG = "1.2.840.10008.5.1.4.1.1.66.1"
PREFIX_CLASS = {"CT": CT, "RS": RTSTRUCT, "RD": RTDOSE, "RP": RTPLAN, "RI": RTIONPLAN, "RE": REG}


def _read(folder: Path, prefix: str) -> pydicom.Dataset:
    (path,) = sorted(folder.glob(f"{prefix}_*.dcm"))
    return pydicom.dcmread(path)


def _cts(folder: Path) -> list[pydicom.Dataset]:
    return [pydicom.dcmread(p) for p in sorted(folder.glob("CT_*.dcm"))]


def _roi_contours(rs: pydicom.Dataset, name: str) -> list[np.ndarray]:
    numbers = {item.ROIName: int(item.ROINumber) for item in rs.StructureSetROISequence}
    (item,) = [c for c in rs.ROIContourSequence if int(c.ReferencedROINumber) == numbers[name]]
    return [np.asarray(c.ContourData, dtype=np.float64).reshape(-1, 3) for c in item.ContourSequence]


def _area_and_centroid(points: np.ndarray) -> tuple[float, np.ndarray]:
    x, y = points[:, 0], points[:, 1]
    cross = x * np.roll(y, -1) - np.roll(x, -1) * y
    area = 0.5 * cross.sum()
    cx = ((x + np.roll(x, -1)) * cross).sum() / (6 * area)
    cy = ((y + np.roll(y, -1)) * cross).sum() / (6 * area)
    return abs(area), np.array([cx, cy, points[0, 2]])


def _volume_and_centroid(contours: list[np.ndarray], thickness_mm: float) -> tuple[float, np.ndarray]:
    weights = []
    centres = []
    for c in contours:
        a, centre = _area_and_centroid(c)
        weights.append(a)
        centres.append(centre)
    w = np.asarray(weights)
    return float(w.sum() * thickness_mm / 1000.0), (np.asarray(centres) * w[:, None]).sum(axis=0) / w.sum()


def _dose(ds: pydicom.Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    assert [float(v) for v in ds.ImageOrientationPatient] == [1, 0, 0, 0, 1, 0]
    x0, y0, z0 = (float(v) for v in ds.ImagePositionPatient)
    dy, dx = (float(v) for v in ds.PixelSpacing)
    x = x0 + dx * np.arange(ds.Columns)
    y = y0 + dy * np.arange(ds.Rows)
    z = z0 + np.asarray(ds.GridFrameOffsetVector, dtype=np.float64)
    return ds.pixel_array.astype(np.float64) * float(ds.DoseGridScaling), x, y, z


def test_every_file_reads_without_force_and_has_the_class_its_name_says() -> None:
    files = sorted(PATIENT.rglob("*.dcm"))
    assert len(files) == 2 * 49 + 3 + 4
    for path in files:
        ds = pydicom.dcmread(path)  # no force
        assert ds.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
        assert ds.SOPClassUID == PREFIX_CLASS[path.name.split("_")[0]], path
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        assert ds.PatientID == "patient01"


def test_committed_sample_is_under_5_mb() -> None:
    total = sum(p.stat().st_size for p in (ROOT / "sample_data").rglob("*") if p.is_file())
    assert total < 5 * 1024 * 1024


@pytest.mark.parametrize("folder,plan_prefix,plan_class", [(CURRENT, "RI", RTIONPLAN), (PRIOR, "RP", RTPLAN)])
def test_links_dose_plan_structures_ct(folder: Path, plan_prefix: str, plan_class: str) -> None:
    rd = _read(folder, "RD")
    plan = _read(folder, plan_prefix)
    rs = _read(folder, "RS")
    cts = _cts(folder)
    ref = rd.ReferencedRTPlanSequence[0]
    assert ref.ReferencedSOPInstanceUID == plan.SOPInstanceUID
    assert ref.ReferencedSOPClassUID == plan_class
    ss = plan.ReferencedStructureSetSequence[0]
    assert ss.ReferencedSOPInstanceUID == rs.SOPInstanceUID and ss.ReferencedSOPClassUID == RTSTRUCT
    frame = rs.ReferencedFrameOfReferenceSequence[0]
    assert frame.FrameOfReferenceUID == cts[0].FrameOfReferenceUID
    study = frame.RTReferencedStudySequence[0]
    assert study.ReferencedSOPInstanceUID == cts[0].StudyInstanceUID
    series = study.RTReferencedSeriesSequence[0]
    assert series.SeriesInstanceUID == cts[0].SeriesInstanceUID
    ct_uids = {c.SOPInstanceUID for c in cts}
    assert {i.ReferencedSOPInstanceUID for i in series.ContourImageSequence} == ct_uids
    for item in rs.ROIContourSequence:
        for contour in item.ContourSequence:
            assert contour.ContourImageSequence[0].ReferencedSOPInstanceUID in ct_uids
    for roi in rs.StructureSetROISequence:
        assert roi.ReferencedFrameOfReferenceUID == cts[0].FrameOfReferenceUID
    for ds in (rd, plan, rs, *cts):
        assert ds.StudyInstanceUID == cts[0].StudyInstanceUID
    assert rd.FrameOfReferenceUID == plan.FrameOfReferenceUID == cts[0].FrameOfReferenceUID
    assert len({c.SeriesInstanceUID for c in cts}) == 1


def test_courses_are_distinct_studies_and_frames_of_one_patient() -> None:
    cur = _cts(CURRENT)[0]
    pri = _cts(PRIOR)[0]
    assert cur.PatientID == pri.PatientID and cur.PatientName == pri.PatientName
    assert cur.FrameOfReferenceUID != pri.FrameOfReferenceUID
    assert cur.StudyInstanceUID != pri.StudyInstanceUID


def test_ion_plan_is_carbon_22_fractions_of_2_5_gye() -> None:
    plan = _read(CURRENT, "RI")
    assert plan.ApprovalStatus == "APPROVED"
    group = plan.FractionGroupSequence[0]
    assert group.NumberOfFractionsPlanned == 22
    beam_doses = [float(b.BeamDose) for b in group.ReferencedBeamSequence]
    assert sum(beam_doses) == pytest.approx(2.5, abs=1e-6)
    assert group.NumberOfBeams == len(plan.IonBeamSequence) == 3
    for beam in plan.IonBeamSequence:
        assert (beam.RadiationType, beam.RadiationAtomicNumber, beam.RadiationMassNumber, beam.RadiationChargeState) == (
            "ION",
            6,
            12,
            6,
        )
    (dose_ref,) = plan.DoseReferenceSequence
    assert float(dose_ref.TargetPrescriptionDose) == 55.0
    rs = _read(CURRENT, "RS")
    names = {int(r.ROINumber): r.ROIName for r in rs.StructureSetROISequence}
    assert names[int(dose_ref.ReferencedROINumber)] == "PTV"


def test_prior_plan_is_photon_70_gy_in_33_fractions() -> None:
    plan = _read(PRIOR, "RP")
    group = plan.FractionGroupSequence[0]
    assert group.NumberOfFractionsPlanned == 33
    assert 7 <= len(plan.BeamSequence) <= 9
    assert {b.RadiationType for b in plan.BeamSequence} == {"PHOTON"}
    total = 33 * sum(float(b.BeamDose) for b in group.ReferencedBeamSequence)
    assert total == pytest.approx(70.0, abs=1e-3)
    assert float(plan.DoseReferenceSequence[0].TargetPrescriptionDose) == 70.0


def test_dose_types() -> None:
    cur = _read(CURRENT, "RD")
    pri = _read(PRIOR, "RD")
    assert (cur.DoseType, cur.DoseUnits, cur.DoseSummationType) == ("EFFECTIVE", "GY", "PLAN")
    assert (pri.DoseType, pri.DoseUnits, pri.DoseSummationType) == ("PHYSICAL", "GY", "PLAN")


def test_structure_names_are_tg263() -> None:
    rs = _read(CURRENT, "RS")
    names = [r.ROIName for r in rs.StructureSetROISequence]
    expected = (
        "External GTV CTV PTV BrainStem SpinalCord OpticChiasm OpticNrv_L OpticNrv_R Lobe_Temporal_L "
        "Lobe_Temporal_R Eye_L Eye_R Lens_L Lens_R Parotid_L Parotid_R Mandible"
    ).split()
    assert names == expected
    types = {int(o.ReferencedROINumber): o.RTROIInterpretedType for o in rs.RTROIObservationsSequence}
    assert types[1] == "EXTERNAL" and types[2] == "GTV" and types[3] == "CTV" and types[4] == "PTV"


def test_contours_match_the_generated_solids() -> None:
    rs = _read(CURRENT, "RS")
    spec = reference_patient_spec()
    # Eye_L is a sphere of radius 12 mm centred at (32, -58, 14) mm.
    volume, centre = _volume_and_centroid(_roi_contours(rs, "Eye_L"), 3.0)
    assert centre[:2] == pytest.approx([32.0, -58.0], abs=0.3)
    assert centre[2] == pytest.approx(14.0, abs=1.0)
    assert volume == pytest.approx(4 / 3 * np.pi * 12.0**3 / 1000.0, rel=0.06)
    # GTV: union of spheres, volume by an independent lattice count.
    volume, centre = _volume_and_centroid(_roi_contours(rs, "GTV"), 3.0)
    assert volume == pytest.approx(sphere_union_volume_cc(spec.anatomy.gtv), rel=0.06)
    # Every GTV contour point lies on the analytic surface within a quarter of a CT pixel.
    for contour in _roi_contours(rs, "GTV"):
        d = spec.anatomy.gtv.signed_distance_mm(contour)
        assert np.all(d < 0.7) and np.all(d > -1.0)


def _centroid(folder: Path, name: str) -> np.ndarray:
    return _volume_and_centroid(_roi_contours(_read(folder, "RS"), name), 3.0)[1]


def test_registration_maps_prior_anatomy_onto_current_anatomy() -> None:
    reg = _read(PRIOR, "RE")
    cur_frame = _cts(CURRENT)[0].FrameOfReferenceUID
    pri_frame = _cts(PRIOR)[0].FrameOfReferenceUID
    assert reg.FrameOfReferenceUID == cur_frame
    items = {item.FrameOfReferenceUID: item for item in reg.RegistrationSequence}
    assert set(items) == {cur_frame, pri_frame}

    def matrix(item: pydicom.Dataset) -> np.ndarray:
        m = item.MatrixRegistrationSequence[0].MatrixSequence[0]
        assert m.FrameOfReferenceTransformationMatrixType == "RIGID"
        return np.asarray(m.FrameOfReferenceTransformationMatrix, dtype=np.float64).reshape(4, 4)

    np.testing.assert_allclose(matrix(items[cur_frame]), np.eye(4))
    m = matrix(items[pri_frame])
    np.testing.assert_allclose(m, reference_patient_spec().prior_to_current, atol=1e-6)
    # Independent check from the files: organs contoured on the prior CT land on the same organs
    # contoured on the current CT.
    for organ in ("Eye_L", "BrainStem", "Parotid_R"):
        p_prior = _centroid(PRIOR, organ)
        mapped = m[:3, :3] @ p_prior + m[:3, 3]
        assert np.linalg.norm(mapped - _centroid(CURRENT, organ)) < 1.5, organ
    assert np.linalg.norm(_centroid(PRIOR, "Eye_L") - _centroid(CURRENT, "Eye_L")) > 5.0  # really moved


def test_isodose_coverage_of_ctv_and_ptv() -> None:
    spec = reference_patient_spec()
    dose, x, y, z = _dose(_read(CURRENT, "RD"))
    zz, yy, xx = np.meshgrid(z, y, x, indexing="ij")
    pts = np.stack([xx, yy, zz], axis=-1)
    ctv = spec.anatomy.ctv.contains(pts)
    ptv = spec.anatomy.ptv.contains(pts)
    assert ctv.sum() > 500 and ptv.sum() > ctv.sum()
    assert dose[ctv].min() >= 0.95 * 55.0
    assert dose[ptv].min() >= 0.90 * 55.0
    assert dose.max() < 1.07 * 55.0
    # steep fall-off: 10 mm outside the PTV, away from the beam paths (above the target), < 20 %
    top = spec.anatomy.ptv.signed_distance_mm(pts)
    above = (top > 10.0) & (zz > spec.anatomy.ptv.centroid_mm[2] + 25.0)
    assert above.any() and dose[above].max() < 0.2 * 55.0


def test_prior_dose_covers_nasopharynx_and_neck_with_70_gy() -> None:
    spec = reference_patient_spec()
    dose, x, y, z = _dose(_read(PRIOR, "RD"))
    m = spec.prior_to_current
    # The original primary (GTVp, current-frame centre (0, -16, -14)) mapped into the prior frame.
    p_prior = np.linalg.inv(m) @ np.array([0.0, -16.0, -14.0, 1.0])
    i, j, k = (int(np.argmin(np.abs(axis - v))) for axis, v in ((z, p_prior[2]), (y, p_prior[1]), (x, p_prior[0])))
    assert dose[i, j, k] == pytest.approx(70.0, rel=0.03)
    assert z.min() < -80.0  # lower neck is covered


def test_dicompyler_core_computes_dvhs_from_the_committed_files() -> None:
    from benchmarks.baseline.bridge import dicompyler_dvh

    result = dicompyler_dvh(CURRENT / "RD_patient01.dcm", CURRENT / "RS_patient01.dcm", ["PTV", "CTV", "BrainStem"], dose_metrics=["D95"])
    by_name = {s["name"]: s for s in result["structures"]}
    assert by_name["PTV"]["mean_gy"] == pytest.approx(55.0, rel=0.01)
    assert by_name["CTV"]["metrics"]["D95"] >= 0.95 * 55.0
    assert by_name["BrainStem"]["max_gy"] < 20.0
    prior = dicompyler_dvh(PRIOR / "RD_patient01.dcm", PRIOR / "RS_patient01.dcm", ["PTV_7000"])
    assert prior["structures"][0]["mean_gy"] == pytest.approx(70.0, rel=0.02)


def test_each_roi_has_contours_with_area() -> None:
    for folder in (CURRENT, PRIOR):
        rs = _read(folder, "RS")
        counts: dict[int, int] = defaultdict(int)
        for item in rs.ROIContourSequence:
            for contour in item.ContourSequence:
                pts = np.asarray(contour.ContourData, dtype=np.float64).reshape(-1, 3)
                assert contour.NumberOfContourPoints == pts.shape[0] >= 3
                assert np.ptp(pts[:, 2]) == 0.0
                assert _area_and_centroid(pts)[0] > 0.4
                counts[int(item.ReferencedROINumber)] += 1
        assert set(counts) == {int(r.ROINumber) for r in rs.StructureSetROISequence}
