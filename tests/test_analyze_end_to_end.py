"""``dosimetry analyze`` end to end: on the committed sample patient (outputs, schema, CSVs, RT Dose
maps, provenance, the report in headless Chromium) and on a small synthetic patient (exit codes)."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import re
import shutil
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pydicom
import pytest

from dosimetry.cli import main as cli_main
from dosimetry.io import load_dose
from dosimetry.radiobiology import bed_gy, eqd2_gy
from dosimetry.patient.schema import SCHEMA_VERSION, schema_errors, validate
from tests.report_patients import make_small_patient
from tests.browser import dump_dom, screenshot

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "patient01"


CONSOLE: dict[str, str] = {}


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    out = tmp_path_factory.mktemp("analyze") / "out"
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = cli_main.main(["analyze", str(SAMPLE), "--out", str(out)])
    CONSOLE["analyze"] = buffer.getvalue()
    return out, code


def test_console_names_the_verdict_the_two_violations_and_the_warnings(sample_run: tuple[Path, int]) -> None:
    """Oracle: the sample patient is generated to exceed the Emami TD5/5 (50 Gy) of the optic chiasm and
    the left optic nerve on the cumulative EQD2 (sample_data/README.md). Its PTV V90% is met: 100.00 %
    with the shape model (the default end caps); half-slab gave 99.98 % (not met), its flat caps
    reaching half a spacing past the PTV's rounded ends into the penumbra."""
    text = CONSOLE["analyze"]
    assert "verdict: VIOLATION: 2 constraint(s) failed" in text
    assert "FAIL OpticChiasm: Max[Gy]" in text and "FAIL OpticNrv_L: Max[Gy]" in text
    assert "limit <= 50 Gy, margin -" in text
    assert "NOT MET" not in text  # shape model: PTV V90% 100.00 % (half-slab: 99.98 %, not met)
    # to review: the prior grid not covering the current one, and the two organs whose checked maximum
    # moves by more than 1 Gy between end-cap conventions (issue 13)
    assert "warnings to review (3):" in text and "prior dose taken as 0 there" in text
    assert "ROI 'OpticChiasm': Max[Gy] on eqd2_cumulative moves by" in text
    assert text.count("dose grid does not cover ROI 'External' of RS_patient01.dcm: 673.9") == 0  # superseded, not repeated


@pytest.fixture(scope="module")
def results(sample_run: tuple[Path, int]) -> dict:
    return json.loads((sample_run[0] / "results.json").read_text(encoding="utf-8"))


def test_exit_zero_and_all_outputs(sample_run: tuple[Path, int], results: dict) -> None:
    out, code = sample_run
    assert code == 0  # the sample patient fails Emami checks, but --fail-on-violation was not given
    expected = {"report.html", "results.json", "dvh.csv", "metrics.csv", "BED2.dcm", "BED9.dcm", "EQD2_2.dcm",
                "EQD2_9.dcm", "EQD2_2_cumulative.dcm", "BED2_cumulative.dcm"}
    assert {p.name for p in out.iterdir()} == expected  # no temporary files left behind
    assert {o["path"] for o in results["outputs"]} == expected


def test_results_validate_against_schema(results: dict) -> None:
    validate(results)
    assert results["schema_version"] == SCHEMA_VERSION == "1.2"
    assert results["parameters"]["end_cap"] == "shape"  # the default DVH end-cap convention, recorded (1.2)
    # The validator can fail: a wrong type and a missing key are reported with their JSON path.
    broken = json.loads(json.dumps(results))
    broken["metrics"][0]["value"] = "12"
    del broken["patient"]
    errors = schema_errors(broken)
    assert "$.metrics[0].value: '12' is not of type 'number'" in errors
    assert "$: 'patient' is a required property" in errors


def test_dose_levels_match_protocol_table_1(results: dict) -> None:
    # Oracle: the published Table 1 (BED2 / BED9, GyE, one decimal).
    published = {21: (118.1, 67.1), 22: (123.8, 70.3), 23: (129.4, 73.5), 24: (135.0, 76.7), 25: (140.6, 79.9), 26: (146.3, 83.1)}
    rows = {r["fractions"]: r for r in results["dose_levels"]["rows"]}
    for n, (bed2, bed9) in published.items():
        assert rows[n]["bed2_gy"] == pytest.approx(bed2, abs=0.051)
        assert rows[n]["bed9_gy"] == pytest.approx(bed9, abs=0.051)
    assert results["dose_levels"]["patient_level"] == 2  # 2.5 GyE x 22


