"""The shipped cumulative re-irradiation limits (:mod:`dosimetry.constraints.reirradiation`) on one
patient: each course's maximum dose in the organs the limits name, as constraint rows beside the
Emami and protocol rows (``source`` "reirradiation").

An interval row that passes only on the prior course's planning date (no treatment records, so its
end is unknown: :attr:`CourseInterval.prior_end_unknown`) is NOT_EVALUABLE, not PASS: the true
interval is shorter by about the prior course's duration.

Each course is converted on its own (its fraction count, the entry's alpha/beta; the prior course
on the current grid as aligned) and read by the DVH engine (Max of the ROI's DVH). A voxel-wise
limit (``cumulative_max``, ``cumulative_dose_at_volume``) reads the DVH of the sum of the two
course maps (Max, or the dose to the hottest ``volume_cc``). No recovery discount is applied: the
sources add the courses' full doses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from dosimetry.constraints.naming import Laterality, NameMapper
from dosimetry.constraints.reirradiation import (
    LimitCheck,
    LimitMetric,
    ReirradiationLimit,
    ReirradiationTable,
    evaluate_limit,
    load_reirradiation_limits,
)
from dosimetry.dose import DoseGrid
from dosimetry.dvh import compute_dvh
from dosimetry.dvh.endcaps import DEFAULT_END_CAP, EndCapConvention
from dosimetry.errors import ArgumentError, DosimetryError
from dosimetry.patient.dvhs import PatientDvhs
from dosimetry.patient.grid_tables import GridTables
from dosimetry.patient.maps import PatientMaps, lq_key
from dosimetry.patient.records import ConstraintCheck
from dosimetry.quantities import DoseQuantity
from dosimetry.radiobiology.maps import lq_map
from dosimetry.constraints.partial_volume import Status
from dosimetry.radiobiology.interval import CourseInterval
from dosimetry.structures import Roi


#: Months from a prior course's planning date to its last fraction, at most: about seven weeks of
#: conventional fractionation after a few weeks of planning, rounded generously up. An interval
#: counted from the planning date that exceeds the required one by more than this is confirmed.
PRIOR_COURSE_MAX_MONTHS = 6.0


def _interval_confirmed(check: LimitCheck, interval: CourseInterval | None) -> LimitCheck:
    """``check`` unchanged, except an interval PASS that rests on the prior course's planning date
    and is not longer than required by :data:`PRIOR_COURSE_MAX_MONTHS` (then NOT_EVALUABLE)."""
    if check.part != "interval" or check.status is not Status.PASS or interval is None or not interval.prior_end_unknown:
        return check
    if check.value is not None and check.value - PRIOR_COURSE_MAX_MONTHS >= check.limit_value:
        return replace(
            check, reason=f"{check.reason}; counted from the prior course's planning date, it exceeds the "
            f"required {check.limit_value:g} months even after {PRIOR_COURSE_MAX_MONTHS:g} months for the prior course itself",
        )
    return replace(
        check, status=Status.NOT_EVALUABLE,
        reason=f"{check.reason} only from the prior course's planning date: no treatment records give its last day, so the "
        "interval is shorter by about the prior course's duration; confirm it or give --interval-months",
    )


def _base_name(name: str, mapper: NameMapper) -> str:
    mapping = mapper.map(name)
    canonical = mapping.canonical_name
    if mapping.laterality is not Laterality.NONE and canonical.endswith(f"_{mapping.laterality.value}"):
        canonical = canonical[: -len(mapping.laterality.value) - 1]
    return canonical.lower()


def _row(check: LimitCheck) -> ConstraintCheck:
    limit = check.limit
    return ConstraintCheck(
        source="reirradiation", roi=check.roi_name, organ=limit.organ.value, endpoint=f"{limit.endpoint} [{check.part}]",
        quantity=f"{limit.quantity} a/b {limit.alpha_beta_gy:g} Gy per course, no recovery", metric=check.metric,
        comparator=check.comparator, limit=check.limit_value, value=check.value, unit=check.unit, status=check.status.value,
        ntcp=None, reason=f"{check.reason} ({limit.short_source})" if check.value is not None else check.reason,
    )


def _cumulative_value(limit: ReirradiationLimit, grid: DoseGrid, roi: Roi, bin_width_gy: float, end_cap: EndCapConvention) -> float:
    """The voxel-wise metric of ``limit`` on the summed map ``grid`` (Max, or D at ``volume_cc``)."""
    dvh = compute_dvh(grid, roi, bin_width_gy=bin_width_gy, end_cap=end_cap)
    if limit.metric is LimitMetric.CUMULATIVE_MAX:
        return dvh.max_gy
    assert limit.volume_cc is not None  # the parser requires it for this metric
    return dvh.dose_at_volume_cc(limit.volume_cc, label=f"re-irradiation limit {limit.endpoint_id} D{limit.volume_cc:g}cc")


def reirradiation_limit_checks(
    maps: PatientMaps, rois: Sequence[Roi], *, bin_width_gy: float, mapper: NameMapper | None = None,
    table: ReirradiationTable | None = None, dvhs: PatientDvhs | None = None, tables: GridTables | None = None,
    end_cap: EndCapConvention | None = None,
) -> tuple[tuple[ConstraintCheck, ...], tuple[str, ...]]:
    """Constraint rows of every limit of ``table`` (the shipped one by default) for every ROI it
    names, and warnings (ROIs without a DVH).

    ``dvhs``: the DVH stage's curves (``bin_width_gy`` bins); a current-course maximum on a map they
    cover (``BED2``, ``EQD2_2``, ...) is read from them instead of sampling the map again (the same
    numbers). ``tables``: the facade's :class:`GridTables`; the prior course's maps are sampled the
    late-EQD2 one first (the re-irradiation type has just sampled it: its tables are still held).
    ``end_cap``: the end-cap convention of every DVH (default: that of ``dvhs``, else :data:`DEFAULT_END_CAP`;
    one differing from that of ``dvhs`` is an error)."""
    if maps.prior is None or maps.aligned is None:
        return (), ()
    convention = EndCapConvention.parse(end_cap) if end_cap is not None else (DEFAULT_END_CAP if dvhs is None else dvhs.end_cap)
    if dvhs is not None and dvhs.end_cap is not convention:
        raise ArgumentError(f"end_cap {convention.value} differs from that of the DVHs given ({dvhs.end_cap.value})")
    with (tables or GridTables()).session() as held:
        return _limit_checks(
            maps, rois, bin_width_gy, mapper or NameMapper(), table or load_reirradiation_limits(), dvhs, held,
            convention,
        )


def _limit_checks(
    maps: PatientMaps, rois: Sequence[Roi], bin_width_gy: float, mapper: NameMapper, table: ReirradiationTable,
    dvhs: PatientDvhs | None, tables: GridTables, end_cap: EndCapConvention,
) -> tuple[tuple[ConstraintCheck, ...], tuple[str, ...]]:

    def quantity_of(limit: ReirradiationLimit) -> DoseQuantity:
        return DoseQuantity.BED if limit.quantity == "bed" else DoseQuantity.EQD2

    def current_map(limit: ReirradiationLimit) -> DoseGrid:
        key = lq_key(quantity_of(limit), limit.alpha_beta_gy)
        if key in maps.lq:
            return maps.lq[key].dose
        return lq_map(maps.current.dose, quantity=quantity_of(limit), alpha_beta_gy=limit.alpha_beta_gy, plan=maps.current.plan).dose

    named_by_limit = []
    for limit in table.entries:
        names = {s.lower() for s in limit.structures}
        named = [roi for roi in rois if _base_name(roi.name, mapper) in names]
        if named:
            named_by_limit.append((limit, named))
    maxima: dict[tuple[int, str, str], float] = {}
    failed: dict[tuple[int, str], DosimetryError] = {}
    # the current course first (per ROI the first failure in the order current, prior is reported)
    for index, (limit, named) in enumerate(named_by_limit):
        key = lq_key(quantity_of(limit), limit.alpha_beta_gy)
        grid: DoseGrid | None = None
        for roi in named:
            known = None if dvhs is None else dvhs.curves.get((roi.name, key))
            try:
                if known is None:
                    if grid is None:
                        grid = tables.use(current_map(limit))
                    known = compute_dvh(grid, roi, bin_width_gy=bin_width_gy, end_cap=end_cap)
                maxima[(index, roi.name, "current")] = known.max_gy
            except DosimetryError as exc:
                failed[(index, roi.name)] = exc
        del grid
    # then the prior course, one map at a time: the late EQD2 first (see the docstring)
    late_eqd2 = (DoseQuantity.EQD2, maps.alpha_beta_late_gy)
    order = sorted(range(len(named_by_limit)), key=lambda i: (quantity_of(named_by_limit[i][0]), named_by_limit[i][0].alpha_beta_gy) != late_eqd2)
    for index in order:
        limit, named = named_by_limit[index]
        prior = maps.prior_lq_dose(quantity_of(limit), limit.alpha_beta_gy, tables)
        for roi in named:
            if (index, roi.name) in failed:
                continue
            try:
                maxima[(index, roi.name, "prior")] = compute_dvh(tables.use(prior), roi, bin_width_gy=bin_width_gy, end_cap=end_cap).max_gy
            except DosimetryError as exc:
                failed[(index, roi.name)] = exc
        del prior
    # then the voxel-wise limits on the sum of the two course maps (per ROI after its course maxima)
    cumulative: dict[tuple[int, str], float] = {}
    for index, (limit, named) in enumerate(named_by_limit):
        if not limit.metric.voxelwise:
            continue
        tables.release()  # before the summed map is made (a lower peak)
        current = current_map(limit)
        prior = maps.prior_lq_dose(quantity_of(limit), limit.alpha_beta_gy)
        summed = replace(current, dose_gy=np.asarray(current.dose_gy) + np.asarray(prior.dose_gy),
                         description=f"{limit.quantity} current + prior (no recovery)")
        del current, prior
        for roi in named:
            if (index, roi.name) in failed:
                continue
            try:
                cumulative[(index, roi.name)] = _cumulative_value(limit, tables.use(summed), roi, bin_width_gy, end_cap)
            except DosimetryError as exc:
                failed[(index, roi.name)] = exc
        del summed
    rows: list[ConstraintCheck] = []
    warnings: list[str] = []
    months = None if maps.interval is None else maps.interval.months
    for index, (limit, named) in enumerate(named_by_limit):
        for roi in named:
            if (index, roi.name) in failed:
                warnings.append(f"re-irradiation limit {limit.endpoint_id}: ROI {roi.name!r} not evaluated: {failed[(index, roi.name)]}")
                continue
            rows.extend(
                _row(_interval_confirmed(c, maps.interval))
                for c in evaluate_limit(
                    roi.name, limit, current_max_gy=maxima[(index, roi.name, "current")],
                    prior_max_gy=maxima[(index, roi.name, "prior")], interval_months=months,
                    cumulative_gy=cumulative.get((index, roi.name)),
                )
            )
    return tuple(rows), tuple(warnings)
