"""The one-sample model of interior voxels computed at the voxels asked for only, in blocks of z
slices cut to the box of their own voxels (``voxel_blocks``, ``_interior_voxel_samples``), gives
exactly the numbers of the window-wide computation (``_interior_samples``) at those voxels, in C
order: sparse, dense and full masks spanning several blocks (some without a voxel, some with
voxels in a corner only), uniform and non-uniform slice spacing, steep voxels included, the grid's
border in the window."""

from __future__ import annotations

import numpy as np
import pytest

from dosimetry.dvh._voxel_stats import INTERIOR_BLOCK_SLICES, _interior_samples, _interior_voxel_samples, voxel_blocks
from dosimetry.grid import RectilinearGrid
from tests.dvh_helpers import dose_from


@pytest.mark.parametrize("uniform_z", [True, False])
def test_interior_voxels_only_give_the_window_numbers(uniform_z: bool) -> None:
    rng = np.random.default_rng(20)
    nz = 2 * INTERIOR_BLOCK_SLICES + 7
    z = np.arange(nz) * 2.5 if uniform_z else np.cumsum(rng.uniform(1.0, 3.0, nz))
    grid = RectilinearGrid(np.arange(23) * 2.0, np.arange(19) * 2.0 + 5.0, z)
    noise = rng.uniform(0.0, 1.0, grid.shape_zyx)
    dose = dose_from(grid, lambda x, y, zz: 10.0 * np.exp(-((x - 20.0) ** 2 + (y - 20.0) ** 2) / 60.0) + noise)
    window = (slice(0, nz), slice(0, 19), slice(2, 23))
    centre, spread, steep = _interior_samples(dose, window)
    assert steep.any() and not steep.all()
    corner = (0, 0, 2)
    for density in (0.02, 0.5, 1.0):
        mask = rng.uniform(size=centre.shape) < density
        mask[INTERIOR_BLOCK_SLICES : 2 * INTERIOR_BLOCK_SLICES] = False  # a block without a voxel
        mask[2 * INTERIOR_BLOCK_SLICES :, :12, :] = False  # the last block's voxels in a corner
        mask[2 * INTERIOR_BLOCK_SLICES :, :, :9] = False
        blocks = voxel_blocks(mask, corner)
        assert len(blocks) == 2 and blocks[1].j_range[0] >= 12 and blocks[1].i_range[0] >= 9 + corner[2]
        assert sum(int(b.mask.sum()) for b in blocks) == int(mask.sum())
        got = _interior_voxel_samples(dose, blocks)
        for a, b in zip(got, (centre[mask], spread[mask], steep[mask]), strict=True):
            np.testing.assert_array_equal(a, b)
    empty = _interior_voxel_samples(dose, voxel_blocks(np.zeros(centre.shape, dtype=bool), corner))
    assert all(a.size == 0 for a in empty)