def test_quantities_and_metrics(results: dict) -> None:
    names = {q["name"]: q["rois"] for q in results["quantities"]}
    assert names == {"rbe_weighted": "all", "BED2": "targets_and_organs", "EQD2_2": "targets_and_organs",
                     "BED9": "targets_and_organs", "EQD2_9": "targets_and_organs", "EQD2_2_cumulative": "organs",
                     "BED2_cumulative": "organs"}
    metrics = {(m["roi"], m["quantity"], m["metric"]): m["value"] for m in results["metrics"]}
    assert ("PTV", "EQD2_2_cumulative", "Max[Gy]") not in metrics  # targets: current course only
    assert ("BrainStem", "EQD2_2_cumulative", "Max[Gy]") in metrics
    # Voxel LQ is monotone in dose, so the BED/EQD2 maximum of a target is the LQ value of its dose
    # maximum (hand formula BED = D (1 + D / (n a/b)); 22 fractions), within the DVH sampling spread.
    for target in ("GTV", "CTV", "PTV"):
        d_max = metrics[(target, "rbe_weighted", "Max[Gy]")]
        assert metrics[(target, "BED9", "Max[Gy]")] == pytest.approx(bed_gy(d_max, 22, 9.0), rel=5e-3)
        assert metrics[(target, "EQD2_2", "Max[Gy]")] == pytest.approx(eqd2_gy(d_max, 22, 2.0), rel=5e-3)
        assert metrics[(target, "rbe_weighted", "V95%[%]")] <= 100.0 + 1e-9
    # Cumulative >= current alone for an organ (the prior term is non-negative).
    assert metrics[("OpticChiasm", "EQD2_2_cumulative", "Mean[Gy]")] > metrics[("OpticChiasm", "EQD2_2", "Mean[Gy]")]


def test_indices_and_constraints(results: dict) -> None:
    by = {(i["target"], i["quantity"]): i for i in results["indices"]}
    assert {("CTV", "rbe_weighted"), ("PTV", "rbe_weighted"), ("GTV", "BED9")} <= set(by)
    rules = {(k, c["metric"]) for k, i in by.items() for c in i["coverage"]}
    assert rules == {(("CTV", "rbe_weighted"), "V95%"), (("PTV", "rbe_weighted"), "V90%")}
    assert by[("GTV", "BED9")]["reference"]["reference_gy"] == pytest.approx(bed_gy(55.0, 22, 9.0))
    rows = results["constraints"]["rows"]
    assert results["constraints"]["quantity"] == "eqd2_cumulative"
    failed = {r["roi"] for r in rows if r["status"] == "FAIL"}
    assert failed == {"OpticChiasm", "OpticNrv_L"} and results["constraints"]["any_fail"]
    # One number per metric: the Emami D_max is the DVH engine's Max[Gy] of the same ROI and map.
    metrics = {(m["roi"], m["quantity"], m["metric"]): m["value"] for m in results["metrics"]}
    emami = [r for r in rows if r["source"] == "emami" and r["value"] is not None]
    assert emami and all(r["value"] == metrics[(r["roi"], "EQD2_2_cumulative", "Max[Gy]")] for r in emami)


