"""Synthetic cohorts drawn from known outcome models, the ground truth of the fits' tests and of
``benchmarks/outcomes_coverage.py``.

DVH model of one organ (per patient, independent draws from ``numpy.random.default_rng(seed)``):
the organ's volume is split into a *hot* part, fraction ``f ~ U(0.05, 0.6)``, whose doses are
normal with mean ``D_hot ~ U(35, 85) Gy`` and SD 4 Gy, and a *cold* part with mean
``D_cold ~ U(5, 35) Gy`` and SD 6 Gy (both clipped at 0 Gy). The differential DVH is the normal
mass of each part in 1 Gy bins from 0 to 100 Gy (bin centres as doses). Mean dose and maximum
dose vary independently, so gEUDs at different n rank the patients differently and n is
identifiable.

Outcome: ``y ~ Bernoulli(NTCP)`` with the LKB NTCP of the patient's gEUD
(:func:`dosimetry.constraints.ntcp.lkb_ntcp`) at the true ``(TD50, m, n)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from dosimetry.constraints.ntcp import OrganDoseMatrix
from dosimetry.constraints.samples import OrganDoseBins
from dosimetry.errors import ArgumentError

BIN_EDGES_GY = np.arange(0.0, 101.0, 1.0)
HOT_FRACTION_RANGE = (0.05, 0.6)
HOT_MEAN_GY_RANGE = (35.0, 85.0)
HOT_SD_GY = 4.0
COLD_MEAN_GY_RANGE = (5.0, 35.0)
COLD_SD_GY = 6.0


@dataclass(frozen=True)
class SyntheticLkbCohort:
    organs: tuple[OrganDoseBins, ...]
    outcome: tuple[bool, ...]
    true_ntcp: tuple[float, ...]
    td50_gy: float
    m: float
    n: float

    @property
    def patient_ids(self) -> tuple[str, ...]:
        return tuple(f"SIM{i + 1:04d}" for i in range(len(self.organs)))


def synthetic_organ(rng: np.random.Generator, volume_cc: float = 30.0) -> OrganDoseBins:
    """One organ's differential DVH from the documented two-part model."""
    f = rng.uniform(*HOT_FRACTION_RANGE)
    hot = rng.uniform(*HOT_MEAN_GY_RANGE)
    cold = rng.uniform(*COLD_MEAN_GY_RANGE)
    edges = BIN_EDGES_GY
    mass = f * np.diff(special.ndtr((edges - hot) / HOT_SD_GY)) + (1.0 - f) * np.diff(special.ndtr((edges - cold) / COLD_SD_GY))
    centres = 0.5 * (edges[:-1] + edges[1:])
    return OrganDoseBins(centres, volume_cc * mass / mass.sum())


def simulate_lkb_cohort(patients: int, *, td50_gy: float, m: float, n: float, seed: int) -> SyntheticLkbCohort:
    """``patients`` organs and outcomes drawn from the LKB model with the given true parameters."""
    if patients < 1:
        raise ArgumentError(f"simulate_lkb_cohort: patients must be >= 1, got {patients}")
    for name, value in (("td50_gy", td50_gy), ("m", m), ("n", n)):
        if not (np.isfinite(value) and value > 0.0):
            raise ArgumentError(f"simulate_lkb_cohort: {name} must be positive, got {value!r}")
    rng = np.random.default_rng(seed)
    organs = tuple(synthetic_organ(rng) for _ in range(patients))
    geud = OrganDoseMatrix.of(organs).geud_gy(n)
    ntcp = special.ndtr((geud - td50_gy) / (m * td50_gy))
    outcome = rng.random(patients) < ntcp
    return SyntheticLkbCohort(organs, tuple(bool(v) for v in outcome), tuple(float(v) for v in ntcp), td50_gy, m, n)
