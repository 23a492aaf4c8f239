"""End caps of the between-plane shape model (:mod:`dosimetry.dvh._shape`): the inscribed-radius
profile of a cap (:func:`_cap`, described there under "End caps") and the width-trend caps.

A rounded cap of three or more contour planes is the extreme contour narrowed, along each of its
two principal axes, to the width that the trend of the last three planes gives beyond it: along
each axis the squared width w^2 and the centre of the contours' extent are quadratics in z
through the three planes (exact for every quadric's sections: w^2 of a sphere's, an ellipsoid's,
a lying cylinder's or an oblique spheroid's sections is quadratic in z, and so is the square of
a cone's width, linear in z), and the cap ends where the first of the two widths closes.

Why not the extrapolated signed-distance maps (what :mod:`dosimetry.dvh._shape` blends between
planes): a face of the solid across the planes (the flat ends of a cylinder lying across them,
the base of a lying cone) is a boundary line that every plane's contour shares, so every map is
0 along it and so is their extrapolation: the cap kept the full length of that line out to the
pole. Measured (benchmarks/dvh_true_solids.py): the 24 mm lying cylinder contoured every 3 mm
half a spacing off its centre came out 1.0 % over (its caps 48 mm^3 each over, of 7540), the
lying cone 2.4 % short (its caps closing 1.5 mm early, where the inscribed radii's trend closes,
and 15 mm^3 short each, of 2513). Narrowing the extreme contour along its principal axes keeps
the shared line where the solid keeps it and shortens it as the solid's width shrinks.
The width trend is used only where the extrapolated maps are still open near the pole (see
``OPEN_CAP_AT`` in :mod:`dosimetry.dvh._shape`): where they close (a sphere, a union of spheres)
they follow the sections better than a quadratic of their widths through ends that are not
quadrics (unions of two spheres: -0.81..0 % with the maps, -2.3..+0.7 % with the width trend).

Hand-written: the principal axes are the eigenvectors of the contour's second moments of area
(Green's theorem, as in :func:`dosimetry.dvh._shape_planar._scaled`), the trends
:func:`numpy.polyfit` quadratics, their roots :func:`numpy.roots`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dosimetry.dvh._shape_planar import second_moment_axes
from dosimetry.dvh.geometry import PlaneSection

FloatArray = npt.NDArray[np.float64]

#: The width along an axis must shrink out of the extreme plane by at least this fraction of it
#: (against the next plane in) for that axis to close the cap: a constant width (a tube's length)
#: must not close through the noise of polygon vertices.
SHRINKING = 0.01


@dataclass(frozen=True)
class _Cap:
    """An end cap: extent out of the extreme plane (mm) and m^2(s) as polynomial coefficients
    (highest power first, numpy order) of the outward distance s."""

    extent_mm: float
    m2_coefficients: FloatArray
    m0_mm: float
    rounded: bool


def _cap(outward_mm: list[float], inradius_mm: list[float], spacing_mm: float) -> _Cap:
    """Cap of a part end from its last planes (outward distances 0, -d1, -d2 and inscribed radii
    from the extreme plane inward); see "End caps" in :mod:`dosimetry.dvh._shape`."""
    m0 = inradius_mm[0]
    if not m0 > 0:  # no inside pixel: no trend to follow, a flat end half a spacing out
        return _Cap(0.5 * spacing_mm, np.array([0.0]), 0.0, False)
    s = np.array(outward_mm)
    m2 = np.array(inradius_mm) ** 2
    if s.size == 1:
        coefficients = np.array([-1.0, 0.0, m0 * m0])  # round: m^2 = m0^2 - s^2
    elif s.size == 2:  # round through both: m^2 = m0^2 + b s - s^2
        coefficients = np.array([-1.0, (m2[1] - m2[0] + s[1] ** 2) / s[1], m2[0]])
    else:
        coefficients = np.polyfit(s, m2, 2)
    roots = np.roots(coefficients) if coefficients.size > 1 else np.zeros(0)
    real = [float(r.real) for r in roots if abs(r.imag) < 1e-9 and r.real > 1e-9]
    closing = min(real) if real else math.inf
    if closing <= CLOSING_SLACK * spacing_mm:
        return _Cap(closing, coefficients, m0, True)
    return _Cap(0.5 * spacing_mm, coefficients, m0, False)


#: A cap whose profile closes within this many spacings is rounded (closed there): a pole lying
#: exactly on the next plane must not fall to a flat end through the noise of the inscribed radii
#: (a cylinder lying across 1 mm planes went from +0.2 % to -1.5 % when it did).
CLOSING_SLACK = 1.25


@dataclass(frozen=True)
class WidthTrend:
    """The trend of a part end's contour extent along its principal axes (columns of ``axes``),
    as quadratics in the outward distance s (numpy order, highest power first)."""

    axes: FloatArray
    centre0: FloatArray
    width0: FloatArray
    centre_coefficients: tuple[FloatArray, FloatArray]
    width2_coefficients: tuple[FloatArray, FloatArray]
    shrinks: tuple[bool, bool]
    closing_mm: float

    def section(self, end: PlaneSection, s_mm: float, z_mm: float) -> PlaneSection | None:
        """The extreme contour ``end`` narrowed along each axis to the trend's width at ``s_mm``
        and moved to its centre there (None where a width has closed)."""
        factors = []
        centres = []
        for a in range(2):
            w2 = float(np.polyval(self.width2_coefficients[a], s_mm)) if self.shrinks[a] else float(self.width0[a]) ** 2
            if not w2 > 0:
                return None
            factors.append(min(math.sqrt(w2) / float(self.width0[a]), 1.0))
            centres.append(float(np.polyval(self.centre_coefficients[a], s_mm)))
        (x, y), = end.polygons
        u = (x * self.axes[0, 0] + y * self.axes[1, 0] - self.centre0[0]) * factors[0] + centres[0]
        v = (x * self.axes[0, 1] + y * self.axes[1, 1] - self.centre0[1]) * factors[1] + centres[1]
        xs = u * self.axes[0, 0] + v * self.axes[0, 1]
        ys = u * self.axes[1, 0] + v * self.axes[1, 1]
        return PlaneSection(z_mm, ((xs, ys),), end.signs, end.area_mm2 * factors[0] * factors[1], end.orientations)


def _principal_axes(section: PlaneSection) -> FloatArray:
    """Unit principal axes (columns) of a single-polygon section's second moments of area."""
    (x, y), = section.polygons
    return second_moment_axes(x - float(x.mean()), y - float(y.mean()))  # about the vertices' mean


