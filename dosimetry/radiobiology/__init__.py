"""Radiobiology: linear-quadratic BED/EQD2 (scalar and voxel-wise), fractionation schedules,
alpha/beta per structure, and the cumulative dose of a current and a prior course."""

from dosimetry.radiobiology.alpha_beta import AlphaBetaPolicy, RoiRole, composite_alpha_beta_map, roi_role
from dosimetry.radiobiology.lq import bed_array, bed_gy, eqd2_array, eqd2_gy
from dosimetry.radiobiology.maps import CourseDose, LqMap, lq_map, lq_maps, photon_equivalent_dose, resolve_fractions
from dosimetry.quantities import LQ_QUANTITIES, DoseQuantity
from dosimetry.radiobiology.schedule import Schedule, make_schedule, make_schedules
from dosimetry.radiobiology.summation import (
    DEFAULT_RESIDUAL,
    TARGET_METRICS_NOTE,
    CumulativeMap,
    SummationMethod,
    accumulate,
    cumulative_array,
)

__all__ = [
    "LQ_QUANTITIES",
    "DoseQuantity",
    "DEFAULT_RESIDUAL",
    "TARGET_METRICS_NOTE",
    "AlphaBetaPolicy",
    "CourseDose",
    "CumulativeMap",
    "LqMap",
    "RoiRole",
    "Schedule",
    "SummationMethod",
    "accumulate",
    "bed_array",
    "bed_gy",
    "composite_alpha_beta_map",
    "cumulative_array",
    "eqd2_array",
    "eqd2_gy",
    "lq_map",
    "lq_maps",
    "make_schedule",
    "make_schedules",
    "photon_equivalent_dose",
    "resolve_fractions",
    "roi_role",
]
