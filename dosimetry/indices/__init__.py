"""Plan-quality indices (conformity, gradient, homogeneity, coverage) on dose and BED maps.

- :mod:`dosimetry.indices.definitions`: the formulas, each with its definition and reference.
- :mod:`dosimetry.indices.volumes`: TV, PIV and TV_PIV with the DVH engine's partial-volume accuracy.
- :mod:`dosimetry.indices.evaluate`: frozen results per target and reference level.
"""

from dosimetry.indices.definitions import (
    CTV_COVERAGE_RULE,
    PTV_COVERAGE_RULE,
    CoverageResult,
    CoverageRule,
    CoverageStatus,
    IndexName,
    IndexValue,
    check_coverage,
    gradient_index,
    icru83_homogeneity_index,
    lomax_scheib_index,
    paddick_conformity_index,
    rtog_conformity_index,
    rtog_homogeneity_index,
    target_coverage,
    vant_riet_conformation_number,
)
from dosimetry.indices.evaluate import (
    DoseQuantity,
    ReferenceLevel,
    TargetDoseStatistics,
    TargetIndices,
    evaluate_quantity,
    evaluate_target,
    evaluate_targets,
    lq_dose_map,
    protocol_coverage_rules,
)
from dosimetry.indices.volumes import RegionVolumes, body_volumes, find_body, grid_volumes, roi_volumes

__all__ = [
    "CTV_COVERAGE_RULE",
    "CoverageResult",
    "CoverageRule",
    "CoverageStatus",
    "DoseQuantity",
    "IndexName",
    "IndexValue",
    "PTV_COVERAGE_RULE",
    "ReferenceLevel",
    "RegionVolumes",
    "TargetDoseStatistics",
    "TargetIndices",
    "body_volumes",
    "check_coverage",
    "evaluate_quantity",
    "evaluate_target",
    "evaluate_targets",
    "find_body",
    "gradient_index",
    "grid_volumes",
    "icru83_homogeneity_index",
    "lomax_scheib_index",
    "lq_dose_map",
    "paddick_conformity_index",
    "protocol_coverage_rules",
    "roi_volumes",
    "rtog_conformity_index",
    "rtog_homogeneity_index",
    "target_coverage",
    "vant_riet_conformation_number",
]
