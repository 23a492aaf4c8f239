"""The report's table sections, each a function of the :class:`~dosimetry.report.builder.ReportContext`
(``results.json`` document, maps, DVHs): plan summary, protocol dose levels (Table 1), constraint
checks, target indices and coverage, key DVH metrics, reviewer sign-off, provenance (folded).

Doses are labelled Gy(RBE) for RBE-weighted (EFFECTIVE) dose and Gy for physical dose; BED and
EQD2 are in Gy. Without a prior course no text mentions a summation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dosimetry.dose import DoseType
from dosimetry.numbers import table1_cell
from dosimetry.patient.maps import lq_key
from dosimetry.patient.verdict import constraint_value_text, explaining_digits, quantity_label
from dosimetry.quantities import DoseQuantity
from dosimetry.report.reirradiation import prior_term_text
from dosimetry.report.content import (
    Details,
    Item,
    Paragraph,
    RowStyle,
    Section,
    SignOff,
    Table,
)

if TYPE_CHECKING:
    from dosimetry.patient.dvhs import PatientDvhs
    from dosimetry.patient.maps import PatientMaps


def fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def row_style(text: str) -> RowStyle:
    return {"PASS": RowStyle.PASS, "FAIL": RowStyle.FAIL, "NOT_EVALUABLE": RowStyle.NOT_EVALUABLE,
            "pass": RowStyle.PASS, "fail": RowStyle.FAIL, "undefined": RowStyle.NOT_EVALUABLE}.get(text, RowStyle.NONE)


def has_prior(results: dict[str, Any]) -> bool:
    return results.get("alignment") is not None


def dose_unit(course: dict[str, Any]) -> str:
    """Gy(RBE) for a course with RBE-weighted (EFFECTIVE) dose, Gy otherwise."""
    return DoseType(course["dose_type"]).unit_label if course["dose_type"] in DoseType.__members__ else "Gy"


def course_table(results: dict[str, Any]) -> Table:
    rows = []
    for c in results["courses"]:
        unit = dose_unit(c)
        rows.append((
            c["label"], c["plan_label"], ", ".join(c["radiation_types"]), str(c["fractions"]),
            "-" if c["dose_per_fraction_gy"] is None else f"{c['dose_per_fraction_gy']:.3f} {unit}",
            "-" if c["prescription_dose_gy"] is None else f"{c['prescription_dose_gy']:.2f} {unit}",
            f"{c['dose_type']} ({DoseType(c['dose_type']).adjective})" if c["dose_type"] in DoseType.__members__ else c["dose_type"],
            c["folder"],
        ))
    return Table(
        "Courses", ("course", "plan", "radiation", "fractions", "dose/fraction", "prescription", "dose type", "folder"), tuple(rows),
    )


def summation_paragraph(results: dict[str, Any]) -> Paragraph:
    """How the organ-at-risk maps were made; never mentions a summation that did not happen."""
    p = results["parameters"]
    a = results["alignment"]
    if a is None:
        return Paragraph(
            "Current course only, no prior dose summed: organ-at-risk checks use the current course's "
            f"EQD2 (alpha/beta {p['alpha_beta_late_gy']:g} Gy); targets use alpha/beta {p['alpha_beta_tumour_gy']:g} Gy. "
            f"DVH end caps: {end_cap_text(results)}."
        )
    return Paragraph(
        f"Prior dose alignment: {a['method']} ({a['registration_source']}); {a['transform']}; "
        f"{a['uncovered_volume_cc']:.1f} cc of the current grid lie outside the prior dose grid (prior dose 0 there). "
        f"Cumulative maps: current + {prior_term_text(results)} ({p['summation_method']}), alpha/beta "
        f"{p['alpha_beta_late_gy']:g} Gy (organs at risk); targets: current course only, alpha/beta "
        f"{p['alpha_beta_tumour_gy']:g} Gy. DVH end caps: {end_cap_text(results)}."
    )


def dose_level_section(results: dict[str, Any]) -> Section:
    """The protocol's Table 1 recomputed; every dose cell through :func:`dosimetry.numbers.table1_cell`."""
    levels = results["dose_levels"]
    rows, status = [], []
    for r in levels["rows"]:
        rows.append((
            str(r["level"]), f"{r['dose_per_fraction_gy']:g} GyE x {r['fractions']} fractions", table1_cell(r["total_gy"]),
            table1_cell(r["bed2_gy"]), table1_cell(r["bed9_gy"]), table1_cell(r["eqd2_2_gy"]), table1_cell(r["eqd2_9_gy"]),
            "this patient" if r["level"] == levels["patient_level"] else "",
        ))
        status.append(RowStyle.HIGHLIGHT if r["level"] == levels["patient_level"] else RowStyle.NONE)
    table = Table(
        "Protocol Table 1 (recomputed, LQ model)",
        ("level", "dose and fractionation", "total dose [GyE]", "BED2 [GyE]", "BED9 [GyE]", "EQD2 a/b=2 [GyE]",
         "EQD2 a/b=9 [GyE]", "patient"),
        tuple(rows), tuple(status),
        note=f"{levels['note']}. Values rounded half-up to 0.1 GyE as the protocol prints them (and as "
        "`dosimetry schedule` does); the EQD2 columns are not in the protocol's table.",
    )
    return Section("Dose levels", (table,), "dose-levels")


