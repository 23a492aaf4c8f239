"""Generalised equivalent uniform dose and the Lyman-Kutcher-Burman NTCP model.

* gEUD = (sum_i v_i D_i^(1/n))^n with v_i the fractional volumes (sum v_i = 1); n = 1 gives the
  mean dose, n -> 0 the maximum dose. Computed as D_max (sum_i v_i (D_i/D_max)^(1/n))^n so that
  small n does not overflow.
* NTCP = Phi(t), t = (gEUD - TD50) / (m TD50), Phi the standard normal cumulative distribution
  (Lyman 1985; Kutcher and Burman 1989; parameters from Burman et al. 1991).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import ndtr

from dosimetry.constraints.samples import OrganDoseBins
from dosimetry.constraints.tables import LkbParameters
from dosimetry.errors import ConstraintError

#: NTCP above which a result is flagged (the TD5/5 level of the tables).
NTCP_FLAG_THRESHOLD = 0.05


def geud_gy(samples: OrganDoseBins, n: float) -> float:
    """gEUD (Gy) of ``samples`` with volume parameter ``n`` (> 0)."""
    return float(OrganDoseMatrix.of([samples]).geud_gy(n)[0])


@dataclass(frozen=True, eq=False)
class OrganDoseMatrix:
    """Several organs' dose samples packed for a vectorised gEUD (one row per organ, padded with
    zero volume): the cohort form of :func:`geud_gy`, used to fit the LKB model
    (:mod:`dosimetry.outcomes.lkb_fit`). ``ratio`` is dose / D_max of the row, ``fraction`` the
    fractional volume, ``max_gy`` each row's maximum dose."""

    ratio: npt.NDArray[np.float64]
    fraction: npt.NDArray[np.float64]
    max_gy: npt.NDArray[np.float64]

    @classmethod
    def of(cls, organs: Sequence[OrganDoseBins]) -> OrganDoseMatrix:
        if not organs:
            raise ConstraintError("gEUD of a cohort: no organ dose samples given")
        width = max(o.dose_gy.size for o in organs)
        ratio = np.zeros((len(organs), width))
        fraction = np.zeros((len(organs), width))
        max_gy = np.array([o.max_gy for o in organs], dtype=np.float64)
        for row, organ in enumerate(organs):
            k = organ.dose_gy.size
            fraction[row, :k] = organ.fractional_volume
            if max_gy[row] > 0.0:
                ratio[row, :k] = organ.dose_gy / max_gy[row]
        return cls(ratio=ratio, fraction=fraction, max_gy=max_gy)

    def rows(self, index: npt.NDArray[np.intp]) -> OrganDoseMatrix:
        """The organs ``index`` (e.g. a bootstrap resample), in that order."""
        return OrganDoseMatrix(ratio=self.ratio[index], fraction=self.fraction[index], max_gy=self.max_gy[index])

    def geud_gy(self, n: float) -> npt.NDArray[np.float64]:
        """gEUD (Gy) of every row with volume parameter ``n`` (> 0), computed as
        D_max (sum_i v_i (D_i/D_max)^(1/n))^n so that small n does not overflow; a row whose every
        sample is exactly 0 Gy has gEUD 0 Gy by definition (not a fallback)."""
        if not (math.isfinite(n) and n > 0):
            raise ConstraintError(f"gEUD volume parameter n must be a positive number, got {n}")
        with np.errstate(under="ignore"):
            weighted = np.sum(self.fraction * np.power(self.ratio, 1.0 / n), axis=1)
            return np.where(self.max_gy > 0.0, self.max_gy * np.power(np.maximum(weighted, 0.0), n), 0.0)


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
