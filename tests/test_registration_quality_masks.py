"""Contour-overlap helpers of the mapping quality: an organ missing from the comparison grid is an
error naming it (it was a NaN that reached results.json), and the surface distance of a mask with
itself is 0 and of a cube moved by whole voxels is known by hand."""

from __future__ import annotations

import numpy as np
import pytest

from dosimetry.errors import GeometryError
from dosimetry.patient.registration_quality import _surface_distance_mm


def _cube(shift_x: int = 0) -> np.ndarray:
    mask = np.zeros((12, 12, 12), dtype=bool)
    mask[3:8, 3:8, 3 + shift_x : 8 + shift_x] = True
    return mask


def test_empty_mask_is_an_error_not_a_nan() -> None:
    with pytest.raises(GeometryError, match="mapped prior organ covers no voxel"):
        _surface_distance_mm(_cube(), np.zeros((12, 12, 12), dtype=bool), 2.0)


def test_surface_distance_of_a_mask_with_itself_is_zero_and_scales_with_spacing() -> None:
    """Oracle: a 5-voxel cube against itself is 0 mm; against itself moved one voxel along x every
    surface voxel is within one voxel of the other surface, and at least the moved faces' voxels are
    exactly one voxel away, so the mean lies in (0, spacing]."""
    assert _surface_distance_mm(_cube(), _cube(), 2.0) == 0.0
    moved = _surface_distance_mm(_cube(), _cube(1), 2.0)
    assert 0.0 < moved <= 2.0
    assert _surface_distance_mm(_cube(), _cube(1), 3.0) == pytest.approx(1.5 * moved)
