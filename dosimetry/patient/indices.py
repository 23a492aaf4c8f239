"""Plan-quality indices of a patient's targets (GTV/CTV/PTV) on the planned dose and on the tumour BED.

The protocol's coverage rules (V95% >= 95 % for the CTV, V90% >= 90 % for the PTV on the planned
dose) come with the indices (:func:`dosimetry.indices.evaluate_targets`). An index that cannot be
computed is reported as undefined with its reason; a target set that cannot be evaluated at all is a
warning.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from dosimetry.dose import DoseGrid, DoseType
from dosimetry.errors import DosimetryError
from dosimetry.indices import DoseQuantity, ReferenceLevel, TargetIndices, evaluate_targets, find_body
from dosimetry.patient.dvhs import PatientDvhs, prescription_gy
from dosimetry.patient.grid_tables import GridTables
from dosimetry.patient.maps import PatientMaps
from dosimetry.radiobiology.alpha_beta import RoiRole


@dataclass(frozen=True)
class PatientIndices:
    """The indices of every target and the warnings met (no target, no prescription, no body ROI)."""

    results: tuple[TargetIndices, ...]
    warnings: tuple[str, ...]


def indices_quantity(maps: PatientMaps, result: TargetIndices) -> str:
    """The quantity name of an indices result (the planned dose's name, or ``BED9``)."""
    if result.reference.quantity is DoseQuantity.PHYSICAL:
        return maps.dose_quantity
    return f"{result.reference.quantity}{result.reference.alpha_beta_gy:g}"


def target_indices(maps: PatientMaps, dvhs: PatientDvhs, tables: GridTables | None = None) -> PatientIndices:
    """Indices of the targets that got a DVH, on the planned dose and on ``BED<tumour a/b>``.
    ``tables``: the facade's :class:`GridTables`; without it the sampling tables are released here."""
    with (tables or GridTables()).session() as held:
        return _target_indices(maps, dvhs, held)


def _target_indices(maps: PatientMaps, dvhs: PatientDvhs, tables: GridTables) -> PatientIndices:
    warnings: list[str] = []
    targets = [r for r in dvhs.rois if dvhs.roles[r.name] is RoiRole.TARGET and r.name not in dvhs.roi_failures]
    prescription, _ = prescription_gy(maps)  # its warning is already in the DVH warnings
    if not targets:
        return PatientIndices((), ("no target ROI (GTV/CTV/PTV): no plan-quality indices",))
    if prescription is None:
        return PatientIndices((), ())
    try:
        body = find_body(maps.structure_set)
    except DosimetryError as exc:
        warnings.append(f"indices without a body ROI: {exc}")
        body = None
    n = maps.current.plan.fractions_planned
    rbe_weighted = maps.current.dose.dose_type is DoseType.EFFECTIVE
    runs: list[tuple[Callable[[], DoseGrid], ReferenceLevel]] = [
        (lambda: maps.current.dose, ReferenceLevel.physical(prescription, rbe_weighted=rbe_weighted))
    ]
    bed_key = f"BED{maps.alpha_beta_tumour_gy:g}"
    if bed_key in maps.lq:
        bed_reference = ReferenceLevel.lq(DoseQuantity.BED, prescription, n, maps.alpha_beta_tumour_gy)
        runs.append((lambda: maps.lq[bed_key].dose, replace(bed_reference, rbe_weighted=rbe_weighted)))
    results: list[TargetIndices] = []
    for get_dose, reference in runs:
        tables.release()  # before the next map is made (a lower peak)
        try:
            results.extend(evaluate_targets(tables.use(get_dose()), targets, reference, body=body))
        except DosimetryError as exc:
            warnings.append(f"indices on {reference.label} not computed: {exc}")
    for result in results:
        warnings.extend(f"indices {result.target_name} ({result.reference.label}): {w}" for w in result.warnings)
    return PatientIndices(tuple(results), tuple(warnings))
