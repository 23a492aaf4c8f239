"""``dosimetry check`` end to end on a small synthetic patient with a hand-computed cumulative EQD2.

Current course: carbon, 22 fractions, EFFECTIVE dose 22 GyE (x < 0) and 44 GyE (x >= 0).
Prior course: photons, 30 fractions, 30 Gy (x < 0) and 60 Gy (x >= 0), same frame of reference.
EQD2 with alpha/beta 2 Gy: EQD2 = D (d + 2) / 4 with d = D / n.
  x < 0:  current 22 x 3/4 = 16.5, prior 30 x 3/4 = 22.5 -> cumulative 16.5 + 0.3 x 22.5 = 23.25 Gy
  x >= 0: current 44 x 4/4 = 44,   prior 60 x 4/4 = 60   -> cumulative 44 + 0.3 x 60   = 62 Gy
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dosimetry.cli import main as cli_main
from tests import dicom_factory as f

SHAPE = (13, 31, 31)  # frames (z 0..30 mm), rows (y -30..30), columns (x -30..30)
POSITION = (-30.0, -30.0, 0.0)
PLANES = [5.0 + 2.5 * k for k in range(9)]  # 5 .. 25 mm


def _dose(low: float, high: float) -> np.ndarray:
    dose = np.full(SHAPE, low)
    dose[:, :, 15:] = high  # columns 15.. are x >= 0
    return dose


@pytest.fixture(scope="module")
def patient(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("patient")
    current, prior = root / "current", root / "prior"
    current.mkdir()
    prior.mkdir()
    ion_uid, photon_uid = f.uid("check-ion-plan"), f.uid("check-photon-plan")
    f.make_rt_ion_plan(current, fractions=22, dose_per_fraction_gy=2.0, sop_instance_uid=ion_uid)
    f.make_rt_dose(current, shape_frc=SHAPE, position_mm=POSITION, pixel_spacing_mm=(2.0, 2.0), dose_frc_gy=_dose(22.0, 44.0),
                   dose_type="EFFECTIVE", referenced_plan_uid=ion_uid, seed="check-current-dose")
    rois = [
        f.box_roi(1, "Brain Stem", (-18.0, 0.0), 6.0, PLANES),
        f.box_roi(2, "OpticChiasm", (18.0, 0.0), 4.0, PLANES[3:6]),
        f.box_roi(3, "SpinalCord", (-18.0, 14.0), 3.0, PLANES),
        f.box_roi(4, "PTV_66", (18.0, -14.0), 6.0, PLANES, interpreted_type="PTV"),
        f.box_roi(5, "Pituitary", (-18.0, -14.0), 3.0, PLANES[2:5]),
        f.box_roi(6, "Brianstem", (-18.0, -14.0), 3.0, PLANES[2:5]),
    ]
    f.make_rt_struct(current, rois=rois, seed="check-struct")
    f.make_rt_plan(prior, fractions=30, prescription_gy=60.0, sop_instance_uid=photon_uid, seed="check-photon")
    f.make_rt_dose(prior, shape_frc=SHAPE, position_mm=POSITION, pixel_spacing_mm=(2.0, 2.0), dose_frc_gy=_dose(30.0, 60.0),
                   referenced_plan_uid=photon_uid, seed="check-prior-dose")
    return root


def test_check_json(patient: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    protocol = tmp_path / "inst.toml"
    protocol.write_text(
        '[constraints]\nBrainStem = "D0.03cc[Gy] < 54"\nOpticChiasm = "Dmax[Gy] < 54"\n'
        '[constraints.SpinalCord]\nquantity = "dose_current"\nconstraints = ["Dmax[Gy] < 30"]\n',
        encoding="utf-8",
    )
    code = cli_main.main(["check", str(patient), "--protocol", str(protocol), "--json"])
    captured = capsys.readouterr()
    assert code == 2, captured.err  # the chiasm fails
    data = json.loads(captured.out)
    assert data["quantity"] == "eqd2_cumulative" and data["alpha_beta_gy"] == 2.0
    assert data["parameters"]["residual"] == 0.3
    assert data["inputs"]["prior"]["alignment"] == "same-frame"
    organs = {o["roi"]: o for o in data["organs"]}
    assert set(organs) == {"Brain Stem", "OpticChiasm", "SpinalCord"}
    brainstem = organs["Brain Stem"]
    assert brainstem["dose_summary"]["max_gy"] == pytest.approx(23.25, abs=1e-4)
    assert brainstem["dose_summary"]["mean_gy"] == pytest.approx(23.25, abs=0.01)
    assert brainstem["endpoints"][0]["status"] == "PASS"
    assert brainstem["endpoints"][0]["margin_gy"] == pytest.approx(50.0 - 23.25, abs=0.01)
    chiasm = organs["OpticChiasm"]["endpoints"][0]
    assert chiasm["status"] == "FAIL" and chiasm["margin_gy"] == pytest.approx(50.0 - 62.0, abs=0.01)
    assert chiasm["ntcp"] > 0.05 and chiasm["ntcp_flagged"]
    cord = organs["SpinalCord"]
    assert cord["extent"]["length_cm"] == pytest.approx(2.25)  # planes 5..25 mm plus one 2.5 mm spacing
    assert cord["endpoints"][0]["status"] == "PASS"  # 23.25 Gy over an effective 2.25 cm: held at the 5 cm value 50 Gy
    assert [u["roi"] for u in data["unmapped_rois"]] == ["Pituitary", "Brianstem"]
    assert [n["roi"] for n in data["non_organ_rois"]] == ["PTV_66"]
    protocol_rows = {(p["structure"], p["quantity"]): p for p in data["protocol"]}
    assert protocol_rows[("BrainStem", "eqd2_cumulative")]["status"] == "PASS"
    assert protocol_rows[("OpticChiasm", "eqd2_cumulative")]["status"] == "FAIL"
    cord_row = protocol_rows[("SpinalCord", "dose_current")]
    assert cord_row["status"] == "PASS" and cord_row["value"] == pytest.approx(22.0, abs=0.01)


def test_check_text_and_residual(patient: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Both plans are dated the same day: --interval-months 12 keeps the spinal cord's re-irradiation
    # limit (>= 6 months between the courses, Nieder 2006) from failing.
    code = cli_main.main(["check", str(patient / "current"), "--prior", str(patient / "prior"), "--residual", "0",
                          "--interval-months", "12"])
    out = capsys.readouterr().out
    assert code == 0  # residual 0: the chiasm gets 44 Gy < 50 Gy
    assert "residual 0 of the prior course" in out
    chiasm_line = next(line for line in out.splitlines() if line.startswith("OpticChiasm"))
    assert "PASS" in chiasm_line and "44.00" in chiasm_line
    assert "Pituitary" in out and "Brianstem" in out


def test_check_without_prior_warns(patient: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    protocol = tmp_path / "p.yaml"
    protocol.write_text('constraints:\n  OpticChiasm:\n    quantity: eqd2_prior\n    constraints: "Dmax[Gy] < 54"\n', encoding="utf-8")
    code = cli_main.main(["check", str(patient / "current"), "--no-prior", "--protocol", str(protocol), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err  # 44 Gy in the chiasm < 50 Gy; 16.5 Gy in the brain stem
    data = json.loads(captured.out)
    assert any("no prior course" in w for w in data["warnings"])
    organs = {o["roi"]: o for o in data["organs"]}
    assert organs["OpticChiasm"]["dose_summary"]["max_gy"] == pytest.approx(44.0, abs=0.01)
    assert organs["Brain Stem"]["dose_summary"]["max_gy"] == pytest.approx(16.5, abs=0.01)
    (row,) = data["protocol"]
    assert row["status"] == "NOT_EVALUABLE" and "eqd2_prior was not computed" in row["reason"] and row["line"] == 4


def test_check_bad_protocol_names_the_line(patient: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    protocol = tmp_path / "bad.yaml"
    protocol.write_text('constraints:\n  BrainStem: "D0.03cc[Gy] < 54"\n  Lens_L: "Dmax < 8"\n', encoding="utf-8")
    assert cli_main.main(["check", str(patient), "--protocol", str(protocol)]) == 1
    err = capsys.readouterr().err
    assert "bad.yaml line 3" in err and "Dmax" in err


def test_protocol_rows_print_the_value_the_report_and_verdict_print(
    patient: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Oracle: the hand-computed cumulative EQD2 of the brain stem, 16.5 + 0.3 x 22.5 = 23.25 Gy (module docstring),
    against "Dmax[Gy] <= 23.2": it FAILs, so the printed value must read as failing (23.25, never 23.2 as ``.3g``
    printed it) and be the same text the verdict (results.json, report banner) gives."""
    protocol = tmp_path / "tight.yaml"
    protocol.write_text('constraints:\n  BrainStem: "Dmax[Gy] <= 23.2"\n', encoding="utf-8")
    args = ["check", str(patient), "--protocol", str(protocol), "--interval-months", "12"]
    assert cli_main.main(args) == 2
    out = capsys.readouterr().out
    (line,) = [x for x in out.splitlines() if x.strip().startswith("line 2: BrainStem")]
    assert "FAIL [23.25 Gy]" in line, line
    assert cli_main.main([*args, "--json"]) == 2
    data = json.loads(capsys.readouterr().out)
    (finding,) = [x for x in data["verdict"]["failures"] if x["detail"].startswith("protocol") and x["subject"] == "Brain Stem"]
    assert finding["value_text"] == "23.25"
