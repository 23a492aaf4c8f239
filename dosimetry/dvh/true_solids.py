"""True solids for validating the DVH engine's between-plane models (issue 13).

:mod:`dosimetry.dvh.phantoms` gives oracles for the stacked-slab solid the contours describe
under the half-slab convention; that oracle shares the engine's assumption about what lies
between and beyond the contour planes. Here the oracle is the *solid itself* (Nelms et al., Med
Phys 2015): its volume, mean dose and cumulative DVH in a linear dose gradient along y (AP) or z
(SI) are integrals over z of its exact smooth cross-sections (circles, ellipses, rectangles,
conic sections of :mod:`dosimetry.dvh.phantoms`), computed with :func:`scipy.integrate.quad`,
never from the contours. The contours are the exact sections on planes ``centre_z + (k + offset)
x spacing`` (sections under 1e-6 mm^2, e.g. a tangent pole, are not contoured).

Solids: ``sphere`` (r 12 mm), ``cylinder`` / ``cone`` (r 10 mm x 24 mm, axis along z; cone base
at the low end), ``cylinder-rotated`` / ``cone-rotated`` (axis along y), ``nerve-y`` / ``nerve-x``
/ ``nerve-z`` (optic-nerve-like cylinders, 20 mm long, radius given), ``nerve-oblique`` (an
optic-nerve-like prolate spheroid, 20 mm long, radius given, its axis in the y-z plane at
``tilt_deg`` from the y axis: its sections are ellipses whose centre slides along y from plane to
plane), ``chiasm`` (a flat box 14 x 8 x 4 mm), ``chiasm-ellipsoid`` (a flat ellipsoid, semi-axes
12 x 6 x 3.5 mm, the sample patient's chiasm) and ``lens`` (an ellipsoid, semi-axes 4.5 x 2 x 3.5
mm, or scaled).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import integrate, optimize  # type: ignore[import-untyped,unused-ignore]

from dosimetry.dose import DoseGrid, DoseSummationType, DoseType
from dosimetry.dvh.phantoms import Circle, ConeSection, GradientAxis, Rectangle
from dosimetry.errors import ArgumentError
from dosimetry.grid import RectilinearGrid
from dosimetry.structures import Contour, ContourGeometricType, Roi

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Ellipse:
    """Axis-aligned ellipse, semi-axes a (x) and b (y)."""

    xc: float
    yc: float
    a: float
    b: float

    def area(self) -> float:
        return math.pi * self.a * self.b

    def y_range(self) -> tuple[float, float]:
        return self.yc - self.b, self.yc + self.b

    def area_above(self, y: float) -> float:
        return self.a / self.b * Circle(self.xc, self.yc, self.b).area_above(y)

    def moment_y(self) -> float:
        return self.area() * self.yc

    def polygon(self) -> tuple[FloatArray, FloatArray]:
        x, y = Circle(0.0, 0.0, 1.0).polygon()
        return self.xc + self.a * x, self.yc + self.b * y


@dataclass(frozen=True)
class CutSection:
    """The part of a section at or below ``y_max`` (a solid cut by the plane y = y_max)."""

    section: Circle | Ellipse | Rectangle | ConeSection
    y_max: float

    def y_range(self) -> tuple[float, float]:
        lo, hi = self.section.y_range()
        return lo, min(hi, self.y_max)

    def area_above(self, y: float) -> float:
        if y >= self.y_max:
            return 0.0
        return self.section.area_above(y) - self.section.area_above(self.y_max)

    def area(self) -> float:
        return self.area_above(self.section.y_range()[0])

    def moment_y(self) -> float:
        # integral of y c(y) dy = lo A + integral_lo^hi A_above(y) dy, as ConeSection.moment_y
        lo, hi = self.y_range()
        if hi <= lo:
            return 0.0
        tail, _ = integrate.quad(self.area_above, lo, hi, epsabs=1e-12, epsrel=1e-12, limit=200)
        return lo * self.area() + float(tail)

    def polygon(self) -> tuple[FloatArray, FloatArray]:
        raise ArgumentError("a cut section is an oracle only: contour the solid it was cut from")


Section = Circle | Ellipse | Rectangle | ConeSection | CutSection

SOLIDS = (
    "sphere", "cylinder", "cone", "cylinder-rotated", "cone-rotated", "nerve-x", "nerve-y", "nerve-z", "nerve-oblique",
    "chiasm", "chiasm-ellipsoid", "lens",
)
SMALL_SOLIDS = ("nerve-x", "nerve-y", "nerve-z", "nerve-oblique", "chiasm", "chiasm-ellipsoid", "lens")


@dataclass(frozen=True, eq=False)
class TrueSolid:
    """A solid given by its exact section at every z in (z_min, z_max), centred on the origin."""

    name: str
    z_min_mm: float
    z_max_mm: float
    section_at: Callable[[float], Section | None]
    flat_ends: tuple[bool, bool]  # (low z, high z): the solid ends in a face parallel to the planes

    # --- oracle -------------------------------------------------------------------------
    def _quad(self, f: Callable[[float], float], lo: float | None = None, hi: float | None = None) -> float:
        a = self.z_min_mm if lo is None else max(lo, self.z_min_mm)
        b = self.z_max_mm if hi is None else min(hi, self.z_max_mm)
        if b <= a:
            return 0.0
        with warnings.catch_warnings():
            # roundoff at these tolerances (1e-11 relative) is far below any error judged here
            warnings.simplefilter("ignore", integrate.IntegrationWarning)
            value, _ = integrate.quad(f, a, b, epsabs=1e-10, epsrel=1e-11, limit=400)
        return float(value)

    def _area(self, z: float) -> float:
        s = self.section_at(z)
        return 0.0 if s is None else s.area()

    def volume_cc(self) -> float:
        return self._quad(self._area) / 1000.0

    def flat_end_ambiguity_cc(self, spacing_mm: float) -> float:
        """Half the range of volumes of the solids that the contours on planes ``spacing_mm``
        apart cannot tell apart at the flat ends: sum over the flat ends of the face's area x
        ``spacing_mm`` / 2 (0 without a flat end).

        Proof. Let the last contoured plane be z_n and the face at z_f. A face on a plane is
        contoured, and the plane z_n + spacing is not, so z_f lies in [z_n, z_n + spacing). Every
        face position in that interval gives the same contours (a constant section ending
        between planes leaves no trace on them), and the volume grows linearly with z_f at the
        rate of the face's area A. The volumes consistent with the contours therefore span A x
        spacing at each flat end; any convention, whatever rule it uses, is off by at least A x
        spacing / 2 for one of them (the midpoint of the range, half-slab's choice, attains
        that bound). An error within this half-range is as good as the contours allow."""
        total = 0.0
        for flat, z in zip(self.flat_ends, (self.z_min_mm + 1e-9, self.z_max_mm - 1e-9), strict=True):
            if flat:
                total += self._area(z) * spacing_mm / 2.0
        return total / 1000.0

    def highest_contour_y_mm(self, spacing_mm: float, offset_fraction: float) -> float:
        """The largest y of the contours on planes ``spacing_mm`` apart (``offset_fraction``)."""
        tops = []
        for z in self.planes_mm(spacing_mm, offset_fraction).tolist():
            zz = self._clamped(z)
            s = None if zz is None else self.section_at(zz)
            if s is not None:
                tops.append(s.y_range()[1])
        if not tops:
            raise ArgumentError(f"solid {self.name!r} has no contour at {spacing_mm} mm spacing")
        return max(tops)

    def cut_above_y(self, y_max_mm: float) -> TrueSolid:
        """This solid cut by the plane y = ``y_max_mm`` (the part at or below it)."""

        def section(z: float) -> Section | None:
            s = self.section_at(z)
            if s is None or s.y_range()[0] >= y_max_mm:
                return None
            return CutSection(s, y_max_mm)  # type: ignore[arg-type]

        return TrueSolid(f"{self.name} cut at y {y_max_mm:g}", self.z_min_mm, self.z_max_mm, section, self.flat_ends)

    def y_range_mm(self) -> tuple[float, float]:
        zs = np.linspace(self.z_min_mm, self.z_max_mm, 401)[1:-1]
        ranges = [s.y_range() for s in (self.section_at(float(z)) for z in zs) if s is not None]
        return min(r[0] for r in ranges), max(r[1] for r in ranges)

    def dose_range_gy(self, axis: GradientAxis, gradient_gy_per_mm: float, centre_dose_gy: float) -> tuple[float, float]:
        lo, hi = self.y_range_mm() if axis is GradientAxis.Y else (self.z_min_mm, self.z_max_mm)
        return centre_dose_gy + gradient_gy_per_mm * lo, centre_dose_gy + gradient_gy_per_mm * hi

    def volume_at_or_above_cc(self, dose_gy: float, axis: GradientAxis, gradient_gy_per_mm: float, centre_dose_gy: float) -> float:
        if not gradient_gy_per_mm > 0:
            raise ArgumentError("the true-solid oracle assumes a positive gradient")
        c = (dose_gy - centre_dose_gy) / gradient_gy_per_mm
        if axis is GradientAxis.Z:
            return self._quad(self._area, lo=c) / 1000.0

        def above(z: float) -> float:
            s = self.section_at(z)
            return 0.0 if s is None else s.area_above(c)

        return self._quad(above) / 1000.0

    def mean_gy(self, axis: GradientAxis, gradient_gy_per_mm: float, centre_dose_gy: float) -> float:
        if axis is GradientAxis.Z:
            moment = self._quad(lambda z: z * self._area(z))
        else:
            def moment_y(z: float) -> float:
                s = self.section_at(z)
                return 0.0 if s is None else s.moment_y()

            moment = self._quad(moment_y)
        return centre_dose_gy + gradient_gy_per_mm * moment / (self.volume_cc() * 1000.0)

    def dose_at_volume_percent(self, percent: float, axis: GradientAxis, gradient_gy_per_mm: float, centre_dose_gy: float) -> float:
        return self.dose_at_volume_cc(percent / 100.0 * self.volume_cc(), axis, gradient_gy_per_mm, centre_dose_gy)

    def dose_at_volume_cc(self, volume_cc: float, axis: GradientAxis, gradient_gy_per_mm: float, centre_dose_gy: float) -> float:
        lo, hi = self.dose_range_gy(axis, gradient_gy_per_mm, centre_dose_gy)
        return float(
            optimize.brentq(
                lambda d: self.volume_at_or_above_cc(d, axis, gradient_gy_per_mm, centre_dose_gy) - volume_cc,
                lo, hi, xtol=1e-9, rtol=1e-12,
            )
        )

    # --- contours and dose ---------------------------------------------------------------
    def planes_mm(self, spacing_mm: float, offset_fraction: float) -> FloatArray:
        k = np.arange(math.floor(self.z_min_mm / spacing_mm) - 1, math.ceil(self.z_max_mm / spacing_mm) + 2)
        z = (k + offset_fraction) * spacing_mm
        return np.array([float(p) for p in z if self._contoured(float(p))])

    def _clamped(self, z: float) -> float | None:
        """z inside the solid (a flat face's plane moved just inside), or None."""
        low_flat, high_flat = self.flat_ends
        if self.z_min_mm < z < self.z_max_mm:
            return z
        if low_flat and abs(z - self.z_min_mm) < 1e-9:
            return self.z_min_mm + 1e-9
        if high_flat and abs(z - self.z_max_mm) < 1e-9:
            return self.z_max_mm - 1e-9
        return None

    def _contoured(self, z: float) -> bool:
        zz = self._clamped(z)
        s = None if zz is None else self.section_at(zz)
        return s is not None and s.area() > 1e-6

    def roi(self, spacing_mm: float, offset_fraction: float = 0.0, number: int = 1) -> Roi:
        contours = []
        for z in self.planes_mm(spacing_mm, offset_fraction).tolist():
            zz = self._clamped(z)
            section = None if zz is None else self.section_at(zz)
            if section is None:
                continue
            x, y = section.polygon()
            contours.append(Contour(np.column_stack([x, y, np.full(x.size, z)]), ContourGeometricType.CLOSED_PLANAR))
        return Roi(number, self.name, "ORGAN", tuple(contours))

    def dose_grid(
        self, spacing_mm: float, axis: GradientAxis, *, gradient_gy_per_mm: float = 1.0, centre_dose_gy: float = 40.0,
        shift_fraction: float = 0.0, margin_voxels: int = 3,
    ) -> DoseGrid:
        zs = np.linspace(self.z_min_mm, self.z_max_mm, 201)[1:-1]
        polys = [s.polygon() for s in (self.section_at(float(z)) for z in zs) if s is not None]
        lo = np.array([min(p[0].min() for p in polys), min(p[1].min() for p in polys), self.z_min_mm - spacing_mm])
        hi = np.array([max(p[0].max() for p in polys), max(p[1].max() for p in polys), self.z_max_mm + spacing_mm])
        k_lo = np.floor(lo / spacing_mm - shift_fraction) - margin_voxels
        k_hi = np.ceil(hi / spacing_mm - shift_fraction) + margin_voxels
        axes = [(np.arange(k_lo[i], k_hi[i] + 1) + shift_fraction) * spacing_mm for i in range(3)]
        grid = RectilinearGrid(axes[0], axes[1], axes[2])
        z, y, _ = np.meshgrid(grid.z_mm, grid.y_mm, grid.x_mm, indexing="ij")
        coord = y if axis is GradientAxis.Y else z
        return DoseGrid(
            grid=grid,
            dose_gy=centre_dose_gy + gradient_gy_per_mm * coord,
            dose_type=DoseType.PHYSICAL,
            summation_type=DoseSummationType.PLAN,
            frame_of_reference_uid="1.2.826.0.1.3680043.10.1234.1",
            description=f"linear gradient {gradient_gy_per_mm} Gy/mm along {axis.value}",
        )


def _tilted_spheroid(name: str, radius_mm: float, half_length_mm: float, tilt_deg: float) -> TrueSolid:
    """Prolate spheroid, semi-axes ``radius_mm`` (x and across the axis) and ``half_length_mm``
    (along its axis, in the y-z plane at ``tilt_deg`` from y). With p = (y, z), u the axis and n
    its normal in that plane, the solid is x^2 / r^2 + (p.u)^2 / L^2 + (p.n)^2 / r^2 <= 1, i.e.
    x^2 / r^2 + A y^2 + 2 B y z + C z^2 <= 1; at height z, completing the square in y, the section
    is the ellipse centred on y = -B z / A with semi-axes r sqrt(k) and sqrt(k / A), k = 1 - (C -
    B^2 / A) z^2, and the solid spans |z| < 1 / sqrt(C - B^2 / A)."""
    t = math.radians(tilt_deg)
    c, s = math.cos(t), math.sin(t)
    inv_l2, inv_r2 = 1.0 / half_length_mm**2, 1.0 / radius_mm**2
    a_yy = c * c * inv_l2 + s * s * inv_r2
    b_yz = c * s * (inv_l2 - inv_r2)
    c_zz = s * s * inv_l2 + c * c * inv_r2
    q = c_zz - b_yz * b_yz / a_yy
    z_max = 1.0 / math.sqrt(q)

    def section(z: float) -> Section | None:
        k = 1.0 - q * z * z
        if k <= 0:
            return None
        return Ellipse(0.0, -b_yz * z / a_yy, radius_mm * math.sqrt(k), math.sqrt(k / a_yy))

    return TrueSolid(name, -z_max, z_max, section, (False, False))


def two_plane_ellipsoid(a_mm: float, b_mm: float, spacing_mm: float, c_mm: float) -> TrueSolid:
    """The ellipsoid, semi-axis ``c_mm`` along z (spacing / 2 < c < 3 spacing / 2), whose sections
    on the planes z = -+spacing / 2 are the ellipse of semi-axes ``a_mm`` x ``b_mm``, and which no
    other plane of that spacing (z = -+3 spacing / 2, ...) cuts: every such c gives the same two
    contours. Its volume is 4/3 pi a b c^3 / (c^2 - spacing^2 / 4): 1.30 x 4/3 pi a b spacing at
    c = 0.866 spacing, its least, and without bound as c -> spacing / 2 (a wide, thin ellipsoid
    whose poles are just beyond the planes), so no rule for an ROI on two planes is within any
    given tolerance of every smooth solid consistent with its contours."""
    h = 0.5 * spacing_mm
    if not h < c_mm < 3.0 * h:
        raise ArgumentError(f"c_mm {c_mm} must lie between spacing/2 = {h} and 3 spacing/2 = {3 * h}")
    grow = 1.0 / math.sqrt(1.0 - (h / c_mm) ** 2)
    big_a, big_b = a_mm * grow, b_mm * grow

    def section(z: float) -> Section | None:
        f = 1.0 - (z / c_mm) ** 2
        return Ellipse(0, 0, big_a * math.sqrt(f), big_b * math.sqrt(f)) if f > 0 else None

    return TrueSolid(f"ellipsoid c {c_mm:g}", -c_mm, c_mm, section, (False, False))


def make_solid(name: str, *, radius_mm: float | None = None, scale: float = 1.0, tilt_deg: float = 30.0) -> TrueSolid:
    """One of :data:`SOLIDS`, centred on the origin (``radius_mm``: the nerves' radius, default
    2 mm; ``scale``: multiplies the lens's and the chiasm's dimensions; ``tilt_deg``: the oblique
    nerve's axis from the y axis towards z)."""
    if name == "sphere":
        r = 12.0
        return TrueSolid(name, -r, r, lambda z: Circle(0, 0, math.sqrt(max(r * r - z * z, 0.0))) if abs(z) < r else None, (False, False))
    if name in ("cylinder", "cone"):
        r, half = 10.0, 12.0
        if name == "cylinder":
            return TrueSolid(name, -half, half, lambda z: Circle(0, 0, r), (True, True))
        return TrueSolid(name, -half, half, lambda z: Circle(0, 0, r * (1.0 - (z + half) / (2 * half))), (True, False))
    if name == "cylinder-rotated":
        r, half = 10.0, 12.0
        return TrueSolid(name, -r, r, lambda z: Rectangle(-math.sqrt(max(r * r - z * z, 0.0)), math.sqrt(max(r * r - z * z, 0.0)), -half, half), (False, False))
    if name == "cone-rotated":
        r, half = 10.0, 12.0
        return TrueSolid(name, -r, r, lambda z: ConeSection(0.0, -half, r, 2 * half, abs(z)), (False, False))
    if name == "nerve-oblique":
        return _tilted_spheroid(name, 2.0 if radius_mm is None else radius_mm, 10.0, tilt_deg)
    if name.startswith("nerve-"):
        r, half = (2.0 if radius_mm is None else radius_mm), 10.0
        axis = name[-1]
        if axis == "z":
            return TrueSolid(name, -half, half, lambda z: Circle(0, 0, r), (True, True))

        def across(z: float) -> Section:
            w = math.sqrt(max(r * r - z * z, 0.0))
            return Rectangle(-w, w, -half, half) if axis == "y" else Rectangle(-half, half, -w, w)

        return TrueSolid(name, -r, r, across, (False, False))
    if name == "chiasm":
        hx, hy, hz = 7.0 * scale, 4.0 * scale, 2.0 * scale
        return TrueSolid(name, -hz, hz, lambda z: Rectangle(-hx, hx, -hy, hy), (True, True))
    if name in ("lens", "chiasm-ellipsoid"):
        a, b, c = (4.5 * scale, 2.0 * scale, 3.5 * scale) if name == "lens" else (12.0 * scale, 6.0 * scale, 3.5 * scale)

        def lens(z: float) -> Section | None:
            f = 1.0 - (z / c) ** 2
            return Ellipse(0, 0, a * math.sqrt(f), b * math.sqrt(f)) if f > 0 else None

        return TrueSolid(name, -c, c, lens, (False, False))
    raise ArgumentError(f"solid {name!r} is not one of {SOLIDS}")
