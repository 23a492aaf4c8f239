"""Per-organ dose samples with volume weights, and the dose-volume quantities read from them.

The constraint checks never look at where a dose came from: they take, per organ, an array of
doses (Gy) and the volume (cc) that receives each dose. That can be the voxels of the organ
(dose and fractional-occupancy volume of each voxel) or the bins of a differential DVH (bin dose and
bin volume).

Definition of the partial-volume doses used throughout this package: ``D(V)`` for an absolute
volume V (cc) is the *minimum dose received by the hottest V cc* of the organ. With the samples
sorted by decreasing dose and their volumes accumulated, ``D(V)`` is the dose of the first sample
at which the accumulated volume reaches V (no interpolation between samples). So ``D33%`` is the
minimum dose to the hottest third of the organ, ``D100%`` is the minimum dose, and ``D0.03cc`` is
the near-maximum dose.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from dosimetry.errors import ConstraintError, MetricError

FloatArray = npt.NDArray[np.float64]

#: Relative tolerance on accumulated volumes (summation round-off).
VOLUME_RTOL = 1e-9


class DifferentialDvh(Protocol):
    """What :meth:`DoseSamples.from_dvh` needs of a DVH (e.g. :class:`dosimetry.dvh.Dvh`)."""

    @property
    def bin_centres_gy(self) -> FloatArray: ...

    @property
    def differential_cc(self) -> FloatArray: ...

    @property
    def min_gy(self) -> float: ...

    @property
    def max_gy(self) -> float: ...


@dataclass(frozen=True, eq=False)
class DoseSamples:
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
    def uniform(cls, dose_gy: float, volume_cc: float, label: str = "") -> DoseSamples:
        return cls(np.array([dose_gy]), np.array([volume_cc]), label)

    @classmethod
    def from_dvh(cls, dvh: DifferentialDvh, label: str = "") -> DoseSamples:
        """Samples from a DVH's differential curve: one sample per bin at the bin centre.

        Doses read from these samples are resolved to the DVH bin width: the dose of a sample is
        its bin centre, clipped to the DVH's exact minimum and maximum (so the hottest sample is
        the exact maximum dose and a uniform dose stays exact). Doses are also clipped at 0 Gy: a
        DVH whose samples carry a dose spread can put a little volume below 0 Gy next to steep
        gradients at the edge of the field, which is no dose at all.
        """
        low = max(float(dvh.min_gy), 0.0)
        high = max(float(dvh.max_gy), low)
        centres = np.clip(np.asarray(dvh.bin_centres_gy, dtype=np.float64), low, high)
        return cls(centres, np.asarray(dvh.differential_cc), label or str(getattr(dvh, "roi_name", "")))

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

    def dose_to_volume_cc(self, volume_cc: float) -> float:
        """Minimum dose to the hottest ``volume_cc`` cc (see module docstring)."""
        total = self.total_volume_cc
        if not volume_cc > 0:
            raise MetricError(f"volume for D(V) must be positive, got {volume_cc} cc")
        if volume_cc > total * (1 + VOLUME_RTOL):
            raise MetricError(
                f"D{volume_cc:g}cc is undefined for {self.label or 'this organ'}: its volume is only {total:.4g} cc"
            )
        cumulative = np.cumsum(self.volume_cc)
        index = int(np.searchsorted(cumulative, volume_cc * (1 - VOLUME_RTOL), side="left"))
        return float(self.dose_gy[min(index, self.dose_gy.size - 1)])

    def dose_to_fraction(self, fraction: float) -> float:
        """Minimum dose to the hottest ``fraction`` (0 < fraction <= 1) of the organ volume."""
        if not 0 < fraction <= 1:
            raise MetricError(f"volume fraction for D(v) must be in (0, 1], got {fraction}")
        return self.dose_to_volume_cc(fraction * self.total_volume_cc)

    def volume_at_least_cc(self, dose_gy: float) -> float:
        """Volume (cc) receiving at least ``dose_gy``."""
        return float(self.volume_cc[self.dose_gy >= dose_gy].sum())
