"""The overlays' scene with less memory in the render process (issue 20): the same numbers.

* the stored CT (:func:`~dosimetry.io.ct_reader.load_ct_stored`), an axial plane read from its slice
  (:func:`~dosimetry.io.ct_reader.load_ct_axial_hu`) and the scene's CT (:class:`SceneCt`) give the
  HU of :func:`~dosimetry.io.load_ct_volume` bit for bit, with per-slice slopes and intercepts that
  are not trivial, in two orientations; and the same errors;
* the dose on a plane sampled from its block (:func:`~dosimetry.report.planes.dose_block`) is the
  dose sampled from the whole grid by scipy's ``RegularGridInterpolator`` (the code before), bit for
  bit, for planes on, between and beside the dose planes; the hand-written trilinear interpolation is
  that interpolator's numbers on random grids and points (edges, grid points and outside included);
* the render processes' messages carry arrays out of band unchanged;
* a scene started, built and drawn as in a render process (the dose released, late planes with
  their blocks) gives the PNGs of the scene built in the main process.

Oracles: ``load_ct_volume`` (unchanged), scipy's interpolator, the main-process scene."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pydicom
import pytest

from dosimetry.dose import DoseGrid, DoseSummationType, DoseType
from dosimetry.errors import ArgumentError, DicomContentError, DosimetryError
from dosimetry.grid import RectilinearGrid
from dosimetry.io import load_ct_series, load_ct_volume
from dosimetry.io.ct_reader import load_ct_axial_hu, load_ct_stored
from dosimetry.patient import load_patient
from dosimetry.report import render_process
from dosimetry.report.figure_sections import drawable_rois, hottest_voxels, overlay_ct_series
from dosimetry.report.overlay_scene import (
    BuildScene,
    DrawScenePlane,
    OverlayScene,
    SceneCt,
    SceneInputs,
    StartScene,
    centre_title,
)
from dosimetry.report.planes import PlaneAxis, _dose_at, ct_plane, dose_block, plane_index
from dosimetry.report.render_process import draw
from tests import dicom_factory as f

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "patient01"


# ------------------------------------------------------------------------------------ stored CT
def _ct_with_rescales(directory: Path, orientation: str) -> list[Path]:
    paths = f.make_ct_series(directory, z_positions_mm=(6.0, 0.0, 3.0, 9.0), rows=6, columns=8, orientation=orientation)
    slopes, intercepts = (2.5, 0.3, 1.0, 0.1), (-1000.0, 12.25, -1024.0, -0.7)
    rng = np.random.default_rng(7)
    for path, slope, intercept in zip(paths, slopes, intercepts, strict=True):
        ds = pydicom.dcmread(path)
        ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
        stored = rng.integers(-1200, 3000, size=ds.pixel_array.shape).astype(ds.pixel_array.dtype)
        ds.PixelData = stored.tobytes()
        ds.save_as(path)
    return paths


@pytest.mark.parametrize("orientation", ["HFS", "FFS"])
def test_stored_ct_planes_are_the_volume_planes(tmp_path: Path, orientation: str) -> None:
    _ct_with_rescales(tmp_path, orientation)
    series = load_ct_series(tmp_path)
    volume = load_ct_volume(series)
    stored = load_ct_stored(series)
    assert stored.shape_zyx == volume.shape and stored.stored_zyx.dtype.kind in "iu"
    nz, ny, nx = volume.shape
    for k in range(nz):
        assert np.array_equal(stored.hu((k,)), volume[k])
    for i in range(nx):
        assert np.array_equal(stored.hu((slice(None), slice(None), i)), volume[:, :, i])
    for j in range(ny):
        assert np.array_equal(stored.hu((slice(None), j)), volume[:, j, :])
    assert np.array_equal(stored.hu(...), volume)


def test_stored_ct_raises_as_the_volume(tmp_path: Path) -> None:
    """A slice of another size: tests/test_io_ct_volume.py (both loaders)."""
    paths = f.make_ct_series(tmp_path, rows=6, columns=8)
    ds = pydicom.dcmread(paths[2])
    ds.RescaleSlope = 0
    ds.save_as(paths[2])
    with pytest.raises(DicomContentError, match="RescaleSlope"):
        load_ct_stored(load_ct_series([paths[0], paths[2], paths[3]]))


# ------------------------------------------------------------------------------------ dose blocks
def _rgi(axes: tuple[np.ndarray, ...], values: np.ndarray, points: np.ndarray) -> np.ndarray:
    from scipy.interpolate import RegularGridInterpolator

    result = RegularGridInterpolator(axes, values, bounds_error=False, fill_value=0.0)(points)
    return np.nan_to_num(result, nan=0.0)


def _full_grid_plane(dose: DoseGrid, z: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The code before: the whole grid into scipy's interpolator (a single slice repeated)."""
    g = dose.grid
    values = np.asarray(dose.dose_gy)
    axes = []
    for coords, axis in ((g.z_mm, 0), (g.y_mm, 1), (g.x_mm, 2)):
        c = np.asarray(coords, dtype=np.float64)
        if c.size == 1:
            c = np.array([c[0] - 0.5, c[0] + 0.5])
            values = np.repeat(values, 2, axis=axis)
        axes.append(c)
    return _rgi(tuple(axes), values, np.stack(np.broadcast_arrays(z, y, x), axis=-1))


