"""Evaluation of a patient's organs against Emami/Burman and a user protocol.

Inputs are per-ROI DVHs (:class:`dosimetry.dvh.Dvh`) per :class:`DoseBasis` (the origin of the dose
map does not matter here). Every TG-263 figure (D0.03cc, Mean, Max, the partial-volume doses and the
protocol metrics) is read from the DVH by the DVH engine, so it equals what ``dosimetry dvh`` and
``dosimetry analyze`` report; the Emami effective volume and the NTCP reduce the DVH's differential
bins (:meth:`OrganDoseBins.from_dvh`). The Emami checks run on ``eqd2_cumulative`` (EQD2 with
alpha/beta = 2 Gy, current course plus the residual part of the prior course) because the table
values were observed at 1.8-2 Gy per fraction.

For every ROI mapped to an organ the report gives the hottest-1/3, hottest-2/3 and whole-volume
doses (D33%, D67%, D100%: the minimum dose to the hottest third, two thirds and whole organ, read
from the DVH curve by :meth:`dosimetry.dvh.Dvh.dose_at_volume_cc`), D0.03cc, the mean and the maximum; then, per Emami endpoint,
the PASS/FAIL/NOT_EVALUABLE decision of :mod:`dosimetry.constraints.partial_volume` with the limit
and the margin, and the LKB NTCP (:mod:`dosimetry.constraints.ntcp`) with Burman's parameters,
flagged above 5 %.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dosimetry.constraints.metrics import Constraint
from dosimetry.constraints.naming import NameMapper, RoiCategory, RoiMapping
from dosimetry.constraints.ntcp import NTCP_FLAG_THRESHOLD, evaluate_ntcp
from dosimetry.constraints.partial_volume import RULE_DESCRIPTION, RULE_NAME, Status, decide
from dosimetry.constraints.protocol import Protocol
from dosimetry.quantities import DoseBasis
from dosimetry.constraints.samples import OrganDoseBins
from dosimetry.constraints.tables import BurmanTable, EmamiTable, LkbParameters, Organ, ToleranceEntry, load_burman, load_emami
from dosimetry.dvh import Dvh, evaluate_metric
from dosimetry.errors import ConstraintError, MetricError

logger = logging.getLogger(__name__)

NEAR_MAX_METRIC = "D0.03cc[Gy]"
EMAMI_QUANTITY = DoseBasis.EQD2_CUMULATIVE
DEFAULT_ALPHA_BETA_GY = 2.0


@dataclass(frozen=True)
class OrganExtent:
    """Size along Emami's special axes: cord length (cm), irradiated skin area (cm^2)."""

    length_cm: float | None = None
    area_cm2: float | None = None
    source: str = ""  # how the extent was obtained (for the report)


@dataclass(frozen=True)
class DoseSummary:
    """Dose-volume figures of one ROI (Gy). ``d_0_03cc_gy`` is None when the ROI is smaller
    than 0.03 cc, with the reason in ``warnings``."""

    volume_cc: float
    max_gy: float
    mean_gy: float
    d_hottest_third_gy: float  # D33.3%: minimum dose to the hottest 1/3
    d_hottest_two_thirds_gy: float  # D66.7%: minimum dose to the hottest 2/3
    d_whole_gy: float  # D100%: minimum dose
    d_0_03cc_gy: float | None
    warnings: tuple[str, ...] = ()


def summarise(dvh: Dvh) -> DoseSummary:
    """The dose summary of one ROI, read from its DVH by the DVH engine."""
    warnings: list[str] = []
    try:
        near_max: float | None = evaluate_metric(dvh, NEAR_MAX_METRIC)
    except MetricError as exc:
        near_max = None
        warnings.append(f"D0.03cc not reported: {exc}")
    total = dvh.volume_in_dose_grid_cc

    def hottest(fraction: float, label: str) -> float:
        return dvh.dose_at_volume_cc(fraction * total, label=f"{label} of ROI {dvh.roi_name!r}")

    return DoseSummary(
        volume_cc=total,
        max_gy=dvh.max_gy,
        mean_gy=dvh.mean_gy,
        d_hottest_third_gy=hottest(1.0 / 3.0, "D33.3%"),
        d_hottest_two_thirds_gy=hottest(2.0 / 3.0, "D66.7%"),
        d_whole_gy=hottest(1.0, "D100%"),
        d_0_03cc_gy=near_max,
        warnings=tuple(warnings),
    )


