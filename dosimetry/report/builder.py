"""The clinical report of ``dosimetry analyze``: one self-contained HTML page from the results.

Sections, in reading order: summary (verdict counts), plan and fractionation, protocol dose levels
(Table 1, the patient's level highlighted), constraint checks, target indices and coverage, DVH
plots (planned dose; cumulative EQD2), isodose overlays (axial, sagittal, coronal CT planes through
the target centroid: 95/85/70/30 % of the prescription in red/orange/yellow/blue as in the
protocol's Fig. 1, GTV/CTV/PTV outlines), DVH metrics, provenance. Warnings are shown at the top.

The CT comes from the current course folder (the CT series in the dose's frame of reference);
without a usable CT the overlays are left out and a warning says why.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from dosimetry.dvh import rasterise_roi
from dosimetry.errors import DosimetryError
from dosimetry.io import load_ct_series, load_ct_volume
from dosimetry.quantities import DoseQuantity
from dosimetry.radiobiology.alpha_beta import RoiRole
from dosimetry.report import (
    DvhCurve,
    Figure,
    OverlayContour,
    Paragraph,
    Report,
    Section,
    RowStyle,
    Table,
    dvh_figure_png,
    isodose_overlay_png,
    render_html,
)
from dosimetry.report.planes import PlaneAxis, ct_plane, occupancy_centroid_mm
from dosimetry.report.planning_system import convention_sensitivity_section, planning_system_section
from dosimetry.report.reirradiation import prior_term_text, reirradiation_sections
from dosimetry.patient.maps import lq_key

if TYPE_CHECKING:
    from dosimetry.patient.dvhs import PatientDvhs
    from dosimetry.patient.maps import PatientMaps

logger = logging.getLogger(__name__)

#: Target outline colours (protocol Fig. 1 style): GTV, CTV, PTV.
TARGET_COLOURS = {"GTV": (220, 0, 220), "CTV": (0, 200, 255), "PTV": (0, 255, 0)}
ISODOSE_LEVELS_PCT = (95.0, 85.0, 70.0, 30.0)


@dataclass(frozen=True)
class Page:
    html: str
    warnings: tuple[str, ...]


def _f(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _status(text: str) -> RowStyle:
    return {"PASS": RowStyle.PASS, "FAIL": RowStyle.FAIL, "NOT_EVALUABLE": RowStyle.NOT_EVALUABLE,
            "pass": RowStyle.PASS, "fail": RowStyle.FAIL, "undefined": RowStyle.NOT_EVALUABLE}.get(text, RowStyle.NONE)


def _summary(results: dict[str, Any]) -> Section:
    rows = results["constraints"]["rows"]
    counts = {s: sum(1 for r in rows if r["status"] == s) for s in ("PASS", "FAIL", "NOT_EVALUABLE")}
    coverage = [c for i in results["indices"] for c in i.get("coverage", [])]
    cov_fail = sum(1 for c in coverage if c["status"] != "pass")
    verdict = "CONSTRAINT VIOLATION" if results["constraints"]["any_fail"] else "no constraint violated"
    items: list[Paragraph | Table | Figure] = [
        Paragraph(
            f"Result: {verdict}. Constraint checks: {counts['FAIL']} FAIL, {counts['PASS']} PASS, "
            f"{counts['NOT_EVALUABLE']} not evaluable. Protocol coverage rules: {len(coverage) - cov_fail} met, "
            f"{cov_fail} not met. {len(results['warnings'])} warning(s) listed above."
        ),
        Paragraph(results["dose_levels"]["note"]),
    ]
    return Section("Summary", tuple(items), "summary")


def _plan_section(results: dict[str, Any]) -> Section:
    rows = []
    for c in results["courses"]:
        rows.append((
            c["label"], c["plan_label"], ", ".join(c["radiation_types"]), str(c["fractions"]),
            _f(c["dose_per_fraction_gy"], 3), _f(c["prescription_dose_gy"], 2), c["dose_type"], c["folder"],
        ))
    table = Table(
        "Courses",
        ("course", "plan", "radiation", "fractions", "dose/fx [Gy(E)]", "prescription [Gy(E)]", "dose type", "folder"),
        tuple(rows),
    )
    p = results["parameters"]
    items: list[Paragraph | Table | Figure] = [table]
    a = results["alignment"]
    if a is None:
        items.append(Paragraph("No prior course: cumulative maps equal the current course's maps."))
    else:
        items.append(Paragraph(
            f"Prior dose alignment: {a['method']} ({a['registration_source']}); {a['transform']}; "
            f"{a['uncovered_volume_cc']:.1f} cc of the current grid lie outside the prior dose grid (prior dose 0 there)."
        ))
    items.append(Paragraph(
        f"Cumulative maps: current + {prior_term_text(results)} ({p['summation_method']}), alpha/beta "
        f"{p['alpha_beta_late_gy']:g} Gy (organs at risk); targets: current course only, alpha/beta "
        f"{p['alpha_beta_tumour_gy']:g} Gy."
    ))
    return Section("Plan summary and fractionation", tuple(items), "plan")


def _dose_level_section(results: dict[str, Any]) -> Section:
    levels = results["dose_levels"]
    rows, status = [], []
    for r in levels["rows"]:
        rows.append((
            str(r["level"]), f"{r['dose_per_fraction_gy']:g} GyE x {r['fractions']}", f"{r['total_gy']:.1f}",
            f"{r['bed2_gy']:.1f}", f"{r['bed9_gy']:.1f}", f"{r['eqd2_2_gy']:.1f}", f"{r['eqd2_9_gy']:.1f}",
            "this patient" if r["level"] == levels["patient_level"] else "",
        ))
        status.append(RowStyle.HIGHLIGHT if r["level"] == levels["patient_level"] else RowStyle.NONE)
    table = Table(
        "Protocol Table 1 (recomputed, LQ model)",
        ("level", "fractionation", "total [GyE]", "BED2 [Gy]", "BED9 [Gy]", "EQD2 a/b=2 [Gy]", "EQD2 a/b=9 [Gy]", "patient"),
        tuple(rows), tuple(status), note=levels["note"],
    )
    return Section("Dose levels", (table,), "dose-levels")


def _constraint_section(results: dict[str, Any]) -> Section:
    rows, status = [], []
    order = {"FAIL": 0, "NOT_EVALUABLE": 1, "PASS": 2}
    for r in sorted(results["constraints"]["rows"], key=lambda r: (order.get(r["status"], 3), r["source"], r["roi"])):
        unit = f" {r['unit']}" if r["unit"] else ""  # Gy, cGy, % or cc: the metric's own unit
        rows.append((
            r["source"], r["roi"] or "-", r["organ"], r["endpoint"], r["quantity"], r["metric"],
            f"{r['comparator']} {_f(r['limit'])}{unit}", "-" if r["value"] is None else f"{_f(r['value'])}{unit}",
            "-" if r["ntcp"] is None else f"{100 * r['ntcp']:.1f} %", r["status"], r["reason"],
        ))
        status.append(_status(r["status"]))
    c = results["constraints"]
    table = Table(
        "Organ-at-risk constraints",
        ("source", "ROI", "organ / structure", "endpoint", "quantity", "metric", "limit", "value", "NTCP", "status", "reason"),
        tuple(rows), tuple(status),
        note=f"Emami TD5/5 (Kutcher-Burman effective volume) and LKB NTCP (Burman parameters) on {c['quantity']} "
        f"(alpha/beta {c['alpha_beta_gy']:g} Gy); protocol rows on the quantity each names.",
    )
    return Section("Constraint checks", (table,), "constraints")


def _indices_section(results: dict[str, Any]) -> Section:
    rows, status = [], []
    cov_rows, cov_status = [], []
    for entry in results["indices"]:
        ind = entry["indices"]

        def v(name: str) -> str:
            item = ind.get(name) or {}
            return _f(item.get("value"), 3) if item.get("value") is not None else "undef."

        d = entry["target_dose_gy"]
        rows.append((
            entry["target"], entry["quantity"], entry["reference"]["label"], _f(entry["TV_cc"], 1), _f(entry["PIV_cc"], 1),
            v("target_coverage"), v("paddick_ci"), v("rtog_ci"), v("gradient_index"), v("icru83_hi"),
            _f(d["D98%"]), _f(d["D50%"]), _f(d["D2%"]), _f(d["Dmax"]),
        ))
        status.append(RowStyle.NONE)
        for cov in entry.get("coverage", []):
            cov_rows.append((
                entry["target"], entry["quantity"], cov["metric"], f">= {cov['required_volume_pct']:g} %",
                _f(cov["covered_pct"], 1), cov["status"].upper(), cov["reason"],
            ))
            cov_status.append(_status(cov["status"]))
    items: list[Paragraph | Table | Figure] = []
    if cov_rows:
        items.append(Table("Protocol coverage rules (V95% CTV, V90% PTV on the planned dose)",
                           ("target", "quantity", "metric", "required", "covered [%]", "status", "reason"),
                           tuple(cov_rows), tuple(cov_status)))
    if rows:
        items.append(Table(
            "Plan-quality indices at the prescription isodose",
            ("target", "quantity", "reference (100 %)", "TV [cc]", "PIV [cc]", "coverage", "Paddick CI", "RTOG CI",
             "GI (50 %)", "ICRU 83 HI", "D98% [Gy]", "D50% [Gy]", "D2% [Gy]", "Dmax [Gy]"),
            tuple(rows), note="BED9 indices use BED9 of the prescription as 100 %; see results.json for definitions.",
        ))
    else:
        items.append(Paragraph("No target indices (see warnings)."))
    return Section("Target indices", tuple(items), "indices")


def _colour(roi: Any) -> tuple[int, int, int] | None:
    """The ROI's display colour, darkened when too light to see on a white plot."""
    rgb = getattr(roi, "color_rgb", None)
    if not rgb:
        return None
    r, g, b = (int(c) for c in rgb)
    luminance = (0.299 * r + 0.587 * g + 0.114 * b) / 255.0
    if luminance > 0.75:
        scale = 0.75 / luminance
        r, g, b = int(r * scale), int(g * scale), int(b * scale)
    return r, g, b


