"""Plan data for the report (``dosimetry.io.plan_details``, ``dosimetry.report.plan_data``).

Oracles: the sample generator's specification (``dosimetry.sampledata.patient``: the carbon beams'
names and gantry angles, the photon fields every 40 degrees, the 3 mm dose grid), which writes the
DICOM the reader reads back; and plan attributes written here with pydicom."""

from __future__ import annotations

from pathlib import Path

import pydicom

from dosimetry.io.plan_details import read_plan_details
from dosimetry.report.plan_data import ion_name
from dosimetry.sampledata.patient import CARBON_BEAMS, PHOTON_GANTRY_DEG

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "patient01"


def test_sample_ion_plan_beams_angles_approval_and_planning_system() -> None:
    details = read_plan_details(SAMPLE / "current" / "RI_patient01.dcm")
    assert [(b.name, b.gantry_angle_deg, b.couch_angle_deg) for b in details.beams] == [(n, g, 0.0) for n, g, _ in CARBON_BEAMS]
    assert {(b.radiation_type, b.ion_atomic_number, b.ion_mass_number) for b in details.beams} == {("ION", 6, 12)}
    assert details.approval_status == "APPROVED" and details.reviewer_name and details.review_date
    assert details.software_versions and details.planning_system.endswith(f"version {details.software_versions}")
    prior = read_plan_details(SAMPLE / "prior" / "RP_patient01.dcm")
    assert [b.gantry_angle_deg for b in prior.beams] == list(PHOTON_GANTRY_DEG)
    assert {b.ion_atomic_number for b in prior.beams} == {None}
    assert ion_name(6, 12) == "carbon-ion (12C)" and ion_name(1, 1) == "proton (1H)" and ion_name(None, None) == ""


def test_rbe_model_is_reported_with_its_source_or_not_recorded(tmp_path: Path) -> None:
    """Oracle: the DoseComment written here names the model; the sample's files name none."""
    from types import SimpleNamespace

    from dosimetry.report.plan_data import rbe_model_text

    plan = SimpleNamespace(source_path=SAMPLE / "current" / "RI_patient01.dcm")
    sample = SimpleNamespace(plan=plan, dose_paths=(SAMPLE / "current" / "RD_patient01.dcm",))
    assert rbe_model_text(sample).startswith("not recorded")  # type: ignore[arg-type]
    ds = pydicom.dcmread(SAMPLE / "current" / "RD_patient01.dcm", stop_before_pixels=True)
    ds.DoseComment = "RBE-weighted dose, LEM I, alpha/beta 2 Gy"
    ds.save_as(tmp_path / "RD.dcm")
    text = rbe_model_text(SimpleNamespace(plan=plan, dose_paths=(tmp_path / "RD.dcm",)))  # type: ignore[arg-type]
    assert text.startswith("lem-i (DoseComment (3004,0006) of") and "LEM I" in text
