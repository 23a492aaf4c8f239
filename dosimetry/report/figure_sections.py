"""The report's figure sections: DVH plots and isodose overlays on the CT.

DVHs: the planned dose (targets and organs at risk) and, with a prior course, the cumulative EQD2
of the organs at risk (current + r x prior); without a prior course the organs' EQD2 of the
current course. Isodose overlays: axial, sagittal and coronal CT planes through the target
centroid, 95/85/70/30 % of the prescription in red/orange/yellow/blue (protocol Fig. 1).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from dosimetry.dvh import rasterise_roi
from dosimetry.errors import DosimetryError
from dosimetry.io import load_ct_series
from dosimetry.patient.maps import lq_key, lq_slabs
from dosimetry.patient.verdict import constraint_value_text
from dosimetry.quantities import DoseQuantity
from dosimetry.radiobiology.alpha_beta import RoiRole
from dosimetry.report.content import Figure, Item, Paragraph, PendingFigure, Section
from dosimetry.report.figure_data import (
    DvhCurve,
    DvhMarker,
    DvhPanel,
    ct_window_text,
)
from dosimetry.report.overlay_scene import (
    CENTRE_AXES,
    TARGET_COLOURS,
    EarlyOverlays,
    OverlayScene,
    SceneInputs,
    centre_title,
    roi_colour,
)
from dosimetry.report.planes import PlaneAxis, nearest_index, plane_unavailable
from dosimetry.report.reirradiation import prior_term_text
from dosimetry.report.render_process import FigureJob, FigureRenderer, draw
from dosimetry.structures import Roi

if TYPE_CHECKING:
    from dosimetry.io.ct_reader import CtSeries
    from dosimetry.patient.dvhs import PatientDvhs
    from dosimetry.patient.maps import PatientMaps

def figure_item(renderer: FigureRenderer | None, job: FigureJob, title: str, caption: str = "") -> Figure | PendingFigure:
    """The figure of ``job``: drawn here without a ``renderer``, else sent to it (the PNG comes later)."""
    if renderer is None:
        return Figure(job.figure_id, title, draw(job), caption=caption)
    return PendingFigure(job.figure_id, title, renderer.submit(job), caption=caption)


_colour = roi_colour


def side_linestyle(name: str) -> str:
    """Line style by body side, so that a left and a right organ of one colour can be told apart:
    right dashed; left, midline and unknown side solid."""
    n = name.strip()
    low = n.casefold()
    if re.search(r"(_r|\br|_rt|\brt|right)$", low) or low.startswith(("r_", "right")):
        return "--"
    return "-"


def _volume_at(dvh: Any, dose_gy: float) -> float:
    edges, volume = np.asarray(dvh.bin_edges_gy), np.asarray(dvh.cumulative_percent)
    return float(np.interp(dose_gy, edges, volume, left=100.0, right=0.0))


def _markers(results: dict[str, Any], dvhs: PatientDvhs, key: str, quantities: set[str]) -> tuple[DvhMarker, ...]:
    """A marker at each constraint's limit on its organ's curve (D-metrics at the limit dose; V-metrics at
    their dose and limit volume); only rows on ``quantities`` (the plotted map)."""
    out = []
    for r in results["constraints"]["rows"]:
        if r["quantity"] not in quantities or r["limit"] is None or not r["roi"]:
            continue
        dvh = dvhs.curves.get((r["roi"], key))
        if dvh is None:
            continue
        v = re.match(r"^C?V(\d+(?:\.\d+)?)(Gy|cGy)\[%\]$", r["metric"])
        if v:
            dose = float(v.group(1)) / (100.0 if v.group(2) == "cGy" else 1.0)
            volume = float(r["limit"])
        elif r["unit"] in ("Gy", "cGy"):
            dose = float(r["limit"]) / (100.0 if r["unit"] == "cGy" else 1.0)
            volume = _volume_at(dvh, dose)
        else:
            continue
        label = f"{r['roi']} {r['metric'].split('[')[0]} {r['comparator']} {r['limit']:g} {r['unit']}"
        out.append(DvhMarker(r["roi"], dose, volume, label, r["status"] == "FAIL"))
    return tuple(dict.fromkeys(out))


def dvh_section(maps: PatientMaps, dvhs: PatientDvhs, results: dict[str, Any], renderer: FigureRenderer | None = None) -> Section:
    """Planned dose (targets | organs at risk, prescription line) and the organs' EQD2 with the Emami limits;
    figures drawn by ``renderer`` (None: here)."""
    items: list[Item] = []
    planned = dvhs.planned_dose_name
    current = results["courses"][0]
    unit = "Gy(RBE)" if current["dose_type"] == "EFFECTIVE" else "Gy"
    adjective = "RBE-weighted" if current["dose_type"] == "EFFECTIVE" else "physical"
    cumulative = maps.eqd2_late_cumulative_key
    prescription = current["prescription_dose_gy"]
    rx_line: tuple[tuple[float, str], ...] = () if prescription is None else ((float(prescription), f"prescription {prescription:g} {unit}"),)

    def curves(key: str, role: RoiRole) -> tuple[DvhCurve, ...]:
        found = []
        for roi in dvhs.rois:
            dvh = dvhs.curves.get((roi.name, key))
            if dvh is not None and dvhs.roles[roi.name] is role:
                found.append(DvhCurve(roi.name, np.asarray(dvh.bin_edges_gy), np.asarray(dvh.cumulative_percent), _colour(roi),
                                      side_linestyle(roi.name)))
        return tuple(found)

    planned_markers = _markers(results, dvhs, planned, {"dose_current"})
    panels = [DvhPanel("Targets", curves(planned, RoiRole.TARGET), (), rx_line),
              DvhPanel("Organs at risk", curves(planned, RoiRole.ORGAN_AT_RISK), planned_markers, rx_line)]
    title = f"DVH: planned {adjective} dose"
    if any(p.curves for p in panels):
        items.append(figure_item(renderer, FigureJob("dvh-dose", "dvh_panels", (panels,), {"title": title, "dose_label": f"Dose [{unit}]"}),
                                 title, caption="Right organs dashed, left and midline organs solid; dash-dot vertical line: "
                            "the prescription. Markers: constraint limits on the planned dose (filled red: failed)."))
    if results.get("alignment") is not None:
        late_title = f"DVH: {cumulative} = current + {prior_term_text(results)} (organs at risk)"
    else:
        late_title = f"DVH: EQD2 (alpha/beta {maps.alpha_beta_late_gy:g} Gy) of the current course only (organs at risk)"
    late_markers = _markers(results, dvhs, cumulative, {"eqd2_cumulative"})
    late = DvhPanel("Organs at risk", curves(cumulative, RoiRole.ORGAN_AT_RISK), late_markers)
    if late.curves:
        items.append(figure_item(renderer, FigureJob("dvh-eqd2-cumulative", "dvh_panels", ([late],),
                                                     {"title": late_title, "dose_label": "EQD2 [Gy]"}),
                                 late_title, caption="Markers at each Emami / protocol limit on its organ's curve: a filled red triangle "
                            "is a failed check (the curve runs beyond it), an open circle a check that holds. Right organs "
                            "dashed, left and midline organs solid."))
    return Section("Dose-volume histograms", tuple(items), "dvh")


def _target_kind(roi: Any) -> str | None:
    kind = roi.interpreted_type.strip().upper()
    if kind in TARGET_COLOURS:
        return kind
    prefix = roi.name.strip().upper()[:3]
    return prefix if prefix in TARGET_COLOURS else None


def _quantity_map(maps: PatientMaps, quantity: str) -> Any:
    """The dose map (on the current dose grid) a constraint quantity is evaluated on, or None."""
    if quantity == "eqd2_cumulative":
        m = maps.cumulative.get(maps.eqd2_late_cumulative_key)
        return None if m is None else m.dose
    if quantity == "eqd2_current":
        key = lq_key(DoseQuantity.EQD2, maps.alpha_beta_late_gy)
        lq = maps.lq.get(key)
        return None if lq is None else lq.dose
    if quantity == "dose_current":
        return maps.current.dose
    return None


def _voxel_mm(grid: Any, index: tuple[int, int, int]) -> tuple[float, float, float]:
    k, j, i = index
    return float(grid.x_mm[i]), float(grid.y_mm[j]), float(grid.z_mm[k])


def checked_text(row: dict[str, Any]) -> str:
    """The failing check beside the hottest voxel, in the check's own unit (Gy, %, cc); empty without a value."""
    if row["value"] is None:
        return ""
    unit = f" {row['unit']}" if row["unit"] else ""
    value = constraint_value_text(row["value"], row["limit"], row["comparator"], row["status"])
    # The DVH engine also samples the outline's partial voxels (trilinear interpolation towards hotter
    # neighbours), so a checked dose can exceed the hottest voxel centre inside the organ.
    note = " (includes sub-voxel samples at the outline)" if row["unit"] == "Gy" else ""
    return f"; checked {row['metric']} = {value}{unit}{note}, limit {row['comparator']} {row['limit']:g}{unit}"


