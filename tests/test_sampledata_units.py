"""Building blocks of the sample-data generator against analytic oracles (hypothesis where the
statement is an invariant)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dosimetry.grid import RectilinearGrid
from dosimetry.sampledata.anatomy import AnatomySpec, Phantom
from dosimetry.sampledata.contouring import contour_solid, polygon_area_mm2, simplify_closed
from dosimetry.sampledata.dose_model import BeamGeometry, carbon_dose_gy
from dosimetry.sampledata.outcomes import probability_grade3plus, probability_progression
from dosimetry.sampledata.shapes import Ellipsoid, SphereUnion, rigid_matrix, rotation_matrix_xyz

angles = st.tuples(*(st.floats(-30.0, 30.0),) * 3)


@given(angles)
def test_rotations_are_proper(angles_deg: tuple[float, float, float]) -> None:
    r = rotation_matrix_xyz(angles_deg)
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(r) == pytest.approx(1.0)


def test_rotation_about_z_by_90_degrees_turns_x_into_y() -> None:
    m = rigid_matrix((0.0, 0.0, 90.0), (1.0, 2.0, 3.0))
    np.testing.assert_allclose(m @ [1.0, 0.0, 0.0, 1.0], [1.0, 3.0, 3.0, 1.0], atol=1e-12)


@given(st.lists(st.tuples(st.floats(-50, 50), st.floats(-50, 50), st.floats(-50, 50)), min_size=1, max_size=20))
def test_sphere_union_distance_is_exact_outside_a_single_sphere(points: list[tuple[float, float, float]]) -> None:
    sphere = SphereUnion(((1.0, -2.0, 3.0),), (7.0,))
    p = np.asarray(points)
    expected = np.linalg.norm(p - [1.0, -2.0, 3.0], axis=1) - 7.0
    np.testing.assert_allclose(sphere.signed_distance_mm(p), expected)
    np.testing.assert_array_equal(sphere.grown(2.0).contains(p), expected <= 2.0)


@settings(max_examples=50, deadline=None)
@given(st.integers(8, 400), st.floats(0.05, 1.0), st.integers(0, 10_000))
def test_simplified_polygon_stays_within_tolerance(n: int, tolerance: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(0, 2 * np.pi, n))
    radius = 20 + 3 * np.sin(3 * t) + rng.normal(0, 0.2, n)
    ring = np.column_stack([radius * np.cos(t), radius * np.sin(t)])
    simple = simplify_closed(ring, tolerance)
    assert 3 <= simple.shape[0] <= ring.shape[0]
    a = simple
    b = np.roll(simple, -1, axis=0)
    ab = b - a
    ap = ring[:, None, :] - a[None, :, :]
    u = np.clip((ap * ab).sum(-1) / (ab * ab).sum(-1), 0, 1)
    d = np.linalg.norm(ap - u[..., None] * ab, axis=-1).min(axis=1)
    assert d.max() <= tolerance + 1e-9


def test_contours_of_a_sphere_have_the_analytic_cross_sections() -> None:
    grid = RectilinearGrid.uniform((-30.0, -30.0, -12.0), (2.5, 2.5, 3.0), (9, 25, 25))
    sphere = Ellipsoid((1.3, -0.7, 0.0), (11.0, 11.0, 11.0))
    z, y, x = np.meshgrid(grid.z_mm, grid.y_mm, grid.x_mm, indexing="ij")
    mask = sphere.contains(np.stack([x, y, z], axis=-1))
    contours = contour_solid(sphere.contains, mask, grid, np.eye(4))
    assert len(contours) == int(mask.any(axis=(1, 2)).sum())
    for c in contours:
        dz = grid.z_mm[c.slice_index]
        r2 = 11.0**2 - dz**2
        assert polygon_area_mm2(c.points_xy_mm) == pytest.approx(np.pi * r2, rel=0.03)
        radii = np.hypot(c.points_xy_mm[:, 0] - 1.3, c.points_xy_mm[:, 1] + 0.7)
        assert np.abs(radii - np.sqrt(r2)).max() < 0.5


def test_contours_follow_a_rigid_mapping() -> None:
    """A solid seen from a moved frame: contours in that frame map back onto the solid."""
    grid = RectilinearGrid.uniform((-40.0, -40.0, -15.0), (2.5, 2.5, 3.0), (11, 33, 33))
    sphere = Ellipsoid((5.0, 0.0, 0.0), (10.0, 14.0, 12.0))
    to_solid = rigid_matrix((0.0, 0.0, 20.0), (3.0, -4.0, 2.0))
    z, y, x = np.meshgrid(grid.z_mm, grid.y_mm, grid.x_mm, indexing="ij")
    pts = np.stack([x, y, z], axis=-1) @ to_solid[:3, :3].T + to_solid[:3, 3]
    contours = contour_solid(sphere.contains, sphere.contains(pts), grid, to_solid)
    assert contours
    for c in contours:
        p = np.column_stack([c.points_xy_mm, np.full(len(c.points_xy_mm), grid.z_mm[c.slice_index])])
        q = (p @ to_solid[:3, :3].T + to_solid[:3, 3] - [5.0, 0.0, 0.0]) / [10.0, 14.0, 12.0]
        assert np.abs(np.linalg.norm(q, axis=1) - 1.0).max() < 0.06


PHANTOM = Phantom(AnatomySpec())
BEAMS = (BeamGeometry(90.0, 0.34), BeamGeometry(270.0, 0.34), BeamGeometry(220.0, 0.32))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2), st.floats(0.0, 1.0), st.floats(-1.0, 1.0), st.floats(0.0, 2 * np.pi))
def test_carbon_dose_covers_ctv_95_and_ptv_90_percent(lobe: int, depth: float, cos_theta: float, phi: float) -> None:
    """Points on or inside the analytic CTV / PTV surfaces get >= 95 % / >= 90 % of 55 GyE."""
    direction = np.array(
        [np.sqrt(1 - cos_theta**2) * np.cos(phi), np.sqrt(1 - cos_theta**2) * np.sin(phi), cos_theta]
    )
    for solid, fraction in ((PHANTOM.spec.ctv, 0.95), (PHANTOM.spec.ptv, 0.90)):
        centre = np.asarray(solid.centres_mm[lobe])
        point = centre + depth * solid.radii_mm[lobe] * direction
        dose = carbon_dose_gy(PHANTOM, point[None, :], 55.0, BEAMS)[0]
        assert dose >= fraction * 55.0


def test_carbon_dose_penumbra_80_20_is_3_5_mm() -> None:
    """Along a line from the PTV through its top (no beam passes above), 80 % - 20 % takes 3.5 mm."""
    centre = np.asarray(PHANTOM.spec.ptv.centres_mm[0])
    z = np.linspace(0.0, 60.0, 6001)
    points = centre + np.outer(z, [0.0, 0.0, 1.0])
    dose = carbon_dose_gy(PHANTOM, points, 55.0, BEAMS) / 55.0
    # ripple of +-1 % aside, the edge is Phi((m - d) / sigma)
    z80 = z[np.argmax(dose < 0.8 * dose[0])]
    z20 = z[np.argmax(dose < 0.2 * dose[0])]
    assert z20 - z80 == pytest.approx(3.5, abs=0.15)


@given(st.floats(52.5, 65.0), st.floats(0.1, 5.0), st.floats(5.0, 100.0))
def test_outcome_probabilities_grow_with_dose_and_volume(dose: float, step: float, volume: float) -> None:
    assert probability_grade3plus(dose + step, volume) > probability_grade3plus(dose, volume)
    assert probability_grade3plus(dose, volume + step) > probability_grade3plus(dose, volume)
    assert probability_progression(dose + step, volume) < probability_progression(dose, volume)
