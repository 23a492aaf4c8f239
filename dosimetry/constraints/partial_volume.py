"""Pass/fail rule over Emami's partial-volume tolerance points (Kutcher-Burman effective volume).

Rule (documented, tested):

1. Reduce the organ's dose distribution to an effective volume irradiated uniformly to its
   maximum dose (Kutcher and Burman 1989): ``v_eff = sum_i v_i (D_i / D_max)^(1/n)``, v_i the
   fractional volumes, n Burman's volume parameter for the organ and endpoint.
2. Place v_eff on the entry's partial-volume axis: for a volume-fraction axis it is v_eff itself;
   for the spinal cord (length axis) it is ``v_eff * L`` with L the organ length in cm; for skin
   (area axis) ``v_eff * A`` with A the irradiated-skin area in cm^2. Without L or A the entry is
   NOT_EVALUABLE.
3. The tolerance at that point, TD5(x), is interpolated piecewise linearly in log(dose) versus
   log(x) between the points the paper gives (1/3, 2/3, 3/3 or the length/area points). Below the
   smallest given point it is held at the smallest point's value (tolerance never decreases for
   smaller volumes, so this is conservative); above the largest given point the table says nothing
   and the entry is NOT_EVALUABLE (for volume fractions the largest point is usually 3/3 = 1).
4. PASS when D_max <= TD5(x), FAIL otherwise; the margin is TD5(x) - D_max (Gy).

For an entry with a single point (e.g. optic chiasm 3/3 = 50 Gy) this reduces to D_max <= TD5.
The maximum dose is the hottest sample (voxel, or for DVH bins the DVH's exact maximum, see
:meth:`OrganDoseBins.from_dvh`), the reference dose of the Kutcher-Burman reduction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from dosimetry.constraints.samples import OrganDoseBins
from dosimetry.constraints.tables import ToleranceEntry, VolumeAxis
from dosimetry.errors import ConstraintError

RULE_NAME = "kutcher-burman-veff-loglog"
RULE_DESCRIPTION = (
    "Kutcher-Burman effective volume v_eff = sum v_i (D_i/D_max)^(1/n) (Burman n); TD5/5 at v_eff by "
    "piecewise log-log interpolation over the Emami partial-volume points (held at the smallest "
    "point below it, not evaluable above the largest); PASS if D_max <= TD5/5(v_eff)"
)


class Status(StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    NOT_EVALUABLE = "NOT_EVALUABLE"


def effective_volume(samples: OrganDoseBins, n: float) -> float:
    """Kutcher-Burman effective volume (fraction of the organ) at the maximum dose."""
    if not (math.isfinite(n) and n > 0):
        raise ConstraintError(f"effective volume parameter n must be positive, got {n}")
    d_max = samples.max_gy
    if d_max == 0.0:
        return 1.0  # uniform 0 Gy: the whole organ at its (zero) maximum
    with np.errstate(under="ignore"):
        return float(np.sum(samples.fractional_volume * np.power(samples.dose_gy / d_max, 1.0 / n)))


def interpolate_tolerance(points: tuple[tuple[float, float], ...], x: float) -> float:
    """TD at axis value ``x`` by piecewise log-log interpolation over ``points`` (see module doc).

    Raises ConstraintError when ``x`` lies above the largest point (no extrapolation).
    """
    if not points:
        raise ConstraintError("no tolerance points to interpolate")
    if not x > 0:
        raise ConstraintError(f"partial-volume axis value must be positive, got {x}")
    xs = [p for p, _ in points]
    for point, value in points:  # on a tabulated point (up to summation round-off): its value exactly
        if abs(x - point) <= 1e-9 * point:
            return value
    if x <= xs[0]:
        return points[0][1]
    if x > xs[-1] * (1 + 1e-9):
        raise ConstraintError(f"axis value {x:.4g} lies beyond the largest tabulated point {xs[-1]:g}")
    for (x0, d0), (x1, d1) in zip(points, points[1:]):
        if x <= x1:
            t = (math.log(x) - math.log(x0)) / (math.log(x1) - math.log(x0))
            return math.exp(math.log(d0) + t * (math.log(d1) - math.log(d0)))
    return points[-1][1]


@dataclass(frozen=True)
class ToleranceDecision:
    status: Status
    reason: str
    max_dose_gy: float
    effective_volume: float  # fraction of the organ
    axis_value: float | None  # v_eff on the entry's axis (fraction, cm or cm^2); None when unknown
    limit_gy: float | None  # TD5/5 at axis_value; None when not evaluable
    margin_gy: float | None  # limit - D_max; None when not evaluable


def decide(
    samples: OrganDoseBins,
    entry: ToleranceEntry,
    n: float,
    *,
    length_cm: float | None = None,
    area_cm2: float | None = None,
) -> ToleranceDecision:
    """Apply the rule of this module to one Emami entry."""
    v_eff = effective_volume(samples, n)
    d_max = samples.max_gy
    if entry.axis is VolumeAxis.VOLUME_FRACTION:
        x: float | None = v_eff
    elif entry.axis is VolumeAxis.LENGTH_CM:
        x = None if length_cm is None else v_eff * length_cm
        missing = "the organ length (cm) is unknown; Emami's spinal-cord tolerances are per irradiated length"
    else:
        x = None if area_cm2 is None else v_eff * area_cm2
        missing = "the irradiated skin area (cm^2) is unknown; Emami's skin tolerances are per irradiated area"
    if x is None:
        return ToleranceDecision(Status.NOT_EVALUABLE, missing, d_max, v_eff, None, None, None)
    points = entry.td5_points()
    if x > points[-1][0] * (1 + 1e-9):
        unit = {VolumeAxis.VOLUME_FRACTION: "", VolumeAxis.LENGTH_CM: " cm", VolumeAxis.AREA_CM2: " cm^2"}[entry.axis]
        return ToleranceDecision(
            Status.NOT_EVALUABLE,
            f"effective {entry.axis.value} {x:.3g}{unit} exceeds the largest point with a TD5/5 in the table "
            f"({points[-1][0]:.3g}{unit})",
            d_max,
            v_eff,
            x,
            None,
            None,
        )
    limit = interpolate_tolerance(points, x)
    margin = limit - d_max
    status = Status.PASS if margin >= 0 else Status.FAIL
    reason = f"D_max {d_max:.2f} Gy {'<=' if margin >= 0 else '>'} TD5/5 {limit:.2f} Gy at effective {entry.axis.value} {x:.3g}"
    return ToleranceDecision(status, reason, d_max, v_eff, x, limit, margin)