def _dvh_section(maps: PatientMaps, dvhs: PatientDvhs) -> Section:
    items: list[Paragraph | Table | Figure] = []
    planned = dvhs.planned_dose_name
    for key, title, roles, fig_id in (
        (planned, f"DVH: planned dose ({planned})", {RoiRole.TARGET, RoiRole.ORGAN_AT_RISK}, "dvh-dose"),
        (maps.eqd2_late_cumulative_key, f"DVH: {maps.eqd2_late_cumulative_key} (current + r x prior, organs at risk)",
         {RoiRole.ORGAN_AT_RISK}, "dvh-eqd2-cumulative"),
    ):
        curves = []
        for roi in dvhs.rois:
            dvh = dvhs.curves.get((roi.name, key))
            if dvh is None or dvhs.roles[roi.name] not in roles:
                continue
            style = "-" if dvhs.roles[roi.name] is RoiRole.TARGET or key != planned else "--"
            curves.append(DvhCurve(roi.name, np.asarray(dvh.bin_edges_gy), np.asarray(dvh.cumulative_percent), _colour(roi), style))
        if curves:
            label = "Dose [GyE]" if planned == "rbe_weighted" and key == planned else "Dose [Gy]"
            items.append(Figure(fig_id, title, dvh_figure_png(curves, title=title, dose_label=label)))
    return Section("Dose-volume histograms", tuple(items), "dvh")


