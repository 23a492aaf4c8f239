"""Load a patient's current and prior course, align the prior dose and build the dose maps.

This is the shared front half of ``dosimetry check`` and ``dosimetry analyze``:

1. :func:`resolve_folders`: PATIENT_DIR with sub-folders ``current/`` and ``prior/`` (case-insensitive)
   is the normal layout; ``--prior DIR`` names the prior course explicitly; a PATIENT_DIR without
   ``current/`` is a single course.
2. :func:`build_patient_maps`: loads each course with :func:`dosimetry.radiobiology.course.load_course`,
   takes the current course's structure set (same frame of reference as the current dose, else a
   :class:`~dosimetry.errors.ConsistencyError`), brings the prior dose onto the current dose grid
   with :func:`dosimetry.align.align_prior_dose` (same frame; a Spatial Registration from
   ``registration_path`` or found in either folder; or ``assume_same_position``), and computes

   * the current course's voxel-wise LQ maps BED and EQD2 for the late (2 Gy) and tumour (9 Gy)
     alpha/beta: keys ``BED2``, ``EQD2_2``, ``BED9``, ``EQD2_9`` (:func:`dosimetry.radiobiology.lq_maps`);
   * the cumulative maps ``EQD2_2_cumulative`` and ``BED2_cumulative``: current + r x prior in
     BED space (:func:`dosimetry.radiobiology.accumulate`), the quantities of the organ-at-risk checks.
     Without a prior course they equal the current course's maps, with a warning.

Every loader, alignment and radiobiology warning is collected in :attr:`PatientMaps.warnings`.

The shared back half of the constraint checks is :func:`constraint_report`: DVHs (DVH engine) of
the ROIs the checks need on the maps of :meth:`PatientMaps.constraint_maps`, organ extents, then
:func:`dosimetry.constraints.evaluate.evaluate`. :func:`unique_rois` gives the ROIs both commands
use (the first of any repeated name).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dosimetry.align import align_prior_dose
from dosimetry.align.resample import AlignedDose
from dosimetry.constraints.evaluate import ConstraintReport, evaluate
from dosimetry.constraints.naming import NameMapper
from dosimetry.constraints.patient import needed_rois, organ_extents
from dosimetry.constraints.protocol import Protocol
from dosimetry.constraints.quantities import Quantity as ConstraintQuantity
from dosimetry.dose import DoseGrid, DoseType
from dosimetry.dvh import Dvh, compute_dvh
from dosimetry.errors import ArgumentError, ConsistencyError, GeometryError, InputFileError
from dosimetry.radiobiology import CumulativeMap, LqMap, Quantity, SummationMethod, accumulate, lq_map, lq_maps
from dosimetry.radiobiology.course import Course, course_registration, load_course
from dosimetry.radiobiology.summation import check_residual
from dosimetry.structures import Roi, StructureSet

logger = logging.getLogger(__name__)

#: Map keys of the current course's LQ maps, by (quantity, alpha/beta role).
LATE, TUMOUR = "late", "tumour"


@dataclass(frozen=True)
class CourseFolders:
    """Where the two courses are, and how that was decided (for the report)."""

    current: Path
    prior: Path | None
    how: str


def resolve_folders(patient_dir: Path, prior: Path | None = None) -> CourseFolders:
    """The current and prior course folders of ``patient_dir`` (see the module docstring)."""
    patient_dir = Path(patient_dir)
    if not patient_dir.is_dir():
        raise InputFileError(f"PATIENT_DIR {patient_dir} is not a folder")
    if prior is not None:
        if not Path(prior).is_dir():
            raise InputFileError(f"--prior {prior} is not a folder")
        subdirs = {p.name.casefold(): p for p in patient_dir.iterdir() if p.is_dir()}
        current = subdirs.get("current", patient_dir)
        if Path(prior).resolve() == current.resolve():
            raise ArgumentError(
                f"--prior {prior} is the current course folder {current}: the current dose would be added to itself "
                "as the prior course"
            )
        return CourseFolders(current, Path(prior), "PATIENT_DIR and --prior")
    subdirs = {p.name.casefold(): p for p in patient_dir.iterdir() if p.is_dir()}
    if "current" in subdirs:
        found_prior = subdirs.get("prior")
        how = "sub-folders current/ and prior/ of PATIENT_DIR" if found_prior else "sub-folder current/ of PATIENT_DIR"
        return CourseFolders(subdirs["current"], found_prior, how)
    return CourseFolders(patient_dir, None, "PATIENT_DIR (no prior course)")


def dose_quantity_name(dose: DoseGrid) -> str:
    """``rbe_weighted`` for an EFFECTIVE (RBE-weighted, GyE) dose, ``physical`` otherwise."""
    return "rbe_weighted" if dose.dose_type is DoseType.EFFECTIVE else "physical"


def lq_key(quantity: Quantity, alpha_beta_gy: float) -> str:
    """``BED2``, ``BED9``, ``EQD2_2``, ``EQD2_9`` (alpha/beta printed with ``:g``)."""
    return f"BED{alpha_beta_gy:g}" if quantity is Quantity.BED else f"EQD2_{alpha_beta_gy:g}"


@dataclass(frozen=True, eq=False)
class PatientMaps:
    """The loaded courses and every dose map on the current dose grid."""

    folders: CourseFolders
    current: Course
    structure_set: StructureSet
    prior: Course | None
    aligned: AlignedDose | None
    registration_source: str
    residual: float
    alpha_beta_late_gy: float
    alpha_beta_tumour_gy: float
    lq: dict[str, LqMap]
    cumulative: dict[str, CumulativeMap]
    warnings: tuple[str, ...] = field(default=())

    @property
    def dose_quantity(self) -> str:
        return dose_quantity_name(self.current.dose)

    @property
    def eqd2_late_cumulative_key(self) -> str:
        return lq_key(Quantity.EQD2, self.alpha_beta_late_gy) + "_cumulative"

    @property
    def bed_late_cumulative_key(self) -> str:
        return lq_key(Quantity.BED, self.alpha_beta_late_gy) + "_cumulative"

    def constraint_maps(self) -> dict[ConstraintQuantity, Callable[[], DoseGrid]]:
        """Dose maps of the constraint checks' quantities (EQD2 with the late alpha/beta), computed on demand."""
        eqd2_current = self.lq[lq_key(Quantity.EQD2, self.alpha_beta_late_gy)].dose
        maps: dict[ConstraintQuantity, Callable[[], DoseGrid]] = {
            ConstraintQuantity.DOSE_CURRENT: lambda: self.current.dose,
            ConstraintQuantity.EQD2_CURRENT: lambda: eqd2_current,
            ConstraintQuantity.EQD2_CUMULATIVE: lambda: self.cumulative[self.eqd2_late_cumulative_key].dose,
        }
        if self.aligned is not None and self.prior is not None:
            aligned, prior_plan, ab = self.aligned, self.prior.plan, self.alpha_beta_late_gy
            maps[ConstraintQuantity.DOSE_PRIOR] = lambda: aligned.dose
            maps[ConstraintQuantity.EQD2_PRIOR] = lambda: lq_map(
                aligned.dose, quantity=Quantity.EQD2, alpha_beta_gy=ab, plan=prior_plan
            ).dose
        return maps


