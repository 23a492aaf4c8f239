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

__all__ = [
    "CTV_COVERAGE_RULE",
    "PTV_COVERAGE_RULE",
    "CoverageResult",
    "CoverageRule",
    "CoverageStatus",
    "IndexName",
    "IndexValue",
    "check_coverage",
    "gradient_index",
    "icru83_homogeneity_index",
    "lomax_scheib_index",
    "paddick_conformity_index",
    "rtog_conformity_index",
    "rtog_homogeneity_index",
    "target_coverage",
    "vant_riet_conformation_number",
]
