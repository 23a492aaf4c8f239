"""The default end-cap convention is the shape model, under one name, everywhere (issue 13).

Why shape is the default (measured against true solids, not asserted here) is in the README's
"Between and beyond the contour planes" and :mod:`dosimetry.dvh.endcaps`; these tests check that
every entry point without an explicit convention uses :data:`DEFAULT_END_CAP` and that it is the
better estimate of a true solid.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from dosimetry.dvh import compute_dvh, compute_dvhs, rasterise_roi, roi_dose_samples, roi_dose_samples_batch
from dosimetry.dvh.endcaps import DEFAULT_END_CAP, EndCapConvention
from dosimetry.dvh.geometry import roi_geometry
from dosimetry.dvh.planning_system import compare_with_planning_system
from tests.dvh_helpers import circle, dose_from, polygon_contour, uniform_grid
from dosimetry.structures import Roi

ENTRY_POINTS: tuple[Callable[..., Any], ...] = (
    compute_dvh, compute_dvhs, rasterise_roi, roi_dose_samples, roi_dose_samples_batch, roi_geometry,
    compare_with_planning_system,
)


def test_default_is_shape() -> None:
    """Oracle: the lead's decision recorded in the README (issue 13): the default is ``shape``."""
    assert DEFAULT_END_CAP is EndCapConvention.SHAPE


@pytest.mark.parametrize("function", ENTRY_POINTS, ids=lambda f: f.__name__)
def test_every_entry_point_defaults_to_the_one_name(function: Callable[..., Any]) -> None:
    """Oracle: the signature itself (inspect): no entry point carries its own copy of the default."""
    assert inspect.signature(function).parameters["end_cap"].default is DEFAULT_END_CAP


def test_default_dvh_of_a_sphere_is_the_shape_models_and_nearer_the_true_volume() -> None:
    """Oracle: the true sphere's volume 4/3 pi r^3 (r 10 mm, poles on planes every 2.5 mm), not
    its contours. The call without ``end_cap`` gives exactly the shape model's DVH, within 1 % of
    the sphere; the half-slab midpoint rule misses it by more (it loses the poles' caps)."""
    radius_mm, spacing_mm = 10.0, 2.5
    contours = tuple(
        polygon_contour(circle(0.0, 0.0, math.sqrt(radius_mm**2 - z * z), 256), float(z))
        for z in spacing_mm * np.arange(-3, 4)
    )
    roi = Roi(1, "sphere", "ORGAN", contours)
    grid = uniform_grid((-15.0, -15.0, -15.0), (2.5, 2.5, 2.5), (13, 13, 13))
    dose = dose_from(grid, lambda x, y, z: 40.0 + 0.5 * y)
    true_cc = 4.0 / 3.0 * math.pi * radius_mm**3 / 1000.0
    default = compute_dvh(dose, roi)
    shape = compute_dvh(dose, roi, end_cap=EndCapConvention.SHAPE)
    half_slab = compute_dvh(dose, roi, end_cap=EndCapConvention.HALF_SLAB)
    assert default.end_cap is EndCapConvention.SHAPE
    assert default.volume_cc == shape.volume_cc and default.mean_gy == shape.mean_gy
    np.testing.assert_array_equal(default.cumulative_cc, shape.cumulative_cc)
    assert default.volume_cc == pytest.approx(true_cc, rel=0.01)
    assert abs(default.volume_cc - true_cc) < abs(half_slab.volume_cc - true_cc)
