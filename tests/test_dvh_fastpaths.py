"""The speed paths of the DVH engine give the same numbers as the plain computations they replace
(oracle: the straightforward formula on the same inputs, compared exactly or to rounding)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dosimetry.dose import DoseGrid, DoseSummationType, DoseType
from dosimetry.dvh._steep import _steep_samples_at_points, _steep_samples_in_cells
from dosimetry.dvh._trilinear import _box_range, _clipped_spread, _sample_dose, _trilinear_cells_range
from dosimetry.dvh.endcaps import EndCapConvention
from dosimetry.dvh.sampling import DoseSamples, cumulative_volume, trilinear
from dosimetry.grid import RectilinearGrid


def _random_dose(seed: int, shape: tuple[int, int, int], z_mm: np.ndarray | None = None) -> DoseGrid:
    rng = np.random.default_rng(seed)
    nz, ny, nx = shape
    x = 2.5 * np.arange(nx) - 10.0
    y = 2.5 * np.arange(ny) + 3.0
    z = 3.0 * np.arange(nz) - 40.0 if z_mm is None else z_mm
    grid = RectilinearGrid(x, y, z, single_slice_thickness_mm=3.0 if nz == 1 else None)
    return DoseGrid(grid, rng.gamma(2.0, 10.0, size=shape), DoseType.PHYSICAL, DoseSummationType.PLAN, "1.2.3")


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), nz=st.integers(1, 5), ny=st.integers(2, 5), nx=st.integers(2, 5), uneven_z=st.booleans())
def test_sample_dose_equals_trilinear_and_the_box_range(seed: int, nz: int, ny: int, nx: int, uneven_z: bool) -> None:
    z = np.cumsum(np.r_[0.0, np.random.default_rng(seed).uniform(1.0, 4.0, nz - 1)]) if uneven_z else None
    dose = _random_dose(seed, (nz, ny, nx), z)
    g = dose.grid
    rng = np.random.default_rng(seed + 1)
    m = 400
    # points inside and beyond the grid, some exactly on centres and on cell mid-lines
    px = rng.uniform(g.x_mm[0] - 3, g.x_mm[-1] + 3, m)
    py = rng.uniform(g.y_mm[0] - 3, g.y_mm[-1] + 3, m)
    pz = rng.uniform(g.z_mm[0] - 3, g.z_mm[-1] + 3, m)
    px[:50] = rng.choice(g.x_mm, 50)
    py[50:100] = rng.choice(g.y_mm, 50) + 0.25 * g.spacing_y_mm
    half = (0.5 * g.spacing_x_mm / 2, 0.5 * g.spacing_y_mm / 2, rng.uniform(0.05, 1.5, m))
    got = _sample_dose(dose, (px, py, pz), half)
    want = (*trilinear(dose, px, py, pz), *_box_range(dose, (px, py, pz), half))
    for a, b in zip(got, want, strict=True):
        np.testing.assert_array_equal(a, b)
    # the corner range of each point's cell is the min/max of the (up to 8) voxel-centre doses of
    # that cell, found here by slicing the dose array (brute force)
    *_, (k0, j0, i0), corners = _trilinear_cells_range(dose, px, py, pz, corner_range=True)
    assert corners is not None
    d = dose.dose_gy
    for p, (k, j, i) in enumerate(zip(k0, j0, i0, strict=True)):
        cell = d[k : k + 2, j : j + 2, i : i + 2]
        assert corners[0][p] == cell.min()
        assert corners[1][p] == cell.max()


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000), nz=st.integers(1, 5), ny=st.integers(2, 5), nx=st.integers(2, 5),
    uneven_z=st.booleans(), n=st.sampled_from([2, 4]),
)
def test_steep_voxel_samples_from_the_neighbourhood_equal_point_evaluation(
    seed: int, nz: int, ny: int, nx: int, uneven_z: bool, n: int
) -> None:
    """Sub-voxel samples of steep voxels computed from fixed weights of the 27-neighbourhood equal
    the trilinear evaluation at each sub-voxel centre, border voxels (clamped neighbours),
    single-slice grids and uneven slices included. The one allowed difference: on uneven slices the
    point path finds a half-voxel's bracketing slices by binary search on rounded box ends, which
    can take one slice too many (a wider range, so a spread clipped less); the neighbourhood path
    takes the interpolation cell itself, so its spread is never larger."""
    z = np.cumsum(np.r_[0.0, np.random.default_rng(seed).uniform(1.0, 4.0, nz - 1)]) if uneven_z else None
    dose = _random_dose(seed, (nz, ny, nx), z)
    every_voxel = np.arange(nz * ny * nx)
    (value, spread, weight) = _steep_samples_in_cells(dose, every_voxel, n)
    (value_p, spread_p, weight_p) = _steep_samples_at_points(dose, every_voxel, n)
    assert value.shape == spread.shape == weight.shape == value_p.shape == (every_voxel.size, 2 * n * n)
    np.testing.assert_allclose(value, value_p, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(weight, weight_p, rtol=1e-12, atol=1e-15)
    if uneven_z:
        assert np.all(spread <= spread_p + 1e-12)
    else:
        np.testing.assert_allclose(spread, spread_p, rtol=1e-12, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), on_levels=st.integers(0, 200))
def test_uniform_level_counting_equals_binary_search(seed: int, on_levels: int) -> None:
    rng = np.random.default_rng(seed)
    n = 500
    levels = np.arange(-3, 700, dtype=np.float64) * 0.01  # DVH bin edges, as edges_for builds them
    dose = rng.uniform(-0.1, 7.2, n)
    spread = np.where(rng.random(n) < 0.3, 0.0, rng.uniform(0.0, 0.5, n))
    # doses and interval ends exactly on levels and one ulp either side
    k = min(on_levels, n)
    dose[:k] = rng.choice(levels, k)
    dose[: k // 3] = np.nextafter(dose[: k // 3], np.inf)
    dose[k // 3 : k // 2] = np.nextafter(dose[k // 3 : k // 2], -np.inf)
    dose[-5:] = levels[0]  # the first level itself (0 Gy in a DVH starting at 0)
    spread[-3:] = 0.0
    samples = DoseSamples(
        dose_gy=dose, weight_cc=rng.uniform(0.01, 1.0, n), spread_gy=spread, volume_cc=1.0, volume_in_grid_cc=1.0,
        volume_outside_grid_cc=0.0, end_cap=EndCapConvention.HALF_SLAB, supersample=2,
    )
    fast = cumulative_volume(samples, levels, uniform_levels=True)
    plain = cumulative_volume(samples, levels, uniform_levels=False)
    # point samples are counted exactly as the binary search counts them (a step at the level);
    # interval ends within rounding of a level may fall on either side, where their contribution
    # c * (p - L) is ~1e-16: equal to rounding
    np.testing.assert_allclose(fast, plain, rtol=1e-12, atol=1e-12)
    points = spread == 0
    point_samples = DoseSamples(
        dose_gy=dose[points], weight_cc=samples.weight_cc[points], spread_gy=spread[points], volume_cc=1.0,
        volume_in_grid_cc=1.0, volume_outside_grid_cc=0.0, end_cap=EndCapConvention.HALF_SLAB, supersample=2,
    )
    np.testing.assert_array_equal(
        cumulative_volume(point_samples, levels, uniform_levels=True),
        cumulative_volume(point_samples, levels, uniform_levels=False),
    )


def test_steep_voxel_samples_in_blocks_equal_one_block(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Sub-sampling the steep voxels block by block (bounded temporaries on large grids), and on
    demand (first the voxels one ROI needs, then more), gives the same table as one block of every
    voxel on a fresh grid (oracle: one direct call of the sampler on all voxels; each voxel's
    samples depend on that voxel only)."""
    from dosimetry.dvh import _steep as steep

    for n in (2, 3):
        dose = _random_dose(5, (6, 7, 8))
        every_voxel = np.arange(6 * 7 * 8)
        sample = steep._steep_samples_in_cells if n % 2 == 0 else steep._steep_samples_at_points
        whole = sample(_random_dose(5, (6, 7, 8)), every_voxel, n)  # a new grid object: nothing cached
        monkeypatch.setattr(steep, "STEEP_BLOCK_VOXELS", 7)
        some = every_voxel[every_voxel % 3 == 1]
        first = steep._steep_voxel_samples(dose, n, some)
        assert some.size > 7 * 3  # several blocks
        for a, b in zip(first, whole, strict=True):
            np.testing.assert_array_equal(a, b[some])
        blocked = steep._steep_voxel_samples(dose, n, every_voxel)  # the others computed, merged
        for a, b in zip(blocked, whole, strict=True):
            np.testing.assert_array_equal(a, b)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), nz=st.integers(1, 40), ny=st.integers(2, 40), nx=st.integers(2, 40), uneven_z=st.booleans())
