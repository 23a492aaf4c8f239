"""Builders shared by the tests/test_dvh_*.py modules (small, deterministic value objects)."""

from __future__ import annotations

import numpy as np

from dosimetry.dose import DoseGrid, DoseSummationType, DoseType
from dosimetry.grid import RectilinearGrid
from dosimetry.structures import Contour, ContourGeometricType, Roi

FRAME = "1.2.826.0.1.3680043.10.1234.5"


def polygon_contour(xy: np.ndarray, z: float) -> Contour:
    xy = np.asarray(xy, dtype=float)
    return Contour(np.column_stack([xy, np.full(len(xy), z)]), ContourGeometricType.CLOSED_PLANAR)


def rectangle(x0: float, x1: float, y0: float, y1: float) -> np.ndarray:
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=float)


def circle(cx: float, cy: float, r: float, n: int = 360) -> np.ndarray:
    t = 2 * np.pi * np.arange(n) / n
    return np.column_stack([cx + r * np.cos(t), cy + r * np.sin(t)])


def box_roi(x0: float, x1: float, y0: float, y1: float, planes: list[float] | np.ndarray, name: str = "box", number: int = 1) -> Roi:
    return Roi(number, name, "ORGAN", tuple(polygon_contour(rectangle(x0, x1, y0, y1), float(z)) for z in planes))


def uniform_grid(origin: tuple[float, float, float], spacing: tuple[float, float, float], shape_zyx: tuple[int, int, int]) -> RectilinearGrid:
    return RectilinearGrid.uniform(origin, spacing, shape_zyx)


def dose_from(grid: RectilinearGrid, func) -> DoseGrid:  # type: ignore[no-untyped-def]
    z, y, x = np.meshgrid(grid.z_mm, grid.y_mm, grid.x_mm, indexing="ij")
    return DoseGrid(grid, func(x, y, z), DoseType.PHYSICAL, DoseSummationType.PLAN, FRAME)
