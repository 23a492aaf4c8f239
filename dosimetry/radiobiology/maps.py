"""Per-voxel BED and EQD2 maps of a dose distribution.

Input dose rules (the LQ model needs photon-equivalent dose):

* ``EFFECTIVE`` dose (RBE-weighted, GyE; for carbon ions as the planning system computed it) is
  used as is; giving an RBE as well is an error.
* ``PHYSICAL`` dose of photons or electrons is used as is (RBE 1); giving an RBE is an error.
* ``PHYSICAL`` dose of protons needs a constant RBE supplied by the user (for example 1.1); the
  map then records it and carries a warning.
* ``PHYSICAL`` dose of carbon or other ions is always refused: the RBE of ions depends on the
  planning system's biological model and is never assumed.
* ``PHYSICAL`` dose whose radiation type is unknown (no plan given) is taken as photon dose and
  every map carries a warning saying so (with an RBE given, that RBE is applied, also with a warning).
* ``ERROR`` dose is refused, and so are doses of single beams or control points
  (DoseSummationType BEAM, BEAM_SESSION, CONTROL_POINT): the LQ model needs each voxel's total dose
  per fraction from all beams.

Fraction counts come from the plan or are given explicitly; when both are given and differ, that
is a :class:`~dosimetry.errors.ConsistencyError` naming the argument and the plan's value.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from dosimetry.dose import DoseGrid, DoseSummationType, DoseType
from dosimetry.errors import ArgumentError, ConsistencyError, RadiobiologyError
from dosimetry.plan import Plan, RadiationType
from dosimetry.quantities import LQ_QUANTITIES, DoseQuantity, lq_quantity
from dosimetry.radiobiology.lq import (
    _check_dose_array,
    _lq_coefficients,
    _lq_into,
    bed_array,
    bed_array_variable_alpha_beta,
    check_alpha_beta,
    check_fractions,
    eqd2_array,
    eqd2_array_variable_alpha_beta,
)

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]


#: Dose summation types that hold only part of a fraction's dose (refused: LQ is not additive).
PARTIAL_SUMMATION_TYPES = frozenset(
    {DoseSummationType.BEAM, DoseSummationType.BEAM_SESSION, DoseSummationType.CONTROL_POINT}
)

#: Dose summation types holding one fraction's dose (refused: the maps need the course total).
PER_FRACTION_SUMMATION_TYPES = frozenset({DoseSummationType.FRACTION, DoseSummationType.FRACTION_SESSION})


def resolve_fractions(*, plan: Plan | None, fractions: int | None, argument: str = "fractions") -> int:
    """The fraction count: ``fractions`` if given (checked against the plan), else the plan's."""
    if fractions is not None:
        n = check_fractions(fractions, argument=argument)
        if plan is not None:
            planned = plan.fractions_planned
            if planned != n:
                where = f" {plan.source_path}" if plan.source_path else f" {plan.sop_instance_uid}"
                raise ConsistencyError(
                    f"{argument}={n} disagrees with the plan{where}, which plans {planned} fractions "
                    "(NumberOfFractionsPlanned (300A,0078)); omit the argument or correct it"
                )
        return n
    if plan is None:
        raise ArgumentError(f"the fraction count is unknown: give a plan or {argument}")
    return plan.fractions_planned


@dataclass(frozen=True, eq=False)
class PhotonEquivalentDose:
    """Dose ready for the LQ model (Gy or GyE) with the RBE applied, if any, and warnings."""

    dose_gy: FloatArray
    rbe: float | None
    source_dose_type: DoseType
    warnings: tuple[str, ...] = ()


