"""How far to trust the mapped prior dose: mapping quality and the uncertainty of the cumulative checks.

**Mapping quality** (:func:`mapping_quality`), per constraint organ:

* the Jacobian determinant of the current -> prior mapping inside the organ (min, and the count of
  folding voxels, determinant <= 0; the whole-grid statistics are in ``alignment``);
* when the prior RT Structure Set has the same organ (same TG-263 name through the ROI name
  mapper), the Dice coefficient and the mean surface distance (symmetric, mm) between the prior
  contour mapped into the current frame and the current contour, under the rigid and under the
  deformable mapping. Both contours are rasterised (exact partial volumes,
  :func:`dosimetry.dvh.rasterise.rasterise_roi`) on a grid of about 1 mm around the organ
  (coarser for large organs: at most 2 million voxels), the prior one in its own frame and pulled
  through the mapping (trilinear), and thresholded at half occupancy;
* the inverse consistency error, when deformable registrations in both directions link the frames:
  |G(F(p)) - p| over the current dose grid, F current -> prior, G prior -> current (mean, 95th
  percentile, max, mm).

**Uncertainty** (:func:`registration_uncertainty`), per constraint row on a quantity that holds the
prior course: the value under the rigid mapping and under the deformable one side by side, and the
spread of the value when the prior dose (as mapped) is shifted by ``margin_mm`` along +-x, +-y, +-z
(the registration's uncertainty; six extra evaluations with the same constraint code). The worst
direction per organ is the one giving the most adverse value. A status that differs anywhere in
that spread is reported as ``UNCERTAIN``, not as a plain PASS (or FAIL).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from dosimetry.align import align_prior_dose
from dosimetry.align.deformable import (
    current_to_prior_points,
    displacement_field,
    jacobian_stats,
)
from dosimetry.align.resample import resample_values_with_transform
from dosimetry.align.transforms import current_to_prior_transform
from dosimetry.constraints.naming import NameMapper
from dosimetry.constraints.protocol import Protocol
from dosimetry.dose import DoseGrid
from dosimetry.dvh import Dvh
from dosimetry.dvh.rasterise import rasterise_roi
from dosimetry.errors import DosimetryError, GeometryError
from dosimetry.grid import RectilinearGrid
from dosimetry.io.registration_reader import DeformableRegistration
from dosimetry.patient.checks import constraint_report
from dosimetry.dvh.endcaps import DEFAULT_END_CAP, EndCapConvention
from dosimetry.patient.maps import CumulativeMapSet, PatientMaps, lq_key
from dosimetry.patient.records import ConstraintCheck
from dosimetry.patient.results import constraint_checks
from dosimetry.quantities import DoseBasis, DoseQuantity
from dosimetry.radiobiology import CourseDose
from dosimetry.radiobiology.recovery import DEFAULT_RESIDUAL
from dosimetry.structures import Roi

if TYPE_CHECKING:
    # Imported in the functions that use it (0.1-0.2 s CPU): an analyze without a prior course,
    # --no-prior, never needs SimpleITK (issue 20, start-up CPU).
    import SimpleITK as sitk

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

#: Default registration uncertainty margin, mm (the prior dose is shifted by it in six directions).
DEFAULT_MARGIN_MM = 2.0
_MAX_FINE_VOXELS = 2_000_000
#: The dose bases of the current course alone: their DVHs do not depend on the prior dose.
CURRENT_COURSE_BASES = frozenset({DoseBasis.DOSE_CURRENT, DoseBasis.EQD2_CURRENT})
_DIRECTIONS = {"+x": (1, 0, 0), "-x": (-1, 0, 0), "+y": (0, 1, 0), "-y": (0, -1, 0), "+z": (0, 0, 1), "-z": (0, 0, -1)}


@dataclass(frozen=True)
class OrganMappingQuality:
    roi: str
    prior_roi: str | None
    dice_rigid: float | None
    dice_deformable: float | None
    mean_surface_distance_rigid_mm: float | None
    mean_surface_distance_deformable_mm: float | None
    jacobian_min: float | None
    folding_voxels: int | None
    note: str


@dataclass(frozen=True)
class InverseConsistency:
    mean_mm: float
    p95_mm: float
    max_mm: float


@dataclass(frozen=True)
class UncertaintyRow:
    source: str
    roi: str
    endpoint: str
    quantity: str
    metric: str
    comparator: str
    limit: float | None
    value_rigid: float | None
    value_deformable: float | None
    value: float | None
    unit: str  # of limit, values and spread: the constraint row's unit (Gy, %, cc), as ConstraintCheck.unit
    spread_low: float | None
    spread_high: float | None
    worst_direction: str | None
    status: str
    verdict: str


@dataclass(frozen=True)
class RegistrationUncertainty:
    """results.json ``registration_uncertainty``: margin, mapping used, rows, mapping quality."""

    margin_mm: float
    mapping: str
    rigid_available: bool
    deformable_available: bool
    rows: tuple[UncertaintyRow, ...]
    organs: tuple[OrganMappingQuality, ...]
    inverse_consistency: InverseConsistency | None
    notes: tuple[str, ...]

    @property
    def uncertain(self) -> tuple[UncertaintyRow, ...]:
        return tuple(r for r in self.rows if r.verdict == "UNCERTAIN")


# ---------------------------------------------------------------------------- mappings
def _deformable_transform(maps: PatientMaps, grid: RectilinearGrid) -> sitk.Transform | None:
    import SimpleITK as sitk

    reg = maps.deformable_registration
    if reg is None or maps.prior is None:
        return None
    field, _ = displacement_field(
        reg, grid, current_frame_uid=maps.current.dose.frame_of_reference_uid, prior_frame_uid=maps.prior.dose.frame_of_reference_uid
    )
    return sitk.DisplacementFieldTransform(field)


def _rigid_transform(maps: PatientMaps) -> sitk.Transform | None:
    import SimpleITK as sitk

    if maps.prior is None:
        return None
    cur, pri = maps.current.dose.frame_of_reference_uid, maps.prior.dose.frame_of_reference_uid
    if cur == pri:
        return sitk.Transform(3, sitk.sitkIdentity)
    if maps.rigid_registration is None:
        return None
    return current_to_prior_transform(maps.rigid_registration, current_frame_uid=cur, prior_frame_uid=pri)


# ---------------------------------------------------------------------------- organ overlap
def _fine_grid(points_mm: FloatArray, margin_mm: float = 10.0) -> RectilinearGrid:
    lo, hi = points_mm.min(axis=0) - margin_mm, points_mm.max(axis=0) + margin_mm
    extent = hi - lo
    spacing = max(1.0, float(np.cbrt(np.prod(extent) / _MAX_FINE_VOXELS)))
    shape = tuple(int(np.ceil(e / spacing)) + 1 for e in extent)
    return RectilinearGrid.uniform((float(lo[0]), float(lo[1]), float(lo[2])), (spacing,) * 3, (shape[2], shape[1], shape[0]))


def _roi_points(roi: Roi) -> FloatArray:
    return np.concatenate([c.points_mm for c in roi.closed_planar_contours], axis=0)


def _surface_distance_mm(a: npt.NDArray[np.bool_], b: npt.NDArray[np.bool_], spacing_mm: float) -> float:
    """Symmetric mean surface distance between two binary masks on one grid."""
    from scipy import ndimage  # only the registration check needs it: not imported by every analyze

    surf_a = a & ~ndimage.binary_erosion(a)
    surf_b = b & ~ndimage.binary_erosion(b)
    if not surf_a.any() or not surf_b.any():
        which = "current organ" if not surf_a.any() else "mapped prior organ"
        raise GeometryError(f"the {which} covers no voxel of the comparison grid: no surface distance")
    to_b = ndimage.distance_transform_edt(~surf_b, sampling=spacing_mm)
    to_a = ndimage.distance_transform_edt(~surf_a, sampling=spacing_mm)
    return float(np.concatenate([to_b[surf_a], to_a[surf_b]]).mean())


def _prior_occupancy(prior_roi: Roi, spacing_mm: float) -> tuple[FloatArray, RectilinearGrid]:
    """The prior contour's occupancy on a grid of ``spacing_mm`` around it, in its own frame."""
    prior_grid = _fine_grid(_roi_points(prior_roi))
    prior_grid = RectilinearGrid.uniform(
        (float(prior_grid.x_mm[0]), float(prior_grid.y_mm[0]), float(prior_grid.z_mm[0])), (spacing_mm,) * 3,
        (int(np.ceil((prior_grid.z_mm[-1] - prior_grid.z_mm[0]) / spacing_mm)) + 1,
         int(np.ceil((prior_grid.y_mm[-1] - prior_grid.y_mm[0]) / spacing_mm)) + 1,
         int(np.ceil((prior_grid.x_mm[-1] - prior_grid.x_mm[0]) / spacing_mm)) + 1),
    )
    return rasterise_roi(prior_roi, prior_grid).occupancy, prior_grid


