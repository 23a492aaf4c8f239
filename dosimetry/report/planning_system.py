"""Report section: our DVH numbers next to the planning system's (results.json
``planning_system``, :mod:`dosimetry.patient.planning_system`). Absent when the RT Dose carries no
DVH Sequence; a difference beyond tolerance is a FAIL-coloured row, never hidden."""

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