def photon_equivalent_dose(
    dose: DoseGrid,
    *,
    radiation_types: frozenset[RadiationType] | None = None,
    rbe: float | None = None,
) -> PhotonEquivalentDose:
    """Apply the module's input rules to ``dose`` (radiation types usually from the plan)."""
    where = f" ({dose.source_path})" if dose.source_path else ""
    if rbe is not None:
        if not math.isfinite(float(rbe)) or float(rbe) <= 0:
            raise RadiobiologyError(f"rbe must be a finite factor > 0, got {rbe!r}")
        rbe = float(rbe)
    if dose.summation_type in PARTIAL_SUMMATION_TYPES:
        raise RadiobiologyError(
            f"dose{where} is a {dose.summation_type.value} dose (DoseSummationType (3004,000A)): BED/EQD2 need each "
            "voxel's total dose from all beams, because the LQ model is not additive; sum the beam doses first"
        )
    if dose.summation_type in PER_FRACTION_SUMMATION_TYPES:
        raise RadiobiologyError(
            f"dose{where} is a {dose.summation_type.value} dose (DoseSummationType (3004,000A)), the dose of one "
            "fraction: scale it to the course total first (dosimetry.io.load_dose(path, fractions=N))"
        )
    if dose.dose_type is DoseType.ERROR:
        raise RadiobiologyError(f"dose{where} has DoseType ERROR (3004,0004); BED/EQD2 need a dose, not a dose error")
    if dose.dose_type is DoseType.EFFECTIVE:
        if rbe is not None:
            raise RadiobiologyError(
                f"rbe={rbe:g} given but the dose{where} is already EFFECTIVE (RBE-weighted, DoseType (3004,0004)); "
                "omit rbe"
            )
        return PhotonEquivalentDose(dose.dose_gy, None, dose.dose_type, dose.warnings)
    types = radiation_types or frozenset()
    if RadiationType.ION in types:
        raise RadiobiologyError(
            f"the dose{where} is PHYSICAL (DoseType (3004,0004)) and the plan delivers ions: an RBE of carbon ions "
            "depends on the planning system's biological model and is never assumed; export the RBE-weighted "
            "(EFFECTIVE) dose from the planning system"
        )
    if RadiationType.PROTON in types or RadiationType.NEUTRON in types:
        kind = "protons" if RadiationType.PROTON in types else "neutrons"
        if rbe is None:
            raise RadiobiologyError(
                f"the dose{where} is PHYSICAL dose of {kind}: give a constant rbe (for example 1.1 for protons) "
                "or an EFFECTIVE dose"
            )
        warning = f"PHYSICAL {kind} dose multiplied by a constant RBE of {rbe:g} supplied by the user"
        return PhotonEquivalentDose(dose.dose_gy * rbe, rbe, dose.dose_type, dose.warnings + (warning,))
    if types:  # photons / electrons
        if rbe is not None:
            raise RadiobiologyError(
                f"rbe={rbe:g} given for a {'/'.join(sorted(types))} dose{where}; an RBE applies only to proton dose"
            )
        return PhotonEquivalentDose(dose.dose_gy, None, dose.dose_type, dose.warnings)
    if rbe is not None:
        warning = f"radiation type unknown (no plan): PHYSICAL dose multiplied by the user's RBE {rbe:g}"
        return PhotonEquivalentDose(dose.dose_gy * rbe, rbe, dose.dose_type, dose.warnings + (warning,))
    warning = "radiation type unknown (no plan): PHYSICAL dose taken as photon dose (RBE 1)"
    logger.warning("%s%s", warning, where)
    return PhotonEquivalentDose(dose.dose_gy, None, dose.dose_type, dose.warnings + (warning,))


@dataclass(frozen=True, eq=False)
class CourseDose:
    """One course's total dose and what its LQ conversion needs: the plan (radiation types and
    fraction count) or the fraction count given directly, and a constant RBE (protons only).

    The parameter object of :func:`dosimetry.radiobiology.accumulate` and
    :func:`dosimetry.radiobiology.evaluation.roi_eqd2_metrics` (one per course)."""

    dose: DoseGrid
    plan: Plan | None = None
    fractions: int | None = None
    rbe: float | None = None

    def fraction_count(self, *, argument: str = "fractions") -> int:
        """The fraction count (``fractions`` checked against the plan's, else the plan's)."""
        return resolve_fractions(plan=self.plan, fractions=self.fractions, argument=argument)

    def photon_equivalent(self) -> PhotonEquivalentDose:
        """The dose after this module's input rules (:func:`photon_equivalent_dose`)."""
        return photon_equivalent_dose(
            self.dose, radiation_types=self.plan.radiation_types if self.plan else None, rbe=self.rbe
        )


