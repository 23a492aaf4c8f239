"""Analytic DVH phantoms in the style of Nelms et al. (Med Phys 2015) with exact oracles.

A phantom is a solid (sphere, cylinder or cone; cylinder and cone either axial, with the axis
along z, or rotated, with the axis along y) contoured on axial planes at a given spacing, placed
in a linear dose gradient along y (AP) or z (SI). The oracle is the DVH of the *stacked-slab solid
the contours describe* under the half-slab end-cap convention (each plane stands for a slab one
spacing thick), computed in closed form from the smooth cross-sections (circles, rectangles and
conic sections), independently of the DVH engine:

* gradient along y: V(>= D) = sum over planes of thickness x (area of the section with y >= y(D));
* gradient along z: V(>= D) = sum over planes of area x (length of the slab with z >= z(D)).

Contour polygons are fine (1 degree for circles, with the radius scaled so that the polygon has the
circle's area; about 0.1 mm point spacing for conic sections), so they describe the same solid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt
from scipy import integrate, optimize

from dosimetry.dose import DoseGrid, DoseSummationType, DoseType
from dosimetry.errors import ArgumentError
from dosimetry.grid import RectilinearGrid
from dosimetry.structures import Contour, ContourGeometricType, Roi

FloatArray = npt.NDArray[np.float64]

CIRCLE_POINTS = 360


class Shape(StrEnum):
    SPHERE = "sphere"
    CYLINDER = "cylinder"
    CONE = "cone"
    CYLINDER_ROTATED = "cylinder-rotated"
    CONE_ROTATED = "cone-rotated"


class GradientAxis(StrEnum):
    Y = "y"  # anterior-posterior
    Z = "z"  # superior-inferior


# --- cross-sections -------------------------------------------------------------------------


@dataclass(frozen=True)
class Circle:
    xc: float
    yc: float
    r: float

    def area(self) -> float:
        return math.pi * self.r**2

    def y_range(self) -> tuple[float, float]:
        return self.yc - self.r, self.yc + self.r

    def area_above(self, y: float) -> float:
        h = min(max((y - self.yc) / self.r, -1.0), 1.0)
        return self.r**2 * (math.acos(h) - h * math.sqrt(1.0 - h * h))

    def moment_y(self) -> float:
        return self.area() * self.yc

    def polygon(self) -> tuple[FloatArray, FloatArray]:
        n = CIRCLE_POINTS
        theta = 2 * np.pi * np.arange(n) / n
        rr = self.r * math.sqrt(2 * math.pi / (n * math.sin(2 * math.pi / n)))
        return self.xc + rr * np.cos(theta), self.yc + rr * np.sin(theta)


@dataclass(frozen=True)
class Rectangle:
    x0: float
    x1: float
    y0: float
    y1: float

    def area(self) -> float:
        return (self.x1 - self.x0) * (self.y1 - self.y0)

    def y_range(self) -> tuple[float, float]:
        return self.y0, self.y1

    def area_above(self, y: float) -> float:
        return (self.x1 - self.x0) * min(max(self.y1 - y, 0.0), self.y1 - self.y0)

    def moment_y(self) -> float:
        return self.area() * 0.5 * (self.y0 + self.y1)

    def polygon(self) -> tuple[FloatArray, FloatArray]:
        """Corners joined by points about every 0.2 mm."""
        corners = [(self.x0, self.y0), (self.x1, self.y0), (self.x1, self.y1), (self.x0, self.y1)]
        xs, ys = [], []
        for (ax, ay), (bx, by) in zip(corners, corners[1:] + corners[:1], strict=True):
            m = max(int(math.ceil(math.hypot(bx - ax, by - ay) / 0.2)), 1)
            f = np.arange(m) / m
            xs.append(ax + (bx - ax) * f)
            ys.append(ay + (by - ay) * f)
        return np.concatenate(xs), np.concatenate(ys)


@dataclass(frozen=True)
class ConeSection:
    """Axial section of a cone with its axis along +y: radius R(y) = r0 (1 - (y - y0) / h) for
    y in [y0, y0 + h], cut at distance ``a`` from the axis: |x - xc| <= sqrt(R(y)^2 - a^2)."""

    xc: float
    y0: float
    r0: float
    h: float
    a: float

    def radius(self, y: float) -> float:
        return self.r0 * (1.0 - (y - self.y0) / self.h)

    def y_range(self) -> tuple[float, float]:
        return self.y0, self.y0 + self.h * (1.0 - self.a / self.r0)

    def _f(self, u: float) -> float:
        a = self.a
        root = math.sqrt(max(u * u - a * a, 0.0))
        log_term = 0.0 if a == 0 else a * a * math.log((u + root) / a)
        return u * root - log_term

    def area_above(self, y: float) -> float:
        lo, hi = self.y_range()
        y = min(max(y, lo), hi)
        return (self.h / self.r0) * (self._f(self.radius(y)) - self._f(self.a))

    def area(self) -> float:
        return self.area_above(self.y0)

    def moment_y(self) -> float:
        lo, hi = self.y_range()
        # integral of y c(y) dy = lo*A + integral_lo^hi A_above(y) dy
        tail, _ = integrate.quad(self.area_above, lo, hi, epsabs=1e-12, epsrel=1e-12, limit=200)
        return lo * self.area() + tail

    def polygon(self) -> tuple[FloatArray, FloatArray]:
        lo, hi = self.y_range()
        m = max(int(math.ceil((hi - lo) / 0.1)), 50)
        q = np.linspace(0.0, 1.0, m + 1)
        y = hi - (hi - lo) * q**2  # denser near the tip where the boundary turns
        r = self.r0 * (1.0 - (y - self.y0) / self.h)
        half = np.sqrt(np.clip(r * r - self.a * self.a, 0.0, None))
        right_x = self.xc + half[::-1]
        right_y = y[::-1]
        left_x = self.xc - half[1:]
        left_y = y[1:]
        return np.concatenate([right_x, left_x]), np.concatenate([right_y, left_y])


Section = Circle | Rectangle | ConeSection


# --- phantom --------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Phantom:
    """A contoured solid with its slab sections (half-slab end caps) and a linear dose field."""

    shape: Shape
    contour_spacing_mm: float
    planes_mm: FloatArray
    sections: tuple[Section, ...]
    slab_lower_mm: FloatArray
    slab_upper_mm: FloatArray
    centre_mm: tuple[float, float, float]
    gradient_axis: GradientAxis
    gradient_gy_per_mm: float
    dose_at_centre_gy: float

    def roi(self, number: int = 1) -> Roi:
        contours = []
        for z, section in zip(self.planes_mm, self.sections, strict=True):
            x, y = section.polygon()
            contours.append(Contour(np.column_stack([x, y, np.full(x.size, z)]), ContourGeometricType.CLOSED_PLANAR))
        return Roi(number, self.shape.value, "ORGAN", tuple(contours))

    def dose_at(self, x: FloatArray, y: FloatArray, z: FloatArray) -> FloatArray:
        coord = y - self.centre_mm[1] if self.gradient_axis is GradientAxis.Y else z - self.centre_mm[2]
        return self.dose_at_centre_gy + self.gradient_gy_per_mm * coord + 0.0 * x

    def dose_grid(self, spacing_mm: float, *, shift_fraction: float = 0.0, margin_voxels: int = 3) -> DoseGrid:
        """Dose on a grid of ``spacing_mm`` voxels whose centres sit at centre + (k + shift) spacing."""
        xs = [s.polygon()[0] for s in self.sections]
        ys = [s.polygon()[1] for s in self.sections]
        lo = np.array([min(a.min() for a in xs), min(a.min() for a in ys), self.slab_lower_mm.min()])
        hi = np.array([max(a.max() for a in xs), max(a.max() for a in ys), self.slab_upper_mm.max()])
        c = np.array(self.centre_mm)
        k_lo = np.floor((lo - c) / spacing_mm - shift_fraction) - margin_voxels
        k_hi = np.ceil((hi - c) / spacing_mm - shift_fraction) + margin_voxels
        axes = [c[i] + (np.arange(k_lo[i], k_hi[i] + 1) + shift_fraction) * spacing_mm for i in range(3)]
        grid = RectilinearGrid(axes[0], axes[1], axes[2])
        z, y, x = np.meshgrid(grid.z_mm, grid.y_mm, grid.x_mm, indexing="ij")
        return DoseGrid(
            grid=grid,
            dose_gy=self.dose_at(x, y, z),
            dose_type=DoseType.PHYSICAL,
            summation_type=DoseSummationType.PLAN,
            frame_of_reference_uid="1.2.826.0.1.3680043.10.1234.1",
            description=f"linear gradient {self.gradient_gy_per_mm} Gy/mm along {self.gradient_axis.value}",
        )

    # --- oracle ---------------------------------------------------------------------------
    @property
    def thickness_mm(self) -> FloatArray:
        return self.slab_upper_mm - self.slab_lower_mm

    def volume_cc(self) -> float:
        return float(sum(s.area() * t for s, t in zip(self.sections, self.thickness_mm, strict=True)) / 1000.0)

    def dose_range_gy(self) -> tuple[float, float]:
        if self.gradient_axis is GradientAxis.Y:
            lo = min(s.y_range()[0] for s in self.sections)
            hi = max(s.y_range()[1] for s in self.sections)
            c = self.centre_mm[1]
        else:
            lo, hi, c = float(self.slab_lower_mm.min()), float(self.slab_upper_mm.max()), self.centre_mm[2]
        g = self.gradient_gy_per_mm
        a, b = self.dose_at_centre_gy + g * (lo - c), self.dose_at_centre_gy + g * (hi - c)
        return (min(a, b), max(a, b))

    def volume_at_or_above_cc(self, dose_gy: float) -> float:
        g = self.gradient_gy_per_mm
        if g <= 0:
            raise ArgumentError("the oracle assumes a positive gradient")
        if self.gradient_axis is GradientAxis.Y:
            y_star = self.centre_mm[1] + (dose_gy - self.dose_at_centre_gy) / g
            return float(sum(s.area_above(y_star) * t for s, t in zip(self.sections, self.thickness_mm, strict=True)) / 1000.0)
        z_star = self.centre_mm[2] + (dose_gy - self.dose_at_centre_gy) / g
        length = np.clip(self.slab_upper_mm - np.maximum(self.slab_lower_mm, z_star), 0.0, self.thickness_mm)
        return float(sum(s.area() * ell for s, ell in zip(self.sections, length, strict=True)) / 1000.0)

    def mean_gy(self) -> float:
        g = self.gradient_gy_per_mm
        total = self.volume_cc() * 1000.0
        if self.gradient_axis is GradientAxis.Y:
            moment = sum((s.moment_y() - self.centre_mm[1] * s.area()) * t for s, t in zip(self.sections, self.thickness_mm, strict=True))
        else:
            mid = 0.5 * (self.slab_lower_mm + self.slab_upper_mm) - self.centre_mm[2]
            moment = sum(s.area() * t * m for s, t, m in zip(self.sections, self.thickness_mm, mid, strict=True))
        return self.dose_at_centre_gy + g * moment / total

    def dose_at_volume_percent(self, percent: float) -> float:
        target = percent / 100.0 * self.volume_cc()
        lo, hi = self.dose_range_gy()
        if percent >= 100:
            return lo
        if percent <= 0:
            return hi
        return float(optimize.brentq(lambda d: self.volume_at_or_above_cc(d) - target, lo, hi, xtol=1e-10, rtol=1e-14))


def make_phantom(
    shape: Shape | str,
    contour_spacing_mm: float,
    *,
    gradient_axis: GradientAxis | str = GradientAxis.Y,
    gradient_gy_per_mm: float = 1.0,
    centre_mm: tuple[float, float, float] = (0.0, 0.0, 0.0),
    plane_offset_fraction: float = 0.0,
    sphere_radius_mm: float = 12.0,
    radius_mm: float = 10.0,
    length_mm: float = 24.0,
    dose_at_centre_gy: float = 40.0,
) -> Phantom:
    """A phantom of ``shape`` contoured every ``contour_spacing_mm`` on planes at
    centre_z + (k + plane_offset_fraction) x spacing; the cylinder and cone are ``length_mm`` long
    and ``radius_mm`` wide (cone base at the low end), centred on ``centre_mm``."""
    shape = Shape(shape)
    axis = GradientAxis(gradient_axis)
    xc, yc, zc = centre_mm
    s = contour_spacing_mm
    half = 0.5 * length_mm
    if shape is Shape.SPHERE:
        extent = (zc - sphere_radius_mm, zc + sphere_radius_mm)
    elif shape in (Shape.CYLINDER, Shape.CONE):
        extent = (zc - half, zc + half)
    else:
        extent = (zc - radius_mm, zc + radius_mm)
    k = np.arange(math.floor((extent[0] - zc) / s) - 1, math.ceil((extent[1] - zc) / s) + 2)
    planes = zc + (k + plane_offset_fraction) * s
    sections: list[Section] = []
    kept = []
    for z in planes:
        dz = z - zc
        section: Section | None = None
        if shape is Shape.SPHERE and abs(dz) < sphere_radius_mm:
            section = Circle(xc, yc, math.sqrt(sphere_radius_mm**2 - dz * dz))
        elif shape is Shape.CYLINDER and -half <= dz <= half:
            section = Circle(xc, yc, radius_mm)
        elif shape is Shape.CONE and -half <= dz < half:
            section = Circle(xc, yc, radius_mm * (1.0 - (dz + half) / length_mm))
        elif shape is Shape.CYLINDER_ROTATED and abs(dz) < radius_mm:
            w = math.sqrt(radius_mm**2 - dz * dz)
            section = Rectangle(xc - w, xc + w, yc - half, yc + half)
        elif shape is Shape.CONE_ROTATED and abs(dz) < radius_mm:
            section = ConeSection(xc, yc - half, radius_mm, length_mm, abs(dz))
        if section is not None and section.area() > 1e-6:
            sections.append(section)
            kept.append(z)
    planes_kept = np.array(kept)
    return Phantom(
        shape=shape,
        contour_spacing_mm=s,
        planes_mm=planes_kept,
        sections=tuple(sections),
        slab_lower_mm=planes_kept - 0.5 * s,
        slab_upper_mm=planes_kept + 0.5 * s,
        centre_mm=centre_mm,
        gradient_axis=axis,
        gradient_gy_per_mm=gradient_gy_per_mm,
        dose_at_centre_gy=dose_at_centre_gy,
    )
