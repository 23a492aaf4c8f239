"""DVH metrics in the AAPM TG-263 nomenclature.

Grammar (units case-insensitive, no spaces)::

    D<v>(%|cc)[Gy|cGy|%]     minimum dose to the hottest v (% of volume or cc)    D95%[Gy], D0.03cc[Gy]
    DC<v>(%|cc)[Gy|cGy|%]    dose complement: maximum dose to the coldest v           DC2cc[Gy]
    V<d>(Gy|cGy|%)[cc|%]     volume receiving at least d (Gy or % of prescription)  V20Gy[%], V95%[cc]
    CV<d>(Gy|cGy|%)[cc|%]    complement volume: volume receiving less than d        CV20Gy[cc]
    (Mean|Max|Min|Median)[Gy|cGy|%]                                                 Mean[Gy]

An output unit ``[%]`` on a dose, or a dose given in ``%``, is relative to the prescription dose,
which must then be given. Doses are interpolated linearly between the DVH's bin edges. A query the
curve cannot answer (D2cc of a 1 cc ROI, a negative volume) raises :class:`MetricError`; a volume
query above the maximum dose is a true 0 cc.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import StrEnum

from dosimetry.dvh.curve import Dvh
from dosimetry.errors import MetricError

GRAMMAR = (
    "TG-263 DVH metric: D<v>%|cc[Gy|cGy|%], DC<v>%|cc[Gy|cGy|%], V<d>Gy|cGy|%[cc|%], "
    "CV<d>Gy|cGy|%[cc|%] or Mean|Max|Min|Median[Gy|cGy|%] (e.g. D95%[Gy], D0.03cc[Gy], V20Gy[%], "
    "CV20Gy[cc], Mean[Gy])"
)


class MetricKind(StrEnum):
    DOSE_AT_VOLUME = "D"
    DOSE_COMPLEMENT = "DC"
    VOLUME_AT_DOSE = "V"
    COMPLEMENT_VOLUME = "CV"
    MEAN = "Mean"
    MAX = "Max"
    MIN = "Min"
    MEDIAN = "Median"


class Unit(StrEnum):
    GY = "Gy"
    CGY = "cGy"
    PERCENT = "%"
    CC = "cc"


@dataclass(frozen=True)
class Metric:
    """A parsed metric: ``kind``, its argument ``value`` in ``value_unit`` (None for statistics),
    and the ``output_unit`` of the result."""

    text: str
    kind: MetricKind
    value: float | None
    value_unit: Unit | None
    output_unit: Unit

    @property
    def needs_prescription(self) -> bool:
        dose_out = self.kind not in (MetricKind.VOLUME_AT_DOSE, MetricKind.COMPLEMENT_VOLUME)
        return (dose_out and self.output_unit is Unit.PERCENT) or (
            not dose_out and self.value_unit is Unit.PERCENT
        )


_NUMBER = r"(\d+(?:\.\d*)?|\.\d+)"
_VOLUME_FORM = re.compile(rf"^(DC|D)\s*{_NUMBER}\s*(%|cc)\s*\[\s*(Gy|cGy|%)\s*\]$", re.IGNORECASE)
_DOSE_FORM = re.compile(rf"^(CV|V)\s*{_NUMBER}\s*(Gy|cGy|%)\s*\[\s*(cc|%)\s*\]$", re.IGNORECASE)
_STAT_FORM = re.compile(r"^(Mean|Max|Min|Median)\s*\[\s*(Gy|cGy|%)\s*\]$", re.IGNORECASE)
_UNITS = {"gy": Unit.GY, "cgy": Unit.CGY, "%": Unit.PERCENT, "cc": Unit.CC}
_KINDS = {k.value.lower(): k for k in MetricKind}


def parse_metric(text: str) -> Metric:
    """Parse a TG-263 metric string; raises MetricError naming the string and the grammar."""
    if not isinstance(text, str):
        raise MetricError(f"metric {text!r} is not a string; expected {GRAMMAR}")
    s = text.strip()
    for pattern in (_VOLUME_FORM, _DOSE_FORM):
        m = pattern.match(s)
        if m:
            kind = _KINDS[m.group(1).lower()]
            value = float(m.group(2))
            metric = Metric(text, kind, value, _UNITS[m.group(3).lower()], _UNITS[m.group(4).lower()])
            if metric.value_unit is Unit.PERCENT and kind in (MetricKind.DOSE_AT_VOLUME, MetricKind.DOSE_COMPLEMENT) and value > 100:
                raise MetricError(f"metric {text!r}: a volume of {value}% exceeds 100%")
            return metric
    m = _STAT_FORM.match(s)
    if m:
        return Metric(text, _KINDS[m.group(1).lower()], None, None, _UNITS[m.group(2).lower()])
    raise MetricError(f"metric {text!r} is malformed; expected {GRAMMAR}")


def _dose_in(value: float, unit: Unit, prescription_gy: float | None, text: str) -> float:
    if unit is Unit.GY:
        return value
    if unit is Unit.CGY:
        return value / 100.0
    return value / 100.0 * _prescription(prescription_gy, text)


def _dose_out(dose_gy: float, unit: Unit, prescription_gy: float | None, text: str) -> float:
    if unit is Unit.GY:
        return dose_gy
    if unit is Unit.CGY:
        return dose_gy * 100.0
    return 100.0 * dose_gy / _prescription(prescription_gy, text)


def _prescription(prescription_gy: float | None, text: str) -> float:
    if prescription_gy is None:
        raise MetricError(f"metric {text!r} is relative to the prescription dose; give prescription_gy")
    if not (math.isfinite(prescription_gy) and prescription_gy > 0):
        raise MetricError(f"metric {text!r}: prescription_gy must be a positive dose, got {prescription_gy!r}")
    return float(prescription_gy)


def evaluate_metric(dvh: Dvh, metric: str | Metric, prescription_gy: float | None = None) -> float:
    """Value of ``metric`` on ``dvh`` in the metric's output unit (Gy, cGy, cc or %)."""
    m = metric if isinstance(metric, Metric) else parse_metric(metric)
    text = m.text
    total = dvh.volume_in_dose_grid_cc
    if m.kind in (MetricKind.MEAN, MetricKind.MAX, MetricKind.MIN, MetricKind.MEDIAN):
        stat = {
            MetricKind.MEAN: dvh.mean_gy,
            MetricKind.MAX: dvh.max_gy,
            MetricKind.MIN: dvh.min_gy,
            MetricKind.MEDIAN: dvh.median_gy,
        }[m.kind]
        return _dose_out(stat, m.output_unit, prescription_gy, text)
    assert m.value is not None and m.value_unit is not None
    if m.kind in (MetricKind.DOSE_AT_VOLUME, MetricKind.DOSE_COMPLEMENT):
        volume = m.value / 100.0 * total if m.value_unit is Unit.PERCENT else m.value
        if volume > total * (1 + 1e-9):
            raise MetricError(
                f"metric {text!r} asks for {volume:.6g} cc but ROI {dvh.roi_name!r} has {total:.6g} cc "
                "inside the dose grid; the curve has no value there"
            )
        if m.kind is MetricKind.DOSE_COMPLEMENT:
            volume = max(total - volume, 0.0)
        dose = dvh.dose_at_volume_cc(volume, label=f"metric {text!r}")
        return _dose_out(dose, m.output_unit, prescription_gy, text)
    dose_gy = _dose_in(m.value, m.value_unit, prescription_gy, text)
    volume = dvh.volume_at_dose_cc(dose_gy)
    if m.kind is MetricKind.COMPLEMENT_VOLUME:
        volume = max(total - volume, 0.0)
    return 100.0 * volume / total if m.output_unit is Unit.PERCENT else volume
