"""Per-structure evaluation on the radiobiological maps: each ROI gets its own alpha/beta.

Targets (GTV/CTV/PTV) are evaluated on the current course's EQD2 with the target alpha/beta
(9 Gy by default): the protocol prescribes the re-irradiation course itself and applies the prior
course's residual only to organs at risk. Organs at risk (and other ROIs that are not targets) are
evaluated on the cumulative EQD2 (current + r x prior) with their alpha/beta (2 Gy by default).
Per-ROI overrides come from :class:`~dosimetry.radiobiology.alpha_beta.AlphaBetaPolicy`.

The maps are built once per distinct alpha/beta. ROIs that cannot be evaluated (no closed
contours, outside the grid, too small for a metric) become warnings naming the ROI.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from dosimetry.dose import DoseGrid
from dosimetry.dvh import compute_dvh, evaluate_metric
from dosimetry.errors import DosimetryError
from dosimetry.quantities import DoseQuantity
from dosimetry.radiobiology.alpha_beta import AlphaBetaPolicy, RoiRole, roi_role
from dosimetry.radiobiology.maps import CourseDose, lq_map
from dosimetry.radiobiology.summation import (
    DEFAULT_RESIDUAL,
    RecoveryAssignment,
    SummationMethod,
    accumulate,
)
from dosimetry.structures import Roi

logger = logging.getLogger(__name__)

TARGET_METRICS = ("D95%[Gy]", "Mean[Gy]", "Max[Gy]")
OAR_METRICS = ("D0.03cc[Gy]", "Mean[Gy]", "Max[Gy]")


@dataclass(frozen=True)
class RoiEvaluation:
    roi_name: str
    role: RoiRole
    alpha_beta_gy: float
    basis: str  # "current course" or "cumulative (r=..., method)"
    quantity: DoseQuantity
    metrics_gy: tuple[tuple[str, float], ...]
    warnings: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class EvaluationResult:
    rois: tuple[RoiEvaluation, ...]
    policy_description: str
    warnings: tuple[str, ...] = field(default=())


def roi_eqd2_metrics(
    current: CourseDose,
    prior_on_current_grid: CourseDose | None,
    rois: Sequence[Roi],
    *,
    policy: AlphaBetaPolicy,
    residual: float = DEFAULT_RESIDUAL,
    method: SummationMethod = SummationMethod.BED_SPACE,
    recovery: RecoveryAssignment | None = None,
) -> EvaluationResult:
    """EQD2 metrics per ROI (see the module docstring for which map each ROI uses); ``recovery``
    (:mod:`dosimetry.radiobiology.recovery` models) replaces ``residual`` when given."""
    current_maps: dict[float, DoseGrid] = {}
    cumulative_maps: dict[float, DoseGrid] = {}
    warnings: list[str] = []
    results: list[RoiEvaluation] = []
    for roi in rois:
        role = roi_role(roi)
        ab = policy.for_roi(roi)
        if role is RoiRole.TARGET or prior_on_current_grid is None:
            if ab not in current_maps:
                current_maps[ab] = lq_map(
                    current.dose, quantity=DoseQuantity.EQD2, alpha_beta_gy=ab, fractions=current.fractions, plan=current.plan,
                    rbe=current.rbe,
                ).dose
            dose = current_maps[ab]
            basis = "current course"
        else:
            if ab not in cumulative_maps:
                cumulative_maps[ab] = accumulate(
                    current, prior_on_current_grid, alpha_beta_gy=ab, residual=residual, method=method, recovery=recovery
                ).dose
            dose = cumulative_maps[ab]
            prior_text = f"r={residual:g}" if recovery is None else recovery.label
            basis = f"cumulative ({prior_text}, {SummationMethod(method).value})"
        try:
            dvh = compute_dvh(dose, roi)
        except DosimetryError as exc:
            warnings.append(f"ROI {roi.name!r} not evaluated: {exc}")
            continue
        values: list[tuple[str, float]] = []
        roi_warnings: list[str] = []
        for metric in TARGET_METRICS if role is RoiRole.TARGET else OAR_METRICS:
            try:
                values.append((metric, float(evaluate_metric(dvh, metric))))
            except DosimetryError as exc:
                roi_warnings.append(f"ROI {roi.name!r}: {metric} not evaluated: {exc}")
        warnings.extend(roi_warnings)
        results.append(RoiEvaluation(roi.name, role, ab, basis, DoseQuantity.EQD2, tuple(values), tuple(roi_warnings)))
    return EvaluationResult(tuple(results), policy.describe(), tuple(warnings))
