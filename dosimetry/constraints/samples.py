"""Per-organ dose samples with volume weights: the input of the Emami effective-volume rule and
of the LKB NTCP (:mod:`dosimetry.constraints.partial_volume`, :mod:`dosimetry.constraints.ntcp`).

Those two reduce a whole dose distribution (``sum_i v_i f(D_i / D_max)``): they take, per organ, an
array of doses (Gy) and the volume (cc) that receives each dose. That can be the voxels of an organ
or the bins of a differential DVH (:meth:`OrganDoseBins.from_dvh`). Partial-volume doses (D33%,
D0.03cc, ...) and every other TG-263 metric are read from the DVH itself by the DVH engine
(:func:`dosimetry.dvh.evaluate_metric`), never from these samples.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from dosimetry.errors import ConstraintError

FloatArray = npt.NDArray[np.float64]


class DifferentialDvh(Protocol):
    """What :meth:`OrganDoseBins.from_dvh` needs of a DVH (e.g. :class:`dosimetry.dvh.Dvh`)."""

    @property
    def bin_centres_gy(self) -> FloatArray: ...

    @property
    def differential_cc(self) -> FloatArray: ...

    @property
    def min_gy(self) -> float: ...

    @property
    def max_gy(self) -> float: ...


@dataclass(frozen=True, eq=False)
class OrganDoseBins:
    """Doses (Gy) and the volume (cc) receiving each, for one organ.

    The arrays are copied, made read-only and sorted by decreasing dose. Samples with zero volume
    are dropped; at least one sample with a positive volume is required.
    """

    dose_gy: FloatArray
    volume_cc: FloatArray
    label: str = ""

    def __post_init__(self) -> None:
        dose = np.asarray(self.dose_gy, dtype=np.float64).ravel()
        volume = np.asarray(self.volume_cc, dtype=np.float64).ravel()
        where = f" for {self.label!r}" if self.label else ""
        if dose.shape != volume.shape:
            raise ConstraintError(f"dose_gy and volume_cc must have the same length{where}, got {dose.size} and {volume.size}")
        if not (np.all(np.isfinite(dose)) and np.all(np.isfinite(volume))):
            raise ConstraintError(f"dose samples{where} contain non-finite values")
        if np.any(dose < 0):
            raise ConstraintError(f"dose samples{where} contain negative doses (min {dose.min()} Gy)")
        if np.any(volume < 0):
            raise ConstraintError(f"volume samples{where} contain negative volumes")
        keep = volume > 0
        if not np.any(keep):
            raise ConstraintError(f"no sample with a positive volume{where}: the organ is empty on this dose grid")
        dose, volume = dose[keep], volume[keep]
        order = np.argsort(-dose, kind="stable")
        dose, volume = dose[order], volume[order]
        dose.flags.writeable = False
        volume.flags.writeable = False
        object.__setattr__(self, "dose_gy", dose)
        object.__setattr__(self, "volume_cc", volume)

    @classmethod
    def uniform(cls, dose_gy: float, volume_cc: float, label: str = "") -> OrganDoseBins:
        return cls(np.array([dose_gy]), np.array([volume_cc]), label)

    @classmethod
    def from_dvh(cls, dvh: DifferentialDvh, label: str = "") -> OrganDoseBins:
        """Samples from a DVH's differential curve: one sample per bin at the bin centre.

        The dose of a sample is its bin centre, clipped to the DVH's exact minimum and maximum,
        and the hottest bin holding volume is placed at the exact maximum dose (so ``max_gy`` is
        the DVH's maximum, the D_max of the Emami rule, and a uniform dose stays exact).
        """
        low = float(dvh.min_gy)
        high = max(float(dvh.max_gy), low)
        centres = np.clip(np.asarray(dvh.bin_centres_gy, dtype=np.float64), low, high)
        volumes = np.asarray(dvh.differential_cc, dtype=np.float64)
        filled = np.flatnonzero(volumes > 0)
        if filled.size:
            centres[filled[-1]] = high
        return cls(centres, volumes, label or str(getattr(dvh, "roi_name", "")))

    @property
    def total_volume_cc(self) -> float:
        return float(self.volume_cc.sum())

    @property
    def fractional_volume(self) -> FloatArray:
        return self.volume_cc / self.volume_cc.sum()

    @property
    def max_gy(self) -> float:
        return float(self.dose_gy[0])

    @property
    def min_gy(self) -> float:
        return float(self.dose_gy[-1])

    @property
    def mean_gy(self) -> float:
        return float(np.sum(self.dose_gy * self.volume_cc) / self.volume_cc.sum())