def test_trilinear_is_scipys_interpolator_bit_for_bit() -> None:
    rng = np.random.default_rng(3)
    for trial in range(40):
        sizes = rng.integers(2, 9, size=3)
        axes = tuple(np.cumsum(rng.uniform(0.3, 4.0, size=n)) - 5.0 for n in sizes)
        values = rng.normal(20.0, 15.0, size=tuple(sizes))
        if trial % 5 == 0:
            values[values < 10] = 0.0  # zeros and negative values next to each other
        n = 400
        points = [rng.uniform(a[0] - 2.0, a[-1] + 2.0, size=n) for a in axes]
        for p, a in zip(points, axes, strict=True):  # grid points, first and last ones included
            p[:60] = rng.choice(a, size=60)
            p[60] = a[-1]
            p[61] = a[0]
        expected = _rgi(axes, values, np.stack(points, axis=-1))
        from dosimetry.report.planes import DoseBlock

        got = _dose_at(DoseBlock(axes[0], axes[1], axes[2], values), *points)
        assert got.shape == expected.shape
        assert np.array_equal(got.view(np.int64), expected.view(np.int64))  # every bit, the sign of zeros too


def _dose(grid: RectilinearGrid, seed: int) -> DoseGrid:
    rng = np.random.default_rng(seed)
    return DoseGrid(grid=grid, dose_gy=rng.uniform(0.0, 70.0, size=grid.shape_zyx), dose_type=DoseType.PHYSICAL,
                    summation_type=DoseSummationType.PLAN, frame_of_reference_uid="1.2.3")


CT_GRID = RectilinearGrid.uniform((-20.0, -30.0, -10.0), (2.0, 2.0, 2.5), (9, 31, 21))
DOSE_GRIDS = (
    RectilinearGrid.uniform((-15.0, -25.0, -8.0), (3.0, 3.0, 3.0), (6, 17, 11)),  # CT planes between and on dose planes
    RectilinearGrid.uniform((-20.0, -30.0, -10.0), (2.0, 2.0, 2.5), (9, 31, 21)),  # the CT grid itself: every plane on one
    RectilinearGrid.uniform((-7.0, -11.0, -5.0), (1.0, 1.5, 1.25), (3, 4, 2)),  # small: many CT planes beside it
    RectilinearGrid(x_mm=np.arange(-15.0, 16.0, 3.0), y_mm=np.arange(-25.0, 20.0, 3.0),  # uneven z planes
                    z_mm=np.array([-10.0, -7.5, -6.0, -2.5, 0.0, 0.5, 5.0, 10.0])),
)