def hottest_voxels(
    maps: PatientMaps, dvhs: PatientDvhs, results: dict[str, Any], warnings: list[str], *, held: list[Any] | None = None,
) -> list[tuple[str, tuple[float, float, float], str]]:
    """(figure id, point (x, y, z) mm, label) of the hottest voxel of every failing organ on the quantity it failed on.

    Each quantity's map is asked for once (organs failing on different quantities no longer make it
    compute a map again); ``held``, when given, receives those maps so that the caller can keep them
    for :func:`overlap_voxel` (the map sets give a map again while its grid is held)."""
    rois = {roi.name: roi for roi in dvhs.rois}
    out: list[tuple[str, tuple[float, float, float], str]] = []
    seen: set[str] = set()
    doses: dict[str, Any] = {}
    for r in results["constraints"]["rows"]:
        if r["status"] != "FAIL" or not r["roi"] or r["roi"] in seen or r["roi"] not in rois:
            continue
        seen.add(r["roi"])
        if r["quantity"] not in doses:
            doses[r["quantity"]] = _quantity_map(maps, r["quantity"])
            if held is not None:
                held.append(doses[r["quantity"]])
        dose = doses[r["quantity"]]
        if dose is None:
            continue
        try:
            occupancy = rasterise_roi(rois[r["roi"]], dose.grid, end_cap=dvhs.end_cap).occupancy
        except DosimetryError as exc:
            warnings.append(f"overlay: no slice through the hottest voxel of {r['roi']!r}: {exc}")
            continue
        # the first hottest voxel in C order among the occupied ones (as argmax over the grid would
        # give), without a full-grid copy of the dose
        occupied = np.flatnonzero(occupancy > 0)
        if occupied.size == 0:
            continue
        values = np.asarray(dose.dose_gy).reshape(-1)[occupied]
        flat = int(occupied[int(np.argmax(values))])
        index = np.unravel_index(flat, occupancy.shape)
        value = float(values.max())
        fid = "overlay-hot-" + re.sub(r"[^A-Za-z0-9_-]", "_", r["roi"])
        label = f"{r['roi']}: hottest dose-grid voxel inside it {value:.2f} Gy"
        label += checked_text(r)
        out.append((fid, _voxel_mm(dose.grid, index), label))  # type: ignore[arg-type]
    return out


