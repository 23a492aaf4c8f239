"""User protocol files (YAML and TOML) and the TG-263 metric syntax."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from dosimetry.constraints.metrics import parse_constraint, parse_constraint_metric
from dosimetry.constraints.protocol import load_protocol, parse_protocol_text
from dosimetry.quantities import DoseBasis
from dosimetry.dvh import MetricKind
from dosimetry.dvh import parse_metric as parse_dvh_metric
from dosimetry.dvh.metrics import Unit
from dosimetry.errors import ConstraintError
from tests.constraints_helpers import point_dvh

VALID_YAML = """\
name: Institutional re-irradiation limits
quantity: eqd2_cumulative
constraints:
  BrainStem: "D0.03cc[Gy] < 54"
  OpticChiasm: ["D0.03cc[Gy] < 54", "Dmean[Gy] <= 45"]
  Parotid_L:
    quantity: eqd2_current
    constraints:
      - "Dmean[Gy] < 26"
      - "V30Gy[%] < 50"
"""

VALID_TOML = """\
name = "Institutional re-irradiation limits"
quantity = "eqd2_cumulative"

[constraints]
BrainStem = "D0.03cc[Gy] < 54"
OpticChiasm = ["D0.03cc[Gy] < 54", "Dmean[Gy] <= 45"]

