"""Analytic solids used to build the synthetic head phantom (coordinates LPS, mm).

Each solid answers ``contains(points)`` for an (..., 3) array of points and gives the exact
volume where one exists in closed form, so tests can compare contours and masks with ground
truth. Solids are small frozen dataclasses; combinations are unions/differences of masks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dosimetry.errors import GeometryError

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Ellipsoid:
    """Axis-aligned ellipsoid: centre (x, y, z) and semi-axes (a, b, c), mm."""

    centre_mm: tuple[float, float, float]
    semi_axes_mm: tuple[float, float, float]

    def contains(self, points_mm: FloatArray) -> BoolArray:
        c = np.asarray(self.centre_mm)
        s = np.asarray(self.semi_axes_mm)
        q = (np.asarray(points_mm) - c) / s
        return np.einsum("...i,...i->...", q, q) <= 1.0

    @property
    def volume_cc(self) -> float:
        a, b, c = self.semi_axes_mm
        return 4.0 / 3.0 * np.pi * a * b * c / 1000.0


@dataclass(frozen=True)
class EllipticCylinder:
    """Elliptic cylinder along z: centre (x, y), semi-axes (a, b), z range [z0, z1], mm."""

    centre_xy_mm: tuple[float, float]
    semi_axes_mm: tuple[float, float]
    z_range_mm: tuple[float, float]

    def contains(self, points_mm: FloatArray) -> BoolArray:
        p = np.asarray(points_mm)
        qx = (p[..., 0] - self.centre_xy_mm[0]) / self.semi_axes_mm[0]
        qy = (p[..., 1] - self.centre_xy_mm[1]) / self.semi_axes_mm[1]
        return (qx * qx + qy * qy <= 1.0) & (p[..., 2] >= self.z_range_mm[0]) & (p[..., 2] <= self.z_range_mm[1])


@dataclass(frozen=True)
class Capsule:
    """All points within ``radius_mm`` of the segment from ``start_mm`` to ``end_mm``."""

    start_mm: tuple[float, float, float]
    end_mm: tuple[float, float, float]
    radius_mm: float

    def contains(self, points_mm: FloatArray) -> BoolArray:
        a = np.asarray(self.start_mm)
        b = np.asarray(self.end_mm)
        ab = b - a
        ap = np.asarray(points_mm) - a
        t = np.clip(np.einsum("...i,i->...", ap, ab) / float(ab @ ab), 0.0, 1.0)
        nearest = a + t[..., None] * ab
        d = np.asarray(points_mm) - nearest
        return np.einsum("...i,...i->...", d, d) <= self.radius_mm**2

    def signed_distance_mm(self, points_mm: FloatArray) -> FloatArray:
        """Exact signed distance to the capsule surface (negative inside)."""
        a = np.asarray(self.start_mm)
        b = np.asarray(self.end_mm)
        ab = b - a
        ap = np.asarray(points_mm) - a
        t = np.clip(np.einsum("...i,i->...", ap, ab) / float(ab @ ab), 0.0, 1.0)
        d = np.asarray(points_mm) - (a + t[..., None] * ab)
        return np.sqrt(np.einsum("...i,...i->...", d, d)) - self.radius_mm


@dataclass(frozen=True)
class Box:
    """Axis-aligned box given by its (min, max) corners, mm."""

    min_mm: tuple[float, float, float]
    max_mm: tuple[float, float, float]

    def contains(self, points_mm: FloatArray) -> BoolArray:
        p = np.asarray(points_mm)
        lo = np.asarray(self.min_mm)
        hi = np.asarray(self.max_mm)
        return np.all((p >= lo) & (p <= hi), axis=-1)


@dataclass(frozen=True)
class Composite:
    """Union of ``parts`` minus the union of ``holes``."""

    parts: tuple[object, ...]
    holes: tuple[object, ...] = ()

    def contains(self, points_mm: FloatArray) -> BoolArray:
        p = np.asarray(points_mm)
        inside = np.zeros(p.shape[:-1], dtype=bool)
        for part in self.parts:
            inside |= part.contains(p)  # type: ignore[attr-defined]
        for hole in self.holes:
            inside &= ~hole.contains(p)  # type: ignore[attr-defined]
        return inside

    def signed_distance_mm(self, points_mm: FloatArray) -> FloatArray:
        """min of the parts' signed distances: exact outside a hole-free union of parts that
        all define ``signed_distance_mm``."""
        if self.holes:
            raise GeometryError("signed distance is only defined for composites without holes")
        return np.minimum.reduce([part.signed_distance_mm(points_mm) for part in self.parts])  # type: ignore[attr-defined]


@dataclass(frozen=True)
class SphereUnion:
    """Union of spheres (centres (n, 3), radii (n,)); ``grown(m)`` is exactly its m-mm expansion."""

    centres_mm: tuple[tuple[float, float, float], ...]
    radii_mm: tuple[float, ...]

    def signed_distance_mm(self, points_mm: FloatArray) -> FloatArray:
        """min over spheres of (|p - c| - r): the exact distance to the union outside it,
        negative inside it."""
        p = np.asarray(points_mm)
        best = np.full(p.shape[:-1], np.inf)
        for centre, radius in zip(self.centres_mm, self.radii_mm, strict=True):
            d = np.sqrt(np.einsum("...i,...i->...", p - np.asarray(centre), p - np.asarray(centre))) - radius
            best = np.minimum(best, d)
        return best

    def contains(self, points_mm: FloatArray) -> BoolArray:
        return self.signed_distance_mm(points_mm) <= 0.0

    def grown(self, margin_mm: float) -> SphereUnion:
        return SphereUnion(self.centres_mm, tuple(r + margin_mm for r in self.radii_mm))

    @property
    def centroid_mm(self) -> FloatArray:
        """Volume-weighted centre of the spheres (the union's centroid when they overlap little)."""
        weights = np.asarray(self.radii_mm) ** 3
        return (np.asarray(self.centres_mm) * weights[:, None]).sum(axis=0) / weights.sum()


def rotation_matrix_xyz(angles_deg: tuple[float, float, float]) -> FloatArray:
    """Rotation R = Rz @ Ry @ Rx for rotations (degrees) about the x, y and z axes."""
    ax, ay, az = np.deg2rad(angles_deg)
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    return rz @ ry @ rx


def rigid_matrix(angles_deg: tuple[float, float, float], translation_mm: tuple[float, float, float]) -> FloatArray:
    """4x4 homogeneous matrix p' = R p + t."""
    m = np.eye(4)
    m[:3, :3] = rotation_matrix_xyz(angles_deg)
    m[:3, 3] = translation_mm
    return m
