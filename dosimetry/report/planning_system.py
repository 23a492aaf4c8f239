"""Report sections of issue 13: our DVH numbers next to the planning system's (results.json
``planning_system``, :mod:`dosimetry.patient.planning_system`; absent when the RT Dose carries no
DVH Sequence; a difference beyond tolerance is a FAIL-coloured row, never hidden), and the
convention sensitivity of the constraint rows (``constraints.rows[].convention_spread_gy``,
:mod:`dosimetry.patient.sensitivity`)."""

from __future__ import annotations

from typing import Any

from dosimetry.report.content import Paragraph, RowStyle, Section, Table


def _f(value: Any) -> str:
    return "-" if value is None else f"{value:.4g}"


def planning_system_section(results: dict[str, Any]) -> Section | None:
    rows_in = results.get("planning_system") or []
    if not rows_in:
        return None
    rows, status = [], []
    for r in rows_in:
        rows.append((r["roi"], r["quantity"], _f(r["ours"]), _f(r["planning_system"]), _f(r["difference"]),
                     r["best_convention"] or "-", "beyond tolerance" if r["flagged"] else r["note"]))
        status.append(RowStyle.FAIL if r["flagged"] else RowStyle.NONE)
    table = Table(
        "Ours vs the planning system's DVHs (RT Dose DVH Sequence)",
        ("ROI", "quantity", "ours", "planning system", "ours - PS", "closest convention (volume)", "note"),
        tuple(rows), tuple(status),
        note="Tolerances: volume 5 % and 0.05 cc, doses 2 % and 0.5 Gy (dosimetry.dvh.planning_system). "
        "Neither number replaces the other.",
    )
    text = Paragraph(
        "The planning system's own DVHs, read from the RT Dose, next to ours on the planned dose. Volume "
        "differences on small ROIs come mostly from how the solid is closed between and beyond the contour "
        "planes; the convention closest to the planning system's volume is shown per ROI."
    )
    return Section("Planning-system DVH cross-check", (text, table), "planning-system")


def convention_sensitivity_section(results: dict[str, Any]) -> Section | None:
    rows_in = [r for r in results["constraints"]["rows"] if r.get("convention_spread_gy") is not None]
    if not rows_in:
        return None
    rows, status = [], []
    for r in rows_in:
        rows.append((r["roi"], r["metric"], r["quantity"], _f(r["value"]), _f(r["convention_spread_gy"]),
                     "depends on the convention" if r["convention_sensitive"] else ""))
        status.append(RowStyle.WARN if r["convention_sensitive"] else RowStyle.NONE)
    table = Table(
        "Constraint values under every end-cap convention (half-slab, truncated, shape)",
        ("ROI", "metric", "quantity", "value [Gy]", "spread over conventions [Gy]", "note"),
        tuple(rows), tuple(status),
        note="Spread = max - min over the conventions; flagged above 1 Gy (dosimetry.dvh.sensitivity).",
    )
    return Section("Convention sensitivity of the constraints", (table,), "convention-sensitivity")
