"""Plan-quality indices of one target at one reference level, on physical dose or on BED/EQD2 maps.

Levels
------
``reference_gy`` is the 100 % level *in the quantity of the map*: the prescription for physical
(RBE-weighted) dose, ``BED(prescription)`` on a BED map (for example BED9 of 55 GyE in 22
fractions = 70.3 Gy), ``EQD2(prescription)`` on an EQD2 map. Every percentage is a percentage of
that reference in the same quantity:

- the conformity indices use the isodose ``isodose_pct`` % of the reference (default 100 %);
- the gradient index at ratio ``f`` is ``PIV(f x level) / PIV(level)`` where ``level`` is that
  same isodose (Paddick-Lippitz: f = 0.5 with the prescription isodose);
- coverage rules use their own percentage of the reference (95 % for the CTV, 90 % for the PTV).

Because BED is a non-linear function of dose, 95 % of BED(Rx) is not BED(95 % of Rx); on a
single-course BED map, the isodose surface BED(f x Rx) coincides with the physical f x Rx surface
and gives the physical indices back. The protocol's coverage rules are stated in physical
(RBE-weighted) dose, so they are evaluated by default only on physical dose
(:func:`protocol_coverage_rules`).

Regions
-------
TV is the target volume, TV_PIV the part of it at or above the level, PIV the isodose volume inside
the body (the External ROI). Without an External the whole dose grid is used and a warning says so.
A target reaching the level in more volume than the body isodose volume holds (a target outside
the External) is a :class:`~dosimetry.errors.ConsistencyError` beyond a small partial-volume slack.

Degenerate cases (each carried as a warning; undefined indices are
:class:`~dosimetry.indices.definitions.IndexValue` objects with an ``undefined_reason``):

- no isodose volume (the level is above the maximum dose in the body): Paddick, van't Riet,
  Lomax-Scheib and the gradient index are undefined; RTOG CI, target coverage and coverage are 0;
- a target without dose: ICRU 83 HI undefined (D50% = 0), RTOG HI 0, coverage 0, Paddick 0 when
  there is an isodose volume elsewhere;
- a target partly outside the dose grid: TV is the full contour volume, the outside part is never
  counted as covered (its dose is unknown), and the DVH doses describe the in-grid part; a warning
  gives the volume outside;
- an isodose level reached on the outer faces of the dose grid: its volume may continue beyond the
  grid, so PIV at that level and the indices using it are lower bounds (warning);
- a target entirely outside the grid or without contours: :class:`~dosimetry.errors.GeometryError`
  (raised by the DVH engine or the volume layer).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from dosimetry.dose import DoseGrid, DoseType
from dosimetry.dvh import DoseSamples, Dvh, evaluate_metric, roi_dose_samples
from dosimetry.dvh.curve import dvh_from_samples
from dosimetry.dvh.endcaps import DEFAULT_END_CAP, EndCapConvention
from dosimetry.errors import ArgumentError, ConsistencyError
from dosimetry.indices.definitions import (
    CTV_COVERAGE_RULE,
    PTV_COVERAGE_RULE,
    CoverageResult,
    CoverageRule,
    IndexValue,
    check_coverage,
    check_gradient_fraction,
    gradient_index,
    icru83_homogeneity_index,
    lomax_scheib_index,
    paddick_conformity_index,
    rtog_conformity_index,
    rtog_homogeneity_index,
    target_coverage,
    vant_riet_conformation_number,
)
from dosimetry.indices.volumes import RegionVolumes, body_volumes, volumes_from_samples
from dosimetry.quantities import DoseQuantity
from dosimetry.radiobiology import bed_gy, eqd2_gy, lq_map
from dosimetry.structures import Roi

logger = logging.getLogger(__name__)

#: Relative excess of TV_PIV over PIV tolerated (and clamped, with a warning) as partial-volume
#: noise at the body surface; a larger excess means the target lies outside the External.
TARGET_OUTSIDE_BODY_RTOL = 0.01
#: Absolute part of the same slack, cc.
TARGET_OUTSIDE_BODY_ATOL_CC = 0.01
#: TV_PIV may exceed PIV by this relative amount through partial-volume rounding alone (sub-pixels
#: partly covered by the target; floating-point summation order): within it TV_PIV is set to PIV
#: without a note, since the two volumes are then equal to the engine's accuracy (0.1 % measured on a
#: 3 mm grid with the isodose inside the target, tests/test_dvh_consistency.py).
PARTIAL_VOLUME_NOISE_RTOL = 0.002

#: Default gradient ratios: the Paddick-Lippitz 50 %.
DEFAULT_GRADIENT_FRACTIONS: tuple[float, ...] = (0.5,)


@dataclass(frozen=True)
class ReferenceLevel:
    """The 100 % level of a map in its own quantity, and where it comes from.

    Build with :meth:`physical` or :meth:`lq` rather than by hand.
    """

    quantity: DoseQuantity
    reference_gy: float
    prescription_gy: float
    fractions: int | None = None
    alpha_beta_gy: float | None = None
    rbe_weighted: bool = False  # a PHYSICAL-quantity reference on RBE-weighted (EFFECTIVE) dose: Gy(RBE)

    def __post_init__(self) -> None:
        for name in ("reference_gy", "prescription_gy"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0.0):
                raise ArgumentError(f"{name} must be a finite dose > 0 Gy, got {value!r}")
        if self.quantity is not DoseQuantity.PHYSICAL and (self.fractions is None or self.alpha_beta_gy is None):
            raise ArgumentError(f"a {self.quantity} reference needs fractions and alpha_beta_gy")

    @classmethod
    def physical(cls, prescription_gy: float, *, rbe_weighted: bool = False) -> ReferenceLevel:
        """The prescription itself on the planned dose; ``rbe_weighted`` when that dose is RBE-weighted
        (DoseType EFFECTIVE), so labels read Gy(RBE)."""
        return cls(DoseQuantity.PHYSICAL, float(prescription_gy), float(prescription_gy), rbe_weighted=bool(rbe_weighted))

    @classmethod
    def lq(cls, quantity: DoseQuantity, prescription_gy: float, fractions: int, alpha_beta_gy: float) -> ReferenceLevel:
        """BED or EQD2 of the prescription given in ``fractions`` equal fractions (LQ model)."""
        if quantity is DoseQuantity.BED:
            value = bed_gy(prescription_gy, fractions, alpha_beta_gy)
        elif quantity is DoseQuantity.EQD2:
            value = eqd2_gy(prescription_gy, fractions, alpha_beta_gy)
        else:
            raise ArgumentError("ReferenceLevel.lq needs quantity BED or EQD2; use ReferenceLevel.physical")
        return cls(quantity, value, float(prescription_gy), int(fractions), float(alpha_beta_gy))

    @property
    def label(self) -> str:
        """For example ``physical 55 Gy``, ``RBE-weighted 55 Gy(RBE)`` or ``BED9 70.28 Gy (55 Gy(RBE) in 22 fx)``."""
        if self.quantity is DoseQuantity.PHYSICAL:
            return f"RBE-weighted {self.reference_gy:g} Gy(RBE)" if self.rbe_weighted else f"physical {self.reference_gy:g} Gy"
        return (
            f"{self.quantity}{self.alpha_beta_gy:g} {self.reference_gy:.4g} Gy "
            f"({self.prescription_gy:g} {self.dose_unit} in {self.fractions} fx)"
        )

    @property
    def dose_unit(self) -> str:
        """The unit of the prescription: Gy(RBE) for RBE-weighted dose, Gy otherwise."""
        return "Gy(RBE)" if self.rbe_weighted else "Gy"

    @property
    def level_unit(self) -> str:
        """The unit of levels on this reference's map: the prescription's unit on the planned dose, Gy on BED/EQD2."""
        return self.dose_unit if self.quantity is DoseQuantity.PHYSICAL else "Gy"

    def to_dict(self) -> dict[str, object]:
        return {
            "quantity": str(self.quantity),
            "reference_gy": self.reference_gy,
            "prescription_gy": self.prescription_gy,
            "fractions": self.fractions,
            "alpha_beta_gy": self.alpha_beta_gy,
            "rbe_weighted": self.rbe_weighted,
            "label": self.label,
        }


@dataclass(frozen=True)
class TargetDoseStatistics:
    """DVH doses of the target (from the DVH engine), in the quantity of the map, Gy."""

    dmax_gy: float
    d2_gy: float
    d50_gy: float
    d98_gy: float
    warnings: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class TargetIndices:
    """All indices of one target at one reference level (one quantity)."""

    target_name: str
    reference: ReferenceLevel
    isodose_pct: float
    level_gy: float
    tv_cc: float
    piv_cc: float
    tv_piv_cc: float
    gradient_volumes_cc: tuple[tuple[float, float], ...]
    body_description: str
    statistics: TargetDoseStatistics
    indices: tuple[IndexValue, ...]
    coverage: tuple[CoverageResult, ...]
    warnings: tuple[str, ...] = field(default=())

    def index(self, name: str) -> IndexValue:
        for value in self.indices:
            if value.name == name:
                return value
        raise ArgumentError(f"no index named {name!r}; have {[v.name for v in self.indices]}")

    def to_dict(self) -> dict[str, object]:
        return {
            "target": self.target_name,
            "reference": self.reference.to_dict(),
            "isodose_pct": self.isodose_pct,
            "level_gy": self.level_gy,
            "TV_cc": self.tv_cc,
            "PIV_cc": self.piv_cc,
            "TV_PIV_cc": self.tv_piv_cc,
            "gradient_isodose_volumes_cc": [
                {"fraction_of_level": fraction, "level_gy": fraction * self.level_gy, "volume_cc": volume}
                for fraction, volume in self.gradient_volumes_cc
            ],
            "body_region": self.body_description,
            "target_dose_gy": {
                "Dmax": self.statistics.dmax_gy,
                "D2%": self.statistics.d2_gy,
                "D50%": self.statistics.d50_gy,
                "D98%": self.statistics.d98_gy,
            },
            "indices": {value.name: value.to_dict() for value in self.indices},
            "coverage": [result.to_dict() for result in self.coverage],
            "warnings": list(self.warnings),
        }


def protocol_coverage_rules(target: Roi, quantity: DoseQuantity) -> tuple[CoverageRule, ...]:
    """The protocol's coverage rule for ``target``: V95% for a CTV, V90% for a PTV, none otherwise.

    The kind comes from the RT ROI Interpreted Type, or from the name prefix when the type is
    empty. Rules are stated in physical (RBE-weighted) dose, so none apply on BED/EQD2 maps.
    """
    if quantity is not DoseQuantity.PHYSICAL:
        return ()
    kind = target.interpreted_type.strip().upper() or target.name.strip().upper()[:3]
    if kind == "CTV":
        return (CTV_COVERAGE_RULE,)
    if kind == "PTV":
        return (PTV_COVERAGE_RULE,)
    return ()


def required_levels(
    reference: ReferenceLevel,
    isodose_pct: float,
    gradient_fractions: Sequence[float],
    coverage_rules: Sequence[CoverageRule],
) -> tuple[float, ...]:
    """Every level (Gy, in the map's quantity) the indices need, without duplicates, sorted."""
    level = isodose_level_gy(reference, isodose_pct)
    levels = {level}
    levels.update(check_gradient_fraction(f) * level for f in gradient_fractions)
    levels.update(rule.isodose_pct / 100.0 * reference.reference_gy for rule in coverage_rules)
    return tuple(sorted(levels))


def isodose_level_gy(reference: ReferenceLevel, isodose_pct: float) -> float:
    pct = float(isodose_pct)
    if not (math.isfinite(pct) and 0.0 < pct <= 200.0):
        raise ArgumentError(f"isodose_pct must lie in (0, 200] %, got {isodose_pct!r}")
    return pct / 100.0 * reference.reference_gy


def compute_indices(
    *,
    target_name: str,
    reference: ReferenceLevel,
    isodose_pct: float,
    target: RegionVolumes,
    body: RegionVolumes,
    statistics: TargetDoseStatistics,
    gradient_fractions: Sequence[float] = DEFAULT_GRADIENT_FRACTIONS,
    coverage_rules: Sequence[CoverageRule] = (),
    warnings: Sequence[str] = (),
) -> TargetIndices:
    """Assemble every index from region volumes already computed at :func:`required_levels`."""
    level = isodose_level_gy(reference, isodose_pct)
    notes = list(warnings) + list(target.warnings) + list(body.warnings) + list(statistics.warnings)
    tv = target.total_cc
    piv = body.at(level)
    tv_piv = target.at(level)
    if tv_piv > piv:
        excess = tv_piv - piv
        if excess > TARGET_OUTSIDE_BODY_RTOL * tv_piv + TARGET_OUTSIDE_BODY_ATOL_CC:
            raise ConsistencyError(
                f"target {target_name!r} receives {level:.4g} Gy in {tv_piv:.4g} cc but the isodose volume "
                f"in {body.description} is only {piv:.4g} cc: the target extends outside that region"
            )
        if excess > PARTIAL_VOLUME_NOISE_RTOL * tv_piv + 1e-9:
            notes.append(
                f"TV_PIV ({tv_piv:.5g} cc) exceeded PIV ({piv:.5g} cc) by {excess:.2g} cc (partial-volume noise where "
                f"the target meets the edge of {body.description}); TV_PIV set to PIV"
            )
        tv_piv = piv
    if level > body.max_gy:
        notes.append(
            f"the reference level {level:.4g} Gy ({isodose_pct:g} % of {reference.label}) is above the maximum "
            f"{body.max_gy:.4g} Gy in {body.description}: there is no isodose volume (PIV = 0); indices dividing "
            "by PIV are undefined"
        )
    outside_cc = target.total_cc - target.in_grid_cc
    if outside_cc > 0.0:
        notes.append(
            f"{outside_cc:.4g} cc of target {target_name!r} ({100 * outside_cc / target.total_cc:.1f} % of its "
            f"{target.total_cc:.4g} cc) lies outside the dose grid: it counts in TV but, its dose being unknown, "
            "never in TV_PIV or coverage (conservative); D2%, D50%, D98% and Dmax describe the part inside the grid"
        )
    if statistics.dmax_gy == 0.0:
        notes.append(f"target {target_name!r} receives no dose: homogeneity indices of a zero dose are undefined")

    indices: list[IndexValue] = [
        rtog_conformity_index(tv, piv),
        paddick_conformity_index(tv, piv, tv_piv),
        vant_riet_conformation_number(tv, piv, tv_piv),
        lomax_scheib_index(piv, tv_piv),
        target_coverage(tv, tv_piv),
    ]
    gradient_volumes: list[tuple[float, float]] = []
    for fraction in gradient_fractions:
        low = body.at(float(fraction) * level)
        gradient_volumes.append((float(fraction), low))
        indices.append(gradient_index(piv, low, float(fraction)))
    indices.append(icru83_homogeneity_index(statistics.d2_gy, statistics.d98_gy, statistics.d50_gy))
    indices.append(rtog_homogeneity_index(statistics.dmax_gy, reference.reference_gy))

    coverage = tuple(
        check_coverage(rule, tv, min(target.at(rule.isodose_pct / 100.0 * reference.reference_gy), tv))
        for rule in coverage_rules
    )
    for value in indices:
        if value.undefined_reason is not None:
            logger.info("%s of %s undefined: %s", value.name, target_name, value.undefined_reason)
    return TargetIndices(
        target_name=target_name,
        reference=reference,
        isodose_pct=float(isodose_pct),
        level_gy=level,
        tv_cc=tv,
        piv_cc=piv,
        tv_piv_cc=tv_piv,
        gradient_volumes_cc=tuple(gradient_volumes),
        body_description=body.description,
        statistics=statistics,
        indices=tuple(indices),
        coverage=coverage,
        warnings=tuple(dict.fromkeys(notes)),
    )


def statistics_from_dvh(dvh: Dvh) -> TargetDoseStatistics:
    """Dmax, D2%, D50%, D98% of the target from its DVH (the DVH engine's TG-263 metrics; relative
    volumes refer to the part of the target inside the dose grid).

    The DVH engine keeps every sample within the range of the dose-grid values around it
    (tests/test_dvh_bounds.py), so these doses never fall below the grid's minimum.
    """
    doses = {
        key: evaluate_metric(dvh, metric)
        for key, metric in (("dmax_gy", "Max[Gy]"), ("d2_gy", "D2%[Gy]"), ("d50_gy", "D50%[Gy]"), ("d98_gy", "D98%[Gy]"))
    }
    return TargetDoseStatistics(**doses, warnings=())


def evaluate_target(
    dose: DoseGrid,
    target: Roi,
    reference: ReferenceLevel,
    *,
    body: Roi | None,
    isodose_pct: float = 100.0,
    gradient_fractions: Sequence[float] = DEFAULT_GRADIENT_FRACTIONS,
    coverage_rules: Sequence[CoverageRule] | None = None,
) -> TargetIndices:
    """Every index of ``target`` on ``dose`` (a map in ``reference.quantity``) at ``isodose_pct``.

    ``body`` is the External ROI (see :func:`~dosimetry.indices.volumes.find_body`) or None for the
    whole grid (with a warning). ``coverage_rules`` None means :func:`protocol_coverage_rules`.
    """
    rules = None if coverage_rules is None else {target.name: tuple(coverage_rules)}
    (result,) = evaluate_targets(
        dose, (target,), reference, body=body, isodose_pct=isodose_pct, gradient_fractions=gradient_fractions,
        coverage_rules=rules,
    )
    return result


def evaluate_targets(
    dose: DoseGrid,
    targets: Sequence[Roi],
    reference: ReferenceLevel,
    *,
    body: Roi | None,
    isodose_pct: float = 100.0,
    gradient_fractions: Sequence[float] = DEFAULT_GRADIENT_FRACTIONS,
    coverage_rules: Mapping[str, Sequence[CoverageRule]] | None = None,
    end_cap: EndCapConvention = DEFAULT_END_CAP,
    known_samples: Mapping[str, DoseSamples] | None = None,
) -> tuple[TargetIndices, ...]:
    """:func:`evaluate_target` for several targets, sampling the body once; the targets and the
    body closed under ``end_cap`` (:mod:`dosimetry.dvh.endcaps`).

    ``coverage_rules`` maps target names to their rules; targets it does not name, or all targets
    when it is None, get :func:`protocol_coverage_rules`. ``known_samples``: the
    :func:`~dosimetry.dvh.roi_dose_samples` of some of these targets and of the body on ``dose``
    under ``end_cap``, by ROI name, already computed (the facade's DVH stage: the same engine call),
    used instead of sampling those ROIs again; the caller vouches that each name is that of the ROI
    object given here.
    """
    known = known_samples or {}
    convention = EndCapConvention.parse(end_cap)
    for name, given in known.items():
        if given.end_cap is not convention:
            raise ArgumentError(f"samples of ROI {name!r} are under end cap {given.end_cap.value}, not {convention.value}")
    if not targets:
        raise ArgumentError("at least one target ROI is needed")
    rules_by_target = [
        tuple(coverage_rules[t.name]) if coverage_rules is not None and t.name in coverage_rules
        else protocol_coverage_rules(t, reference.quantity)
        for t in targets
    ]
    levels_by_target = [required_levels(reference, isodose_pct, gradient_fractions, r) for r in rules_by_target]
    edge_notes = _grid_edge_notes(dose, isodose_level_gy(reference, isodose_pct), gradient_fractions)
    # Targets first: an unusable target fails before the (larger) body is sampled.
    samples_by_target = [known.get(target.name) or roi_dose_samples(dose, target, end_cap=end_cap) for target in targets]
    body_region = body_volumes(
        dose, body, sorted({level for levels in levels_by_target for level in levels}), end_cap=end_cap,
        samples=None if body is None else known.get(body.name),
    )
    results = []
    for target, rules, levels, samples in zip(targets, rules_by_target, levels_by_target, samples_by_target, strict=True):
        target_volumes = volumes_from_samples(f"ROI {target.name!r}", samples, levels)
        dvh = dvh_from_samples(samples, roi_name=target.name, roi_number=target.number, dose_type=str(dose.dose_type))
        results.append(
            compute_indices(
                target_name=target.name,
                reference=reference,
                isodose_pct=isodose_pct,
                target=target_volumes,
                body=body_region,
                statistics=statistics_from_dvh(dvh),
                gradient_fractions=gradient_fractions,
                coverage_rules=rules,
                warnings=dose.warnings + edge_notes,
            )
        )
    return tuple(results)


def _grid_edge_notes(dose: DoseGrid, level_gy: float, gradient_fractions: Sequence[float]) -> tuple[str, ...]:
    """Warnings for isodose levels reached on the outer faces of the dose grid: the isodose volume
    continues beyond the grid, so PIV at that level (and a gradient index using it) is a lower bound."""
    array = dose.dose_gy
    faces = (array[0], array[-1], array[:, 0], array[:, -1], array[:, :, 0], array[:, :, -1])
    edge_max = max(float(face.max()) for face in faces)
    notes = []
    for fraction in (1.0, *(float(f) for f in gradient_fractions)):
        level = fraction * level_gy
        if edge_max >= level:
            notes.append(
                f"the {level:.4g} Gy isodose reaches the edge of the dose grid (maximum {edge_max:.4g} Gy on its "
                "outer faces): the isodose volume at that level may continue beyond the grid, so it and any index "
                "using it are lower bounds"
            )
    return tuple(notes)


def lq_dose_map(dose: DoseGrid, reference: ReferenceLevel) -> DoseGrid:
    """The BED or EQD2 map of ``dose`` matching ``reference`` (voxel LQ, d = D / n), from
    :mod:`dosimetry.radiobiology`; the physical dose itself for a physical reference."""
    if reference.quantity is DoseQuantity.PHYSICAL:
        return dose
    if reference.fractions is None or reference.alpha_beta_gy is None:
        raise ArgumentError(f"a {reference.quantity} reference needs fractions and alpha_beta_gy")
    return lq_map(
        dose, quantity=reference.quantity, alpha_beta_gy=reference.alpha_beta_gy,
        fractions=reference.fractions,
    ).dose


def evaluate_quantity(
    dose: DoseGrid,
    target: Roi,
    *,
    prescription_gy: float,
    quantity: DoseQuantity = DoseQuantity.PHYSICAL,
    alpha_beta_gy: float | None = None,
    fractions: int | None = None,
    body: Roi | None,
    isodose_pct: float = 100.0,
    gradient_fractions: Sequence[float] = DEFAULT_GRADIENT_FRACTIONS,
    coverage_rules: Sequence[CoverageRule] | None = None,
) -> TargetIndices:
    """:func:`evaluate_target` on physical dose, or on its BED/EQD2 map with the reference level
    ``BED(prescription)`` / ``EQD2(prescription)`` for ``fractions`` and ``alpha_beta_gy``."""
    if quantity is DoseQuantity.PHYSICAL:
        if alpha_beta_gy is not None:
            raise ArgumentError("alpha_beta_gy is only meaningful with quantity BED or EQD2")
        reference = ReferenceLevel.physical(prescription_gy, rbe_weighted=dose.dose_type is DoseType.EFFECTIVE)
    else:
        if alpha_beta_gy is None or fractions is None:
            raise ArgumentError(f"quantity {quantity} needs alpha_beta_gy and fractions")
        reference = ReferenceLevel.lq(quantity, prescription_gy, fractions, alpha_beta_gy)
        if dose.dose_type is DoseType.EFFECTIVE:
            reference = replace(reference, rbe_weighted=True)
    return evaluate_target(
        lq_dose_map(dose, reference),
        target,
        reference,
        body=body,
        isodose_pct=isodose_pct,
        gradient_fractions=gradient_fractions,
        coverage_rules=coverage_rules,
    )