[constraints.Parotid_L]
quantity = "eqd2_current"
constraints = ["Dmean[Gy] < 26", "V30Gy[%] < 50"]
"""


@pytest.mark.parametrize(("suffix", "text"), [(".yaml", VALID_YAML), (".toml", VALID_TOML)])
def test_valid_protocols(tmp_path: Path, suffix: str, text: str) -> None:
    path = tmp_path / f"protocol{suffix}"
    path.write_text(text, encoding="utf-8")
    protocol = load_protocol(path)
    assert protocol.name == "Institutional re-irradiation limits"
    assert protocol.quantity is DoseBasis.EQD2_CUMULATIVE
    items = [(c.structure, c.constraint.text, c.quantity) for c in protocol.constraints]
    assert items == [
        ("BrainStem", "D0.03cc[Gy] < 54", DoseBasis.EQD2_CUMULATIVE),
        ("OpticChiasm", "D0.03cc[Gy] < 54", DoseBasis.EQD2_CUMULATIVE),
        ("OpticChiasm", "Dmean[Gy] <= 45", DoseBasis.EQD2_CUMULATIVE),
        ("Parotid_L", "Dmean[Gy] < 26", DoseBasis.EQD2_CURRENT),
        ("Parotid_L", "V30Gy[%] < 50", DoseBasis.EQD2_CURRENT),
    ]
    lines = [c.line for c in protocol.constraints]
    assert lines == ([4, 5, 5, 9, 10] if suffix == ".yaml" else [5, 6, 6, 10, 10])


def test_default_quantity_is_eqd2_cumulative() -> None:
    protocol = parse_protocol_text('constraints:\n  Brainstem: "Dmax[Gy] < 54"\n', "p.yaml", "yaml")
    assert protocol.constraints[0].quantity is DoseBasis.EQD2_CUMULATIVE


@pytest.mark.parametrize(
    ("fmt", "text", "pattern"),
    [
        ("yaml", VALID_YAML.replace("Dmean[Gy] <= 45", "Dmaen[Gy] <= 45"), r"p\.yaml line 5 \(OpticChiasm\).*'Dmaen\[Gy\]'"),
        ("yaml", VALID_YAML.replace('"V30Gy[%] < 50"', '"V30Gy[%] < fifty"'), r"p\.yaml line 10 \(Parotid_L\): malformed"),
        ("yaml", VALID_YAML.replace("quantity: eqd2_current", "quantity: eqd3"), r"p\.yaml line 7: unknown quantity 'eqd3'"),
        ("yaml", VALID_YAML.replace("name:", "nmae:"), r"p\.yaml line 1: unknown key 'nmae'"),
        ("yaml", VALID_YAML + '  Lens_L: ["Dmax[Gy] < 8"\n', r"p\.yaml line \d+: invalid YAML"),
        ("yaml", "constraints:\n  Brainstem: 54\n", r"p\.yaml line 2: constraints for 'Brainstem' must be a string"),
        ("yaml", "constraints:\n  Brainstem: \"D95%[%] > 90\"\n", r"p\.yaml line 2 .*D95%\[%\]"),
        ("yaml", "", r"p\.yaml line 1: empty protocol"),
        ("toml", VALID_TOML.replace('constraints = ["Dmean[Gy] < 26"', 'constraints = ["Dmean[Gy] << 26"'), r"p\.toml line 10 \(Parotid_L\): malformed"),
        ("toml", VALID_TOML.replace('quantity = "eqd2_current"', 'quantity = "physical"'), r"p\.toml line 9: unknown quantity"),
        ("toml", VALID_TOML.replace('BrainStem = "D0.03cc[Gy] < 54"', "BrainStem = "), r"p\.toml line 5: invalid TOML"),
        ("toml", VALID_TOML.replace('OpticChiasm = ["D0.03cc[Gy] < 54", "Dmean[Gy] <= 45"]', 'OpticChiasm = ["D0.03cc[Gy] < 54", "D2cc[Gy] =< 45"]'), r"p\.toml line 6 \(OpticChiasm\)"),
    ],
)
def test_bad_protocols_name_the_line(fmt: str, text: str, pattern: str) -> None:
    with pytest.raises(ConstraintError, match=pattern):
        parse_protocol_text(text, f"p.{fmt}", fmt)


def test_unknown_extension(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text("{}", encoding="utf-8")
    with pytest.raises(ConstraintError, match="must end in .yaml"):
        load_protocol(path)


def test_metric_parsing_uses_the_dvh_grammar() -> None:
    assert parse_constraint_metric("D0.03cc[Gy]") == dataclasses.replace(parse_dvh_metric("D0.03cc[Gy]"), text="D0.03cc[Gy]")
    assert parse_constraint_metric("D95%[Gy]").kind is MetricKind.DOSE_AT_VOLUME and parse_constraint_metric("D95%[Gy]").value == 95.0
    # the constraint aliases Dmax/Dmin/Dmean are the DVH engine's Max/Min/Mean; the text is kept
    dmean = parse_constraint_metric("Dmean[cGy]")
    assert dmean.kind is MetricKind.MEAN and dmean.output_unit is Unit.CGY and dmean.text == "Dmean[cGy]"
    assert parse_constraint_metric("Max[Gy]").kind is parse_constraint_metric("dmax[Gy]").kind is MetricKind.MAX
    v = parse_constraint_metric("V2000cGy[cc]")
    assert v.kind is MetricKind.VOLUME_AT_DOSE and v.value == 2000.0 and v.value_unit is Unit.CGY
    for bad in ("D95[Gy]", "D120%[Gy]", "V20[%]", "Dmean", "Dmaen[Gy]"):
        with pytest.raises(ConstraintError, match="malformed"):
            parse_constraint_metric(bad)
    for relative in ("D95%[%]", "V95%[cc]"):  # no prescription in constraint checks
        with pytest.raises(ConstraintError, match="prescription"):
            parse_constraint_metric(relative)


def test_metric_values_on_a_step_dvh() -> None:
    # 10 voxels of 1 cc at 10, 20, ..., 100 Gy
    dvh = point_dvh(np.arange(10, 101, 10, dtype=float), np.ones(10))

    def value(text: str) -> float:
        return parse_constraint(f"{text} < 1000").evaluate(dvh)

    assert value("Dmax[Gy]") == 100.0
    assert value("Dmin[Gy]") == 10.0
    assert value("Dmean[Gy]") == pytest.approx(55.0)
    assert value("D30%[Gy]") == 80.0  # hottest 3 cc receive at least 80 Gy
    assert value("D2cc[cGy]") == pytest.approx(9000.0)
    assert value("V50Gy[%]") == pytest.approx(60.0)
    assert value("V50Gy[cc]") == pytest.approx(6.0)
    c = parse_constraint("D0.03cc[Gy] < 54")
    assert c.unit == "Gy"
    assert not c.holds(100.0) and c.margin(50.0) == pytest.approx(4.0)
    assert parse_constraint("V50Gy[%] >= 70").margin(60.0) == pytest.approx(-10.0)
