"""Report section: how far to trust the mapped prior dose (results.json ``registration_uncertainty``).

One table per organ-at-risk check on a quantity holding the prior course: the value under the
rigid and the deformable mapping side by side, the spread when the prior dose is shifted by the
margin in six directions (worst direction named), and the verdict (``UNCERTAIN`` when the status
flips within the spread); one table of mapping quality per organ (Dice and mean surface distance
of the mapped prior contour, smallest Jacobian determinant, folding voxels); the inverse
consistency error when both directions were given. Built from the results document only.
"""

from __future__ import annotations

from typing import Any

from dosimetry.report.content import Paragraph, RowStyle, Section, Table

_STYLE = {"PASS": RowStyle.PASS, "FAIL": RowStyle.FAIL, "UNCERTAIN": RowStyle.WARN, "NOT_EVALUABLE": RowStyle.NOT_EVALUABLE}


def _num(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def registration_sections(results: dict[str, Any]) -> tuple[Section, ...]:
    """The section, or none when the results hold no registration uncertainty."""
    u = results.get("registration_uncertainty")
    if not u:
        return ()
    quality = {o["roi"]: o for o in u["organs"]}
    rows, status = [], []
    for r in u["rows"]:
        q = quality.get(r["roi"], {})
        rows.append((
            r["roi"], r["endpoint"], r["metric"], r["unit"], f"{r['comparator']} {_num(r['limit'])}",
            _num(r["value_rigid"]), _num(r["value_deformable"]),
            f"{_num(r['spread_low'])} - {_num(r['spread_high'])}", r["worst_direction"] or "-",
            _num(q.get("dice_deformable") if u["deformable_available"] else q.get("dice_rigid")),
            r["status"], r["verdict"],
        ))
        status.append(_STYLE.get(r["verdict"], RowStyle.NONE))
    checks = Table(
        "Cumulative checks under rigid and deformable mapping",
        ("ROI", "endpoint", "metric", "unit", "limit", "rigid", "deformable", f"spread (shift {u['margin_mm']:g} mm)", "worst direction",
         "Dice", "status", "verdict"),
        tuple(rows), tuple(status),
        note=f"Limit, values and spread in the row's unit (Gy for a dose, % or cc for a volume) on the cumulative quantity of each check. The cumulative dose used the {u['mapping']} mapping. "
        f"Spread: the value with the mapped prior dose shifted by {u['margin_mm']:g} mm along +-x, +-y, +-z; a status that "
        "changes within it is UNCERTAIN.",
    )
    organ_rows = tuple(
        (o["roi"], o["prior_roi"] or "-", _num(o["dice_rigid"]), _num(o["dice_deformable"]),
         _num(o["mean_surface_distance_rigid_mm"]), _num(o["mean_surface_distance_deformable_mm"]),
         _num(o["jacobian_min"], 3), "-" if o["folding_voxels"] is None else str(o["folding_voxels"]), o["note"])
        for o in u["organs"]
    )
    organs = Table(
        "Mapping quality per organ",
        ("ROI", "prior ROI", "Dice rigid", "Dice deformable", "MSD rigid [mm]", "MSD deformable [mm]", "Jacobian min",
         "folding voxels", "note"),
        organ_rows,
        tuple(RowStyle.FAIL if o["folding_voxels"] else RowStyle.NONE for o in u["organs"]),
        note="Dice and mean surface distance (MSD) between the prior contour mapped into the current frame and the current "
        "contour; Jacobian determinant of the current -> prior mapping inside the organ (<= 0: folding).",
    )
    items: list[Paragraph | Table] = [checks, organs]
    ice = u["inverse_consistency"]
    if ice:
        items.append(Paragraph(
            f"Inverse consistency error (both directions given): mean {ice['mean_mm']:.2f} mm, 95th percentile "
            f"{ice['p95_mm']:.2f} mm, max {ice['max_mm']:.2f} mm."
        ))
    uncertain = [r["roi"] for r in u["rows"] if r["verdict"] == "UNCERTAIN"]
    if uncertain:
        items.insert(0, Paragraph(f"UNCERTAIN within the registration margin: {', '.join(dict.fromkeys(uncertain))}."))
    items.extend(Paragraph(n) for n in u["notes"])
    return (Section("Registration uncertainty of the cumulative dose", tuple(items), "registration-uncertainty"),)
