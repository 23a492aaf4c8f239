"""``dosimetry dvh`` on RT Dose + RT Structure Set files written from an analytic phantom."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest

from benchmarks.phantoms import write_case
from dosimetry.cli.main import main
from dosimetry.dvh.phantoms import Shape, make_phantom
from dosimetry.structures import Roi
from tests.dvh_helpers import polygon_contour, rectangle


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, float]:
    phantom = make_phantom(Shape.SPHERE, 2.0)
    dose = phantom.dose_grid(2.0, shift_fraction=0.5)
    small = Roi(2, "Small", "ORGAN", tuple(polygon_contour(rectangle(-3.0, 3.0, -3.0, 3.0), z) for z in (-1.0, 1.0)))
    rd, rs = write_case(dose, [phantom.roi(), small], tmp_path_factory.mktemp("dvhcli"), seed="cli")
    return rd, rs, phantom.volume_cc()


def test_json_default_metrics(case: tuple[Path, Path, float], capsys: pytest.CaptureFixture[str]) -> None:
    """Oracle: the phantom's closed-form slab DVH (dosimetry.dvh.phantoms: half-slab end caps, so
    that convention is named) and the box's area x thickness by hand."""
    rd, rs, volume = case
    assert main(["dvh", "--dose", str(rd), "--structures", str(rs), "--json", "-", "--end-cap", "half-slab"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["dose"]["dose_type"] == "PHYSICAL"
    assert out["dose"]["units"] == "Gy"
    sphere, small = out["structures"]
    assert sphere["name"] == "sphere" and sphere["number"] == 1
    assert sphere["volume_cc"] == pytest.approx(volume, rel=1e-4)  # DS-rounded contour points
    assert sphere["volume_outside_dose_grid_cc"] == 0.0
    assert list(sphere["metrics"]) == [
        "Min[Gy]", "Max[Gy]", "Mean[Gy]", "D99%[Gy]", "D98%[Gy]", "D95%[Gy]", "D50%[Gy]",
        "D5%[Gy]", "D2%[Gy]", "D1%[Gy]", "D0.03cc[Gy]",
    ]
    assert sphere["metrics"]["Mean[Gy]"] == pytest.approx(40.0, abs=1e-3)
    assert sphere["metrics"]["D50%[Gy]"] == pytest.approx(40.0, abs=0.02)
    assert small["volume_cc"] == pytest.approx(6 * 6 * 4 / 1000)


def test_metric_errors_are_reported_per_roi(case: tuple[Path, Path, float], capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Oracle: the phantom's closed-form slab DVH (half-slab end caps, named) for V95%."""
    rd, rs, _ = case
    json_path = tmp_path / "out.json"
    csv_path = tmp_path / "out.csv"
    code = main([
        "dvh", "--dose", str(rd), "--structures", str(rs), "--metric", "D2cc[Gy]",
        "--metric", "V40Gy[%]", "--json", str(json_path), "--csv", str(csv_path),
    ])
    assert code == 0
    result = json.loads(json_path.read_text())
    sphere, small = result["structures"]
    assert sphere["metrics"]["D2cc[Gy]"] > 40.0
    assert small["metrics"]["D2cc[Gy]"] is None
    assert "D2cc" in small["metric_errors"]["D2cc[Gy]"]
    assert sphere["metrics"]["V40Gy[%]"] == pytest.approx(50.0, abs=0.1)
    rows = list(csv.DictReader(csv_path.open()))
    assert rows[0]["name"] == "sphere" and rows[1]["D2cc[Gy]"] == ""
    printed = capsys.readouterr().out
    assert "sphere" in printed and "n/a" in printed
    # a relative metric without a prescription is an argument error before any work, not a null per ROI
    assert main(["dvh", "--dose", str(rd), "--structures", str(rs), "--metric", "V95%[%]"]) == 1
    assert "relative to the prescription: give --prescription GY" in capsys.readouterr().err
    assert main(["dvh", "--dose", str(rd), "--structures", str(rs), "--metric", "V95%[%]", "--prescription", "0"]) == 1
    assert "--prescription must be a dose > 0 Gy" in capsys.readouterr().err
    # with a prescription the relative metric is evaluated
    assert main([
        "dvh", "--dose", str(rd), "--structures", str(rs), "--roi", "sphere", "--metric", "V95%[%]", "--prescription", "40",
        "--json", "-", "--end-cap", "half-slab",
    ]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["structures"]) == 1
    phantom = make_phantom(Shape.SPHERE, 2.0)
    expected = 100 * phantom.volume_at_or_above_cc(38.0) / phantom.volume_cc()
    assert out["structures"][0]["metrics"]["V95%[%]"] == pytest.approx(expected, abs=0.2)


def test_bad_metric_and_unknown_roi_abort(case: tuple[Path, Path, float], capsys: pytest.CaptureFixture[str]) -> None:
    rd, rs, _ = case
    assert main(["dvh", "--dose", str(rd), "--structures", str(rs), "--metric", "D95"]) == 1
    err = capsys.readouterr().err
    assert "'D95'" in err and "TG-263" in err
    assert main(["dvh", "--dose", str(rd), "--structures", str(rs), "--roi", "Nope"]) == 1
    assert "Nope" in capsys.readouterr().err


def test_default_end_cap_is_shape_and_nearer_the_true_sphere(case: tuple[Path, Path, float], capsys: pytest.CaptureFixture[str]) -> None:
    """Oracle: the true sphere's volume 4/3 pi r^3 (r = 12 mm, the phantom's solid, not its
    contours). Without --end-cap the command uses the shape model (README: the default convention)
    and comes within 0.5 % of it; the half-slab midpoint rule is further off on the same contours."""
    rd, rs, _ = case
    true_cc = 4.0 / 3.0 * math.pi * 12.0**3 / 1000.0
    assert main(["dvh", "--dose", str(rd), "--structures", str(rs), "--roi", "sphere", "--json", "-"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["end_cap"] == "shape"
    shape_cc = out["structures"][0]["volume_cc"]
    assert shape_cc == pytest.approx(true_cc, rel=5e-3)
    assert main(["dvh", "--dose", str(rd), "--structures", str(rs), "--roi", "sphere", "--json", "-", "--end-cap", "half-slab"]) == 0
    half_slab_cc = json.loads(capsys.readouterr().out)["structures"][0]["volume_cc"]
    assert abs(shape_cc - true_cc) < abs(half_slab_cc - true_cc)


def test_truncated_end_caps_change_the_volume(case: tuple[Path, Path, float], capsys: pytest.CaptureFixture[str]) -> None:
    rd, rs, _ = case
    assert main(["dvh", "--dose", str(rd), "--structures", str(rs), "--roi", "Small", "--end-cap", "truncated", "--json", "-"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["end_cap"] == "truncated"
    assert out["structures"][0]["volume_cc"] == pytest.approx(6 * 6 * 2 / 1000)


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("--bin-width", "1000", "bin width must be a number of Gy in (0, 1]"),
        ("--bin-width", "0", "bin width must be a number of Gy in (0, 1]"),
        ("--bin-width", "nan", "bin width must be a number of Gy in (0, 1]"),
        ("--supersample", "99", "supersample must be a whole number of fine pixels per axis from 1 to 8"),
        ("--supersample", "0", "supersample must be a whole number of fine pixels per axis from 1 to 8"),
    ],
)
def test_bin_width_and_supersample_out_of_range_are_one_line_errors(
    case: tuple[Path, Path, float], capsys: pytest.CaptureFixture[str], option: str, value: str, expected: str
) -> None:
    """A 1000 Gy bin used to give a plausible wrong D95 (interpolated across one bin); a
    supersample of 99 ran out of memory on a clinical External."""
    rd, rs, _ = case
    assert main(["dvh", "--dose", str(rd), "--structures", str(rs), "--metric", "D95%[Gy]", option, value]) == 1
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1


def test_widest_bin_and_largest_supersample_are_accepted(case: tuple[Path, Path, float], capsys: pytest.CaptureFixture[str]) -> None:
    """Oracle: the phantom's closed-form slab volume (half-slab end caps, named)."""
    rd, rs, volume_cc = case
    for option, value in (("--bin-width", "1"), ("--supersample", "8")):
        assert main([
            "dvh", "--dose", str(rd), "--structures", str(rs), "--roi", "sphere", "--json", "-", option, value,
            "--end-cap", "half-slab",
        ]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["structures"][0]["volume_cc"] == pytest.approx(volume_cc, rel=1e-3)
