"""Convention sensitivity: how much an ROI's volume and metrics move between the end-cap /
between-plane conventions (:class:`~dosimetry.dvh.endcaps.EndCapConvention`).

The contours do not say what lies between and beyond their planes; each convention is one
reading of them. Where the readings disagree by more than the thresholds below, a number of that
ROI depends on an assumption the data cannot settle, and it is flagged:

* a dose metric in Gy or cGy (units case-insensitive, as the metric grammar) whose spread over
  the conventions exceeds ``DOSE_SPREAD_GY`` (1 Gy = 100 cGy: a small serial organ's D0.03cc
  moving by more than 1 Gy, the example of issue 13);
* the volume, when its spread exceeds ``VOLUME_SPREAD_PERCENT`` (10 %) of the mean.

These are working thresholds of this tool, not values from a guideline.

A caller that already holds some of these DVHs (``dosimetry analyze``: the DVH stage's curves under
the default convention on the same map, bin width and supersampling) passes them as ``computed``;
they are used as they are instead of sampling the ROI again under that convention (the same
computation, so the same numbers: tests/test_dvh_sensitivity.py compares with and without).
Measured reason (issue 20, clinical case, 14 constraint ROIs on the cumulative EQD2): one of the
three samplings per ROI repeated the DVH stage's, 0.08 s of the spreads' 0.25 s CPU.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dosimetry.dose import DoseGrid
from dosimetry.dvh.curve import Dvh, dvh_from_samples
from dosimetry.dvh.endcaps import EndCapConvention
from dosimetry.dvh.metrics import Unit, evaluate_metric, parse_metric
from dosimetry.dvh.rasterise import geometry_for_grid
from dosimetry.dvh.sampling import roi_dose_samples
from dosimetry.errors import GeometryError, MetricError
from dosimetry.structures import Roi

DOSE_SPREAD_GY = 1.0
VOLUME_SPREAD_PERCENT = 10.0
_DOSE_SPREAD_BY_UNIT = {Unit.GY: DOSE_SPREAD_GY, Unit.CGY: 100.0 * DOSE_SPREAD_GY}

@dataclass(frozen=True)
class Spread:
    """One quantity of one ROI under every convention (None where it cannot be computed)."""

    quantity: str
    by_convention: tuple[tuple[str, float | None], ...]
    spread: float | None  # max - min over the conventions that gave a value
    flagged: bool


@dataclass(frozen=True)
class RoiSensitivity:
    roi_name: str
    roi_number: int
    spreads: tuple[Spread, ...]
    errors: tuple[str, ...] = ()

    @property
    def flagged(self) -> bool:
        return any(s.flagged for s in self.spreads)


def convention_sensitivity(
    dose: DoseGrid,
    rois: list[Roi] | tuple[Roi, ...],
    metrics: list[str],
    *,
    prescription_gy: float | None = None,
    bin_width_gy: float = 0.01,
    supersample: int | None = None,
    computed: Mapping[tuple[str, EndCapConvention], Dvh] | None = None,
) -> tuple[RoiSensitivity, ...]:
    """Volume and ``metrics`` of every ROI under every convention, their spread and flags.
    ``supersample`` is passed to the sampling of every convention (as ``dosimetry dvh
    --supersample``). Each ROI's geometry under each convention comes from
    :func:`~dosimetry.dvh.rasterise.geometry_for_grid`, which memoises it across calls on other
    dose maps (the geometry does not depend on the dose, only on the grid through a single plane's
    default thickness). ``computed``: DVHs by (ROI name, convention) already computed on ``dose``
    with this ``bin_width_gy`` and ``supersample`` (see the module docstring), used as they are."""
    given = computed or {}
    out = []
    for roi in rois:
        errors: list[str] = []
        values: dict[str, list[tuple[str, float | None]]] = {"volume_cc": []}
        for m in metrics:
            values[m] = []
        for convention in EndCapConvention:
            dvh = given.get((roi.name, convention))
            try:
                if dvh is None:
                    geometry = geometry_for_grid(roi, dose.grid, convention, None)
                    # one map: a sampling plan kept for other maps (the DVH stage's) is used, none kept here
                    samples = roi_dose_samples(
                        dose, roi, end_cap=convention, supersample=supersample, geometry=geometry, keep_plan=False
                    )
                    dvh = dvh_from_samples(samples, roi_name=roi.name, roi_number=roi.number, bin_width_gy=bin_width_gy)
            except GeometryError as exc:
                errors.append(f"{convention.value}: {exc}")
            values["volume_cc"].append((convention.value, None if dvh is None else dvh.volume_cc))
            for m in metrics:
                value = None
                if dvh is not None:
                    try:
                        value = evaluate_metric(dvh, m, prescription_gy)
                    except MetricError as exc:
                        errors.append(f"{convention.value} {m}: {exc}")
                values[m].append((convention.value, value))
        spreads = []
        for quantity, pairs in values.items():
            known = [v for _, v in pairs if v is not None]
            spread = max(known) - min(known) if len(known) > 1 else None
            if spread is None:
                flagged = False
            elif quantity == "volume_cc":
                mean = sum(known) / len(known)
                flagged = mean > 0 and 100.0 * spread / mean > VOLUME_SPREAD_PERCENT
            else:
                threshold = _DOSE_SPREAD_BY_UNIT.get(parse_metric(quantity).output_unit)
                flagged = threshold is not None and spread > threshold
            spreads.append(Spread(quantity, tuple(pairs), spread, flagged))
        out.append(RoiSensitivity(roi.name, roi.number, tuple(spreads), tuple(errors)))
    return tuple(out)
