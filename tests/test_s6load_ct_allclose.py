"""ct_series_from_headers compares each slice's orientation and pixel spacing with the first
slice's by a loop over the values instead of np.allclose (issue 20): the same answer, checked
against np.allclose itself on values at, inside and beyond the tolerance."""

from __future__ import annotations

import numpy as np
import pytest

from dosimetry.io.ct_reader import _allclose


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("size", [2, 6])
def test_allclose_equals_numpy(seed: int, size: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(400):
        reference = [float(v) for v in rng.choice([-1.0, 0.0, 1.0, 0.48828125, 1e-7], size) * rng.choice([1.0, 1e3], size)]
        delta = rng.choice([0.0, 1e-4, 1.00001e-4, 1e-4 + 1e-5, 2e-4, -1e-4, -1.2e-4, 5e-5, 1e-9], size)
        values = [r + float(d) * float(rng.choice([1.0, 1.0 + 1e-12])) for r, d in zip(reference, delta)]
        assert _allclose(values, reference, atol=1e-4) == bool(np.allclose(values, reference, atol=1e-4)), (values, reference)


def test_allclose_boundary_cases() -> None:
    for values, reference in (
        ([1.0, 0.0], [1.0, 0.0]),
        ([1.0001, 0.0], [1.0, 0.0]),
        ([1.0 + 1e-4 + 1e-5, 0.0], [1.0, 0.0]),
        ([1.0 + 1.1e-4, 0.0], [1.0, 0.0]),
        ([-0.0, 0.0], [0.0, -0.0]),
        ([0.0, 1.0, 0.0, 0.0, 0.0, -1.0], [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]),
    ):
        assert _allclose(values, reference, atol=1e-4) == bool(np.allclose(values, reference, atol=1e-4))
    assert not _allclose([1.0], [1.0, 2.0], atol=1e-4)
