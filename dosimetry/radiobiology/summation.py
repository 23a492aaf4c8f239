"""Cumulative dose of the current course and the prior course with a residual (recovery) factor.

``cumulative = current + r x prior`` with ``r`` the residual fraction of the prior course (default
0.30: the protocol discounts the prior dose to organs at risk uniformly by 70 %). Two methods:

* ``bed-space`` (default): each course is converted voxel by voxel with its own fraction count,
  then ``EQD2_cum = EQD2_current + r x EQD2_prior`` (likewise for BED; the same alpha/beta in both
  terms, so BED and EQD2 sums are proportional). The sum is linear in ``r``.
* ``physical``: the prior physical (or RBE-weighted) dose is discounted first,
  ``D'_prior = r x D_prior`` over the prior course's fraction count, then converted:
  ``EQD2_cum = EQD2(D_current, n_current) + EQD2(r D_prior, n_prior)``. It gives less prior
  effect than ``bed-space`` wherever the prior dose per fraction exceeds 0 (the quadratic term
  sees the discounted dose per fraction).

What target metrics use: the protocol applies the discount to organs at risk. Target (GTV/CTV/PTV)
metrics are reported from the current course alone (its BED/EQD2 with the target alpha/beta); the
cumulative map is for organs at risk. :data:`TARGET_METRICS_NOTE` states this and every result
carries it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from dosimetry.dose import DoseGrid
from dosimetry.errors import ArgumentError, GeometryError
from dosimetry.radiobiology.lq import (
    EQD2_REFERENCE_DOSE_PER_FRACTION_GY,
    _add_scaled_lq_array,
    _check_dose_array,
    check_alpha_beta,
    check_fractions,
    eqd2_per_bed,
)
from dosimetry.quantities import DoseQuantity, lq_quantity
from dosimetry.radiobiology.maps import (
    CourseDose,
    MapPreview,
    effective_dose_grid,
    lq_array,
    lq_array_variable,
)
from dosimetry.radiobiology.recovery import DEFAULT_RESIDUAL, ConstantResidual, RecoveryModel

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

TARGET_METRICS_NOTE = (
    "target metrics use the current course alone (no prior dose); the residual prior dose is added "
    "for organs at risk, as the protocol does"
)


class SummationMethod(StrEnum):
    BED_SPACE = "bed-space"
    PHYSICAL = "physical"


def check_residual(residual: float, *, argument: str = "residual") -> float:
    """The residual fraction in [0, 1], or an :class:`ArgumentError` naming ``argument``."""
    try:
        value = float(residual)
    except (TypeError, ValueError) as exc:
        raise ArgumentError(f"{argument} must be a fraction in [0, 1], got {residual!r}") from exc
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise ArgumentError(f"{argument} must be a fraction in [0, 1] (0.3 keeps 30 % of the prior dose), got {residual!r}")
    return value


@dataclass(frozen=True, eq=False)
class RecoveryAssignment:
    """Which recovery model applies where: ``default`` everywhere except the voxels of an override
    mask (an organ with its own model); where override masks overlap, the model leaving the most
    prior BED counts (the cautious choice). ``interval_months``: the interval between the courses."""

    default: RecoveryModel
    overrides: tuple[tuple[RecoveryModel, BoolArray], ...] = ()
    interval_months: float | None = None

    @property
    def models(self) -> tuple[RecoveryModel, ...]:
        return tuple({m.label: m for m in (self.default, *(m for m, _ in self.overrides))}.values())

    @property
    def constant_residual(self) -> float | None:
        """The residual when one constant-residual model applies everywhere, else None."""
        if not self.overrides and isinstance(self.default, ConstantResidual):
            return self.default.residual
        return None

    @property
    def label(self) -> str:
        return " | ".join(m.label for m in self.models)

    def remaining_bed(self, prior_bed_gy: FloatArray, alpha_beta_gy: float | FloatArray) -> FloatArray:
        """The prior BED still counted, voxel by voxel."""
        out = self.default.remaining_bed(prior_bed_gy, alpha_beta_gy=alpha_beta_gy, interval_months=self.interval_months)
        if not self.overrides:
            return out
        ab = np.broadcast_to(np.asarray(alpha_beta_gy, dtype=np.float64), prior_bed_gy.shape)
        best = np.full(prior_bed_gy.shape, -np.inf)
        covered = np.zeros(prior_bed_gy.shape, dtype=bool)
        for model, mask in self.overrides:
            if mask.shape != prior_bed_gy.shape:
                raise GeometryError(f"recovery mask shape {mask.shape} differs from the dose shape {prior_bed_gy.shape}")
            values = model.remaining_bed(prior_bed_gy[mask], alpha_beta_gy=ab[mask], interval_months=self.interval_months)
            best[mask] = np.maximum(best[mask], values)
            covered |= mask
        out[covered] = best[covered]
        return out


def cumulative_array(
    current_gy: npt.ArrayLike,
    current_fractions: int,
    prior_gy: npt.ArrayLike,
    prior_fractions: int,
    *,
    alpha_beta_gy: float | FloatArray,
    residual: float = DEFAULT_RESIDUAL,
    method: SummationMethod = SummationMethod.BED_SPACE,
    quantity: DoseQuantity = DoseQuantity.EQD2,
    recovery: RecoveryAssignment | None = None,
) -> FloatArray:
    """Cumulative BED or EQD2 of two photon-equivalent total-dose arrays on the same grid
    (``alpha_beta_gy``: one ratio, or one per voxel). ``recovery`` (models per voxel and the
    interval) replaces ``residual`` when given; only a constant residual allows ``physical``."""
    r = check_residual(residual)
    if recovery is not None and recovery.constant_residual is not None:
        r, recovery = recovery.constant_residual, None
    n_cur = check_fractions(current_fractions, argument="current_fractions")
    n_prior = check_fractions(prior_fractions, argument="prior_fractions")
    current = np.asarray(current_gy, dtype=np.float64)
    prior = np.asarray(prior_gy, dtype=np.float64)
    if current.shape != prior.shape:
        raise GeometryError(f"prior dose shape {prior.shape} differs from the current dose shape {current.shape}")
    method = SummationMethod(method)
    if np.ndim(alpha_beta_gy) == 0:
        ab = check_alpha_beta(float(alpha_beta_gy))  # type: ignore[arg-type]

        def convert(values: FloatArray, n: int) -> FloatArray:
            return lq_array(values, quantity, n, ab)
    else:
        ab_map = np.asarray(alpha_beta_gy, dtype=np.float64)

        def convert(values: FloatArray, n: int) -> FloatArray:
            return lq_array_variable(values, quantity, n, ab_map)

    result = convert(current, n_cur)
    if recovery is not None:
        if method is not SummationMethod.BED_SPACE:
            raise ArgumentError(
                f"recovery model {recovery.label} works in BED space; the physical summation method takes only a constant residual"
            )
        ab_values = np.asarray(alpha_beta_gy, dtype=np.float64)
        prior_bed = lq_array(prior, DoseQuantity.BED, n_prior, float(ab_values)) if ab_values.ndim == 0 else lq_array_variable(
            prior, DoseQuantity.BED, n_prior, ab_values
        )
        prior_term = recovery.remaining_bed(prior_bed, ab_values if ab_values.ndim else float(ab_values))
        if quantity is DoseQuantity.EQD2:
            prior_term /= 1.0 + EQD2_REFERENCE_DOSE_PER_FRACTION_GY / ab_values
        result += prior_term
        return result
    if method is SummationMethod.BED_SPACE:
        if np.ndim(alpha_beta_gy) == 0 and result.flags.c_contiguous and prior.flags.c_contiguous:
            _add_scaled_lq(result, prior, quantity, n_prior, ab, r)
            return result
        prior_term = convert(prior, n_prior)
        prior_term *= r
    else:
        discounted = np.array(prior, dtype=np.float64, copy=True)
        discounted *= r
        prior_term = convert(discounted, n_prior)
    result += prior_term
    return result


def _add_scaled_lq(
    result: FloatArray, prior: FloatArray, quantity: DoseQuantity, fractions: int, alpha_beta_gy: float, residual: float
) -> None:
    """``result += residual * lq_array(prior, ...)`` one chunk at a time, through a small scratch
    buffer: the same operations in the same order on every voxel (the same numbers), without a
    whole-grid temporary. Measured reason (issue 20, 256 x 256 x 160 grid): the temporary was 84 MB
    of the accumulation's peak, a fresh allocation whose page faults cost 0.03-0.2 s of system time
    per cumulative map on the shared machine. The prior doses are checked chunk by chunk (the
    error of lq_array(prior) for the whole array when one fails), not in a pass of their own, and
    the chunk arithmetic is not a checked lq_array call per chunk: cumulative_array 0.110 -> 0.059 s
    CPU per map on the clinical grid (with lq's smaller chunks, median of 7)."""
    scale = 1.0 if lq_quantity(quantity) is DoseQuantity.BED else eqd2_per_bed(alpha_beta_gy)  # lq_array's scale
    _add_scaled_lq_array(result, prior, fractions, alpha_beta_gy, scale, residual, "dose_gy")


@dataclass(frozen=True, eq=False)
class CumulativeMap:
    """A cumulative BED/EQD2 map on the current grid and how it was made."""

    quantity: DoseQuantity
    alpha_beta_gy: float | None  # None for a composite map (see alpha_beta_rule)
    residual: float | None  # None when the recovery model is not one constant residual (see ``recovery``)
    method: SummationMethod
    current_fractions: int
    prior_fractions: int
    dose: DoseGrid
    target_metrics_note: str = TARGET_METRICS_NOTE
    warnings: tuple[str, ...] = field(default=())
    alpha_beta_rule: str = ""
    recovery: str = ""  # the recovery model(s), e.g. "constant residual 0.3"
    interval_months: float | None = None

    @property
    def description(self) -> str:
        return self.dose.description

    @property
    def recovery_label(self) -> str:
        return self.recovery or f"constant residual {self.residual:g}"


def describe_cumulative(
    quantity: DoseQuantity,
    alpha_beta: str,
    current_fractions: int,
    prior_fractions: int,
    residual: float | None,
    method: SummationMethod,
    recovery: str = "",
) -> str:
    """``alpha_beta``: "2 Gy" or a composite rule label; ``recovery``: the model label when ``residual`` is None."""
    prior = f"{residual:.3g} x prior" if residual is not None else f"prior[{recovery}]"
    return f"cum {quantity.value} a/b {alpha_beta}: {current_fractions} fx + {prior} {prior_fractions} fx, {method.value}"


@dataclass(frozen=True, eq=False)
class _Accumulation:
    """What :func:`accumulate` has checked and resolved before its arithmetic."""

    ab: float | None
    ab_values: float | FloatArray
    ab_label: str
    n_cur: int
    n_prior: int
    current_gy: FloatArray
    prior_gy: FloatArray
    r: float | None
    residual: float
    method: SummationMethod
    warnings: tuple[str, ...]


def _accumulation(
    current: CourseDose,
    prior_on_current_grid: CourseDose,
    alpha_beta_gy: float | None,
    alpha_beta_map_gy: FloatArray | None,
    alpha_beta_rule: str,
    residual: float,
    method: SummationMethod,
    warnings: tuple[str, ...],
    recovery: RecoveryAssignment | None,
) -> _Accumulation:
    """The checks of :func:`accumulate` before its arithmetic, in its order (the same errors)."""
    if (alpha_beta_gy is None) == (alpha_beta_map_gy is None):
        raise ArgumentError("give exactly one of alpha_beta_gy and alpha_beta_map_gy")
    ab: float | None
    ab_values: float | FloatArray
    if alpha_beta_map_gy is not None:
        ab_values = np.asarray(alpha_beta_map_gy, dtype=np.float64)
        if ab_values.shape != current.dose.grid.shape_zyx:
            raise GeometryError(f"alpha_beta_map_gy shape {ab_values.shape} differs from the grid's {current.dose.grid.shape_zyx}")
        if not alpha_beta_rule:
            raise ArgumentError("a composite map needs alpha_beta_rule (how the per-voxel ratios were chosen)")
        ab = None
        ab_label = alpha_beta_rule
    else:
        ab = check_alpha_beta(alpha_beta_gy)  # type: ignore[arg-type]
        ab_values = ab
        ab_label = f"{ab:g} Gy"
    if not current.dose.grid.same_as(prior_on_current_grid.dose.grid):
        raise GeometryError("the prior dose must be resampled onto the current dose grid first (dosimetry.align)")
    n_cur = current.fraction_count(argument="current fractions")
    n_prior = prior_on_current_grid.fraction_count(argument="prior fractions")
    cur = current.photon_equivalent()
    pri = prior_on_current_grid.photon_equivalent()
    r: float | None = check_residual(residual)
    if recovery is not None:
        r = recovery.constant_residual
    method = SummationMethod(method)
    prior_warnings = tuple(f"prior: {w}" for w in pri.warnings if w not in warnings)
    all_warnings = tuple(dict.fromkeys(cur.warnings + prior_warnings + tuple(warnings)))
    return _Accumulation(
        ab, ab_values, ab_label, n_cur, n_prior, cur.dose_gy, pri.dose_gy, r, residual if r is None else r, method, all_warnings
    )


def accumulate(
    current: CourseDose,
    prior_on_current_grid: CourseDose,
    *,
    alpha_beta_gy: float | None = None,
    alpha_beta_map_gy: FloatArray | None = None,
    alpha_beta_rule: str = "",
    residual: float = DEFAULT_RESIDUAL,
    method: SummationMethod = SummationMethod.BED_SPACE,
    quantity: DoseQuantity = DoseQuantity.EQD2,
    warnings: tuple[str, ...] = (),
    recovery: RecoveryAssignment | None = None,
) -> CumulativeMap:
    """Cumulative map of the ``current`` course and the prior course whose dose is already on the
    current grid.

    Each course's dose passes the input rules of :mod:`dosimetry.radiobiology.maps` with its own
    plan (radiation types, fraction count). ``warnings`` (for example from the alignment) are
    carried into the result. Give either ``alpha_beta_gy`` or a per-voxel ``alpha_beta_map_gy``
    with a short ``alpha_beta_rule`` label (a composite map). ``recovery`` (recovery models per
    voxel and the interval, :mod:`dosimetry.radiobiology.recovery`) replaces ``residual``.
    """
    a = _accumulation(
        current, prior_on_current_grid, alpha_beta_gy, alpha_beta_map_gy, alpha_beta_rule, residual, method, warnings, recovery
    )
    values = cumulative_array(
        a.current_gy, a.n_cur, a.prior_gy, a.n_prior, alpha_beta_gy=a.ab_values, residual=a.residual,
        method=a.method, quantity=quantity, recovery=recovery,
    )
    r = a.r
    label = recovery.label if recovery is not None else ConstantResidual(r if r is not None else DEFAULT_RESIDUAL).label
    grid = effective_dose_grid(
        current.dose, values, plan=current.plan, description=_description(a, quantity, recovery), warnings=a.warnings,
        hand_over=True,
    )
    return CumulativeMap(
        quantity, a.ab, r, a.method, a.n_cur, a.n_prior, grid, TARGET_METRICS_NOTE, a.warnings,
        alpha_beta_rule if a.ab is None else "", label, None if recovery is None else recovery.interval_months,
    )


def _description(a: _Accumulation, quantity: DoseQuantity, recovery: RecoveryAssignment | None) -> str:
    short = "+".join(dict.fromkeys(m.kind.short for m in recovery.models)) if recovery is not None else ""
    return describe_cumulative(quantity, a.ab_label, a.n_cur, a.n_prior, a.r, a.method, short)


def accumulate_preview(
    current: CourseDose,
    prior_on_current_grid: CourseDose,
    *,
    alpha_beta_gy: float | None = None,
    alpha_beta_map_gy: FloatArray | None = None,
    alpha_beta_rule: str = "",
    residual: float = DEFAULT_RESIDUAL,
    method: SummationMethod = SummationMethod.BED_SPACE,
    quantity: DoseQuantity = DoseQuantity.EQD2,
    warnings: tuple[str, ...] = (),
    recovery: RecoveryAssignment | None = None,
) -> MapPreview:
    """``accumulate(...)``'s warnings and description (same arguments), raising what
    :func:`accumulate` raises.

    For one alpha/beta, bed-space summation and one constant residual (the patient analysis's
    maps) without the map: the same checks as :func:`accumulate` and :func:`cumulative_array` in
    their order, and the overflow the map's DoseGrid would refuse ruled out from the largest doses
    alone (each term ``D * (D * k + scale)``, times ``r >= 0`` for the prior, is non-decreasing in
    ``D >= 0`` in floating point, so no voxel's sum exceeds the sum of the terms of the two largest
    doses). When that bound is not finite, and for every other case, the map is computed as before.
    Measured reason (issue 20, clinical 256 x 256 x 160 grid): load_patient computed one
    cumulative map and one LQ map (84 MB each) to collect their warnings and threw them away:
    0.19 s CPU in process with the maps, 0.06 s with the previews (median of 7)."""
    def computed() -> MapPreview:
        made = accumulate(
            current, prior_on_current_grid, alpha_beta_gy=alpha_beta_gy, alpha_beta_map_gy=alpha_beta_map_gy,
            alpha_beta_rule=alpha_beta_rule, residual=residual, method=method, quantity=quantity, warnings=warnings,
            recovery=recovery,
        )
        return MapPreview(made.warnings, made.description)

    a = _accumulation(
        current, prior_on_current_grid, alpha_beta_gy, alpha_beta_map_gy, alpha_beta_rule, residual, method, warnings, recovery
    )
    if a.ab is None or a.r is None or a.method is not SummationMethod.BED_SPACE:
        return computed()
    # cumulative_array's checks, in its order (its convert(current) checks the current dose, then
    # the prior term checks the prior dose)
    r = check_residual(a.residual)
    check_fractions(a.n_cur, argument="current_fractions")
    check_fractions(a.n_prior, argument="prior_fractions")
    current_gy = np.asarray(a.current_gy, dtype=np.float64)
    prior_gy = np.asarray(a.prior_gy, dtype=np.float64)
    if current_gy.shape != prior_gy.shape:
        raise GeometryError(f"prior dose shape {prior_gy.shape} differs from the current dose shape {current_gy.shape}")
    kind = lq_quantity(quantity)
    _check_dose_array(current_gy, "dose_gy")
    _check_dose_array(prior_gy, "dose_gy")
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow here is the map's to report (computed below)
        bound = lq_array(np.max(current_gy, keepdims=True).reshape(1), kind, a.n_cur, a.ab)
        prior_term = lq_array(np.max(prior_gy, keepdims=True).reshape(1), kind, a.n_prior, a.ab)
        prior_term *= r
        bound += prior_term
    if not math.isfinite(float(bound[0])):
        return computed()
    return MapPreview(a.warnings, _description(a, quantity, recovery))
