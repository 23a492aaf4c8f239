"""A generated pair of CT volumes related by a known smooth deformation (for registration tests and benchmarks).

The current CT is an analytic head-like phantom ``f(p)`` (LPS mm): water-like ellipsoid (40 HU) in
air (-1000 HU), a 6 mm bone shell (700 HU), two fat regions (-100 HU), a soft-tissue and a
bone insert, and a lattice of small inserts every 16 mm (texture, as sinuses and bones give a
head CT); edges are smooth (logistic, 1.5 mm) so the images are differentiable. The prior CT
is the same anatomy seen through the known mapping ``phi`` from current to prior points::

    phi(p) = p + t + A exp(-|p - c|^2 / (2 s^2)) d            (a translation and one smooth bump)

so the prior voxel at ``q`` holds ``f(phi^-1(q))`` (the inverse found by fixed-point iteration,
converging because |grad(bump)| <= A / (s sqrt(e)) < 1). A registration of the prior CT to the
current CT should recover ``phi``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dosimetry.grid import RectilinearGrid

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class KnownDeformation:
    """``phi(p) = p + translation + amplitude exp(-|p - centre|^2 / (2 sigma^2)) direction`` (mm)."""

    translation_mm: tuple[float, float, float] = (4.0, -3.0, 2.0)
    amplitude_mm: float = 4.0
    centre_mm: tuple[float, float, float] = (10.0, 5.0, 0.0)
    sigma_mm: float = 18.0
    direction: tuple[float, float, float] = (0.6, 0.8, 0.0)

    def __call__(self, points_mm: FloatArray) -> FloatArray:
        p = np.asarray(points_mm, dtype=np.float64).reshape(-1, 3)
        r2 = ((p - np.asarray(self.centre_mm)) ** 2).sum(axis=1)
        bump = self.amplitude_mm * np.exp(-r2 / (2 * self.sigma_mm**2))
        return p + np.asarray(self.translation_mm) + bump[:, None] * np.asarray(self.direction)

    def inverse(self, points_mm: FloatArray, iterations: int = 30) -> FloatArray:
        """``phi^-1`` by the fixed-point iteration p <- q - t - bump(p) (a contraction, see the module docstring)."""
        q = np.asarray(points_mm, dtype=np.float64).reshape(-1, 3)
        p = q - np.asarray(self.translation_mm)
        for _ in range(iterations):
            p = p + (q - self(p))
        return p


def _smooth_inside(distance_mm: FloatArray, width_mm: float = 1.5) -> FloatArray:
    """1 inside (negative signed distance), 0 outside, logistic edge."""
    return 1.0 / (1.0 + np.exp(np.clip(distance_mm / width_mm, -50, 50)))


def _ellipsoid_distance(p: FloatArray, centre: tuple[float, float, float], radii: tuple[float, float, float]) -> FloatArray:
    """Approximate signed distance (mm) to an ellipsoid surface (scaled radial distance)."""
    q = (p - np.asarray(centre)) / np.asarray(radii)
    norm = np.sqrt((q**2).sum(axis=1))
    return (norm - 1.0) * float(min(radii))


def phantom_hu(points_mm: FloatArray) -> FloatArray:
    """The analytic head-like phantom in HU at LPS points (N, 3)."""
    p = np.asarray(points_mm, dtype=np.float64).reshape(-1, 3)
    body = _smooth_inside(_ellipsoid_distance(p, (0, 0, 0), (48, 42, 46)))
    brain = _smooth_inside(_ellipsoid_distance(p, (0, 0, 4), (42, 36, 38)))
    hu = -1000.0 + 1040.0 * body + 660.0 * (body - brain)  # shell between body and brain: bone
    hu -= 140.0 * _smooth_inside(_ellipsoid_distance(p, (-15, 10, -5), (8, 6, 10)))
    hu -= 140.0 * _smooth_inside(_ellipsoid_distance(p, (18, -12, 8), (6, 9, 7)))
    hu += 260.0 * _smooth_inside(_ellipsoid_distance(p, (8, 14, -12), (5, 5, 6)))
    hu += 30.0 * _smooth_inside(_ellipsoid_distance(p, (-8, -16, 14), (10, 7, 6)))
    for k, centre in enumerate(_LATTICE):  # texture: small inserts every 16 mm, alternating +250 / -150 HU
        hu += (250.0 if k % 2 == 0 else -150.0) * _smooth_inside(_ellipsoid_distance(p, centre, (3.5, 3.5, 3.5)))
    return hu


_LATTICE = tuple(
    (float(x), float(y), float(z))
    for x in (-24, -8, 8, 24) for y in (-24, -8, 8, 24) for z in (-24, -8, 8, 24)
    if (x / 40) ** 2 + (y / 34) ** 2 + (z / 36) ** 2 < 1
)


def grid_points(grid: RectilinearGrid) -> FloatArray:
    """Voxel centres (N, 3) in (z, y, x) array order."""
    z, y, x = np.meshgrid(grid.z_mm, grid.y_mm, grid.x_mm, indexing="ij")
    return np.stack([x.ravel(), y.ravel(), z.ravel()], axis=1)


@dataclass(frozen=True, eq=False)
class DeformedPair:
    """The two volumes (HU, float32, (z, y, x)) on one grid, and the mapping current -> prior."""

    current_hu: npt.NDArray[np.float32]
    current_grid: RectilinearGrid
    prior_hu: npt.NDArray[np.float32]
    prior_grid: RectilinearGrid
    deformation: KnownDeformation


def deformed_pair(
    n_voxels: int | tuple[int, int, int] = 40,
    spacing_mm: float | tuple[float, float, float] = 3.0,
    deformation: KnownDeformation | None = None,
) -> DeformedPair:
    """Current and prior CT volumes of ``n_voxels`` (one number: a cube; else (x, y, z)) at
    ``spacing_mm`` (one number or (x, y, z)), both centred on the origin. Filled one z plane at a time."""
    phi = deformation or KnownDeformation()
    shape_xyz = (n_voxels,) * 3 if isinstance(n_voxels, int) else n_voxels
    spacing = (float(spacing_mm),) * 3 if isinstance(spacing_mm, (int, float)) else spacing_mm
    origin = tuple(-(n - 1) * s / 2 for n, s in zip(shape_xyz, spacing, strict=True))
    grid = RectilinearGrid.uniform((origin[0], origin[1], origin[2]), (spacing[0], spacing[1], spacing[2]), (shape_xyz[2], shape_xyz[1], shape_xyz[0]))
    current = np.empty(grid.shape_zyx, dtype=np.float32)
    prior = np.empty(grid.shape_zyx, dtype=np.float32)
    current.fill(-1000.0)
    prior.fill(-1000.0)
    # Only the box within _REACH_MM of the origin holds anatomy (body radii <= 48 mm, displacement
    # <= |t| + A < 10 mm, logistic edges): outside it both volumes are air; a large grid costs little.
    xi = np.flatnonzero(np.abs(grid.x_mm) <= _REACH_MM)
    yi = np.flatnonzero(np.abs(grid.y_mm) <= _REACH_MM)
    yy, xx = np.meshgrid(grid.y_mm[yi], grid.x_mm[xi], indexing="ij")
    for k, z in enumerate(grid.z_mm):
        if abs(z) > _REACH_MM or xi.size == 0 or yi.size == 0:
            continue
        pts = np.stack([xx.ravel(), yy.ravel(), np.full(xx.size, z)], axis=1)
        current[k, yi[0] : yi[-1] + 1, xi[0] : xi[-1] + 1] = phantom_hu(pts).reshape(xx.shape)
        prior[k, yi[0] : yi[-1] + 1, xi[0] : xi[-1] + 1] = phantom_hu(phi.inverse(pts)).reshape(xx.shape)
    return DeformedPair(current, grid, prior, grid, phi)


_REACH_MM = 75.0
