"""Which alpha/beta ratio applies to which structure, and the composite alpha/beta map.

Per structure (for evaluation): targets get ``target_alpha_beta_gy`` (9 Gy, the protocol's value
for nasopharyngeal carcinoma), every other ROI gets ``oar_alpha_beta_gy`` (2 Gy, late-responding
tissue). A ROI is a target when its RT ROI Interpreted Type is GTV, CTV or PTV, or -- only when the
file gives no interpreted type -- when its name starts with GTV, CTV or PTV. ``overrides`` maps ROI
names (case-insensitive) to their own ratio and wins over both rules.

Composite map (one alpha/beta per voxel, for a single exported map), priority from highest:

1. voxels inside an ROI with an override take that override (several overrides: the lowest ratio);
2. voxels inside any organ at risk take ``oar_alpha_beta_gy`` (an OAR inside a target keeps its
   late-effect ratio; conservative for the organ); ROIs of role OTHER (EXTERNAL body outline,
   couch, markers, ...) play no part;
3. voxels inside a target take ``target_alpha_beta_gy``;
4. all other voxels (unlabelled normal tissue) take ``oar_alpha_beta_gy``.

Masks are supplied by the caller (for example the DVH engine's rasteriser) as boolean arrays or
fractional occupancies on the dose grid; a voxel belongs to a ROI when its occupancy is >= 0.5.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from dosimetry.errors import RadiobiologyError
from dosimetry.radiobiology.lq import check_alpha_beta
from dosimetry.structures import Roi

TARGET_INTERPRETED_TYPES = frozenset({"GTV", "CTV", "PTV"})
TARGET_NAME_PREFIXES = ("GTV", "CTV", "PTV")
DEFAULT_TARGET_ALPHA_BETA_GY = 9.0
DEFAULT_OAR_ALPHA_BETA_GY = 2.0
MASK_OCCUPANCY_THRESHOLD = 0.5


#: Interpreted types that are not an organ (body outline, couch, markers, dose regions, ...).
OTHER_INTERPRETED_TYPES = frozenset(
    {
        "EXTERNAL", "SUPPORT", "FIXATION", "BOLUS", "MARKER", "REGISTRATION", "ISOCENTER",
        "CONTRAST_AGENT", "BRACHY_CHANNEL", "BRACHY_ACCESSORY", "BRACHY_SRC_APP", "BRACHY_CHNL_SHLD",
        "DOSE_REGION", "CONTROL", "TREATED_VOLUME", "IRRAD_VOLUME", "CAVITY",
    }
)


class RoiRole(StrEnum):
    TARGET = "TARGET"
    ORGAN_AT_RISK = "ORGAN_AT_RISK"
    OTHER = "OTHER"  # body outline, couch, markers...: evaluated with the OAR ratio, ignored by the composite


def roi_role(roi: Roi) -> RoiRole:
    """TARGET for GTV/CTV/PTV interpreted types (or such names when the type is empty), OTHER for
    EXTERNAL/SUPPORT/... (see :data:`OTHER_INTERPRETED_TYPES`), else ORGAN_AT_RISK."""
    kind = roi.interpreted_type.strip().upper()
    if kind:
        if kind in TARGET_INTERPRETED_TYPES:
            return RoiRole.TARGET
        return RoiRole.OTHER if kind in OTHER_INTERPRETED_TYPES else RoiRole.ORGAN_AT_RISK
    return RoiRole.TARGET if roi.name.strip().upper().startswith(TARGET_NAME_PREFIXES) else RoiRole.ORGAN_AT_RISK


@dataclass(frozen=True)
class AlphaBetaPolicy:
    """Alpha/beta ratios (Gy) for targets, organs at risk and named ROIs (names case-insensitive)."""

    target_alpha_beta_gy: float = DEFAULT_TARGET_ALPHA_BETA_GY
    oar_alpha_beta_gy: float = DEFAULT_OAR_ALPHA_BETA_GY
    overrides: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_alpha_beta(self.target_alpha_beta_gy, argument="target_alpha_beta_gy")
        check_alpha_beta(self.oar_alpha_beta_gy, argument="oar_alpha_beta_gy")
        normalised: dict[str, float] = {}
        for name, value in dict(self.overrides).items():
            key = name.strip().upper()
            if key in normalised:
                raise RadiobiologyError(f"alpha/beta override for ROI {name!r} given twice (names are case-insensitive)")
            normalised[key] = check_alpha_beta(value, argument=f"alpha/beta override of ROI {name!r}")
        object.__setattr__(self, "overrides", normalised)

    def override_for(self, roi_name: str) -> float | None:
        return self.overrides.get(roi_name.strip().upper())

    def for_roi(self, roi: Roi) -> float:
        """The alpha/beta used to evaluate ``roi``."""
        override = self.override_for(roi.name)
        if override is not None:
            return override
        return self.target_alpha_beta_gy if roi_role(roi) is RoiRole.TARGET else self.oar_alpha_beta_gy

    def describe(self) -> str:
        text = f"targets (GTV/CTV/PTV) alpha/beta {self.target_alpha_beta_gy:g} Gy, organs at risk {self.oar_alpha_beta_gy:g} Gy"
        if self.overrides:
            text += "; overrides " + ", ".join(f"{k}={v:g} Gy" for k, v in sorted(self.overrides.items()))
        return text


def composite_alpha_beta_map(
    shape_zyx: tuple[int, int, int],
    roi_masks: Mapping[str, tuple[Roi, npt.ArrayLike]],
    policy: AlphaBetaPolicy,
) -> npt.NDArray[np.float64]:
    """One alpha/beta per voxel following the module's priority rule.

    ``roi_masks`` maps a ROI name to ``(roi, mask)`` with ``mask`` of shape ``shape_zyx`` (bool or
    occupancy in [0, 1]).
    """
    result = np.full(shape_zyx, policy.oar_alpha_beta_gy, dtype=np.float64)
    masks: list[tuple[Roi, npt.NDArray[np.bool_]]] = []
    for name, (roi, mask) in roi_masks.items():
        array = np.asarray(mask)
        if array.shape != tuple(shape_zyx):
            raise RadiobiologyError(f"mask of ROI {name!r} has shape {array.shape}, expected {tuple(shape_zyx)}")
        inside = array if array.dtype == np.bool_ else array >= MASK_OCCUPANCY_THRESHOLD
        masks.append((roi, inside))
    # Lowest priority first; later assignments overwrite.
    for roi, inside in masks:
        if policy.override_for(roi.name) is None and roi_role(roi) is RoiRole.TARGET:
            result[inside] = policy.target_alpha_beta_gy
    for roi, inside in masks:
        if policy.override_for(roi.name) is None and roi_role(roi) is RoiRole.ORGAN_AT_RISK:
            result[inside] = policy.oar_alpha_beta_gy
    overridden = np.zeros(shape_zyx, dtype=np.bool_)
    for roi, inside in masks:
        value = policy.override_for(roi.name)
        if value is None:
            continue
        fresh = inside & ~overridden
        result[fresh] = value
        both = inside & overridden
        result[both] = np.minimum(result[both], value)
        overridden |= inside
    return result
