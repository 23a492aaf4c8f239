"""Small DVHs for the constraint tests: point doses (Gy) with volumes (cc), binned by the DVH engine."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dosimetry.dvh import Dvh, EndCapConvention
from dosimetry.dvh.curve import dvh_from_samples
from dosimetry.dvh.sampling import DoseSamples as DvhSamples


def point_dvh(dose_gy: Sequence[float] | np.ndarray, volume_cc: Sequence[float] | np.ndarray, name: str = "roi") -> Dvh:
    """DVH of point samples: ``volume_cc[i]`` receives exactly ``dose_gy[i]`` (a step DVH)."""
    dose = np.array(dose_gy, dtype=np.float64).ravel()
    volume = np.array(volume_cc, dtype=np.float64).ravel()
    total = float(volume.sum())
    samples = DvhSamples(
        dose_gy=dose,
        weight_cc=volume,
        spread_gy=np.zeros_like(dose),
        volume_cc=total,
        volume_in_grid_cc=total,
        volume_outside_grid_cc=0.0,
        end_cap=EndCapConvention.HALF_SLAB,
        supersample=1,
    )
    return dvh_from_samples(samples, roi_name=name, roi_number=1)


def uniform_dvh(dose_gy: float, volume_cc: float, name: str = "roi") -> Dvh:
    return point_dvh([dose_gy], [volume_cc], name)