def _quantity_name(results: dict[str, Any], maps: PatientMaps) -> str:
    return maps.eqd2_late_cumulative_key if results.get("alignment") is not None else f"EQD2_{maps.alpha_beta_late_gy:g} current course"


#: slabs of the overlap computed at once (:func:`overlap_voxel`; 16 x 256 x 256 float64 = 8 MB)
_OVERLAP_SLABS = 16


def overlap_voxel(maps: PatientMaps) -> tuple[tuple[float, float, float], str] | None:
    """Where prior and current dose overlap most: the axial slice with the largest sum of
    min(current EQD2, r x prior EQD2), at its voxel of largest overlap. None without a prior course."""
    if maps.prior is None:
        return None
    key = lq_key(DoseQuantity.EQD2, maps.alpha_beta_late_gy)
    cumulative = _quantity_map(maps, "eqd2_cumulative")
    if key not in maps.lq or cumulative is None:
        return None
    cum = np.asarray(cumulative.dose_gy)
    # In blocks of slabs through small buffers: the whole-grid overlap and difference were two grid
    # copies (160 MB on a 256 x 256 x 160 grid) at the report's memory peak, and the current EQD2 is
    # made slab by slab (LqMapSet.slabs, the same numbers): measured (issue 20,
    # clinical case) the whole current map was 84 MB of the main process's peak while a render
    # process held the overlays' CT. Same sums per slab (the same reduction over each slab's
    # contiguous y, x), same argmax.
    slabs = lq_slabs(maps.lq, key)
    sums = np.empty(cum.shape[0])
    largest = -np.inf
    now = np.empty((min(_OVERLAP_SLABS, cum.shape[0]), *cum.shape[1:]))
    buffer = np.empty_like(now)
    for start in range(0, cum.shape[0], _OVERLAP_SLABS):
        block = buffer[: min(_OVERLAP_SLABS, cum.shape[0] - start)]
        stop = start + block.shape[0]
        for z in range(start, stop):
            now[z - start] = next(slabs)
        np.subtract(cum[start:stop], now[: block.shape[0]], out=block)
        np.minimum(now[: block.shape[0]], block, out=block)
        sums[start:stop] = block.sum(axis=(1, 2))
        largest = max(largest, float(block.max()))
    if not largest > 0:
        return None
    k = int(np.argmax(sums))
    now_k = next(itertools.islice(lq_slabs(maps.lq, key), k, None))
    overlap_k = np.minimum(now_k, cum[k] - now_k)
    j, i = np.unravel_index(int(np.argmax(overlap_k)), overlap_k.shape)
    value = float(overlap_k[j, i])
    point = _voxel_mm(cumulative.grid, (k, int(j), int(i)))
    return point, f"largest prior/current overlap: min(current EQD2, r x prior EQD2) = {value:.2f} Gy at this voxel"


