"""Bringing the prior dose onto the current grid: registration direction (moved sphere), ITK
transform files, exact linear fields, coverage and the frame rules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from dosimetry.align import AlignmentMethod, align_prior_dose, load_itk_transform
from dosimetry.dose import DoseGrid, DoseSummationType, DoseType
from dosimetry.errors import ArgumentError, ConsistencyError, InputFileError
from dosimetry.grid import RectilinearGrid
from dosimetry.registration import RigidRegistration

PRIOR_FRAME = "1.2.826.0.1.3680043.8.498.10"
CURRENT_FRAME = "1.2.826.0.1.3680043.8.498.20"


def rotation(axis: str, degrees: float) -> np.ndarray:
    c, s = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
    if axis == "x":
        return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    if axis == "y":
        return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


# prior -> current: rotate 25 deg about z and 12 deg about x, then translate
PRIOR_TO_CURRENT = np.eye(4)
PRIOR_TO_CURRENT[:3, :3] = rotation("z", 25.0) @ rotation("x", 12.0)
PRIOR_TO_CURRENT[:3, 3] = [9.0, -6.0, 4.5]

SPHERE_CENTRE_PRIOR = np.array([6.0, -4.0, 3.0])
SPHERE_RADIUS_MM = 10.0


def points_zyx(grid: RectilinearGrid) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    z, y, x = np.meshgrid(grid.z_mm, grid.y_mm, grid.x_mm, indexing="ij")
    return x, y, z


def sphere_dose(grid: RectilinearGrid, centre: np.ndarray, frame: str) -> DoseGrid:
    x, y, z = points_zyx(grid)
    r = np.sqrt((x - centre[0]) ** 2 + (y - centre[1]) ** 2 + (z - centre[2]) ** 2)
    values = 30.0 / (1.0 + np.exp((r - SPHERE_RADIUS_MM) / 1.5))  # a sphere with a smooth edge
    return DoseGrid(grid, values, DoseType.PHYSICAL, DoseSummationType.PLAN, frame)


def centroid(dose: DoseGrid) -> np.ndarray:
    x, y, z = points_zyx(dose.grid)
    w = dose.dose_gy
    return np.array([(w * x).sum(), (w * y).sum(), (w * z).sum()]) / w.sum()


PRIOR_GRID = RectilinearGrid.uniform((-40.0, -40.0, -36.0), (2.0, 2.0, 3.0), (25, 40, 40))
CURRENT_GRID = RectilinearGrid.uniform((-31.3, -37.1, -30.2), (2.5, 2.5, 2.5), (26, 28, 28))
HALF_VOXEL_MM = 0.5 * 2.5


@pytest.fixture(scope="module")
def prior() -> DoseGrid:
    return sphere_dose(PRIOR_GRID, SPHERE_CENTRE_PRIOR, PRIOR_FRAME)


@pytest.fixture(scope="module")
def expected_centre() -> np.ndarray:
    return PRIOR_TO_CURRENT[:3, :3] @ SPHERE_CENTRE_PRIOR + PRIOR_TO_CURRENT[:3, 3]


def test_oracle_sphere_fits_both_grids(prior: DoseGrid, expected_centre: np.ndarray) -> None:
    assert np.linalg.norm(centroid(prior) - SPHERE_CENTRE_PRIOR) < 0.05
    # the moved sphere is well away from the place it started: a wrong direction would show
    assert np.linalg.norm(expected_centre - SPHERE_CENTRE_PRIOR) > 10.0


def test_registration_prior_to_current_moves_sphere(prior: DoseGrid, expected_centre: np.ndarray) -> None:
    reg = RigidRegistration(PRIOR_FRAME, CURRENT_FRAME, PRIOR_TO_CURRENT)
    aligned = align_prior_dose(prior, CURRENT_GRID, CURRENT_FRAME, registration=reg)
    assert aligned.method is AlignmentMethod.REGISTRATION
    assert "inverted" in aligned.transform_description
    assert np.linalg.norm(centroid(aligned.dose) - expected_centre) < HALF_VOXEL_MM
    # the peak voxel too
    x, y, z = points_zyx(CURRENT_GRID)
    peak = np.unravel_index(np.argmax(aligned.dose.dose_gy), CURRENT_GRID.shape_zyx)
    assert np.linalg.norm(np.array([x[peak], y[peak], z[peak]]) - expected_centre) < np.sqrt(3) * HALF_VOXEL_MM
    assert aligned.dose.frame_of_reference_uid == CURRENT_FRAME
    assert aligned.dose.dose_gy.max() == pytest.approx(prior.dose_gy.max(), rel=0.05)


def test_registration_current_to_prior_gives_same_result(prior: DoseGrid, expected_centre: np.ndarray) -> None:
    forward = RigidRegistration(PRIOR_FRAME, CURRENT_FRAME, PRIOR_TO_CURRENT)
    reverse = forward.inverse()  # current -> prior
    a = align_prior_dose(prior, CURRENT_GRID, CURRENT_FRAME, registration=forward)
    b = align_prior_dose(prior, CURRENT_GRID, CURRENT_FRAME, registration=reverse)
    assert "as is" in b.transform_description
    np.testing.assert_allclose(b.dose.dose_gy, a.dose.dose_gy, atol=1e-9)
    assert np.linalg.norm(centroid(b.dose) - expected_centre) < HALF_VOXEL_MM


def test_moving_back_recovers_the_original(prior: DoseGrid, expected_centre: np.ndarray) -> None:
    # the other direction: a "prior" dose in the current frame brought to the original frame
    moved = sphere_dose(CURRENT_GRID, expected_centre, CURRENT_FRAME)
    reg = RigidRegistration(PRIOR_FRAME, CURRENT_FRAME, PRIOR_TO_CURRENT)  # maps the target frame to the source's
    back = align_prior_dose(moved, PRIOR_GRID, PRIOR_FRAME, registration=reg)
    assert "as is" in back.transform_description
    assert np.linalg.norm(centroid(back.dose) - SPHERE_CENTRE_PRIOR) < 0.5 * 2.0


def test_wrong_direction_would_miss(prior: DoseGrid, expected_centre: np.ndarray) -> None:
    # applying the registration as if it mapped current -> prior puts the sphere elsewhere
    wrong = RigidRegistration(CURRENT_FRAME, PRIOR_FRAME, PRIOR_TO_CURRENT)
    aligned = align_prior_dose(prior, CURRENT_GRID, CURRENT_FRAME, registration=wrong)
    assert aligned.dose.dose_gy.sum() > 0
    assert np.linalg.norm(centroid(aligned.dose) - expected_centre) > 10.0


def _current_to_prior_euler() -> sitk.Euler3DTransform:
    inverse = np.linalg.inv(PRIOR_TO_CURRENT)
    transform = sitk.Euler3DTransform()
    transform.SetMatrix([float(v) for v in inverse[:3, :3].ravel()])
    transform.SetTranslation([float(v) for v in inverse[:3, 3]])
    return transform


def test_itk_rigid_file_maps_current_to_prior(tmp_path: Path, prior: DoseGrid, expected_centre: np.ndarray) -> None:
    path = tmp_path / "rigid.tfm"
    sitk.WriteTransform(_current_to_prior_euler(), str(path))
    aligned = align_prior_dose(prior, CURRENT_GRID, CURRENT_FRAME, transform=path)
    assert aligned.method is AlignmentMethod.TRANSFORM
    assert "Euler3DTransform" in aligned.transform_description
    assert np.linalg.norm(centroid(aligned.dose) - expected_centre) < HALF_VOXEL_MM
    reg = align_prior_dose(
        prior, CURRENT_GRID, CURRENT_FRAME, registration=RigidRegistration(PRIOR_FRAME, CURRENT_FRAME, PRIOR_TO_CURRENT)
    )
    np.testing.assert_allclose(aligned.dose.dose_gy, reg.dose.dose_gy, atol=1e-6)


def test_itk_affine_file_with_scaling(tmp_path: Path) -> None:
    # a linear dose field is reproduced exactly by trilinear interpolation: f(A p + t)
    x, y, z = points_zyx(PRIOR_GRID)
    prior = DoseGrid(PRIOR_GRID, 50.0 + 0.3 * x - 0.2 * y + 0.1 * z, DoseType.PHYSICAL, DoseSummationType.PLAN, PRIOR_FRAME)
    a = np.array([[1.05, 0.02, 0.0], [0.0, 0.97, 0.03], [0.01, 0.0, 1.02]])
    t = np.array([1.5, -2.0, 0.7])
    transform = sitk.AffineTransform(3)
    transform.SetMatrix([float(v) for v in a.ravel()])
    transform.SetTranslation([float(v) for v in t])
    path = tmp_path / "affine.tfm"
    sitk.WriteTransform(transform, str(path))
    target = RectilinearGrid.uniform((-20.0, -20.0, -15.0), (2.5, 2.5, 2.5), (10, 12, 12))
    aligned = align_prior_dose(prior, target, CURRENT_FRAME, transform=path)
    cx, cy, cz = points_zyx(target)
    px = a[0, 0] * cx + a[0, 1] * cy + a[0, 2] * cz + t[0]
    py = a[1, 0] * cx + a[1, 1] * cy + a[1, 2] * cz + t[1]
    pz = a[2, 0] * cx + a[2, 1] * cy + a[2, 2] * cz + t[2]
    np.testing.assert_allclose(aligned.dose.dose_gy, 50.0 + 0.3 * px - 0.2 * py + 0.1 * pz, atol=1e-9)
    assert aligned.uncovered_voxel_count == 0


def test_displacement_field_image(tmp_path: Path, prior: DoseGrid, expected_centre: np.ndarray) -> None:
    # a displacement field equal to the rigid current -> prior mapping, sampled on the current grid
    euler = _current_to_prior_euler()
    field = sitk.TransformToDisplacementField(
        euler,
        sitk.sitkVectorFloat64,
        (28, 28, 26),
        (-31.3, -37.1, -30.2),
        (2.5, 2.5, 2.5),
        (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0),
    )
    path = tmp_path / "field.nii.gz"
    sitk.WriteImage(field, str(path))
    transform = load_itk_transform(path)
    assert "DisplacementField" in transform.GetName()
    aligned = align_prior_dose(prior, CURRENT_GRID, CURRENT_FRAME, transform=path)
    assert np.linalg.norm(centroid(aligned.dose) - expected_centre) < HALF_VOXEL_MM


def test_non_uniform_grids_exact_on_linear_field() -> None:
    z_prior = np.array([-30.0, -27.0, -24.0, -20.0, -15.0, -12.0, -9.0, -3.0, 0.0, 3.0, 6.0, 10.0, 15.0, 20.0, 25.0])
    prior_grid = RectilinearGrid(np.arange(-30.0, 30.1, 2.0), np.arange(-30.0, 30.1, 2.0), z_prior)
    x, y, z = points_zyx(prior_grid)
    prior = DoseGrid(prior_grid, 40.0 + 0.2 * x + 0.1 * y - 0.3 * z, DoseType.PHYSICAL, DoseSummationType.PLAN, PRIOR_FRAME)
    target = RectilinearGrid(np.arange(-10.0, 10.1, 2.5), np.arange(-8.0, 8.1, 2.5), np.array([-12.0, -10.5, -6.0, 1.0, 2.0]))
    small_move = np.eye(4)
    small_move[:3, :3] = rotation("y", 5.0)
    small_move[:3, 3] = [1.0, 2.0, -1.0]
    reg = RigidRegistration(PRIOR_FRAME, CURRENT_FRAME, small_move)
    aligned = align_prior_dose(prior, target, CURRENT_FRAME, registration=reg)
    inverse = np.linalg.inv(small_move)
    cx, cy, cz = points_zyx(target)
    p = np.stack([cx, cy, cz], axis=-1) @ inverse[:3, :3].T + inverse[:3, 3]
    expected = 40.0 + 0.2 * p[..., 0] + 0.1 * p[..., 1] - 0.3 * p[..., 2]
    np.testing.assert_allclose(aligned.dose.dose_gy, expected, atol=1e-9)
    # the same prior on a uniform z grid through SimpleITK gives the same values on a non-uniform target
    uniform_prior_grid = RectilinearGrid.uniform((-30.0, -30.0, -30.0), (2.0, 2.0, 2.5), (23, 31, 31))
    ux, uy, uz = points_zyx(uniform_prior_grid)
    uniform_prior = DoseGrid(
        uniform_prior_grid, 40.0 + 0.2 * ux + 0.1 * uy - 0.3 * uz, DoseType.PHYSICAL, DoseSummationType.PLAN, PRIOR_FRAME
    )
    via_itk = align_prior_dose(uniform_prior, target, CURRENT_FRAME, registration=reg)
    np.testing.assert_allclose(via_itk.dose.dose_gy, expected, atol=1e-9)


def test_uncovered_volume_reported() -> None:
    prior_grid = RectilinearGrid.uniform((0.0, 0.0, 0.0), (2.0, 2.0, 2.0), (5, 5, 5))  # edges -1 .. 9 mm
    prior = DoseGrid(prior_grid, np.full((5, 5, 5), 10.0), DoseType.PHYSICAL, DoseSummationType.PLAN, PRIOR_FRAME)
    # current: x centres -5, -3, -1, 1, ..., 7 -> x = -5 and -3 fall outside (x = -1 lies on the edge: inside)
    current = RectilinearGrid.uniform((-5.0, 0.0, 0.0), (2.0, 2.0, 2.0), (5, 5, 7))
    aligned = align_prior_dose(prior, current, PRIOR_FRAME)
    assert aligned.method is AlignmentMethod.SAME_FRAME
    assert aligned.uncovered_voxel_count == 2 * 5 * 5
    assert aligned.uncovered_volume_cc == pytest.approx(50 * 0.008)
    np.testing.assert_array_equal(aligned.dose.dose_gy[:, :, :2], 0.0)
    np.testing.assert_allclose(aligned.dose.dose_gy[:, :, 2:], 10.0)
    assert any("0.40 cc" in w for w in aligned.warnings)


def test_same_frame_identity_is_exact(prior: DoseGrid) -> None:
    aligned = align_prior_dose(prior, PRIOR_GRID, PRIOR_FRAME)
    np.testing.assert_allclose(aligned.dose.dose_gy, prior.dose_gy, atol=1e-12)
    assert aligned.uncovered_voxel_count == 0
    assert aligned.warnings == ()


def test_different_frames_without_registration_refused(prior: DoseGrid) -> None:
    with pytest.raises(ConsistencyError, match="registration"):
        align_prior_dose(prior, CURRENT_GRID, CURRENT_FRAME)


def test_assume_same_position_warns(prior: DoseGrid) -> None:
    aligned = align_prior_dose(prior, CURRENT_GRID, CURRENT_FRAME, assume_same_position=True)
    assert aligned.method is AlignmentMethod.ASSUMED_SAME_POSITION
    assert any("ASSUMED" in w for w in aligned.warnings)
    assert any("ASSUMED" in w for w in aligned.dose.warnings)


def test_registration_of_other_frames_refused(prior: DoseGrid) -> None:
    reg = RigidRegistration("1.2.3", CURRENT_FRAME, np.eye(4))
    with pytest.raises(ConsistencyError, match="1.2.3"):
        align_prior_dose(prior, CURRENT_GRID, CURRENT_FRAME, registration=reg)


def test_options_exclusive(prior: DoseGrid) -> None:
    reg = RigidRegistration(PRIOR_FRAME, CURRENT_FRAME, np.eye(4))
    with pytest.raises(ArgumentError, match="at most one"):
        align_prior_dose(prior, CURRENT_GRID, CURRENT_FRAME, registration=reg, assume_same_position=True)


def test_bad_transform_file(tmp_path: Path, prior: DoseGrid) -> None:
    with pytest.raises(InputFileError, match="does not exist"):
        align_prior_dose(prior, CURRENT_GRID, CURRENT_FRAME, transform=tmp_path / "missing.tfm")
    junk = tmp_path / "junk.tfm"
    junk.write_text("not a transform\n")
    with pytest.raises(InputFileError, match="junk.tfm"):
        align_prior_dose(prior, CURRENT_GRID, CURRENT_FRAME, transform=junk)


@pytest.mark.parametrize("z_mm", [[0.0, 2.0, 4.0, 6.0, 8.0], [0.0, 2.0, 4.0, 7.0, 8.0]])
def test_border_half_voxel_holds_the_border_value(z_mm: list[float]) -> None:
    # between the outer centre (x = 0) and the outer edge (x = -1) the border value holds (no
    # extrapolation), the same through SimpleITK (uniform z) and scipy (non-uniform z)
    grid = RectilinearGrid(np.arange(0.0, 9.0, 2.0), np.arange(0.0, 9.0, 2.0), np.array(z_mm))
    x, _, _ = points_zyx(grid)
    prior = DoseGrid(grid, 10.0 + x, DoseType.PHYSICAL, DoseSummationType.PLAN, PRIOR_FRAME)
    target = RectilinearGrid.uniform((-1.2, 4.0, 4.0), (0.3, 1.0, 1.0), (2, 2, 6))  # x -1.2 .. 0.3
    aligned = align_prior_dose(prior, target, PRIOR_FRAME)
    np.testing.assert_allclose(aligned.dose.dose_gy[0, 0], [0.0, 10.0, 10.0, 10.0, 10.0, 10.3], atol=1e-9)
    assert aligned.uncovered_voxel_count == 2 * 2 * 1


def test_negative_values_are_not_mistaken_for_outside() -> None:
    grid = RectilinearGrid.uniform((0.0, 0.0, 0.0), (2.0, 2.0, 2.0), (3, 3, 3))
    difference = DoseGrid(grid, np.full((3, 3, 3), -1.5), DoseType.ERROR, DoseSummationType.PLAN, PRIOR_FRAME)
    target = RectilinearGrid.uniform((-3.0, 0.0, 0.0), (1.0, 1.0, 1.0), (2, 2, 5))  # x -3 .. 1, prior edges from -1
    aligned = align_prior_dose(difference, target, PRIOR_FRAME)
    np.testing.assert_allclose(aligned.dose.dose_gy[0, 0], [0.0, 0.0, -1.5, -1.5, -1.5])
    assert aligned.uncovered_voxel_count == 2 * 2 * 2


@pytest.mark.parametrize("z_mm", [[0.0, 2.0, 4.0, 6.0, 8.0], [0.0, 2.0, 4.0, 7.0, 8.0]])
def test_outer_faces_same_rule_on_both_paths(z_mm: list[float]) -> None:
    # prior x centres 0 .. 8 mm, edges -1 .. 9 mm; current x centres -1, 0, ..., 9 lie exactly on
    # both outer faces. SimpleITK counts the lower face inside and the upper face outside (its
    # continuous-index rule, start - 0.5 <= i < end + 0.5); the scipy path for a non-uniform prior z
    # must do the same, so that one geometry gives one answer whichever path resamples it.
    grid = RectilinearGrid(np.arange(0.0, 9.0, 2.0), np.arange(0.0, 9.0, 2.0), np.array(z_mm))
    prior = DoseGrid(grid, np.full(grid.shape_zyx, 10.0), DoseType.PHYSICAL, DoseSummationType.PLAN, PRIOR_FRAME)
    target = RectilinearGrid.uniform((-1.0, 4.0, 4.0), (1.0, 1.0, 1.0), (2, 2, 11))
    aligned = align_prior_dose(prior, target, PRIOR_FRAME)
    np.testing.assert_allclose(aligned.dose.dose_gy[0, 0], [10.0] * 10 + [0.0], atol=1e-12)
    assert aligned.uncovered_voxel_count == 2 * 2 * 1


def test_displacement_field_smaller_than_the_current_grid_is_flagged(tmp_path: Path) -> None:
    # ITK maps points outside a displacement field's domain with zero displacement (the identity),
    # silently; the aligned dose must say how much of the current grid that concerns.
    x, y, z = points_zyx(PRIOR_GRID)
    prior = DoseGrid(PRIOR_GRID, 50.0 + 0.3 * x, DoseType.PHYSICAL, DoseSummationType.PLAN, PRIOR_FRAME)
    target = RectilinearGrid.uniform((-20.0, -20.0, -15.0), (2.5, 2.5, 2.5), (10, 12, 12))  # x -20 .. 7.5
    values = np.zeros((10, 12, 8, 3))  # (z, y, x, vector): x centres -20 .. -2.5, edges -21.25 .. -1.25
    values[..., 0] = 4.0  # p_prior = p_current + 4 mm in x
    field = sitk.GetImageFromArray(values, isVector=True)
    field.SetOrigin((-20.0, -20.0, -15.0))
    field.SetSpacing((2.5, 2.5, 2.5))
    path = tmp_path / "small_field.nii.gz"
    sitk.WriteImage(field, str(path))
    aligned = align_prior_dose(prior, target, CURRENT_FRAME, transform=path)
    cx = points_zyx(target)[0]
    inside_field = cx < -1.25
    np.testing.assert_allclose(aligned.dose.dose_gy[inside_field], 50.0 + 0.3 * (cx[inside_field] + 4.0), atol=1e-9)
    np.testing.assert_allclose(aligned.dose.dose_gy[~inside_field], 50.0 + 0.3 * cx[~inside_field], atol=1e-9)
    outside_count = 4 * 12 * 10  # x = 0, 2.5, 5, 7.5
    notes = [w for w in aligned.warnings if "displacement field" in w]
    assert len(notes) == 1 and f"({outside_count} voxels)" in notes[0] and "zero displacement" in notes[0]
    assert f"{outside_count * 2.5**3 / 1000:.2f} cc" in notes[0]
    assert notes[0] in aligned.dose.warnings


def test_displacement_field_covering_the_grid_gives_no_note(tmp_path: Path, prior: DoseGrid) -> None:
    field = sitk.TransformToDisplacementField(
        _current_to_prior_euler(), sitk.sitkVectorFloat64, (28, 28, 26), (-31.3, -37.1, -30.2), (2.5, 2.5, 2.5),
        (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0),
    )
    aligned = align_prior_dose(prior, CURRENT_GRID, CURRENT_FRAME, transform=sitk.DisplacementFieldTransform(field))
    assert not any("displacement field" in w for w in aligned.warnings)


def test_displacement_field_domain_matches_itk_with_a_rotated_field() -> None:
    # oracle: ITK itself; a field displacing every point inside its domain by 1 mm leaves exactly the
    # points outside it unmoved
    from dosimetry.align.resample import outside_displacement_field

    values = np.zeros((6, 7, 8, 3))
    values[..., 2] = 1.0
    field = sitk.GetImageFromArray(values, isVector=True)
    field.SetOrigin((3.1, -4.2, 1.7))
    field.SetSpacing((2.0, 3.0, 2.5))
    field.SetDirection([float(v) for v in rotation("z", 30.0).ravel()])
    transform = sitk.DisplacementFieldTransform(field)
    grid = RectilinearGrid.uniform((-9.3, -11.1, -4.4), (1.7, 1.9, 2.3), (9, 14, 16))
    mask = outside_displacement_field(transform, grid)
    assert mask is not None and 0 < mask.sum() < mask.size
    x, y, z = points_zyx(grid)
    for index in np.ndindex(grid.shape_zyx):
        p = (float(x[index]), float(y[index]), float(z[index]))
        assert mask[index] == (transform.TransformPoint(p) == p), index