def _check_frames(structure_set: StructureSet, frame_uid: str) -> None:
    if structure_set.frame_of_reference_uid and structure_set.frame_of_reference_uid != frame_uid:
        raise ConsistencyError(
            f"RT Structure Set {structure_set.source_path} is in frame of reference {structure_set.frame_of_reference_uid}, "
            f"the current RT Dose in {frame_uid}; the ROIs must be contoured on the current planning CT"
        )


def build_patient_maps(
    folders: CourseFolders,
    *,
    registration_path: Path | None = None,
    assume_same_position: bool = False,
    residual: float = 0.3,
    alpha_beta_late_gy: float = 2.0,
    alpha_beta_tumour_gy: float = 9.0,
) -> PatientMaps:
    """Load, align and build the maps (see the module docstring)."""
    residual = check_residual(residual, argument="--residual")
    for name, value in (("alpha_beta_late_gy", alpha_beta_late_gy), ("alpha_beta_tumour_gy", alpha_beta_tumour_gy)):
        if not value > 0:
            raise ArgumentError(f"{name} must be > 0 Gy, got {value}")
    if folders.prior is None and (registration_path is not None or assume_same_position):
        raise ArgumentError("--registration and --assume-same-position need a prior course (prior/ or --prior DIR)")
    if registration_path is not None and assume_same_position:
        raise ArgumentError("give either --registration or --assume-same-position, not both")

    current = load_course(folders.current, argument="PATIENT_DIR")
    frame = current.dose.frame_of_reference_uid
    structure_set = current.structure_set(argument="PATIENT_DIR")
    _check_frames(structure_set, frame)
    warnings: list[str] = [*current.warnings, *structure_set.warnings]

    abs_gy = tuple(dict.fromkeys((alpha_beta_late_gy, alpha_beta_tumour_gy)))
    lq: dict[str, LqMap] = {}
    for m in lq_maps(current.dose, quantities=(Quantity.BED, Quantity.EQD2), alpha_betas_gy=abs_gy, plan=current.plan):
        lq[lq_key(m.quantity, m.alpha_beta_gy)] = m
        warnings.extend(m.warnings)

    prior: Course | None = None
    aligned: AlignedDose | None = None
    source = "no prior course"
    cumulative: dict[str, CumulativeMap] = {}
    if folders.prior is not None:
        prior = load_course(folders.prior, argument="--prior")
        prior_frame = prior.dose.frame_of_reference_uid
        registration = course_registration(
            current, prior, registration_path=registration_path, search_folders=not assume_same_position
        )
        source = "same frame of reference" if prior_frame == frame else "assumed same position (no registration)"
        if registration_path is not None:
            source = f"--registration {registration_path}"
        elif registration is not None:
            source = f"found in course folder: {registration.source_path}"
        aligned = align_prior_dose(
            prior.dose, current.dose.grid, frame, registration=registration, assume_same_position=assume_same_position
        )
        warnings += [f"prior: {w}" for w in prior.warnings]
        for quantity in (Quantity.EQD2, Quantity.BED):
            cum = accumulate(
                current.dose,
                aligned.dose,
                alpha_beta_gy=alpha_beta_late_gy,
                current_plan=current.plan,
                prior_plan=prior.plan,
                residual=residual,
                quantity=quantity,
                warnings=aligned.warnings,
            )
            cumulative[lq_key(quantity, alpha_beta_late_gy) + "_cumulative"] = cum
            warnings.extend(cum.warnings)
    else:
        warnings.append("no prior course: the cumulative maps are the current course's BED/EQD2 alone")
        n = current.plan.fractions_planned
        for quantity in (Quantity.EQD2, Quantity.BED):
            single = lq[lq_key(quantity, alpha_beta_late_gy)]
            cumulative[lq_key(quantity, alpha_beta_late_gy) + "_cumulative"] = CumulativeMap(
                quantity, alpha_beta_late_gy, residual, SummationMethod.BED_SPACE, n, 0, single.dose,
                warnings=single.warnings,
            )
    logger.info("maps built for %s (%s)", folders.current, folders.how)
    return PatientMaps(
        folders=folders,
        current=current,
        structure_set=structure_set,
        prior=prior,
        aligned=aligned,
        registration_source=source,
        residual=residual,
        alpha_beta_late_gy=alpha_beta_late_gy,
        alpha_beta_tumour_gy=alpha_beta_tumour_gy,
        lq=lq,
        cumulative=cumulative,
        warnings=tuple(dict.fromkeys(warnings)),
    )


