"""DVH engine: exact partial-volume rasterisation of RT Structure Set ROIs on the dose grid,
trilinear sub-voxel dose sampling, DVH curves and TG-263 metrics.

Public API::

    from dosimetry.dvh import (compute_dvh, compute_dvhs, evaluate_metric, parse_metric, rasterise_roi, Dvh,
                               RoiOccupancy, EndCapConvention, roi_dose_samples, DoseSamples,
                               volume_at_or_above)
"""

from dosimetry.dvh.compute import BatchDvh, compute_dvh, compute_dvhs
from dosimetry.dvh.curve import Dvh
from dosimetry.dvh.endcaps import EndCapConvention
from dosimetry.dvh.metrics import GRAMMAR, Metric, MetricKind, evaluate_metric, parse_metric
from dosimetry.dvh.rasterise import RoiOccupancy, rasterise_roi
from dosimetry.dvh.sampling import (
    BatchSamples,
    DoseSamples,
    release_grid_caches,
    roi_dose_samples,
    roi_dose_samples_batch,
    volume_at_or_above,
)

__all__ = [
    "BatchDvh",
    "BatchSamples",
    "GRAMMAR",
    "DoseSamples",
    "Dvh",
    "EndCapConvention",
    "Metric",
    "MetricKind",
    "RoiOccupancy",
    "compute_dvh",
    "release_grid_caches",
    "compute_dvhs",
    "evaluate_metric",
    "parse_metric",
    "rasterise_roi",
    "roi_dose_samples",
    "roi_dose_samples_batch",
    "volume_at_or_above",
]
