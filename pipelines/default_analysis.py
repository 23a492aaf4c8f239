"""A light per-patient analysis for ``dosimetry batch --analysis pipelines.default_analysis:dvh_analysis``:
DVH metrics of every ROI of the current course on the physical (or RBE-weighted) dose and, when the
plan gives the fraction count, on BED and EQD2 maps. No prior course, constraints, indices or report.

The batch's default is the whole ``analyze`` (:func:`pipelines.analyze.full_analysis`, built on the
library's :func:`dosimetry.load_patient`); this callable exists for cohorts whose courses lack what
the full analysis needs (no RT Plan, several structure sets) and for quick DVH-only surveys.

Which files: the *current course* is the patient's files under a folder named ``current`` (any
depth, case-insensitive) when there is one, else every file not under a folder named ``prior``.
It must hold exactly one RT Structure Set and one RT Dose of any summation, or several of which
one is the PLAN dose (with its plan, the BEAM doses are checked to sum to it; a plan with only BEAM
doses gets their sum: :func:`dosimetry.radiobiology.course.course_dose`); an RT (Ion) Plan is
optional (it gives the fraction count). The dose and the structure set must share a frame of
reference.

Quantities (``metrics.quantity``): ``physical`` (DoseType PHYSICAL, Gy) or ``rbe_weighted``
(EFFECTIVE, GyE); with the plan's fraction count n also ``BED<a/b>`` for the parameters' late and
tumour alpha/beta (``BED2`` and ``BED9`` with the defaults 2 and 9 Gy) and ``EQD2`` (alpha/beta of
the ROI's role: tumour value for GTV/CTV/PTV ROIs, late value otherwise). Metrics: Mean, Min, Max, D98%, D95%,
D50%, D2% and D0.03cc (all Gy). A metric the curve cannot give (D0.03cc of a tiny ROI) and an ROI
without volume in the dose grid become warnings, not rows.

Outputs in the patient folder: ``dvh_metrics.csv`` (roi, quantity, metric, value, unit, warnings: the
warnings naming the row's ROI or no ROI, :func:`dosimetry.roi_warnings.warnings_by_roi`).

The prior course is not read, so ``AnalysisParameters.residual_fraction`` is not used here (it is
still part of the run key); cumulative doses are the business of the full ``analyze`` callable.
"""

from __future__ import annotations

import logging
from pathlib import Path, PurePosixPath

import numpy as np

from dosimetry.dose import DoseGrid, DoseSummationType
from dosimetry.errors import (
    ConsistencyError,
    DicomContentError,
    GeometryError,
    MetricError,
)
from dosimetry.io.csv_cells import csv_writer
from dosimetry.plan import Plan
from dosimetry.roi_warnings import warnings_by_roi
from dosimetry.structures import Roi, StructureSet
from pipelines.analysis import (
    AnalysisParameters,
    CourseRow,
    DicomFileInfo,
    MetricRow,
    PatientInputs,
    PatientResult,
    RoiRow,
)

logger = logging.getLogger(__name__)

METRICS = ("Mean[Gy]", "Min[Gy]", "Max[Gy]", "D98%[Gy]", "D95%[Gy]", "D50%[Gy]", "D2%[Gy]", "D0.03cc[Gy]")
TARGET_PREFIXES = ("GTV", "CTV", "PTV")
OUTPUT_NAME = "dvh_metrics.csv"


def _folders(info: DicomFileInfo) -> tuple[str, ...]:
    return tuple(part.casefold() for part in PurePosixPath(info.relative_path).parts[:-1])


def current_course_files(inputs: PatientInputs) -> tuple[DicomFileInfo, ...]:
    """The files of the current course (see the module docstring)."""
    current = tuple(f for f in inputs.files if "current" in _folders(f))
    if current:
        return current
    return tuple(f for f in inputs.files if "prior" not in _folders(f))


