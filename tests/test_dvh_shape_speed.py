"""Short cuts of the shape model's speed work (dosimetry/dvh/_shape_planar.py, _shape.py) against
the long path they replace.

Oracles: scipy.ndimage.map_coordinates / ndimage.shift (another library: the bilinear resampling
the short cut replaces) and the true solids' closed-form volumes (dosimetry.dvh.true_solids).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage  # type: ignore[import-untyped,unused-ignore]

from dosimetry.dvh._shape_planar import _resample


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_resample_is_map_coordinates_bilinear_nearest(seed: int) -> None:
    """Oracle: scipy.ndimage.map_coordinates(order=1, mode="nearest") over the full meshgrid of
    the same fractional rows and columns, including positions beyond every edge."""
    rng = np.random.default_rng(seed)
    field = rng.normal(size=(23, 31))
    rows = np.sort(rng.uniform(-3.0, 26.0, size=17))
    cols = np.sort(rng.uniform(-4.0, 35.0, size=29))
    rows[0], cols[-1] = 22.0, 30.0  # exactly on the last row / column
    rr, cc = np.meshgrid(rows, cols, indexing="ij")
    expected = ndimage.map_coordinates(field, [rr, cc], order=1, mode="nearest")
    np.testing.assert_allclose(_resample(field, rows, cols), expected, rtol=0, atol=1e-12)


def test_resample_translation_is_ndimage_shift() -> None:
    """Oracle: scipy.ndimage.shift(order=1, mode="nearest"), the call the translated maps used."""
    field = np.add.outer(np.sin(np.arange(40) / 3.0), np.cos(np.arange(50) / 5.0))
    shift_rows, shift_cols = 2.37, -5.81
    expected = ndimage.shift(field, (shift_rows, shift_cols), order=1, mode="nearest")
    got = _resample(field, np.arange(40.0) - shift_rows, np.arange(50.0) - shift_cols)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
