"""Closed-form phantoms for the index tests: spherical targets in spherically symmetric dose.

Dose ``D(r) = Dmax`` for ``r <= a``, falling linearly to 0 at ``r = b`` (and 0 beyond), centred at
``centre_mm``. The isodose surface at level ``L < Dmax`` is the sphere of radius
``r(L) = b - (b - a) L / Dmax``, so every isodose volume is ``4/3 pi r(L)^3`` (clipped by nothing:
the grids used contain the whole falloff) and the overlap of a target sphere with an isodose sphere
whose centre is shifted by ``d`` is the closed-form lens volume.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dosimetry.dose import DoseGrid, DoseSummationType, DoseType
from dosimetry.grid import RectilinearGrid
from dosimetry.structures import Contour, ContourGeometricType, Roi

FloatArray = npt.NDArray[np.float64]


def sphere_cc(radius_mm: float) -> float:
    return 4.0 / 3.0 * math.pi * radius_mm**3 / 1000.0


def lens_cc(radius_a_mm: float, radius_b_mm: float, distance_mm: float) -> float:
    """Volume common to two spheres (radii R, r, centres ``distance_mm`` apart), cc."""
    big, small, d = max(radius_a_mm, radius_b_mm), min(radius_a_mm, radius_b_mm), distance_mm
    if d >= big + small:
        return 0.0
    if d <= big - small:
        return sphere_cc(small)
    volume = (
        math.pi
        * (big + small - d) ** 2
        * (d * d + 2 * d * small - 3 * small * small + 2 * d * big + 6 * small * big - 3 * big * big)
        / (12.0 * d)
    )
    return volume / 1000.0


@dataclass(frozen=True)
class RadialFalloff:
    dmax_gy: float
    plateau_mm: float  # a
    zero_mm: float  # b
    centre_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def dose_at(self, x: FloatArray, y: FloatArray, z: FloatArray) -> FloatArray:
        cx, cy, cz = self.centre_mm
        r = np.sqrt((x - cx) ** 2 + (y - cy) ** 2 + (z - cz) ** 2)
        ramp = self.dmax_gy * (self.zero_mm - r) / (self.zero_mm - self.plateau_mm)
        return np.clip(ramp, 0.0, self.dmax_gy)

    def radius_mm(self, level_gy: float) -> float:
        """Radius of the isodose sphere at ``level_gy`` (0 < level < Dmax)."""
        return self.zero_mm - (self.zero_mm - self.plateau_mm) * level_gy / self.dmax_gy

    def dose_at_radius(self, r_mm: float) -> float:
        if r_mm <= self.plateau_mm:
            return self.dmax_gy
        return max(0.0, self.dmax_gy * (self.zero_mm - r_mm) / (self.zero_mm - self.plateau_mm))


def dose_grid(falloff: RadialFalloff, *, half_width_mm: float, spacing_mm: float, offset_mm: float = 0.13) -> DoseGrid:
    """A cubic grid around the origin (voxel centres offset so that nothing aligns by luck)."""
    n = int(round(2 * half_width_mm / spacing_mm)) + 1
    origin = -half_width_mm + offset_mm
    grid = RectilinearGrid.uniform((origin, origin - 0.07, origin + 0.05), (spacing_mm,) * 3, (n, n, n))
    z, y, x = np.meshgrid(grid.z_mm, grid.y_mm, grid.x_mm, indexing="ij")
    return DoseGrid(
        grid=grid,
        dose_gy=falloff.dose_at(x, y, z),
        dose_type=DoseType.PHYSICAL,
        summation_type=DoseSummationType.PLAN,
        frame_of_reference_uid="1.2.3",
        description="radial falloff phantom",
    )


def lattice_sphere_samples(
    falloff: RadialFalloff, radius_mm: float, centre_mm: tuple[float, float, float] = (0.0, 0.0, 0.0),
    step_mm: float = 0.25,
) -> tuple[FloatArray, FloatArray]:
    """Dose samples of a sphere on a fine regular lattice, independent of the DVH engine."""
    axis = np.arange(-radius_mm, radius_mm + step_mm, step_mm) + step_mm * 0.37
    z, y, x = np.meshgrid(axis, axis, axis, indexing="ij")
    inside = x**2 + y**2 + z**2 <= radius_mm**2
    cx, cy, cz = centre_mm
    dose = falloff.dose_at(x[inside] + cx, y[inside] + cy, z[inside] + cz)
    return dose, np.full(dose.size, step_mm**3 / 1000.0)


def sphere_roi(
    name: str, radius_mm: float, *, centre_mm: tuple[float, float, float] = (0.0, 0.0, 0.0),
    plane_spacing_mm: float = 1.0, vertices: int = 128, interpreted_type: str = "CTV", number: int = 1,
) -> Roi:
    """A sphere as closed planar polygons every ``plane_spacing_mm`` (planes at the slab centres,
    so a half-slab end-cap convention gives the midpoint-rule volume ~ 4/3 pi R^3)."""
    cx, cy, cz = centre_mm
    count = int(math.floor(radius_mm / plane_spacing_mm))
    contours = []
    angles = np.linspace(0.0, 2.0 * math.pi, vertices, endpoint=False)
    for k in range(-count, count):
        z = (k + 0.5) * plane_spacing_mm
        rho2 = radius_mm**2 - z**2
        if rho2 <= 0:
            continue
        # polygon of equal area to the circle (inscribed polygon scaled up)
        rho = math.sqrt(rho2) * math.sqrt(2 * math.pi / (vertices * math.sin(2 * math.pi / vertices)))
        points = np.column_stack([cx + rho * np.cos(angles), cy + rho * np.sin(angles), np.full(vertices, cz + z)])
        contours.append(Contour(points, ContourGeometricType.CLOSED_PLANAR))
    return Roi(number=number, name=name, interpreted_type=interpreted_type, contours=tuple(contours))


def box_roi(name: str, half_width_mm: float, *, plane_spacing_mm: float = 1.0, number: int = 99) -> Roi:
    """An axis-aligned cube (EXTERNAL) from -half_width to +half_width."""
    contours = []
    h = half_width_mm
    for z in np.arange(-h + plane_spacing_mm / 2, h, plane_spacing_mm):
        points = np.array([[-h, -h, z], [h, -h, z], [h, h, z], [-h, h, z]])
        contours.append(Contour(points, ContourGeometricType.CLOSED_PLANAR))
    return Roi(number=number, name=name, interpreted_type="EXTERNAL", contours=tuple(contours))


def stacked_sphere_in_isodose_cc(target_radius_mm: float, isodose_radius_mm: float, plane_spacing_mm: float = 1.0) -> float:
    """Volume of a :func:`sphere_roi` target (a stack of cylinders: each contour stands for a slab
    one plane spacing thick, half-slab end caps) lying inside a concentric isodose sphere, cc.

    Where the isodose surface coincides with the target sphere, the smooth-sphere oracle is wrong
    by the parts of the cylinders that stick out of the sphere (1.8 % of a 10 mm sphere at 1 mm
    planes). Per slab: pi * integral of min(rho_k^2, max(0, r^2 - z^2)) dz, by 4000-point
    midpoint quadrature (the integrand is piecewise quadratic; error < 1e-7 relative).
    """
    count = int(math.floor(target_radius_mm / plane_spacing_mm))
    total = 0.0
    for k in range(-count, count):
        z_plane = (k + 0.5) * plane_spacing_mm
        rho2 = target_radius_mm**2 - z_plane**2
        if rho2 <= 0:
            continue
        z = z_plane + plane_spacing_mm * ((np.arange(4000) + 0.5) / 4000 - 0.5)
        section = np.minimum(rho2, np.clip(isodose_radius_mm**2 - z**2, 0.0, None))
        total += math.pi * float(section.mean()) * plane_spacing_mm
    return total / 1000.0
