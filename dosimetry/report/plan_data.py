"""The report's plan section: what a physicist checks on the plan before signing.

Courses and fractionation; for each course the planning system and version, approval status,
reviewer and date, the RBE model ("not recorded" when the planning system does not record it),
the ion species, the prescription, and every beam with its gantry and couch angles
(:func:`dosimetry.io.plan_details.read_plan_details`); the current dose grid spacing; how the
prior dose was (or was not) summed; every ROI with its volume. The modality (with the ion species)
also titles the page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from dosimetry.errors import DosimetryError
from dosimetry.io.plan_details import PlanDetails, read_plan_details
from dosimetry.report import sections
from dosimetry.report.content import Item, Paragraph, Section, Table

if TYPE_CHECKING:
    from dosimetry.patient.maps import PatientMaps
    from dosimetry.radiobiology.course import Course

#: Ion species by atomic number (DICOM RadiationAtomicNumber of an RT Ion Plan's ION beams).
ION_NAMES = {1: "proton", 2: "helium-ion", 3: "lithium-ion", 6: "carbon-ion", 8: "oxygen-ion", 10: "neon-ion"}
_SYMBOLS = {1: "H", 2: "He", 3: "Li", 6: "C", 8: "O", 10: "Ne"}


def ion_name(atomic_number: int | None, mass_number: int | None) -> str:
    """``carbon-ion (12C)`` for Z = 6, A = 12; empty for a beam that is not an ion beam."""
    if atomic_number is None:
        return ""
    name = ION_NAMES.get(atomic_number, f"ion Z={atomic_number}")
    symbol = _SYMBOLS.get(atomic_number)
    return f"{name} ({mass_number}{symbol})" if mass_number and symbol else name


def ion_species(maps: PatientMaps) -> tuple[str, ...]:
    """Ion species of the current plan's ION beams (e.g. ``("carbon-ion (12C)",)``), empty for none."""
    found: dict[str, None] = {}
    for group in maps.current.plan.fraction_groups:
        for beam in group.beams:
            if beam.atomic_number is not None:
                found[ion_name(beam.atomic_number, beam.mass_number)] = None
    return tuple(found)


def modality_name(results: dict[str, Any], maps: PatientMaps | None = None) -> str:
    """``Carbon-ion``, ``Proton``, ``Photon`` ... of the current course (capitalised, for titles)."""
    types = results["courses"][0]["radiation_types"]
    if maps is not None and "ION" in types:
        species = ion_species(maps)
        if species:
            return " + ".join(s.split(" (")[0] for s in species).capitalize()
    names = {"ION": "ion", "PROTON": "proton", "PHOTON": "photon", "ELECTRON": "electron", "NEUTRON": "neutron"}
    return (" + ".join(names.get(t, t.lower()) for t in types) or "unknown modality").capitalize()


def _angle(value: float | None) -> str:
    return "not recorded" if value is None else f"{value:g}°"


def _details(course: Course, warnings: list[str]) -> PlanDetails | None:
    if course.plan.source_path is None:
        warnings.append("plan data: the plan has no source file to read beams and approval from")
        return None
    try:
        return read_plan_details(course.plan.source_path)
    except DosimetryError as exc:
        warnings.append(f"plan data: {exc}")
        return None


def rbe_model_text(course: Course) -> str:
    """The RBE model the plan or dose records (LEM or MKM named in their descriptions), with where; else
    "not recorded" and where it was looked for."""
    from dosimetry.radiobiology.rbe_conversion import recorded_rbe_model

    try:
        model, where = recorded_rbe_model(course.plan.source_path, *course.dose_paths)
    except DosimetryError as exc:
        return f"inconsistent: {exc}"
    return f"{model.value} ({where})" if model is not None else f"not recorded ({where})"


def _spacing(course: Course) -> str:
    g = course.dose.grid
    dz = np.unique(np.round(np.diff(np.asarray(g.z_mm)), 3)) if len(g.z_mm) > 1 else np.asarray([])
    z = "single slice" if dz.size == 0 else f"{dz[0]:g}" if dz.size == 1 else f"{dz.min():g}-{dz.max():g} (non-uniform)"
    nz, ny, nx = g.shape_zyx
    return f"{g.spacing_x_mm:g} x {g.spacing_y_mm:g} x {z} mm (x, y, z); {nx} x {ny} x {nz} voxels"