def drawable_rois(dvhs: PatientDvhs | None, rois: Sequence[Roi] = (), end_cap: Any = None) -> tuple[tuple[Roi, str | None], ...]:
    """The ROIs the overlays outline, in the report's order, with their target kind (None: organ at
    risk): targets and organs at risk with closed planar contours. From the DVHs' ROIs and roles, or,
    before the DVHs (``dvhs`` None), from ``rois`` and :func:`~dosimetry.radiobiology.alpha_beta.roi_role`
    (the roles the DVH stage gives them)."""
    from dosimetry.radiobiology.alpha_beta import roi_role

    pairs = [(roi, dvhs.roles[roi.name]) for roi in dvhs.rois] if dvhs is not None else [(roi, roi_role(roi)) for roi in rois]
    drawable: list[tuple[Roi, str | None]] = []
    for roi, role in pairs:
        kind = _target_kind(roi) if role is RoiRole.TARGET else None
        if (kind is None and role is not RoiRole.ORGAN_AT_RISK) or not roi.closed_planar_contours:
            continue
        drawable.append((roi, kind))
    return tuple(drawable)


def overlay_ct_series(maps: PatientMaps) -> CtSeries:
    """The CT series of the overlays, in the dose's frame; DosimetryError when there is none usable."""
    dose = maps.current.dose
    # the series discovery assembled when the course was loaded, if it is the folder's only one
    # (the same series load_ct_series would read; :attr:`Course.ct_series`)
    series = maps.current.ct_series or load_ct_series(maps.folders.current)
    if series.frame_of_reference_uid != dose.frame_of_reference_uid:
        raise DosimetryError(
            f"CT series {series.series_instance_uid} is in frame {series.frame_of_reference_uid}, the dose in {dose.frame_of_reference_uid}"
        )
    return series


def overlay_reference(course: Mapping[str, Any]) -> tuple[float | None, str]:
    """The overlays' 100 % level (the prescription, None without one) and dose unit, from the
    current course's record of results.json."""
    return course["prescription_dose_gy"], "Gy(RBE)" if course["dose_type"] == "EFFECTIVE" else "Gy"


