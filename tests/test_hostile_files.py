"""Hostile files (issue 21 items 3 and 8): a multi-GB sparse file, zero-filled and truncated files,
symlink loops. Nothing may stall a command; what was skipped is said with the reason.

The sparse files are made with ``truncate`` semantics (``os.truncate``), which costs no disk.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from dosimetry.cli.main import main
from dosimetry.errors import InputFileError
from dosimetry.io import dicom_probe, discover
from dosimetry.io.dicom_file import read_dicom
from dosimetry.io.dicom_probe import probe_dicom_file
from tests import dicom_factory as f

SAMPLE_PATIENT = Path(__file__).resolve().parents[1] / "sample_data" / "patient01"
TWO_GIB = 2 << 30


def _sparse(path: Path, size: int) -> Path:
    path.touch()
    os.truncate(path, size)
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_probe_accepts_real_files_and_refuses_zeros(tmp_path: Path) -> None:
    """Oracle: the DICOM file format (PS3.10 7.1: 128-byte preamble, "DICM", group 0002 meta, then
    the dataset starting in group 0008) applied by hand: every file the factory writes passes; a
    zero-filled file, a text file and a "DICM" marker followed by zeros cannot be DICOM."""
    export = f.make_two_course_export(tmp_path / "export")
    for path in sorted((tmp_path / "export").rglob("*.dcm")):
        probe_dicom_file(path)
    zeros = _sparse(tmp_path / "zeros.dcm", 1 << 20)
    with pytest.raises(InputFileError, match="zero bytes"):
        probe_dicom_file(zeros)
    notes = tmp_path / "notes.txt"
    notes.write_text("Patient notes\n" * 20)
    with pytest.raises(InputFileError, match="not a DICOM file"):
        probe_dicom_file(notes)
    header_then_zeros = tmp_path / "dicm_zeros.dcm"
    header_then_zeros.write_bytes(b"\0" * 128 + b"DICM" + b"\0" * 4096)
    with pytest.raises(InputFileError, match="after the file meta"):
        probe_dicom_file(header_then_zeros)
    # an old export without preamble and file meta (implicit VR little endian) is still accepted
    raw = export.current_plan.read_bytes()
    ds = read_dicom(export.current_plan)
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_dataset

    buffer = DicomBytesIO()
    buffer.is_little_endian, buffer.is_implicit_VR = True, True
    write_dataset(buffer, ds)
    bare = tmp_path / "bare_plan.dcm"
    bare.write_bytes(buffer.getvalue())
    assert len(bare.read_bytes()) < len(raw)
    probe_dicom_file(bare)
    assert read_dicom(bare).SOPInstanceUID == ds.SOPInstanceUID


def test_size_limit_refuses_a_valid_header_on_a_2_gib_file(tmp_path: Path) -> None:
    """Oracle: the documented limit MAX_DICOM_FILE_BYTES (1 GiB) against the file's size from the
    file system: a real RT Dose extended to 2 GiB (sparse zeros appended) passes the structural
    probe but is refused by size, with the limit named."""
    export = f.make_two_course_export(tmp_path / "export")
    big = tmp_path / "big_dose.dcm"
    shutil.copy(export.current_dose, big)
    os.truncate(big, TWO_GIB)
    with pytest.raises(InputFileError, match=r"2\.00 GiB exceeds the per-file limit of 1 GiB .*MAX_DICOM_FILE_BYTES"):
        read_dicom(big, stop_before_pixels=True)


def test_parse_time_limit_gives_up_with_a_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Oracle: a file built to pass the probe (valid preamble, meta and first dataset element) but
    followed by 4 MB of zeros makes pydicom parse ~500 000 empty elements; with the documented time
    limit set to 0 s the parse must stop at the first check and name the limit (no timing asserted)."""
    export = f.make_two_course_export(tmp_path / "export")
    raw = export.current_plan.read_bytes()
    ds = read_dicom(export.current_plan)
    meta_end = 132 + 12 + int(ds.file_meta.FileMetaInformationGroupLength)
    element_end = meta_end + 8 + int.from_bytes(raw[meta_end + 6 : meta_end + 8], "little")  # first element, short VR
    padded = tmp_path / "padded.dcm"
    padded.write_bytes(raw[:element_end] + b"\0" * (4 << 20))
    probe_dicom_file(padded)  # passes the quick check
    monkeypatch.setattr(dicom_probe, "PARSE_TIME_LIMIT_S", 0.0)
    with pytest.raises(InputFileError, match="PARSE_TIME_LIMIT_S"):
        read_dicom(padded, stop_before_pixels=True)


