"""The re-irradiation type of the ESTRO-EORTC consensus (Andratschke N, Willmann J, Appelt AL, et al.
European Society for Radiotherapy and Oncology and European Organisation for Research and Treatment
of Cancer consensus on re-irradiation: definition, reporting, and clinical decision making. Lancet
Oncol 2022;23(10):e469-e478), from the volume irradiated in both courses.

The consensus classes: **type 1** re-irradiation, a new course whose irradiated volume overlaps the
previously irradiated one geometrically; **type 2**, no overlap but a concern of toxicity from the
cumulative doses; **repeat organ irradiation**, the same organ irradiated again without overlap and
without such a concern; **repeat irradiation**, another region without overlap or concern.

What the data answer here: the volume receiving a meaningful dose in both courses, overall (every
voxel of the current dose grid) and per organ at risk (the DVH engine's partial volumes of the map
``min(EQD2_prior / t_prior, EQD2_current / t_current)`` at 1). The consensus sets no numeric dose
level for the "irradiated volume"; the thresholds are parameters and the defaults
(:data:`DEFAULT_THRESHOLD_GY`: EQD2 10 Gy at the late alpha/beta in each course) are this package's
choice, recorded with the result. With overlap the case is type 1. Without it, an organ receiving a
meaningful dose in both courses makes it type 2 or repeat organ irradiation (whether the cumulative
dose is a concern is a clinical judgement: the organs are listed); otherwise repeat irradiation.
"""

from __future__ import annotations

import contextvars
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np

from dosimetry.dvh import Dvh, compute_dvh, evaluate_metric
from dosimetry.dvh.endcaps import DEFAULT_END_CAP, EndCapConvention
from dosimetry.errors import ArgumentError, DosimetryError
from dosimetry.patient.background import background_maps_allowed
from dosimetry.patient.grid_tables import GridTables
from dosimetry.patient.maps import PatientMaps
from dosimetry.quantities import DoseBasis, DoseQuantity
from dosimetry.radiobiology.alpha_beta import RoiRole, roi_role
from dosimetry.radiobiology.maps import effective_dose_grid, lq_map_slabs
from dosimetry.structures import Roi

CONSENSUS_CITATION = (
    "Andratschke N, Willmann J, Appelt AL, et al. ESTRO-EORTC consensus on re-irradiation: definition, reporting, "
    "and clinical decision making. Lancet Oncol 2022;23(10):e469-e478"
)
DEFAULT_THRESHOLD_GY = 10.0


class ReirradiationType(StrEnum):
    TYPE_1 = "type 1"
    TYPE_2_OR_REPEAT_ORGAN = "type 2 or repeat organ irradiation"
    REPEAT_IRRADIATION = "repeat irradiation"


@dataclass(frozen=True)
class OrganOverlap:
    roi: str
    volume_cc: float
    overlap_cc: float  # volume receiving >= the thresholds in both courses
    prior_max_gy: float
    current_max_gy: float


@dataclass(frozen=True)
class ReirradiationClassification:
    type: ReirradiationType
    reason: str
    threshold_prior_gy: float
    threshold_current_gy: float
    quantity: str
    overlap_cc: float
    organs: tuple[OrganOverlap, ...]
    organs_in_both_courses: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type.value,
            "reason": self.reason,
            "citation": CONSENSUS_CITATION,
            "quantity": self.quantity,
            "threshold_prior_gy": self.threshold_prior_gy,
            "threshold_current_gy": self.threshold_current_gy,
            "overlap_cc": round(self.overlap_cc, 4),
            "organs": [
                {"roi": o.roi, "volume_cc": round(o.volume_cc, 4), "overlap_cc": round(o.overlap_cc, 4),
                 "prior_max_gy": round(o.prior_max_gy, 4), "current_max_gy": round(o.current_max_gy, 4)}
                for o in self.organs
            ],
            "organs_in_both_courses": list(self.organs_in_both_courses),
        }


