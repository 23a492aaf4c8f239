"""Our DVHs against the planning system's own (RT Dose DVH Sequence), ROI by ROI.

For every ROI that has both a contour set and a planning-system DVH (matched by ROI number) the
comparison gives volume, mean, max and the requested metrics, ours and the planning system's, the
difference, and which end-cap / between-plane convention reproduces the planning system's volume
best (so that a physicist can tell a geometry difference from a dose difference). Neither number
replaces the other. Differences beyond the tolerances below are flagged:

* volume: more than ``VOLUME_TOLERANCE_PERCENT`` (5 %) *and* more than ``VOLUME_TOLERANCE_CC``
  (0.05 cc) apart -- the spread of the conventions themselves on small ROIs is larger than 5 %
  (issue 13: +19 % to +74 % between half-slab and a planning system below 1.3 cc);
* volume metrics in cc (``V20Gy[cc]``): the volume tolerances above;
* volume metrics in percent of the ROI volume (``V20Gy[%]``): more than
  ``VOLUME_TOLERANCE_PERCENT_POINTS`` (1 percentage point) apart. A percentage is already relative
  to the ROI volume, so it gets an absolute tolerance of its own: the cc floor (0.05) read as
  percentage points flagged a 0.1-point difference in a 0.5 % tail, and 5 % of the value let a
  4.9-point difference of a 98 % coverage pass;
* doses: more than ``DOSE_TOLERANCE_PERCENT`` (2 %) of the planning system's value *and* more
  than ``DOSE_TOLERANCE_GY`` (0.5 Gy) apart.

These are working tolerances of this tool, not values from a guideline. A planning-system DVH in
PERCENT has no absolute volume: volume and cc metrics are then not compared (said so per ROI).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from dosimetry.dose import DoseGrid
from dosimetry.dvh.compute import compute_dvhs
from dosimetry.dvh.endcaps import DEFAULT_END_CAP, EndCapConvention
from dosimetry.dvh.metrics import Metric, MetricKind, Unit, evaluate_metric, parse_metric
from dosimetry.dvh.rasterise import geometry_for_grid
from dosimetry.errors import GeometryError, MetricError
from dosimetry.io.dvh_sequence import DvhVolumeUnits, PlanningSystemDvhs
from dosimetry.structures import Roi

VOLUME_TOLERANCE_PERCENT = 5.0
VOLUME_TOLERANCE_CC = 0.05
VOLUME_TOLERANCE_PERCENT_POINTS = 1.0
DOSE_TOLERANCE_PERCENT = 2.0
DOSE_TOLERANCE_GY = 0.5


@dataclass(frozen=True)
class ComparedValue:
    """One quantity, ours and the planning system's (None: not available, ``note`` says why)."""

    quantity: str
    ours: float | None
    planning_system: float | None
    difference: float | None  # ours - planning system, in the quantity's unit
    flagged: bool
    note: str = ""


@dataclass(frozen=True)
class RoiComparison:
    roi_name: str
    roi_number: int
    planning_system_item: int
    values: tuple[ComparedValue, ...]
    volume_by_convention_cc: tuple[tuple[str, float], ...]
    best_convention: str | None  # closest to the planning system's volume (None: PERCENT DVH)
    warnings: tuple[str, ...] = ()

    @property
    def flagged(self) -> bool:
        return any(v.flagged for v in self.values)


@dataclass(frozen=True)
class PlanningSystemComparison:
    end_cap: str
    rois: tuple[RoiComparison, ...]
    unmatched_items: tuple[str, ...]  # planning-system DVHs whose ROI number is not in the structure set
    warnings: tuple[str, ...]


def _dose_flag(ours: float, theirs: float) -> bool:
    return abs(ours - theirs) > max(DOSE_TOLERANCE_GY, DOSE_TOLERANCE_PERCENT / 100.0 * abs(theirs))


def _volume_flag(ours: float, theirs: float) -> bool:
    diff = abs(ours - theirs)
    return diff > VOLUME_TOLERANCE_CC and diff > VOLUME_TOLERANCE_PERCENT / 100.0 * abs(theirs)