@dataclass(frozen=True)
class EndpointResult:
    """One Emami endpoint of one ROI."""

    roi_name: str
    organ: Organ
    endpoint: str
    endpoint_id: str
    quantity: DoseBasis
    rule: str
    status: Status
    reason: str
    limit_gy: float | None = None  # TD5/5 at the effective volume
    margin_gy: float | None = None  # limit - D_max
    max_dose_gy: float | None = None  # None when the ROI has no DVH
    effective_volume: float | None = None  # Kutcher-Burman v_eff (fraction); None without Burman n
    axis_value: float | None = None  # v_eff on the entry's axis (fraction, cm or cm^2)
    lkb: LkbParameters | None = None
    geud_gy: float | None = None
    ntcp: float | None = None
    ntcp_flagged: bool = False


@dataclass(frozen=True)
class OrganResult:
    mapping: RoiMapping
    summary: DoseSummary | None  # None when the ROI has no DVH (see ``reason``)
    endpoints: tuple[EndpointResult, ...]
    extent: OrganExtent | None = None
    reason: str = ""


@dataclass(frozen=True)
class ProtocolResult:
    structure: str
    roi_name: str | None
    constraint: str
    quantity: DoseBasis
    line: int
    status: Status
    reason: str
    value: float | None
    unit: str
    margin: float | None  # in ``unit``, positive when the constraint holds


@dataclass(frozen=True)
class ConstraintReport:
    quantity: DoseBasis
    alpha_beta_gy: float
    rule: str
    rule_description: str
    emami_version: str
    burman_version: str
    citations: tuple[str, ...]
    organs: tuple[OrganResult, ...]
    protocol: tuple[ProtocolResult, ...]
    protocol_source: str | None
    unmapped: tuple[RoiMapping, ...]
    non_organs: tuple[RoiMapping, ...]
    warnings: tuple[str, ...] = field(default=())

    @property
    def any_fail(self) -> bool:
        return any(e.status is Status.FAIL for o in self.organs for e in o.endpoints) or any(
            p.status is Status.FAIL for p in self.protocol
        )

    def to_dict(self) -> dict[str, Any]:
        return _report_dict(self)


def _endpoint(roi_name: str, entry: ToleranceEntry, quantity: DoseBasis, status: Status, reason: str, **measured: Any) -> EndpointResult:
    """An endpoint result of ``entry``; ``measured`` are the figures known (the others stay None)."""
    return EndpointResult(roi_name, entry.organ, entry.endpoint, entry.endpoint_id, quantity, RULE_NAME, status, reason, **measured)


def _not_evaluable_endpoints(mapping: RoiMapping, emami: EmamiTable, reason: str, quantity: DoseBasis) -> tuple[EndpointResult, ...]:
    assert mapping.organ is not None
    return tuple(
        _endpoint(mapping.roi_name, entry, quantity, Status.NOT_EVALUABLE, reason) for entry in emami.for_organ(mapping.organ)
    )


def evaluate_organ(
    mapping: RoiMapping,
    dvh: Dvh,
    *,
    quantity: DoseBasis = EMAMI_QUANTITY,
    extent: OrganExtent | None = None,
    emami: EmamiTable | None = None,
    burman: BurmanTable | None = None,
) -> OrganResult:
    """Emami decision and LKB NTCP for every endpoint of the organ ``mapping`` points to."""
    if mapping.organ is None:
        raise ConstraintError(f"ROI {mapping.roi_name!r} is not mapped to an organ ({mapping.reason})")
    samples = OrganDoseBins.from_dvh(dvh, mapping.roi_name)
    emami = emami or load_emami()
    burman = burman or load_burman()
    extent = extent or OrganExtent()
    results = []
    for entry in emami.for_organ(mapping.organ):
        lkb = burman.for_endpoint(entry.organ, entry.endpoint_id)
        if lkb is None:
            results.append(
                _endpoint(
                    mapping.roi_name, entry, quantity, Status.NOT_EVALUABLE,
                    "Burman 1991 gives no LKB parameters for this endpoint: no volume parameter n for the "
                    "effective-volume rule and no NTCP",
                    max_dose_gy=samples.max_gy,
                )
            )
            continue
        decision = decide(samples, entry, lkb.n, length_cm=extent.length_cm, area_cm2=extent.area_cm2)
        ntcp = evaluate_ntcp(samples, lkb)
        results.append(
            _endpoint(
                mapping.roi_name, entry, quantity, decision.status, decision.reason,
                limit_gy=decision.limit_gy,
                margin_gy=decision.margin_gy,
                max_dose_gy=decision.max_dose_gy,
                effective_volume=decision.effective_volume,
                axis_value=decision.axis_value,
                lkb=lkb,
                geud_gy=ntcp.geud_gy,
                ntcp=ntcp.ntcp,
                ntcp_flagged=ntcp.flagged,
            )
        )
    return OrganResult(mapping=mapping, summary=summarise(dvh), endpoints=tuple(results), extent=extent)


def _match(protocol_key: str, mappings: Iterable[RoiMapping], mapper: NameMapper) -> list[RoiMapping]:
    key = mapper.map(protocol_key).match_key
    return [m for m in mappings if m.match_key == key]