def _target_kind(roi: Any) -> str | None:
    kind = roi.interpreted_type.strip().upper()
    if kind in TARGET_COLOURS:
        return kind
    prefix = roi.name.strip().upper()[:3]
    return prefix if prefix in TARGET_COLOURS else None


def _overlay_section(maps: PatientMaps, dvhs: PatientDvhs, results: dict[str, Any], warnings: list[str]) -> Section:
    prescription = results["courses"][0]["prescription_dose_gy"]
    if prescription is None:
        warnings.append("no isodose overlays: the plan gives no prescription dose (the 100 % level)")
        return Section("Isodose overlays", (Paragraph("Not available (see warnings)."),), "overlays")
    dose = maps.current.dose
    try:
        series = load_ct_series(maps.folders.current)
        if series.frame_of_reference_uid != dose.frame_of_reference_uid:
            raise DosimetryError(
                f"CT series {series.series_instance_uid} is in frame {series.frame_of_reference_uid}, the dose in {dose.frame_of_reference_uid}"
            )
        ct = load_ct_volume(series)
    except DosimetryError as exc:
        warnings.append(f"no isodose overlays: no usable CT in {maps.folders.current}: {exc}")
        return Section("Isodose overlays", (Paragraph("Not available (see warnings)."),), "overlays")
    grid = series.grid
    contours: list[tuple[str, np.ndarray, tuple[int, int, int]]] = []
    by_kind: dict[str, np.ndarray] = {}
    for roi in dvhs.rois:
        kind = _target_kind(roi)
        if kind is None or dvhs.roles[roi.name] is not RoiRole.TARGET or not roi.closed_planar_contours:
            continue
        try:
            occ = rasterise_roi(roi, grid).occupancy
        except DosimetryError as exc:
            warnings.append(f"overlay: ROI {roi.name!r} not drawn: {exc}")
            continue
        if float(occ.sum()) <= 0:
            continue
        contours.append((roi.name, occ, TARGET_COLOURS[kind]))
        by_kind.setdefault(kind, occ)
    centre_from = next((k for k in ("GTV", "CTV", "PTV") if k in by_kind), None)
    if centre_from is not None:
        point = occupancy_centroid_mm(grid, by_kind[centre_from])
        where = f"centroid of the {centre_from}"
    else:
        k, j, i = np.unravel_index(int(np.argmax(dose.dose_gy)), dose.grid.shape_zyx)
        point = (float(dose.grid.x_mm[i]), float(dose.grid.y_mm[j]), float(dose.grid.z_mm[k]))
        where = "dose maximum (no GTV/CTV/PTV outline on the CT grid)"
        warnings.append(f"isodose overlays centred on the {where}")
    items: list[Paragraph | Table | Figure] = [Paragraph(
        f"Planes through the {where} at x = {point[0]:.1f}, y = {point[1]:.1f}, z = {point[2]:.1f} mm (DICOM LPS). "
        f"Isodose lines at 95/85/70/30 % of the prescription {prescription:g} Gy(E) in red/orange/yellow/blue "
        "(protocol Fig. 1); dose trilinearly interpolated onto the CT pixels; outlines from the ROI occupancy "
        "on the CT grid (GTV magenta, CTV cyan, PTV green)."
    )]
    for axis in (PlaneAxis.AXIAL, PlaneAxis.SAGITTAL, PlaneAxis.CORONAL):
        plane = ct_plane(ct, grid, dose, axis, point)
        overlay_contours = [OverlayContour(name, plane.take(occ), colour) for name, occ, colour in contours]
        coordinate = {"axial": "z", "sagittal": "x", "coronal": "y"}[axis.value]
        title = f"{axis.value.capitalize()} plane, {coordinate} = {plane.position_mm:.1f} mm"
        png = isodose_overlay_png(
            plane.ct_hu, plane.dose_gy, extent_mm=plane.extent_mm, reference_gy=float(prescription),
            contours=overlay_contours, title=title, axis_labels=plane.axis_labels, levels_pct=ISODOSE_LEVELS_PCT,
            flip_vertical=plane.flip_vertical,
        )
        items.append(Figure(f"overlay-{axis.value}", title, png))
    return Section("Isodose overlays", tuple(items), "overlays")


