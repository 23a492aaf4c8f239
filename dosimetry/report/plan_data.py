"""The report's plan section: courses, fractionation, how the prior dose was (or was not) summed,
and the modality (with the ion species for an ion plan) that titles the page."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dosimetry.report import sections
from dosimetry.report.content import Item, Section

if TYPE_CHECKING:
    from dosimetry.patient.maps import PatientMaps

#: Ion species by atomic number (DICOM RadiationAtomicNumber of an RT Ion Plan's ION beams).
ION_NAMES = {1: "proton", 2: "helium-ion", 6: "carbon-ion", 8: "oxygen-ion", 10: "neon-ion"}


def ion_species(maps: PatientMaps) -> tuple[str, ...]:
    """Ion species of the current plan's ION beams (e.g. ``("carbon-ion (12C)",)``), empty for none."""
    found: dict[str, None] = {}
    for group in maps.current.plan.fraction_groups:
        for beam in group.beams:
            if beam.atomic_number is None:
                continue
            name = ION_NAMES.get(beam.atomic_number, f"ion Z={beam.atomic_number}")
            mass = f" ({beam.mass_number}{['H', 'He', 'Li', 'Be', 'B', 'C', 'N', 'O', 'F', 'Ne'][beam.atomic_number - 1]})" if (
                beam.mass_number and 1 <= beam.atomic_number <= 10) else ""
            found[f"{name}{mass}"] = None
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


def plan_section(results: dict[str, Any], maps: PatientMaps) -> Section:
    items: list[Item] = [sections.course_table(results), sections.summation_paragraph(results)]
    return Section("Plan summary and fractionation", tuple(items), "plan")
