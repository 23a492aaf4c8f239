"""One rounding for the protocol's Table 1 (report, ``dosimetry schedule``) and coverage shown with the
digits its verdict needs.

Oracle: the trial protocol's printed Table 1 (dose level, 2.5 GyE x n fractions, total dose, BED2,
BED9 in GyE; values typed in from the publication), compared cell by cell as decimal numbers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from dosimetry.numbers import round_half_up, table1_cell
from dosimetry.patient.records import DoseLevelRow, record_dict
from dosimetry.radiobiology.schedule import format_table, make_schedules
from dosimetry.report import Table
from dosimetry.report.sections import dose_level_section, indices_section

#: The trial protocol's Table 1: level -> (fractions, total dose, BED2, BED9), as printed.
PUBLISHED = {
    1: (21, "52.5", "118.1", "67.1"),
    2: (22, "55", "123.8", "70.3"),
    3: (23, "57.5", "129.4", "73.5"),
    4: (24, "60", "135.0", "76.7"),
    5: (25, "62.5", "140.6", "79.9"),
    6: (26, "65", "146.3", "83.1"),
}


def _levels() -> dict[str, Any]:
    schedules = make_schedules(2.5, [n for n, *_ in PUBLISHED.values()], (2.0, 9.0))
    rows = [
        record_dict(DoseLevelRow(level=i + 1, fractions=s.fractions, dose_per_fraction_gy=2.5, total_gy=s.total_gy,
                                 bed2_gy=s.bed_for(2.0), bed9_gy=s.bed_for(9.0), eqd2_2_gy=s.eqd2_for(2.0), eqd2_9_gy=s.eqd2_for(9.0)))
        for i, s in enumerate(schedules)
    ]
    return {"rows": rows, "patient_level": 2, "note": "current plan: 2.5 GyE x 22 fractions = dose level 2"}


def test_report_table_1_reproduces_the_protocol_cell_by_cell() -> None:
    (table,) = dose_level_section({"dose_levels": _levels()}).items
    assert isinstance(table, Table)
    col = {name: i for i, name in enumerate(table.columns)}
    assert len(table.rows) == len(PUBLISHED)
    for row in table.rows:
        n, total, bed2, bed9 = PUBLISHED[int(row[col["level"]])]
        assert row[col["dose and fractionation"]] == f"2.5 GyE x {n} fractions"
        for column, printed in (("total dose [GyE]", total), ("BED2 [GyE]", bed2), ("BED9 [GyE]", bed9)):
            assert Decimal(row[col[column]]) == Decimal(printed), (n, column, row[col[column]], printed)
    # 65 GyE: BED2 = 65 (1 + 2.5 / 2) = 146.25 exactly, printed 146.3 (half up), never 146.2 (half even on binary).
    assert table.rows[-1][col["BED2 [GyE]"]] == "146.3"


def test_schedule_command_prints_the_same_cells() -> None:
    text = format_table(make_schedules(2.5, [n for n, *_ in PUBLISHED.values()], (2.0, 9.0)))
    lines = text.splitlines()[1:]
    for line, (n, total, bed2, bed9) in zip(lines, PUBLISHED.values(), strict=True):
        cells = line.split()
        assert int(cells[0]) == n
        assert [Decimal(c) for c in cells[2:5]] == [Decimal(total), Decimal(bed2), Decimal(bed9)]


def test_the_one_rule_rounds_half_up_on_the_decimal_value() -> None:
    assert table1_cell(146.25) == "146.3" and table1_cell(118.125) == "118.1" and table1_cell(140.625) == "140.6"
    assert round_half_up(0.125, 2) == "0.13" and round_half_up(2.675, 2) == "2.68"  # format() prints 2.67 and 0.12


def test_coverage_row_shows_the_digits_its_verdict_needs_and_the_tolerance() -> None:
    """Oracle: by hand, 99.98457 % covered against a required 100 % with 0.01 points tolerance fails;
    printed to one decimal it would read 100.0 %."""
    entry = {"target": "PTV", "quantity": "rbe_weighted", "indices": {}, "TV_cc": 41.6, "PIV_cc": 40.0,
             "reference": {"label": "RBE-weighted 55 Gy(RBE)", "quantity": "physical"},
             "target_dose_gy": {"D98%": 54.0, "D50%": 55.0, "D2%": 55.4, "Dmax": 55.5},
             "coverage": [{"rule": "PTV covered by the 90 % isodose", "metric": "V90%", "required_volume_pct": 100.0,
                           "covered_pct": 99.9845692298895, "status": "fail", "reason": "V90% = 99.98 % < required 100 %"}]}
    results = {"courses": [{"dose_type": "EFFECTIVE"}], "indices": [entry]}
    coverage, indices = indices_section(results).items
    assert isinstance(coverage, Table) and isinstance(indices, Table)
    row = dict(zip(coverage.columns, coverage.rows[0], strict=True))
    assert row["covered [%]"] == "99.98" and row["tolerance"] == "0.01 points" and row["status"] == "FAIL"
    assert indices.rows[0][-2:] == ("55.50", "Gy(RBE)")


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
def test_a_non_finite_number_is_an_error_not_a_decimal_exception(value: float) -> None:
    from dosimetry.errors import ArgumentError
    from dosimetry.numbers import round_half_up

    with pytest.raises(ArgumentError, match="finite"):
        round_half_up(value, 1)