@pytest.fixture()
def patient_with_2gib_file(tmp_path: Path) -> Path:
    patient = tmp_path / "patient"
    shutil.copytree(SAMPLE_PATIENT, patient)
    _sparse(patient / "current" / "x.dcm", TWO_GIB)
    return patient


def test_inspect_and_dvh_skip_a_2_gib_sparse_file(patient_with_2gib_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Oracle: the file is 2 GiB of zeros (truncate), so it cannot be DICOM; before the fix inspect
    parsed it for 880 s. Folder inspect lists it as skipped with the reason; file inspect and
    ``dvh --dose`` refuse it in one error line."""
    current = patient_with_2gib_file / "current"
    big = current / "x.dcm"
    code, out, err = _run(capsys, "inspect", str(current), "--json")
    assert code == 0, err
    skipped = {Path(s["path"]).name: s["reason"] for s in json.loads(out)["skipped"]}
    assert "not a DICOM file" in skipped["x.dcm"] and "zero bytes" in skipped["x.dcm"]
    code, _, err = _run(capsys, "inspect", str(big))
    assert code == 1 and "x.dcm" in err and "not a DICOM file" in err
    structures = next(current.glob("RS_*.dcm"))
    code, _, err = _run(capsys, "dvh", "--dose", str(big), "--structures", str(structures))
    assert code == 1 and "x.dcm" in err and "not a DICOM file" in err


@pytest.mark.slow
def test_analyze_skips_a_2_gib_sparse_file_and_says_so(patient_with_2gib_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Oracle: the same 2 GiB zero file (before the fix analyze ran more than 25 min). The analysis
    completes; results.json lists the file among the inputs as not read (size limit, not hashed)
    and the warnings name it as skipped."""
    out_dir = tmp_path / "out"
    code, _, err = _run(capsys, "analyze", str(patient_with_2gib_file), "--out", str(out_dir))
    assert code == 0, err
    doc = json.loads((out_dir / "results.json").read_text())
    (record,) = [i for i in doc["inputs"] if i["path"].endswith("x.dcm")]
    assert record["modality"].startswith("not read: 2.00 GiB exceeds the per-file limit") and record["sha256"] == ""
    assert any("skipped x.dcm" in w and "not a DICOM file" in w for w in doc["warnings"])
    # item 6 for analyze: metrics.csv rows carry the warnings naming their ROI and those naming none
    import csv

    with open(out_dir / "metrics.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    external = next(r for r in rows if r["roi"] == "External")
    gtv = next(r for r in rows if r["roi"] == "GTV")
    assert "ROI 'External'" in external["warnings"] and "skipped x.dcm" in external["warnings"]
    assert "ROI 'External'" not in gtv["warnings"] and "skipped x.dcm" in gtv["warnings"]


def test_batch_discovery_skips_a_2_gib_sparse_file(patient_with_2gib_file: Path) -> None:
    """Oracle: as above, for the batch's header scan (pipelines.discovery), which read the file
    with a forced pydicom parse before the fix."""
    from pipelines.discovery import discover_patients

    found = discover_patients(patient_with_2gib_file.parent)
    reasons = {s.path.name: s.reason for s in found.skipped}
    assert "not a DICOM file" in reasons["x.dcm"]
    assert [p.key for p in found.patients]  # the sample patient is still found


def test_folder_discovery_still_links_the_course(patient_with_2gib_file: Path) -> None:
    """Oracle: the sample patient's current course (one ion plan, one dose, one structure set)
    is found as without the extra file."""
    found = discover(patient_with_2gib_file / "current")
    (course,) = found.courses
    assert len(course.doses) == 1 and course.structure_set is not None


def _two_point_case(directory: Path) -> tuple[Path, Path]:
    import numpy as np

    rd = f.make_rt_dose(directory, shape_frc=(12, 12, 12), position_mm=(-11.0, -11.0, -11.0), pixel_spacing_mm=(2.0, 2.0),
                        offsets_mm=[2.0 * k for k in range(12)])
    planes = (-4.0, -2.0, 0.0, 2.0, 4.0)
    box = f.box_roi(1, "Box", (0.0, 0.0), 4.0, planes)
    two_point = ("CLOSED_PLANAR", np.array([[-4.0, -4.0, 6.0], [4.0, 4.0, 6.0]]))
    box = f.RoiSpec(box.number, box.name, box.interpreted_type, (*box.contours, two_point))
    other = f.box_roi(2, "Other", (0.0, 0.0), 2.0, planes)
    rs = f.make_rt_struct(directory, rois=[box, other])
    return rd, rs


def test_dvh_warning_that_changes_a_number_reaches_text_csv_and_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """Oracle: the analytic box (8 x 8 mm on 5 planes 2 mm apart, half-slab end caps: 0.64 cc) and
    the DICOM rule that a closed contour needs 3 points: the 2-point contour of ROI 1 is dropped, so
    every output format (text table, CSV row of ROI 1, stderr) must say so; ROI 2's CSV row does not
    carry ROI 1's warning. Before the fix only --json had it (issue 21 item 6)."""
    rd, rs = _two_point_case(tmp_path)
    csv_path = tmp_path / "dvh.csv"
    code, out, err = _run(capsys, "dvh", "--dose", str(rd), "--structures", str(rs), "--csv", str(csv_path))
    assert code == 0, err
    assert "warning: RS.dcm: ROI 1 (3006,0039)" in out and "closed contour with 2 points ignored" in out
    # stderr: the CLI's logging handler (pytest's capture stands in for it in-process)
    assert any("closed contour with 2 points ignored" in r.getMessage() and r.levelname == "WARNING" for r in caplog.records)
    import csv

    with open(csv_path, newline="", encoding="utf-8") as handle:
        rows = {r["name"]: r for r in csv.DictReader(handle)}
    assert float(rows["Box"]["volume_cc"]) == pytest.approx(0.64, rel=1e-6)
    assert "closed contour with 2 points ignored" in rows["Box"]["warnings"]
    assert "2 points" not in rows["Other"]["warnings"]


def test_relative_dose_error_names_an_option_that_exists(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Oracle: the commands' own --help (the option named in the error must be offered by each
    command it names) and arithmetic: a stored relative value of 0.5 with --normalisation-gy 70 is
    35 Gy everywhere (issue 21 item 7: the error named ``normalisation_gy``, which no command had)."""
    import numpy as np

    rd = f.make_rt_dose(tmp_path, units="RELATIVE", shape_frc=(12, 12, 12), position_mm=(-11.0, -11.0, -11.0),
                        pixel_spacing_mm=(2.0, 2.0), offsets_mm=[2.0 * k for k in range(12)],
                        dose_frc_gy=np.full((12, 12, 12), 0.5))
    rs = f.make_rt_struct(tmp_path, rois=[f.box_roi(1, "Box", (0.0, 0.0), 4.0, (-4.0, -2.0, 0.0, 2.0, 4.0))])
    code, _, err = _run(capsys, "dvh", "--dose", str(rd), "--structures", str(rs))
    assert code == 1 and "DoseUnits is RELATIVE" in err and "--normalisation-gy GY of dvh, indices and bed" in err
    for command in ("dvh", "indices", "bed"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert "--normalisation-gy" in capsys.readouterr().out
    code, out, err = _run(capsys, "dvh", "--dose", str(rd), "--structures", str(rs), "--normalisation-gy", "70", "--json", "-")
    assert code == 0, err
    (box,) = json.loads(out)["structures"]
    assert box["metrics"]["Mean[Gy]"] == pytest.approx(35.0, rel=1e-9)


def test_folder_inspect_refuses_a_truncated_dose_as_file_inspect_does(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Oracle: the file-level inspect, which loads the voxels and finds the truncation (issue 21
    item 8): the folder scan must list the same file as not loadable, with the same reason, and
    not as a normal dose of the course."""
    export = f.make_two_course_export(tmp_path / "export")
    dose = export.current_dose
    dose.write_bytes(dose.read_bytes()[:-100])
    code, _, err = _run(capsys, "inspect", str(dose))
    assert code == 1 and "truncated file: (7FE0,0010) PixelData holds" in err
    code, out, _ = _run(capsys, "inspect", str(tmp_path / "export"), "--json")
    doc = json.loads(out)
    assert code == 2
    listed = [d["path"] for p in doc["patients"] for c in p["courses"] for d in c["doses"]]
    assert str(dose) not in listed
    skipped = {s["path"]: s["reason"] for s in doc["skipped"]}
    assert "truncated file: (7FE0,0010) PixelData holds" in skipped[str(dose)]
    assert any(str(dose) in e["message"] for e in doc["errors"])


def test_folder_inspect_lists_symlink_loops_and_broken_links(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Oracle: the links made here (a link to an ancestor, a self-referencing link, a dangling link):
    each is listed under "skipped" with its kind; the export's own files are still indexed."""
    export_dir = tmp_path / "export"
    f.make_two_course_export(export_dir)
    (export_dir / "current" / "up").symlink_to("..")
    (export_dir / "self").symlink_to("self")
    (export_dir / "gone.dcm").symlink_to("nowhere.dcm")
    code, out, err = _run(capsys, "inspect", str(export_dir), "--json")
    assert code == 0, err
    doc = json.loads(out)
    skipped = {Path(s["path"]).name: s["reason"] for s in doc["skipped"]}
    assert skipped["up"].startswith("symbolic link loop: points to ..")
    assert skipped["self"].startswith("symbolic link loop")
    assert skipped["gone.dcm"].startswith("broken symbolic link")
    assert doc["n_files_indexed"] == 2 * (5 + 3) + 1


def test_warnings_by_roi_attribution() -> None:
    """Oracle: the rule of dosimetry.roi_warnings read by hand on four messages."""
    from dosimetry.roi_warnings import warnings_by_roi

    messages = [
        "RS.dcm: ROI 1 (3006,0039) item 1: closed contour with 2 points ignored",
        "ROI 'Other': 3 cc outside the dose grid",
        "RD.dcm: no ReferencedRTPlanSequence",
        "RS.dcm: ROI 12 has no contours",
    ]
    by_roi = warnings_by_roi([(1, "Box"), (2, "Other")], messages)
    assert by_roi[1] == [messages[0], messages[2]]
    assert by_roi[2] == [messages[1], messages[2]]


def test_batch_discovery_lists_a_symlink_loop(patient_with_2gib_file: Path) -> None:
    """Oracle: the link made here points back to the batch ROOT; the batch's header scan uses the
    same walker as inspect, so it is listed as a loop and the patient is still found once."""
    from pipelines.discovery import discover_patients

    (patient_with_2gib_file / "current" / "back").symlink_to(patient_with_2gib_file.parent)
    found = discover_patients(patient_with_2gib_file.parent)
    reasons = {s.path.name: s.reason for s in found.skipped}
    assert reasons["back"].startswith("symbolic link loop")
    assert len(found.patients) == 1


def test_a_folder_that_cannot_be_listed_is_named_not_dropped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Oracle: the operating system's refusal, simulated (the tests run as root, which chmod cannot lock out):
    listing ``locked/`` raises PermissionError, so its file is not scanned and the walk must say so."""
    from dosimetry.io.folder_walk import walk_files

    (tmp_path / "open").mkdir()
    (tmp_path / "open" / "a.dcm").write_bytes(b"x")
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "b.dcm").write_bytes(b"x")
    real_scandir = os.scandir

    def scandir(path: Any = ".") -> Any:
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    walk = walk_files(tmp_path)
    assert walk.files == (tmp_path / "open" / "a.dcm",)
    assert [(s.path, s.reason) for s in walk.skipped] == [
        (tmp_path / "locked", "folder cannot be read (Permission denied); nothing under it was scanned")
    ]


def test_a_file_cut_inside_a_file_meta_element_header_is_refused_not_a_crash(tmp_path: Path) -> None:
    """Oracle: PS3.10 7.1 / PS3.5 7.1.2 by hand: an explicit-VR element header with a 2-byte length is 8 bytes
    (tag 4, VR 2, length 2); a file ending 6 or 7 bytes into one is truncated inside its file meta information."""
    for tail in (b"UL", b"UL\x04"):
        cut = tmp_path / f"cut{len(tail)}.dcm"
        cut.write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00\x00\x00" + tail)
        with pytest.raises(InputFileError, match="ends inside its file meta information"):
            probe_dicom_file(cut)
