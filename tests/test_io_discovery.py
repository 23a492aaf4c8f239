"""discover(): indexing, linking, courses, skipped files and consistency checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dosimetry.errors import InputFileError
from dosimetry.io import discover
from dosimetry.plan import PlanKind
from tests import dicom_factory as f


def test_two_courses_linked(tmp_path: Path) -> None:
    export = f.make_two_course_export(tmp_path)
    (tmp_path / "notes.txt").write_text("not dicom")
    result = discover(tmp_path)
    assert len(result.patients) == 1
    courses = result.patients[0].courses
    assert len(courses) == 2
    current, prior = courses
    assert current.plan.kind is PlanKind.RT_ION_PLAN and current.plan.fractions_planned == 22
    assert prior.plan.kind is PlanKind.RT_PLAN and prior.plan.fractions_planned == 33
    assert current.doses[0].path == export.current_dose and current.doses[0].dose_type.value == "EFFECTIVE"
    assert prior.doses[0].path == export.prior_dose and prior.doses[0].dose_type.value == "PHYSICAL"
    assert current.structure_set is not None and current.structure_set.label == "CURRENT"
    assert prior.structure_set is not None and prior.structure_set.label == "PRIOR"
    assert current.ct_series is not None and current.ct_series.series_instance_uid == f.uid("cur-ct")
    assert prior.ct_series is not None and prior.ct_series.n_slices == 5
    assert current.frame_of_reference_uid == export.current.frame_of_reference_uid
    assert current.study_instance_uid == export.current.study_instance_uid
    (reg,) = result.registrations
    assert reg.source_frame_uid == export.prior.frame_of_reference_uid
    np.testing.assert_allclose(result.registration_between(prior.frame_of_reference_uid, current.frame_of_reference_uid).matrix, export.prior_to_current)
    assert [s.path.name for s in result.skipped] == ["notes.txt"]
    assert "not a DICOM file" in result.skipped[0].reason
    assert result.errors == ()
    assert len(result.files) == 2 * (5 + 3) + 1


def test_explicit_file_list(tmp_path: Path) -> None:
    export = f.make_two_course_export(tmp_path)
    result = discover([export.current_plan, export.current_dose])
    (course,) = result.courses
    assert course.plan.label == "C12" and len(course.doses) == 1
    # the plan's structure set was not given: named as an error with the tag
    assert any("(300C,0060) ReferencedStructureSetSequence" in e.message for e in result.errors)


def test_missing_plan_is_an_error(tmp_path: Path) -> None:
    export = f.make_two_course_export(tmp_path)
    export.current_plan.unlink()
    result = discover(tmp_path)
    (err,) = [e for e in result.errors if e.path == export.current_dose]
    assert "(300C,0002) ReferencedRTPlanSequence" in err.message and "not among the scanned files" in err.message
    assert err.tag == "(300C,0002) ReferencedRTPlanSequence"


def test_frames_without_registration(tmp_path: Path) -> None:
    f.make_two_course_export(tmp_path, with_registration=False)
    result = discover(tmp_path)
    assert result.errors == ()
    assert any("no Spatial Registration between them" in w.message for w in result.warnings)


def test_dose_and_structures_in_different_frames(tmp_path: Path) -> None:
    ident = f.Identity(frame_of_reference_uid=f.uid("ss-frame"))
    ss = f.make_rt_struct(tmp_path, identity=ident, rois=[f.box_roi(1, "PTV", (0, 0), 5, [0, 3])], seed="ss")
    f.make_rt_plan(tmp_path, identity=ident, structure_set_uid=f.uid("ss-sop"), seed="pl")
    dose_ident = f.Identity(frame_of_reference_uid=f.uid("dose-frame"))
    dose = f.make_rt_dose(tmp_path, identity=dose_ident, referenced_plan_uid=f.uid("pl-sop"))
    result = discover(tmp_path)
    (err,) = [e for e in result.errors if "structure set" in e.message]
    assert err.path == dose and err.tag == "(0020,0052) FrameOfReferenceUID"
    assert "no Spatial Registration links them" in err.message and str(ss) in err.message


def test_plan_without_fractions_is_an_error(tmp_path: Path) -> None:
    plan = f.make_rt_plan(tmp_path, fractions=None)
    result = discover(tmp_path)
    (err,) = [e for e in result.errors if e.path == plan]
    assert "(300A,0070) FractionGroupSequence" in err.message


def test_relative_units_are_an_error(tmp_path: Path) -> None:
    f.make_rt_plan(tmp_path, seed="pl")
    dose = f.make_rt_dose(tmp_path, units="RELATIVE", referenced_plan_uid=f.uid("pl-sop"))
    result = discover(tmp_path)
    (err,) = [e for e in result.errors if e.path == dose]
    assert "(3004,0002) DoseUnits is RELATIVE, expected GY" in err.message


def test_dose_not_covering_structure_warned_with_volume(tmp_path: Path) -> None:
    f.make_rt_struct(tmp_path, rois=[f.box_roi(1, "PTV", (0, 0), 5, [0.0, 2.0, 4.0])], seed="ss")
    f.make_rt_plan(tmp_path, structure_set_uid=f.uid("ss-sop"), seed="pl")
    # dose grid: x -1..19 (edges), y -1..19, z -1..5 -> covers x,y >= -1 only
    f.make_rt_dose(tmp_path, referenced_plan_uid=f.uid("pl-sop"), shape_frc=(3, 10, 10), pixel_spacing_mm=(2.0, 2.0), position_mm=(0, 0, 0), offsets_mm=(0, 2, 4))
    result = discover(tmp_path)
    (warn,) = [w for w in result.warnings if "does not cover ROI 'PTV'" in w.message]
    # ROI box: x,y -5..5, z -1..5 (planes 0..4 extended by half their 2 mm spacing) = 10*10*6 mm3 = 0.6 cc;
    # inside the grid: x,y -1..5, z -1..5 = 6*6*6 = 0.216 cc; outside 0.384 cc
    assert "0.4 cc of its 0.6 cc bounding box" in warn.message


def test_corrupt_files_are_skipped_never_abort(tmp_path: Path) -> None:
    export = f.make_two_course_export(tmp_path)
    data = export.prior_plan.read_bytes()
    export.prior_plan.write_bytes(data[: len(data) - 3])  # inside the last value
    cut_at_boundary = export.current_struct.read_bytes()
    export.current_struct.write_bytes(cut_at_boundary[:600])
    f.make_rt_dose(tmp_path / "bad", number_of_frames="abc", seed="bad")
    (tmp_path / "empty.dcm").write_bytes(b"")
    result = discover(tmp_path)
    reasons = {s.path.name: s.reason for s in result.skipped}
    assert "truncated" in reasons["RP.dcm"]
    assert "RS.cur.dcm" in reasons
    assert "NumberOfFrames" in reasons["RD.dcm"]
    assert "empty.dcm" in reasons
    assert any(e.path == export.prior_dose and "not among the scanned files" in e.message for e in result.errors)
    assert len(result.courses) >= 2


def test_two_patients(tmp_path: Path) -> None:
    f.make_rt_plan(tmp_path / "a", identity=f.Identity(patient_id="A"), seed="a")
    f.make_rt_plan(tmp_path / "b", identity=f.Identity(patient_id="B"), seed="b")
    result = discover(tmp_path)
    assert sorted(p.patient_id for p in result.patients) == ["A", "B"]


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="no such file or folder"):
        discover(tmp_path / "nothing")


def test_duplicate_sop_instance_reported(tmp_path: Path) -> None:
    f.make_rt_plan(tmp_path / "a", seed="same")
    f.make_rt_plan(tmp_path / "b", seed="same")
    result = discover(tmp_path)
    assert len(result.courses) == 1
    assert any("duplicate" in s.reason for s in result.skipped)


def test_deformable_registration_links_frames(tmp_path: Path) -> None:
    export = f.make_two_course_export(tmp_path, with_registration=False)
    f.make_deformable_reg(tmp_path / "prior", identity=export.current, source_frame_uid=export.prior.frame_of_reference_uid,
                          vectors_zyx3_mm=np.zeros((2, 2, 2, 3)))
    result = discover(tmp_path)
    (dreg,) = result.deformable_registrations
    assert dreg.source_frame_uid == export.prior.frame_of_reference_uid
    assert not any("no Spatial Registration" in w.message for w in result.warnings)
    assert result.registrations == ()


def test_dose_in_other_frame_than_its_plan(tmp_path: Path) -> None:
    f.make_rt_plan(tmp_path, identity=f.Identity(frame_of_reference_uid=f.uid("plan-frame")), seed="pl")
    dose = f.make_rt_dose(tmp_path, identity=f.Identity(frame_of_reference_uid=f.uid("dose-frame")), referenced_plan_uid=f.uid("pl-sop"))
    result = discover(tmp_path)
    assert any(e.path == dose and "differs from that of its plan" in e.message for e in result.errors)


def test_dose_per_fraction_from_prescription_when_beam_doses_absent(tmp_path: Path) -> None:
    from dosimetry.io import dose_per_fraction_gy, load_plan

    beams = (f.BeamSpec(1, "A", "PHOTON", None), f.BeamSpec(2, "B", "PHOTON", None))
    plan = load_plan(f.make_rt_plan(tmp_path, beams=beams, fractions=35, prescription_gy=70.0))
    assert dose_per_fraction_gy(plan) == pytest.approx(2.0)
    with_beams = load_plan(f.make_rt_plan(tmp_path, filename="RP2.dcm", beams=(f.BeamSpec(1, "A", "PHOTON", 0.9), f.BeamSpec(2, "B", "PHOTON", 1.1)), seed="p2"))
    assert dose_per_fraction_gy(with_beams) == pytest.approx(2.0)