def _overlap(
    current: npt.NDArray[np.bool_], prior: tuple[FloatArray, RectilinearGrid], transform: sitk.Transform, grid: RectilinearGrid,
    names: tuple[str, str],
) -> tuple[float, float]:
    """Dice and mean surface distance of the ``current`` organ mask (on ``grid``) and the prior
    occupancy (:func:`_prior_occupancy`) pulled through ``transform``; ``names``: (current, prior) ROI."""
    prior_occ, prior_grid = prior
    mapped, _ = resample_values_with_transform(prior_occ, prior_grid, grid, transform)
    mapped_mask = mapped >= 0.5
    total = int(current.sum() + mapped_mask.sum())
    if total == 0:
        raise GeometryError(f"neither {names[0]!r} nor the mapped prior {names[1]!r} covers a voxel of the comparison grid")
    dice = float(2 * (current & mapped_mask).sum() / total)
    return dice, _surface_distance_mm(current, mapped_mask, grid.spacing_x_mm)


def mapping_quality(maps: PatientMaps, roi_names: tuple[str, ...], rois: dict[str, Roi], mapper: NameMapper) -> tuple[tuple[OrganMappingQuality, ...], tuple[str, ...]]:
    """Per-organ Jacobian and contour overlap (module docstring); notes on what could not be computed."""
    import SimpleITK as sitk

    notes: list[str] = []
    prior_rois: dict[str, Roi] = {}
    if maps.prior is not None:
        try:
            prior_ss = maps.prior.structure_set(argument="--prior")
            prior_rois = {mapper.map(r.name).match_key: r for r in prior_ss.rois if r.closed_planar_contours}
        except DosimetryError as exc:
            notes.append(f"no contour overlap: the prior course has no usable RT Structure Set ({exc})")
    rigid = _rigid_transform(maps)
    result: list[OrganMappingQuality] = []
    for name in roi_names:
        roi = rois.get(name)
        if roi is None or not roi.closed_planar_contours:
            continue
        grid = _fine_grid(_roi_points(roi))
        deformable = _deformable_transform(maps, grid)
        jac_min: float | None = None
        folding: int | None = None
        # the organ's mask and the prior organ's occupancy are made once and compared under each
        # mapping (measured reason, issue 20: with a deformable registration each organ was
        # rasterised three times and its prior twice)
        inside: npt.NDArray[np.bool_] | None = None
        if deformable is not None:
            field = sitk.DisplacementFieldTransform(deformable).GetDisplacementField()
            inside = rasterise_roi(roi, grid).occupancy >= 0.5
            if inside.any():
                stats = jacobian_stats(field, inside)
                jac_min, folding = stats.minimum, stats.folding_voxels
        prior_roi = prior_rois.get(mapper.map(name).match_key)
        dice_r = dice_d = msd_r = msd_d = None
        note = ""
        if prior_roi is None:
            note = "no organ of this name in the prior structure set"
        else:
            try:
                mappings = [(label, t) for label, t in (("rigid", rigid), ("deformable", deformable)) if t is not None]
                if mappings:
                    current = inside if inside is not None else rasterise_roi(roi, grid).occupancy >= 0.5
                    prior = _prior_occupancy(prior_roi, grid.spacing_x_mm)
                for label, transform in mappings:
                    overlap = _overlap(current, prior, transform, grid, (roi.name, prior_roi.name))
                    if label == "rigid":
                        dice_r, msd_r = overlap
                    else:
                        dice_d, msd_d = overlap
            except DosimetryError as exc:
                note = f"overlap not computed: {exc}"
        result.append(OrganMappingQuality(name, prior_roi.name if prior_roi else None, dice_r, dice_d, msd_r, msd_d, jac_min, folding, note))
    return tuple(result), tuple(notes)


