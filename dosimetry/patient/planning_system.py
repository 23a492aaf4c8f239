"""The planning system's DVHs (RT Dose DVH Sequence) next to ours, for ``results.json`` and the
report: one row per ROI and quantity (volume, mean, max, :data:`METRICS`), ours on the planned
dose with the analysis's convention, the planning system's, the difference, a flag beyond the
tolerances of :mod:`dosimetry.dvh.planning_system` and the convention closest to the planning
system's volume. Every flagged difference and every malformed DVH Sequence item is also a
warning of the analysis, so it reaches every output. Nothing is computed when the current
course's RT Dose carries no DVH Sequence (most do not).
"""

from __future__ import annotations

from dataclasses import dataclass

from dosimetry.dvh.endcaps import DEFAULT_END_CAP, EndCapConvention
from dosimetry.dvh.planning_system import compare_with_planning_system
from dosimetry.io.dvh_sequence import read_dvh_sequence
from dosimetry.patient.maps import PatientMaps
from dosimetry.structures import Roi

#: Metrics compared besides volume, mean and max (the serial-organ metrics of a re-irradiation).
METRICS = ("D0.03cc[Gy]", "D95%[Gy]", "D2%[Gy]")


@dataclass(frozen=True)
class PlanningSystemRow:
    roi: str
    roi_number: int
    quantity: str
    ours: float | None
    planning_system: float | None
    difference: float | None  # ours - planning system
    flagged: bool
    note: str
    best_convention: str | None


def planning_system_rows(
    maps: PatientMaps, rois: tuple[Roi, ...], *, end_cap: EndCapConvention = DEFAULT_END_CAP
) -> tuple[tuple[PlanningSystemRow, ...], tuple[str, ...]]:
    """Rows and warnings (module docstring); ours under ``end_cap``."""
    paths = maps.current.dose_paths
    if len(paths) != 1:
        return (), ()  # beam doses: a DVH Sequence of one beam is not the plan's
    tps = read_dvh_sequence(paths[0])
    if not tps.dvhs:
        return (), tps.warnings
    comparison = compare_with_planning_system(maps.current.dose, [r for r in rois if r.closed_planar_contours], tps, list(METRICS), end_cap=end_cap)
    rows = []
    warnings = [*comparison.warnings, *comparison.unmatched_items]
    for roi in comparison.rois:
        for value in roi.values:
            rows.append(PlanningSystemRow(
                roi.roi_name, roi.roi_number, value.quantity, value.ours, value.planning_system, value.difference,
                value.flagged, value.note, roi.best_convention,
            ))
            if value.flagged:
                warnings.append(
                    f"ROI {roi.roi_name!r}: {value.quantity} {value.ours:.4g} differs from the planning system's "
                    f"{value.planning_system:.4g} beyond tolerance (closest convention to its volume: "
                    f"{roi.best_convention or 'n/a'})"
                )
    return tuple(rows), tuple(warnings)