def classify_reirradiation(
    maps: PatientMaps,
    rois: Sequence[Roi],
    *,
    threshold_prior_gy: float = DEFAULT_THRESHOLD_GY,
    threshold_current_gy: float = DEFAULT_THRESHOLD_GY,
    bin_width_gy: float = 0.01,
    current_dvhs: Mapping[str, Dvh] | None = None,
    tables: GridTables | None = None,
    end_cap: EndCapConvention = DEFAULT_END_CAP,
) -> tuple[ReirradiationClassification | None, tuple[str, ...]]:
    """The classification (None without a prior course) and warnings (organs without a DVH).

    ``current_dvhs``: DVHs of ROIs already computed on the current course's EQD2 map (late
    alpha/beta, ``bin_width_gy`` bins: the facade's DVH stage), whose maxima are used instead of
    sampling that map again (the same numbers: the same engine call on the same values).
    ``tables``: the facade's :class:`GridTables` (one map's sampling tables at a time, shared with
    the next step); without it the tables are released before returning. ``end_cap``: the end-cap
    convention of the organs' DVHs (that of ``current_dvhs``)."""
    for name, value in (("threshold_prior_gy", threshold_prior_gy), ("threshold_current_gy", threshold_current_gy)):
        if not (np.isfinite(value) and value > 0):
            raise ArgumentError(f"{name} must be a dose > 0 Gy, got {value!r}")
    if maps.prior is None or maps.aligned is None:
        return None, ()
    with (tables or GridTables()).session() as held:
        return _classify(
            maps, rois, threshold_prior_gy, threshold_current_gy, bin_width_gy, current_dvhs or {}, held,
            EndCapConvention.parse(end_cap),
        )