def inverse_consistency(maps: PatientMaps) -> InverseConsistency | None:
    """|G(F(p)) - p| over the current dose grid when deformable registrations in both directions exist."""
    used = maps.deformable_registration
    if used is None or maps.prior is None:
        return None
    cur, pri = maps.current.dose.frame_of_reference_uid, maps.prior.dose.frame_of_reference_uid
    others = [
        r for r in (*maps.current.deformable_registrations, *maps.prior.deformable_registrations)
        if {r.source_frame_uid, r.target_frame_uid} == {cur, pri} and r.target_frame_uid != used.target_frame_uid
    ]
    if not others:
        return None
    back: DeformableRegistration = others[0]
    grid = maps.current.dose.grid
    z, y, x = np.meshgrid(grid.z_mm, grid.y_mm, grid.x_mm, indexing="ij")
    pts = np.stack([x.ravel(), y.ravel(), z.ravel()], axis=1)[::7]
    forward = current_to_prior_points(used, pts, current_frame_uid=cur, prior_frame_uid=pri).points_mm
    # ``back`` read the other way round: prior -> current points
    returned = current_to_prior_points(back, forward, current_frame_uid=pri, prior_frame_uid=cur).points_mm
    error = np.linalg.norm(returned - pts, axis=1)
    return InverseConsistency(float(error.mean()), float(np.percentile(error, 95)), float(error.max()))


