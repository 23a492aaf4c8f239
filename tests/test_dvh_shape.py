"""The between-plane shape model (EndCapConvention.SHAPE) against true solids.

Every oracle here is the solid itself (closed-form volumes of spheres, shells, unions of spheres,
tubes; :mod:`dosimetry.dvh.true_solids` quadrature over exact sections), never the contours or
the slab convention the engine implements.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dosimetry.dvh import EndCapConvention, compute_dvh, evaluate_metric
from dosimetry.dvh.geometry import roi_geometry
from dosimetry.dvh.phantoms import GradientAxis
from dosimetry.dvh.true_solids import make_solid
from dosimetry.structures import Contour, ContourGeometricType, Roi

SHAPE = EndCapConvention.SHAPE


def circle(xc: float, yc: float, r: float, n: int = 360, *, clockwise: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Polygon with the circle's area (radius scaled as in dosimetry.dvh.phantoms)."""
    t = 2 * np.pi * np.arange(n) / n
    rr = r * math.sqrt(2 * math.pi / (n * math.sin(2 * math.pi / n)))
    x, y = xc + rr * np.cos(t), yc + rr * np.sin(t)
    return (x[::-1], y[::-1]) if clockwise else (x, y)


def roi_of(planes: dict[float, list[tuple[np.ndarray, np.ndarray]]], name: str = "test") -> Roi:
    contours = [
        Contour(np.column_stack([x, y, np.full(x.size, z)]), ContourGeometricType.CLOSED_PLANAR)
        for z, polys in planes.items()
        for x, y in polys
    ]
    return Roi(1, name, "ORGAN", tuple(contours))


def sphere_planes(radius_mm: float, planes_mm: np.ndarray, xc: float = 0.0) -> dict[float, list[tuple[np.ndarray, np.ndarray]]]:
    return {float(z): [circle(xc, 0.0, math.sqrt(radius_mm**2 - z * z))] for z in planes_mm if abs(z) < radius_mm - 1e-9}


def sphere_volume_mm3(radius_mm: float) -> float:
    return 4.0 / 3.0 * math.pi * radius_mm**3


@pytest.mark.parametrize(("spacing_mm", "offset"), [(3.0, 0.0), (3.0, 0.5), (2.0, 0.0)])
def test_sphere_volume_is_the_true_volume(spacing_mm: float, offset: float) -> None:
    """Oracle: 4/3 pi R^3 of the sphere itself. The half-slab convention misses it by 1.6 % at 3 mm
    with the poles on planes (issue 13); the shape model is within 0.3 %, and the two others are
    left exactly as they were."""
    planes = (np.arange(-5, 6) + offset) * spacing_mm
    roi = roi_of(sphere_planes(12.0, planes))
    shape = roi_geometry(roi, SHAPE).volume_cc * 1000
    assert shape == pytest.approx(sphere_volume_mm3(12.0), rel=3e-3)
    if offset == 0.0 and spacing_mm == 3.0:
        half = roi_geometry(roi, EndCapConvention.HALF_SLAB).volume_cc * 1000
        assert abs(half / sphere_volume_mm3(12.0) - 1) > 0.015


def test_hollow_sphere_holes_close_as_the_cavity() -> None:
    """Oracle: 4/3 pi (R^3 - r^3) of a spherical shell; the cavity's contours are holes (inner
    circles, even-odd), so its caps are the hole's own rounded ends."""
    outer, inner = 12.0, 6.0
    planes = (np.arange(-12, 12) + 0.5) * 1.0
    content: dict[float, list[tuple[np.ndarray, np.ndarray]]] = {}
    for z in planes:
        polys = [circle(0, 0, math.sqrt(outer**2 - z * z))]
        if abs(z) < inner:
            polys.append(circle(0, 0, math.sqrt(inner**2 - z * z), clockwise=True))
        content[float(z)] = polys
    volume = roi_geometry(roi_of(content), SHAPE).volume_cc * 1000
    assert volume == pytest.approx(sphere_volume_mm3(outer) - sphere_volume_mm3(inner), rel=3e-3)


