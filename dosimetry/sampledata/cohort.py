"""Generate a cohort of synthetic patients spread over the protocol's six dose levels.

Patient k (1-based) is ``NPC<k:03d>`` treated at dose level ((k mod 6) + 1): patient 1 at the
starting level 2 (22 x 2.5 GyE), then levels 3, 4, 5, 6, 1, 2, ... Anatomy varies per patient
(head scale 0.93-1.07, tumour scale 0.8-1.25 and offset +-4 mm per axis) and so does the set-up
difference between the courses (rotations up to 4 degrees, translations up to 12 mm per axis).
Outcomes come from :mod:`dosimetry.sampledata.outcomes` (the temporal lobe necrosis flag from the
LKB model of the left temporal lobe's cumulative EQD2, :mod:`dosimetry.sampledata.organ_dose`). All draws use generators seeded with
(seed, patient id), so the same seed gives the same bytes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dosimetry.errors import ArgumentError, OutputError
from dosimetry.sampledata.anatomy import AnatomySpec
from dosimetry.sampledata.organ_dose import organ_cumulative_eqd2
from dosimetry.sampledata.outcomes import LKB_ORGAN, Outcome, draw_organ_toxicity, draw_outcome, write_outcomes_csv
from dosimetry.sampledata.patient import GeneratedPatient, PatientSpec, generate_patient
from dosimetry.sampledata.shapes import SphereUnion

logger = logging.getLogger(__name__)

FIRST_STUDY_DATE = dt.date(2022, 1, 3)
DAYS_BETWEEN_PATIENTS = 23
DAYS_TO_TREATMENT_START = 10


def dose_level_of(index: int) -> int:
    """Dose level of the 1-based patient ``index``: 2, 3, 4, 5, 6, 1, 2, ..."""
    return (index % 6) + 1


def sphere_union_volume_cc(solid: SphereUnion, step_mm: float = 0.5) -> float:
    """Volume of a union of spheres by counting points of a ``step_mm`` lattice (error << 1 %)."""
    centres = np.asarray(solid.centres_mm)
    radii = np.asarray(solid.radii_mm)
    lo = (centres - radii[:, None]).min(axis=0)
    hi = (centres + radii[:, None]).max(axis=0)
    axes = [np.arange(lo[i] + step_mm / 2, hi[i], step_mm) for i in range(3)]
    count = 0
    for z in axes[2]:
        y, x = np.meshgrid(axes[1], axes[0], indexing="ij")
        pts = np.stack([x, y, np.full_like(x, z)], axis=-1)
        count += int(solid.contains(pts).sum())
    return count * step_mm**3 / 1000.0


def cohort_patient_spec(seed: int, index: int) -> PatientSpec:
    """The spec of the 1-based patient ``index`` of the cohort drawn with ``seed``."""
    patient_id = f"NPC{index:03d}"
    rng = np.random.default_rng([seed, zlib.crc32(patient_id.encode()), zlib.crc32(b"anatomy")])
    scale = float(rng.uniform(0.93, 1.07))
    tumour_scale = float(rng.uniform(0.8, 1.25))
    offset = tuple(float(v) for v in np.round(rng.uniform(-4.0, 4.0, size=3), 1))
    angles = tuple(float(v) for v in np.round(rng.uniform(-4.0, 4.0, size=3), 2))
    translation = tuple(float(v) for v in np.round(rng.uniform(-12.0, 12.0, size=3), 1))
    ctv_margin = float(rng.choice([3.0, 4.0, 5.0]))
    birth = dt.date(1950, 1, 1) + dt.timedelta(days=int(rng.integers(0, 30 * 365)))
    sex = "M" if rng.random() < 0.7 else "F"
    study = FIRST_STUDY_DATE + dt.timedelta(days=DAYS_BETWEEN_PATIENTS * (index - 1))
    prior = study - dt.timedelta(days=int(rng.integers(3 * 365, 8 * 365)))
    return PatientSpec(
        patient_id=patient_id,
        patient_name=f"Synthetic^NPC{index:03d}",
        seed=seed,
        anatomy=AnatomySpec(scale=scale, tumour_offset_mm=offset, tumour_scale=tumour_scale, ctv_margin_mm=ctv_margin),  # type: ignore[arg-type]
        dose_level=dose_level_of(index),
        prior_to_current_angles_deg=angles,  # type: ignore[arg-type]
        prior_to_current_translation_mm=translation,  # type: ignore[arg-type]
        birth_date=birth.strftime("%Y%m%d"),
        sex=sex,
        current_study_date=study.strftime("%Y%m%d"),
        prior_study_date=prior.strftime("%Y%m%d"),
    )


@dataclass(frozen=True)
class Cohort:
    folder: Path
    patients: tuple[GeneratedPatient, ...]
    outcomes: tuple[Outcome, ...]
    outcomes_csv: Path


def generate_cohort(n_patients: int, out_dir: Path, *, seed: int, overwrite: bool = False) -> Cohort:
    """Write ``n_patients`` patients and ``outcomes.csv`` into ``out_dir``."""
    if n_patients < 1:
        raise ArgumentError(f"--patients must be >= 1, got {n_patients}")
    out_dir = Path(out_dir)
    csv_path = out_dir / "outcomes.csv"
    if csv_path.exists() and not overwrite:
        raise OutputError(f"{csv_path} exists; pass overwrite=True (--overwrite) to regenerate the cohort")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {out_dir}: {exc}") from exc
    patients = []
    outcomes = []
    for index in range(1, n_patients + 1):
        spec = cohort_patient_spec(seed, index)
        patients.append(generate_patient(spec, out_dir, overwrite=overwrite))
        start = dt.datetime.strptime(spec.current_study_date, "%Y%m%d").date() + dt.timedelta(days=DAYS_TO_TREATMENT_START)
        outcome = draw_outcome(
            seed=seed,
            patient_id=spec.patient_id,
            dose_level=spec.dose_level,
            fractions=spec.fractions,
            total_dose_gye=spec.prescription_gy,
            gtv_volume_cc=sphere_union_volume_cc(spec.anatomy.gtv),
            ptv_volume_cc=sphere_union_volume_cc(spec.anatomy.ptv),
            treatment_start_date=start,
            age_years=round((start - dt.datetime.strptime(spec.birth_date, "%Y%m%d").date()).days / 365.25, 1),
            sex=spec.sex,
        )
        necrosis = draw_organ_toxicity(seed=seed, patient_id=spec.patient_id, organ_eqd2=organ_cumulative_eqd2(spec, LKB_ORGAN))
        outcomes.append(dataclasses.replace(outcome, temporal_lobe_necrosis=necrosis))
        logger.info("patient %d/%d (%s) written", index, n_patients, spec.patient_id)
    write_outcomes_csv(outcomes, csv_path)
    return Cohort(out_dir, tuple(patients), tuple(outcomes), csv_path)