@dataclass(frozen=True, eq=False)
class LqMap:
    """A BED or EQD2 map on the dose grid (``dose.dose_type`` is EFFECTIVE)."""

    quantity: DoseQuantity
    alpha_beta_gy: float
    fractions: int
    dose: DoseGrid
    rbe: float | None = None
    warnings: tuple[str, ...] = field(default=())

    @property
    def description(self) -> str:
        return self.dose.description

    @property
    def alpha_beta_label(self) -> str:
        """The alpha/beta as shown to a user ("2 Gy")."""
        return f"{self.alpha_beta_gy:g} Gy"


def describe_map(quantity: DoseQuantity, alpha_beta_gy: float, fractions: int, rbe: float | None = None) -> str:
    return _describe(quantity, f"{alpha_beta_gy:g} Gy", fractions, rbe)


def _describe(quantity: DoseQuantity, alpha_beta_label: str, fractions: int, rbe: float | None) -> str:
    text = f"{lq_quantity(quantity).value} a/b {alpha_beta_label}, {fractions} fx, voxel LQ d=D/n"
    if rbe is not None:
        text += f", RBE {rbe:g}"
    return text


def effective_dose_grid(
    like: DoseGrid,
    dose_gy: FloatArray,
    *,
    plan: Plan | None,
    description: str,
    warnings: tuple[str, ...],
    summation_type: DoseSummationType | None = None,
    hand_over: bool = False,
) -> DoseGrid:
    """An EFFECTIVE (photon-equivalent) dose on the grid and frame of ``like``, referencing ``plan``
    (else ``like``'s plan), with ``like``'s summation type unless ``summation_type`` is given.

    ``hand_over=True``: ``dose_gy`` was made for this grid and nothing else holds it; it is made
    read-only and kept instead of copied (:class:`DoseGrid` keeps a read-only array that owns its
    data): one grid copy less per map, 84 MB and 0.03-0.1 s of page faults on a clinical grid."""
    if hand_over:
        dose_gy.flags.writeable = False
    return DoseGrid(
        grid=like.grid,
        dose_gy=dose_gy,
        dose_type=DoseType.EFFECTIVE,
        summation_type=like.summation_type if summation_type is None else summation_type,
        frame_of_reference_uid=like.frame_of_reference_uid,
        referenced_plan_uid=plan.sop_instance_uid if plan else like.referenced_plan_uid,
        description=description,
        warnings=warnings,
    )


def lq_array(
    dose_gy: npt.ArrayLike, quantity: DoseQuantity, fractions: int, alpha_beta_gy: float, *, out: FloatArray | None = None
) -> FloatArray:
    """BED or EQD2 of a total-dose array (``out``: optional preallocated result, may be the input)."""
    if lq_quantity(quantity) is DoseQuantity.BED:
        return bed_array(dose_gy, fractions, alpha_beta_gy, out=out)
    return eqd2_array(dose_gy, fractions, alpha_beta_gy, out=out)


def lq_array_variable(
    dose_gy: npt.ArrayLike, quantity: DoseQuantity, fractions: int, alpha_beta_map_gy: npt.ArrayLike
) -> FloatArray:
    """BED or EQD2 of a total-dose array with one alpha/beta per voxel."""
    if lq_quantity(quantity) is DoseQuantity.BED:
        return bed_array_variable_alpha_beta(dose_gy, fractions, alpha_beta_map_gy)
    return eqd2_array_variable_alpha_beta(dose_gy, fractions, alpha_beta_map_gy)


@dataclass(frozen=True, eq=False)
class CompositeLqMap:
    """A BED/EQD2 map whose alpha/beta varies by voxel (``alpha_beta_rule`` says how it was chosen)."""

    quantity: DoseQuantity
    fractions: int
    alpha_beta_rule: str
    alpha_beta_map_gy: FloatArray
    dose: DoseGrid
    rbe: float | None = None
    warnings: tuple[str, ...] = field(default=())

    @property
    def description(self) -> str:
        return self.dose.description

    @property
    def alpha_beta_label(self) -> str:
        """How the per-voxel alpha/beta was chosen (the rule)."""
        return self.alpha_beta_rule