def width_trend(sections: list[PlaneSection], outward_mm: list[float], reach_mm: float) -> WidthTrend | None:
    """The width trend of a part end from its last three planes (``sections[0]`` the extreme one,
    ``outward_mm`` their outward distances from it: 0, -d1, -d2), or None when it does not apply:
    not three planes, a plane with more than one polygon or a hole, or no axis whose width
    shrinks out of the extreme plane and closes within ``reach_mm`` of it."""
    if len(sections) != 3 or any(len(s.polygons) != 1 or s.signs != (1,) for s in sections):
        return None
    if not all(float(np.ptp(s.polygons[0][0])) > 0 and float(np.ptp(s.polygons[0][1])) > 0 for s in sections):
        return None
    axes = _principal_axes(sections[0])
    lows, highs = [], []
    for s in sections:
        (x, y), = s.polygons
        projected = np.column_stack([x, y]) @ axes
        lows.append(projected.min(axis=0))
        highs.append(projected.max(axis=0))
    low, high = np.array(lows), np.array(highs)
    width, centre = high - low, 0.5 * (high + low)
    outward = np.array(outward_mm, dtype=np.float64)
    closing = math.inf
    width2_coefficients, centre_coefficients, shrinks = [], [], []
    for a in range(2):
        w2 = np.polyfit(outward, width[:, a] ** 2, 2)
        width2_coefficients.append(w2)
        centre_coefficients.append(np.polyfit(outward, centre[:, a], 2))
        shrinks.append(bool(width[0, a] < (1.0 - SHRINKING) * width[1, a]))
        if not shrinks[-1]:
            continue
        roots = [float(r.real) for r in np.roots(w2) if abs(r.imag) < 1e-9 and r.real > 1e-9]
        if roots:
            closing = min(closing, min(roots))
    if not closing <= reach_mm:
        return None
    return WidthTrend(
        axes, centre[0], width[0], (centre_coefficients[0], centre_coefficients[1]),
        (width2_coefficients[0], width2_coefficients[1]), (shrinks[0], shrinks[1]), closing,
    )
