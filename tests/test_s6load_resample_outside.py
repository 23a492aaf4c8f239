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


def test_align_prior_dose_equals_the_nan_to_num_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Oracle: align_prior_dose with the previous expression (``np.nan_to_num(view, nan=0.0)``)
    put back; a rotated and shifted registration leaves part of the current grid outside the prior
    grid. The aligned grid holds the same bytes, read-only, sharing no memory with the prior dose."""
    from dosimetry.align import align_prior_dose, resample
    from dosimetry.align.resample import AlignedDose
    from dosimetry.dose import DoseGrid, DoseSummationType, DoseType
    from dosimetry.grid import RectilinearGrid
    from dosimetry.registration import RigidRegistration

    prior_grid = RectilinearGrid.uniform((-40.0, -40.0, -36.0), (2.0, 2.0, 3.0), (25, 40, 40))
    current_grid = RectilinearGrid.uniform((-31.3, -37.1, -30.2), (2.5, 2.5, 2.5), (26, 28, 28))
    values = np.random.default_rng(7).random(prior_grid.shape_zyx) * 60.0
    prior = DoseGrid(prior_grid, values, DoseType.PHYSICAL, DoseSummationType.PLAN, "1.2.3.10")
    matrix = np.eye(4)
    c, s = np.cos(np.radians(20.0)), np.sin(np.radians(20.0))
    matrix[:3, :3] = [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]
    matrix[:3, 3] = [9.0, -6.0, 14.5]
    registration = RigidRegistration(source_frame_uid="1.2.3.10", target_frame_uid="1.2.3.20", matrix=matrix)

    def align() -> AlignedDose:
        return align_prior_dose(prior, current_grid, "1.2.3.20", registration=registration)

    new = align()
    monkeypatch.setattr(resample, "_zero_outside_copy", lambda view, outside: np.nan_to_num(view, nan=0.0))
    old = align()
    assert new.uncovered_voxel_count == old.uncovered_voxel_count > 0
    assert new.warnings == old.warnings
    assert new.dose.dose_gy.tobytes() == old.dose.dose_gy.tobytes()
    assert not new.dose.dose_gy.flags.writeable
    assert not np.shares_memory(new.dose.dose_gy, prior.dose_gy)
