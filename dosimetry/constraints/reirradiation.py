"""Cumulative re-irradiation limits (``dosimetry/data/reirradiation_limits.json``), evaluated like the Emami rows.

Each entry limits a cumulative dose in an organ (each course's own BED or EQD2 at the entry's
alpha/beta, without any recovery discount, as the sources add them), and may limit each course's
maximum and require a minimum interval between the courses. Every part is a row with PASS / FAIL /
NOT_EVALUABLE (an interval that is unknown cannot be checked). The cumulative dose is one of
(:class:`LimitMetric`, the entry's ``metric``):

* ``sum_of_course_max``: the two courses' maxima in the organ added (wherever each lies; the
  published series add them so; never below the voxel-wise maximum);
* ``cumulative_max``: the maximum of the voxel-wise sum of the two courses' maps in the organ;
* ``cumulative_dose_at_volume``: the dose to the hottest ``volume_cc`` of that voxel-wise sum
  (e.g. D0.03cc, D1cc), as a source that states its limit on a near-maximum of the summed plan.

Shipped: the spinal cord (Nieder et al. 2006: cumulative BED <= 135.5 Gy2, each course <= 98 Gy2,
>= 6 months) and the temporal lobe (Liu et al. 2014, NPC: EQD2 sum of maxima < 125 Gy, > 2 years).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any

from dosimetry.citations import short_citation
from dosimetry.constraints.partial_volume import Status
from dosimetry.constraints.tables import Organ, _read_resource
from dosimetry.errors import ConstraintError

REIRRADIATION_RESOURCE = "reirradiation_limits.json"
QUANTITIES = ("bed", "eqd2")


class LimitMetric(StrEnum):
    """What cumulative dose an entry limits (module docstring)."""

    SUM_OF_COURSE_MAX = "sum_of_course_max"
    CUMULATIVE_MAX = "cumulative_max"
    CUMULATIVE_DOSE_AT_VOLUME = "cumulative_dose_at_volume"

    @property
    def voxelwise(self) -> bool:
        return self is not LimitMetric.SUM_OF_COURSE_MAX


@dataclass(frozen=True)
class ReirradiationLimit:
    organ: Organ
    organ_name: str
    structures: tuple[str, ...]  # TG-263 names (without laterality) the entry applies to
    endpoint: str
    endpoint_id: str
    quantity: str  # "bed" or "eqd2"
    alpha_beta_gy: float
    cumulative_limit_gy: float
    per_course_limit_gy: float | None
    min_interval_months: float | None
    source: str
    notes: tuple[str, ...] = ()
    metric: LimitMetric = LimitMetric.SUM_OF_COURSE_MAX
    volume_cc: float | None = None  # the hottest volume of cumulative_dose_at_volume (e.g. 0.03)

    @property
    def metric_label(self) -> str:
        """The cumulative metric as the rows print it, e.g. "D0.03cc of the voxel-wise sum"."""
        if self.metric is LimitMetric.SUM_OF_COURSE_MAX:
            return "Max current + Max prior"
        if self.metric is LimitMetric.CUMULATIVE_MAX:
            return "Max of the voxel-wise sum"
        return f"D{self.volume_cc:g}cc of the voxel-wise sum"

    @property
    def short_source(self) -> str:
        """First author and year, e.g. "Nieder et al. 2006" (:func:`dosimetry.citations.short_citation`)."""
        return short_citation(self.source)


@dataclass(frozen=True)
class ReirradiationTable:
    citation: str
    version: str
    units: str
    entries: tuple[ReirradiationLimit, ...]
    notes: tuple[str, ...] = ()


def _number(record: dict[str, Any], key: str, where: str, *, nullable: bool = False) -> float | None:
    value = record.get(key)
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ConstraintError(f"{where}: {key} must be a positive number{' or null' if nullable else ''}, got {value!r}")
    return float(value)


def parse_reirradiation_table(data: dict[str, Any], source: str = REIRRADIATION_RESOURCE) -> ReirradiationTable:
    entries = []
    for index, record in enumerate(data.get("entries", [])):
        where = f"{source} entries[{index}]"
        try:
            organ = Organ(record["organ"])
        except (KeyError, ValueError) as exc:
            raise ConstraintError(f"{where}: unknown or missing organ {record.get('organ')!r}") from exc
        quantity = record.get("quantity")
        if quantity not in QUANTITIES:
            raise ConstraintError(f"{where}: quantity must be one of {QUANTITIES}, got {quantity!r}")
        try:
            metric = LimitMetric(record.get("metric"))
        except ValueError as exc:
            choices = ", ".join(m.value for m in LimitMetric)
            raise ConstraintError(f"{where}: metric must be one of {choices}, got {record.get('metric')!r}") from exc
        volume_cc = _number(record, "volume_cc", where, nullable=True)
        if (metric is LimitMetric.CUMULATIVE_DOSE_AT_VOLUME) != (volume_cc is not None):
            raise ConstraintError(f"{where}: volume_cc (cc, > 0) is required with metric cumulative_dose_at_volume and only with it")
        structures = record.get("structures")
        if not isinstance(structures, list) or not structures:
            raise ConstraintError(f"{where}: structures must list the TG-263 names the limit applies to")
        text = str(record.get("source", "")).strip()
        if not text:
            raise ConstraintError(f"{where}: every limit must cite its source")
        entries.append(
            ReirradiationLimit(
                organ=organ,
                organ_name=str(record.get("organ_name", organ.value)),
                structures=tuple(str(s) for s in structures),
                endpoint=str(record.get("endpoint", "")),
                endpoint_id=str(record.get("endpoint_id", "")),
                quantity=quantity,
                alpha_beta_gy=float(_number(record, "alpha_beta_gy", where)),  # type: ignore[arg-type]
                cumulative_limit_gy=float(_number(record, "cumulative_limit_gy", where)),  # type: ignore[arg-type]
                per_course_limit_gy=_number(record, "per_course_limit_gy", where, nullable=True),
                min_interval_months=_number(record, "min_interval_months", where, nullable=True),
                source=text,
                notes=tuple(str(n) for n in record.get("notes", [])),
                metric=metric,
                volume_cc=volume_cc,
            )
        )
    return ReirradiationTable(
        citation=str(data.get("citation", "")), version=str(data.get("version", "")), units=str(data.get("units", "")),
        entries=tuple(entries), notes=tuple(str(n) for n in data.get("notes", [])),
    )


@lru_cache(maxsize=1)
def load_reirradiation_limits() -> ReirradiationTable:
    """The shipped cumulative re-irradiation limits."""
    return parse_reirradiation_table(_read_resource(REIRRADIATION_RESOURCE))


@dataclass(frozen=True)
class LimitCheck:
    """One part of a limit for one ROI: the cumulative sum, one course's maximum, or the interval."""

    roi_name: str
    limit: ReirradiationLimit
    part: str  # "cumulative", "current course", "prior course", "interval"
    metric: str
    comparator: str
    limit_value: float
    value: float | None
    unit: str
    status: Status
    reason: str


