"""Synthetic clinical outcomes drawn from a documented dose-response model.

The model gives later correlation analyses a real, known signal. For a patient treated at
protocol dose level L (total carbon dose D = 2.5 GyE x n_L) with PTV volume V_PTV and GTV volume
V_GTV (cc):

Late toxicity grade >= 3 (logistic NTCP, anchored to the protocol's pDLT column: 5 % at
52.5 GyE and 50 % at 65 GyE for a 40 cc PTV)::

    logit P(grade >= 3) = -2.944 + 0.2355 * (D - 52.5) + 0.03 * (V_PTV - 40)

Given grade >= 3 the grade is 3, 4 or 5 with probabilities 0.70, 0.20, 0.10 (grade 5 is a
fatal "Pharyngeal hemorrhage", the classic lethal event after nasopharyngeal re-irradiation;
grades 3-4 are one of "Pharyngeal necrosis", "Central nervous system necrosis" (temporal lobe
necrosis), "Osteonecrosis of jaw", and for grade 3 also "Trismus"). Otherwise the worst grade is
0, 1 or 2 with probabilities 0.15, 0.40, 0.45 (terms "Xerostomia", "Hearing impaired",
"Trismus", "Dysphagia"). Terms are CTCAE v4.03 terms.

Local progression (logistic, better control at higher dose and for smaller tumours)::

    logit P(progression) = -0.4 - 0.12 * (D - 52.5) + 0.04 * (V_GTV - 10)

Follow-up is uniform in 12-48 months; the worst toxicity occurs uniformly between 3 months and
min(30 months, follow-up) after the start of carbon-ion treatment. A grade 5 event ends
follow-up (vital status "dead"); a patient with local progression dies during follow-up with
probability 0.5; everyone else is "alive".
"""

from __future__ import annotations

import datetime as dt
import io
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dosimetry.errors import OutputError
from dosimetry.io.csv_cells import csv_writer

CTCAE_VERSION = "4.03"
NTCP_INTERCEPT = -2.944
NTCP_SLOPE_PER_GYE = 0.2355
NTCP_VOLUME_PER_CC = 0.03
NTCP_REFERENCE_DOSE_GYE = 52.5
NTCP_REFERENCE_PTV_CC = 40.0
PROGRESSION_INTERCEPT = -0.4
PROGRESSION_SLOPE_PER_GYE = -0.12
PROGRESSION_VOLUME_PER_CC = 0.04
PROGRESSION_REFERENCE_GTV_CC = 10.0

SEVERE_TERMS = ("Pharyngeal necrosis", "Central nervous system necrosis", "Osteonecrosis of jaw", "Trismus")
MILD_TERMS = ("Xerostomia", "Hearing impaired", "Trismus", "Dysphagia")
FATAL_TERM = "Pharyngeal hemorrhage"
DAYS_PER_MONTH = 30.4375

CSV_COLUMNS = (
    "patient_id",
    "dose_level",
    "fractions",
    "total_dose_gye",
    "gtv_volume_cc",
    "ptv_volume_cc",
    "treatment_start_date",
    "worst_toxicity_grade",
    "ctcae_term",
    "ctcae_version",
    "toxicity_date",
    "followup_months",
    "vital_status",
    "local_progression",
)


def _logistic(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-x)))


def probability_grade3plus(total_dose_gye: float, ptv_volume_cc: float) -> float:
    """Model probability of late toxicity grade >= 3."""
    return _logistic(
        NTCP_INTERCEPT
        + NTCP_SLOPE_PER_GYE * (total_dose_gye - NTCP_REFERENCE_DOSE_GYE)
        + NTCP_VOLUME_PER_CC * (ptv_volume_cc - NTCP_REFERENCE_PTV_CC)
    )


def probability_progression(total_dose_gye: float, gtv_volume_cc: float) -> float:
    """Model probability of local progression during follow-up."""
    return _logistic(
        PROGRESSION_INTERCEPT
        + PROGRESSION_SLOPE_PER_GYE * (total_dose_gye - NTCP_REFERENCE_DOSE_GYE)
        + PROGRESSION_VOLUME_PER_CC * (gtv_volume_cc - PROGRESSION_REFERENCE_GTV_CC)
    )


