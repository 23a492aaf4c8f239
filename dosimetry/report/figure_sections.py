"""The report's figure sections: DVH plots and isodose overlays on the CT.

DVHs: the planned dose (targets and organs at risk) and, with a prior course, the cumulative EQD2
of the organs at risk (current + r x prior); without a prior course the organs' EQD2 of the
current course. Isodose overlays: axial, sagittal and coronal CT planes through the target
centroid, 95/85/70/30 % of the prescription in red/orange/yellow/blue (protocol Fig. 1).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from dosimetry.dvh import rasterise_roi
from dosimetry.errors import DosimetryError
from dosimetry.io import load_ct_series, load_ct_volume
from dosimetry.radiobiology.alpha_beta import RoiRole
from dosimetry.report.content import Figure, Item, Paragraph, Section
from dosimetry.report.figures import (
    DvhCurve,
    OverlayContour,
    dvh_figure_png,
    isodose_overlay_png,
)
from dosimetry.report.planes import PlaneAxis, ct_plane, occupancy_centroid_mm

if TYPE_CHECKING:
    from dosimetry.patient.dvhs import PatientDvhs
    from dosimetry.patient.maps import PatientMaps

#: Target outline colours (protocol Fig. 1 style): GTV, CTV, PTV.
TARGET_COLOURS = {"GTV": (220, 0, 220), "CTV": (0, 200, 255), "PTV": (0, 255, 0)}
ISODOSE_LEVELS_PCT = (95.0, 85.0, 70.0, 30.0)


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


def dvh_section(maps: PatientMaps, dvhs: PatientDvhs, results: dict[str, Any]) -> Section:
    items: list[Item] = []
    planned = dvhs.planned_dose_name
    current = results["courses"][0]
    unit = "Gy(RBE)" if current["dose_type"] == "EFFECTIVE" else "Gy"
    adjective = "RBE-weighted" if current["dose_type"] == "EFFECTIVE" else "physical"
    cumulative = maps.eqd2_late_cumulative_key
    if results.get("alignment") is not None:
        late_title = f"DVH: {cumulative} = current + {results['parameters']['residual']:g} x prior (organs at risk)"
    else:
        late_title = f"DVH: EQD2 (alpha/beta {maps.alpha_beta_late_gy:g} Gy) of the current course only (organs at risk)"
    for key, title, roles, fig_id, label in (
        (planned, f"DVH: planned {adjective} dose", {RoiRole.TARGET, RoiRole.ORGAN_AT_RISK}, "dvh-dose", f"Dose [{unit}]"),
        (cumulative, late_title, {RoiRole.ORGAN_AT_RISK}, "dvh-eqd2-cumulative", "EQD2 [Gy]"),
    ):
        curves = []
        for roi in dvhs.rois:
            dvh = dvhs.curves.get((roi.name, key))
            if dvh is None or dvhs.roles[roi.name] not in roles:
                continue
            style = "-" if dvhs.roles[roi.name] is RoiRole.TARGET or key != planned else "--"
            curves.append(DvhCurve(roi.name, np.asarray(dvh.bin_edges_gy), np.asarray(dvh.cumulative_percent), _colour(roi), style))
        if curves:
            items.append(Figure(fig_id, title, dvh_figure_png(curves, title=title, dose_label=label)))
    return Section("Dose-volume histograms", tuple(items), "dvh")


def _target_kind(roi: Any) -> str | None:
    kind = roi.interpreted_type.strip().upper()
    if kind in TARGET_COLOURS:
        return kind
    prefix = roi.name.strip().upper()[:3]
    return prefix if prefix in TARGET_COLOURS else None


def overlay_section(maps: PatientMaps, dvhs: PatientDvhs, results: dict[str, Any], warnings: list[str]) -> Section:
    prescription = results["courses"][0]["prescription_dose_gy"]
    unit = "Gy(RBE)" if results["courses"][0]["dose_type"] == "EFFECTIVE" else "Gy"
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
    items: list[Item] = [Paragraph(
        f"Planes through the {where} at x = {point[0]:.1f}, y = {point[1]:.1f}, z = {point[2]:.1f} mm (DICOM LPS). "
        f"Isodose lines at 95/85/70/30 % of the prescription {prescription:g} {unit} in red/orange/yellow/blue "
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


