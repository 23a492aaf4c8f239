"""Issue 20: the prior course's own dose is not held after the alignment (PriorDoseFromFiles), and no number moves.

The patient is the bundled sample patient (rigid registration in prior/), and the two-course export
of tests/dicom_factory.py with a deformable registration (its raw prior dose is kept: the
registration check aligns it again with the rigid one).
"""

from __future__ import annotations

import pickle
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import dosimetry.patient.maps as maps_module
from dosimetry.dose import DoseGrid
from dosimetry.errors import ConsistencyError
from dosimetry.patient import load_patient
from dosimetry.patient.facade import SAMPLE_PATIENT_DIR
from dosimetry.patient.maps import PriorDoseFromFiles
from dosimetry.radiobiology.course import load_course
from tests import dicom_factory as f


def _comparable(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k != "generated_utc"}


def test_released_prior_dose_reads_the_same_pixels() -> None:
    """Oracle: load_course of the prior folder (the loader itself). The released dose has every
    field of the loaded one and reads the same pixels again, bit for bit, read-only."""
    maps = load_patient(SAMPLE_PATIENT_DIR).patient_maps
    assert maps.prior is not None and maps.deformable_registration is None
    released = maps.prior.dose
    assert isinstance(released, PriorDoseFromFiles)
    assert "_pixels" in released.__dict__ and released.__dict__["_pixels"] is None  # nothing held after loading
    loaded = load_course(SAMPLE_PATIENT_DIR / "prior", argument="--prior").dose
    for item in fields(DoseGrid):
        if item.name == "grid":
            for axis in fields(loaded.grid):
                a, b = getattr(released.grid, axis.name), getattr(loaded.grid, axis.name)
                assert np.array_equal(a, b) if isinstance(a, np.ndarray) else a == b, axis.name
        elif item.name != "dose_gy":
            assert getattr(released, item.name) == getattr(loaded, item.name), item.name
    pixels = released.dose_gy
    assert pixels.dtype == np.float64 and not pixels.flags.writeable
    assert np.array_equal(pixels, loaded.dose_gy)
    assert released.dose_gy is pixels  # the same array while someone holds it
    assert released.max_gy == loaded.max_gy


def test_replace_and_pickle_keep_the_values() -> None:
    maps = load_patient(SAMPLE_PATIENT_DIR).patient_maps
    assert maps.prior is not None
    released = maps.prior.dose
    expected = np.array(released.dose_gy)
    renamed = replace(released, description="renamed")
    assert renamed.description == "renamed" and np.array_equal(renamed.dose_gy, expected)
    again = pickle.loads(pickle.dumps(released))
    assert isinstance(again, PriorDoseFromFiles) and np.array_equal(again.dose_gy, expected)
    assert "PriorDoseFromFiles" in repr(released)


def test_a_changed_prior_file_is_an_error(tmp_path: Path) -> None:
    """A released dose whose file no longer holds the loaded dose (another SOP Instance UID) raises, naming it."""
    course = load_course(SAMPLE_PATIENT_DIR / "prior", argument="--prior")
    other = replace(course, dose=replace(course.dose, sop_instance_uid="1.2.3.4"))
    released = PriorDoseFromFiles.release(other)
    with pytest.raises(ConsistencyError, match="RD_patient01.dcm"):
        _ = released.dose_gy


def test_analysis_never_reads_the_prior_pixels_again(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """results() and write() (every output, the report drawn in this process) run without reading
    the released prior dose again, and give the same results as with the prior dose held (the
    release switched off)."""
    def no_read(*args: object, **kwargs: object) -> None:
        raise AssertionError("the prior dose was read again")

    patient = load_patient(SAMPLE_PATIENT_DIR)
    assert patient.patient_maps.prior is not None
    assert isinstance(patient.patient_maps.prior.dose, PriorDoseFromFiles)
    with monkeypatch.context() as m:
        m.setattr(maps_module, "course_dose", no_read)
        released = patient.write(tmp_path / "released", report_workers=0).to_dict()
    with monkeypatch.context() as m:
        m.setattr(PriorDoseFromFiles, "release", classmethod(lambda cls, course: course.dose))
        held_patient = load_patient(SAMPLE_PATIENT_DIR)
        assert held_patient.patient_maps.prior is not None
        assert type(held_patient.patient_maps.prior.dose) is DoseGrid
        held = held_patient.write(tmp_path / "held", report_workers=0).to_dict()
    for name in ("dvh.csv", "metrics.csv"):
        assert (tmp_path / "released" / name).read_bytes() == (tmp_path / "held" / name).read_bytes(), name
    strip = {"outputs", "generated_utc"}
    assert {k: v for k, v in released.items() if k not in strip} == {k: v for k, v in held.items() if k not in strip}


def test_a_deformable_registration_keeps_the_prior_pixels(tmp_path: Path) -> None:
    """With a deformable registration the registration check aligns the prior course's own dose again
    (with the rigid registration): it stays loaded, a plain DoseGrid."""
    export = f.make_two_course_export(tmp_path, with_registration=True)
    f.make_deformable_reg(
        tmp_path / "prior", identity=export.current, source_frame_uid=export.prior.frame_of_reference_uid,
        vectors_zyx3_mm=np.tile(np.asarray((3.0, 0.0, 0.0)), (6, 6, 6, 1)), origin_mm=(-40, -40, -40), resolution_mm=(16, 16, 16),
    )
    maps = load_patient(tmp_path).patient_maps
    assert maps.prior is not None and maps.deformable_registration is not None
    assert type(maps.prior.dose) is DoseGrid