@pytest.mark.parametrize("which", range(len(DOSE_GRIDS)))
def test_a_plane_from_its_block_is_the_plane_from_the_whole_grid(which: int) -> None:
    dose = _dose(DOSE_GRIDS[which], which)
    ct = np.zeros(CT_GRID.shape_zyx)
    g = CT_GRID
    for axis in PlaneAxis:
        normal = {PlaneAxis.AXIAL: g.z_mm, PlaneAxis.SAGITTAL: g.x_mm, PlaneAxis.CORONAL: g.y_mm}[axis]
        for value in normal:
            point = {PlaneAxis.AXIAL: (0.0, 0.0, value), PlaneAxis.SAGITTAL: (value, 0.0, 0.0),
                     PlaneAxis.CORONAL: (0.0, value, 0.0)}[axis]
            block = dose_block(dose, g, axis, point)
            assert block.dose_gy.flags.c_contiguous and block.dose_gy.base is None  # its own copy
            from_block = ct_plane(ct, g, block, axis, point).dose_gy
            assert np.array_equal(ct_plane(ct, g, dose, axis, point).dose_gy, from_block)
            if axis is PlaneAxis.AXIAL:
                yy, xx = np.meshgrid(g.y_mm, g.x_mm, indexing="ij")
                expected = _full_grid_plane(dose, np.full_like(yy, value), yy, xx)
            elif axis is PlaneAxis.SAGITTAL:
                zz, yy = np.meshgrid(g.z_mm, g.y_mm, indexing="ij")
                expected = _full_grid_plane(dose, zz, yy, np.full_like(zz, value))
            else:
                zz, xx = np.meshgrid(g.z_mm, g.x_mm, indexing="ij")
                expected = _full_grid_plane(dose, zz, np.full_like(zz, value), xx)
            assert np.array_equal(from_block.view(np.int64), expected.view(np.int64)), (axis, value)


def test_a_single_plane_dose_is_sampled_as_before() -> None:
    grid = RectilinearGrid(x_mm=np.arange(-15.0, 16.0, 3.0), y_mm=np.arange(-25.0, 20.0, 3.0), z_mm=np.array([1.0]),
                           single_slice_thickness_mm=2.0)
    dose = _dose(grid, 11)
    g = CT_GRID
    for z in g.z_mm:
        yy, xx = np.meshgrid(g.y_mm, g.x_mm, indexing="ij")
        expected = _full_grid_plane(dose, np.full_like(yy, z), yy, xx)
        got = ct_plane(np.zeros(g.shape_zyx), g, dose_block(dose, g, PlaneAxis.AXIAL, (0.0, 0.0, z)), PlaneAxis.AXIAL, (0.0, 0.0, z))
        assert np.array_equal(got.dose_gy.view(np.int64), expected.view(np.int64))


# ------------------------------------------------------------------------------------ messages
def test_messages_carry_arrays_out_of_band_unchanged() -> None:
    rng = np.random.default_rng(5)
    c_order = rng.normal(size=(40, 30, 20))
    fortran = np.asfortranarray(rng.normal(size=(7, 9)))
    strided = c_order[:, :, 3]  # not contiguous: pickled in band
    small = np.arange(5, dtype=np.int16)
    empty = np.zeros((0, 0, 0))  # an empty box (BoxedOccupancy)
    frozen = np.arange(12.0).reshape(3, 4)
    frozen.flags.writeable = False  # as a DoseGrid's array
    message = (3, {"a": c_order, "f": fortran, "s": strided, "i": small, "e": empty, "r": frozen, "text": "x"}, None)
    stream = io.BytesIO()
    render_process._write_message(stream, message)
    render_process._write_message(stream, (4, b"png bytes", None, 0.5))
    stream.seek(0)
    number, got, rc = render_process._read_message(stream)
    assert number == 3 and rc is None and got["text"] == "x"
    for key, array in (("a", c_order), ("f", fortran), ("s", strided), ("i", small), ("e", empty), ("r", frozen)):
        assert got[key].dtype == array.dtype and got[key].shape == array.shape and np.array_equal(got[key], array)
    assert render_process._read_message(stream) == (4, b"png bytes", None, 0.5)
    assert render_process._read_message(stream) is render_process._EOF


def test_a_message_cut_short_is_the_end_of_the_stream() -> None:
    stream = io.BytesIO()
    render_process._write_message(stream, (1, np.ones(1000), None))
    cut = io.BytesIO(stream.getvalue()[:-10])
    assert render_process._read_message(cut) is render_process._EOF