def test_two_contours_per_plane_two_spheres() -> None:
    """Oracle: twice 4/3 pi R^3 for two disjoint spheres contoured on the same planes."""
    planes = (np.arange(-4, 5) + 0.5) * 2.0
    content = {z: a + b for (z, a), b in zip(sphere_planes(8.0, planes, -12.0).items(), sphere_planes(8.0, planes, 12.0).values(), strict=True)}
    volume = roi_geometry(roi_of(content), SHAPE).volume_cc * 1000
    assert volume == pytest.approx(2 * sphere_volume_mm3(8.0), rel=5e-3)


def union_of_circles(r: float, d: float, n: int = 720) -> tuple[np.ndarray, np.ndarray]:
    """Boundary of the union of two circles of radius r centred at (+-d/2, 0), overlapping."""
    t0 = math.acos(d / 2 / r)
    right = np.linspace(-(math.pi - t0), math.pi - t0, n, endpoint=False)
    left = np.linspace(t0, 2 * math.pi - t0, n, endpoint=False)
    x = np.concatenate([d / 2 + r * np.cos(right), -d / 2 + r * np.cos(left)])
    y = np.concatenate([r * np.sin(right), r * np.sin(left)])
    return x, y


def test_branching_union_of_two_spheres() -> None:
    """Oracle: the union of two overlapping spheres (R 8 mm, centres 10 mm apart) by the lens
    formula, 2 x 4/3 pi R^3 - pi (4R + d)(2R - d)^2 / 12. Its planes hold one merged contour
    near z = 0 and two contours above |z| = 6.24 mm: one contour above two (branching)."""
    radius, d = 8.0, 10.0
    content: dict[float, list[tuple[np.ndarray, np.ndarray]]] = {}
    for z in (np.arange(-8, 8) + 0.5) * 1.0:
        r = math.sqrt(radius**2 - z * z)
        content[float(z)] = [union_of_circles(r, d)] if r > d / 2 else [circle(-d / 2, 0, r), circle(d / 2, 0, r)]
    assert any(len(v) == 1 for v in content.values()) and any(len(v) == 2 for v in content.values())
    truth = 2 * sphere_volume_mm3(radius) - math.pi * (4 * radius + d) * (2 * radius - d) ** 2 / 12
    assert roi_geometry(roi_of(content), SHAPE).volume_cc * 1000 == pytest.approx(truth, rel=5e-3)


def test_non_uniform_spacing() -> None:
    """Oracle: 4/3 pi R^3 of a sphere contoured on planes 1, 2 and 3 mm apart in turn."""
    steps = np.resize([1.0, 2.0, 3.0], 12)
    planes = np.concatenate([[0.0], np.cumsum(steps)]) - 12.5
    roi = roi_of(sphere_planes(12.0, planes))
    assert roi_geometry(roi, SHAPE).volume_cc * 1000 == pytest.approx(sphere_volume_mm3(12.0), rel=5e-3)


def test_single_plane_tube_and_slab() -> None:
    """Oracles: a 3 mm nerve lying across the planes drawn on a single 3 mm plane through its
    axis is the tube pi r^2 L (the round profile of an elongated contour, closed form); a wide
    compact single contour (r 20 mm) does not close within the plane's thickness, so it ends half
    the thickness out on each side, as a slab of area x thickness (within the 0.25 % its round
    profile tapers over those 1.5 mm: 1 - sqrt(1 - (1.5/20)^2) of the radius at the edge)."""
    r, half = 1.5, 10.0
    x = np.array([-r, r, r, -r])
    y = np.array([-half, -half, half, half])
    nerve = roi_of({0.0: [(x, y)]})
    volume = roi_geometry(nerve, SHAPE, single_plane_thickness_mm=3.0).volume_cc * 1000
    # narrowed across its length only (a uniform erosion also shortened it: -1.9 %)
    assert volume == pytest.approx(math.pi * r * r * 2 * half, rel=0.005)
    disc = roi_of({0.0: [circle(0, 0, 20.0)]})
    assert roi_geometry(disc, SHAPE, single_plane_thickness_mm=3.0).volume_cc * 1000 == pytest.approx(
        math.pi * 400 * 3.0, rel=3e-3
    )


