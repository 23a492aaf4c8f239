"""``dosimetry trial`` sub-commands: JSON contents, exit codes and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dosimetry.cli import main as cli_main


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli_main.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _csv(tmp_path: Path, rows: str) -> Path:
    path = tmp_path / "pts.csv"
    path.write_text("patient_id,dose_level,followup_months,dlt\n" + rows, encoding="utf-8")
    return path


def test_next_dose_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _csv(tmp_path, "P1,2,7,0\nP2,2,6.5,0\nP3,2,5,0\nP4,2,4,0\nP5,3,2,0\n")
    code, out, _ = _run(["trial", "next-dose", "--patients", str(path), "--window-months", "6", "--json"], capsys)
    assert code == 0
    d = json.loads(out)
    assert d["window_months"] == 6.0
    assert d["target"] == 0.25
    assert d["skeleton"] == [0.05, 0.1, 0.2, 0.3, 0.4, 0.5]
    assert d["selection_rule"] == "closest-not-above-target"
    assert len(d["weights"]) == 5 and len(d["pdlt"]) == 6
    assert d["recommended_level"] == 3
    assert d["model_recommended_level"] >= 4
    assert {r["rule"] for r in d["rules_applied"] if r["bound"]} == {"no-skipping", "full-window-before-escalation"}
    assert isinstance(d["posterior_mean_beta"], float)


def test_next_dose_gauss_hermite_agrees_with_quad(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _csv(tmp_path, "P1,2,7,0\nP2,2,6.5,1\nP3,2,5,0\nP4,2,4,0\n")
    base = ["trial", "next-dose", "--patients", str(path), "--window-months", "4", "--json"]
    q = json.loads(_run(base, capsys)[1])
    g = json.loads(_run([*base, "--integration", "gauss-hermite"], capsys)[1])
    assert abs(q["posterior_mean_beta"] - g["posterior_mean_beta"]) < 1e-6
    assert q["window_months"] == 4.0


def test_next_dose_text_states_window(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _csv(tmp_path, "P1,2,1,0\n")
    code, out, _ = _run(["trial", "next-dose", "--patients", str(path), "--window-months", "4"], capsys)
    assert code == 0
    assert "observation window used: 4 months" in out
    assert "RECOMMENDED LEVEL FOR THE NEXT PATIENT: 2" in out


def test_next_dose_bad_csv_is_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _csv(tmp_path, "P1,2,7,0\nP2,9,1,0\n")
    code, out, err = _run(["trial", "next-dose", "--patients", str(path), "--window-months", "6"], capsys)
    assert code == 1 and out == ""
    assert err.startswith("dosimetry: error: ") and "line 3, column 'dose_level'" in err
    assert err.count("\n") == 1


def test_window_is_required(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _csv(tmp_path, "P1,2,7,0\n")
    with pytest.raises(SystemExit) as exc:
        cli_main.main(["trial", "next-dose", "--patients", str(path)])
    assert exc.value.code == 2
    assert "--window-months" in capsys.readouterr().err


def test_phase2_design_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(
        ["trial", "phase2-design", "--p0", "0.5", "--p1", "0.7", "--alpha", "0.05", "--power", "0.8", "--json"], capsys
    )
    d = json.loads(out)
    assert code == 0
    assert (d["n"], d["reject_if_at_least"]) == (37, 24)
    assert d["alpha"] == pytest.approx(0.0494359, abs=1e-7) and d["power"] == pytest.approx(0.8070957, abs=1e-7)


def test_phase2_check_strict_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["trial", "phase2-check", "--n", "37", "--reject-if-at-least", "23", "--p0", "0.5", "--p1", "0.7",
            "--alpha", "0.05", "--power", "0.8", "--json"]
    code, out, _ = _run([*argv, "--strict"], capsys)
    assert code == 2 and json.loads(out)["meets_alpha"] is False
    code, out, _ = _run(argv, capsys)
    assert code == 0


def test_simulate_json_is_deterministic(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["trial", "simulate", "--true-pdlt", "0.05", "0.1", "0.2", "0.3", "0.4", "0.5", "--patients", "8",
            "--accrual-per-month", "4", "--runs", "10", "--seed", "11", "--window-months", "6", "--json"]
    code, out1, _ = _run(argv, capsys)
    _, out2, _ = _run(argv, capsys)
    assert code == 0 and out1 == out2
    d = json.loads(out1)
    assert d["runs"] == 10 and d["window_months"] == 6.0 and len(d["selection_probability"]) == 6


def test_final_estimate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = "".join(f"A{i},2,6,{1 if i == 0 else 0}\n" for i in range(10)) + "".join(
        f"B{i},4,6,{1 if i < 3 else 0}\n" for i in range(8)
    )
    path = _csv(tmp_path, rows)
    code, out, _ = _run(["trial", "final-estimate", "--patients", str(path), "--window-months", "6", "--json"], capsys)
    assert code == 0
    d = json.loads(out)
    assert d["levels"][1]["pdlt"] == pytest.approx(0.1, abs=1e-9)
    assert d["levels"][3]["pdlt"] == pytest.approx(0.375, abs=1e-9)


def test_final_estimate_separation_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _csv(tmp_path, "P1,1,6,0\nP2,2,6,0\nP3,3,6,1\n")
    code, _, err = _run(["trial", "final-estimate", "--patients", str(path), "--window-months", "6"], capsys)
    assert code == 1 and "separation" in err


def test_max_level_defaults_to_six_or_fewer_levels(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _csv(tmp_path, "P1,2,7,0\n")
    base = ["trial", "next-dose", "--patients", str(path), "--window-months", "6", "--json"]
    assert json.loads(_run(base, capsys)[1])["max_level"] == 6
    five = json.loads(_run([*base, "--skeleton", "0.05", "0.1", "0.2", "0.3", "0.4"], capsys)[1])
    assert five["max_level"] == 5 and len(five["pdlt"]) == 5
    seven = json.loads(_run([*base, "--skeleton", "0.05", "0.1", "0.2", "0.3", "0.4", "0.5", "0.6"], capsys)[1])
    assert seven["max_level"] == 6
    code, _, err = _run([*base, "--max-level", "7"], capsys)
    assert code == 1 and "--max-level 7" in err