def test_csv_files(sample_run: tuple[Path, int], results: dict) -> None:
    out, _ = sample_run
    with open(out / "dvh.csv", newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == ["roi", "quantity", "dose_gy", "volume_cc", "volume_pct"]
        curves: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
        for row in reader:
            curves.setdefault((row["roi"], row["quantity"]), []).append(
                (float(row["dose_gy"]), float(row["volume_cc"]), float(row["volume_pct"]))
            )
    assert len(curves) == len({(m["roi"], m["quantity"]) for m in results["metrics"]})
    for key, points in curves.items():
        dose, volume, pct = (np.array(c) for c in zip(*points, strict=True))
        assert dose[0] == 0.0 and pct[0] == pytest.approx(100.0), key
        assert np.all(np.diff(dose) > 0) and np.all(np.diff(volume) <= 1e-9), key
        assert volume[-1] == 0.0, key
    with open(out / "metrics.csv", newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == ["roi", "quantity", "metric", "value", "unit", "warnings"]
        rows = [(r["roi"], r["quantity"], r["metric"], float(r["value"]), r["unit"]) for r in reader]
    assert rows == [(m["roi"], m["quantity"], m["metric"], m["value"], m["unit"]) for m in results["metrics"]]


def test_dvh_csv_and_metrics_match_the_dvh_engine(sample_run: tuple[Path, int], results: dict) -> None:
    # The planned-dose rows of dvh.csv and metrics.csv are the library's own numbers (compute_dvh on
    # the same RD/RS files, as `dosimetry dvh` gives them), within the CSV's 6 significant digits.
    from dosimetry.dvh import compute_dvh, evaluate_metric
    from dosimetry.io import load_structure_set

    dose = load_dose(SAMPLE / "current" / "RD_patient01.dcm")
    structures = load_structure_set(SAMPLE / "current" / "RS_patient01.dcm")
    dvhs = {name: compute_dvh(dose, structures.roi(name)) for name in ("PTV", "BrainStem", "Parotid_L")}
    with open(sample_run[0] / "dvh.csv", newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["quantity"] == "rbe_weighted" and r["roi"] in dvhs]
    assert {r["roi"] for r in rows} == set(dvhs)
    for r in rows:
        dvh = dvhs[r["roi"]]
        expected = dvh.volume_at_dose_cc(float(r["dose_gy"]))
        assert float(r["volume_cc"]) == pytest.approx(expected, rel=1e-5, abs=1e-5 * dvh.volume_cc), r
        assert float(r["volume_pct"]) == pytest.approx(100 * expected / dvh.volume_in_dose_grid_cc, rel=1e-5, abs=1e-4), r
    for m in results["metrics"]:
        if m["quantity"] == "rbe_weighted" and m["roi"] in dvhs:
            assert m["value"] == evaluate_metric(dvhs[m["roi"]], m["metric"], prescription_gy=55.0), m


def test_exported_rt_doses(sample_run: tuple[Path, int], results: dict) -> None:
    out, _ = sample_run
    current = load_dose(SAMPLE / "current" / "RD_patient01.dcm")
    d = current.dose_gy
    # Hand formulas, voxel by voxel, 22 fractions (d = D / 22).
    expected = {"BED9": d * (1 + d / (22 * 9.0)), "EQD2_2": d * (d / 22 + 2.0) / 4.0, "BED2": d * (1 + d / 44.0)}
    uids = {o["path"]: o["sop_instance_uid"] for o in results["outputs"]}
    for name in ("BED2", "BED9", "EQD2_2", "EQD2_9", "EQD2_2_cumulative", "BED2_cumulative"):
        ds = pydicom.dcmread(out / f"{name}.dcm")
        assert ds.Modality == "RTDOSE" and ds.DoseType == "EFFECTIVE"
        assert ds.SOPInstanceUID == uids[f"{name}.dcm"]
        assert ds.PatientID == "patient01"
        grid = load_dose(out / f"{name}.dcm")
        assert grid.grid.same_as(current.grid)
        if name in expected:
            np.testing.assert_allclose(grid.dose_gy, expected[name], atol=1e-3 * float(expected[name].max()))
    cumulative = load_dose(out / "EQD2_2_cumulative.dcm").dose_gy
    eqd2 = load_dose(out / "EQD2_2.dcm").dose_gy
    assert np.all(cumulative >= eqd2 - 1e-3 * eqd2.max()) and float((cumulative - eqd2).max()) > 1.0


def test_provenance_hashes_and_uids(results: dict) -> None:
    files = sorted(p for p in SAMPLE.rglob("*") if p.is_file())
    records = {r["path"]: r for r in results["inputs"]}
    assert len(records) == len(files)
    for path in files:
        record = records[path.relative_to(SAMPLE).as_posix()]
        assert record["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert record["sop_instance_uid"] == pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID
        assert record["course"] == path.parent.name


def test_report_renders_in_headless_chromium(sample_run: tuple[Path, int], results: dict, tmp_path: Path) -> None:
    out, _ = sample_run
    page = out / "report.html"
    text = page.read_text(encoding="utf-8")
    assert "http://" not in text and "https://" not in text  # self-contained
    for needle in ("Protocol Table 1", "Organ-at-risk constraints", "V95%", "V90%", "Provenance",
                   results["inputs"][0]["sha256"], results["software"]["version"]):
        assert needle in text, needle
    assert '<tr class="highlight">' in text and '<tr class="fail">' in text
    dom = dump_dom(page, tmp_path / "profile1")
    # The verdict banner comes first (before warnings and every section) and names both violations.
    banner = dom.split('id="verdict"')[1].split("</section>")[0]
    assert dom.index('id="verdict"') < dom.index('id="warnings"') < dom.index('id="plan"')
    assert 'data-verdict="violation"' in dom and "VIOLATION: 2 constraint(s) failed" in banner
    assert "<td>OpticChiasm</td>" in banner and "<td>OpticNrv_L</td>" in banner
    assert "<td>PTV</td>" not in banner  # shape model: PTV V90% met (half-slab: 99.98 %, not met)
    assert "current course + 0.3 x prior course" in banner
    # Plan data a physicist signs on, the sign-off block, and the provenance folded (complete, in a details element).
    for needle in ("Plan data", "planning system", "RBE model", "not recorded", "carbon-ion (12C)", "Beams", "L-LAT",
                   "ROI volumes", "dose grid", "Reviewer sign-off", "Signature"):
        assert needle in text, needle
    provenance = text.split('id="provenance"')[1]
    assert "<details>" in provenance and results["inputs"][-1]["sha256"] in provenance.split("<details>")[1]
    # Every figure decodes in the browser and spans the content width; the failing organs (optic chiasm, left optic
    # nerve) and the prior/current overlap each get an axial slice.
    figure_ids = re.findall(r'data-figure="([^"]+)"', dom)
    for figure_id in ("dvh-dose", "dvh-eqd2-cumulative", "overlay-axial", "overlay-sagittal", "overlay-coronal",
                      "overlay-hot-OpticChiasm", "overlay-hot-OpticNrv_L", "overlay-overlap"):
        assert figure_id in figure_ids, figure_id
    for figure_id in figure_ids:
        tag = dom.split(f'data-figure="{figure_id}"')[1].split(">")[0]
        assert 'data-loaded="true"' in tag, f"{figure_id} was not decoded by the browser"
        widths = {k: int(v) for k, v in re.findall(r'data-(natural|rendered|content)-width="(\d+)"', tag)}
        assert widths["natural"] >= 1000 and widths["rendered"] >= 0.9 * widths["content"], (figure_id, widths)
    assert "CT window W 1000 / L 100 HU" in text
    shot = tmp_path / "shot.png"
    screenshot(page, shot, tmp_path / "profile2")
    pixels = mpimg.imread(shot)
    non_white = np.mean(np.any(pixels[..., :3] < 0.9, axis=-1))
    assert non_white > 0.05, f"screenshot nearly blank ({non_white:.3f} non-white)"


# --- synthetic patient: exit codes -------------------------------------------------------------

@pytest.fixture(scope="module")
def small_patient(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Low doses everywhere (no Emami limit reached), no CT (overlays left out with a warning)."""
    return make_small_patient(tmp_path_factory.mktemp("small"))


def test_fail_on_violation_exit_codes(small_patient: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Both synthetic plans are dated the same day: without --interval-months the spinal cord's
    # re-irradiation limit (Nieder 2006: >= 6 months between the courses) would FAIL.
    code = cli_main.main(["analyze", str(small_patient), "--out", str(tmp_path / "ok"), "--fail-on-violation", "--interval-months", "12"])
    assert code == 0, capsys.readouterr().err
    data = json.loads((tmp_path / "ok" / "results.json").read_text(encoding="utf-8"))
    validate(data)
    assert not data["constraints"]["any_fail"]
    assert any(w.startswith("no isodose overlays") for w in data["warnings"])
    # Hand-computed cumulative EQD2 (a/b 2) of the brain stem (outside the high-dose box):
    # current 5 GyE in 22 fx -> 5 (5/22 + 2) / 4; prior 10 Gy in 30 fx -> 10 (10/30 + 2) / 4; 0.3 x prior.
    expected = 5 * (5 / 22 + 2) / 4 + 0.3 * 10 * (10 / 30 + 2) / 4
    metrics = {(m["roi"], m["quantity"], m["metric"]): m["value"] for m in data["metrics"]}
    assert metrics[("Brain Stem", "EQD2_2_cumulative", "Mean[Gy]")] == pytest.approx(expected, rel=1e-6)

    protocol = tmp_path / "tiny.toml"
    protocol.write_text('[constraints]\nBrainStem = "Dmax[Gy] < 0.5"\n', encoding="utf-8")
    code = cli_main.main(["analyze", str(small_patient), "--out", str(tmp_path / "bad"), "--protocol", str(protocol),
                          "--fail-on-violation", "--interval-months", "12"])
    assert code == 2
    data = json.loads((tmp_path / "bad" / "results.json").read_text(encoding="utf-8"))
    failing = [r for r in data["constraints"]["rows"] if r["status"] == "FAIL"]
    assert [(r["source"], r["roi"], r["limit"]) for r in failing] == [("protocol", "Brain Stem", 0.5)]
    # Without the flag the same violation still exits 0 (the report says FAIL).
    assert cli_main.main(["analyze", str(small_patient), "--out", str(tmp_path / "bad2"), "--protocol", str(protocol),
                          "--interval-months", "12"]) == 0


def test_missing_folder_is_one_line_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli_main.main(["analyze", str(tmp_path / "absent"), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("dosimetry: error:") and "is not a folder" in err
    assert not (tmp_path / "out").exists()


def test_truncated_dose_is_one_line_exit_1(small_patient: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    patient = tmp_path / "patient"
    shutil.copytree(small_patient, patient)
    dose = patient / "current" / "RD.dcm"
    dose.write_bytes(dose.read_bytes()[: dose.stat().st_size // 2])
    code = cli_main.main(["analyze", str(patient), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("dosimetry: error:")
    assert not (tmp_path / "out" / "results.json").exists()


def test_output_inside_a_course_folder_is_refused(small_patient: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = small_patient / "current" / "out"
    code = cli_main.main(["analyze", str(small_patient), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1 and "lies inside the current course folder" in err and err.count("\n") == 1
    assert not out.exists()


def test_residual_without_a_prior_course_is_refused(small_patient: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A single course (no prior/): --residual would change nothing yet be recorded as a parameter.
    code = cli_main.main(["analyze", str(small_patient / "current"), "--out", str(tmp_path / "out"), "--no-prior",
                          "--residual", "0.5"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1
    assert err.startswith("dosimetry: error: --registration, --assume-same-position, --recovery, --interval-months and --residual need a prior course")
    assert not (tmp_path / "out").exists()


def test_prior_that_is_the_current_course_is_refused(small_patient: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The current dose would be summed with itself as the "prior" course: a plausible, wrong cumulative dose.
    for patient_dir in (small_patient, small_patient / "current"):
        code = cli_main.main(["analyze", str(patient_dir), "--prior", str(small_patient / "current"), "--out", str(tmp_path / "out")])
        err = capsys.readouterr().err
        assert code == 1 and err.count("\n") == 1 and "is the current course folder" in err
    assert not (tmp_path / "out").exists()


def test_check_and_analyze_give_the_same_constraint_values(
    small_patient: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    protocol = tmp_path / "p.yaml"
    protocol.write_text(
        'constraints:\n  BrainStem: ["D0.03cc[Gy] < 54", "Dmean[Gy] < 30", "V5Gy[%] < 100"]\n'
        '  SpinalCord:\n    quantity: dose_current\n    constraints: ["Dmax[Gy] < 45", "D50%[cGy] < 4500"]\n',
        encoding="utf-8",
    )
    # --interval-months 12: the synthetic plans share a date (see test_fail_on_violation_exit_codes).
    assert cli_main.main(["check", str(small_patient), "--protocol", str(protocol), "--json", "--interval-months", "12"]) == 0
    checked = json.loads(capsys.readouterr().out)
    assert cli_main.main(["analyze", str(small_patient), "--out", str(tmp_path / "out"), "--protocol", str(protocol)]) == 0
    rows = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))["constraints"]["rows"]
    analysed = {(r["roi"], r["endpoint"]): r for r in rows if r["source"] == "protocol"}
    assert len(analysed) == len(checked["protocol"]) == 5
    for p in checked["protocol"]:
        row = analysed[(p["roi"], f"line {p['line']}: {p['constraint']}")]
        assert (row["status"], row["unit"]) == (p["status"], p["unit"])
        assert round(row["value"], 4) == p["value"]
    emami = {(r["roi"], r["endpoint"]): r for r in rows if r["source"] == "emami"}
    for organ in checked["organs"]:
        for e in organ["endpoints"]:
            row = emami[(organ["roi"], e["endpoint"])]
            assert row["status"] == e["status"] and round(row["value"], 4) == e["max_dose_gy"]


def test_protocol_on_the_prior_course_without_one_is_not_evaluable(small_patient: Path, tmp_path: Path) -> None:
    protocol = tmp_path / "prior.yaml"
    protocol.write_text('constraints:\n  BrainStem:\n    quantity: eqd2_prior\n    constraints: "Dmax[Gy] < 54"\n', encoding="utf-8")
    code = cli_main.main(["analyze", str(small_patient / "current"), "--out", str(tmp_path / "out"), "--no-prior",
                          "--protocol", str(protocol)])
    assert code == 0
    rows = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))["constraints"]["rows"]
    (row,) = [r for r in rows if r["source"] == "protocol"]
    assert row["status"] == "NOT_EVALUABLE" and "eqd2_prior was not computed" in row["reason"]


def test_an_input_that_cannot_be_hashed_is_an_input_file_error(tmp_path: Path) -> None:
    # Provenance hashes use the batch's file_sha256: a file that cannot be read is a project error
    # naming it (one line from the CLI), not a bare OSError (an "internal error").
    from dosimetry.errors import InputFileError
    from dosimetry.patient.provenance import input_record

    folder = tmp_path / "not-a-file"
    folder.mkdir()
    with pytest.raises(InputFileError, match="not-a-file"):
        input_record(folder, "current", tmp_path)


def test_a_missing_prior_course_is_an_error_unless_no_prior(small_patient: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Oracle: the issue's rule (a re-irradiation check without the prior course stops, unless --no-prior says the
    current course alone is meant); the page is read back as text for every mention of a summation."""
    for command in (["analyze", str(small_patient / "current"), "--out", str(tmp_path / "refused")],
                    ["check", str(small_patient / "current")]):
        code = cli_main.main(command)
        err = capsys.readouterr().err
        assert code == 1 and err.count("\n") == 1, err
        assert "no prior course" in err and "--no-prior" in err and "--prior DIR" in err
    assert not (tmp_path / "refused").exists()

    out = tmp_path / "alone"
    assert cli_main.main(["analyze", str(small_patient / "current"), "--out", str(out), "--no-prior"]) == 0
    console = capsys.readouterr().out
    assert "dose summed: current course only, no prior dose summed" in console
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert data["verdict"]["scope"] == "current course only, no prior dose summed" and data["alignment"] is None
    page = (out / "report.html").read_text(encoding="utf-8")
    visible = re.sub(r'(src|alt|id|data-figure)="[^"]*"', "", page.split('id="provenance"')[0])
    assert "Dose evaluated: current course only, no prior dose summed" in visible
    for summation in ("x prior", "current +", "r x prior", "Cumulative maps"):
        assert summation not in visible, summation
    # The current course is RBE-weighted (EFFECTIVE): doses read Gy(RBE), never "physical 22 Gy".
    assert "RBE-weighted 22 Gy(RBE)" in page and "physical 22 Gy" not in page

    # --no-prior with a prior/ sub-folder evaluates the current course alone; --prior with --no-prior is refused.
    assert cli_main.main(["analyze", str(small_patient), "--out", str(tmp_path / "alone2"), "--no-prior"]) == 0
    data2 = json.loads((tmp_path / "alone2" / "results.json").read_text(encoding="utf-8"))
    assert [c["label"] for c in data2["courses"]] == ["current"]
    with pytest.raises(SystemExit):
        cli_main.main(["check", str(small_patient), "--no-prior", "--prior", str(small_patient / "prior")])