def constraint_section(results: dict[str, Any]) -> Section:
    rows, status = [], []
    order = {"FAIL": 0, "NOT_EVALUABLE": 1, "PASS": 2}
    prior = results.get("alignment") is not None if "alignment" in results else True
    for r in sorted(results["constraints"]["rows"], key=lambda r: (order.get(r["status"], 3), r["source"], r["roi"])):
        unit = f" {r['unit']}" if r["unit"] else ""  # Gy, cGy, % or cc: the metric's own unit
        organ = r["organ"].replace("_", " ")
        rows.append((
            r["roi"] or "-", organ if organ != r["roi"] else "", f"{r['source']}: {r['endpoint']}",
            quantity_label(r["quantity"], prior).replace("_", " "), r["metric"],
            f"{r['comparator']} {fmt(r['limit'])}{unit}", "-" if r["value"] is None else f"{constraint_value_text(r['value'], r['limit'], r['comparator'], r['status'])}{unit}",
            "-" if r["ntcp"] is None else f"{100 * r['ntcp']:.1f} %", r["status"], r["reason"],
        ))
        status.append(row_style(r["status"]))
    c = results["constraints"]
    table = Table(
        "Organ-at-risk constraints",
        ("ROI", "organ", "source: endpoint", "quantity", "metric", "limit", "value", "NTCP", "status", "reason"),
        tuple(rows), tuple(status),
        nowrap_columns=("limit", "value", "NTCP"),
        note=f"Emami TD5/5 (Kutcher-Burman effective volume) and LKB NTCP (Burman parameters) on {quantity_label(c['quantity'], prior)} "
        f"(alpha/beta {c['alpha_beta_gy']:g} Gy); protocol rows on the quantity each names.",
    )
    return Section("Constraint checks", (table,), "constraints")


def indices_section(results: dict[str, Any]) -> Section:
    from dosimetry.indices.definitions import COVERAGE_TOLERANCE_PCT

    unit = dose_unit(results["courses"][0])
    rows, cov_rows, cov_status = [], [], []
    for entry in results["indices"]:
        ind = entry["indices"]

        def v(name: str) -> str:
            item = ind.get(name) or {}
            return fmt(item.get("value"), 3) if item.get("value") is not None else "undef."

        d = entry["target_dose_gy"]
        q_unit = unit if entry["reference"]["quantity"] == "physical" else "Gy"
        rows.append((
            entry["target"], entry["quantity"], entry["reference"]["label"], fmt(entry["TV_cc"], 1), fmt(entry["PIV_cc"], 1),
            v("target_coverage"), v("paddick_ci"), v("rtog_ci"), v("gradient_index"), v("icru83_hi"),
            *(fmt(d[k]) for k in ("D98%", "D50%", "D2%", "Dmax")), q_unit,
        ))
        for cov in entry.get("coverage", []):
            covered = cov["covered_pct"]
            shown = "-" if covered is None else explaining_digits(
                covered, cov["required_volume_pct"], cov["status"] == "pass", COVERAGE_TOLERANCE_PCT, at_least=2)
            cov_rows.append((
                entry["target"], entry["quantity"], cov["metric"], f">= {cov['required_volume_pct']:g} %",
                f"{COVERAGE_TOLERANCE_PCT:g} points", shown, cov["status"].upper(), cov["reason"],
            ))
            cov_status.append(row_style(cov["status"]))
    items: list[Item] = []
    if cov_rows:
        items.append(Table(
            "Protocol coverage rules (V95% CTV, V90% PTV on the planned dose)",
            ("target", "quantity", "metric", "required", "tolerance", "covered [%]", "status", "reason"),
            tuple(cov_rows), tuple(cov_status),
            note="Covered volume shown with as many decimals as its verdict needs; a rule passes when covered + "
            "tolerance >= required.",
        ))
    if rows:
        items.append(Table(
            "Plan-quality indices at the prescription isodose",
            ("target", "quantity", "reference (100 %)", "TV [cc]", "PIV [cc]", "coverage", "Paddick CI", "RTOG CI",
             "GI (50 %)", "ICRU 83 HI", "D98%", "D50%", "D2%", "Dmax", "dose unit"),
            tuple(rows), note="BED9 indices use BED9 of the prescription as 100 %; see results.json for definitions.",
        ))
    else:
        items.append(Paragraph("No target indices (see warnings)."))
    return Section("Target indices", tuple(items), "indices")