class SingleCourseMap(Protocol):
    """What a single-course BED/EQD2 map offers, whether one alpha/beta (:class:`LqMap`) or one per
    voxel (:class:`CompositeLqMap`): exporters and reports need nothing else."""

    @property
    def quantity(self) -> DoseQuantity: ...

    @property
    def fractions(self) -> int: ...

    @property
    def dose(self) -> DoseGrid: ...

    @property
    def warnings(self) -> tuple[str, ...]: ...

    @property
    def description(self) -> str: ...

    @property
    def alpha_beta_label(self) -> str: ...


def composite_lq_map(
    dose: DoseGrid,
    *,
    quantity: DoseQuantity,
    alpha_beta_map_gy: npt.ArrayLike,
    alpha_beta_rule: str,
    fractions: int | None = None,
    plan: Plan | None = None,
    rbe: float | None = None,
) -> CompositeLqMap:
    """A single map with a per-voxel alpha/beta (for example from
    :func:`dosimetry.radiobiology.alpha_beta.composite_alpha_beta_map`); ``alpha_beta_rule`` is a
    short label (at most about 20 characters) that goes into the description."""
    n = resolve_fractions(plan=plan, fractions=fractions)
    ab_map = np.asarray(alpha_beta_map_gy, dtype=np.float64)
    if ab_map.shape != dose.grid.shape_zyx:
        raise RadiobiologyError(f"alpha_beta_map_gy has shape {ab_map.shape}, expected the dose grid's {dose.grid.shape_zyx}")
    source = photon_equivalent_dose(dose, radiation_types=plan.radiation_types if plan else None, rbe=rbe)
    values = lq_array_variable(source.dose_gy, quantity, n, ab_map)
    text = _describe(quantity, alpha_beta_rule, n, source.rbe)
    grid = effective_dose_grid(dose, values, plan=plan, description=text, warnings=source.warnings, hand_over=True)
    ab_map.flags.writeable = False
    return CompositeLqMap(lq_quantity(quantity), n, alpha_beta_rule, ab_map, grid, source.rbe, source.warnings)


def lq_map(
    dose: DoseGrid,
    *,
    quantity: DoseQuantity,
    alpha_beta_gy: float,
    fractions: int | None = None,
    plan: Plan | None = None,
    rbe: float | None = None,
) -> LqMap:
    """The ``quantity`` map of ``dose`` for one alpha/beta; fractions from ``plan`` or ``fractions``."""
    return lq_maps(dose, quantities=(quantity,), alpha_betas_gy=(alpha_beta_gy,), fractions=fractions, plan=plan, rbe=rbe)[0]


@dataclass(frozen=True)
class MapPreview:
    """What a map will carry, known without computing it: its warnings and its description."""

    warnings: tuple[str, ...]
    description: str


def lq_map_preview(
    dose: DoseGrid,
    *,
    quantity: DoseQuantity,
    alpha_beta_gy: float,
    fractions: int | None = None,
    plan: Plan | None = None,
    rbe: float | None = None,
) -> MapPreview:
    """``lq_map(...)``'s warnings and description (same arguments), raising what :func:`lq_map`
    raises, without the map.

    The same checks in the same order as :func:`lq_maps`; the map's only other error, a value that
    overflows (the DoseGrid refuses non-finite values), is found from the largest dose alone: the
    arithmetic ``D * (D * k + scale)`` with ``k, scale > 0`` is non-decreasing in ``D >= 0`` in
    floating point too (each rounding is monotonic), so the largest map value is the one computed
    from the largest dose. When that value is not finite the map is computed, and raises as before.
    Measured reason (issue 20, clinical 256 x 256 x 160 grid): load_patient computed one LQ map
    and one cumulative map (84 MB each) to collect their warnings and threw them away: 0.19 s CPU
    in process with the maps, 0.06 s with the previews (median of 7)."""
    n = resolve_fractions(plan=plan, fractions=fractions)
    ab = check_alpha_beta(alpha_beta_gy)
    source = photon_equivalent_dose(dose, radiation_types=plan.radiation_types if plan else None, rbe=rbe)
    kind = lq_quantity(quantity)  # (lq_array asks first)
    values = np.asarray(source.dose_gy, dtype=np.float64)
    _check_dose_array(values, "dose_gy")  # the error lq_array gives (lq_maps' first check of the values)
    with np.errstate(over="ignore"):  # an overflow here is the map's to report (computed below)
        largest = lq_array(np.max(values, keepdims=True).reshape(1), kind, n, ab)
    if not math.isfinite(float(largest[0])):
        computed = lq_map(dose, quantity=quantity, alpha_beta_gy=alpha_beta_gy, fractions=fractions, plan=plan, rbe=rbe)
        return MapPreview(computed.warnings, computed.description)
    return MapPreview(source.warnings, describe_map(kind, ab, n, source.rbe))


