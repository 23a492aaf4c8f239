"""RT Dose quirks: orientation, frame offsets, transfer syntaxes, scaling, units, dose and summation types."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dosimetry.dose import DoseSummationType, DoseType
from dosimetry.errors import ArgumentError, ConsistencyError, DicomContentError, GeometryError, UnsupportedDataError
from dosimetry.io import load_beam_doses, load_dose, load_plan, read_dose_header
from tests import dicom_factory as f


def _expected_on_grid(dose) -> np.ndarray:  # type: ignore[no-untyped-def]
    """The factory's position-encoding dose evaluated at the canonical grid's own coordinates."""
    zz, yy, xx = np.meshgrid(dose.grid.z_mm, dose.grid.y_mm, dose.grid.x_mm, indexing="ij")
    return f.linear_dose_gy(np.stack([xx, yy, zz], axis=-1))


def _assert_voxels_at_right_positions(path: Path, shape_frc, orientation, position, spacing, offsets, absolute=False) -> None:  # type: ignore[no-untyped-def]
    dose = load_dose(path)
    # every stored voxel: its LPS position by the DICOM formula, then the canonical voxel there
    pts = f.voxel_positions_lps(shape_frc, orientation, position, spacing, offsets, absolute_offsets=absolute).reshape(-1, 3)
    stored = f.linear_dose_gy(pts)
    ix = np.searchsorted(dose.grid.x_mm, pts[:, 0] - 1e-6)
    iy = np.searchsorted(dose.grid.y_mm, pts[:, 1] - 1e-6)
    iz = np.searchsorted(dose.grid.z_mm, pts[:, 2] - 1e-6)
    np.testing.assert_allclose(dose.grid.x_mm[ix], pts[:, 0], atol=1e-6)
    np.testing.assert_allclose(dose.grid.y_mm[iy], pts[:, 1], atol=1e-6)
    np.testing.assert_allclose(dose.grid.z_mm[iz], pts[:, 2], atol=1e-6)
    np.testing.assert_allclose(dose.dose_gy[iz, iy, ix], stored, atol=1e-4)
    assert dose.dose_gy.size == len(pts)  # a permutation: every canonical voxel is some stored voxel


@pytest.mark.parametrize("orientation", sorted(f.ORIENTATIONS))
@pytest.mark.parametrize("transfer_syntax", ["implicit_le", "explicit_le", "explicit_be", "rle"])
def test_all_orientations_and_transfer_syntaxes(tmp_path: Path, orientation: str, transfer_syntax: str) -> None:
    shape, position, spacing, offsets = (3, 4, 5), (12.0, -7.0, 40.0), (2.0, 3.0), (0.0, 2.5, 5.0)
    path = f.make_rt_dose(
        tmp_path, shape_frc=shape, orientation=orientation, position_mm=position, pixel_spacing_mm=spacing,
        offsets_mm=offsets, transfer_syntax=transfer_syntax, bits_allocated=16 if transfer_syntax == "rle" else 32,
        scaling=1e-2 if transfer_syntax == "rle" else 1e-4,
    )
    _assert_voxels_at_right_positions(path, shape, orientation, position, spacing, offsets)
    header = read_dose_header(path)
    assert header.orientation == orientation
    # canonical grid: x, y, z increasing, 4*5 in-plane voxels, 3 planes
    assert header.grid.shape_zyx[0] == 3 and sorted(header.grid.shape_zyx[1:]) == [4, 5]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    orientation=st.sampled_from(sorted(f.ORIENTATIONS)),
    n_frames=st.integers(1, 4),
    steps=st.lists(st.floats(0.5, 6.0), min_size=3, max_size=3),
    descending=st.booleans(),
    spacing=st.tuples(st.floats(0.5, 5.0), st.floats(0.5, 5.0)),
    position=st.tuples(st.floats(-300, 300), st.floats(-300, 300), st.floats(-300, 300)),
)
def test_property_every_voxel_lands_at_its_lps_position(tmp_path_factory, orientation, n_frames, steps, descending, spacing, position) -> None:  # type: ignore[no-untyped-def]
    offsets = np.concatenate([[0.0], np.cumsum(steps[: n_frames - 1])])
    if descending:
        offsets = -offsets
    offsets = np.round(offsets, 3)
    spacing = (round(spacing[0], 3), round(spacing[1], 3))
    position = tuple(round(p, 2) for p in position)
    directory = tmp_path_factory.mktemp("prop")
    path = f.make_rt_dose(directory, shape_frc=(n_frames, 3, 4), orientation=orientation, position_mm=position,
                          pixel_spacing_mm=spacing, offsets_mm=offsets.tolist(), slice_thickness_mm=2.0,
                          dose_fn=lambda p: f.linear_dose_gy(p) + 400.0)
    dose = load_dose(path)
    pts = f.voxel_positions_lps((n_frames, 3, 4), orientation, position, spacing, offsets).reshape(-1, 3)
    ix = np.abs(dose.grid.x_mm[None, :] - pts[:, :1]).argmin(axis=1)
    iy = np.abs(dose.grid.y_mm[None, :] - pts[:, 1:2]).argmin(axis=1)
    iz = np.abs(dose.grid.z_mm[None, :] - pts[:, 2:3]).argmin(axis=1)
    np.testing.assert_allclose(np.c_[dose.grid.x_mm[ix], dose.grid.y_mm[iy], dose.grid.z_mm[iz]], pts, atol=1e-6)
    np.testing.assert_allclose(dose.dose_gy[iz, iy, ix], f.linear_dose_gy(pts) + 400.0, atol=1e-4)
    assert np.all(np.diff(dose.grid.z_mm) > 0)


def test_absolute_offsets_ascending(tmp_path: Path) -> None:
    offsets = (40.0, 42.5, 45.0)
    path = f.make_rt_dose(tmp_path, shape_frc=(3, 4, 5), position_mm=(0.0, 0.0, 40.0), offsets_mm=offsets, absolute_offsets=True)
    dose = load_dose(path)
    np.testing.assert_allclose(dose.grid.z_mm, offsets)
    assert read_dose_header(path).offsets_interpretation == "absolute"
    np.testing.assert_allclose(dose.dose_gy, _expected_on_grid(dose), atol=1e-4)


def test_absolute_offsets_descending_non_uniform(tmp_path: Path) -> None:
    offsets = (40.0, 37.0, 36.0, 30.0)
    path = f.make_rt_dose(tmp_path, shape_frc=(4, 4, 5), position_mm=(0.0, 0.0, 40.0), offsets_mm=offsets, absolute_offsets=True)
    dose = load_dose(path)
    np.testing.assert_allclose(dose.grid.z_mm, [30.0, 36.0, 37.0, 40.0])
    np.testing.assert_allclose(dose.dose_gy, _expected_on_grid(dose), atol=1e-4)
    assert not dose.grid.z_is_uniform
    assert any("unevenly spaced" in w for w in dose.warnings)
    # slab thicknesses: boundaries half-way between centres -> 33, 36.5, 38.5, 41.5 ... exact
    np.testing.assert_allclose(dose.grid.z_edges_mm, [27.0, 33.0, 36.5, 38.5, 41.5])


def test_relative_offsets_non_uniform_descending(tmp_path: Path) -> None:
    offsets = (0.0, -2.0, -5.0, -6.0)
    path = f.make_rt_dose(tmp_path, shape_frc=(4, 3, 3), position_mm=(0.0, 0.0, 10.0), offsets_mm=offsets)
    dose = load_dose(path)
    np.testing.assert_allclose(dose.grid.z_mm, [4.0, 5.0, 8.0, 10.0])
    np.testing.assert_allclose(dose.dose_gy, _expected_on_grid(dose), atol=1e-4)


def test_offsets_neither_relative_nor_absolute_refused(tmp_path: Path) -> None:
    path = f.make_rt_dose(tmp_path, shape_frc=(2, 3, 3), position_mm=(0.0, 0.0, 10.0), offsets_mm=(5.0, 7.5))
    with pytest.raises(DicomContentError, match=r"\(3004,000C\) GridFrameOffsetVector starts at 5"):
        load_dose(path)


def test_offsets_count_mismatch_refused(tmp_path: Path) -> None:
    path = f.make_rt_dose(tmp_path, shape_frc=(3, 3, 3), edit=lambda ds: setattr(ds, "GridFrameOffsetVector", [0.0, 2.5]))
    with pytest.raises(DicomContentError, match="has 2 values, expected one per frame"):
        load_dose(path)


def test_repeated_planes_refused(tmp_path: Path) -> None:
    path = f.make_rt_dose(tmp_path, shape_frc=(3, 3, 3), offsets_mm=(0.0, 2.5, 2.5))
    with pytest.raises(GeometryError, match="not strictly monotonic"):
        load_dose(path)


def test_oblique_refused(tmp_path: Path) -> None:
    c, s = np.cos(np.deg2rad(10)), np.sin(np.deg2rad(10))
    path = f.make_rt_dose(tmp_path, orientation=(c, s, 0.0, -s, c, 0.0))
    with pytest.raises(UnsupportedDataError, match=r"\(0020,0037\) ImageOrientationPatient .* oblique"):
        load_dose(path)


def test_near_axis_cosines_accepted(tmp_path: Path) -> None:
    # vendors write 1e-16-sized residues; within COSINE_TOLERANCE they are axis-aligned
    path = f.make_rt_dose(tmp_path, orientation=(1.0, 1e-9, 0.0, -1e-9, 1.0, 0.0))
    dose = load_dose(path)
    np.testing.assert_allclose(dose.dose_gy, _expected_on_grid(dose), atol=1e-4)


def test_dose_grid_scaling_applied(tmp_path: Path) -> None:
    stored = np.arange(2 * 3 * 4).reshape(2, 3, 4) * 1.0
    path = f.make_rt_dose(tmp_path, shape_frc=(2, 3, 4), dose_frc_gy=stored * 0.0025, scaling=0.0025)
    dose = load_dose(path)
    assert dose.max_gy == pytest.approx(23 * 0.0025)
    assert dose.dose_gy.sum() == pytest.approx(stored.sum() * 0.0025)


def test_16_bit_dose(tmp_path: Path) -> None:
    path = f.make_rt_dose(tmp_path, bits_allocated=16, scaling=0.01)
    dose = load_dose(path)
    np.testing.assert_allclose(dose.dose_gy, _expected_on_grid(dose), atol=0.005 + 1e-9)


def test_missing_dose_grid_scaling(tmp_path: Path) -> None:
    path = f.make_rt_dose(tmp_path, edit=lambda ds: delattr(ds, "DoseGridScaling"))
    with pytest.raises(DicomContentError, match=r"\(3004,000E\) DoseGridScaling is missing"):
        load_dose(path)


def test_relative_units_refused_without_normalisation(tmp_path: Path) -> None:
    path = f.make_rt_dose(tmp_path, units="RELATIVE", dose_frc_gy=np.full((4, 5, 6), 0.5))
    with pytest.raises(UnsupportedDataError, match=r"\(3004,0002\) DoseUnits is RELATIVE; give normalisation_gy"):
        load_dose(path)
    dose = load_dose(path, normalisation_gy=60.0)
    np.testing.assert_allclose(dose.dose_gy, 30.0)
    assert any("RELATIVE" in w for w in dose.warnings)


def test_normalisation_for_gy_dose_refused(tmp_path: Path) -> None:
    with pytest.raises(ArgumentError, match="RELATIVE doses only"):
        load_dose(f.make_rt_dose(tmp_path), normalisation_gy=2.0)


def test_other_units_refused(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedDataError, match="DoseUnits is 'CGY', expected GY"):
        load_dose(f.make_rt_dose(tmp_path, units="CGY"))


@pytest.mark.parametrize("dose_type", ["PHYSICAL", "EFFECTIVE", "ERROR"])
def test_dose_type_kept(tmp_path: Path, dose_type: str) -> None:
    assert load_dose(f.make_rt_dose(tmp_path, dose_type=dose_type)).dose_type is DoseType(dose_type)


def test_unknown_dose_type_refused(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedDataError, match=r"\(3004,0004\) DoseType is 'BIOLOGICAL'"):
        load_dose(f.make_rt_dose(tmp_path, dose_type="BIOLOGICAL"))


def test_fraction_dose_kept_unscaled_with_warning(tmp_path: Path) -> None:
    path = f.make_rt_dose(tmp_path, summation="FRACTION", dose_frc_gy=np.full((4, 5, 6), 2.5), referenced_plan_uid=f.uid("p"))
    dose = load_dose(path)
    np.testing.assert_allclose(dose.dose_gy, 2.5)
    assert dose.summation_type is DoseSummationType.FRACTION
    assert "not scaled" in dose.description and any("give fractions=" in w for w in dose.warnings)


def test_fraction_dose_scaled_when_asked(tmp_path: Path) -> None:
    path = f.make_rt_dose(tmp_path, summation="FRACTION", dose_frc_gy=np.full((4, 5, 6), 2.5))
    dose = load_dose(path, fractions=22)
    np.testing.assert_allclose(dose.dose_gy, 55.0)
    assert dose.summation_type is DoseSummationType.PLAN
    assert "x 22 fractions" in dose.description


def test_fractions_for_plan_dose_refused(tmp_path: Path) -> None:
    with pytest.raises(ArgumentError, match="already a total"):
        load_dose(f.make_rt_dose(tmp_path, summation="PLAN"), fractions=22)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_bad_fractions_argument(tmp_path: Path, bad: object) -> None:
    with pytest.raises(ArgumentError):
        load_dose(f.make_rt_dose(tmp_path, summation="FRACTION"), fractions=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf"), "60", True])
def test_bad_normalisation_argument(tmp_path: Path, bad: object) -> None:
    """A string used to escape as a TypeError, True to be taken as 1 Gy."""
    with pytest.raises(ArgumentError, match="normalisation_gy must be a positive number of Gy"):
        load_dose(f.make_rt_dose(tmp_path, units="RELATIVE"), normalisation_gy=bad)  # type: ignore[arg-type]


def _beam_plan(tmp_path: Path) -> Path:
    beams = (f.BeamSpec(1, "G0"), f.BeamSpec(2, "G90"), f.BeamSpec(3, "G270"))
    return f.make_rt_plan(tmp_path, beams=beams, seed="beamplan")


def test_beam_doses_summed(tmp_path: Path) -> None:
    plan = load_plan(_beam_plan(tmp_path))
    paths = [
        f.make_rt_dose(tmp_path, filename=f"RD{b}.dcm", summation="BEAM", beam_number=b, referenced_plan_uid=plan.sop_instance_uid,
                       dose_frc_gy=np.full((4, 5, 6), float(b)), seed=f"beam{b}")
        for b in (1, 2, 3)
    ]
    one = load_dose(paths[0])
    assert one.summation_type is DoseSummationType.BEAM and one.referenced_beam_number == 1
    total = load_beam_doses(paths, plan)
    np.testing.assert_allclose(total.dose_gy, 6.0)
    assert total.summation_type is DoseSummationType.PLAN
    assert total.referenced_plan_uid == plan.sop_instance_uid


def test_beam_doses_resampled_onto_first_grid(tmp_path: Path) -> None:
    plan = load_plan(_beam_plan(tmp_path))
    kwargs = dict(summation="BEAM", referenced_plan_uid=plan.sop_instance_uid, shape_frc=(6, 8, 8), pixel_spacing_mm=(2.0, 2.0), offsets_mm=[2.0 * k for k in range(6)])
    a = f.make_rt_dose(tmp_path, filename="a.dcm", beam_number=1, position_mm=(0, 0, 0), seed="a", **kwargs)  # type: ignore[arg-type]
    b = f.make_rt_dose(tmp_path, filename="b.dcm", beam_number=2, position_mm=(1, 1, 1), seed="b", **kwargs)  # type: ignore[arg-type]
    c = f.make_rt_dose(tmp_path, filename="c.dcm", beam_number=3, position_mm=(0, 0, 0), seed="c", **kwargs)  # type: ignore[arg-type]
    total = load_beam_doses([a, b, c], plan)
    # the linear dose is reproduced exactly by trilinear interpolation inside b's grid
    inside = (total.grid.x_mm[None, None, :] >= 1) & (total.grid.y_mm[None, :, None] >= 1) & (total.grid.z_mm[:, None, None] >= 1)
    expected = 3 * _expected_on_grid(total)
    np.testing.assert_allclose(total.dose_gy[inside], expected[inside], atol=1e-3)
    assert any("resampled" in w and "outside its grid" in w for w in total.warnings)


def test_partial_beam_set_refused(tmp_path: Path) -> None:
    plan = load_plan(_beam_plan(tmp_path))
    paths = [f.make_rt_dose(tmp_path, filename=f"RD{b}.dcm", summation="BEAM", beam_number=b, referenced_plan_uid=plan.sop_instance_uid, seed=f"b{b}") for b in (1, 3)]
    with pytest.raises(ConsistencyError, match=r"missing beams \[2\]"):
        load_beam_doses(paths, plan)


def test_beam_dose_of_other_plan_refused(tmp_path: Path) -> None:
    plan = load_plan(_beam_plan(tmp_path))
    path = f.make_rt_dose(tmp_path, summation="BEAM", beam_number=1, referenced_plan_uid=f.uid("other"))
    with pytest.raises(ConsistencyError, match="expected plan"):
        load_beam_doses([path], plan)


def test_plan_dose_in_beam_sum_refused(tmp_path: Path) -> None:
    plan = load_plan(_beam_plan(tmp_path))
    with pytest.raises(ConsistencyError, match="expected BEAM"):
        load_beam_doses([f.make_rt_dose(tmp_path, referenced_plan_uid=plan.sop_instance_uid)], plan)


def test_single_frame_needs_thickness(tmp_path: Path) -> None:
    path = f.make_rt_dose(tmp_path, shape_frc=(1, 3, 3), offsets_mm=(0.0,))
    with pytest.raises(DicomContentError, match=r"\(0018,0050\) SliceThickness"):
        load_dose(path)
    ok = load_dose(f.make_rt_dose(tmp_path, filename="ok.dcm", shape_frc=(1, 3, 3), offsets_mm=(0.0,), slice_thickness_mm=3.0))
    np.testing.assert_allclose(ok.grid.z_edges_mm, [-31.5, -28.5])


def test_missing_offsets_for_multiframe(tmp_path: Path) -> None:
    path = f.make_rt_dose(tmp_path, edit=lambda ds: delattr(ds, "GridFrameOffsetVector"))
    with pytest.raises(DicomContentError, match=r"\(3004,000C\) GridFrameOffsetVector is missing"):
        load_dose(path)


@pytest.mark.parametrize("value", ["abc", "2.5", "0", ""])
def test_number_of_frames_not_a_number(tmp_path: Path, value: str) -> None:
    with pytest.raises(DicomContentError, match=r"\(0028,0008\) NumberOfFrames"):
        load_dose(f.make_rt_dose(tmp_path, number_of_frames=value))


def test_number_of_frames_disagreeing_with_pixel_data(tmp_path: Path) -> None:
    path = f.make_rt_dose(tmp_path, shape_frc=(4, 5, 6), number_of_frames=3, edit=lambda ds: setattr(ds, "GridFrameOffsetVector", [0, 2.5, 5]))
    with pytest.raises((DicomContentError, UnsupportedDataError)):
        load_dose(path)


def test_sagittal_uniform_grid_supported(tmp_path: Path) -> None:
    # frames along x (sagittal planes): rows along -z, columns along y
    orientation = (0.0, 1.0, 0.0, 0.0, 0.0, -1.0)
    shape, position, spacing, offsets = (3, 4, 5), (5.0, -10.0, 20.0), (2.0, 3.0), (0.0, 1.5, 3.0)
    path = f.make_rt_dose(tmp_path, shape_frc=shape, orientation=orientation, position_mm=position, pixel_spacing_mm=spacing, offsets_mm=offsets)
    _assert_voxels_at_right_positions(path, shape, orientation, position, spacing, offsets)


def test_jpeg2000_lossless_dose(tmp_path: Path) -> None:
    # encoded and decoded by pylibjpeg-openjpeg (a test dependency); values must survive exactly
    path = f.make_rt_dose(tmp_path, transfer_syntax="jpeg2000_lossless", bits_allocated=16, scaling=0.01, orientation="HFP", shape_frc=(2, 40, 36))
    dose = load_dose(path)
    assert read_dose_header(path).transfer_syntax_uid == "1.2.840.10008.1.2.4.90"
    np.testing.assert_allclose(dose.dose_gy, _expected_on_grid(dose), atol=0.005 + 1e-9)


def test_undecodable_pixel_data_is_one_clear_error(tmp_path: Path) -> None:
    from pydicom.encaps import encapsulate
    from pydicom.uid import JPEGLSLossless

    def fake_jpeg_ls(ds):  # type: ignore[no-untyped-def]
        ds.file_meta.TransferSyntaxUID = JPEGLSLossless
        ds.PixelData = encapsulate([b"\xff\xd8not really jpeg-ls\xff\xd9"] * 4)
        ds["PixelData"].VR = "OB"
        ds["PixelData"].is_undefined_length = True

    path = f.make_rt_dose(tmp_path, edit=fake_jpeg_ls)
    with pytest.raises(UnsupportedDataError, match=r"cannot decode \(7FE0,0010\) PixelData \(transfer syntax JPEG-LS Lossless") as exc:
        load_dose(path)
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize("orientation", sorted(f.ORIENTATIONS))
def test_absolute_offsets_in_every_orientation(tmp_path: Path, orientation: str) -> None:
    # absolute offsets are plane z coordinates whatever the in-plane orientation; descending here
    offsets = (40.0, 37.5, 33.0)
    shape, position, spacing = (3, 4, 5), (7.0, -3.0, 40.0), (2.0, 3.0)
    path = f.make_rt_dose(tmp_path, shape_frc=shape, orientation=orientation, position_mm=position, pixel_spacing_mm=spacing,
                          offsets_mm=offsets, absolute_offsets=True)
    _assert_voxels_at_right_positions(path, shape, orientation, position, spacing, offsets, absolute=True)
    assert read_dose_header(path).offsets_interpretation == "absolute"


def test_signed_error_dose(tmp_path: Path) -> None:
    values = np.linspace(-2.0, 2.0, 4 * 5 * 6).reshape(4, 5, 6)
    path = f.make_rt_dose(tmp_path, dose_type="ERROR", signed=True, dose_frc_gy=values, scaling=1e-4)
    dose = load_dose(path)
    assert dose.dose_type is DoseType.ERROR
    assert dose.dose_gy.min() == pytest.approx(-2.0) and dose.dose_gy.max() == pytest.approx(2.0)
    assert not any("negative" in w for w in dose.warnings)  # negative values are expected in an ERROR dose


def test_negative_physical_dose_warned(tmp_path: Path) -> None:
    values = np.full((4, 5, 6), 1.0)
    values[0, 0, 0] = -0.5
    dose = load_dose(f.make_rt_dose(tmp_path, signed=True, dose_frc_gy=values))
    assert any("negative dose values" in w for w in dose.warnings)


def test_single_frame_leftover_offsets_not_starting_at_0_or_ipp_z_refused(tmp_path: Path) -> None:
    """One frame with a leftover offset vector [5, 7.5] while ImagePositionPatient z is -30: neither
    relative (first 0) nor absolute (first = IPP z); the plane used to be put at z = 5 mm, 35 mm
    away from where ImagePositionPatient says it is."""

    def leftover(first_mm: float):  # type: ignore[no-untyped-def]
        return lambda ds: setattr(ds, "GridFrameOffsetVector", [first_mm, first_mm + 2.5])

    path = f.make_rt_dose(tmp_path, shape_frc=(1, 3, 3), offsets_mm=(0.0,), slice_thickness_mm=3.0, edit=leftover(5.0))
    with pytest.raises(DicomContentError, match=r"\(3004,000C\) GridFrameOffsetVector starts at 5; expected 0"):
        load_dose(path)
    for name, first in (("relative.dcm", 0.0), ("absolute.dcm", -30.0)):
        ok = load_dose(f.make_rt_dose(tmp_path, filename=name, shape_frc=(1, 3, 3), offsets_mm=(0.0,), slice_thickness_mm=3.0, edit=leftover(first)))
        np.testing.assert_allclose(ok.grid.z_mm, [-30.0])  # the IPP z (-30 mm) in both readings


@pytest.mark.parametrize("orientation", ["HFS", "FFP"])
def test_loaded_dose_is_the_stored_integers_times_the_scaling_in_an_array_of_its_own(tmp_path: Path, orientation: str) -> None:
    """The reader multiplies pydicom's read-only view of the stored integers by DoseGridScaling and
    hands the result to DoseGrid without a copy (oracle: the integers read back with pydicom's
    default, writeable ``pixel_array``, converted to float64 and scaled, brought to (z, y, x) by
    the layout; numpy's ``shares_memory`` for the ownership)."""
    import pydicom

    from dosimetry.io.dose_reader import read_dose_header

    assert orientation in f.ORIENTATIONS
    path = f.make_rt_dose(tmp_path, shape_frc=(3, 4, 5), orientation=orientation, scaling=0.0025)
    dose = load_dose(path)
    ds = pydicom.dcmread(path)
    header = read_dose_header(path, ds)
    expected = header.layout.apply(ds.pixel_array.astype(np.float64) * float(ds.DoseGridScaling))
    np.testing.assert_array_equal(dose.dose_gy, expected)
    assert dose.dose_gy.base is None and not dose.dose_gy.flags.writeable
    again = load_dose(path)
    assert not np.shares_memory(dose.dose_gy, again.dose_gy)


def test_dose_grid_copies_an_array_its_caller_can_still_change() -> None:
    """DoseGrid keeps a read-only float64 array that owns its data (handed over) and copies any
    other, so changing the caller's array (or the base of a read-only view) later does not change
    the grid (oracle: numpy's ``shares_memory`` and the values before the change)."""
    from dosimetry.dose import DoseGrid
    from dosimetry.grid import RectilinearGrid

    grid = RectilinearGrid(np.arange(3.0), np.arange(2.0), np.arange(2.0), single_slice_thickness_mm=None)
    writeable = np.ones((2, 2, 3))
    base = np.ones((2, 2, 3))
    view = base[:]
    view.flags.writeable = False
    handed = np.ones((2, 2, 3))
    handed.flags.writeable = False
    kept = [DoseGrid(grid, a, DoseType.PHYSICAL, DoseSummationType.PLAN, "1.2.3") for a in (writeable, view, handed)]
    writeable[...] = 7.0
    base[...] = 7.0
    assert np.all(kept[0].dose_gy == 1.0) and np.all(kept[1].dose_gy == 1.0)
    assert not np.shares_memory(kept[0].dose_gy, writeable) and not np.shares_memory(kept[1].dose_gy, base)
    assert kept[2].dose_gy is handed