def compare_with_planning_system(
    dose: DoseGrid,
    rois: list[Roi] | tuple[Roi, ...],
    planning_system: PlanningSystemDvhs,
    metrics: list[str],
    *,
    end_cap: EndCapConvention = DEFAULT_END_CAP,
    prescription_gy: float | None = None,
    bin_width_gy: float = 0.01,
    supersample: int | None = None,
) -> PlanningSystemComparison:
    """Compare ROI by ROI (module docstring)."""
    by_number = {roi.number: roi for roi in rois}
    matched = [(roi, tps) for roi in rois if (tps := planning_system.for_roi(roi.number)) is not None]
    unmatched = tuple(
        f"DVH Sequence item {d.item}: ROI number {d.roi_number} is not in the structure set"
        for d in planning_system.dvhs
        if d.roi_number not in by_number
    )
    outcomes = compute_dvhs(
        dose, [roi for roi, _ in matched], bin_width_gy=bin_width_gy, end_cap=end_cap, supersample=supersample
    )
    out = []
    for (roi, tps), outcome in zip(matched, outcomes, strict=True):
        notes: list[str] = []
        volumes: list[tuple[str, float]] = []
        for convention in EndCapConvention:
            try:
                volumes.append((convention.value, geometry_for_grid(roi, dose.grid, convention, None).volume_cc))
            except GeometryError as exc:
                notes.append(f"{convention.value}: {exc}")
        percent = tps.volume_units is DvhVolumeUnits.PERCENT
        tps_volume = tps.volume_cc
        best = None
        if tps_volume is not None and volumes:
            best = min(volumes, key=lambda item: abs(item[1] - tps_volume))[0]
        values: list[ComparedValue] = []
        ours = outcome.dvh
        if ours is None:
            notes.append(f"no DVH of ours: {outcome.error}")
        if percent:
            values.append(ComparedValue("volume_cc", None if ours is None else ours.volume_cc, None, None, False,
                                        "the planning system's DVH is in PERCENT (no absolute volume)"))
        elif tps_volume is not None:  # CM3
            v = None if ours is None else ours.volume_cc
            values.append(ComparedValue("volume_cc", v, tps_volume, None if v is None else v - tps_volume,
                                        v is not None and _volume_flag(v, tps_volume)))
        for quantity, theirs_own in (("Mean[Gy]", tps.mean_gy), ("Max[Gy]", tps.max_gy)):
            mine = None if ours is None else (ours.mean_gy if quantity == "Mean[Gy]" else ours.max_gy)
            theirs = theirs_own if theirs_own is not None else (tps.dvh.mean_gy if quantity == "Mean[Gy]" else tps.dvh.max_gy)
            note = "" if theirs_own is not None else "from the planning system's curve (the item has no value)"
            values.append(_compared(parse_metric(quantity), mine, theirs, note, prescription_gy))
        for metric in metrics:
            parsed = parse_metric(metric)
            if parsed.kind in (MetricKind.MEAN, MetricKind.MAX):
                continue
            metric_ours: float | None = None
            metric_theirs: float | None = None
            note = ""
            try:
                metric_ours = None if ours is None else evaluate_metric(ours, parsed, prescription_gy)
            except MetricError as exc:
                note = f"ours: {exc}"
            if percent and Unit.CC in (parsed.value_unit, parsed.output_unit):
                note = "the planning system's DVH is in PERCENT: cc metrics are not compared"
            else:
                try:
                    metric_theirs = evaluate_metric(tps.dvh, parsed, prescription_gy)
                except MetricError as exc:
                    note = f"planning system: {exc}"
            values.append(_compared(parsed, metric_ours, metric_theirs, note, prescription_gy))
        out.append(RoiComparison(roi.name, roi.number, tps.item, tuple(values), tuple(volumes), best, tuple(notes)))
    return PlanningSystemComparison(end_cap.value, tuple(out), unmatched, planning_system.warnings)


def _compared(
    metric: Metric, mine: float | None, theirs: float | None, note: str, prescription_gy: float | None
) -> ComparedValue:
    """Flag by the dose tolerances for a dose (Gy, cGy, or % of ``prescription_gy``; units in any
    case, as the metric grammar), by the percentage-point tolerance for a volume in % of the ROI,
    by the cc volume tolerances otherwise."""
    quantity = metric.text
    if mine is None or theirs is None or not (math.isfinite(mine) and math.isfinite(theirs)):
        return ComparedValue(quantity, mine, theirs, None, False, note)
    is_dose = metric.kind not in (MetricKind.VOLUME_AT_DOSE, MetricKind.COMPLEMENT_VOLUME)
    if is_dose:
        to_gy = {Unit.GY: 1.0, Unit.CGY: 0.01}.get(metric.output_unit)
        if to_gy is None:  # % of the prescription (evaluated, so a prescription was given)
            to_gy = (prescription_gy or 0.0) / 100.0
        flagged = _dose_flag(mine * to_gy, theirs * to_gy)
    elif metric.output_unit is Unit.PERCENT:
        flagged = abs(mine - theirs) > VOLUME_TOLERANCE_PERCENT_POINTS
    else:
        flagged = _volume_flag(mine, theirs)
    return ComparedValue(quantity, mine, theirs, mine - theirs, flagged, note)