@pytest.mark.parametrize(("solid", "spacing_mm", "offset", "axis"), [
    ("sphere", 3.0, 0.0, "z"),
    ("cylinder-rotated", 3.0, 0.0, "z"),
    ("nerve-y", 2.0, 0.5, "y"),
    ("lens", 1.0, 0.0, "y"),
    ("nerve-y", 1.0, 0.0, "z"),  # half-slab: -13 % volume, D99 +10 % of span
    ("nerve-oblique", 3.0, 0.0, "z"),  # sliding sections; without registration -15 % volume
    ("nerve-oblique", 3.0, 0.5, "y"),  # a sliding pole four times smaller: no step (was -4.6 %)
])
def test_true_solid_ci_subset(solid: str, spacing_mm: float, offset: float, axis: str) -> None:
    """CI-sized subset of benchmarks/dvh_true_solids.py. Oracle: the true solid's volume and DVH
    by quadrature over its exact sections (dosimetry.dvh.true_solids), not the contours. Targets
    of issue 13: volume within 1 %, Mean/D99/D1 within 1 % of the dose span (D0.03cc and Max 2 %
    for the small structures)."""
    s = make_solid(solid)
    gradient = GradientAxis(axis)
    dose = s.dose_grid(2.0, gradient)
    dvh = compute_dvh(dose, s.roi(spacing_mm, offset), end_cap=SHAPE)
    lo, hi = s.dose_range_gy(gradient, 1.0, 40.0)
    span = hi - lo
    assert dvh.volume_cc == pytest.approx(s.volume_cc(), rel=0.01)
    assert abs(dvh.mean_gy - s.mean_gy(gradient, 1.0, 40.0)) <= 0.01 * span
    for p in (99, 1):
        assert abs(evaluate_metric(dvh, f"D{p}%[Gy]") - s.dose_at_volume_percent(p, gradient, 1.0, 40.0)) <= 0.01 * span
    if s.volume_cc() < 2:
        assert abs(evaluate_metric(dvh, "D0.03cc[Gy]") - s.dose_at_volume_cc(0.03, gradient, 1.0, 40.0)) <= 0.02 * span
        assert abs(dvh.max_gy - hi) <= 0.02 * span


@pytest.mark.parametrize(("solid", "scale", "spacing_mm"), [("lens", 1.0, 3.0), ("lens", 0.6, 2.0), ("chiasm-ellipsoid", 1.0, 3.0)])
def test_ellipsoid_sections_interpolated_as_scaled_copies(solid: str, scale: float, spacing_mm: float) -> None:
    """Oracle: 4/3 pi a b c of the ellipsoid itself (dosimetry.dvh.true_solids). Its sections are
    scaled copies of one another; blending their distance maps as they lie lost 2.5-7.4 % here
    (three planes, poles a fraction of a spacing beyond the extreme ones)."""
    s = make_solid(solid, scale=scale)
    assert roi_geometry(s.roi(spacing_mm, 0.0), SHAPE).volume_cc == pytest.approx(s.volume_cc(), rel=5e-3)


