"""One TG-263 metric, one number: ``dosimetry check`` (protocol constraints), ``dosimetry dvh`` and
:func:`dosimetry.dvh.evaluate_metric` agree on the committed sample patient (current RD + RS).

The check runs on the current course alone (``PATIENT_DIR = .../current``) with the constraints on
``dose_current`` (the RT Dose as planned), so all three read the same dose map; the check's JSON
rounds values to 4 decimals, so the oracle is rounded the same way.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dosimetry.cli import main as cli_main
from dosimetry.constraints.metrics import parse_constraint
from dosimetry.dvh import compute_dvh, evaluate_metric
from dosimetry.io import load_dose, load_structure_set

CURRENT = Path(__file__).resolve().parents[1] / "sample_data" / "patient01" / "current"
ROIS = ("BrainStem", "OpticChiasm", "Parotid_L", "Lens_L", "CTV")
#: (as a constraint writes it, as the DVH engine writes it)
METRICS = (
    ("D0.03cc[Gy]", "D0.03cc[Gy]"),
    ("Dmax[Gy]", "Max[Gy]"),
    ("Dmin[Gy]", "Min[Gy]"),
    ("Dmean[Gy]", "Mean[Gy]"),
    ("Median[Gy]", "Median[Gy]"),
    ("D95%[Gy]", "D95%[Gy]"),
    ("D2%[cGy]", "D2%[cGy]"),
    ("D0.1cc[Gy]", "D0.1cc[Gy]"),
    ("DC0.1cc[Gy]", "DC0.1cc[Gy]"),
    ("V5Gy[cc]", "V5Gy[cc]"),
    ("V1000cGy[%]", "V1000cGy[%]"),
    ("CV5Gy[cc]", "CV5Gy[cc]"),
)


@pytest.fixture(scope="module")
def oracle() -> dict[tuple[str, str], float]:
    dose = load_dose(CURRENT / "RD_patient01.dcm")
    structures = load_structure_set(CURRENT / "RS_patient01.dcm")
    values = {}
    for name in ROIS:
        dvh = compute_dvh(dose, structures.roi(name))
        for _, metric in METRICS:
            values[(name, metric)] = evaluate_metric(dvh, metric)
    return values


def test_check_protocol_values_equal_the_dvh_engine(
    oracle: dict[tuple[str, str], float], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = ["constraints:"]
    for name in ROIS:
        texts = ", ".join(f'"{written} < 100000"' for written, _ in METRICS)
        lines += [f"  {name}:", "    quantity: dose_current", f"    constraints: [{texts}]"]
    protocol = tmp_path / "all_metrics.yaml"
    protocol.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code = cli_main.main(["check", str(CURRENT), "--no-prior", "--protocol", str(protocol), "--json"])
    assert code in (0, 2)
    rows = json.loads(capsys.readouterr().out)["protocol"]
    assert len(rows) == len(ROIS) * len(METRICS)
    canonical = dict(METRICS)
    for row in rows:
        written = parse_constraint(row["constraint"]).metric.text
        expected = oracle[(row["roi"], canonical[written])]
        assert row["status"] == "PASS", row
        assert row["value"] == round(expected, 4), (row["roi"], written)
        assert row["unit"] == written[written.index("[") + 1 : -1]


def test_dvh_command_values_equal_the_dvh_engine(
    oracle: dict[tuple[str, str], float], capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["dvh", "--dose", str(CURRENT / "RD_patient01.dcm"), "--structures", str(CURRENT / "RS_patient01.dcm"), "--json", "-"]
    for name in ROIS:
        args += ["--roi", name]
    for _, metric in METRICS:
        args += ["--metric", metric]
    assert cli_main.main(args) == 0
    structures = json.loads(capsys.readouterr().out)["structures"]
    assert {s["name"] for s in structures} == set(ROIS)
    for s in structures:
        for _, metric in METRICS:
            assert s["metrics"][metric] == oracle[(s["name"], metric)], (s["name"], metric)