def _evaluate_constraint(constraint: Constraint, dvh: Dvh) -> tuple[Status, str, float | None, float | None]:
    try:
        value = constraint.evaluate(dvh)
    except MetricError as exc:
        return Status.NOT_EVALUABLE, str(exc), None, None
    holds = constraint.holds(value)
    margin = constraint.margin(value)
    unit = constraint.unit
    relation = "satisfies" if holds else "violates"
    return (Status.PASS if holds else Status.FAIL), f"{value:.4g} {unit} {relation} {constraint.text}", value, margin


def evaluate_protocol(
    protocol: Protocol,
    dvhs_by_quantity: Mapping[DoseBasis, Mapping[str, Dvh]],
    roi_names: Iterable[str],
    *,
    mapper: NameMapper | None = None,
    roi_failures: Mapping[str, str] | None = None,
) -> tuple[ProtocolResult, ...]:
    """Evaluate every constraint of ``protocol``; absent ROIs or quantities give NOT_EVALUABLE."""
    mapper = mapper or NameMapper()
    roi_failures = roi_failures or {}
    mappings = mapper.map_all(roi_names)
    results: list[ProtocolResult] = []
    for item in protocol.constraints:
        unit = item.constraint.unit
        matches = _match(item.structure, mappings, mapper)
        if not matches:
            results.append(
                ProtocolResult(item.structure, None, item.constraint.text, item.quantity, item.line, Status.NOT_EVALUABLE,
                               f"no ROI of the patient matches {item.structure!r}", None, unit, None)
            )
            continue
        for mapping in matches:
            per_roi = dvhs_by_quantity.get(item.quantity)
            if per_roi is None:
                status, reason, value, margin = Status.NOT_EVALUABLE, f"quantity {item.quantity.value} was not computed", None, None
            elif mapping.roi_name not in per_roi:
                why = roi_failures.get(mapping.roi_name, "no DVH for this ROI")
                status, reason, value, margin = Status.NOT_EVALUABLE, why, None, None
            else:
                status, reason, value, margin = _evaluate_constraint(item.constraint, per_roi[mapping.roi_name])
            results.append(
                ProtocolResult(item.structure, mapping.roi_name, item.constraint.text, item.quantity, item.line,
                               status, reason, value, unit, margin)
            )
    return tuple(results)


def evaluate(
    dvhs_by_quantity: Mapping[DoseBasis, Mapping[str, Dvh]],
    roi_names: Iterable[str],
    *,
    mapper: NameMapper | None = None,
    extents: Mapping[str, OrganExtent] | None = None,
    roi_failures: Mapping[str, str] | None = None,
    protocol: Protocol | None = None,
    alpha_beta_gy: float = DEFAULT_ALPHA_BETA_GY,
    emami_quantity: DoseBasis = EMAMI_QUANTITY,
    warnings: Iterable[str] = (),
) -> ConstraintReport:
    """Full report: Emami/Burman per mapped ROI on ``emami_quantity`` plus the protocol, if any.

    ``roi_names`` lists every ROI of the structure set (so that unmapped ones are reported);
    ``roi_failures`` gives, per ROI name, why it has no DVH (e.g. outside the dose grid).
    """
    mapper = mapper or NameMapper()
    extents = extents or {}
    roi_failures = roi_failures or {}
    emami, burman = load_emami(), load_burman()
    names = list(dict.fromkeys(roi_names))
    if emami_quantity not in dvhs_by_quantity:
        raise ConstraintError(
            f"the Emami checks need DVHs of quantity {emami_quantity.value}; got {[q.value for q in dvhs_by_quantity]}"
        )
    per_roi = dvhs_by_quantity[emami_quantity]
    report_warnings = list(warnings)
    if emami_quantity not in (DoseBasis.EQD2_CUMULATIVE, DoseBasis.EQD2_CURRENT, DoseBasis.EQD2_PRIOR):
        report_warnings.append(
            f"Emami/Burman values are for 1.8-2 Gy fractions but the checks run on {emami_quantity.value}, not an EQD2"
        )
    organs: list[OrganResult] = []
    unmapped: list[RoiMapping] = []
    non_organs: list[RoiMapping] = []
    for mapping in mapper.map_all(names):
        if mapping.category is RoiCategory.UNMAPPED:
            unmapped.append(mapping)
            continue
        if mapping.category is not RoiCategory.ORGAN:
            non_organs.append(mapping)
            continue
        if mapping.roi_name not in per_roi:
            reason = roi_failures.get(mapping.roi_name, "no DVH for this ROI")
            organs.append(
                OrganResult(mapping, None, _not_evaluable_endpoints(mapping, emami, reason, emami_quantity), None, reason)
            )
            continue
        organs.append(
            evaluate_organ(
                mapping,
                per_roi[mapping.roi_name],
                quantity=emami_quantity,
                extent=extents.get(mapping.roi_name),
                emami=emami,
                burman=burman,
            )
        )
    protocol_results = (
        evaluate_protocol(protocol, dvhs_by_quantity, names, mapper=mapper, roi_failures=roi_failures)
        if protocol is not None
        else ()
    )
    for name in unmapped:
        logger.info("ROI %r not mapped to an organ: %s", name.roi_name, name.reason)
    return ConstraintReport(
        quantity=emami_quantity,
        alpha_beta_gy=alpha_beta_gy,
        rule=RULE_NAME,
        rule_description=RULE_DESCRIPTION,
        emami_version=emami.version,
        burman_version=burman.version,
        citations=(emami.citation, burman.citation),
        organs=tuple(organs),
        protocol=protocol_results,
        protocol_source=protocol.source if protocol is not None else None,
        unmapped=tuple(unmapped),
        non_organs=tuple(non_organs),
        warnings=tuple(report_warnings),
    )