# ------------------------------------------------------------------------------------ the scene
def test_a_scene_built_as_in_a_render_process_draws_the_main_process_pngs() -> None:
    patient = load_patient(SAMPLE)
    maps, dvhs = patient.patient_maps, patient.dvhs()
    document = patient.results().to_dict()
    inputs = SceneInputs(overlay_ct_series(maps), maps.current.dose, drawable_rois(dvhs), dvhs.end_cap)
    here = OverlayScene(inputs)
    state: dict[str, object] = {}
    StartScene("overlay-scene", 0, inputs).run(state)
    summary = BuildScene("overlay-scene", 0).run(state)
    assert summary == here.summary and summary.error is None
    scene = state["overlay_scenes"][0]  # type: ignore[index]
    with pytest.raises(DosimetryError, match="released"):
        scene.inputs  # noqa: B018  (the dose grid is not kept)
    point = here.point
    for axis in (PlaneAxis.AXIAL, PlaneAxis.SAGITTAL, PlaneAxis.CORONAL):
        expected = draw(here.plane_job(f"overlay-{axis.value}", axis, point, centre_title(axis, point, here.centre_from), None, 60.0, "Gy"))
        assert DrawScenePlane(f"overlay-{axis.value}", 0, axis, 60.0, "Gy").run(state) == expected
    hottest = hottest_voxels(maps, dvhs, document, [])
    assert hottest
    axial = {int(np.argmin(np.abs(inputs.series.grid.z_mm - at[2]))) for _, at, _ in hottest}
    here.extend(axial)
    scene.extend(axial)
    for fid, at, label in hottest:
        title = f"hottest {fid}"
        expected = draw(here.plane_job(fid, PlaneAxis.AXIAL, at, title, label, 60.0, "Gy"))
        block = dose_block(maps.current.dose, inputs.series.grid, PlaneAxis.AXIAL, at)
        assert DrawScenePlane(fid, 0, PlaneAxis.AXIAL, 60.0, "Gy", at, title, label, block).run(state) == expected
        with pytest.raises(DosimetryError, match="no dose for the axial plane"):
            scene.plane_job(fid, PlaneAxis.AXIAL, (at[0], at[1], at[2] + 40.0), title, label, 60.0, "Gy")


@pytest.mark.parametrize("orientation", ["HFS", "FFS"])
def test_an_axial_plane_read_from_its_slice_is_the_volume_plane(tmp_path: Path, orientation: str) -> None:
    _ct_with_rescales(tmp_path, orientation)
    series = load_ct_series(tmp_path)
    volume = load_ct_volume(series)
    for k in range(volume.shape[0]):
        assert np.array_equal(load_ct_axial_hu(series, k), volume[k])
    with pytest.raises(ArgumentError, match="no axial plane 4"):
        load_ct_axial_hu(series, 4)


def test_the_scene_ct_gives_the_volume_planes(tmp_path: Path) -> None:
    _ct_with_rescales(tmp_path, "FFS")
    series = load_ct_series(tmp_path)
    volume = load_ct_volume(series)
    kept = [(PlaneAxis.AXIAL, 2), (PlaneAxis.SAGITTAL, 5), (PlaneAxis.CORONAL, 1)]
    ct = SceneCt.of(series, load_ct_stored(series), kept)
    assert set(ct.planes) == set(kept) and ct.shape_zyx == volume.shape
    for axis, size in ((PlaneAxis.AXIAL, volume.shape[0]), (PlaneAxis.SAGITTAL, volume.shape[2]), (PlaneAxis.CORONAL, volume.shape[1])):
        for index in range(size):
            assert np.array_equal(ct.plane_hu(axis, index), volume[plane_index(axis, index)])


def test_an_axial_slice_of_another_size_is_a_content_error(tmp_path: Path) -> None:
    paths = f.make_ct_series(tmp_path, rows=6, columns=8)
    series = load_ct_series(tmp_path)
    for path in paths:
        ds = pydicom.dcmread(path)
        ds.Rows, ds.PixelData = 4, ds.pixel_array[:4].tobytes()
        ds.save_as(path)
    with pytest.raises(DicomContentError, match=r"decodes to \(4, 8\), expected the series' slice size"):
        load_ct_axial_hu(series, 1)


def test_malloc_trim_is_found_or_none() -> None:
    trim = render_process._malloc_trim()
    if trim is not None:  # glibc
        trim()