# ---------------------------------------------------------------------------- uncertainty
def _checks_for_prior(
    maps: PatientMaps, prior_dose: DoseGrid, rois: tuple[Roi, ...], mapper: NameMapper, protocol: Protocol | None, bin_width_gy: float,
    end_cap: EndCapConvention, current_dvhs: Mapping[DoseBasis, dict[str, Dvh]] | None = None,
) -> dict[tuple[str, str, str, str], ConstraintCheck]:
    """The constraint rows with ``prior_dose`` as the mapped prior dose. The cumulative maps are
    computed when the checks ask for one (:class:`~dosimetry.patient.maps.CumulativeMapSet`: the
    checks use the late EQD2 one only); ``current_dvhs``: DVHs on the current course's maps
    (:data:`CURRENT_COURSE_BASES`), which no prior dose changes, reused instead of sampled again.
    Measured reason (issue 20, clinical case, six shifts): the BED map accumulated for nothing
    cost 0.6 s CPU; the current course's maps and DVHs were made again for every shift."""
    assert maps.prior is not None and maps.aligned is not None
    cumulative = CumulativeMapSet(
        CourseDose(maps.current.dose, maps.current.plan), CourseDose(prior_dose, maps.prior.plan),
        {lq_key(q, maps.alpha_beta_late_gy) + "_cumulative": q for q in (DoseQuantity.EQD2, DoseQuantity.BED)},
        alpha_beta_gy=maps.alpha_beta_late_gy, residual=DEFAULT_RESIDUAL if maps.residual is None else maps.residual,
        recovery=maps.recovery_assignment,
    )
    alt = replace(maps, aligned=replace(maps.aligned, dose=prior_dose), cumulative=cumulative)
    known = {basis: dict(dvhs) for basis, dvhs in (current_dvhs or {}).items() if basis in CURRENT_COURSE_BASES}
    report = constraint_report(
        alt, rois, mapper=mapper, protocol=protocol, bin_width_gy=bin_width_gy, roi_failures={}, end_cap=end_cap,
        known_dvhs=known,
    )
    return {(r.source, r.roi, r.endpoint, r.metric): r for r in constraint_checks(report)}


def _shifted(dose: DoseGrid, shift_mm: tuple[float, float, float]) -> DoseGrid:
    """The dose moved by ``shift_mm``: shifted(p) = dose(p - shift); 0 where it comes from outside."""
    import SimpleITK as sitk

    transform = sitk.TranslationTransform(3, [-v for v in shift_mm])
    values, _ = resample_values_with_transform(np.asarray(dose.dose_gy), dose.grid, dose.grid, transform)
    return replace(dose, dose_gy=values, description=f"{dose.description}; shifted by {shift_mm} mm")