def is_target(roi: Roi) -> bool:
    kind = roi.interpreted_type.upper()
    return kind in TARGET_PREFIXES or roi.name.upper().startswith(TARGET_PREFIXES)


def _select_dose(files: tuple[DicomFileInfo, ...], patient: str, plan: Plan | None) -> tuple[DoseGrid, tuple[str, ...]]:
    """The current course's dose and the warnings of choosing it: one file as it is; several with
    the plan as :func:`dosimetry.radiobiology.course.course_dose` chooses (the PLAN dose, its BEAM
    doses checked to sum to it; or only BEAM doses summed); without a plan, the one PLAN dose."""
    from dosimetry.io import load_dose, read_dose_header
    from dosimetry.radiobiology.course import course_dose

    if not files:
        raise DicomContentError(f"patient {patient}: no RT Dose in the current course")
    if len(files) == 1:
        return load_dose(files[0].path), ()
    if plan is not None:
        chosen = course_dose([read_dose_header(f.path) for f in files], plan, where=f"patient {patient}")
        return chosen.dose, chosen.warnings
    doses = [load_dose(f.path) for f in files]
    plan_doses = [d for d in doses if d.summation_type is DoseSummationType.PLAN]
    if len(plan_doses) != 1:
        names = ", ".join(f.relative_path for f in files)
        raise DicomContentError(
            f"patient {patient}: {len(files)} RT Dose files in the current course ({names}) and "
            f"{len(plan_doses)} with DoseSummationType PLAN; expected exactly one PLAN dose"
        )
    return plan_doses[0], ()


def _one(files: tuple[DicomFileInfo, ...], what: str, patient: str) -> DicomFileInfo:
    if len(files) != 1:
        names = ", ".join(f.relative_path for f in files) or "none"
        raise DicomContentError(f"patient {patient}: expected one {what} in the current course, found {len(files)} ({names})")
    return files[0]


