"""DVH engine: exact partial-volume rasterisation of RT Structure Set ROIs on the dose grid,
trilinear sub-voxel dose sampling, DVH curves and TG-263 metrics.

Public API::

    from dosimetry.dvh import (compute_dvh, compute_dvhs, evaluate_metric, parse_metric, rasterise_roi, Dvh,
                               RoiOccupancy, EndCapConvention, roi_dose_samples, DoseSamples,
                               volume_at_or_above)

The names are imported on first use (PEP 562 ``__getattr__``, as :mod:`dosimetry.io`): importing
``dosimetry.dvh.convention`` for the command line's ``--end-cap`` choices does not import numpy and the
engine (issue 20: ``dosimetry analyze --help`` under 0.15 s).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dosimetry._lazy_exports import lazy_exports

if TYPE_CHECKING:
    from dosimetry.dvh.compute import BatchDvh, compute_dvh, compute_dvhs
    from dosimetry.dvh.convention import EndCapConvention
    from dosimetry.dvh.curve import Dvh
    from dosimetry.dvh.metrics import GRAMMAR, Metric, MetricKind, evaluate_metric, parse_metric
    from dosimetry.dvh.rasterise import RoiOccupancy, rasterise_roi
    from dosimetry.dvh.sampling import BatchSamples, DoseSamples, release_grid_caches, roi_dose_samples, roi_dose_samples_batch, volume_at_or_above

_MODULES = {
    "BatchDvh": "dosimetry.dvh.compute",
    "BatchSamples": "dosimetry.dvh.sampling",
    "DoseSamples": "dosimetry.dvh.sampling",
    "Dvh": "dosimetry.dvh.curve",
    "EndCapConvention": "dosimetry.dvh.convention",
    "GRAMMAR": "dosimetry.dvh.metrics",
    "Metric": "dosimetry.dvh.metrics",
    "MetricKind": "dosimetry.dvh.metrics",
    "RoiOccupancy": "dosimetry.dvh.rasterise",
    "compute_dvh": "dosimetry.dvh.compute",
    "compute_dvhs": "dosimetry.dvh.compute",
    "evaluate_metric": "dosimetry.dvh.metrics",
    "parse_metric": "dosimetry.dvh.metrics",
    "rasterise_roi": "dosimetry.dvh.rasterise",
    "release_grid_caches": "dosimetry.dvh.sampling",
    "roi_dose_samples": "dosimetry.dvh.sampling",
    "roi_dose_samples_batch": "dosimetry.dvh.sampling",
    "volume_at_or_above": "dosimetry.dvh.sampling",
}

__all__ = [
    "BatchDvh",
    "BatchSamples",
    "DoseSamples",
    "Dvh",
    "EndCapConvention",
    "GRAMMAR",
    "Metric",
    "MetricKind",
    "RoiOccupancy",
    "compute_dvh",
    "compute_dvhs",
    "evaluate_metric",
    "parse_metric",
    "rasterise_roi",
    "release_grid_caches",
    "roi_dose_samples",
    "roi_dose_samples_batch",
    "volume_at_or_above",
]


__getattr__, __dir__ = lazy_exports(__name__, _MODULES, globals(), __all__)