def overlay_section(
    maps: PatientMaps, dvhs: PatientDvhs, results: dict[str, Any], warnings: list[str], renderer: FigureRenderer | None = None,
    early: EarlyOverlays | None = None,
) -> Section:
    """Three planes through the target centroid, then an axial slice through the hottest voxel of every
    failing organ and one through the largest prior/current overlap, each at full width with its colour bar;
    figures drawn by ``renderer`` (None: here). ``early``: the CT scene built and the
    centre planes drawn in the render processes since before the analysis
    (:func:`~dosimetry.report.overlay_scene.start_early_overlays`), used when it was started from
    the inputs and prescription used here; else the scene is built here (the same figures)."""
    prescription, unit = overlay_reference(results["courses"][0])
    if prescription is None:
        warnings.append("no isodose overlays: the plan gives no prescription dose (the 100 % level)")
        return Section("Isodose overlays", (Paragraph("Not available (see warnings)."),), "overlays")
    dose = maps.current.dose
    # the hottest voxels and the overlap need the dose maps (each computed on demand), not the CT:
    # found before the CT volume is read, so that the maps and the CT are not held at once (the
    # report's memory peak); their warnings keep their place in the list below
    hottest_warnings: list[str] = []
    # Measured reason (issue 20, clinical 256 x 256 x 160 grid): the overlap asked again for the EQD2
    # maps the hottest voxels had just used, one accumulation (about 0.2 s) and one LQ map more; the
    # overlap holds both maps anyway, so keeping them from one step to the next adds no peak.
    held: list[Any] = []
    hottest = hottest_voxels(maps, dvhs, results, hottest_warnings, held=held)
    overlap = overlap_voxel(maps)
    del held  # the maps are not held with the CT
    try:
        series = overlay_ct_series(maps)
    except DosimetryError as exc:
        warnings.append(f"no isodose overlays: no usable CT in {maps.folders.current}: {exc}")
        return Section("Isodose overlays", (Paragraph("Not available (see warnings)."),), "overlays")
    inputs = SceneInputs(series, dose, drawable_rois(dvhs), dvhs.end_cap)
    if early is not None and not (early.inputs.same_as(inputs) and early.reference_gy == float(prescription) and early.dose_unit == unit):
        early = None  # started from other inputs: built here
    scene = None if early is not None else OverlayScene(inputs)
    summary = early.summary() if early is not None else scene.summary  # type: ignore[union-attr]
    if summary.error is not None:
        warnings.append(f"no isodose overlays: no usable CT in {maps.folders.current}: {summary.error}")
        return Section("Isodose overlays", (Paragraph("Not available (see warnings)."),), "overlays")
    warnings.extend(series.warnings)  # skipped files and uneven slices reach the page and results.json
    grid = series.grid
    point, where, centre_from = summary.point_mm, summary.where, summary.centre_from
    axial = {nearest_index(grid.z_mm, z) for z in (point[2], *(at[2] for _, at, _ in hottest),
                                                   *((overlap[0][2],) if overlap is not None else ()))}
    failures = early.extend(axial) if early is not None else scene.extend(axial)  # type: ignore[union-attr]
    for n, text in failures:
        warnings.append(f"overlay: ROI {inputs.drawable[n][0].name!r} not drawn: {text}")
    if centre_from is None:
        warnings.append(f"isodose overlays centred on the {where}")
    items: list[Item] = [Paragraph(
        f"Planes through the {where} at x = {point[0]:.1f}, y = {point[1]:.1f}, z = {point[2]:.1f} mm (DICOM LPS), then "
        "an axial slice through the hottest voxel of every failing organ and one through the largest overlap of the "
        f"prior and current dose. Isodose bands at 95/85/70/30 % of the prescription {prescription:g} {unit} in "
        "red/orange/yellow/blue (protocol Fig. 1; colour bar in % and dose); dose trilinearly interpolated onto the CT "
        f"pixels; {ct_window_text()}; outlines from the ROI occupancy on the CT grid (GTV magenta, CTV cyan, PTV green, "
        "organs at risk in their structure-set colour)."
    )]

    def overlay(fid: str, axis: PlaneAxis, at: tuple[float, float, float], title: str, marker: str | None = None,
                drawn: Callable[[], Any] | None = None) -> None:
        reason = plane_unavailable(grid, axis, at)
        if reason is not None:
            if drawn is not None:
                drawn()  # the render process found it unavailable too (answer None)
            warnings.append(f"overlay: {title[0].lower()}{title[1:]}: not drawn: {reason}")
            return
        if early is not None:
            png = drawn if drawn is not None else early.plane(fid, axis, at, title, marker)
            items.append(PendingFigure(fid, title, png, caption=marker or ""))
            return
        assert scene is not None
        job = scene.plane_job(fid, axis, at, title, marker, float(prescription), unit)
        items.append(figure_item(renderer, job, title, caption=marker or ""))

    for k, axis in enumerate(CENTRE_AXES):
        overlay(f"overlay-{axis.value}", axis, point, centre_title(axis, point, centre_from),
                drawn=None if early is None else early.centre_planes[k])
    warnings.extend(hottest_warnings)
    for fid, at, label in hottest:
        overlay(fid, PlaneAxis.AXIAL, at, f"Axial plane z = {at[2]:.1f} mm through the hottest voxel of "
                f"{label.split(':')[0]} (failing; {_quantity_name(results, maps)})", label)
    if overlap is not None:
        at, label = overlap
        overlay("overlay-overlap", PlaneAxis.AXIAL, at, f"Axial plane z = {at[2]:.1f} mm through the largest overlap "
                "of prior and current dose", label)
    return Section("Isodose overlays", tuple(items), "overlays")
