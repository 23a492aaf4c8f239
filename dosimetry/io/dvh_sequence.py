"""The DVHs a planning system stores in an RT Dose (RT DVH module, DVH Sequence (3004,0050)).

Each item becomes a :class:`PlanningSystemDvh` holding a :class:`~dosimetry.dvh.Dvh` (the same
value object as our own DVHs, with ``end_cap`` None: the planning system's convention is unknown).
What is read, per item:

* ``DVHReferencedROISequence`` > ``ReferencedROINumber`` (3006,0084): the ROI it belongs to;
* ``DVHType`` (3004,0001): CUMULATIVE (``V_n`` = volume receiving at least the dose at the start of
  bin n) or DIFFERENTIAL (``V_n`` = volume in bin n); NATURAL is refused (warning);
* ``DoseUnits`` (3004,0002): GY or CGY (several systems write CGY; RELATIVE is refused);
* ``DVHDoseScaling`` (3004,0052, default 1): multiplies the bin widths;
* ``DVHVolumeUnits`` (3004,0054): CM3 or PERCENT (of the ROI volume, which the item then does not
  give: ``volume_cc`` is None and only relative metrics compare); PER_U is refused;
* ``DVHData`` (3004,0058): ``D1 V1 D2 V2 ...`` (bin widths and volumes), ``DVHNumberOfBins``
  (3004,0056) pairs; bins of unequal width are resampled onto the narrowest width (the cumulative
  curve is piecewise linear, so this is exact at the original edges);
* ``DVHMinimumDose`` / ``DVHMaximumDose`` / ``DVHMeanDose`` (3004,0070/72/74) when present, kept
  as the planning system's own values (the curve's statistics otherwise, flagged as such).

A malformed item is skipped with a warning naming its item number and ROI; it never fails the
reading of the others or the analysis. Several items for one ROI are a warning naming them: the
first is the one :meth:`PlanningSystemDvhs.for_roi` gives.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset

from dosimetry.dvh.curve import Dvh
from dosimetry.io.dicom_file import read_dicom

FloatArray = npt.NDArray[np.float64]


class DvhVolumeUnits(StrEnum):
    CM3 = "CM3"
    PERCENT = "PERCENT"


@dataclass(frozen=True, eq=False)
class PlanningSystemDvh:
    """One DVH Sequence item. ``dvh`` volumes are cc (CM3) or percent of the ROI (PERCENT: its
    ``volume_cc`` is then 100, the percent scale, and :attr:`volume_cc` is None). ``min_gy``,
    ``max_gy`` and ``mean_gy`` are the item's own values, None when the item has none."""

    item: int  # 1-based position in the DVH Sequence
    roi_number: int
    dvh: Dvh
    dvh_type: str
    volume_units: DvhVolumeUnits
    dose_units: str
    min_gy: float | None
    max_gy: float | None
    mean_gy: float | None

    @property
    def volume_cc(self) -> float | None:
        return self.dvh.volume_cc if self.volume_units is DvhVolumeUnits.CM3 else None


@dataclass(frozen=True, eq=False)
class PlanningSystemDvhs:
    source: str
    dvhs: tuple[PlanningSystemDvh, ...]
    warnings: tuple[str, ...]

    def for_roi(self, roi_number: int) -> PlanningSystemDvh | None:
        return next((d for d in self.dvhs if d.roi_number == roi_number), None)


class _Malformed(Exception):
    """An item that cannot be read (the message says why); caught and turned into a warning."""


def read_dvh_sequence(source: str | Path | Dataset) -> PlanningSystemDvhs:
    """The planning system's DVHs of an RT Dose file (or dataset); none when it has no DVH
    Sequence (not an error: most RT Dose files carry none)."""
    ds = source if isinstance(source, Dataset) else read_dicom(Path(source))
    label = getattr(ds, "filename", None) or (str(source) if not isinstance(source, Dataset) else "RT Dose dataset")
    items = getattr(ds, "DVHSequence", None) or []
    out: list[PlanningSystemDvh] = []
    warnings: list[str] = []
    for index, item in enumerate(items, start=1):
        roi = _roi_number(item)
        try:
            out.append(_item(item, index, roi))
        except _Malformed as exc:
            where = f"ROI {roi}" if roi is not None else "no ReferencedROINumber"
            warnings.append(f"{label}: DVH Sequence item {index} ({where}) skipped: {exc}")
    first: dict[int, int] = {}
    for d in out:
        if d.roi_number in first:
            warnings.append(
                f"{label}: DVH Sequence items {first[d.roi_number]} and {d.item} both reference ROI {d.roi_number}; "
                f"item {first[d.roi_number]} is the one compared"
            )
        else:
            first[d.roi_number] = d.item
    return PlanningSystemDvhs(str(label), tuple(out), tuple(warnings))


def _roi_number(item: Dataset) -> int | None:
    refs = getattr(item, "DVHReferencedROISequence", None) or []
    try:
        return int(refs[0].ReferencedROINumber) if refs else None
    except (AttributeError, TypeError, ValueError):
        return None


