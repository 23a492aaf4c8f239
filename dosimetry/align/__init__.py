"""Bringing a prior course's dose onto the current dose grid (SimpleITK linear resampling).

See :func:`dosimetry.align.resample.align_prior_dose` and :mod:`dosimetry.align.transforms`.
"""

from dosimetry.align.resample import AlignedDose, AlignmentMethod, align_prior_dose, resample_dose_with_transform
from dosimetry.align.transforms import current_to_prior_transform, load_itk_transform

__all__ = [
    "AlignedDose",
    "AlignmentMethod",
    "align_prior_dose",
    "current_to_prior_transform",
    "load_itk_transform",
    "resample_dose_with_transform",
]