def _metrics_section(results: dict[str, Any], maps: PatientMaps, dvhs: PatientDvhs) -> Section:
    values = {(m["roi"], m["quantity"], m["metric"]): m["value"] for m in results["metrics"]}
    cum = maps.eqd2_late_cumulative_key
    # The maps' names follow the alpha/beta of the run (BED9 and EQD2_2 with the defaults).
    bed_tumour = lq_key(DoseQuantity.BED, maps.alpha_beta_tumour_gy)
    eqd2_late = lq_key(DoseQuantity.EQD2, maps.alpha_beta_late_gy)
    rows = []
    for roi in dvhs.rois:
        q = dvhs.planned_dose_name

        def g(quantity: str, metric: str) -> str:
            return _f(values.get((roi.name, quantity, metric)))

        rows.append((
            roi.name, dvhs.roles[roi.name].value, g(q, "Mean[Gy]"), g(q, "D98%[Gy]"), g(q, "D2%[Gy]"), g(q, "D0.03cc[Gy]"),
            g(q, "Max[Gy]"), g(bed_tumour, "D98%[Gy]"), g(eqd2_late, "D0.03cc[Gy]"), g(cum, "D0.03cc[Gy]"), g(cum, "Mean[Gy]"),
        ))
    table = Table(
        "Key DVH metrics (all rows in metrics.csv)",
        ("ROI", "role", f"{dvhs.planned_dose_name} Mean", "D98%", "D2%", "D0.03cc", "Max", f"{bed_tumour} D98%", f"{eqd2_late} D0.03cc",
         f"{cum} D0.03cc", f"{cum} Mean"),
        tuple(rows), note="Doses in Gy (GyE for RBE-weighted dose).",
    )
    return Section("DVH metrics", (table,), "metrics")


