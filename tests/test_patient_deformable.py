"""A Deformable Spatial Registration in a course folder (or given with --registration) is applied
by load_patient, `check`, `analyze` and `accumulate`, and results.json says so."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dosimetry.cli.main import main
from dosimetry.patient import load_patient
from dosimetry.patient.schema import validate
from tests import dicom_factory as f


def _export_with_dreg(root: Path, *, shift_mm: tuple[float, float, float] = (3.0, 0.0, 0.0)) -> f.TwoCourseExport:
    """The two-course export without its rigid REG; a deformable one (registered = current frame,
    constant vectors ``shift_mm``: p_prior = p_current + shift) sits in prior/."""
    export = f.make_two_course_export(root, with_registration=False)
    f.make_deformable_reg(
        root / "prior", identity=export.current, source_frame_uid=export.prior.frame_of_reference_uid,
        vectors_zyx3_mm=np.tile(np.asarray(shift_mm), (6, 6, 6, 1)), origin_mm=(-40, -40, -40), resolution_mm=(16, 16, 16),
    )
    return export


def test_load_patient_applies_the_deformable_registration(tmp_path: Path) -> None:
    """Oracle: the factory's prior dose is linear in LPS (f.linear_dose_gy); with p_prior = p_current +
    (3, 0, 0) the aligned prior dose at a current voxel is that function at the shifted point."""
    export = _export_with_dreg(tmp_path)
    patient = load_patient(tmp_path)
    aligned = patient.patient_maps.aligned
    assert aligned is not None and aligned.method.value == "deformable-registration"
    grid = aligned.dose.grid
    z, y, x = np.meshgrid(grid.z_mm, grid.y_mm, grid.x_mm, indexing="ij")
    pts = np.stack([x.ravel() + 3.0, y.ravel(), z.ravel()], axis=1)
    (_x0, x1), _, _ = grid.bounds_mm()
    inside = (pts[:, 0] < x1).reshape(grid.shape_zyx)  # the shift moves the last columns beyond the prior grid
    expected = f.linear_dose_gy(pts).reshape(grid.shape_zyx)
    np.testing.assert_allclose(aligned.dose.dose_gy[inside], expected[inside], atol=2e-4)
    document = patient.results().to_dict()
    validate(document)
    assert document["alignment"]["registration_kind"] == "deformable"
    assert document["alignment"]["jacobian_determinant"]["folding_voxels"] == 0
    assert export.registration is None


def test_cli_check_and_accumulate_pick_it_up(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Oracle: the registration kind each command reports (the same object as above)."""
    _export_with_dreg(tmp_path / "p")
    assert main(["check", str(tmp_path / "p"), "--json"]) in (0, 2)
    out = capsys.readouterr().out
    assert "deformable" in out
    code = main(["accumulate", "--current", str(tmp_path / "p" / "current"), "--prior", str(tmp_path / "p" / "prior"),
                 "--out", str(tmp_path / "acc"), "--json"])
    assert code == 0
    summary = json.loads((tmp_path / "acc" / "accumulate.json").read_text())
    assert summary["alignment"]["method"] == "deformable-registration"
    assert summary["alignment"]["jacobian_determinant"]["folding_voxels"] == 0


def test_register_deformable_outputs_read_back_identically(tmp_path: Path) -> None:
    """Oracle: the tool's own reading of the DICOM object it wrote (--registration REG_deformable.dcm)
    must give the same aligned prior dose, bit for bit, as the registration computed in memory;
    and SimpleITK reads the ITK transform file written beside it."""
    import SimpleITK as sitk

    export = f.make_two_course_export(tmp_path / "p", with_registration=False)
    computed = load_patient(tmp_path / "p", register="deformable")
    results = computed.write(tmp_path / "out")
    assert results.alignment is not None and results.alignment.registration_kind == "deformable"
    assert results.parameters.register == "deformable" and results.parameters.registration_margin_mm == 2.0
    assert {"REG_deformable.dcm", "prior_to_current_deformable.h5"} <= {o.path for o in results.outputs}
    again = load_patient(tmp_path / "p", registration=tmp_path / "out" / "REG_deformable.dcm")
    a, b = computed.patient_maps.aligned, again.patient_maps.aligned
    assert a is not None and b is not None
    np.testing.assert_array_equal(a.dose.dose_gy, b.dose.dose_gy)
    assert sitk.ReadTransform(str(tmp_path / "out" / "prior_to_current_deformable.h5")).GetDimension() == 3
    assert export.registration is None


def test_accumulate_register_deformable(tmp_path: Path) -> None:
    """Oracle: the files the command promises, and pydicom's reading of the DICOM object (its
    registered frame is the current course's, its source the prior course's)."""
    import pydicom

    export = f.make_two_course_export(tmp_path / "p", with_registration=False)
    code = main(["accumulate", "--current", str(tmp_path / "p" / "current"), "--prior", str(tmp_path / "p" / "prior"),
                 "--register", "deformable", "--out", str(tmp_path / "acc")])
    assert code == 0
    summary = json.loads((tmp_path / "acc" / "accumulate.json").read_text())
    assert summary["alignment"]["method"] == "deformable-registration"
    assert {o["file"] for o in summary["registration_outputs"]} == {"REG_deformable.dcm", "prior_to_current_deformable.h5", "registration_parameters.json"}
    ds = pydicom.dcmread(tmp_path / "acc" / "REG_deformable.dcm")
    assert ds.FrameOfReferenceUID == export.current.frame_of_reference_uid
    assert ds.DeformableRegistrationSequence[0].SourceFrameOfReferenceUID == export.prior.frame_of_reference_uid
