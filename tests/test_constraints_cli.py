"""``dosimetry constraints --list emami|burman [--json]``."""

from __future__ import annotations

import json

import pytest

from dosimetry.cli import main as cli_main


def test_list_emami_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main.main(["constraints", "--list", "emami", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["units"] == "Gy at 1.8-2 Gy per fraction"
    cord = next(e for e in data["entries"] if e["organ"] == "spinal_cord")
    assert cord["axis"] == "length_cm" and cord["td5_5_gy"] == [50.0, 50.0, 47.0] and cord["td50_5_gy"] == [70.0, 70.0, None]


def test_list_burman_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main.main(["constraints", "--list", "burman", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    lens = next(e for e in data["entries"] if e["organ"] == "lens")
    assert (lens["n"], lens["m"], lens["td50_gy"]) == (0.3, 0.27, 18.0)


def test_list_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main.main(["constraints", "--list", "emami"]) == 0
    out = capsys.readouterr().out
    assert "Brain stem" in out and "60 53 50" in out and "- - 65" in out
    assert cli_main.main(["constraints", "--list", "burman"]) == 0
    assert "66.5" in capsys.readouterr().out


def test_list_requires_a_table() -> None:
    with pytest.raises(SystemExit):
        cli_main.main(["constraints", "--list", "quantec"])
