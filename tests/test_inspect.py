"""``dosimetry inspect``: JSON and text summaries, and bad input as one line with a non-zero exit."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pydicom.dataset import Dataset

from dosimetry.cli.main import main
from tests import dicom_factory as f


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_inspect_json_two_courses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    export = f.make_two_course_export(tmp_path)
    code, out, err = _run(capsys, "inspect", str(tmp_path), "--json")
    assert code == 0, err
    doc = json.loads(out)
    (patient,) = doc["patients"]
    current, prior = patient["courses"]
    (ion_plan,) = current["plans"]
    assert ion_plan["kind"] == "RT_ION_PLAN" and ion_plan["plan_type"] == "RT Ion Plan ION 6/12"
    assert ion_plan["fractions"] == 22 and ion_plan["dose_per_fraction_gy"] == pytest.approx(2.5)
    assert ion_plan["fraction_groups"][0]["beams"][0]["atomic_number"] == 6
    (dose,) = current["doses"]
    assert dose["dose_type"] == "EFFECTIVE" and dose["summation_type"] == "PLAN" and dose["units"] == "GY"
    assert dose["shape_zyx"] == [7, 12, 12]
    assert dose["spacing_mm"] == {"x": 3.0, "y": 3.0, "z": 3.0, "z_uniform": True}
    assert dose["extent_mm"] == {"x": [-18.0, 18.0], "y": [-18.0, 18.0], "z": [-10.5, 10.5]}
    assert [r["name"] for r in current["structure_set"]["rois"]] == ["GTV", "PTV", "BrainStem"]
    assert current["structure_set"]["rois"][0]["plane_spacing_mm"] == 3.0
    assert current["ct_series"]["n_slices"] == 5
    (photon_plan,) = prior["plans"]
    assert photon_plan["plan_type"] == "RT Plan PHOTON" and photon_plan["fractions"] == 33
    assert prior["doses"][0]["dose_type"] == "PHYSICAL"
    (reg,) = doc["registrations"]
    assert reg["source_frame_uid"] == export.prior.frame_of_reference_uid
    assert reg["target_frame_uid"] == export.current.frame_of_reference_uid
    assert reg["source_course"] == prior["label"] and reg["target_course"] == current["label"]
    assert reg["rotation_deg"] == pytest.approx(3.0) and reg["translation_mm"] == [2.0, -1.0, 4.0]
    assert doc["errors"] == [] and doc["skipped"] == []


def test_inspect_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f.make_two_course_export(tmp_path)
    code, out, _ = _run(capsys, "inspect", str(tmp_path))
    assert code == 0
    assert "RT Ion Plan ION 6/12, 22 fractions, 2.5 Gy/fx" in out
    assert "RT Plan PHOTON, 33 fractions" in out
    assert "dose EFFECTIVE PLAN GY" in out
    assert re.search(r"registration course 2 .* -> course 1 .*rotation 3 deg", out)


def test_inspect_reports_consistency_errors_with_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    export = f.make_two_course_export(tmp_path)
    export.prior_plan.unlink()
    code, out, _ = _run(capsys, "inspect", str(tmp_path), "--json")
    assert code == 2
    doc = json.loads(out)
    assert any("(300C,0002) ReferencedRTPlanSequence" in e["message"] for e in doc["errors"])


def _bad_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    good = f.make_rt_plan(tmp_path / "plan")
    data = good.read_bytes()
    truncated = tmp_path / "truncated.dcm"
    truncated.write_bytes(data[: len(data) - 3])
    text = tmp_path / "notes.dcm"
    text.write_text("Patient notes, not DICOM\n" * 20)

    def drop(ds: Dataset) -> None:
        del ds.ImageOrientationPatient

    return {
        "non-DICOM": (text, "not a DICOM file"),
        "truncated": (truncated, "truncated file"),
        "missing tag": (f.make_rt_dose(tmp_path / "missing", edit=drop), r"\(0020,0037\) ImageOrientationPatient is missing"),
        "wrong modality": (f.make_rt_dose(tmp_path / "modality", edit=lambda ds: setattr(ds, "Modality", "CT")),
                           r"\(0008,0060\) Modality is 'CT' but the SOP class is RT Dose; expected Modality RTDOSE"),
        "NumberOfFrames": (f.make_rt_dose(tmp_path / "frames", number_of_frames="abc"), r"\(0028,0008\) NumberOfFrames is 'abc', expected an integer"),
        "empty file": (tmp_path / "empty.dcm", "not a DICOM file"),
        "unsupported SOP class": (None, "is not an object dosimetry reads"),
    }


@pytest.mark.parametrize("case", ["non-DICOM", "truncated", "missing tag", "wrong modality", "NumberOfFrames", "empty file", "unsupported SOP class"])
def test_bad_input_one_line_nonzero_exit(tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str) -> None:
    files = _bad_files(tmp_path)
    (tmp_path / "empty.dcm").write_bytes(b"")
    if case == "unsupported SOP class":
        def as_mr(ds: Dataset) -> None:
            ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.4"
            ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.4"
            ds.Modality = "MR"
        path = f.make_rt_dose(tmp_path / "mr", edit=as_mr)
        pattern = files[case][1]
    else:
        path, pattern = files[case]
    code, out, err = _run(capsys, "inspect", str(path))
    assert code == 1
    assert out == ""  # never a number
    assert err.count("\n") == 1 and err.startswith("dosimetry: error: ") and "Traceback" not in err
    assert str(path) in err
    assert re.search(pattern, err), err


def test_wrong_modality_for_a_loader_named(tmp_path: Path) -> None:
    from dosimetry.errors import DicomContentError
    from dosimetry.io import load_dose

    ct = f.make_ct_series(tmp_path, z_positions_mm=(0.0,))[0]
    with pytest.raises(DicomContentError, match=r"\(0008,0016\) SOPClassUID is CT Image \(Modality CT\), expected RT Dose"):
        load_dose(ct)


def test_lone_ct_slice_is_inspectable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ct = f.make_ct_series(tmp_path, z_positions_mm=(0.0, 3.0))[0]
    code, out, _ = _run(capsys, "inspect", str(ct))
    assert code == 0 and "CT series: 1 slices" in out


def test_missing_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "inspect", str(tmp_path / "absent"))
    assert code == 1 and out == "" and "no such file or folder" in err


def test_folder_without_dicom(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.txt").write_text("x")
    code, out, err = _run(capsys, "inspect", str(tmp_path))
    assert code == 1 and out == "" and "no usable DICOM file" in err
