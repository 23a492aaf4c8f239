"""Issue 2's done criterion on the committed sample patient: ``dosimetry inspect sample_data/patient01
--json`` reports the RT Ion Plan with 22 fractions, the EFFECTIVE dose grid, the prior photon course
with 33 fractions and the registration (prior frame -> current frame)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dosimetry.cli.main import main
from dosimetry.io import discover, load_dose, load_plan, load_registration, load_structure_set

PATIENT = Path(__file__).resolve().parent.parent / "sample_data" / "patient01"


def test_sample_patient_is_committed() -> None:
    assert (PATIENT / "current").is_dir() and (PATIENT / "prior").is_dir()


def test_inspect_sample_patient_json(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["inspect", str(PATIENT), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    doc = json.loads(out)
    (patient,) = doc["patients"]
    courses = patient["courses"]
    assert len(courses) == 2
    current = next(c for c in courses if c["plans"] and c["plans"][0]["kind"] == "RT_ION_PLAN")
    prior = next(c for c in courses if c["plans"] and c["plans"][0]["kind"] == "RT_PLAN")

    (ion,) = current["plans"]
    assert ion["plan_type"] == "RT Ion Plan ION 6/12"
    assert ion["fractions"] == 22 and ion["dose_per_fraction_gy"] == pytest.approx(2.5)
    (cur_dose,) = current["doses"]
    assert cur_dose["dose_type"] == "EFFECTIVE" and cur_dose["summation_type"] == "PLAN" and cur_dose["units"] == "GY"
    assert cur_dose["referenced_plan_uid"] == ion["sop_instance_uid"]
    assert current["structure_set"]["sop_instance_uid"] == ion["referenced_structure_set_uid"]
    assert {"GTV", "CTV", "PTV", "BrainStem", "OpticChiasm"} <= {r["name"] for r in current["structure_set"]["rois"]}
    assert current["ct_series"]["series_instance_uid"] == current["structure_set"]["referenced_series_uid"]

    (photon,) = prior["plans"]
    assert photon["plan_type"] == "RT Plan PHOTON" and photon["fractions"] == 33
    assert photon["prescription_gy"] == pytest.approx(70.0)
    assert prior["doses"][0]["dose_type"] == "PHYSICAL"
    assert prior["frame_of_reference_uid"] != current["frame_of_reference_uid"]

    (reg,) = doc["registrations"]
    assert reg["source_frame_uid"] == prior["frame_of_reference_uid"]
    assert reg["target_frame_uid"] == current["frame_of_reference_uid"]
    assert reg["source_course"] == prior["label"] and reg["target_course"] == current["label"]
    assert reg["is_rigid"]
    assert doc["errors"] == [] and doc["skipped"] == []


def test_sample_patient_loads_in_gy() -> None:
    result = discover(PATIENT)
    current = next(c for c in result.courses if c.is_ion)
    dose = load_dose(current.doses[0].path)
    plan = load_plan(current.plan.source_path)
    assert dose.referenced_plan_uid == plan.sop_instance_uid
    # 22 x 2.5 GyE = 55 GyE prescribed; an ion plan's maximum lies a few per cent above it
    assert 55.0 <= dose.max_gy <= 55.0 * 1.07
    ss = load_structure_set(current.structure_set.source_path)  # type: ignore[union-attr]
    assert ss.frame_of_reference_uid == dose.frame_of_reference_uid
    reg = load_registration(next(PATIENT.joinpath("prior").glob("RE*.dcm")))
    np.testing.assert_allclose(reg.matrix[:3, 3], [8.0, -5.0, 4.0])  # the generator's prior -> current translation
