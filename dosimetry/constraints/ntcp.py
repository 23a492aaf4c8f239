"""Generalised equivalent uniform dose and the Lyman-Kutcher-Burman NTCP model.

* gEUD = (sum_i v_i D_i^(1/n))^n with v_i the fractional volumes (sum v_i = 1); n = 1 gives the
  mean dose, n -> 0 the maximum dose. Computed as D_max (sum_i v_i (D_i/D_max)^(1/n))^n so that
  small n does not overflow.
* NTCP = Phi(t), t = (gEUD - TD50) / (m TD50), Phi the standard normal cumulative distribution
  (Lyman 1985; Kutcher and Burman 1989; parameters from Burman et al. 1991).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from dosimetry.constraints.samples import OrganDoseBins
from dosimetry.constraints.tables import LkbParameters
from dosimetry.errors import ConstraintError

#: NTCP above which a result is flagged (the TD5/5 level of the tables).
NTCP_FLAG_THRESHOLD = 0.05


def geud_gy(samples: OrganDoseBins, n: float) -> float:
    """gEUD (Gy) of ``samples`` with volume parameter ``n`` (> 0)."""
    if not (math.isfinite(n) and n > 0):
        raise ConstraintError(f"gEUD volume parameter n must be a positive number, got {n}")
    d_max = samples.max_gy
    if d_max == 0.0:
        return 0.0  # every sample is exactly 0 Gy: the gEUD is 0 Gy by definition, not a fallback
    ratio = samples.dose_gy / d_max
    with np.errstate(under="ignore"):
        weighted = float(np.sum(samples.fractional_volume * np.power(ratio, 1.0 / n)))
    return d_max * weighted**n


def lkb_ntcp(geud: float, td50_gy: float, m: float) -> float:
    """LKB NTCP for a gEUD (Gy, finite and >= 0) with TD50 (Gy) and slope m (both finite and > 0)."""
    if not (math.isfinite(td50_gy) and td50_gy > 0 and math.isfinite(m) and m > 0):
        raise ConstraintError(f"LKB parameters must be finite positive numbers, got TD50={td50_gy} Gy, m={m}")
    if not (math.isfinite(geud) and geud >= 0):
        raise ConstraintError(f"LKB NTCP needs a finite gEUD >= 0 Gy, got {geud} Gy")
    return float(ndtr((geud - td50_gy) / (m * td50_gy)))


@dataclass(frozen=True)
class NtcpResult:
    parameters: LkbParameters
    geud_gy: float
    ntcp: float
    flagged: bool  # NTCP above NTCP_FLAG_THRESHOLD


def evaluate_ntcp(samples: OrganDoseBins, parameters: LkbParameters) -> NtcpResult:
    geud = geud_gy(samples, parameters.n)
    ntcp = lkb_ntcp(geud, parameters.td50_gy, parameters.m)
    return NtcpResult(parameters=parameters, geud_gy=geud, ntcp=ntcp, flagged=ntcp > NTCP_FLAG_THRESHOLD)