@pytest.mark.parametrize(("solid", "spacing_mm", "offset", "before_percent"), [
    ("cylinder-rotated", 3.0, 0.5, 1.03),  # a face across the planes at each end of the caps
    ("cone-rotated", 3.0, 0.5, -2.39),  # sections shrinking onto a point of the base's rim
    ("cone-rotated", 2.0, 0.0, -1.05),
])
def test_caps_shrinking_onto_a_face_across_the_planes(solid: str, spacing_mm: float, offset: float, before_percent: float) -> None:
    """Oracle: the solid's own volume by quadrature over its exact sections (lying cylinder
    pi r^2 L; lying cone 1/3 pi r^2 h). Its caps beyond the extreme planes end on a face across
    the planes (the cylinder's ends, the cone's base) that every contour shares; extrapolating
    the distance maps kept that face at full length out to the pole (``before_percent``), the
    width-trend caps narrow the extreme contour as the solid narrows (within 0.3 % in the caps:
    the lying cone's remaining -1.3 % at 3 mm is its apex edge between planes)."""
    s = make_solid(solid)
    error = roi_geometry(s.roi(spacing_mm, offset), SHAPE).volume_cc / s.volume_cc() - 1
    assert abs(error) <= 0.01
    assert abs(error) < 0.6 * abs(before_percent) / 100


@pytest.mark.parametrize(("spacing_mm", "offset"), [(3.0, 0.0), (2.0, 0.0)])
def test_lying_cone_apex_edge_follows_its_contours(spacing_mm: float, offset: float) -> None:
    """Oracle: the lying cone itself (quadrature over its exact sections, dosimetry.dvh.true_solids).
    Its apex edge is a line joining the tips of the sections; the distance maps compress inside
    a sharp tip and put it 0.3-0.6 mm short between planes (D1 of the AP gradient along the cone's
    axis 1.5-1.7 % of the span low); interpolating the convex sections' support functions keeps
    D1 and D5 within 1 % of the span and the volume within 0.5 % (planes through the apex edge; an
    edge between two planes is ambiguous, see benchmarks/dvh_true_solids.py)."""
    s = make_solid("cone-rotated")
    gradient = GradientAxis.Y
    dvh = compute_dvh(s.dose_grid(2.0, gradient), s.roi(spacing_mm, offset), end_cap=SHAPE)
    lo, hi = s.dose_range_gy(gradient, 1.0, 40.0)
    assert dvh.volume_cc == pytest.approx(s.volume_cc(), rel=0.005)
    for p in (5, 1):
        assert abs(evaluate_metric(dvh, f"D{p}%[Gy]") - s.dose_at_volume_percent(p, gradient, 1.0, 40.0)) <= 0.01 * (hi - lo)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(r1=st.floats(4.0, 9.0), grow=st.floats(0.05, 3.0), offset=st.floats(0.0, 1.0))
def test_bigger_solid_never_smaller_volume(r1: float, grow: float, offset: float) -> None:
    """Oracle: monotonicity of volume under inclusion (a sphere inside a bigger concentric one,
    contoured on the same planes, 2 mm apart) -- a property of any solid, not of the model."""
    planes = (np.arange(-6, 7) + offset) * 2.0
    small = roi_geometry(roi_of(sphere_planes(r1, planes)), SHAPE).volume_cc
    big = roi_geometry(roi_of(sphere_planes(r1 + grow, planes)), SHAPE).volume_cc
    assert big >= small


def test_finer_contouring_converges_to_the_true_volume() -> None:
    """Oracle: the true volume of a lying cylinder, pi r^2 L; contoured every 3, 2, 1, 0.5 mm
    (planes through its axis, extreme contours tangent), the error shrinks to under 0.2 %."""
    s = make_solid("cylinder-rotated")
    errors = [abs(roi_geometry(s.roi(h, 0.0), SHAPE).volume_cc / s.volume_cc() - 1) for h in (2.0, 1.0, 0.5)]
    assert errors[-1] < 2e-3
    assert errors[-1] <= errors[0]


