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

Local progression (time to event; exponential hazard, better control at higher dose, for smaller
tumours and with concurrent chemotherapy C = 0/1)::

    hazard (per month) = 0.02 * exp(-0.08 * (D - 52.5) + 0.04 * (V_GTV - 10) - 0.4 * C)

i.e. true hazard ratios exp(-0.08) = 0.923 per GyE, exp(0.04) = 1.041 per cc and exp(-0.4) = 0.670
for chemotherapy. The time to progression T is exponential with that hazard, follow-up F is uniform
in 12-48 months (independent censoring); ``progression_months = min(T, F)`` and
``local_progression = T <= F``. Concurrent chemotherapy is given with probability 0.4. Age (years
at the start of carbon-ion treatment) and sex come from the patient spec and have no effect on either
outcome (true odds and hazard ratios 1): covariates a multivariable model should find null.

Temporal lobe necrosis of the left temporal lobe (``temporal_lobe_necrosis``, 0/1): an LKB model
(:mod:`dosimetry.constraints.ntcp`) of the organ's cumulative EQD2 at alpha/beta 2 Gy (residual 0.3
of the prior course; :mod:`dosimetry.sampledata.organ_dose`), true TD50 = 15 Gy, m = 0.3, n = 0.1
(a = 10). These values put the steep part of the curve over the synthetic phantom's temporal-lobe
gEUDs (about 5-30 Gy) so that a cohort shows a signal; they are NOT clinical tolerance values.
The flag is drawn from its own random stream, independent of the other outcomes.

The worst toxicity occurs uniformly between 3 months and min(30 months, follow-up) after the start
of carbon-ion treatment; ``toxicity_months`` is the time to a grade >= 3 event, or to the last
follow-up without one (with the ``worst_toxicity_grade>=3`` flag it is a time-to-event pair). A
grade 5 event ends follow-up (vital status "dead"); a patient with local progression dies during
follow-up with probability 0.5; everyone else is "alive".
"""

from __future__ import annotations

import datetime as dt
import io
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dosimetry.errors import OutputError
from dosimetry.io.csv_cells import csv_writer

if TYPE_CHECKING:
    from dosimetry.constraints.samples import OrganDoseBins

CTCAE_VERSION = "4.03"
LKB_ORGAN = "Lobe_Temporal_L"
LKB_TD50_GY = 15.0
LKB_M = 0.3
LKB_N = 0.1
NTCP_INTERCEPT = -2.944
NTCP_SLOPE_PER_GYE = 0.2355
NTCP_VOLUME_PER_CC = 0.03
NTCP_REFERENCE_DOSE_GYE = 52.5
NTCP_REFERENCE_PTV_CC = 40.0
PROGRESSION_BASE_HAZARD_PER_MONTH = 0.02
PROGRESSION_LOG_HR_PER_GYE = -0.08
PROGRESSION_LOG_HR_PER_CC = 0.04
PROGRESSION_LOG_HR_CHEMOTHERAPY = -0.4
PROGRESSION_REFERENCE_GTV_CC = 10.0
CHEMOTHERAPY_PROBABILITY = 0.4
FOLLOWUP_MONTHS_RANGE = (12.0, 48.0)

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
    "progression_months",
    "toxicity_months",
    "age_years",
    "sex",
    "concurrent_chemotherapy",
    "temporal_lobe_necrosis",
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


def progression_hazard_per_month(total_dose_gye: float, gtv_volume_cc: float, chemotherapy: bool = False) -> float:
    """Model hazard of local progression (per month)."""
    return PROGRESSION_BASE_HAZARD_PER_MONTH * float(
        np.exp(
            PROGRESSION_LOG_HR_PER_GYE * (total_dose_gye - NTCP_REFERENCE_DOSE_GYE)
            + PROGRESSION_LOG_HR_PER_CC * (gtv_volume_cc - PROGRESSION_REFERENCE_GTV_CC)
            + PROGRESSION_LOG_HR_CHEMOTHERAPY * float(chemotherapy)
        )
    )


def probability_progression(total_dose_gye: float, gtv_volume_cc: float, chemotherapy: bool = False) -> float:
    """Model probability of local progression observed during follow-up (follow-up uniform in
    12-48 months): ``1 - (exp(-12 h) - exp(-48 h)) / (36 h)`` for the hazard h."""
    h = progression_hazard_per_month(total_dose_gye, gtv_volume_cc, chemotherapy)
    lo, hi = FOLLOWUP_MONTHS_RANGE
    return float(1.0 - (np.exp(-lo * h) - np.exp(-hi * h)) / ((hi - lo) * h))


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
    progression_months: float | None = None
    toxicity_months: float | None = None
    age_years: float | None = None
    sex: str = ""
    concurrent_chemotherapy: bool | None = None
    temporal_lobe_necrosis: bool | None = None


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
    age_years: float | None = None,
    sex: str = "",
) -> Outcome:
    """Draw one patient's outcome from the model (deterministic in seed and patient id)."""
    rng = np.random.default_rng([seed, zlib.crc32(patient_id.encode()), zlib.crc32(b"outcome")])
    u_tox, u_grade, u_term, u_prog, u_death = rng.random(5)
    followup = float(rng.uniform(*FOLLOWUP_MONTHS_RANGE))
    onset_fraction = float(rng.random())
    chemotherapy = bool(rng.random() < CHEMOTHERAPY_PROBABILITY)
    # exponential time to progression by inversion of the (independent) uniform u_prog
    time_to_progression = float(-np.log1p(-u_prog) / progression_hazard_per_month(total_dose_gye, gtv_volume_cc, chemotherapy))

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
    if grade == 5:
        followup = onset_months
    progression = time_to_progression <= followup
    progression_months = min(time_to_progression, followup)
    toxicity_months = onset_months if grade >= 3 else followup
    if grade == 5:
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
        progression_months=progression_months,
        toxicity_months=toxicity_months,
        age_years=age_years,
        sex=sex,
        concurrent_chemotherapy=chemotherapy,
    )


def lkb_organ_ntcp(organ_eqd2: OrganDoseBins) -> float:
    """The model's NTCP of temporal lobe necrosis for the organ's cumulative EQD2 samples."""
    from dosimetry.constraints.ntcp import geud_gy, lkb_ntcp

    return lkb_ntcp(geud_gy(organ_eqd2, LKB_N), LKB_TD50_GY, LKB_M)


def draw_organ_toxicity(*, seed: int, patient_id: str, organ_eqd2: OrganDoseBins) -> bool:
    """Draw the LKB organ toxicity flag (own random stream: deterministic in seed and patient id)."""
    rng = np.random.default_rng([seed, zlib.crc32(patient_id.encode()), zlib.crc32(b"organ-toxicity")])
    return bool(rng.random() < lkb_organ_ntcp(organ_eqd2))


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
                "" if o.progression_months is None else f"{o.progression_months:.2f}",
                "" if o.toxicity_months is None else f"{o.toxicity_months:.2f}",
                "" if o.age_years is None else f"{o.age_years:.1f}",
                o.sex,
                "" if o.concurrent_chemotherapy is None else int(o.concurrent_chemotherapy),
                "" if o.temporal_lobe_necrosis is None else int(o.temporal_lobe_necrosis),
            ]
        )
    return buffer.getvalue()


def write_outcomes_csv(outcomes: list[Outcome], path: Path) -> Path:
    try:
        Path(path).write_text(outcomes_csv_text(outcomes), encoding="utf-8", newline="")
    except OSError as exc:
        raise OutputError(f"cannot write outcomes file {path}: {exc}") from exc
    return Path(path)