def end_cap_text(results: dict[str, Any]) -> str:
    """The DVH end-cap convention of ``results.json`` (schema 1.2; older files do not record it)."""
    end_cap = results["parameters"].get("end_cap")
    return "not recorded (results.json before schema 1.2)" if end_cap is None else f"{end_cap} convention (dosimetry.dvh.endcaps)"


def metrics_section(results: dict[str, Any], maps: PatientMaps, dvhs: PatientDvhs) -> Section:
    values = {(m["roi"], m["quantity"], m["metric"]): m["value"] for m in results["metrics"]}
    cum = maps.eqd2_late_cumulative_key
    # The maps' names follow the alpha/beta of the run (BED9 and EQD2_2 with the defaults).
    bed_tumour = lq_key(DoseQuantity.BED, maps.alpha_beta_tumour_gy)
    eqd2_late = lq_key(DoseQuantity.EQD2, maps.alpha_beta_late_gy)
    prior = results.get("alignment") is not None if "alignment" in results else True
    rows = []
    q = dvhs.planned_dose_name
    for roi in dvhs.rois:

        def g(quantity: str, metric: str, roi_name: str = roi.name) -> str:
            return fmt(values.get((roi_name, quantity, metric)))

        row = [roi.name, dvhs.roles[roi.name].value.replace("_", " ").lower(), g(q, "Mean[Gy]"), g(q, "D98%[Gy]"), g(q, "D2%[Gy]"), g(q, "D0.03cc[Gy]"),
               g(q, "Max[Gy]"), g(bed_tumour, "D98%[Gy]"), g(eqd2_late, "D0.03cc[Gy]")]
        if prior:
            row += [g(cum, "D0.03cc[Gy]"), g(cum, "Mean[Gy]")]
        rows.append(tuple(row))
    planned_unit = "Gy(RBE)" if q == "rbe_weighted" else "Gy"
    columns = ["ROI", "role", f"{q} Mean", "D98%", "D2%", "D0.03cc", "Max", f"{bed_tumour} D98%", f"{eqd2_late} D0.03cc"]
    if prior:
        columns += [f"{cum} D0.03cc", f"{cum} Mean"]
    table = Table(
        "Key DVH metrics (all rows in metrics.csv)", tuple(columns), tuple(rows),
        note=f"{q} columns in {planned_unit}; BED and EQD2 columns in Gy."
        + ("" if prior else " No prior course: no cumulative columns.")
        + f" DVH end caps: {end_cap_text(results)}.",
    )
    return Section("DVH metrics", (table,), "metrics")


def signoff_section(results: dict[str, Any]) -> Section:
    block = SignOff(
        "Reviewed by",
        ("Physicist (name)", "Date", "Signature", "Physician (name)", "Date", "Signature"),
        statement="I have reviewed the verdict, every failing check and every warning of this report.",
    )
    return Section("Reviewer sign-off", (block,), "signoff")


def provenance_section(results: dict[str, Any]) -> Section:
    s = results["software"]
    params = tuple((k, "-" if v is None else str(v)) for k, v in results["parameters"].items())
    inputs = tuple(
        (i["path"], i["course"], i["modality"], i["sop_instance_uid"] or "-", i["sha256"]) for i in results["inputs"]
    )
    outputs = tuple((o["path"], o["kind"], o["description"], o["sop_instance_uid"] or "-") for o in results["outputs"])
    modalities: dict[str, int] = {}
    for i in results["inputs"]:
        modalities[i["modality"]] = modalities.get(i["modality"], 0) + 1
    counted = ", ".join(f"{n} {m or 'other'}" for m, n in modalities.items())
    return Section(
        "Provenance",
        (
            Paragraph(f"{s['name']} {s['version']}; generated {results['generated_utc']}; results.json schema {results['schema_version']}; "
                      f"{len(results['inputs'])} input files ({counted})."),
            Details(
                "Parameters, every input file (SOP Instance UID, SHA-256) and every output",
                (
                    Table("Parameters", ("parameter", "value"), params),
                    Table("Input files", ("path", "course", "modality", "SOP Instance UID", "SHA-256"), inputs),
                    Table("Outputs", ("file", "kind", "description", "SOP Instance UID"), outputs),
                ),
            ),
        ),
        "provenance",
    )