def evaluate_limit(
    roi_name: str,
    limit: ReirradiationLimit,
    *,
    current_max_gy: float,
    prior_max_gy: float,
    interval_months: float | None,
    cumulative_gy: float | None = None,
) -> tuple[LimitCheck, ...]:
    """The rows of ``limit`` for an ROI whose course maxima (BED or EQD2 as the limit says, Gy) are
    given; ``cumulative_gy``: the voxel-wise metric (Max or D_Vcc of the summed maps), required by
    and only used for a voxel-wise limit."""
    label = f"{limit.quantity.upper()} (a/b {limit.alpha_beta_gy:g} Gy)"
    if limit.metric.voxelwise:
        if cumulative_gy is None:
            raise ConstraintError(f"re-irradiation limit {limit.endpoint_id or limit.organ_name}: {limit.metric.value} needs the voxel-wise cumulative value")
        total = cumulative_gy
    else:
        total = current_max_gy + prior_max_gy

    def row(part: str, metric: str, comparator: str, bound: float, value: float | None, unit: str) -> LimitCheck:
        if value is None:
            return LimitCheck(roi_name, limit, part, metric, comparator, bound, None, unit, Status.NOT_EVALUABLE,
                              "the interval between the courses is unknown (no usable DICOM date; give --interval-months)")
        holds = value <= bound if comparator == "<=" else value >= bound
        text = f"{value:.4g} {unit} {'satisfies' if holds else 'violates'} {comparator} {bound:g} {unit}"
        return LimitCheck(roi_name, limit, part, metric, comparator, bound, value, unit, Status.PASS if holds else Status.FAIL, text)

    rows = [row("cumulative", f"{label} {limit.metric_label}", "<=", limit.cumulative_limit_gy, total, "Gy")]
    if limit.per_course_limit_gy is not None:
        rows.append(row("current course", f"{label} Max current course", "<=", limit.per_course_limit_gy, current_max_gy, "Gy"))
        rows.append(row("prior course", f"{label} Max prior course", "<=", limit.per_course_limit_gy, prior_max_gy, "Gy"))
    if limit.min_interval_months is not None:
        rows.append(row("interval", "interval between the courses", ">=", limit.min_interval_months, interval_months, "months"))
    return tuple(rows)