def dvh_analysis(inputs: PatientInputs, parameters: AnalysisParameters, out_dir: Path) -> PatientResult:
    """DVH metrics of every ROI (see the module docstring)."""
    from dosimetry.dvh import compute_dvh, evaluate_metric
    from dosimetry.io import load_plan, load_structure_set
    from dosimetry.radiobiology import bed_array, eqd2_array

    patient = repr(inputs.patient_id or inputs.key)
    files = current_course_files(inputs)
    structure_set: StructureSet = load_structure_set(_one(tuple(f for f in files if f.modality == "RTSTRUCT"), "RT Structure Set", patient).path)
    plans = tuple(f for f in files if f.modality == "RTPLAN")
    plan = load_plan(_one(plans, "RT Plan", patient).path) if plans else None
    dose, choice_warnings = _select_dose(tuple(f for f in files if f.modality == "RTDOSE"), patient, plan)
    warnings: list[str] = [*choice_warnings, *dose.warnings, *structure_set.warnings]
    if structure_set.frame_of_reference_uid and structure_set.frame_of_reference_uid != dose.frame_of_reference_uid:
        raise ConsistencyError(
            f"patient {patient}: RT Structure Set {structure_set.source_path} has FrameOfReferenceUID "
            f"{structure_set.frame_of_reference_uid}, RT Dose {dose.source_path} has {dose.frame_of_reference_uid}; "
            "a registration would be needed"
        )
    base_quantity = "rbe_weighted" if str(dose.dose_type) == "EFFECTIVE" else "physical"
    maps: dict[str, tuple[DoseGrid, DoseGrid | None]] = {base_quantity: (dose, None)}
    courses: list[CourseRow] = []
    if plan is not None:
        warnings.extend(plan.warnings)
        fractions = plan.fractions_planned
        ab_late, ab_tumour = parameters.alpha_beta_late_gy, parameters.alpha_beta_tumour_gy
        physical = np.asarray(dose.dose_gy)
        # Named for the alpha/beta actually used (BED2/BED9 with the defaults), as ``analyze`` names its maps.
        maps[f"BED{ab_late:g}"] = (dose.with_dose(bed_array(physical, fractions, ab_late), description=f"BED a/b={ab_late:g} Gy"), None)
        maps[f"BED{ab_tumour:g}"] = (dose.with_dose(bed_array(physical, fractions, ab_tumour), description=f"BED a/b={ab_tumour:g} Gy"), None)
        maps["EQD2"] = (
            dose.with_dose(eqd2_array(physical, fractions, ab_late), description=f"EQD2 a/b={ab_late:g} Gy"),
            dose.with_dose(eqd2_array(physical, fractions, ab_tumour), description=f"EQD2 a/b={ab_tumour:g} Gy"),
        )
        courses.append(
            CourseRow(
                label="current",
                plan_sop_instance_uid=plan.sop_instance_uid,
                radiation_type="+".join(sorted(str(r) for r in plan.radiation_types)),
                fractions=fractions,
                prescription_dose_gy=plan.target_prescription_dose_gy,
                frame_of_reference_uid=plan.frame_of_reference_uid,
            )
        )
    else:
        warnings.append(f"patient {patient}: no RT Plan in the current course; BED and EQD2 need its fraction count and were not computed")

    rows: list[MetricRow] = []
    roi_rows: list[RoiRow] = []
    seen_names: set[str] = set()
    for roi in structure_set.rois:
        if roi.name in seen_names:
            warnings.append(f"ROI name {roi.name!r} appears twice in {structure_set.source_path}; ROI {roi.number} ignored")
            continue
        seen_names.add(roi.name)
        if not roi.closed_planar_contours:
            warnings.append(f"ROI {roi.name!r} has no closed planar contours; no DVH")
            continue
        for quantity, (late_map, tumour_map) in maps.items():
            dose_map = tumour_map if tumour_map is not None and is_target(roi) else late_map
            try:
                dvh = compute_dvh(dose_map, roi, end_cap=parameters.end_cap)
            except GeometryError as exc:
                warnings.append(f"ROI {roi.name!r} ({quantity}): {exc}")
                break
            if quantity == base_quantity:
                roi_rows.append(RoiRow(name=roi.name, interpreted_type=roi.interpreted_type, volume_cc=float(dvh.volume_cc)))
                warnings.extend(dvh.warnings)
            for metric in METRICS:
                try:
                    value = float(evaluate_metric(dvh, metric))
                except MetricError as exc:
                    warnings.append(f"ROI {roi.name!r} ({quantity}) {metric}: {exc}")
                    continue
                rows.append(MetricRow(roi=roi.name, quantity=quantity, metric=metric, value=value, unit="Gy"))
    if not rows:
        raise GeometryError(f"patient {patient}: no ROI of {structure_set.source_path} gave a DVH on the dose grid")
    with open(out_dir / OUTPUT_NAME, "w", newline="", encoding="utf-8") as handle:
        writer = csv_writer(handle, lineterminator="\n")
        writer.writerow(["roi", "quantity", "metric", "value", "unit", "warnings"])
        by_roi = warnings_by_roi([(r.number, r.name) for r in structure_set.rois], warnings)
        number_of = {r.name: r.number for r in structure_set.rois}
        for row in rows:
            notes = " | ".join(by_roi[number_of[row.roi]])
            writer.writerow([row.roi, row.quantity, row.metric, repr(row.value), row.unit, notes])
    return PatientResult(
        metrics=tuple(rows),
        courses=tuple(courses),
        rois=tuple(roi_rows),
        warnings=tuple(dict.fromkeys(warnings)),
        output_files=(OUTPUT_NAME,),
    )


dvh_analysis.analysis_id = "pipelines.default_analysis.dvh_analysis"  # type: ignore[attr-defined]
# version 2: warnings column in dvh_metrics.csv; PLAN + BEAM doses of one plan
dvh_analysis.analysis_version = "2"  # type: ignore[attr-defined]
