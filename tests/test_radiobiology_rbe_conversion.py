"""LEM-I <-> MKM conversion of carbon-ion RBE-weighted dose (dosimetry.radiobiology.rbe_conversion).

Oracles: the factors stated by Zhang et al. 2020 (Radiat Oncol 15:277): LEM/MKM = 1.37 at 3.00
Gy(RBE) per fraction, 1.46 at 2.70, 3.09 at 0.24; hand arithmetic of the log-log interpolation
between two points; the round trip LEM -> MKM -> LEM (the inverse is closed form per segment, the
forward a table look-up: two different computations); the rule that nothing is extrapolated.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pydicom
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dosimetry.cli import main as cli_main
from dosimetry.errors import ArgumentError, RadiobiologyError
from dosimetry.radiobiology.rbe_conversion import (
    RbeModel,
    RbeRelation,
    convert_rbe_weighted_dose,
    load_relation,
    recorded_rbe_model,
    resolve_source_model,
)
from tests import dicom_factory as f


def test_published_points() -> None:
    """At the paper's doses per fraction the factor is the paper's: D_MKM = D_LEM / factor."""
    n = 20
    lem = np.array([3.00, 2.70, 0.24]) * n
    out = convert_rbe_weighted_dose(lem, n, source_model=RbeModel.LEM_I, target_model=RbeModel.MKM)
    np.testing.assert_allclose(lem / out.dose_gy, [1.37, 1.46, 3.09], rtol=1e-12)
    relation = load_relation()
    assert relation.range_gy == (0.24, 3.00) and relation.short_source == "Zhang et al. 2020"


def test_log_log_interpolation_by_hand() -> None:
    """Between (1, 2) and (4, 1) the factor is a power law: f(2) = 2 x (2/1)^(log(1/2)/log 4) = sqrt(2)."""
    relation = RbeRelation((1.0, 4.0), (2.0, 1.0), "hand example")
    out = convert_rbe_weighted_dose(np.array([2.0]), 1, source_model="lem-i", target_model="mkm", relation=relation)
    assert out.dose_gy[0] == pytest.approx(2.0 / math.sqrt(2.0), rel=1e-12)


@settings(max_examples=80, deadline=None)
@given(d=st.floats(min_value=0.24, max_value=3.0), n=st.integers(min_value=1, max_value=40))
def test_round_trip(d: float, n: int) -> None:
    forward = convert_rbe_weighted_dose(np.array([d * n, 0.0]), n, source_model="lem-i", target_model="mkm")
    back = convert_rbe_weighted_dose(forward.dose_gy, n, source_model="mkm", target_model="lem-i")
    assert back.dose_gy[0] == pytest.approx(d * n, rel=1e-9) and back.dose_gy[1] == 0.0


def test_no_extrapolation_and_user_relation(tmp_path: Path) -> None:
    with pytest.raises(RadiobiologyError, match="not extrapolated"):
        convert_rbe_weighted_dose(np.array([3.5 * 10]), 10, source_model="lem-i", target_model="mkm")
    zeroed = convert_rbe_weighted_dose(np.array([3.5 * 10, 2.7 * 10]), 10, source_model="lem-i", target_model="mkm", outside="zero")
    assert zeroed.outside_voxels == 1 and zeroed.dose_gy[0] == 0.0 and "set to 0" in zeroed.warnings[0]
    user = tmp_path / "rel.json"
    user.write_text(json.dumps({"source": "my centre 2025", "from_model": "lem-i", "to_model": "mkm",
                                "points": [{"dose_per_fraction_gy": 1.0, "factor": 1.5}, {"dose_per_fraction_gy": 5.0, "factor": 1.2}]}))
    relation = load_relation(user)
    out = convert_rbe_weighted_dose(np.array([5.0 * 4]), 4, source_model="lem-i", target_model="mkm", relation=relation)
    assert out.dose_gy[0] == pytest.approx(20.0 / 1.2)
    with pytest.raises(ArgumentError, match="increase"):
        RbeRelation((1.0, 2.0), (1.0, 4.0), "d/f decreasing")


def test_model_recorded_or_required(tmp_path: Path) -> None:
    """The plan's model is read from its descriptions when recorded; else --from is required."""
    plain = f.make_rt_plan(tmp_path, filename="plain.dcm", ion=True, label="CIRT", seed="plain")
    lem = f.make_rt_plan(tmp_path, filename="lem.dcm", ion=True, label="CIRT LEM", seed="lem")
    assert recorded_rbe_model(plain)[0] is None
    model, where = recorded_rbe_model(lem)
    assert model is RbeModel.LEM_I and "RTPlanLabel" in where
    with pytest.raises(ArgumentError, match="--from"):
        resolve_source_model(None, "nothing recorded", None)
    with pytest.raises(RadiobiologyError, match="contradicts"):
        resolve_source_model(RbeModel.LEM_I, where, "mkm")


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A uniform 2.70 Gy(RBE) x 10 fx LEM dose becomes 27 / 1.46 Gy(RBE) MKM (the paper's CTV2 factor)."""
    uid = f.uid("rbe-plan")
    plan = f.make_rt_plan(tmp_path, filename="RI.dcm", ion=True, fractions=10, label="CIRT", sop_instance_uid=uid, seed="rbe")
    dose = f.make_rt_dose(tmp_path, shape_frc=(3, 4, 4), position_mm=(0.0, 0.0, 0.0), pixel_spacing_mm=(2.0, 2.0),
                          dose_frc_gy=np.full((3, 4, 4), 27.0), dose_type="EFFECTIVE", referenced_plan_uid=uid, seed="rbe-dose")
    out = tmp_path / "mkm.dcm"
    args = ["rbe-convert", "--dose", str(dose), "--plan", str(plan), "--to", "mkm", "--out", str(out), "--json"]
    assert cli_main.main(args) == 1
    assert "give --from" in capsys.readouterr().err
    assert cli_main.main([*args, "--from", "lem-i"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["max_gy"] == pytest.approx(27.0 / 1.46, rel=1e-9)
    ds = pydicom.dcmread(out)
    assert float((ds.pixel_array * float(ds.DoseGridScaling)).max()) == pytest.approx(27.0 / 1.46, rel=1e-4)
    assert "Zhang" in ds.ImageComments


def test_unknown_model_name_is_an_argument_error() -> None:
    """Oracle: the rule that a bad argument raises from dosimetry/errors.py naming the argument and
    the choices (it was a bare ValueError from the enum)."""
    with pytest.raises(ArgumentError, match="source_model must be one of lem-i, mkm, got 'lem'"):
        convert_rbe_weighted_dose(np.array([1.0]), 1, source_model="lem", target_model="mkm")  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match="target_model"):
        convert_rbe_weighted_dose(np.array([1.0]), 1, source_model="mkm", target_model="MKM-x")  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match="--from"):
        resolve_source_model(None, "nothing recorded", "lem")


def test_short_source_of_a_user_relation() -> None:
    """Oracle: the sources as written by hand. A centre's relation "my centre 2025" is named as
    written (it was "my et al. 2025"); a single Vancouver author has no "et al."."""
    points = ((1.0, 5.0), (1.5, 1.2))
    assert RbeRelation(*points, "my centre 2025").short_source == "my centre 2025"
    assert RbeRelation(*points, "Smith J. A relation. Phys Med Biol 2019;1:1").short_source == "Smith 2019"
    assert RbeRelation(*points, "Zhang L, Wang W. Title. Radiat Oncol 2020").short_source == "Zhang et al. 2020"
    assert RbeRelation(*points, "x" * 80).short_source == "x" * 57 + "..."


def test_mask_restricts_the_conversion() -> None:
    """Oracle: Zhang et al.'s CTV2 factor (1.46 at 2.70 Gy(RBE) per fraction) by hand. 10 fx: a
    27 Gy(RBE) voxel in the mask becomes 27 / 1.46; a 1 Gy(RBE) voxel (0.1 per fraction, below the
    relation's 0.24) outside the mask is not refused: it keeps 1 Gy(RBE) (keep) or becomes 0 (zero),
    and the warning names the count; 0 Gy stays 0 and is not counted."""
    dose = np.array([27.0, 1.0, 0.0])
    mask = np.array([True, False, False])
    with pytest.raises(RadiobiologyError, match="not extrapolated"):
        convert_rbe_weighted_dose(dose, 10, source_model="lem-i", target_model="mkm")
    kept = convert_rbe_weighted_dose(dose, 10, source_model="lem-i", target_model="mkm", mask=mask, mask_label="ROI X")
    np.testing.assert_allclose(kept.dose_gy, [27.0 / 1.46, 1.0, 0.0], rtol=1e-12)
    assert kept.masked_voxels == 1 and kept.mask_label == "ROI X"
    assert "1 voxel(s) with dose outside ROI X were not converted" in kept.warnings[0] and "mixes lem-i and mkm" in kept.warnings[0]
    zeroed = convert_rbe_weighted_dose(dose, 10, source_model="lem-i", target_model="mkm", mask=mask, outside_mask="zero")
    np.testing.assert_allclose(zeroed.dose_gy, [27.0 / 1.46, 0.0, 0.0], rtol=1e-12)
    assert "set to 0" in zeroed.warnings[0]
    # inside the mask the range is still checked, and the message says where
    with pytest.raises(RadiobiologyError, match="inside ROI Y: 1 voxel"):
        convert_rbe_weighted_dose(dose, 10, source_model="lem-i", target_model="mkm", mask=np.array([True, True, False]), mask_label="ROI Y")
    with pytest.raises(ArgumentError, match="boolean array of the dose's shape"):
        convert_rbe_weighted_dose(dose, 10, source_model="lem-i", target_model="mkm", mask=np.array([1, 0, 0]))


def test_cli_structure_and_min_dose_mask(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Oracle: hand geometry and the paper's 1.46 at 2.70 Gy(RBE)/fx. A 3 x 4 x 4 grid (2 mm voxels
    centred at x, y = 0, 2, 4, 6 mm; z = 0, 2.5, 5 mm) holds 27 Gy(RBE) (10 fx: 2.70/fx) where x, y
    <= 2 mm (12 voxels) and 1 Gy(RBE) (0.10/fx, outside the relation) elsewhere (36 voxels). The box
    ROI of half-side 1.5 mm centred at (1, 1) on every plane touches exactly the 12 voxels; either it
    or --min-dose-gy 2.4 (= 0.24 x 10) lets the conversion run: 27 -> 27 / 1.46, 1 kept (36 voxels
    named) or zeroed."""
    uid = f.uid("rbe-mask-plan")
    plan = f.make_rt_plan(tmp_path, filename="RI.dcm", ion=True, fractions=10, label="CIRT LEM", sop_instance_uid=uid, seed="rbe-mask")
    values = np.full((3, 4, 4), 1.0)
    values[:, :2, :2] = 27.0
    dose = f.make_rt_dose(tmp_path, shape_frc=(3, 4, 4), position_mm=(0.0, 0.0, 0.0), pixel_spacing_mm=(2.0, 2.0),
                          dose_frc_gy=values, dose_type="EFFECTIVE", referenced_plan_uid=uid, seed="rbe-mask-dose")
    rs = f.make_rt_struct(tmp_path, rois=[f.box_roi(1, "GTV_r", (1.0, 1.0), 1.5, (0.0, 2.5, 5.0), interpreted_type="GTV")], seed="rbe-mask-rs")
    out = tmp_path / "mkm.dcm"
    base = ["rbe-convert", "--dose", str(dose), "--plan", str(plan), "--to", "mkm", "--out", str(out), "--json"]
    assert cli_main.main(base) == 1
    assert "--min-dose-gy" in capsys.readouterr().err  # the refusal names the way out
    assert cli_main.main([*base, "--structure", "GTV_r", "--rtstruct", str(rs)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["mask"]["voxels_converted_region"] == 12 and summary["mask"]["voxels_outside_with_dose"] == 36
    assert summary["max_gy"] == pytest.approx(27.0 / 1.46, rel=1e-9)
    assert any("36 voxel(s) with dose outside ROI GTV_r" in w for w in summary["warnings"])
    ds = pydicom.dcmread(out)
    grid = ds.pixel_array * float(ds.DoseGridScaling)
    assert float(grid[0, 0, 0]) == pytest.approx(27.0 / 1.46, rel=1e-4) and float(grid[0, 3, 3]) == pytest.approx(1.0, rel=1e-4)
    assert "masked" in ds.SeriesDescription and "36 outside mask keep" in ds.DoseComment
    assert "converted only inside ROI GTV_r" in ds.ImageComments
    assert cli_main.main([*base, "--min-dose-gy", "2.4", "--outside-mask", "zero", "--overwrite"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["mask"]["voxels_converted_region"] == 12 and "0.24 Gy(RBE) per fraction" in summary["mask"]["label"]
    grid = (lambda d: d.pixel_array * float(d.DoseGridScaling))(pydicom.dcmread(out))
    assert float(grid[0, 3, 3]) == 0.0
    assert cli_main.main([*base, "--structure", "GTV_r", "--overwrite"]) == 1
    assert "--structure needs --rtstruct" in capsys.readouterr().err
    assert cli_main.main([*base, "--min-dose-gy", "-1", "--overwrite"]) == 1
    assert "--min-dose-gy must be a positive number" in capsys.readouterr().err


def test_same_model_honours_the_mask() -> None:
    """LEM-I to LEM-I converts nothing, but outside_mask="zero" still sets the voxels outside the
    mask to 0 (as the CLI's summary and DICOM comments then say). Oracle: the identity inside the
    mask and 0 outside, by hand."""
    dose = np.array([27.0, 1.0, 0.0])
    mask = np.array([True, False, False])
    zeroed = convert_rbe_weighted_dose(dose, 10, source_model="lem-i", target_model="lem-i", mask=mask, mask_label="ROI X", outside_mask="zero")
    np.testing.assert_array_equal(zeroed.dose_gy, [27.0, 0.0, 0.0])
    assert zeroed.masked_voxels == 1 and "set to 0" in zeroed.warnings[0]
    kept = convert_rbe_weighted_dose(dose, 10, source_model="lem-i", target_model="lem-i", mask=mask)
    np.testing.assert_array_equal(kept.dose_gy, dose)
    assert kept.masked_voxels == 1 and kept.warnings == ()


def test_cli_mask_selecting_no_voxel_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A --min-dose-gy above every voxel's dose would convert nothing and write the input dose
    labelled as the target model: refused, naming the argument and the dose's maximum. Oracle: the
    dose written (27 Gy(RBE) at most) against the threshold given (30 Gy(RBE)), by hand."""
    uid = f.uid("rbe-empty-plan")
    plan = f.make_rt_plan(tmp_path, filename="RI.dcm", ion=True, fractions=10, label="CIRT LEM", sop_instance_uid=uid, seed="rbe-empty")
    values = np.full((3, 4, 4), 27.0)
    dose = f.make_rt_dose(tmp_path, shape_frc=(3, 4, 4), position_mm=(0.0, 0.0, 0.0), pixel_spacing_mm=(2.0, 2.0),
                          dose_frc_gy=values, dose_type="EFFECTIVE", referenced_plan_uid=uid, seed="rbe-empty-dose")
    out = tmp_path / "mkm.dcm"
    args = ["rbe-convert", "--dose", str(dose), "--plan", str(plan), "--to", "mkm", "--out", str(out), "--min-dose-gy", "30"]
    assert cli_main.main(args) == 1
    err = capsys.readouterr().err
    assert "--min-dose-gy 30" in err and "no voxel" in err and "27 Gy(RBE)" in err
    assert not out.exists()
