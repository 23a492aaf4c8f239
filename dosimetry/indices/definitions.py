"""Plan-quality index formulas: conformity, gradient, homogeneity and coverage.

Pure functions of volumes (cc) and DVH doses (Gy); nothing here touches a grid. Notation:

``TV``
    target volume (the ROI volume), cc.
``PIV``
    prescription (reference) isodose volume: the volume receiving at least the reference level,
    counted inside the body (External ROI), cc.
``TV_PIV``
    the part of the target receiving at least the reference level, cc.

Every index is returned as an :class:`IndexValue`. When a formula is undefined for the given
volumes (a division by zero: no isodose volume, an empty target, a target without dose), the
result carries ``value=None`` and an ``undefined_reason`` that says why; it is never a silent 0 or
NaN. ``IndexValue.require()`` turns an undefined value into a :class:`~dosimetry.errors.MetricError`
for callers that need a number. A ratio whose numerator is zero while the denominator is positive
is a genuine value (for example the RTOG CI is 0 when there is no isodose volume at all) and is
returned as such.

Inputs out of range (negative or non-finite volumes, ``TV_PIV`` larger than ``TV`` or ``PIV``,
``D2%`` below ``D98%``) are programming or data errors and raise
:class:`~dosimetry.errors.ArgumentError`.

References
----------
- Shaw E, Kline R, Gillin M, et al. Radiation Therapy Oncology Group: radiosurgery quality
  assurance guidelines. Int J Radiat Oncol Biol Phys 1993;27:1231-1239. (RTOG CI, RTOG HI)
- van't Riet A, Mak ACA, Moerland MA, Elders LH, van der Zee W. A conformation number to quantify
  the degree of conformality in brachytherapy and external beam irradiation: application to the
  prostate. Int J Radiat Oncol Biol Phys 1997;37:731-736. (conformation number)
- Paddick I. A simple scoring ratio to index the conformity of radiosurgical treatment plans.
  J Neurosurg 2000;93(Suppl 3):219-222. (Paddick CI)
- Lomax NJ, Scheib SG. Quantifying the degree of conformity in radiosurgery treatment planning.
  Int J Radiat Oncol Biol Phys 2003;55:1409-1419. (TV_PIV/PIV)
- Paddick I, Lippitz B. A simple dose gradient measurement tool to complement the conformity
  index. J Neurosurg 2006;105(Suppl):194-201. (gradient index)
- ICRU Report 83. Prescribing, recording, and reporting photon-beam intensity-modulated radiation
  therapy (IMRT). J ICRU 2010;10(1). (homogeneity index (D2% - D98%)/D50%)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from dosimetry.errors import ArgumentError, MetricError

#: Relative slack allowed when checking TV_PIV <= min(TV, PIV): volumes computed by partial-volume
#: integration of the same samples may differ in the last bits.
VOLUME_CONSISTENCY_RTOL = 1e-6
#: Absolute slack for the same check, cc (1e-6 cc = 1e-3 mm^3).
VOLUME_CONSISTENCY_ATOL_CC = 1e-6


class IndexName(StrEnum):
    """Stable names of the indices (keys of the JSON output)."""

    RTOG_CI = "rtog_ci"
    PADDICK_CI = "paddick_ci"
    VANT_RIET_CN = "vant_riet_cn"
    LOMAX_SCHEIB = "lomax_scheib"
    TARGET_COVERAGE = "target_coverage"
    GRADIENT_INDEX = "gradient_index"
    ICRU83_HI = "icru83_hi"
    RTOG_HI = "rtog_hi"


@dataclass(frozen=True)
class IndexValue:
    """The value of one index, or the reason it is undefined (exactly one of the two is set).

    ``definition`` is the formula in words and ``reference`` the publication; both are carried so
    that reports and JSON output are self-describing.
    """

    name: str
    value: float | None
    undefined_reason: str | None
    definition: str
    reference: str

    def __post_init__(self) -> None:
        if (self.value is None) == (self.undefined_reason is None):
            raise ArgumentError(
                f"IndexValue {self.name!r}: give exactly one of value and undefined_reason, "
                f"got value={self.value!r}, undefined_reason={self.undefined_reason!r}"
            )
        if self.value is not None:
            if not math.isfinite(self.value):
                raise ArgumentError(f"IndexValue {self.name!r}: value must be finite, got {self.value!r}")
            object.__setattr__(self, "value", float(self.value))

    @property
    def is_defined(self) -> bool:
        return self.value is not None

    def require(self) -> float:
        """The value; raises :class:`MetricError` with the reason when the index is undefined."""
        if self.value is None:
            raise MetricError(f"{self.name} is undefined: {self.undefined_reason}")
        return self.value

    def to_dict(self) -> dict[str, object]:
        return {
            "value": self.value,
            "undefined_reason": self.undefined_reason,
            "definition": self.definition,
            "reference": self.reference,
        }


# --- definitions and references (shared with evaluate and the CLI) -------------------------------

RTOG_CI_DEFINITION = "PIV / TV (prescription isodose volume over target volume); ideal 1"
RTOG_CI_REFERENCE = "Shaw et al., Int J Radiat Oncol Biol Phys 1993;27:1231-1239"
PADDICK_CI_DEFINITION = "TV_PIV^2 / (TV x PIV); 1 = perfect conformity, 0 = no overlap"
PADDICK_CI_REFERENCE = "Paddick, J Neurosurg 2000;93(Suppl 3):219-222"
VANT_RIET_CN_DEFINITION = (
    "(TV_PIV / TV) x (TV_PIV / PIV); algebraically identical to the Paddick CI, published earlier"
)
VANT_RIET_CN_REFERENCE = "van't Riet et al., Int J Radiat Oncol Biol Phys 1997;37:731-736"
LOMAX_SCHEIB_DEFINITION = "TV_PIV / PIV (fraction of the isodose volume lying inside the target)"
LOMAX_SCHEIB_REFERENCE = "Lomax and Scheib, Int J Radiat Oncol Biol Phys 2003;55:1409-1419"
TARGET_COVERAGE_DEFINITION = "TV_PIV / TV (fraction of the target inside the isodose volume)"
TARGET_COVERAGE_REFERENCE = "van't Riet et al. 1997 (first factor of the conformation number)"
GRADIENT_INDEX_REFERENCE = "Paddick and Lippitz, J Neurosurg 2006;105(Suppl):194-201"
ICRU83_HI_DEFINITION = "(D2% - D98%) / D50% of the target; 0 = homogeneous"
ICRU83_HI_REFERENCE = "ICRU Report 83, J ICRU 2010;10(1)"
RTOG_HI_DEFINITION = "Dmax / Rx (maximum target dose over the reference dose); RTOG accepts <= 2"
RTOG_HI_REFERENCE = "Shaw et al., Int J Radiat Oncol Biol Phys 1993;27:1231-1239"


def gradient_index_definition(low_fraction: float) -> str:
    return (
        f"PIV({100.0 * low_fraction:g} % of the reference) / PIV(100 % of the reference); "
        "Paddick-Lippitz GI uses 50 %"
    )


def gradient_index_name(low_fraction: float) -> str:
    """``gradient_index`` for the standard 50 % ratio, ``gradient_index_<pct>`` for others."""
    if math.isclose(low_fraction, 0.5):
        return str(IndexName.GRADIENT_INDEX)
    return f"{IndexName.GRADIENT_INDEX}_{100.0 * low_fraction:g}"


# --- input checks --------------------------------------------------------------------------------


def _check_volume(name: str, value_cc: float) -> float:
    value = float(value_cc)
    if not math.isfinite(value) or value < 0.0:
        raise ArgumentError(f"{name} must be a finite volume >= 0 cc, got {value_cc!r}")
    return value


def _check_dose(name: str, value_gy: float) -> float:
    value = float(value_gy)
    if not math.isfinite(value) or value < 0.0:
        raise ArgumentError(f"{name} must be a finite dose >= 0 Gy, got {value_gy!r}")
    return value


def _check_overlap(tv_cc: float, piv_cc: float, tv_piv_cc: float) -> tuple[float, float, float]:
    tv = _check_volume("TV", tv_cc)
    piv = _check_volume("PIV", piv_cc)
    tv_piv = _check_volume("TV_PIV", tv_piv_cc)
    for other_name, other in (("TV", tv), ("PIV", piv)):
        if tv_piv > other * (1.0 + VOLUME_CONSISTENCY_RTOL) + VOLUME_CONSISTENCY_ATOL_CC:
            raise ArgumentError(
                f"TV_PIV ({tv_piv:.6g} cc) cannot exceed {other_name} ({other:.6g} cc): the overlap of "
                "the target and the isodose volume is part of both"
            )
    return tv, piv, min(tv_piv, tv, piv)


def _undefined(name: str, reason: str, definition: str, reference: str) -> IndexValue:
    return IndexValue(name=name, value=None, undefined_reason=reason, definition=definition, reference=reference)


def _defined(name: str, value: float, definition: str, reference: str) -> IndexValue:
    return IndexValue(name=name, value=value, undefined_reason=None, definition=definition, reference=reference)


_EMPTY_TARGET = "the target volume TV is 0 cc"
_NO_ISODOSE = "the isodose volume PIV is 0 cc (no point reaches the reference level)"


# --- conformity ----------------------------------------------------------------------------------


def rtog_conformity_index(tv_cc: float, piv_cc: float) -> IndexValue:
    """RTOG conformity index ``CI = PIV / TV`` (Shaw et al. 1993).

    Ratio of the prescription isodose volume to the target volume, ideally 1; RTOG radiosurgery
    guidelines accept 1 <= CI <= 2. It ignores *where* the isodose volume lies: a CI of 1 is
    possible with no overlap at all. Undefined when TV = 0; equal to 0 (a genuine value) when
    PIV = 0.
    """
    tv = _check_volume("TV", tv_cc)
    piv = _check_volume("PIV", piv_cc)
    name = str(IndexName.RTOG_CI)
    if tv == 0.0:
        return _undefined(name, _EMPTY_TARGET, RTOG_CI_DEFINITION, RTOG_CI_REFERENCE)
    return _defined(name, piv / tv, RTOG_CI_DEFINITION, RTOG_CI_REFERENCE)


def paddick_conformity_index(tv_cc: float, piv_cc: float, tv_piv_cc: float) -> IndexValue:
    """Paddick conformity index ``CI = TV_PIV^2 / (TV x PIV)`` (Paddick 2000).

    Product of target coverage ``TV_PIV / TV`` and selectivity ``TV_PIV / PIV``; 1 means the
    isodose volume coincides with the target, 0 means no overlap. Undefined (0/0 type) when TV = 0
    or PIV = 0.
    """
    tv, piv, tv_piv = _check_overlap(tv_cc, piv_cc, tv_piv_cc)
    name = str(IndexName.PADDICK_CI)
    if tv == 0.0:
        return _undefined(name, _EMPTY_TARGET, PADDICK_CI_DEFINITION, PADDICK_CI_REFERENCE)
    if piv == 0.0:
        return _undefined(name, _NO_ISODOSE, PADDICK_CI_DEFINITION, PADDICK_CI_REFERENCE)
    return _defined(name, tv_piv * tv_piv / (tv * piv), PADDICK_CI_DEFINITION, PADDICK_CI_REFERENCE)


def vant_riet_conformation_number(tv_cc: float, piv_cc: float, tv_piv_cc: float) -> IndexValue:
    """van't Riet conformation number ``CN = (TV_PIV / TV) x (TV_PIV / PIV)`` (van't Riet 1997).

    Algebraically the same expression as the Paddick CI (published three years earlier, for
    brachytherapy and external beams of the prostate); both are reported because papers use either
    name. Undefined when TV = 0 or PIV = 0.
    """
    tv, piv, tv_piv = _check_overlap(tv_cc, piv_cc, tv_piv_cc)
    name = str(IndexName.VANT_RIET_CN)
    if tv == 0.0:
        return _undefined(name, _EMPTY_TARGET, VANT_RIET_CN_DEFINITION, VANT_RIET_CN_REFERENCE)
    if piv == 0.0:
        return _undefined(name, _NO_ISODOSE, VANT_RIET_CN_DEFINITION, VANT_RIET_CN_REFERENCE)
    return _defined(name, (tv_piv / tv) * (tv_piv / piv), VANT_RIET_CN_DEFINITION, VANT_RIET_CN_REFERENCE)


def lomax_scheib_index(piv_cc: float, tv_piv_cc: float) -> IndexValue:
    """Lomax-Scheib conformity index ``TV_PIV / PIV`` (Lomax and Scheib 2003).

    The fraction of the prescription isodose volume that lies inside the target (the
    "selectivity" factor of the Paddick CI); 1 means no normal tissue receives the reference
    level. Undefined when PIV = 0.
    """
    piv = _check_volume("PIV", piv_cc)
    tv_piv = _check_volume("TV_PIV", tv_piv_cc)
    _check_overlap(tv_piv, piv, tv_piv)
    name = str(IndexName.LOMAX_SCHEIB)
    if piv == 0.0:
        return _undefined(name, _NO_ISODOSE, LOMAX_SCHEIB_DEFINITION, LOMAX_SCHEIB_REFERENCE)
    return _defined(name, min(tv_piv, piv) / piv, LOMAX_SCHEIB_DEFINITION, LOMAX_SCHEIB_REFERENCE)


def target_coverage(tv_cc: float, tv_piv_cc: float) -> IndexValue:
    """Target coverage ``TV_PIV / TV``: the fraction of the target receiving the reference level.

    The first factor of van't Riet's conformation number; equals ``V_ref`` of the target as a
    fraction. Undefined when TV = 0; 0 (a genuine value) when no part of the target reaches it.
    """
    tv = _check_volume("TV", tv_cc)
    tv_piv = _check_volume("TV_PIV", tv_piv_cc)
    _check_overlap(tv, tv_piv, tv_piv)
    name = str(IndexName.TARGET_COVERAGE)
    if tv == 0.0:
        return _undefined(name, _EMPTY_TARGET, TARGET_COVERAGE_DEFINITION, TARGET_COVERAGE_REFERENCE)
    return _defined(name, min(tv_piv, tv) / tv, TARGET_COVERAGE_DEFINITION, TARGET_COVERAGE_REFERENCE)


# --- gradient ------------------------------------------------------------------------------------


def check_gradient_fraction(low_fraction: float) -> float:
    """The gradient ratio as a float in (0, 1), or an :class:`ArgumentError`."""
    fraction = float(low_fraction)
    if not (0.0 < fraction < 1.0):
        raise ArgumentError(f"gradient low_fraction must lie in (0, 1), got {low_fraction!r}")
    return fraction


def gradient_index(piv_reference_cc: float, piv_low_cc: float, low_fraction: float = 0.5) -> IndexValue:
    """Paddick-Lippitz gradient index ``GI = PIV(50 %) / PIV(100 %)`` (Paddick and Lippitz 2006).

    ``piv_reference_cc`` is the isodose volume at the reference level, ``piv_low_cc`` the isodose
    volume at ``low_fraction`` times that level (0.5 for the published GI; other fractions give the
    "gradient at other ratios", named ``gradient_index_<pct>``). Lower is steeper; the isodose
    volume at a lower level contains the one at a higher level, so GI >= 1. Undefined when
    PIV(100 %) = 0.
    """
    fraction = check_gradient_fraction(low_fraction)
    piv_ref = _check_volume("PIV(100 %)", piv_reference_cc)
    piv_low = _check_volume(f"PIV({100 * fraction:g} %)", piv_low_cc)
    if piv_low < piv_ref * (1.0 - VOLUME_CONSISTENCY_RTOL) - VOLUME_CONSISTENCY_ATOL_CC:
        raise ArgumentError(
            f"PIV({100 * fraction:g} %) = {piv_low:.6g} cc is smaller than PIV(100 %) = {piv_ref:.6g} cc; "
            "a lower isodose level cannot enclose less volume"
        )
    name = gradient_index_name(fraction)
    definition = gradient_index_definition(fraction)
    if piv_ref == 0.0:
        return _undefined(name, _NO_ISODOSE, definition, GRADIENT_INDEX_REFERENCE)
    return _defined(name, max(piv_low, piv_ref) / piv_ref, definition, GRADIENT_INDEX_REFERENCE)


# --- homogeneity ---------------------------------------------------------------------------------


def icru83_homogeneity_index(d2_gy: float, d98_gy: float, d50_gy: float) -> IndexValue:
    """ICRU 83 homogeneity index ``HI = (D2% - D98%) / D50%`` of the target (ICRU Report 83, 2010).

    ``Dx%`` is the minimum dose received by the hottest x % of the target volume (from its
    cumulative DVH). 0 means perfectly homogeneous. Undefined when D50% = 0 (a target without
    dose).
    """
    d2 = _check_dose("D2%", d2_gy)
    d98 = _check_dose("D98%", d98_gy)
    d50 = _check_dose("D50%", d50_gy)
    if not (d98 <= d50 * (1 + 1e-9) + 1e-12 and d50 <= d2 * (1 + 1e-9) + 1e-12):
        raise ArgumentError(f"need D98% <= D50% <= D2%, got D98% {d98:.6g}, D50% {d50:.6g}, D2% {d2:.6g} Gy")
    name = str(IndexName.ICRU83_HI)
    if d50 == 0.0:
        return _undefined(name, "D50% of the target is 0 Gy (the target receives no dose)",
                          ICRU83_HI_DEFINITION, ICRU83_HI_REFERENCE)
    return _defined(name, (d2 - d98) / d50, ICRU83_HI_DEFINITION, ICRU83_HI_REFERENCE)


def rtog_homogeneity_index(dmax_gy: float, reference_gy: float) -> IndexValue:
    """RTOG homogeneity index ``HI = Dmax / Rx`` (Shaw et al. 1993).

    Maximum target dose over the reference (prescription) dose; RTOG radiosurgery guidelines accept
    HI <= 2. The reference must be positive (it is an input, so a zero is an argument error).
    """
    dmax = _check_dose("Dmax", dmax_gy)
    reference = _check_dose("reference dose Rx", reference_gy)
    if reference == 0.0:
        raise ArgumentError("the reference dose Rx must be > 0 Gy for the RTOG homogeneity index")
    return _defined(str(IndexName.RTOG_HI), dmax / reference, RTOG_HI_DEFINITION, RTOG_HI_REFERENCE)


# --- coverage rules ------------------------------------------------------------------------------


class CoverageStatus(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    UNDEFINED = "undefined"


@dataclass(frozen=True)
class CoverageRule:
    """"The ``isodose_pct`` isodose should cover ``required_volume_pct`` of the target".

    The protocol (treatment planning section) says: "Ninety-five percent of the isodose line should
    cover the CTV for gross tumor (i.e., GTV plus 3-5 mm), and 90% of the dose line should cover
    the PTV for gross disease." It gives no volume threshold, so the literal reading
    (``required_volume_pct = 100``) is the default; institutions that accept, say, 98 % pass another
    value and reports show it.
    """

    name: str
    isodose_pct: float
    required_volume_pct: float = 100.0
    source: str = "protocol, Treatment planning"

    def __post_init__(self) -> None:
        if not (0.0 < self.isodose_pct <= 200.0):
            raise ArgumentError(f"coverage isodose_pct must lie in (0, 200], got {self.isodose_pct!r}")
        if not (0.0 < self.required_volume_pct <= 100.0):
            raise ArgumentError(
                f"coverage required_volume_pct must lie in (0, 100], got {self.required_volume_pct!r}"
            )

    @property
    def metric(self) -> str:
        """The DVH metric this rule checks, for example ``V95%``."""
        return f"V{self.isodose_pct:g}%"


#: Tolerance (percentage points) on the covered volume when comparing with the required volume.
#: A partial-volume DVH of a target lying wholly inside the isodose reads 99.995-100 % (the dose
#: spread of boundary sub-voxels, measured at 1-2.5 mm grids); 0.01 points absorbs that and is far
#: below any clinically meaningful difference. Reports show the covered % itself.
COVERAGE_TOLERANCE_PCT = 0.01

CTV_COVERAGE_RULE = CoverageRule(name="CTV covered by the 95 % isodose", isodose_pct=95.0)
PTV_COVERAGE_RULE = CoverageRule(name="PTV covered by the 90 % isodose", isodose_pct=90.0)


@dataclass(frozen=True)
class CoverageResult:
    """Outcome of a :class:`CoverageRule` on one target: ``covered_pct`` = V_isodose% of the target."""

    rule: CoverageRule
    covered_cc: float | None
    covered_pct: float | None
    status: CoverageStatus
    reason: str

    def to_dict(self) -> dict[str, object]:
        return {
            "rule": self.rule.name,
            "metric": self.rule.metric,
            "isodose_pct": self.rule.isodose_pct,
            "required_volume_pct": self.rule.required_volume_pct,
            "source": self.rule.source,
            "covered_cc": self.covered_cc,
            "covered_pct": self.covered_pct,
            "status": str(self.status),
            "reason": self.reason,
        }


def check_coverage(rule: CoverageRule, tv_cc: float, covered_cc: float) -> CoverageResult:
    """Pass when ``covered_cc / tv_cc`` >= the rule's required fraction (within
    :data:`COVERAGE_TOLERANCE_PCT`); UNDEFINED when the target is empty."""
    tv = _check_volume("TV", tv_cc)
    covered = _check_volume(f"{rule.metric} volume", covered_cc)
    _check_overlap(tv, covered, covered)
    if tv == 0.0:
        return CoverageResult(rule, None, None, CoverageStatus.UNDEFINED, _EMPTY_TARGET)
    covered_pct = 100.0 * min(covered, tv) / tv
    passed = covered_pct + COVERAGE_TOLERANCE_PCT >= rule.required_volume_pct
    verdict = ">=" if passed else "<"
    reason = f"{rule.metric} = {covered_pct:.2f} % {verdict} required {rule.required_volume_pct:g} %"
    return CoverageResult(
        rule, min(covered, tv), covered_pct, CoverageStatus.PASS if passed else CoverageStatus.FAIL, reason
    )
