"""RT Dose writer: read back with pydicom (no force) and compare values, geometry and tags."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dosimetry.dose import DoseGrid, DoseSummationType, DoseType
from dosimetry.errors import ArgumentError
from dosimetry.grid import RectilinearGrid
from dosimetry.io.rtdose_writer import (
    RT_DOSE_STORAGE,
    RT_ION_PLAN_STORAGE,
    DicomIdentity,
    dose_grid_scaling,
    write_rt_dose,
)

IDENTITY = DicomIdentity(
    patient_id="RTD001",
    patient_name="Writer^Test",
    study_instance_uid="1.2.826.0.1.3680043.8.498.1",
    study_date="20240102",
    study_time="093000",
)


def _dose(z_mm: np.ndarray, dose_type: DoseType = DoseType.EFFECTIVE) -> DoseGrid:
    grid = RectilinearGrid(np.arange(-30.0, 30.1, 2.5), np.arange(-20.0, 20.1, 2.0), z_mm)
    z, y, x = np.meshgrid(grid.z_mm, grid.y_mm, grid.x_mm, indexing="ij")
    dose_gy = 55.0 * np.exp(-((x - 3.0) ** 2 + y**2 + (z - 4.0) ** 2) / 300.0)
    return DoseGrid(grid, dose_gy, dose_type, DoseSummationType.PLAN, "1.2.826.0.1.3680043.8.498.2")


def _to_gy(ds: pydicom.Dataset) -> np.ndarray:
    return ds.pixel_array.astype(np.float64) * float(ds.DoseGridScaling)


def test_round_trip_values_geometry_and_tags(tmp_path: Path) -> None:
    z_mm = np.array([-5.0, -2.5, 0.0, 5.0, 7.5, 12.5])  # non-uniform frames
    dose = _dose(z_mm)
    path = tmp_path / "RD.dcm"
    uid = write_rt_dose(
        dose,
        path,
        identity=IDENTITY,
        referenced_plan_uid="1.2.826.0.1.3680043.8.498.3",
        referenced_plan_sop_class_uid=RT_ION_PLAN_STORAGE,
        series_description="test dose",
        dose_comment="round trip",
        sop_instance_uid="1.2.826.0.1.3680043.8.498.4",
        series_instance_uid="1.2.826.0.1.3680043.8.498.5",
    )
    assert uid == "1.2.826.0.1.3680043.8.498.4"
    ds = pydicom.dcmread(path)  # no force
    assert ds.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    assert ds.SOPClassUID == RT_DOSE_STORAGE
    assert ds.SOPInstanceUID == uid
    assert ds.SeriesInstanceUID == "1.2.826.0.1.3680043.8.498.5"
    assert ds.Modality == "RTDOSE"
    assert ds.PatientID == "RTD001" and ds.StudyInstanceUID == IDENTITY.study_instance_uid
    assert ds.FrameOfReferenceUID == dose.frame_of_reference_uid
    assert (ds.DoseUnits, ds.DoseType, ds.DoseSummationType) == ("GY", "EFFECTIVE", "PLAN")
    assert ds.DoseComment == "round trip"
    assert ds.BitsAllocated == 32 and ds.PixelRepresentation == 0
    assert int(ds.NumberOfFrames) == 6 and ds.Rows == 21 and ds.Columns == 25
    assert [float(v) for v in ds.ImageOrientationPatient] == [1, 0, 0, 0, 1, 0]
    assert [float(v) for v in ds.ImagePositionPatient] == [-30.0, -20.0, -5.0]
    assert [float(v) for v in ds.PixelSpacing] == [2.0, 2.5]  # row spacing (y), column spacing (x)
    np.testing.assert_allclose([float(v) for v in ds.GridFrameOffsetVector], z_mm - z_mm[0])
    assert ds.SliceThickness in ("", None)  # non-uniform frames have no single thickness
    ref = ds.ReferencedRTPlanSequence[0]
    assert ref.ReferencedSOPInstanceUID == "1.2.826.0.1.3680043.8.498.3"
    assert ref.ReferencedSOPClassUID == RT_ION_PLAN_STORAGE
    scaling = float(ds.DoseGridScaling)
    values = _to_gy(ds)
    assert values.shape == dose.grid.shape_zyx
    assert np.abs(values - dose.dose_gy).max() <= scaling / 2 * (1 + 1e-9)
    assert scaling / 2 < 1e-6 * dose.max_gy


def test_uniform_grid_slice_thickness_and_physical(tmp_path: Path) -> None:
    dose = _dose(np.array([0.0, 3.0, 6.0, 9.0]), DoseType.PHYSICAL)
    path = tmp_path / "RD.dcm"
    write_rt_dose(dose, path, identity=IDENTITY, referenced_plan_uid=None, series_description="x")
    ds = pydicom.dcmread(path)
    assert float(ds.SliceThickness) == 3.0
    assert ds.DoseType == "PHYSICAL"
    assert "ReferencedRTPlanSequence" not in ds


def test_same_inputs_same_bytes(tmp_path: Path) -> None:
    dose = _dose(np.array([0.0, 2.5, 5.0]))
    kwargs = dict(
        identity=IDENTITY,
        referenced_plan_uid="1.2.3",
        series_description="d",
        sop_instance_uid="1.2.3.4",
        series_instance_uid="1.2.3.5",
    )
    write_rt_dose(dose, tmp_path / "a.dcm", **kwargs)
    write_rt_dose(dose, tmp_path / "b.dcm", **kwargs)
    assert (tmp_path / "a.dcm").read_bytes() == (tmp_path / "b.dcm").read_bytes()


def test_negative_dose_is_refused(tmp_path: Path) -> None:
    dose = _dose(np.array([0.0, 2.5]))
    bad = dose.with_dose(dose.dose_gy - 1.0, description="negative")
    with pytest.raises(ArgumentError, match="negative dose"):
        write_rt_dose(bad, tmp_path / "x.dcm", identity=IDENTITY, referenced_plan_uid=None, series_description="x")


def test_missing_frame_of_reference_is_refused(tmp_path: Path) -> None:
    dose = _dose(np.array([0.0, 2.5]))
    bad = DoseGrid(dose.grid, dose.dose_gy, dose.dose_type, dose.summation_type, "")
    with pytest.raises(ArgumentError, match="FrameOfReferenceUID"):
        write_rt_dose(bad, tmp_path / "x.dcm", identity=IDENTITY, referenced_plan_uid=None, series_description="x")


def test_identity_validates_dates() -> None:
    with pytest.raises(ArgumentError, match="study_date"):
        DicomIdentity(patient_id="p", patient_name="n", study_instance_uid="1.2", study_date="2024-01-01")


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=1e-6, max_value=1e5, allow_nan=False, allow_infinity=False))
def test_scaling_keeps_quantisation_small(max_dose_gy: float) -> None:
    scaling = dose_grid_scaling(max_dose_gy)
    assert len(str(scaling)) <= 16 or len(pydicom.valuerep.format_number_as_ds(scaling)) <= 16
    assert scaling >= max_dose_gy / 4.0e9
    assert round(max_dose_gy / scaling) <= 2**32 - 1
    assert scaling / 2 < 1e-6 * max_dose_gy


def test_dicompyler_core_reads_the_written_dose(tmp_path: Path) -> None:
    """The baseline environment (dicompyler-core 0.5.6, pydicom < 3) parses the file and returns
    the same dose plane by plane, non-uniform frame offsets included."""
    import json
    import subprocess

    from benchmarks.baseline.bridge import baseline_python

    z_mm = np.array([-5.0, -2.5, 0.0, 5.0, 7.5, 12.5])
    dose = _dose(z_mm)
    path = tmp_path / "RD.dcm"
    write_rt_dose(dose, path, identity=IDENTITY, referenced_plan_uid="1.2.3", series_description="x")
    script = (
        "import json, sys\n"
        "from dicompylercore import dicomparser\n"
        "p = dicomparser.DicomParser(sys.argv[1])\n"
        "d = p.GetDoseData()\n"
        "planes = {str(z): (p.GetDoseGrid(z) * float(d['dosegridscaling'])).tolist() for z in %r}\n"
        "print(json.dumps({'position': [float(v) for v in d['position']], 'pixelspacing': [float(v) for v in d['pixelspacing']],"
        " 'dosetype': d['dosetype'], 'units': d['doseunits'], 'plan': p.GetReferencedRTPlan(), 'planes': planes}))\n"
    ) % [float(z) for z in z_mm]
    proc = subprocess.run([str(baseline_python()), "-c", script, str(path)], capture_output=True, text=True, check=True)
    answer = json.loads(proc.stdout)
    assert answer["position"] == [-30.0, -20.0, -5.0]
    assert answer["pixelspacing"] == [2.0, 2.5]
    assert (answer["dosetype"], answer["units"], answer["plan"]) == ("EFFECTIVE", "GY", "1.2.3")
    for k, z in enumerate(z_mm):
        np.testing.assert_allclose(np.asarray(answer["planes"][str(float(z))]), dose.dose_gy[k], atol=1e-6)


@pytest.mark.parametrize("comments", ["provenance line\nWARNING: a warning", ""])
def test_image_comments_written_with_the_file_equal_a_read_back_rewrite(tmp_path: Path, comments: str) -> None:
    """ImageComments given to write_rt_dose (written once) give the same bytes as writing the file
    without them, reading it back with pydicom, setting ImageComments and saving it again (what the
    export did before). Oracle: that read-back-and-rewrite path (pydicom's own reader and writer)."""
    dose = _dose(np.array([0.0, 2.5, 5.0]))
    kwargs = dict(
        identity=IDENTITY, referenced_plan_uid="1.2.826.0.1.3680043.8.498.3", series_description="test dose",
        dose_comment="comments", sop_instance_uid="1.2.826.0.1.3680043.8.498.4", series_instance_uid="1.2.826.0.1.3680043.8.498.5",
    )
    rewritten = tmp_path / "rewritten.dcm"
    write_rt_dose(dose, rewritten, **kwargs)  # type: ignore[arg-type]
    ds = pydicom.dcmread(rewritten)
    ds.ImageComments = comments
    ds.save_as(rewritten, enforce_file_format=True)
    once = tmp_path / "once.dcm"
    write_rt_dose(dose, once, image_comments=comments, **kwargs)  # type: ignore[arg-type]
    assert once.read_bytes() == rewritten.read_bytes()
    assert pydicom.dcmread(once).ImageComments == comments


@pytest.mark.parametrize("shape", [(1, 2, 2), (3, 5, 7), (17, 300, 211)])
def test_scaled_pixels_in_blocks_equal_the_whole_grid_conversion(shape: tuple[int, int, int]) -> None:
    """The pixel values converted in blocks equal rint(dose / scaling).astype('<u4') over the whole
    grid (the conversion before, written out here as the oracle), including grids larger than one block."""
    from dosimetry.io.rtdose_writer import _scaled_pixels

    dose = np.random.default_rng(sum(shape)).random(shape) * 70.0
    dose.flat[0] = 0.0
    scaling = dose_grid_scaling(float(dose.max()))
    assert np.array_equal(_scaled_pixels(dose, scaling), np.rint(dose / scaling).astype("<u4"))
    assert _scaled_pixels(dose, scaling).dtype == np.dtype("<u4")