@dataclass(frozen=True)
class Outcome:
    patient_id: str
    dose_level: int
    fractions: int
    total_dose_gye: float
    gtv_volume_cc: float
    ptv_volume_cc: float
    treatment_start_date: dt.date
    worst_toxicity_grade: int
    ctcae_term: str
    toxicity_date: dt.date | None
    followup_months: float
    vital_status: str
    local_progression: bool


def draw_outcome(
    *,
    seed: int,
    patient_id: str,
    dose_level: int,
    fractions: int,
    total_dose_gye: float,
    gtv_volume_cc: float,
    ptv_volume_cc: float,
    treatment_start_date: dt.date,
) -> Outcome:
    """Draw one patient's outcome from the model (deterministic in seed and patient id)."""
    rng = np.random.default_rng([seed, zlib.crc32(patient_id.encode()), zlib.crc32(b"outcome")])
    u_tox, u_grade, u_term, u_prog, u_death = rng.random(5)
    followup = float(rng.uniform(12.0, 48.0))
    onset_fraction = float(rng.random())

    severe = u_tox < probability_grade3plus(total_dose_gye, ptv_volume_cc)
    if severe:
        grade = 3 if u_grade < 0.70 else 4 if u_grade < 0.90 else 5
        if grade == 5:
            term = FATAL_TERM
        else:
            choices = SEVERE_TERMS if grade == 3 else SEVERE_TERMS[:3]
            term = choices[int(u_term * len(choices))]
    else:
        grade = 0 if u_grade < 0.15 else 1 if u_grade < 0.55 else 2
        term = "" if grade == 0 else MILD_TERMS[int(u_term * len(MILD_TERMS))]

    onset_months = 3.0 + onset_fraction * (min(30.0, followup) - 3.0)
    toxicity_date = treatment_start_date + dt.timedelta(days=round(onset_months * DAYS_PER_MONTH)) if grade > 0 else None
    progression = bool(u_prog < probability_progression(total_dose_gye, gtv_volume_cc))
    if grade == 5:
        followup = onset_months
        vital = "dead"
    elif progression and u_death < 0.5:
        vital = "dead"
    else:
        vital = "alive"
    return Outcome(
        patient_id=patient_id,
        dose_level=dose_level,
        fractions=fractions,
        total_dose_gye=total_dose_gye,
        gtv_volume_cc=gtv_volume_cc,
        ptv_volume_cc=ptv_volume_cc,
        treatment_start_date=treatment_start_date,
        worst_toxicity_grade=grade,
        ctcae_term=term,
        toxicity_date=toxicity_date,
        followup_months=followup,
        vital_status=vital,
        local_progression=progression,
    )


def outcomes_csv_text(outcomes: list[Outcome]) -> str:
    """The CSV text (fixed formatting, '\\n' line ends) for ``outcomes``."""
    buffer = io.StringIO()
    writer = csv_writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for o in outcomes:
        writer.writerow(
            [
                o.patient_id,
                o.dose_level,
                o.fractions,
                f"{o.total_dose_gye:.1f}",
                f"{o.gtv_volume_cc:.2f}",
                f"{o.ptv_volume_cc:.2f}",
                o.treatment_start_date.isoformat(),
                o.worst_toxicity_grade,
                o.ctcae_term,
                CTCAE_VERSION,
                o.toxicity_date.isoformat() if o.toxicity_date else "",
                f"{o.followup_months:.1f}",
                o.vital_status,
                int(o.local_progression),
            ]
        )
    return buffer.getvalue()


def write_outcomes_csv(outcomes: list[Outcome], path: Path) -> Path:
    try:
        Path(path).write_text(outcomes_csv_text(outcomes), encoding="utf-8", newline="")
    except OSError as exc:
        raise OutputError(f"cannot write outcomes file {path}: {exc}") from exc
    return Path(path)