def _adverse(comparator: str, values: dict[str, float]) -> str:
    return (max if comparator.startswith("<") else min)(values, key=lambda k: values[k])


def registration_uncertainty(
    maps: PatientMaps,
    rois: tuple[Roi, ...],
    nominal: tuple[ConstraintCheck, ...],
    *,
    mapper: NameMapper,
    protocol: Protocol | None,
    bin_width_gy: float,
    margin_mm: float = DEFAULT_MARGIN_MM,
    end_cap: EndCapConvention = DEFAULT_END_CAP,
    current_dvhs: Mapping[DoseBasis, dict[str, Dvh]] | None = None,
) -> RegistrationUncertainty | None:
    """Rigid vs deformable values, the shift spread and the verdicts (module docstring); None without a prior course.
    ``current_dvhs``: DVHs already computed on the current course's maps (``bin_width_gy`` bins,
    ``end_cap``; the facade's DVH stage), by dose basis and ROI name: reused by every evaluation."""
    if maps.prior is None or maps.aligned is None:
        return None
    notes: list[str] = []
    deformable_used = maps.deformable_registration is not None
    rigid_checks: dict[tuple[str, str, str, str], ConstraintCheck] = {}
    rigid_transform = _rigid_transform(maps)
    if deformable_used and rigid_transform is not None:
        rigid_reg = maps.rigid_registration
        rigid_dose = align_prior_dose(
            maps.prior.dose, maps.current.dose.grid, maps.current.dose.frame_of_reference_uid, registration=rigid_reg,
        ).dose if rigid_reg is not None else None
        if rigid_dose is not None:
            rigid_checks = _checks_for_prior(maps, rigid_dose, rois, mapper, protocol, bin_width_gy, end_cap, current_dvhs)
    elif deformable_used:
        notes.append("no rigid registration links the frames: the rigid column is empty")
    shifted: dict[str, dict[tuple[str, str, str, str], ConstraintCheck]] = {}
    if margin_mm > 0:
        for label, unit in _DIRECTIONS.items():
            shift = (unit[0] * margin_mm, unit[1] * margin_mm, unit[2] * margin_mm)
            shifted[label] = _checks_for_prior(
                maps, _shifted(maps.aligned.dose, shift), rois, mapper, protocol, bin_width_gy, end_cap, current_dvhs
            )
    rows: list[UncertaintyRow] = []
    for row in nominal:
        if "cumulative" not in row.quantity and "prior" not in row.quantity:
            continue
        key = (row.source, row.roi, row.endpoint, row.metric)
        values = {label: checks[key].value for label, checks in shifted.items() if key in checks and checks[key].value is not None}
        statuses = {row.status} | {checks[key].status for checks in shifted.values() if key in checks}
        statuses.discard("NOT_EVALUABLE")
        finite = {k: float(v) for k, v in values.items() if v is not None}
        all_values = [*finite.values(), *([row.value] if row.value is not None else [])]
        worst = _adverse(row.comparator, finite) if finite else None
        verdict = "UNCERTAIN" if len(statuses) > 1 else row.status
        rigid_row = rigid_checks.get(key)
        value_rigid = row.value if not deformable_used else (rigid_row.value if rigid_row else None)
        rows.append(
            UncertaintyRow(
                source=row.source, roi=row.roi, endpoint=row.endpoint, quantity=row.quantity, metric=row.metric,
                comparator=row.comparator, limit=row.limit, value_rigid=value_rigid,
                value_deformable=row.value if deformable_used else None, value=row.value, unit=row.unit,
                spread_low=min(all_values) if all_values else None, spread_high=max(all_values) if all_values else None,
                worst_direction=worst, status=row.status, verdict=verdict,
            )
        )
    organ_names = tuple(dict.fromkeys(r.roi for r in rows if r.roi))
    by_name = {r.name: r for r in rois}
    organs, quality_notes = mapping_quality(maps, organ_names, by_name, mapper)
    notes.extend(quality_notes)
    return RegistrationUncertainty(
        margin_mm=margin_mm,
        mapping=maps.aligned.method.value,
        rigid_available=bool(rigid_checks) or not deformable_used,
        deformable_available=deformable_used,
        rows=tuple(rows),
        organs=organs,
        inverse_consistency=inverse_consistency(maps),
        notes=tuple(notes),
    )