def test_interior_model_of_a_window_equals_one_whole_grid_pass(seed: int, nz: int, ny: int, nx: int, uneven_z: bool) -> None:
    """The interior model computed for the windows ROIs ask for (a block of z slices at a time,
    overlapping windows, any order) gives in every window the numbers of one pass over the whole
    grid (oracle: :func:`_block_voxel_stats` of the whole grid in one call, the spread clipped by
    :func:`_clipped_spread` and the steep mask from the 27-neighbourhood range, unblocked)."""
    from dosimetry.dvh._voxel_stats import _block_voxel_stats, _interior_samples, _voxel_stats, steep_threshold_gy

    z = np.cumsum(np.r_[0.0, np.random.default_rng(seed).uniform(1.0, 4.0, nz - 1)]) if uneven_z else None
    dose = _random_dose(seed, (nz, ny, nx), z)
    centre, raw, lo, hi = _block_voxel_stats(dose, (0, nz), (0, ny), (0, nx), True)
    spread = _clipped_spread(centre, raw, lo, hi)
    steep = (hi - lo) > steep_threshold_gy(dose)
    rng = np.random.default_rng(seed + 2)
    for _ in range(4):
        window = tuple(slice(int(a), int(b) + 1) for a, b in (np.sort(rng.integers(0, m, 2)) for m in (nz, ny, nx)))
        got = _interior_samples(dose, window)  # type: ignore[arg-type]
        for a, b in zip(got, (centre, spread, steep), strict=True):
            np.testing.assert_array_equal(a, b[window])
        for a, b in zip(_voxel_stats(dose, window), (centre, raw, lo, hi), strict=True):  # type: ignore[arg-type]
            np.testing.assert_array_equal(a, b[window])
