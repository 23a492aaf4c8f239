"""Convention sensitivity of the constraint rows (issue 13, item 4): each constraint row's metric
under every end-cap / between-plane convention (:mod:`dosimetry.dvh.sensitivity`), its spread,
and a flag beyond the thresholds documented there (a dose metric moving by more than 1 Gy). The
spread is written next to the row (``ConstraintCheck.convention_spread_gy`` and
``convention_sensitive``); a flagged row is also a warning of the analysis, so it reaches every
output. Rows whose metric is not a DVH metric in Gy, or whose quantity has no map, are left
without a spread (None).
"""

from __future__ import annotations

from dataclasses import replace

from dosimetry.dvh.metrics import Unit, parse_metric
from dosimetry.dvh.sensitivity import convention_sensitivity
from dosimetry.errors import MetricError
from dosimetry.patient.dvhs import PatientDvhs
from dosimetry.patient.grid_tables import GridTables
from dosimetry.patient.maps import PatientMaps, lq_key
from dosimetry.patient.records import ConstraintCheck
from dosimetry.quantities import DoseBasis, DoseQuantity
from dosimetry.structures import Roi


def with_convention_spreads(
    maps: PatientMaps, rois: tuple[Roi, ...], rows: tuple[ConstraintCheck, ...], *, bin_width_gy: float,
    tables: GridTables | None = None, dvhs: PatientDvhs | None = None,
) -> tuple[tuple[ConstraintCheck, ...], tuple[str, ...]]:
    """``rows`` with their convention spread filled in, and the warnings of the flagged ones.
    ``tables``: the facade's :class:`GridTables` (a map's sampling tables shared with the step
    before: the DVH stage ends on the cumulative EQD2 map); without it they are released here.
    ``dvhs``: the DVH stage's curves, computed with the same ``bin_width_gy``; each ROI's curve on a
    row's map is its value under their convention (``PatientDvhs.end_cap``), not sampled again."""
    with (tables or GridTables()).session() as held:
        return _with_spreads(maps, rois, rows, bin_width_gy, held, dvhs)


def _curve_key(maps: PatientMaps, basis: DoseBasis) -> str | None:
    """The :class:`PatientDvhs` key of the map ``PatientMaps.constraint_maps()[basis]`` gives, if the DVH stage has it."""
    return {
        DoseBasis.DOSE_CURRENT: maps.dose_quantity,
        DoseBasis.EQD2_CURRENT: lq_key(DoseQuantity.EQD2, maps.alpha_beta_late_gy),
        DoseBasis.EQD2_CUMULATIVE: maps.eqd2_late_cumulative_key,
    }.get(basis)


def _with_spreads(
    maps: PatientMaps, rois: tuple[Roi, ...], rows: tuple[ConstraintCheck, ...], bin_width_gy: float, tables: GridTables,
    dvhs: PatientDvhs | None,
) -> tuple[tuple[ConstraintCheck, ...], tuple[str, ...]]:
    by_name = {r.name: r for r in rois}
    available = maps.constraint_maps()
    wanted: dict[str, dict[str, set[str]]] = {}  # quantity -> ROI -> metrics
    for row in rows:
        if row.roi not in by_name or row.quantity not in {b.value for b in available}:
            continue
        try:
            metric = parse_metric(row.metric)
        except MetricError:
            continue
        if metric.output_unit is Unit.GY:  # a spread in Gy (convention_spread_gy); cGy rows are not constraint rows
            wanted.setdefault(row.quantity, {}).setdefault(row.roi, set()).add(metric.text)
    spreads: dict[tuple[str, str, str], tuple[float | None, bool, str]] = {}
    # the cumulative EQD2 first: the DVH stage ends on it, so its tables may still be held
    for quantity, per_roi in sorted(wanted.items(), key=lambda item: item[0] != DoseBasis.EQD2_CUMULATIVE.value):
        dose = tables.use(available[DoseBasis(quantity)]())
        key = _curve_key(maps, DoseBasis(quantity))
        for name, metrics in per_roi.items():
            computed = {}
            # the stage's curve only when it is of this very ROI (a repeated name: the stage keeps the first)
            if dvhs is not None and key is not None and (name, key) in dvhs.curves and any(r is by_name[name] for r in dvhs.rois):
                computed[(name, dvhs.end_cap)] = dvhs.curves[(name, key)]
            (result,) = convention_sensitivity(
                dose, [by_name[name]], sorted(metrics), bin_width_gy=bin_width_gy, computed=computed
            )
            for s in result.spreads:
                shown = ", ".join(f"{c} {'n/a' if v is None else f'{v:.2f}'}" for c, v in s.by_convention)
                spreads[(quantity, name, s.quantity)] = (s.spread, s.flagged, shown)
        del dose  # one map's sampling tables at a time (GridTables.use releases the previous map's)
    out = []
    warnings = []
    for row in rows:
        try:
            text = parse_metric(row.metric).text
        except MetricError:
            text = row.metric
        found = spreads.get((row.quantity, row.roi, text))
        if found is None:
            out.append(row)
            continue
        spread, flagged, shown = found
        out.append(replace(row, convention_spread_gy=spread, convention_sensitive=flagged))
        if flagged:
            warnings.append(
                f"ROI {row.roi!r}: {row.metric} on {row.quantity} moves by {spread:.2f} Gy between end-cap "
                f"conventions ({shown}); the constraint check depends on how the contours are closed"
            )
    return tuple(out), tuple(dict.fromkeys(warnings))