def _classify(
    maps: PatientMaps, rois: Sequence[Roi], threshold_prior_gy: float, threshold_current_gy: float, bin_width_gy: float,
    current_dvhs: Mapping[str, Dvh], tables: GridTables, end_cap: EndCapConvention,
) -> tuple[ReirradiationClassification | None, tuple[str, ...]]:
    tables.release()  # the previous step's map tables are not needed while the ratio map is made (this step's peak)
    assert maps.aligned is not None and maps.prior is not None
    # the ratio min(EQD2 prior / t, EQD2 current / t) one z slab at a time from the two courses'
    # doses (lq_map_slabs: the values of the EQD2 maps, the same numbers), without either EQD2 map
    # (measured reason, issue 20, clinical grid: 2 x 84 MB at this step's peak, the analysis's
    # peak, and 0.1-0.4 s of system time faulting in those arrays on the shared machine); whole
    # voxels (the grid's own volumes per z slab): voxels at or above both thresholds
    late_gy = maps.alpha_beta_late_gy
    grid = maps.current.dose.grid
    ratio = np.empty(grid.shape_zyx, dtype=np.float64)
    slabs = lq_map_slabs(maps.aligned.dose, quantity=DoseQuantity.EQD2, alpha_beta_gy=late_gy, plan=maps.prior.plan)
    for k, slab in enumerate(slabs):
        np.divide(slab, threshold_prior_gy, out=ratio[k])
    per_slab = np.empty(ratio.shape[0], dtype=np.intp)
    above = np.empty(ratio.shape[1:], dtype=np.bool_)
    slabs = lq_map_slabs(maps.current.dose, quantity=DoseQuantity.EQD2, alpha_beta_gy=late_gy, plan=maps.current.plan)
    for k, slab in enumerate(slabs):  # (the slab is lq_map_slabs' scratch: divided in place)
        np.minimum(ratio[k], np.divide(slab, threshold_current_gy, out=slab), out=ratio[k])
        per_slab[k] = np.count_nonzero(np.greater_equal(ratio[k], 1.0, out=above))
    overall_cc = float(np.dot(per_slab, grid.voxel_volume_cc()))
    both = effective_dose_grid(  # on the current EQD2 map's grid, frame, summation type and plan
        maps.current.dose, ratio, plan=maps.current.plan, description="min(EQD2 prior/t, EQD2 current/t)", warnings=(),
        hand_over=True,
    )
    del ratio  # (both holds it)
    current_map = maps.constraint_maps()[DoseBasis.EQD2_CURRENT]
    organs: list[OrganOverlap] = []
    warnings: list[str] = []
    candidates = [r for r in rois if roi_role(r) is RoiRole.ORGAN_AT_RISK and r.closed_planar_contours]
    # one grid at a time over all organs, its sampling tables released after it (memory: one grid's
    # tables at once); per organ the first failure in the order overlap, prior, current is reported
    failed: dict[str, DosimetryError] = {}
    overlap_cc: dict[str, tuple[float, float]] = {}
    max_gy: dict[tuple[str, str], float] = {}
    tables.use(both)
    # the prior course's EQD2 map is made in a background thread while the organs are sampled on the
    # ratio map (numpy's whole-array arithmetic releases the GIL; the sampling is Python code), and
    # taken when it is needed, raising there what making it raised (measured reason, issue 20,
    # clinical grid: 0.05-0.08 s CPU of this step on the otherwise idle second core). It was made at
    # that point before too, with the ratio map and its tables still held: the same peak.
    # (in the calling thread under dosimetry.patient.background.without_background_maps: a batch worker)
    make_prior = maps.prior_lq_maker(DoseQuantity.EQD2, maps.alpha_beta_late_gy)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="dosimetry-map") as pool:
        prior_made = pool.submit(contextvars.copy_context().run, make_prior) if background_maps_allowed() else None
        for roi in candidates:
            try:
                overlap = compute_dvh(both, roi, bin_width_gy=bin_width_gy, end_cap=end_cap)
                overlap_cc[roi.name] = (float(overlap.volume_in_dose_grid_cc), float(evaluate_metric(overlap, "V1Gy[cc]")))
            except DosimetryError as exc:
                failed[roi.name] = exc
        # the current course mostly from the DVH stage's curves (not sampled again), so the prior map's
        # tables are still held for the next step (the re-irradiation limits sample the same prior map)
        prior = maps.prior_lq_dose(
            DoseQuantity.EQD2, maps.alpha_beta_late_gy, tables, made=None if prior_made is None else prior_made.result,
        )
    for label in ("prior", "current"):
        for roi in candidates:
            if roi.name in failed:
                continue
            known = current_dvhs.get(roi.name) if label == "current" else None
            try:
                if known is None:
                    known = compute_dvh(
                        tables.use(prior if label == "prior" else current_map()), roi, bin_width_gy=bin_width_gy, end_cap=end_cap
                    )
                dvh = known
                max_gy[(roi.name, label)] = float(dvh.max_gy)
            except DosimetryError as exc:
                failed[roi.name] = exc
    for roi in candidates:
        if roi.name in failed:
            warnings.append(f"re-irradiation type: ROI {roi.name!r} not evaluated: {failed[roi.name]}")
            continue
        volume_cc, overlap_volume_cc = overlap_cc[roi.name]
        organs.append(OrganOverlap(roi.name, volume_cc, overlap_volume_cc, max_gy[(roi.name, "prior")], max_gy[(roi.name, "current")]))
    in_both = tuple(o.roi for o in organs if o.prior_max_gy >= threshold_prior_gy and o.current_max_gy >= threshold_current_gy)
    label = f"EQD2 (a/b {maps.alpha_beta_late_gy:g} Gy)"
    if overall_cc > 0:
        kind = ReirradiationType.TYPE_1
        reason = (
            f"{overall_cc:.2f} cc receive >= {threshold_prior_gy:g} Gy {label} in the prior course and >= "
            f"{threshold_current_gy:g} Gy in the current one: the irradiated volumes overlap"
        )
    elif in_both:
        kind = ReirradiationType.TYPE_2_OR_REPEAT_ORGAN
        reason = (
            f"no overlap of the irradiated volumes; {', '.join(in_both)} receive a meaningful dose in both courses: "
            "type 2 when their cumulative dose is a concern, else repeat organ irradiation (clinical judgement)"
        )
    else:
        kind = ReirradiationType.REPEAT_IRRADIATION
        reason = "no overlap of the irradiated volumes and no organ at risk receives a meaningful dose in both courses"
    quantity = f"{DoseQuantity.EQD2.value} a/b {maps.alpha_beta_late_gy:g} Gy per course (no recovery)"
    return ReirradiationClassification(
        kind, reason, threshold_prior_gy, threshold_current_gy, quantity, overall_cc, tuple(organs), in_both
    ), tuple(warnings)