def unique_rois(structure_set: StructureSet) -> tuple[tuple[Roi, ...], tuple[str, ...]]:
    """The ROIs of ``structure_set``, the first of any repeated name, and a warning per ROI left out."""
    rois: dict[str, Roi] = {}
    warnings: list[str] = []
    for roi in structure_set.rois:
        if roi.name in rois:
            warnings.append(f"ROI name {roi.name!r} appears twice in {structure_set.source_path}; ROI number {roi.number} ignored")
            continue
        rois[roi.name] = roi
    return tuple(rois.values()), tuple(warnings)


def constraint_report(
    maps: PatientMaps,
    rois: tuple[Roi, ...],
    *,
    mapper: NameMapper,
    protocol: Protocol | None,
    bin_width_gy: float,
    roi_failures: dict[str, str],
    known_dvhs: dict[ConstraintQuantity, dict[str, Dvh]] | None = None,
    warnings: tuple[str, ...] = (),
    report_dvh_warnings: bool = False,
) -> ConstraintReport:
    """Emami/LKB and protocol checks of ``rois`` on the maps of :meth:`PatientMaps.constraint_maps`.

    Each ROI the checks need (:func:`dosimetry.constraints.patient.needed_rois`) gets a DVH of
    ``bin_width_gy`` bins by :func:`dosimetry.dvh.compute_dvh`, unless ``known_dvhs`` already
    holds it for that quantity. ROIs in ``roi_failures`` are skipped; ROIs that fail here (no
    closed contours, outside the dose grid) are added to it with the reason. A quantity without a
    map (the prior course's without a prior) is left out: its constraints are NOT_EVALUABLE.
    The report carries ``warnings`` and, with ``report_dvh_warnings``, the warnings of each DVH
    computed here (and the volume outside the dose grid).
    """
    known = known_dvhs or {}
    available = maps.constraint_maps()
    names = [r.name for r in rois]
    by_name = {r.name: r for r in rois}
    notes: list[str] = list(warnings)
    dvhs: dict[ConstraintQuantity, dict[str, Dvh]] = {}
    for quantity, roi_names in needed_rois(names, mapper, protocol).items():
        if quantity not in available:
            continue
        dose_map: DoseGrid | None = None
        per_roi: dict[str, Dvh] = {}
        for name in sorted(roi_names):
            if name in roi_failures:
                continue
            dvh = known.get(quantity, {}).get(name)
            if dvh is None:
                roi = by_name[name]
                if not roi.closed_planar_contours:
                    roi_failures[name] = f"ROI {name!r} has no closed planar contours"
                    continue
                dose_map = dose_map if dose_map is not None else available[quantity]()
                try:
                    dvh = compute_dvh(dose_map, roi, bin_width_gy=bin_width_gy)
                except GeometryError as exc:
                    roi_failures[name] = f"ROI {name!r}: {exc}"
                    continue
                if report_dvh_warnings:
                    if dvh.volume_outside_dose_grid_cc > 0:
                        notes.append(
                            f"ROI {name!r}: {dvh.volume_outside_dose_grid_cc:.2f} cc of {dvh.volume_cc:.2f} cc lie outside "
                            "the dose grid; volume fractions refer to the part inside"
                        )
                    notes.extend(dvh.warnings)
            per_roi[name] = dvh
        dvhs[quantity] = per_roi
    return evaluate(
        dvhs,
        names,
        mapper=mapper,
        extents=organ_extents(by_name, mapper),
        roi_failures=roi_failures,
        protocol=protocol,
        alpha_beta_gy=maps.alpha_beta_late_gy,
        warnings=tuple(dict.fromkeys(notes)),
    )
