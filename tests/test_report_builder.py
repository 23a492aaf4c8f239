"""``dosimetry.report.builder``: the constraint table shows each limit and value in its own unit."""

from __future__ import annotations

from typing import Any

from dosimetry.report.sections import constraint_section


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
    (table,) = constraint_section(results).items
    assert "limit [Gy]" not in table.columns  # a % or cc limit is not in Gy
    limit, value = table.columns.index("limit"), table.columns.index("value")
    shown = {r[table.columns.index("metric")]: (r[limit], r[value]) for r in table.rows}
    assert shown == {
        "V5Gy[%]": ("< 100.00 %", "87.50 %"),
        "D50%[cGy]": ("< 4500.00 cGy", "1234.50 cGy"),
        "Dmax[Gy]": ("< 54.00 Gy", "60.25 Gy"),
        "Dmean[Gy]": ("< 30.00 Gy", "-"),
    }


def test_metrics_table_follows_the_alpha_beta_of_the_run() -> None:
    # A batch run with alpha/beta 3 (late) and 10 (tumour) names its maps BED10, EQD2_3, ...
    from types import SimpleNamespace

    from dosimetry.radiobiology.alpha_beta import RoiRole
    from dosimetry.report.sections import metrics_section

    maps = SimpleNamespace(alpha_beta_late_gy=3.0, alpha_beta_tumour_gy=10.0, eqd2_late_cumulative_key="EQD2_3_cumulative")
    dvhs = SimpleNamespace(rois=(SimpleNamespace(name="PTV"),), roles={"PTV": RoiRole.TARGET}, planned_dose_name="rbe_weighted")
    metrics = [{"roi": "PTV", "quantity": q, "metric": m, "value": v}
               for q, m, v in (("BED10", "D98%[Gy]", 71.25), ("EQD2_3", "D0.03cc[Gy]", 60.5), ("EQD2_3_cumulative", "Mean[Gy]", 40.0))]
    (table,) = metrics_section({"metrics": metrics, "parameters": {"end_cap": "shape"}}, maps, dvhs).items  # type: ignore[arg-type]
    shown = dict(zip(table.columns, table.rows[0], strict=True))
    assert shown["BED10 D98%"] == "71.25" and shown["EQD2_3 D0.03cc"] == "60.50"
    assert shown["EQD2_3_cumulative Mean"] == "40.00"
    assert "DVH end caps: shape convention" in table.note  # results.json parameters.end_cap (schema 1.2)


def test_registration_table_does_not_call_a_volume_check_gy() -> None:
    """Oracle: the row written here is a V20Gy[%] check (a percentage of the organ's volume); the table's note
    said every value was in Gy."""
    from dosimetry.report.registration import registration_sections

    row = {"roi": "Parotid_L", "endpoint": "Xerostomia", "metric": "V20Gy[%]", "unit": "%", "comparator": "<=", "limit": 30.0,
           "value_rigid": 35.0, "value_deformable": None, "spread_low": 33.0, "spread_high": 37.0, "worst_direction": "+x",
           "status": "FAIL", "verdict": "FAIL"}
    u = {"organs": [], "rows": [row], "deformable_available": False, "margin_mm": 2.0, "mapping": "rigid",
         "inverse_consistency": None, "notes": []}
    (section,) = registration_sections({"registration_uncertainty": u})
    note = section.items[0].note  # type: ignore[union-attr]
    assert "Values in Gy" not in note and "% or cc for a volume" in note
    table = section.items[0]
    shown = dict(zip(table.columns, table.rows[0], strict=True))  # type: ignore[union-attr]
    assert shown["unit"] == "%"
