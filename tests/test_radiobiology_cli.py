"""The ``schedule``, ``bed`` and ``accumulate`` commands on small synthetic DICOM files, and the
exported maps read back with pydicom, the project's loader and dicompyler-core."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import generate_uid

from benchmarks.baseline.bridge import baseline_python, dicompyler_dvh
from dosimetry.cli.main import main
from dosimetry.dose import DoseGrid, DoseSummationType, DoseType
from dosimetry.grid import RectilinearGrid
from dosimetry.io import load_dose
from dosimetry.io.rtdose_writer import (
    RT_ION_PLAN_STORAGE,
    RT_PLAN_STORAGE,
    DicomIdentity,
    new_file_dataset,
    apply_identity,
    save_dataset,
    write_rt_dose,
)
from tests.test_radiobiology_lq import TABLE_1

IDENTITY = DicomIdentity(patient_id="RB001", patient_name="Radio^Biology", study_instance_uid="1.2.826.0.1.3680043.8.498.77")
SPATIAL_REGISTRATION = "1.2.840.10008.5.1.4.1.1.66.1"
CURRENT_FRAME = "1.2.826.0.1.3680043.8.498.201"
PRIOR_FRAME = "1.2.826.0.1.3680043.8.498.202"


def write_plan(path: Path, *, fractions: int, ion: bool, frame: str) -> str:
    uid = generate_uid()
    ds = new_file_dataset(RT_ION_PLAN_STORAGE if ion else RT_PLAN_STORAGE, uid)
    apply_identity(ds, IDENTITY)
    ds.Modality = "RTPLAN"
    ds.SeriesInstanceUID = generate_uid()
    ds.FrameOfReferenceUID = frame
    ds.RTPlanLabel = "CIRT" if ion else "IMRT"
    ds.ApprovalStatus = "APPROVED"
    beam = Dataset()
    beam.BeamNumber = 1
    beam.BeamName = "B1"
    if ion:
        beam.RadiationType = "ION"
        beam.RadiationAtomicNumber = 6
        beam.RadiationMassNumber = 12
        ds.IonBeamSequence = Sequence([beam])
    else:
        beam.RadiationType = "PHOTON"
        ds.BeamSequence = Sequence([beam])
    ref = Dataset()
    ref.ReferencedBeamNumber = 1
    group = Dataset()
    group.FractionGroupNumber = 1
    group.NumberOfFractionsPlanned = fractions
    group.ReferencedBeamSequence = Sequence([ref])
    ds.FractionGroupSequence = Sequence([group])
    save_dataset(ds, path)
    return uid


def write_registration(path: Path, *, own_frame: str, other_frame: str, other_to_own: np.ndarray) -> None:
    ds = new_file_dataset(SPATIAL_REGISTRATION, generate_uid())
    apply_identity(ds, IDENTITY)
    ds.Modality = "REG"
    ds.SeriesInstanceUID = generate_uid()
    ds.FrameOfReferenceUID = own_frame
    items = []
    for frame, matrix in ((own_frame, np.eye(4)), (other_frame, other_to_own)):
        m = Dataset()
        m.FrameOfReferenceTransformationMatrix = [f"{v:.10g}" for v in np.asarray(matrix).ravel()]
        m.FrameOfReferenceTransformationMatrixType = "RIGID"
        mr = Dataset()
        mr.MatrixSequence = Sequence([m])
        item = Dataset()
        item.FrameOfReferenceUID = frame
        item.MatrixRegistrationSequence = Sequence([mr])
        items.append(item)
    ds.RegistrationSequence = Sequence(items)
    save_dataset(ds, path)


def write_dose(
    path: Path,
    grid: RectilinearGrid,
    values: np.ndarray,
    *,
    dose_type: DoseType,
    frame: str,
    plan_uid: str,
    ion: bool,
    summation: DoseSummationType = DoseSummationType.PLAN,
) -> None:
    dose = DoseGrid(grid, values, dose_type, summation, frame)
    write_rt_dose(
        dose,
        path,
        identity=IDENTITY,
        referenced_plan_uid=plan_uid,
        series_description="test dose",
        referenced_plan_sop_class_uid=RT_ION_PLAN_STORAGE if ion else RT_PLAN_STORAGE,
    )


CURRENT_GRID = RectilinearGrid.uniform((-20.0, -20.0, -10.0), (4.0, 4.0, 5.0), (5, 11, 11))
# the current dose: 55 GyE on the left half, 11 GyE on the right half
CURRENT_VALUES = np.where(np.arange(11)[None, None, :] < 5, 55.0, 11.0) * np.ones(CURRENT_GRID.shape_zyx)


@pytest.fixture()
def current_course(tmp_path: Path) -> tuple[Path, str]:
    folder = tmp_path / "current"
    folder.mkdir()
    plan_uid = write_plan(folder / "RP.dcm", fractions=22, ion=True, frame=CURRENT_FRAME)
    write_dose(folder / "RD.dcm", CURRENT_GRID, CURRENT_VALUES, dose_type=DoseType.EFFECTIVE, frame=CURRENT_FRAME, plan_uid=plan_uid, ion=True)
    (folder / "notes.txt").write_text("not DICOM\n")
    return folder, plan_uid


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_schedule_json_reproduces_table_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(
        ["schedule", "--dose-per-fraction", "2.5", "--fractions", "21", "22", "23", "24", "25", "26", "--alpha-beta", "2", "9", "--json"],
        capsys,
    )
    assert code == 0
    rows = json.loads(out)["schedules"]
    assert [r["fractions"] for r in rows] == [21, 22, 23, 24, 25, 26]
    for row, (n, total, bed2, bed9) in zip(rows, TABLE_1, strict=True):
        assert row["fractions"] == n and row["dose_per_fraction_gy"] == 2.5
        assert row["total_gy"] == pytest.approx(total)
        assert abs(row["bed_gy"]["2"] - bed2) <= 0.05 + 1e-9
        assert abs(row["bed_gy"]["9"] - bed9) <= 0.05 + 1e-9
        assert row["eqd2_gy"]["2"] == pytest.approx(row["bed_gy"]["2"] / 2.0)


def test_schedule_table_prints_table_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["schedule", "--dose-per-fraction", "2.5", "--fractions", "21", "26"], capsys)
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[1].split()[:5] == ["21", "2.50", "52.5", "118.1", "67.1"]
    assert lines[2].split()[:5] == ["26", "2.50", "65.0", "146.3", "83.1"]


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["--dose-per-fraction", "2", "--fractions", "30", "--alpha-beta", "0"], "--alpha-beta"),
        (["--dose-per-fraction", "2", "--fractions", "30", "0"], "--fractions"),
        (["--dose-per-fraction", "0", "--fractions", "30"], "--dose-per-fraction"),
        (["--dose-per-fraction", "nan", "--fractions", "30"], "--dose-per-fraction"),
    ],
)
def test_schedule_errors_name_the_option(argv: list[str], option: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(["schedule", *argv], capsys)
    assert code == 1 and out == ""
    assert err.startswith(f"dosimetry: error: {option} must be")


def test_bed_command_exports_effective_map(current_course: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder, plan_uid = current_course
    out = tmp_path / "BED2.dcm"
    code, stdout, _ = _run(
        ["bed", "--dose", str(folder / "RD.dcm"), "--plan", str(folder / "RP.dcm"), "--alpha-beta", "2", "--out", str(out), "--json"],
        capsys,
    )
    assert code == 0
    summary = json.loads(stdout)
    assert summary["fractions"] == 22 and summary["fractions_source"] == "plan"
    ds = pydicom.dcmread(out)
    source = pydicom.dcmread(folder / "RD.dcm")
    assert ds.DoseType == "EFFECTIVE"
    assert ds.SOPInstanceUID != source.SOPInstanceUID and ds.SeriesInstanceUID != source.SeriesInstanceUID
    assert ds.ReferencedRTPlanSequence[0].ReferencedSOPInstanceUID == plan_uid
    assert ds.ReferencedRTPlanSequence[0].ReferencedSOPClassUID == RT_ION_PLAN_STORAGE
    assert ds.PatientID == "RB001" and ds.StudyInstanceUID == IDENTITY.study_instance_uid
    assert "BED a/b 2 Gy" in ds.SeriesDescription and "22 fx" in ds.SeriesDescription
    assert "residual n/a" in ds.DoseComment
    # values: 55 GyE -> 123.75, 11 GyE -> 13.75
    values = load_dose(out).dose_gy
    expected = np.where(CURRENT_VALUES == 55.0, 123.75, 13.75)
    np.testing.assert_allclose(values, expected, rtol=1e-8)


def test_bed_command_eqd2_with_explicit_fractions(current_course: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder, _ = current_course
    out = tmp_path / "EQD2.dcm"
    code, _, _ = _run(
        ["bed", "--dose", str(folder / "RD.dcm"), "--fractions", "22", "--alpha-beta", "2", "--quantity", "EQD2", "--out", str(out)],
        capsys,
    )
    assert code == 0
    np.testing.assert_allclose(load_dose(out).dose_gy, np.where(CURRENT_VALUES == 55.0, 61.875, 6.875), rtol=1e-8)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--plan", "RP.dcm", "--fractions", "20", "--alpha-beta", "2"], "--fractions=20"),
        (["--fractions", "0", "--alpha-beta", "2"], "fractions"),
        (["--plan", "RP.dcm", "--alpha-beta", "0"], "--alpha-beta"),
        (["--plan", "RP.dcm", "--alpha-beta", "-3"], "--alpha-beta"),
        (["--alpha-beta", "2"], "--plan RP.dcm or --fractions N"),
    ],
)
def test_bed_command_errors(
    current_course: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    folder, _ = current_course
    argv = ["bed", "--dose", str(folder / "RD.dcm"), "--out", str(tmp_path / "x.dcm")]
    argv += [str(folder / a) if a == "RP.dcm" else a for a in extra]
    code, _, err = _run(argv, capsys)
    assert code == 1
    assert message in err
    assert not (tmp_path / "x.dcm").exists()


def test_bed_command_refuses_physical_carbon(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan_uid = write_plan(tmp_path / "RP.dcm", fractions=22, ion=True, frame=CURRENT_FRAME)
    write_dose(tmp_path / "RD.dcm", CURRENT_GRID, CURRENT_VALUES / 3, dose_type=DoseType.PHYSICAL, frame=CURRENT_FRAME, plan_uid=plan_uid, ion=True)
    code, _, err = _run(
        ["bed", "--dose", str(tmp_path / "RD.dcm"), "--plan", str(tmp_path / "RP.dcm"), "--alpha-beta", "2", "--out", str(tmp_path / "o.dcm")],
        capsys,
    )
    assert code == 1 and "never assumed" in err


# The prior course: 70 Gy in 35 x 2 Gy on a grid in its own frame. The registration (in the prior
# folder, DICOM style: the object's own frame is the current one) maps prior points to current
# points by a translation of +12 mm in x; the prior grid covers current x <= 13 mm + 12 mm edge...
PRIOR_GRID = RectilinearGrid.uniform((-40.0, -30.0, -20.0), (4.0, 4.0, 5.0), (9, 16, 12))  # x edges -42 .. 6
PRIOR_TO_CURRENT = np.eye(4)
PRIOR_TO_CURRENT[0, 3] = 12.0  # in current coordinates the prior grid spans x -30 .. 18


@pytest.fixture()
def prior_course(tmp_path: Path) -> Path:
    folder = tmp_path / "prior"
    folder.mkdir()
    plan_uid = write_plan(folder / "RP.dcm", fractions=35, ion=False, frame=PRIOR_FRAME)
    write_dose(
        folder / "RD.dcm", PRIOR_GRID, np.full(PRIOR_GRID.shape_zyx, 70.0), dose_type=DoseType.PHYSICAL, frame=PRIOR_FRAME, plan_uid=plan_uid, ion=False
    )
    write_registration(folder / "REG.dcm", own_frame=CURRENT_FRAME, other_frame=PRIOR_FRAME, other_to_own=PRIOR_TO_CURRENT)
    return folder


def test_accumulate_command(current_course: tuple[Path, str], prior_course: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder, plan_uid = current_course
    out = tmp_path / "out"
    code, stdout, _ = _run(["accumulate", "--current", str(folder), "--prior", str(prior_course), "--out", str(out), "--json"], capsys)
    assert code == 0, stdout
    summary = json.loads(stdout)
    assert summary == json.loads((out / "accumulate.json").read_text())
    assert summary["alignment"]["method"] == "registration"
    assert "found in course folder" in summary["alignment"]["registration_source"]
    assert summary["summation_method"] == "bed-space" and summary["residual"] == 0.3
    assert "current course alone" in summary["target_metrics"]
    # current x centres -20 .. 20 step 4; covered up to x = 18 -> x = 20 (one column of 5 x 11 voxels) uncovered
    assert summary["alignment"]["uncovered_voxels"] == 5 * 11
    assert summary["alignment"]["uncovered_volume_cc"] == pytest.approx(55 * 0.08)
    names = sorted(p.name for p in out.glob("*.dcm"))
    assert names == sorted(
        f"RD_{q}_ab{ab}.dcm" for q in ("BED", "EQD2", "cumEQD2") for ab in ("2", "9")
    )
    cum = load_dose(out / "RD_cumEQD2_ab2.dcm").dose_gy
    current_eqd2 = np.where(CURRENT_VALUES == 55.0, 61.875, 6.875)
    expected = current_eqd2 + 0.3 * 70.0
    expected[:, :, -1] = current_eqd2[:, :, -1]
    np.testing.assert_allclose(cum, expected, rtol=1e-8)
    ds = pydicom.dcmread(out / "RD_cumEQD2_ab2.dcm")
    assert ds.DoseType == "EFFECTIVE" and ds.DoseSummationType == "MULTI_PLAN"
    assert ds.ReferencedRTPlanSequence[0].ReferencedSOPInstanceUID == plan_uid
    assert "0.3 x prior 35 fx" in ds.SeriesDescription and "bed-space" in ds.SeriesDescription
    assert "22 fx" in ds.SeriesDescription and "a/b 2 Gy" in ds.SeriesDescription
    uids = {pydicom.dcmread(p).SOPInstanceUID for p in out.glob("*.dcm")}
    assert len(uids) == 6
    comments = ds.ImageComments
    assert "summation method: bed-space" in comments and "r = 0.3" in comments
    assert "target metrics use the current course alone" in comments
    assert "WARNING: " in comments and "outside the prior dose grid" in comments


def test_accumulate_physical_method(current_course: tuple[Path, str], prior_course: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder, _ = current_course
    out = tmp_path / "out"
    code, _, _ = _run(
        ["accumulate", "--current", str(folder), "--prior", str(prior_course), "--out", str(out), "--method", "physical", "--alpha-beta", "2"],
        capsys,
    )
    assert code == 0
    cum = load_dose(out / "RD_cumEQD2_ab2.dcm").dose_gy
    # 0.3 x 70 = 21 Gy in 35 fx: EQD2_2 = 21 (1 + 0.6 / 2) / 2 = 13.65
    assert cum[0, 0, 0] == pytest.approx(61.875 + 13.65, rel=1e-8)
    assert "physical" in pydicom.dcmread(out / "RD_cumEQD2_ab2.dcm").SeriesDescription


def test_accumulate_without_registration_refused_or_assumed(
    current_course: tuple[Path, str], prior_course: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, _ = current_course
    (prior_course / "REG.dcm").unlink()
    code, _, err = _run(["accumulate", "--current", str(folder), "--prior", str(prior_course), "--out", str(tmp_path / "o")], capsys)
    assert code == 1 and "registration" in err
    code, stdout, _ = _run(
        ["accumulate", "--current", str(folder), "--prior", str(prior_course), "--out", str(tmp_path / "o"), "--assume-same-position", "--json"],
        capsys,
    )
    assert code == 0
    summary = json.loads(stdout)
    assert summary["alignment"]["method"] == "assumed-same-position"
    assert any("ASSUMED" in w for w in summary["warnings"])
    files = sorted((tmp_path / "o").glob("*.dcm"))
    assert len(files) == 6
    for path in files:  # every output carries the warning
        assert "ASSUMED" in pydicom.dcmread(path).ImageComments


def test_accumulate_rejects_bad_residual(current_course: tuple[Path, str], prior_course: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder, _ = current_course
    code, _, err = _run(
        ["accumulate", "--current", str(folder), "--prior", str(prior_course), "--out", str(tmp_path / "o"), "--residual", "1.5"], capsys
    )
    assert code == 1 and "--residual" in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("extra", "option"),
    [
        (["--target-alpha-beta", "0"], "--target-alpha-beta"),
        (["--oar-alpha-beta", "-2"], "--oar-alpha-beta"),
        (["--current-rbe", "0"], "--current-rbe"),
        (["--prior-rbe", "nan"], "--prior-rbe"),
    ],
)
def test_accumulate_errors_name_the_option(
    extra: list[str], option: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # checked before any file is read: the folders need not hold a course
    code, out, err = _run(
        ["accumulate", "--current", str(tmp_path), "--prior", str(tmp_path), "--out", str(tmp_path / "o"), *extra], capsys
    )
    assert code == 1 and out == ""
    assert err.startswith(f"dosimetry: error: {option} must be")
    assert not (tmp_path / "o").exists()


DICOMPYLER_SCRIPT = """
import json, sys
from dicompylercore import dicomparser
p = dicomparser.DicomParser(sys.argv[1])
data = p.GetDoseData()
grid = p.GetDoseGrid(float(sys.argv[2]))
print(json.dumps({
    "dosetype": str(data["dosetype"]),
    "dosemax_gy": data["dosemax"] * float(data["dosegridscaling"]),
    "plane_max_gy": float(grid.max()) * float(data["dosegridscaling"]),
    "plan": p.GetReferencedRTPlan(),
    "comment": str(data["dosecomment"]),
}))
"""


def test_exported_map_reads_in_dicompyler_core(
    current_course: tuple[Path, str], prior_course: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, plan_uid = current_course
    out = tmp_path / "out"
    assert main(["accumulate", "--current", str(folder), "--prior", str(prior_course), "--out", str(out), "--alpha-beta", "2"]) == 0
    capsys.readouterr()
    path = out / "RD_cumEQD2_ab2.dcm"
    proc = subprocess.run(
        [str(baseline_python()), "-c", DICOMPYLER_SCRIPT, str(path), "0.0"], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)
    ours = load_dose(path)
    assert answer["dosetype"] == "EFFECTIVE"
    assert answer["plan"] == plan_uid
    assert answer["dosemax_gy"] == pytest.approx(ours.max_gy, rel=1e-8)
    assert answer["plane_max_gy"] == pytest.approx(float(ours.dose_gy[2].max()), rel=1e-8)  # z = 0 is the third plane
    assert "r=0.3" in answer["comment"]


RT_STRUCTURE_SET = "1.2.840.10008.5.1.4.1.1.481.3"


def write_structure_set(path: Path, boxes: list[tuple[str, str, tuple[float, float, float, float], tuple[float, ...]]]) -> None:
    """ROIs as axis-aligned rectangles (x0, x1, y0, y1) on the given z planes."""
    ds = new_file_dataset(RT_STRUCTURE_SET, generate_uid())
    apply_identity(ds, IDENTITY)
    ds.Modality = "RTSTRUCT"
    ds.SeriesInstanceUID = generate_uid()
    ds.StructureSetLabel = "RB"
    ref_frame = Dataset()
    ref_frame.FrameOfReferenceUID = CURRENT_FRAME
    ds.ReferencedFrameOfReferenceSequence = Sequence([ref_frame])
    rois, contours, observations = [], [], []
    for number, (name, kind, (x0, x1, y0, y1), planes) in enumerate(boxes, start=1):
        roi = Dataset()
        roi.ROINumber = number
        roi.ReferencedFrameOfReferenceUID = CURRENT_FRAME
        roi.ROIName = name
        rois.append(roi)
        obs = Dataset()
        obs.ObservationNumber = number
        obs.ReferencedROINumber = number
        obs.RTROIInterpretedType = kind
        observations.append(obs)
        items = []
        for z in planes:
            c = Dataset()
            c.ContourGeometricType = "CLOSED_PLANAR"
            c.NumberOfContourPoints = 4
            c.ContourData = [f"{v:g}" for p in ((x0, y0), (x1, y0), (x1, y1), (x0, y1)) for v in (*p, z)]
            items.append(c)
        rc = Dataset()
        rc.ReferencedROINumber = number
        rc.ROIDisplayColor = [255, 0, 0]
        rc.ContourSequence = Sequence(items)
        contours.append(rc)
    ds.StructureSetROISequence = Sequence(rois)
    ds.ROIContourSequence = Sequence(contours)
    ds.RTROIObservationsSequence = Sequence(observations)
    save_dataset(ds, path)


def test_accumulate_composite_and_roi_evaluation(
    current_course: tuple[Path, str], prior_course: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, _ = current_course
    write_structure_set(
        folder / "RS.dcm",
        [
            ("GTV", "GTV", (-18.0, -6.0, -10.0, 10.0), (-5.0, 0.0, 5.0)),
            ("BrainStem", "ORGAN", (6.0, 14.0, -10.0, 10.0), (-5.0, 0.0, 5.0)),
            ("BODY", "EXTERNAL", (-22.0, 22.0, -22.0, 22.0), (-10.0, -5.0, 0.0, 5.0, 10.0)),
        ],
    )
    out = tmp_path / "out"
    code, stdout, _ = _run(
        [
            "accumulate", "--current", str(folder), "--prior", str(prior_course), "--out", str(out), "--json",
            "--composite", "--evaluate-rois", "--roi-alpha-beta", "BrainStem=3",
        ],
        capsys,
    )
    assert code == 0
    summary = json.loads(stdout)
    by_roi = {e["roi"]: e for e in summary["roi_evaluation"]}
    # GTV: current course only, alpha/beta 9: 55 GyE in 22 fx -> EQD2_9 = 57.5
    assert by_roi["GTV"]["basis"] == "current course" and by_roi["GTV"]["alpha_beta_gy"] == 9.0
    assert by_roi["GTV"]["metrics_gy"]["D95%[Gy]"] == pytest.approx(57.5, abs=0.02)
    # BrainStem: cumulative with its override 3 Gy: 11 GyE/22 fx -> 7.7, prior 70 Gy/35 fx -> 70 x 0.3 = 21
    assert by_roi["BrainStem"]["alpha_beta_gy"] == 3.0 and by_roi["BrainStem"]["basis"].startswith("cumulative (r=0.3")
    assert by_roi["BrainStem"]["metrics_gy"]["Max[Gy]"] == pytest.approx(28.7, abs=0.02)
    # BODY (EXTERNAL) is evaluated with the OAR ratio on the cumulative map
    assert by_roi["BODY"]["alpha_beta_gy"] == 2.0
    composite = load_dose(out / "RD_cumEQD2_composite.dcm").dose_gy
    # z = 0 (index 2), y = 0 (index 5): x = -12 in the GTV (a/b 9): 57.5 + 0.3 x 70; x = -20 outside ROIs (a/b 2): 61.875 + 21
    assert composite[2, 5, 2] == pytest.approx(57.5 + 21.0, rel=1e-8)
    assert composite[2, 5, 0] == pytest.approx(61.875 + 21.0, rel=1e-8)
    # x = 8 and 12 in the BrainStem (override 3): 7.7 + 21
    assert composite[2, 5, 7] == pytest.approx(28.7, rel=1e-8)
    ds = pydicom.dcmread(out / "RD_cumEQD2_composite.dcm")
    assert "a/b T9/O2+ovr" in ds.SeriesDescription
    current_composite = load_dose(out / "RD_EQD2_composite.dcm").dose_gy
    assert current_composite[2, 5, 2] == pytest.approx(57.5, rel=1e-8)


def test_dicompyler_dvh_on_cumulative_map(
    current_course: tuple[Path, str], prior_course: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """dicompyler-core computes the DVH of an ROI on the exported cumulative map: the ROI lies in a
    uniform region (11 GyE current, 70 Gy prior), so its mean and maximum are the hand value."""
    folder, _ = current_course
    write_structure_set(folder / "RS.dcm", [("BrainStem", "ORGAN", (6.0, 14.0, -10.0, 10.0), (-5.0, 0.0, 5.0))])
    out = tmp_path / "out"
    assert main(["accumulate", "--current", str(folder), "--prior", str(prior_course), "--out", str(out), "--alpha-beta", "2"]) == 0
    capsys.readouterr()
    answer = dicompyler_dvh(out / "RD_cumEQD2_ab2.dcm", folder / "RS.dcm", ["BrainStem"], get_dvh_kwargs={"interpolation_resolution": None})
    stem = answer["structures"][0]
    expected = 6.875 + 0.3 * 70.0  # EQD2_2 of 11 GyE in 22 fx + 0.3 x EQD2_2 of 70 Gy in 35 fx
    assert stem["volume_cc"] > 0
    assert stem["mean_gy"] == pytest.approx(expected, abs=0.02)  # dicompyler bins at 0.01 Gy
    assert stem["max_gy"] == pytest.approx(expected, abs=0.02)


def _cumulative_after(argv_extra: list[str], folder: Path, prior: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> np.ndarray:
    code, stdout, err = _run(["accumulate", "--current", str(folder), "--prior", str(prior), "--out", str(out), "--alpha-beta", "2", *argv_extra], capsys)
    assert code == 0, err
    return load_dose(out / "RD_cumEQD2_ab2.dcm").dose_gy


def test_accumulate_explicit_registration_and_transform_agree(
    current_course: tuple[Path, str], prior_course: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import SimpleITK as sitk

    folder, _ = current_course
    auto = _cumulative_after([], folder, prior_course, tmp_path / "auto", capsys)
    reg = tmp_path / "REG.dcm"
    (prior_course / "REG.dcm").rename(reg)
    explicit = _cumulative_after(["--registration", str(reg)], folder, prior_course, tmp_path / "reg", capsys)
    np.testing.assert_allclose(explicit, auto, atol=1e-9)
    # ITK convention: the file maps current (fixed/output) points to prior (moving/input) points
    transform = sitk.TranslationTransform(3, (-12.0, 0.0, 0.0))
    tfm = tmp_path / "current_to_prior.tfm"
    sitk.WriteTransform(transform, str(tfm))
    via_file = _cumulative_after(["--transform", str(tfm)], folder, prior_course, tmp_path / "tfm", capsys)
    np.testing.assert_allclose(via_file, auto, atol=1e-9)
    # the same registration found in both folders counts once
    (folder / "REG.dcm").write_bytes(reg.read_bytes())
    (prior_course / "REG.dcm").write_bytes(reg.read_bytes())
    twice = _cumulative_after([], folder, prior_course, tmp_path / "twice", capsys)
    np.testing.assert_allclose(twice, auto, atol=1e-9)