def _provenance_section(results: dict[str, Any]) -> Section:
    s = results["software"]
    params = tuple((k, "-" if v is None else str(v)) for k, v in results["parameters"].items())
    inputs = tuple(
        (i["path"], i["course"], i["modality"], i["sop_instance_uid"] or "-", i["sha256"]) for i in results["inputs"]
    )
    outputs = tuple((o["path"], o["kind"], o["description"], o["sop_instance_uid"] or "-") for o in results["outputs"])
    return Section(
        "Provenance",
        (
            Paragraph(f"{s['name']} {s['version']}; generated {results['generated_utc']}; results.json schema {results['schema_version']}."),
            Table("Parameters", ("parameter", "value"), params),
            Table("Input files", ("path", "course", "modality", "SOP Instance UID", "SHA-256"), inputs),
            Table("Outputs", ("file", "kind", "description", "SOP Instance UID"), outputs),
        ),
        "provenance",
    )


def build_report(results: dict[str, Any], maps: PatientMaps, dvhs: PatientDvhs) -> Page:
    """The report page from the results.json document (every number shown is the same as there) and
    the DVH curves and maps of the patient; ``Page.warnings`` are the problems met while drawing
    (already on the page)."""
    extra: list[str] = []
    overlays = _overlay_section(maps, dvhs, results, extra)
    patient = results["patient"]
    sections = (
        _summary(results),
        _plan_section(results),
        _dose_level_section(results),
        _constraint_section(results),
        *reirradiation_sections(results),
        _indices_section(results),
        _dvh_section(maps, dvhs),
        overlays,
        _metrics_section(results, maps, dvhs),
        *filter(None, [planning_system_section(results), convention_sensitivity_section(results)]),
        _provenance_section(results),
    )
    page = Report(
        title=f"Dosimetry report: patient {patient['patient_id']} {patient['patient_name']}".strip(),
        subtitle=f"Carbon-ion re-irradiation check; {results['courses'][0]['plan_label']}; generated {results['generated_utc']}",
        sections=sections,
        warnings=tuple(dict.fromkeys([*results["warnings"], *extra])),
    )
    return Page(render_html(page), tuple(extra))
