"""The re-irradiation section of the report: the recovery model(s) of the prior course and their
citations, the interval between the courses and where it was read, and the side-by-side table of
each organ's cumulative EQD2 under the protocol's model and the alternatives the user asked for
(every number from ``results.json``'s ``recovery`` section)."""

from __future__ import annotations

from typing import Any

from dosimetry.report.content import Paragraph, RowStyle, Section, Table


def _gy(value: Any) -> str:
    return "-" if value is None else f"{float(value):.2f}"


def prior_term_text(results: dict[str, Any]) -> str:
    """How the prior course enters the cumulative maps: "0.3 x prior" or the recovery model(s)."""
    residual = results["parameters"]["residual"]
    if residual is not None:
        return f"{residual:g} x prior"
    recovery = results.get("recovery") or {}
    return f"prior counted with recovery {recovery.get('description', '(see the re-irradiation section)')}"


def _models_paragraphs(recovery: dict[str, Any]) -> list[Paragraph]:
    model = recovery["model"]
    items = [Paragraph(f"Recovery model of the prior course: {recovery['description']}. Source: {model['citation']}.")]
    for entry in recovery["per_organ"]:
        rois = [o["roi"] for o in recovery["organ_models"] if o["key"] == entry["key"]]
        items.append(Paragraph(
            f"Per-organ model for {entry['key']} ({', '.join(rois) or 'no ROI matched'}): {entry['model']['label']}. "
            f"Source: {entry['model']['citation']}."
        ))
    for alt in recovery["alternatives"]:
        items.append(Paragraph(f"Alternative compared: {alt['label']}. Source: {alt['citation']}."))
    interval = recovery["interval"]
    if interval is None:
        items.append(Paragraph("Interval between the courses: unknown (no usable DICOM date; no time-dependent model used)."))
    else:
        items.append(Paragraph(f"Interval between the courses: {interval['months']:.1f} months ({interval['source']})."))
    return items


def _comparison_table(recovery: dict[str, Any]) -> Table | Paragraph:
    comparison = recovery["comparison"]
    if not comparison["rows"]:
        return Paragraph("No organ at risk has a cumulative DVH: no comparison.")
    columns = comparison["columns"]
    rows = []
    status = []
    for row in comparison["rows"]:
        values = row["values_gy"]
        rows.append((row["roi"], row["metric"], *(_gy(v) for v in values)))
        known = [v for v in values if v is not None]
        spread = (max(known) - min(known)) if known else 0.0
        status.append(RowStyle.WARN if known and spread > 0.1 * max(abs(max(known)), 1e-9) else RowStyle.NONE)
    return Table(
        f"Cumulative {comparison['quantity']} of each organ under each recovery model [Gy]",
        ("ROI", "metric", *columns),
        tuple(rows),
        tuple(status),
        note="Highlighted: the models differ by more than 10 % for that organ and metric. Protocol column: the prior "
        "course counted at 30 % everywhere; alternatives apply one model to every organ.",
    )


def _eligibility_table(recovery: dict[str, Any]) -> Table | None:
    checks = recovery.get("eligibility") or []
    if not checks:
        return None
    styles = {"PASS": RowStyle.PASS, "FAIL": RowStyle.FAIL, "NOT_EVALUABLE": RowStyle.NOT_EVALUABLE}
    return Table(
        "Protocol eligibility rules the DICOM data can answer",
        ("rule", "value", "status", "reason"),
        tuple((c["rule"], c["value"], c["status"], c["reason"]) for c in checks),
        tuple(styles.get(c["status"], RowStyle.NONE) for c in checks),
    )


def _type_items(recovery: dict[str, Any]) -> list[Paragraph | Table]:
    kind = recovery.get("reirradiation_type")
    if not kind:
        return []
    rows = tuple(
        (o["roi"], _gy(o["volume_cc"]), _gy(o["overlap_cc"]), _gy(o["prior_max_gy"]), _gy(o["current_max_gy"])) for o in kind["organs"]
    )
    status = tuple(RowStyle.WARN if o["overlap_cc"] > 0 else RowStyle.NONE for o in kind["organs"])
    return [
        Paragraph(
            f"Re-irradiation type (ESTRO-EORTC consensus): {kind['type']}. {kind['reason']}. Meaningful dose: "
            f"{kind['threshold_prior_gy']:g} Gy (prior) and {kind['threshold_current_gy']:g} Gy (current), {kind['quantity']}; "
            f"volume over both in the whole dose grid {kind['overlap_cc']:.2f} cc. Source: {kind['citation']}."
        ),
        Table(
            "Volume of each organ receiving a meaningful dose in both courses",
            ("ROI", "volume [cc]", "in both courses [cc]", "prior Max [Gy]", "current Max [Gy]"),
            rows, status,
        ),
    ]


def reirradiation_sections(results: dict[str, Any]) -> tuple[Section, ...]:
    """The report's re-irradiation section, or none without a ``recovery`` section in the results."""
    recovery = results.get("recovery")
    if not recovery:
        return ()
    items: list[Paragraph | Table] = [*_models_paragraphs(recovery), _comparison_table(recovery)]
    items.extend(_type_items(recovery))
    eligibility = _eligibility_table(recovery)
    if eligibility is not None:
        items.append(eligibility)
    return (Section("Re-irradiation: recovery of the prior course", tuple(items), "reirradiation"),)
