"""Finding patients under a batch ROOT from DICOM headers."""

from __future__ import annotations

import shutil
from pathlib import Path

import pydicom
import pytest

from dosimetry.errors import InputFileError
from pipelines.analysis import Layout
from pipelines.discovery import discover_patients
from tests.pipelines_cohort import write_patient


def test_folder_per_patient_with_course_subfolders(tmp_path: Path) -> None:
    write_patient(tmp_path / "root" / "alpha" / "current", patient_id="P01")
    write_patient(tmp_path / "root" / "alpha" / "prior", patient_id="P01", seed="P01-prior")
    write_patient(tmp_path / "root" / "beta", patient_id="P02")
    found = discover_patients(tmp_path / "root")
    assert [p.key for p in found.patients] == ["P01", "P02"]
    alpha = found.patients[0]
    assert alpha.layout is Layout.FOLDER and alpha.source_dir == (tmp_path / "root" / "alpha").resolve()
    assert [f.relative_path for f in alpha.files] == ["current/RD.dcm", "current/RS.dcm", "prior/RD.dcm", "prior/RS.dcm"]
    assert {f.modality for f in alpha.files} == {"RTDOSE", "RTSTRUCT"}
    assert all(f.patient_id == "P01" and f.sop_instance_uid for f in alpha.files)
    assert found.skipped == () and found.warnings == ()


def test_mixed_files_are_grouped_by_patient_id(tmp_path: Path) -> None:
    root = tmp_path / "root"
    write_patient(tmp_path / "a", patient_id="P01")
    write_patient(tmp_path / "b", patient_id="P02")
    root.mkdir()
    shutil.copy(tmp_path / "a" / "RD.dcm", root / "dose_a.dcm")  # loose in ROOT
    (root / "dump").mkdir()
    shutil.copy(tmp_path / "a" / "RS.dcm", root / "dump" / "rs_a.dcm")  # in a mixed folder
    shutil.copy(tmp_path / "b" / "RD.dcm", root / "dump" / "dose_b.dcm")
    shutil.copy(tmp_path / "b" / "RS.dcm", root / "dump" / "rs_b.dcm")
    found = discover_patients(root)
    assert [(p.key, p.layout) for p in found.patients] == [("P01", Layout.GROUPED), ("P02", Layout.GROUPED)]
    assert [f.relative_path for f in found.patients[0].files] == ["dose_a.dcm", "dump/rs_a.dcm"]
    assert [f.relative_path for f in found.patients[1].files] == ["dump/dose_b.dcm", "dump/rs_b.dcm"]
    assert len(found.warnings) == 1 and "mixes 2 PatientIDs" in found.warnings[0]


def test_non_dicom_hidden_and_output_folder_are_skipped(tmp_path: Path) -> None:
    root = tmp_path / "root"
    write_patient(root / "p1", patient_id="P01")
    (root / "p1" / "notes.txt").write_text("not dicom")
    (root / "p1" / ".DS_Store").write_bytes(b"\x00\x01")
    (root / ".git").mkdir()
    out = root / "out"
    write_patient(out / "patients" / "P09", patient_id="P09")  # must never be taken as input
    found = discover_patients(root, exclude=(out,))
    assert [p.key for p in found.patients] == ["P01"]
    reasons = {p.name: r for p, r in ((s.path, s.reason) for s in found.skipped)}
    assert "not a DICOM file" in reasons["notes.txt"]
    assert reasons[".DS_Store"] == "hidden file"
    assert reasons[".git"] == "hidden folder"
    assert reasons["out"] == "the batch output folder"


def test_same_patient_id_in_two_folders_stays_two_patients(tmp_path: Path) -> None:
    write_patient(tmp_path / "root" / "case1", patient_id="ANON", seed="1")
    write_patient(tmp_path / "root" / "case2", patient_id="ANON", seed="2")
    found = discover_patients(tmp_path / "root")
    keys = [p.key for p in found.patients]
    assert len(set(keys)) == 2 and all(k.startswith("ANON-") for k in keys)
    assert all("shared by 2 patients" in p.warnings[0] for p in found.patients)
    # The cohort-level warning (printed by `dosimetry batch`) names both output folders.
    (note,) = found.warnings
    assert note.startswith("PatientID 'ANON' is shared by 2 patients") and all(k in note for k in keys)
    assert discover_patients(tmp_path / "root").patients == found.patients  # deterministic


def test_hostile_patient_ids_get_safe_keys(tmp_path: Path) -> None:
    for i, pid in enumerate(["../../x", "/etc/passwd", "a/b", ".."]):
        write_patient(tmp_path / "root" / f"p{i}", patient_id=pid)
    found = discover_patients(tmp_path / "root")
    assert sorted(p.patient_id for p in found.patients) == sorted(["../../x", "/etc/passwd", "a/b", ".."])
    for p in found.patients:
        assert "/" not in p.key and p.key not in (".", "..") and not p.key.startswith(".")


def test_folder_without_patient_id_is_named_after_the_folder(tmp_path: Path) -> None:
    folder = write_patient(tmp_path / "root" / "case7", patient_id="tmp")
    for name in ("RD.dcm", "RS.dcm"):
        ds = pydicom.dcmread(folder / name)
        del ds.PatientID
        ds.save_as(folder / name)
    found = discover_patients(tmp_path / "root")
    assert [(p.key, p.patient_id) for p in found.patients] == [("case7", "")]


def test_root_must_be_a_folder(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="not a folder"):
        discover_patients(tmp_path / "absent")


def test_patient_folder_for_both_layouts(tmp_path: Path) -> None:
    from pipelines.adapters import patient_folder

    root = tmp_path / "root"
    write_patient(root / "p1", patient_id="P01")
    write_patient(tmp_path / "b", patient_id="P02")
    shutil.copy(tmp_path / "b" / "RD.dcm", root / "loose_rd.dcm")
    (root / "mixed").mkdir()
    shutil.copy(tmp_path / "b" / "RS.dcm", root / "mixed" / "rs.dcm")
    shutil.copy(tmp_path / "b" / "RD.dcm", root / "mixed" / "rd_again.dcm")
    write_patient(tmp_path / "c", patient_id="P03")
    shutil.copy(tmp_path / "c" / "RD.dcm", root / "mixed" / "rd_c.dcm")
    found = {p.patient_id: p for p in discover_patients(root).patients}
    assert patient_folder(found["P01"], tmp_path / "unused") == (root / "p1").resolve()
    scratch = patient_folder(found["P02"], tmp_path / "scratch")
    listed = sorted(p.relative_to(scratch).as_posix() for p in scratch.rglob("*") if p.is_file())
    assert listed == ["loose_rd.dcm", "mixed/rd_again.dcm", "mixed/rs.dcm"]
    assert (scratch / "mixed" / "rs.dcm").read_bytes() == (tmp_path / "b" / "RS.dcm").read_bytes()
