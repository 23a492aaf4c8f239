"""``pipelines.report_builder``: the constraint table shows each limit and value in its own unit."""

from __future__ import annotations

from typing import Any

from pipelines.report_builder import _constraint_section


def _row(metric: str, limit: float, value: float | None, unit: str, status: str) -> dict[str, Any]:
    return {"source": "protocol", "roi": "BrainStem", "organ": "BrainStem", "endpoint": f"line 1: {metric}",
            "quantity": "eqd2_cumulative", "metric": metric, "comparator": "<", "limit": limit, "value": value,
            "unit": unit, "status": status, "ntcp": None, "reason": ""}


def test_constraint_limits_and_values_carry_their_unit() -> None:
    rows = [
        _row("V5Gy[%]", 100.0, 87.5, "%", "PASS"),
        _row("D50%[cGy]", 4500.0, 1234.5, "cGy", "PASS"),
        _row("Dmax[Gy]", 54.0, 60.25, "Gy", "FAIL"),
        _row("Dmean[Gy]", 30.0, None, "Gy", "NOT_EVALUABLE"),
    ]
    results = {"constraints": {"rows": rows, "quantity": "eqd2_cumulative", "alpha_beta_gy": 2.0}}
    (table,) = _constraint_section(results).items
    assert "limit [Gy]" not in table.columns  # a % or cc limit is not in Gy
    limit, value = table.columns.index("limit"), table.columns.index("value")
    shown = {r[table.columns.index("metric")]: (r[limit], r[value]) for r in table.rows}
    assert shown == {
        "V5Gy[%]": ("< 100.00 %", "87.50 %"),
        "D50%[cGy]": ("< 4500.00 cGy", "1234.50 cGy"),
        "Dmax[Gy]": ("< 54.00 Gy", "60.25 Gy"),
        "Dmean[Gy]": ("< 30.00 Gy", "-"),
    }
