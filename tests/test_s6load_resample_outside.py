"""The prior dose's outside marker is replaced exactly as ``np.nan_to_num(view, nan=0.0)`` did
(issue 20: one pass instead of nan_to_num's copies and masks)."""

from __future__ import annotations

import numpy as np
import pytest

from dosimetry.align.resample import _zero_outside_copy


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_zero_outside_copy_equals_nan_to_num(seed: int) -> None:
    rng = np.random.default_rng(seed)
    view = rng.normal(0.0, 30.0, size=(7, 11, 13))
    view[rng.random(view.shape) < 0.2] = np.nan
    view[0, 0, :3] = -0.0
    view.flags.writeable = False  # as the SimpleITK view
    got = _zero_outside_copy(view, np.isnan(view))
    expected = np.nan_to_num(view, nan=0.0)
    assert got.tobytes() == expected.tobytes()
    assert got.dtype == np.float64 and got.base is None and got.flags.c_contiguous and got.flags.writeable


def test_zero_outside_copy_replaces_infinities_as_nan_to_num() -> None:
    view = np.array([[[np.nan, np.inf, -np.inf, 1.5, -0.0, 0.0]]])
    got = _zero_outside_copy(view, np.isnan(view))
    assert got.tobytes() == np.nan_to_num(view, nan=0.0).tobytes()
    assert not np.shares_memory(got, view)