def _none_or_round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)


def _mapping_dict(mapping: RoiMapping) -> dict[str, Any]:
    return {
        "roi": mapping.roi_name,
        "category": mapping.category.value,
        "organ": mapping.organ.value if mapping.organ else None,
        "laterality": mapping.laterality.value,
        "canonical_name": mapping.canonical_name,
        "reason": mapping.reason,
    }


def _report_dict(report: ConstraintReport) -> dict[str, Any]:
    organs = []
    for organ in report.organs:
        summary = organ.summary
        organs.append(
            {
                **_mapping_dict(organ.mapping),
                "reason": organ.reason or organ.mapping.reason,
                "extent": None
                if organ.extent is None
                else {"length_cm": organ.extent.length_cm, "area_cm2": organ.extent.area_cm2, "source": organ.extent.source},
                "dose_summary": None
                if summary is None
                else {
                    "volume_cc": _none_or_round(summary.volume_cc),
                    "max_gy": _none_or_round(summary.max_gy),
                    "mean_gy": _none_or_round(summary.mean_gy),
                    "d_hottest_third_gy": _none_or_round(summary.d_hottest_third_gy),
                    "d_hottest_two_thirds_gy": _none_or_round(summary.d_hottest_two_thirds_gy),
                    "d_whole_gy": _none_or_round(summary.d_whole_gy),
                    "d_0_03cc_gy": _none_or_round(summary.d_0_03cc_gy),
                    "warnings": list(summary.warnings),
                },
                "endpoints": [
                    {
                        "organ": e.organ.value,
                        "endpoint": e.endpoint,
                        "endpoint_id": e.endpoint_id,
                        "quantity": e.quantity.value,
                        "rule": e.rule,
                        "status": e.status.value,
                        "reason": e.reason,
                        "limit_td5_5_gy": _none_or_round(e.limit_gy),
                        "margin_gy": _none_or_round(e.margin_gy),
                        "max_dose_gy": _none_or_round(e.max_dose_gy),
                        "effective_volume": _none_or_round(e.effective_volume),
                        "axis_value": _none_or_round(e.axis_value),
                        "lkb": None
                        if e.lkb is None
                        else {"n": e.lkb.n, "m": e.lkb.m, "td50_gy": e.lkb.td50_gy, "source": report.burman_version},
                        "geud_gy": _none_or_round(e.geud_gy),
                        "ntcp": _none_or_round(e.ntcp, 6),
                        "ntcp_flagged": e.ntcp_flagged,
                    }
                    for e in organ.endpoints
                ],
            }
        )
    return {
        "quantity": report.quantity.value,
        "alpha_beta_gy": report.alpha_beta_gy,
        "rule": report.rule,
        "rule_description": report.rule_description,
        "ntcp_model": "LKB: NTCP = Phi((gEUD - TD50)/(m TD50)), gEUD = (sum v_i D_i^(1/n))^n",
        "ntcp_flag_threshold": NTCP_FLAG_THRESHOLD,
        "emami_version": report.emami_version,
        "burman_version": report.burman_version,
        "citations": list(report.citations),
        "any_fail": report.any_fail,
        "organs": organs,
        "protocol_source": report.protocol_source,
        "protocol": [
            {
                "structure": p.structure,
                "roi": p.roi_name,
                "constraint": p.constraint,
                "quantity": p.quantity.value,
                "line": p.line,
                "status": p.status.value,
                "reason": p.reason,
                "value": _none_or_round(p.value),
                "unit": p.unit,
                "margin": _none_or_round(p.margin),
            }
            for p in report.protocol
        ],
        "unmapped_rois": [_mapping_dict(m) for m in report.unmapped],
        "non_organ_rois": [_mapping_dict(m) for m in report.non_organs],
        "warnings": list(report.warnings),
    }