def lq_map_slabs(
    dose: DoseGrid,
    *,
    quantity: DoseQuantity,
    alpha_beta_gy: float,
    fractions: int | None = None,
    plan: Plan | None = None,
    rbe: float | None = None,
) -> Iterator[FloatArray]:
    """The values of :func:`lq_map` (same arguments) one z slab at a time, without the whole map:
    the same checks and the same element-wise arithmetic, so the same numbers. Each slab is one
    scratch buffer, overwritten by the next: use it (the caller may also overwrite it) before
    asking for the next.

    Measured reason (issue 20, 256 x 256 x 160 grid): a step that needs only a function of a map
    (the re-irradiation type's overlap ratio of two EQD2 maps) held 84 MB per map at its peak, and
    on the shared machine faulting in each fresh whole-grid array cost 0.03-0.3 s of system time."""
    n = resolve_fractions(plan=plan, fractions=fractions)
    ab = check_alpha_beta(alpha_beta_gy)
    source = photon_equivalent_dose(dose, radiation_types=plan.radiation_types if plan else None, rbe=rbe)
    values = np.asarray(source.dose_gy, dtype=np.float64)
    _check_dose_array(values, "dose_gy")  # the error lq_map gives, for the whole array
    # every value checked above: each slab is the unchecked arithmetic of lq_array with its
    # coefficients (measured: the checked call per slab cost 0.086 s CPU for two maps' 320 slabs
    # of the clinical grid, the arithmetic alone about a third of it)
    k, scale = _lq_coefficients(n, ab, bed=lq_quantity(quantity) is DoseQuantity.BED)
    scratch = np.empty(values.shape[1:], dtype=np.float64)
    for z in range(values.shape[0]):
        yield _lq_into(values[z], k, scale, scratch)


def lq_maps(
    dose: DoseGrid,
    *,
    quantities: Sequence[DoseQuantity] = LQ_QUANTITIES,
    alpha_betas_gy: Sequence[float] = (2.0, 9.0),
    fractions: int | None = None,
    plan: Plan | None = None,
    rbe: float | None = None,
) -> tuple[LqMap, ...]:
    """Maps for every (alpha/beta, quantity) pair over the whole grid (BED2, EQD2_2, BED9, EQD2_9 by default)."""
    n = resolve_fractions(plan=plan, fractions=fractions)
    abs_gy = [check_alpha_beta(ab) for ab in alpha_betas_gy]
    if not abs_gy:
        raise ArgumentError("alpha_betas_gy must name at least one alpha/beta ratio")
    if not quantities:
        raise ArgumentError("quantities must name BED and/or EQD2")
    source = photon_equivalent_dose(dose, radiation_types=plan.radiation_types if plan else None, rbe=rbe)
    maps: list[LqMap] = []
    for ab in abs_gy:
        for quantity in quantities:
            values = lq_array(source.dose_gy, lq_quantity(quantity), n, ab)
            description = describe_map(lq_quantity(quantity), ab, n, source.rbe)
            grid = effective_dose_grid(dose, values, plan=plan, description=description, warnings=source.warnings, hand_over=True)
            maps.append(LqMap(lq_quantity(quantity), ab, n, grid, source.rbe, source.warnings))
    return tuple(maps)