def plan_data_table(results: dict[str, Any], maps: PatientMaps, warnings: list[str]) -> tuple[Table, Table | None]:
    """One row per item and course (current, prior), and one row per beam."""
    courses: list[tuple[str, Course, dict[str, Any]]] = [("current", maps.current, results["courses"][0])]
    if maps.prior is not None and len(results["courses"]) > 1:
        courses.append(("prior", maps.prior, results["courses"][1]))
    rows: list[tuple[str, ...]] = []
    beam_rows: list[tuple[str, ...]] = []
    for label, course, record in courses:
        details = _details(course, warnings)
        unit = sections.dose_unit(record)
        species = sorted({ion_name(b.atomic_number, b.mass_number) for g in course.plan.fraction_groups for b in g.beams} - {""})
        prescriptions = "; ".join(
            f"{p.structure_type or 'dose reference'} {p.description or ''}".strip()
            + ("" if p.target_prescription_dose_gy is None else f": {p.target_prescription_dose_gy:g} {unit}")
            for p in course.plan.prescriptions
        )
        rx = "not recorded" if record["prescription_dose_gy"] is None else (
            f"{record['prescription_dose_gy']:g} {unit} in {record['fractions']} fractions "
            f"({record['dose_per_fraction_gy']:.4g} {unit} per fraction)")
        rows += [
            (label, "plan", f"{record['plan_label']} ({course.plan.name})" if course.plan.name else record["plan_label"]),
            (label, "radiation", ", ".join(record["radiation_types"]) + (f"; ion species {', '.join(species)}" if species else "")),
            (label, "dose type", f"{record['dose_type']} ({unit})"),
            (label, "prescription", rx + (f"; dose references: {prescriptions}" if prescriptions else "")),
        ]
        if details is not None:
            approval = details.approval_status or "not recorded"
            if details.reviewer_name or details.review_date:
                approval += f" by {details.reviewer_name or 'reviewer not recorded'} on {details.review_date or 'date not recorded'}"
            rows += [(label, "planning system", details.planning_system), (label, "approval", approval)]
            if "ION" in record["radiation_types"] or record["dose_type"] == "EFFECTIVE":
                rows.append((label, "RBE model", rbe_model_text(course)))
            for b in details.beams:
                beam_rows.append((
                    label, "-" if b.number is None else str(b.number), b.name or "-",
                    b.radiation_type + (f" {ion_name(b.ion_atomic_number, b.ion_mass_number)}" if b.ion_atomic_number else ""),
                    b.treatment_machine or "-", _angle(b.gantry_angle_deg), _angle(b.couch_angle_deg),
                ))
        rows.append((label, "dose grid", _spacing(course)))
    table = Table("Plan data", ("course", "item", "value"), tuple(rows))
    beams = None if not beam_rows else Table(
        "Beams", ("course", "number", "name", "radiation", "machine", "gantry", "couch"), tuple(beam_rows),
        note="Angles of the first control point (IEC 61217): GantryAngle and PatientSupportAngle.",
    )
    return table, beams


def roi_table(results: dict[str, Any]) -> Table:
    rows = tuple(
        (r["name"], r["role"].replace("_", " ").lower(), r["interpreted_type"] or "-", sections.fmt(r["volume_cc"]),
         sections.fmt(r["volume_in_dose_grid_cc"]))
        for r in results["rois"]
    )
    return Table("ROI volumes", ("ROI", "role", "interpreted type", "volume [cc]", "inside the dose grid [cc]"), rows,
                 note="Volumes from the DVH engine's exact partial volumes; '-': no DVH (see warnings).")


def plan_section(results: dict[str, Any], maps: PatientMaps, warnings: list[str]) -> Section:
    data, beams = plan_data_table(results, maps, warnings)
    items: list[Item] = [sections.course_table(results), data]
    if beams is not None:
        items.append(beams)
    items += [sections.summation_paragraph(results), roi_table(results)]
    if not results["rois"]:
        items.append(Paragraph("No ROI volumes (no structure set ROI got a DVH)."))
    return Section("Plan summary and fractionation", tuple(items), "plan")