@pytest.mark.parametrize(("solid", "flat_faces"), [("cylinder", 2), ("cone", 1), ("sphere", 0), ("chiasm", 2)])
def test_flat_end_ambiguity_is_face_area_times_half_spacing(solid: str, flat_faces: int) -> None:
    """Oracle: closed form from the solid. Every flat end of a solid admits faces anywhere in
    one contour spacing without changing the contours, so the volumes consistent with them span
    face area x spacing per flat end: a half-range of A x h / 2 each (cylinder and cone r 10 mm:
    A = 100 pi mm^2; the chiasm-like box 14 x 8 mm; a sphere has none)."""
    s = make_solid(solid)
    face_mm2 = {"cylinder": 100 * math.pi, "cone": 100 * math.pi, "sphere": 0.0, "chiasm": 14.0 * 8.0}[solid]
    assert s.flat_end_ambiguity_cc(3.0) * 1000 == pytest.approx(flat_faces * face_mm2 * 1.5, rel=1e-6)


def test_half_slab_attains_the_flat_end_bound_with_faces_on_planes() -> None:
    """Oracle: closed form. A cylinder (r 10 mm, 24 mm long) contoured every 3 mm with its faces
    on planes: half-slab puts each face half a spacing out, so its volume error is exactly the
    irreducible half-range (A x h / 2 per end), the edge of what the contours allow; the shape
    model closes constant contours the same way."""
    s = make_solid("cylinder")
    for convention in (EndCapConvention.HALF_SLAB, SHAPE):
        error_cc = roi_geometry(s.roi(3.0, 0.0), convention).volume_cc - s.volume_cc()
        assert error_cc / s.flat_end_ambiguity_cc(3.0) == pytest.approx(1.0, abs=0.01)


def test_apex_cut_solid_fits_the_same_contours() -> None:
    """Oracle: closed form. The lying cone (r 10 mm, 24 mm long, apex at y = +12) contoured every
    3 mm half a spacing off its axis has its highest contour point on the planes z = +-1.5 mm,
    y* = 12 - 2.4 x 1.5 = 8.4 mm; cutting the cone there removes only the apex cone above y*, of
    volume pi (10/24)^2 (12 - y*)^3 / 3, and leaves every contour as it was."""
    s = make_solid("cone-rotated")
    y_star = s.highest_contour_y_mm(3.0, 0.5)
    assert y_star == pytest.approx(8.4, abs=1e-9)
    cut = s.cut_above_y(y_star)
    removed_mm3 = math.pi * (10.0 / 24.0) ** 2 * (12.0 - y_star) ** 3 / 3.0
    assert (s.volume_cc() - cut.volume_cc()) * 1000 == pytest.approx(removed_mm3, rel=1e-6)
    for z in s.planes_mm(3.0, 0.5).tolist():
        section, whole = cut.section_at(z), s.section_at(z)
        assert section is not None and whole is not None
        assert section.area() == pytest.approx(whole.area(), rel=1e-9)


def test_two_plane_rois_rest_on_a_prior() -> None:
    """Oracle: closed form (4/3 pi a b c of each ellipsoid, by quadrature in dosimetry.dvh.true_solids).
    Ellipsoids of different extent along z, each cut by the planes z = -+1.5 mm in the same
    4.5 x 2 mm ellipse and by no other plane 3 mm apart, give identical contours, yet their
    volumes differ by far more than 1 %: the volume of an ROI on two planes is not determined
    by its contours, and the shape model's (a round profile) is a prior."""
    from dosimetry.dvh.true_solids import two_plane_ellipsoid

    solids = [two_plane_ellipsoid(4.5, 2.0, 3.0, c) for c in (1.6, 3.0 * math.sqrt(3) / 2, 4.4)]
    contours = [[c.points_mm for c in s.roi(3.0, 0.5).contours] for s in solids]
    for other in contours[1:]:
        assert len(other) == len(contours[0]) == 2
        for p, q in zip(contours[0], other, strict=True):
            np.testing.assert_allclose(p, q, atol=1e-9)
    volumes = [s.volume_cc() * 1000 for s in solids]
    unit = 4.0 / 3.0 * math.pi * 4.5 * 2.0 * 3.0
    assert volumes[1] == pytest.approx(unit * 3 * math.sqrt(3) / 4, rel=1e-6)  # the least: 1.30 x
    assert min(volumes[0], volumes[2]) > 1.05 * volumes[1]
