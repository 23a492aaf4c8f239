"""Spatial Registration (rigid, direction), Deformable Spatial Registration, CT series."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence

from dosimetry.errors import ArgumentError, ConsistencyError, DicomContentError, UnsupportedDataError
from dosimetry.io import load_ct_series, load_ct_volume, load_deformable_registrations, load_registration, load_registrations
from tests import dicom_factory as f

PRIOR = f.uid("prior-frame")


def test_direction_item_frame_onto_own_frame(tmp_path: Path) -> None:
    m = f.rigid_matrix(90.0, (10.0, 0.0, -5.0))
    reg = load_registration(f.make_reg(tmp_path, source_frame_uid=PRIOR, matrix=m))
    assert (reg.source_frame_uid, reg.target_frame_uid) == (PRIOR, f.DEFAULT_IDENTITY.frame_of_reference_uid)
    # (1, 0, 0) rotated by 90 deg about z is (0, 1, 0), then translated
    np.testing.assert_allclose(reg.map_points(np.array([[1.0, 0.0, 0.0]])), [[10.0, 1.0, -5.0]], atol=1e-9)
    np.testing.assert_allclose(reg.inverse().map_points(np.array([[10.0, 1.0, -5.0]])), [[1.0, 0.0, 0.0]], atol=1e-9)


def test_matrix_sequence_composed_in_order(tmp_path: Path) -> None:
    first = f.rigid_matrix(90.0, (0, 0, 0))
    second = f.rigid_matrix(0.0, (5.0, 0, 0))

    def edit(ds: Dataset) -> None:
        item = ds.RegistrationSequence[1].MatrixRegistrationSequence[0]
        extra = Dataset()
        extra.FrameOfReferenceTransformationMatrixType = "RIGID"
        extra.FrameOfReferenceTransformationMatrix = [f.ds_text(v) for v in second.ravel()]
        item.MatrixSequence = DicomSequence([item.MatrixSequence[0], extra])

    reg = load_registration(f.make_reg(tmp_path, source_frame_uid=PRIOR, matrix=first, edit=edit))
    # rotate first, then translate: (1,0,0) -> (0,1,0) -> (5,1,0)
    np.testing.assert_allclose(reg.map_points(np.array([[1.0, 0.0, 0.0]])), [[5.0, 1.0, 0.0]], atol=1e-9)


def test_non_rigid_matrix_refused(tmp_path: Path) -> None:
    m = np.diag([1.1, 1.0, 1.0, 1.0])
    with pytest.raises(UnsupportedDataError, match="not a rigid transform"):
        load_registration(f.make_reg(tmp_path, source_frame_uid=PRIOR, matrix=m, matrix_type="RIGID_SCALE"))


def test_registration_of_own_frame_only(tmp_path: Path) -> None:
    path = f.make_reg(tmp_path, source_frame_uid=f.DEFAULT_IDENTITY.frame_of_reference_uid, matrix=np.eye(4))
    assert load_registrations(path) == ()
    with pytest.raises(ConsistencyError, match="maps 0 other frames"):
        load_registration(path)


def test_deformable_registration_grid(tmp_path: Path) -> None:
    vectors = np.zeros((2, 3, 4, 3))
    vectors[1, 2, 3] = (3.0, 4.0, 0.0)
    pre = f.rigid_matrix(0.0, (1.0, 2.0, 3.0))
    path = f.make_deformable_reg(tmp_path, source_frame_uid=PRIOR, vectors_zyx3_mm=vectors, origin_mm=(-10, -10, -5), resolution_mm=(2, 3, 4), pre_matrix=pre)
    (dreg,) = load_deformable_registrations(path)
    assert dreg.source_frame_uid == PRIOR and dreg.target_frame_uid == f.DEFAULT_IDENTITY.frame_of_reference_uid
    assert dreg.grid_dimensions_xyz == (4, 3, 2)
    assert dreg.max_displacement_mm == pytest.approx(5.0)
    np.testing.assert_allclose(dreg.vectors_mm[1, 2, 3], [3, 4, 0])
    np.testing.assert_allclose(dreg.pre_matrix, pre)
    np.testing.assert_allclose(dreg.post_matrix, np.eye(4))
    assert dreg.resolution_mm == (2.0, 3.0, 4.0)


def test_ct_series_order_and_geometry(tmp_path: Path) -> None:
    paths = f.make_ct_series(tmp_path, z_positions_mm=(9.0, 0.0, 6.0, 3.0), rows=6, columns=8, pixel_spacing_mm=(1.5, 2.0), origin_xy_mm=(-7.0, -4.0))
    ct = load_ct_series(tmp_path)
    np.testing.assert_allclose(ct.grid.z_mm, [0, 3, 6, 9])
    np.testing.assert_allclose(ct.grid.x_mm, -7.0 + 2.0 * np.arange(8))
    np.testing.assert_allclose(ct.grid.y_mm, -4.0 + 1.5 * np.arange(6))
    assert ct.slice_paths == (paths[1], paths[3], paths[2], paths[0])
    assert ct.warnings == ()
    hu = load_ct_volume(ct)
    assert hu.shape == (4, 6, 8) and hu.min() == -1000 and hu.max() == 0


def test_ct_feet_first_flipped(tmp_path: Path) -> None:
    f.make_ct_series(tmp_path, orientation="FFS", origin_xy_mm=(20.0, -4.0))
    ct = load_ct_series(tmp_path)
    np.testing.assert_allclose(ct.grid.x_mm, 20.0 - 2.0 * np.arange(8)[::-1])
    assert ct.orientation == "FFS"


def test_ct_inconsistent_spacing_warned(tmp_path: Path) -> None:
    f.make_ct_series(tmp_path, z_positions_mm=(0.0, 3.0, 6.0, 12.0, 15.0))
    ct = load_ct_series(tmp_path)
    assert len(ct.warnings) == 1 and "inconsistent slice spacing" in ct.warnings[0] and "6 mm between 6 and 12" in ct.warnings[0]
    np.testing.assert_allclose(ct.grid.z_mm, [0, 3, 6, 12, 15])


def test_ct_duplicate_slice_refused(tmp_path: Path) -> None:
    f.make_ct_series(tmp_path, z_positions_mm=(0.0, 3.0, 3.0))
    with pytest.raises(ConsistencyError, match="same position 3"):
        load_ct_series(tmp_path)


def test_ct_several_series_need_a_choice(tmp_path: Path) -> None:
    f.make_ct_series(tmp_path / "a", seed="a")
    f.make_ct_series(tmp_path / "b", seed="b")
    with pytest.raises(ArgumentError, match="give series_instance_uid"):
        load_ct_series(tmp_path)
    assert load_ct_series(tmp_path, series_instance_uid=f.uid("b-series")).n_slices == 4


def test_ct_volume_zero_rescale_slope_refused(tmp_path: Path) -> None:
    """RescaleSlope 0 is not a usable slope; it used to be replaced by 1 without a word."""
    import pydicom

    paths = f.make_ct_series(tmp_path)
    ds = pydicom.dcmread(paths[2])
    ds.RescaleSlope = 0
    ds.save_as(paths[2])
    with pytest.raises(DicomContentError, match=r"\(0028,1053\) RescaleSlope is 0"):
        load_ct_volume(load_ct_series(tmp_path))


@pytest.mark.parametrize("dims", [24, [4, 6]])
def test_deformable_grid_dimensions_not_three_values_refused(tmp_path: Path, dims: object) -> None:
    """GridDimensions with one value (pydicom gives an int) used to escape as a TypeError."""
    import pydicom

    path = f.make_deformable_reg(tmp_path, source_frame_uid=PRIOR, vectors_zyx3_mm=np.zeros((2, 3, 4, 3)))
    ds = pydicom.dcmread(path)
    ds.DeformableRegistrationSequence[0].DeformableRegistrationGridSequence[0].GridDimensions = dims
    ds.save_as(path)
    with pytest.raises(DicomContentError, match=r"\(0064,0007\) GridDimensions in .* expected three positive integers"):
        load_deformable_registrations(path)


@pytest.mark.parametrize(
    ("keyword", "value", "message"),
    [
        ("GridResolution", [2.0, 0.0, 4.0], r"\(0064,0008\) GridResolution .* expected three positive spacings"),
        ("VectorGridData", b"\x00" * 10, r"\(0064,0009\) VectorGridData .* holds 10 bytes"),  # was a numpy ValueError
        ("VectorGridData", np.full(72, np.nan, dtype="<f4").tobytes(), r"\(0064,0009\) VectorGridData .* non-finite"),  # was a nan displacement
    ],
)
def test_deformable_grid_bad_resolution_or_vectors_refused(tmp_path: Path, keyword: str, value: object, message: str) -> None:
    import pydicom

    path = f.make_deformable_reg(tmp_path, source_frame_uid=PRIOR, vectors_zyx3_mm=np.zeros((2, 3, 4, 3)))
    ds = pydicom.dcmread(path)
    setattr(ds.DeformableRegistrationSequence[0].DeformableRegistrationGridSequence[0], keyword, value)
    ds.save_as(path)
    with pytest.raises(DicomContentError, match=message):
        load_deformable_registrations(path)


def test_ct_folder_lists_every_skipped_file_with_its_reason(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Oracle: construction. Beside four CT slices the folder holds a broken symbolic link, a link to a folder and a
    text file, each of which the folder walker (dosimetry.io.folder_walk) or the DICOM probe leaves out for a reason
    of its own; the CT series must name each, with that reason, in its warnings and the log (they were dropped
    without a word)."""
    import logging

    from dosimetry.io.folder_walk import walk_files

    f.make_ct_series(tmp_path / "ct")
    folder = tmp_path / "ct"
    (folder / "dangling.dcm").symlink_to(tmp_path / "gone.dcm")
    (tmp_path / "elsewhere").mkdir()
    (folder / "more").symlink_to(tmp_path / "elsewhere")
    (folder / "notes.txt").write_text("planning notes, not DICOM\n")
    with caplog.at_level(logging.WARNING, logger="dosimetry.io.ct_reader"):
        ct = load_ct_series(folder)
    assert ct.n_slices == 4
    walker = {s.path.name: s.reason for s in walk_files(folder).skipped}
    assert set(walker) == {"dangling.dcm", "more"}
    skipped = {s.path.name: s.reason for s in ct.skipped}
    assert set(skipped) == {"dangling.dcm", "more", "notes.txt"}
    for name in ("dangling.dcm", "more"):
        assert skipped[name] == walker[name]
        assert f"skipped {name}: {walker[name]}" in ct.warnings
    assert any(w.startswith("skipped notes.txt: ") for w in ct.warnings)
    logged = caplog.text
    assert all(name in logged for name in skipped) and "symbolic link" in logged
