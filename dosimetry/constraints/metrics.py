"""Constraints ``<TG-263 metric> <op> <number>`` on top of the DVH engine's metrics.

The metric grammar and its evaluation are those of :mod:`dosimetry.dvh.metrics` (so a metric gives
the same number in ``dosimetry dvh``, ``dosimetry check`` and ``dosimetry analyze``). This module
adds only what is specific to constraints:

* the aliases ``Dmax``, ``Dmin``, ``Dmean``, ``Dmedian`` for the DVH engine's ``Max``, ``Min``,
  ``Mean``, ``Median`` (``"Dmean[Gy]"`` is ``"Mean[Gy]"``); spaces inside a metric are ignored;
* the refusal of metrics relative to a prescription (``D95%[%]``, ``V95%[cc]``): the constraint
  checks have no prescription;
* the comparison: op one of ``<``, ``<=``, ``>``, ``>=``, e.g. ``"D0.03cc[Gy] < 54"``.
"""

from __future__ import annotations

import dataclasses
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

from dosimetry.dvh import GRAMMAR, Dvh, Metric, evaluate_metric
from dosimetry.dvh import parse_metric as parse_dvh_metric
from dosimetry.errors import ConstraintError, MetricError

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}

_NUMBER = r"(\d+(?:\.\d*)?|\.\d+)"
_ALIAS = re.compile(r"^D(max|min|mean|median)(\[.*)$", re.IGNORECASE)
_CONSTRAINT = re.compile(rf"^\s*(\S+)\s*(<=|>=|<|>)\s*([-+]?{_NUMBER})\s*$")


def parse_constraint_metric(text: str) -> Metric:
    """Parse one TG-263 metric with the DVH engine's grammar (plus the ``Dmax``-style aliases).

    The returned :class:`dosimetry.dvh.Metric` keeps ``text`` as written. Raises ConstraintError
    naming what was expected.
    """
    if not isinstance(text, str):
        raise ConstraintError(f"metric {text!r} is not a string; expected {GRAMMAR}")
    compact = text.strip().replace(" ", "")
    canonical = _ALIAS.sub(lambda m: m.group(1).capitalize() + m.group(2), compact)
    try:
        metric = parse_dvh_metric(canonical)
    except MetricError as exc:
        raise ConstraintError(
            f"unsupported or malformed DVH metric {text!r}; expected {GRAMMAR}; 'Dmax', 'Dmin', 'Dmean' are "
            "accepted for Max, Min, Mean"
        ) from exc
    if metric.needs_prescription:
        raise ConstraintError(
            f"metric {text!r} is relative to the prescription dose; constraint checks have none: give the dose in Gy"
        )
    return dataclasses.replace(metric, text=text)


@dataclass(frozen=True)
class Constraint:
    text: str
    metric: Metric
    op: str
    limit: float

    @property
    def unit(self) -> str:
        """Unit of the metric's value and of the limit ("Gy", "cGy", "%" or "cc")."""
        return self.metric.output_unit.value

    def evaluate(self, dvh: Dvh) -> float:
        """The metric's value on ``dvh`` (DVH engine); MetricError when the curve has no value."""
        return evaluate_metric(dvh, self.metric)

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
    return Constraint(text=text.strip(), metric=parse_constraint_metric(match.group(1)), op=match.group(2), limit=float(match.group(3)))
