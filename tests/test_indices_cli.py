"""``dosimetry indices`` end to end on DICOM files written from the sphere phantom.

Files: the radial-falloff dose (1.5 mm grid, written with the product's RT Dose writer) and an RT
Structure Set (tests/dicom_factory) with a CTV sphere of 10.5 mm, a PTV of 11.5 mm and a spherical
External of 24 mm. Volumes within 2 % of the closed form (coarser grid than the evaluate tests).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dosimetry.cli import main as cli_main
from dosimetry.io.rtdose_writer import DicomIdentity, write_rt_dose
from tests.dicom_factory import Identity, RoiSpec, make_rt_struct
from tests.indices_phantoms import RadialFalloff, dose_grid, sphere_cc, sphere_roi

FALLOFF = RadialFalloff(dmax_gy=60.0, plateau_mm=6.0, zero_mm=30.0)


def _spec(roi, number: int) -> RoiSpec:
    return RoiSpec(
        number=number,
        name=roi.name,
        interpreted_type=roi.interpreted_type,
        contours=tuple(("CLOSED_PLANAR", c.points_mm) for c in roi.contours),
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    directory = tmp_path_factory.mktemp("indices_cli")
    identity = Identity()
    grid = dose_grid(FALLOFF, half_width_mm=27.0, spacing_mm=1.5)
    dose = type(grid)(
        grid=grid.grid, dose_gy=grid.dose_gy, dose_type=grid.dose_type, summation_type=grid.summation_type,
        frame_of_reference_uid=identity.frame_of_reference_uid,
    )
    rd = directory / "RD.dcm"
    write_rt_dose(
        dose, rd,
        identity=DicomIdentity(identity.patient_id, identity.patient_name, identity.study_instance_uid),
        referenced_plan_uid=None, series_description="phantom", sop_instance_uid="1.2.826.0.1.3680043.8.498.1",
        series_instance_uid="1.2.826.0.1.3680043.8.498.2",
    )
    rois = [
        sphere_roi("CTV", 10.5, interpreted_type="CTV"),
        sphere_roi("PTV", 11.5, interpreted_type="PTV"),
        sphere_roi("BODY", 24.0, interpreted_type="EXTERNAL", vertices=96),
    ]
    rs = make_rt_struct(directory, rois=[_spec(r, k) for k, r in enumerate(rois, start=1)])
    rs_no_body = make_rt_struct(directory, filename="RS_nobody.dcm", rois=[_spec(rois[0], 1)], seed="nobody")
    return rd, rs, rs_no_body


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli_main.main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_json_output(files, capsys) -> None:
    rd, rs, _ = files
    code, out, _ = _run(
        ["indices", "--dose", str(rd), "--structures", str(rs), "--target", "CTV", "--target", "PTV",
         "--prescription", "50", "--json"],
        capsys,
    )
    assert code == 0
    document = json.loads(out)
    assert document["body"] == "ROI 'BODY'"
    ctv, ptv = document["results"]
    assert ctv["target"] == "CTV" and ptv["target"] == "PTV"
    assert ctv["TV_cc"] == pytest.approx(sphere_cc(10.5), rel=0.02)
    assert ctv["PIV_cc"] == pytest.approx(sphere_cc(10.0), rel=0.02)
    assert ctv["TV_PIV_cc"] == pytest.approx(sphere_cc(10.0), rel=0.02)
    paddick = ctv["indices"]["paddick_ci"]
    assert paddick["value"] == pytest.approx((10.0 / 10.5) ** 3, rel=0.03)
    assert "Paddick" in paddick["reference"] and paddick["definition"]
    assert ctv["indices"]["gradient_index"]["value"] == pytest.approx(8.0, rel=0.03)
    assert set(ctv["indices"]) == {
        "rtog_ci", "paddick_ci", "vant_riet_cn", "lomax_scheib", "target_coverage", "gradient_index",
        "icru83_hi", "rtog_hi",
    }
    assert [c["metric"] for c in ctv["coverage"]] == ["V95%"] and ctv["coverage"][0]["status"] == "pass"
    assert [c["metric"] for c in ptv["coverage"]] == ["V90%"] and ptv["coverage"][0]["status"] == "pass"
    # The only warning is the loader's (the synthetic dose references no plan).
    assert [w for w in document["warnings"] if "ReferencedRTPlanSequence" not in w] == []


def test_text_output_and_isodose(files, capsys) -> None:
    rd, rs, _ = files
    code, out, _ = _run(
        ["indices", "--dose", str(rd), "--structures", str(rs), "--target", "CTV", "--prescription", "50",
         "--isodose", "90", "--gradient-ratio", "0.5", "--gradient-ratio", "0.8"],
        capsys,
    )
    assert code == 0
    assert "90 % of physical 50 Gy = 45 Gy" in out
    assert "paddick_ci" in out and "gradient_index_80" in out and "coverage V95%" in out


def test_bed_quantity(files, capsys) -> None:
    rd, rs, _ = files
    code, out, _ = _run(
        ["indices", "--dose", str(rd), "--structures", str(rs), "--target", "CTV", "--prescription", "50",
         "--quantity", "BED", "--alpha-beta", "9", "--fractions", "20", "--json"],
        capsys,
    )
    assert code == 0
    result = json.loads(out)["results"][0]
    assert result["reference"]["reference_gy"] == pytest.approx(50.0 * (1 + 2.5 / 9.0))
    assert result["reference"]["quantity"] == "BED"
    assert result["PIV_cc"] == pytest.approx(sphere_cc(10.0), rel=0.02)
    assert result["coverage"] == []


def test_precomputed_bed_map_gives_the_same_indices(files, capsys, tmp_path) -> None:
    # A BED map written as RT Dose (as 'dosimetry accumulate' does) read with --dose-is-quantity
    # gives the indices of the in-command conversion.
    from dosimetry.io import load_dose
    from dosimetry.quantities import DoseQuantity
    from dosimetry.radiobiology import lq_map

    rd, rs, _ = files
    bed = lq_map(load_dose(rd), quantity=DoseQuantity.BED, alpha_beta_gy=9.0, fractions=20).dose
    identity = Identity()
    bed_path = tmp_path / "RD_BED.dcm"
    write_rt_dose(
        bed, bed_path, identity=DicomIdentity(identity.patient_id, identity.patient_name, identity.study_instance_uid),
        referenced_plan_uid=None, series_description="BED9", sop_instance_uid="1.2.826.0.1.3680043.8.498.3",
        series_instance_uid="1.2.826.0.1.3680043.8.498.4",
    )
    common = ["--structures", str(rs), "--target", "CTV", "--prescription", "50", "--quantity", "BED",
              "--alpha-beta", "9", "--fractions", "20", "--json"]
    code, out, _ = _run(["indices", "--dose", str(bed_path), "--dose-is-quantity", *common], capsys)
    assert code == 0
    given = json.loads(out)
    code, out, _ = _run(["indices", "--dose", str(rd), *common], capsys)
    converted = json.loads(out)
    assert "as read" in given["dose"]["quantity_map"]
    a, b = given["results"][0], converted["results"][0]
    assert a["level_gy"] == pytest.approx(b["level_gy"])
    for key in ("TV_cc", "PIV_cc", "TV_PIV_cc"):
        assert a[key] == pytest.approx(b[key], rel=1e-6)
    code, _, err = _run(["indices", "--dose", str(bed_path), "--dose-is-quantity", "--structures", str(rs),
                         "--target", "CTV", "--prescription", "50"], capsys)
    assert code == 1 and "--dose-is-quantity needs --quantity BED or EQD2" in err


def test_no_external_warns(files, capsys) -> None:
    rd, _, rs_no_body = files
    code, out, _ = _run(
        ["indices", "--dose", str(rd), "--structures", str(rs_no_body), "--target", "CTV", "--prescription", "50",
         "--json"],
        capsys,
    )
    assert code == 0
    document = json.loads(out)
    assert "whole dose grid" in document["body"]
    assert any("no External" in w for w in document["warnings"])
    assert document["results"][0]["PIV_cc"] == pytest.approx(sphere_cc(10.0), rel=0.02)


def test_reference_above_maximum_gives_null_and_reason(files, capsys) -> None:
    rd, rs, _ = files
    code, out, _ = _run(
        ["indices", "--dose", str(rd), "--structures", str(rs), "--target", "CTV", "--prescription", "70",
         "--json", "--fail-on-coverage"],
        capsys,
    )
    assert code == 2  # coverage fails
    result = json.loads(out)["results"][0]
    assert result["indices"]["paddick_ci"]["value"] is None
    assert "PIV is 0" in result["indices"]["paddick_ci"]["undefined_reason"]
    assert result["indices"]["rtog_ci"]["value"] == 0.0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--target", "NOPE", "--prescription", "50"], "no ROI named 'NOPE'"),
        (["--target", "CTV", "--prescription", "50", "--quantity", "BED"], "--alpha-beta and --fractions"),
        (["--target", "CTV", "--prescription", "50", "--alpha-beta", "9"], "only meaningful"),
        (["--target", "CTV", "--prescription", "50", "--coverage-required-pct", "0"], "coverage-required-pct"),
        (["--target", "CTV", "--prescription", "-5"], "--prescription must be a dose > 0 Gy"),
        (["--target", "CTV", "--prescription", "50", "--gradient-ratio", "nan"], "--gradient-ratio must lie in (0, 1)"),
        (["--target", "CTV", "--prescription", "50", "--gradient-ratio", "0"], "--gradient-ratio must lie in (0, 1)"),
        (["--target", "CTV", "--prescription", "50", "--isodose", "0"], "--isodose must lie in (0, 200]"),
        (["--target", "CTV", "--prescription", "50", "--quantity", "BED", "--alpha-beta", "0", "--fractions", "22"],
         "--alpha-beta must be"),
        (["--target", "CTV", "--prescription", "50", "--quantity", "BED", "--alpha-beta", "9", "--fractions", "0"],
         "--fractions must be"),
    ],
)
def test_errors_are_one_line(files, capsys, extra: list[str], message: str) -> None:
    rd, rs, _ = files
    code, out, err = _run(["indices", "--dose", str(rd), "--structures", str(rs), *extra], capsys)
    assert code == 1
    assert err.startswith("dosimetry: error:") and message in err
    assert out == ""


def test_phantom_is_deterministic() -> None:
    a = dose_grid(FALLOFF, half_width_mm=27.0, spacing_mm=1.5)
    b = dose_grid(FALLOFF, half_width_mm=27.0, spacing_mm=1.5)
    assert np.array_equal(a.dose_gy, b.dose_gy)