def _item(item: Dataset, index: int, roi: int | None) -> PlanningSystemDvh:
    if roi is None:
        raise _Malformed("no DVHReferencedROISequence > ReferencedROINumber")
    dvh_type = str(getattr(item, "DVHType", "")).strip().upper()
    if dvh_type not in ("CUMULATIVE", "DIFFERENTIAL"):
        raise _Malformed(f"DVHType {dvh_type!r} is not CUMULATIVE or DIFFERENTIAL")
    dose_units = str(getattr(item, "DoseUnits", "")).strip().upper()
    to_gy = {"GY": 1.0, "CGY": 0.01}.get(dose_units)
    if to_gy is None:
        raise _Malformed(f"DoseUnits {dose_units!r} is not GY or CGY")
    try:
        units = DvhVolumeUnits(str(getattr(item, "DVHVolumeUnits", "")).strip().upper())
    except ValueError:
        raise _Malformed(f"DVHVolumeUnits {getattr(item, 'DVHVolumeUnits', '')!r} is not CM3 or PERCENT") from None
    scaling = _number(item, "DVHDoseScaling", 1.0)
    if scaling is None or not scaling > 0:
        raise _Malformed("DVHDoseScaling is not a positive number")
    try:
        data = np.asarray([float(v) for v in item.DVHData], dtype=np.float64)
    except (AttributeError, TypeError, ValueError):
        raise _Malformed("DVHData is missing or not numeric") from None
    n_bins = getattr(item, "DVHNumberOfBins", None)
    if data.size == 0 or data.size % 2:
        raise _Malformed(f"DVHData has {data.size} values, expected pairs of bin width and volume")
    if n_bins is not None and int(n_bins) * 2 != data.size:
        raise _Malformed(f"DVHData has {data.size} values, DVHNumberOfBins {int(n_bins)} says {2 * int(n_bins)}")
    widths_gy = data[0::2] * scaling * to_gy
    volumes = data[1::2]
    if not (np.isfinite(widths_gy).all() and np.isfinite(volumes).all()):
        raise _Malformed("DVHData holds non-finite values")
    if (widths_gy <= 0).any() or (volumes < 0).any():
        raise _Malformed("DVHData has a bin of zero or negative width or a negative volume")
    edges = np.concatenate([[0.0], np.cumsum(widths_gy)])
    if dvh_type == "CUMULATIVE":
        cumulative = np.concatenate([volumes, [0.0]])
        if (np.diff(cumulative) > 1e-6 * max(float(cumulative[0]), 1e-12)).any():
            raise _Malformed("a CUMULATIVE DVH increases with dose")
    else:
        cumulative = np.concatenate([np.cumsum(volumes[::-1])[::-1], [0.0]])
    total = float(cumulative[0])
    if not total > 0:
        raise _Malformed("the DVH has no volume")
    width = float(widths_gy.min())
    if not np.allclose(widths_gy, width, rtol=1e-6, atol=0.0):
        uniform = np.arange(math.ceil(edges[-1] / width - 1e-9) + 1) * width
        cumulative = np.interp(uniform, edges, cumulative, right=0.0)
        edges = uniform
    else:
        edges = np.arange(edges.size, dtype=np.float64) * width
    edges = np.asarray(edges, dtype=np.float64)
    stats = {key: _number(item, key, None) for key in ("DVHMinimumDose", "DVHMaximumDose", "DVHMeanDose")}
    own = {key: (None if v is None else v * to_gy) for key, v in stats.items()}
    curve_min, curve_max, curve_mean, curve_median = _curve_statistics(edges, cumulative)
    notes = [] if own["DVHMeanDose"] is not None else [f"DVH Sequence item {index}: no DVHMeanDose; mean from the curve"]
    dvh = Dvh(
        roi_name=f"ROI {roi}",
        roi_number=roi,
        bin_edges_gy=edges,
        cumulative_cc=cumulative,
        volume_cc=total,
        volume_in_dose_grid_cc=total,
        volume_outside_dose_grid_cc=0.0,
        min_gy=own["DVHMinimumDose"] if own["DVHMinimumDose"] is not None else curve_min,
        max_gy=own["DVHMaximumDose"] if own["DVHMaximumDose"] is not None else curve_max,
        mean_gy=own["DVHMeanDose"] if own["DVHMeanDose"] is not None else curve_mean,
        median_gy=curve_median,
        end_cap=None,
        supersample=0,
        dose_type=str(getattr(item, "DoseType", "")),
        warnings=tuple(notes),
    )
    return PlanningSystemDvh(
        index, roi, dvh, dvh_type, units, dose_units, own["DVHMinimumDose"], own["DVHMaximumDose"], own["DVHMeanDose"]
    )


def _number(item: Dataset, keyword: str, default: float | None) -> float | None:
    value = getattr(item, keyword, None)
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise _Malformed(f"{keyword} {value!r} is not a number") from None
    if not math.isfinite(number):
        raise _Malformed(f"{keyword} is not finite")
    return number


def _curve_statistics(edges: FloatArray, cumulative: FloatArray) -> tuple[float, float, float, float]:
    """Min, max, mean and median of a cumulative curve linear between edges."""
    total = float(cumulative[0])
    below_total = np.flatnonzero(cumulative < total * (1 - 1e-9))
    minimum = float(edges[max(int(below_total[0]) - 1, 0)]) if below_total.size else float(edges[0])
    positive = np.flatnonzero(cumulative > 0)
    maximum = float(edges[min(int(positive[-1]) + 1, edges.size - 1)]) if positive.size else float(edges[0])
    mean = float(np.trapezoid(cumulative, edges) / total)  # mean = integral of V(>=D) dD / V
    median = float(np.interp(-0.5 * total, -cumulative, edges))
    return minimum, maximum, mean, median
