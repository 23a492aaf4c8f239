"""TG-263 DVH-metric syntax for constraints, evaluated on :class:`DoseSamples`.

Supported metrics (AAPM TG-263 nomenclature; output unit in brackets):

* ``D<x>%[Gy]``, ``D<x>cc[Gy]`` - minimum dose to the hottest x % / x cc (see
  :mod:`dosimetry.constraints.samples`); ``[cGy]`` also accepted;
* ``Dmax[Gy]``/``Max[Gy]``, ``Dmin[Gy]``/``Min[Gy]``, ``Dmean[Gy]``/``Mean[Gy]``;
* ``V<d>Gy[%]``, ``V<d>Gy[cc]`` (``V<d>cGy[...]`` also) - volume receiving at least d.

A constraint is ``<metric> <op> <number>`` with op one of ``<``, ``<=``, ``>``, ``>=``, e.g.
``"D0.03cc[Gy] < 54"``. Metrics relative to a prescription (``D95%[%]``) are refused: the
constraint checks have no prescription.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from dosimetry.constraints.samples import DoseSamples
from dosimetry.errors import ConstraintError


class MetricKind(StrEnum):
    DOSE_AT_PERCENT = "dose_at_percent"
    DOSE_AT_CC = "dose_at_cc"
    DOSE_MAX = "dose_max"
    DOSE_MIN = "dose_min"
    DOSE_MEAN = "dose_mean"
    VOLUME_PERCENT = "volume_percent"
    VOLUME_CC = "volume_cc"


_DOSE_UNITS = {"gy": 1.0, "cgy": 0.01}
_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}

_NUMBER = r"(\d+(?:\.\d*)?|\.\d+)"
_D_AT = re.compile(rf"^D{_NUMBER}(%|cc)\[(c?Gy)\]$", re.IGNORECASE)
_D_STAT = re.compile(r"^D?(max|min|mean)\[(c?Gy)\]$", re.IGNORECASE)
_V_AT = re.compile(rf"^V{_NUMBER}(c?Gy)\[(%|cc)\]$", re.IGNORECASE)
_CONSTRAINT = re.compile(rf"^\s*(\S+)\s*(<=|>=|<|>)\s*([-+]?{_NUMBER})\s*$")


@dataclass(frozen=True)
class Metric:
    text: str
    kind: MetricKind
    parameter: float | None  # x of Dx%/Dxcc (percent or cc), d of VdGy (Gy); None for max/min/mean
    output_unit: str  # "Gy", "cGy", "%" or "cc"

    def evaluate(self, samples: DoseSamples) -> float:
        """Value of the metric in ``output_unit``."""
        scale = 100.0 if self.output_unit == "cGy" else 1.0
        if self.kind is MetricKind.DOSE_AT_PERCENT:
            assert self.parameter is not None
            return scale * samples.dose_to_fraction(self.parameter / 100.0)
        if self.kind is MetricKind.DOSE_AT_CC:
            assert self.parameter is not None
            return scale * samples.dose_to_volume_cc(self.parameter)
        if self.kind is MetricKind.DOSE_MAX:
            return scale * samples.max_gy
        if self.kind is MetricKind.DOSE_MIN:
            return scale * samples.min_gy
        if self.kind is MetricKind.DOSE_MEAN:
            return scale * samples.mean_gy
        assert self.parameter is not None
        volume = samples.volume_at_least_cc(self.parameter)
        if self.kind is MetricKind.VOLUME_PERCENT:
            return 100.0 * volume / samples.total_volume_cc
        return volume


def parse_metric(text: str) -> Metric:
    """Parse one TG-263 metric; raises ConstraintError naming what was expected."""
    compact = text.strip().replace(" ", "")
    if match := _D_AT.match(compact):
        value, kind, unit = float(match.group(1)), match.group(2).lower(), match.group(3)
        unit = "cGy" if unit.lower() == "cgy" else "Gy"
        if kind == "%":
            if not 0 < value <= 100:
                raise ConstraintError(f"metric {text!r}: the percentage must be in (0, 100]")
            return Metric(text, MetricKind.DOSE_AT_PERCENT, value, unit)
        if not value > 0:
            raise ConstraintError(f"metric {text!r}: the volume must be positive")
        return Metric(text, MetricKind.DOSE_AT_CC, value, unit)
    if match := _D_STAT.match(compact):
        kind = {"max": MetricKind.DOSE_MAX, "min": MetricKind.DOSE_MIN, "mean": MetricKind.DOSE_MEAN}[match.group(1).lower()]
        unit = "cGy" if match.group(2).lower() == "cgy" else "Gy"
        return Metric(text, kind, None, unit)
    if match := _V_AT.match(compact):
        dose = float(match.group(1)) * _DOSE_UNITS[match.group(2).lower()]
        kind = MetricKind.VOLUME_PERCENT if match.group(3) == "%" else MetricKind.VOLUME_CC
        return Metric(text, kind, dose, "%" if kind is MetricKind.VOLUME_PERCENT else "cc")
    raise ConstraintError(
        f"unsupported or malformed DVH metric {text!r}; expected TG-263 syntax such as "
        "'D0.03cc[Gy]', 'D95%[Gy]', 'Dmean[Gy]', 'Dmax[Gy]', 'V20Gy[%]' or 'V20Gy[cc]'"
    )


@dataclass(frozen=True)
class Constraint:
    text: str
    metric: Metric
    op: str
    limit: float

    def holds(self, value: float) -> bool:
        return _OPS[self.op](value, self.limit)

    def margin(self, value: float) -> float:
        """Distance to the limit in the metric's unit, positive when the constraint holds."""
        return self.limit - value if self.op in ("<", "<=") else value - self.limit


def parse_constraint(text: str) -> Constraint:
    """Parse ``"<metric> <op> <number>"``, e.g. ``"D0.03cc[Gy] < 54"``."""
    if not isinstance(text, str):
        raise ConstraintError(f"a constraint must be a string like 'D0.03cc[Gy] < 54', got {text!r}")
    match = _CONSTRAINT.match(text)
    if not match:
        raise ConstraintError(
            f"malformed constraint {text!r}; expected '<TG-263 metric> <op> <number>' with op one of <, <=, >, >=, "
            "e.g. 'D0.03cc[Gy] < 54'"
        )
    return Constraint(text=text.strip(), metric=parse_metric(match.group(1)), op=match.group(2), limit=float(match.group(3)))
