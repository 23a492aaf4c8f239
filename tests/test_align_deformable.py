"""Applying DICOM Deformable Spatial Registrations (PS3.3 C.20.3.1.1) to points and to the prior dose.

Analytic deformation used throughout: u(p) = A (sin(pi y / L), sin(pi z / L), sin(pi x / L)), A = 2 mm,
L = 40 mm, sampled on a 2 mm grid. Trilinear interpolation of u is within h^2/8 max|u''| =
0.5 * 2 * (pi/40)^2 = 0.0062 mm of u, so the tolerances below (0.01 mm) follow from the grid, not
from the code under test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import fsolve

from dosimetry.align import align_prior_dose
from dosimetry.align.deformable import current_to_prior_points, registered_to_source
from dosimetry.align.resample import AlignmentMethod
from dosimetry.dose import DoseGrid, DoseSummationType, DoseType
from dosimetry.errors import ConsistencyError, DicomContentError, GeometryError
from dosimetry.grid import RectilinearGrid
from dosimetry.io import load_deformable_registrations
from tests import dicom_factory as f

CURRENT = f.uid("current-frame")
PRIOR = f.uid("prior-frame")
AMPLITUDE_MM = 2.0
LENGTH_MM = 40.0


def u_mm(p: np.ndarray) -> np.ndarray:
    p = np.atleast_2d(p)
    k = np.pi / LENGTH_MM
    return AMPLITUDE_MM * np.stack([np.sin(k * p[:, 1]), np.sin(k * p[:, 2]), np.sin(k * p[:, 0])], axis=1)


def rot_z(deg: float, t: tuple[float, float, float]) -> np.ndarray:
    return f.rigid_matrix(deg, t)


def affine(m: np.ndarray, p: np.ndarray) -> np.ndarray:
    return np.atleast_2d(p) @ m[:3, :3].T + m[:3, 3]


def write_dreg(directory: Path, *, registered: str, source: str, pre: np.ndarray | None = None, post: np.ndarray | None = None,
               orientation: tuple[float, ...] = (1, 0, 0, 0, 1, 0), origin: tuple[float, float, float] = (-40.0, -40.0, -40.0),
               shape_xyz: tuple[int, int, int] = (41, 41, 41), resolution_mm: float = 2.0, seed: str = "dreg") -> Path:
    """Vectors u(P_ijk) at the grid nodes P_ijk = origin + i r row + j r col + k r (row x col)."""
    o = np.asarray(orientation, dtype=float)
    row, col = o[:3], o[3:]
    normal = np.cross(row, col)
    nx, ny, nz = shape_xyz
    k, j, i = np.meshgrid(np.arange(nz), np.arange(ny), np.arange(nx), indexing="ij")
    nodes = (np.asarray(origin) + resolution_mm * (i[..., None] * row + j[..., None] * col + k[..., None] * normal)).reshape(-1, 3)
    vectors = u_mm(nodes).reshape(nz, ny, nx, 3)
    return f.make_deformable_reg(
        directory, filename=f"{seed}.dcm", source_frame_uid=source, vectors_zyx3_mm=vectors, origin_mm=origin,
        resolution_mm=(resolution_mm,) * 3, pre_matrix=pre, post_matrix=post, orientation=orientation,
        identity=f.Identity(frame_of_reference_uid=registered), seed=seed,
    )


def test_worked_example_pre_offset_post(tmp_path: Path) -> None:
    """Oracle: PS3.3 Equation C.20.3-1 worked by hand. Constant vectors (1, 2, 3), pre = translation
    (10, 0, 0), post = rotation 90 deg about z: the registered origin samples the source at
    post((0,0,0) + (10,0,0) + (1,2,3)) = post(11, 2, 3) = (-2, 11, 3)."""
    path = f.make_deformable_reg(
        tmp_path, source_frame_uid=PRIOR, vectors_zyx3_mm=np.tile([1.0, 2.0, 3.0], (3, 3, 3, 1)), origin_mm=(-5, -5, -5),
        pre_matrix=rot_z(0.0, (10.0, 0.0, 0.0)), post_matrix=rot_z(90.0, (0.0, 0.0, 0.0)),
    )
    (reg,) = load_deformable_registrations(path)
    mapped = registered_to_source(reg, np.array([[0.0, 0.0, 0.0]]))
    np.testing.assert_allclose(mapped.points_mm, [[-2.0, 11.0, 3.0]], atol=1e-6)
    assert not mapped.outside_grid.any()


@pytest.mark.parametrize("orientation", [(1, 0, 0, 0, 1, 0), (0, 1, 0, -1, 0, 0)])
def test_registered_to_source_matches_analytic(tmp_path: Path, orientation: tuple[int, ...]) -> None:
    """Oracle: the analytic mapping post(pre p + u(p)) with u the closed form (not the grid). The grid
    is also given rotated (row = +y, column = -x) to check its placement by ImageOrientationPatient."""
    pre, post = rot_z(5.0, (3.0, -2.0, 1.0)), rot_z(-3.0, (-4.0, 6.0, 2.5))
    origin = (-40.0, -40.0, -40.0) if orientation[0] == 1 else (40.0, -40.0, -40.0)
    path = write_dreg(tmp_path, registered=CURRENT, source=PRIOR, pre=pre, post=post, orientation=orientation, origin=origin)
    (reg,) = load_deformable_registrations(path)
    rng = np.random.default_rng(1)
    points = rng.uniform(-30, 30, size=(200, 3))
    expected = affine(post, affine(pre, points) + u_mm(points))
    mapped = current_to_prior_points(reg, points, current_frame_uid=CURRENT, prior_frame_uid=PRIOR)
    assert np.abs(mapped.points_mm - expected).max() < 0.01
    assert not mapped.outside_grid.any()


def test_inverse_direction_matches_root_finder(tmp_path: Path) -> None:
    """Oracle: scipy.optimize.fsolve on the analytic forward mapping. The object is registered in the
    prior frame (it maps prior points to current points), so each current point's prior point is the
    root of post(pre q + u(q)) - p."""
    pre, post = rot_z(4.0, (1.0, 2.0, -1.0)), rot_z(0.0, (5.0, -3.0, 2.0))
    path = write_dreg(tmp_path, registered=PRIOR, source=CURRENT, pre=pre, post=post)
    (reg,) = load_deformable_registrations(path)
    points = np.random.default_rng(2).uniform(-25, 25, size=(20, 3))
    mapped = current_to_prior_points(reg, points, current_frame_uid=CURRENT, prior_frame_uid=PRIOR)
    for p, q in zip(points, mapped.points_mm, strict=True):
        root = fsolve(lambda x, p=p: (affine(post, affine(pre, x) + u_mm(x)) - p).ravel(), p, xtol=1e-12)
        assert np.linalg.norm(q - root) < 0.01


def _grid(origin: float, n: int, spacing: float) -> RectilinearGrid:
    return RectilinearGrid.uniform((origin, origin, origin), (spacing, spacing, spacing), (n, n, n))


def _dose(grid: RectilinearGrid, values: np.ndarray, frame: str) -> DoseGrid:
    return DoseGrid(grid, values, DoseType.PHYSICAL, DoseSummationType.PLAN, frame)


def _points(grid: RectilinearGrid) -> np.ndarray:
    z, y, x = np.meshgrid(grid.z_mm, grid.y_mm, grid.x_mm, indexing="ij")
    return np.stack([x.ravel(), y.ravel(), z.ravel()], axis=1)


def test_prior_dose_follows_the_deformation(tmp_path: Path) -> None:
    """Oracle: a prior dose linear in prior coordinates, D(q) = 20 + 0.1 qx - 0.05 qy + 0.2 qz (trilinear
    interpolation reproduces it exactly), evaluated at the analytic prior point of each current voxel."""
    pre, post = rot_z(3.0, (2.0, 1.0, -1.0)), rot_z(0.0, (0.0, 0.0, 0.0))
    (reg,) = load_deformable_registrations(write_dreg(tmp_path, registered=CURRENT, source=PRIOR, pre=pre, post=post))

    def dose_fn(q: np.ndarray) -> np.ndarray:
        return 20 + 0.1 * q[:, 0] - 0.05 * q[:, 1] + 0.2 * q[:, 2]

    prior_grid = _grid(-40.0, 41, 2.0)
    prior = _dose(prior_grid, dose_fn(_points(prior_grid)).reshape(prior_grid.shape_zyx), PRIOR)
    current_grid = _grid(-20.0, 21, 2.0)
    aligned = align_prior_dose(prior, current_grid, CURRENT, deformable=reg)
    assert aligned.method is AlignmentMethod.DEFORMABLE_REGISTRATION
    pts = _points(current_grid)
    expected = dose_fn(affine(post, affine(pre, pts) + u_mm(pts))).reshape(current_grid.shape_zyx)
    assert aligned.uncovered_voxel_count == 0
    assert np.abs(aligned.dose.dose_gy - expected).max() < 0.01
    assert aligned.jacobian is not None and aligned.jacobian.folding_voxels == 0
    # |grad u| <= A pi / L = 0.157, so det(I + grad u) lies within (1 - 0.157)^3 .. (1 + 0.157)^3
    assert 0.59 < aligned.jacobian.minimum and aligned.jacobian.maximum < 1.55


def test_dose_sphere_lands_at_its_known_position(tmp_path: Path) -> None:
    """Oracle: the analytic forward mapping of the sphere's centre. The object maps prior points to
    current points (registered = prior) as psi(q) = q + u(q) + (5, -3, 2); a dose sphere (radius 6 mm)
    centred at c = (4, -2, 3) in the prior frame must be centred at psi(c) in the current frame."""
    t = (5.0, -3.0, 2.0)
    (reg,) = load_deformable_registrations(write_dreg(tmp_path, registered=PRIOR, source=CURRENT, post=rot_z(0.0, t)))
    centre = np.array([4.0, -2.0, 3.0])
    prior_grid = _grid(-30.0, 61, 1.0)
    inside = np.linalg.norm(_points(prior_grid) - centre, axis=1) <= 6.0
    prior = _dose(prior_grid, (50.0 * inside).reshape(prior_grid.shape_zyx), PRIOR)
    current_grid = _grid(-25.0, 51, 1.0)
    aligned = align_prior_dose(prior, current_grid, CURRENT, deformable=reg)
    values = aligned.dose.dose_gy.ravel()
    centroid = (_points(current_grid) * values[:, None]).sum(axis=0) / values.sum()
    expected = centre + u_mm(centre)[0] + np.asarray(t)
    assert np.linalg.norm(centroid - expected) < 0.5
    assert "inverted" in aligned.transform_description


def test_unrelated_frames_refused(tmp_path: Path) -> None:
    """Oracle: the frames named in the object (neither is the prior frame)."""
    (reg,) = load_deformable_registrations(write_dreg(tmp_path, registered=CURRENT, source=f.uid("other")))
    with pytest.raises(ConsistencyError, match="source frame"):
        current_to_prior_points(reg, np.zeros((1, 3)), current_frame_uid=CURRENT, prior_frame_uid=PRIOR)


def test_folding_inverse_refused(tmp_path: Path) -> None:
    """Oracle: a deformation folding space (nodes u_x = 6, 0, -6 mm at x = -2, 0, 2 mm, zero elsewhere:
    x + u_x has slope 4, -2, 4 on [-4, -2], [-2, 2], [2, 4], so x = 0.5 has three preimages and the
    mapping is not invertible); the inversion must fail loudly, not return one of them."""
    xs = np.arange(-10.0, 12.0, 2.0)
    vectors = np.zeros((3, 3, xs.size, 3))
    vectors[..., 0] = np.where(np.abs(xs) <= 2, -3.0 * xs, 0.0)
    path = f.make_deformable_reg(tmp_path, source_frame_uid=CURRENT, vectors_zyx3_mm=vectors, origin_mm=(-10, -2, -2),
                                 resolution_mm=(2, 2, 2), identity=f.Identity(frame_of_reference_uid=PRIOR))
    (reg,) = load_deformable_registrations(path)
    with pytest.raises(GeometryError, match="could not be inverted"):
        current_to_prior_points(reg, np.array([[0.5, 0.0, 0.0]]), current_frame_uid=CURRENT, prior_frame_uid=PRIOR)


@pytest.mark.parametrize("which", ["pre", "post"])
def test_singular_matrix_refused_naming_it(tmp_path: Path, which: str) -> None:
    """Oracle: a matrix whose 3 x 3 part has determinant 0 (here z -> 0: every point squeezed onto
    the plane z = 0) has no inverse (hand calculation); applied as is it would sample the prior dose
    of one plane for the whole grid, a plausible wrong number. The reader refuses it, naming the
    sequence it came from."""
    singular = np.diag([1.0, 1.0, 0.0, 1.0])
    path = write_dreg(tmp_path, registered=CURRENT, source=PRIOR, **{which: singular}, shape_xyz=(3, 3, 3))
    with pytest.raises(DicomContentError, match=rf"(?s){which.capitalize()}DeformationMatrix.*singular"):
        load_deformable_registrations(path)
