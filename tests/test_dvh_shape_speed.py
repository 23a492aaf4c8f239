"""Short cuts of the shape model's speed work (dosimetry/dvh/_shape_planar.py, _shape.py) against
the long path they replace.

Oracles: scipy.ndimage.map_coordinates / ndimage.shift (another library: the bilinear resampling
the short cut replaces) and the true solids' closed-form volumes (dosimetry.dvh.true_solids).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage  # type: ignore[import-untyped,unused-ignore]

import dosimetry.dvh._shape as shape_module
from dosimetry.dvh import EndCapConvention
from dosimetry.dvh._shape_planar import _resample
from dosimetry.dvh.geometry import roi_geometry
from dosimetry.structures import Roi
from tests.test_dvh_shape import circle, roi_of

SHAPE = EndCapConvention.SHAPE


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


def _drifting_tube(radius_mm: float, drift_mm_per_mm: float, spacing_mm: float, length_mm: float) -> Roi:
    """A cylinder of circular cross-section ``radius_mm`` whose axis drifts sideways (x) by
    ``drift_mm_per_mm`` per mm of z: every axial section is the same disc, moved."""
    planes = {}
    for z in np.arange(0.0, length_mm + 1e-9, spacing_mm):
        planes[float(z)] = [circle(drift_mm_per_mm * float(z), 0.0, radius_mm)]
    return roi_of(planes, "tube")


@pytest.mark.parametrize(("drift", "coarse"), [(0.02, True), (0.6, False)])
def test_adaptive_sub_slabs_against_the_full_subdivision(monkeypatch: pytest.MonkeyPatch, drift: float, coarse: bool) -> None:
    """Oracles: the long path (ADAPTIVE_SUB_SLABS off: every interval cut into the full number of
    sub-slabs) and Cavalieri's principle (the solid between the end planes has the disc's area
    times its height, whatever the drift). A slowly drifting tube (0.04 mm sideways per 2 mm
    plane, under half a sub-slab of 0.5 mm) keeps only its own planes between them; a fast one (1.2 mm per
    plane) keeps the full subdivision, section for section."""
    radius, spacing, length = 4.0, 2.0, 20.0
    roi = _drifting_tube(radius, drift, spacing, length)
    fast = roi_geometry(roi, SHAPE)
    monkeypatch.setattr(shape_module, "ADAPTIVE_SUB_SLABS", False)
    slow = roi_geometry(roi, SHAPE)
    between = [s for s in fast.sections if 0.0 < s.z_mm < length and not np.isclose(s.z_mm / spacing, round(s.z_mm / spacing))]
    if coarse:
        assert len(fast.sections) < len(slow.sections)
        assert between == []
    else:
        assert len(fast.sections) == len(slow.sections)
        assert all(f.area_mm2 == s.area_mm2 for f, s in zip(fast.sections, slow.sections, strict=True))
    assert fast.volume_cc == pytest.approx(slow.volume_cc, rel=1e-3)
    cavalieri_cc = math.pi * radius**2 * length / 1000.0
    inner = sum(s.area_mm2 * (hi - lo) for s, lo, hi in zip(fast.sections, fast.slabs.lower_mm, fast.slabs.upper_mm, strict=True) if 0.0 <= lo and hi <= length) / 1000.0
    assert inner == pytest.approx(cavalieri_cc, rel=2e-3)


def test_adaptive_sub_slabs_keep_the_sphere_bulge(monkeypatch: pytest.MonkeyPatch) -> None:
    """Oracle: 4/3 pi r^3 of the sphere the contours are cut from, and the long path. A sphere's
    sections grow and shrink (the area is quadratic in z): where the planes' own sections alone
    would miss more of that bulge than the full subdivision's midpoint rule, the sub-slabs stay."""
    r = 5.0
    planes = {float(z): [circle(0.0, 0.0, math.sqrt(r * r - z * z))] for z in np.arange(-4.5, 4.6, 1.5)}
    roi = roi_of(planes, "sphere")
    fast = roi_geometry(roi, SHAPE)
    monkeypatch.setattr(shape_module, "ADAPTIVE_SUB_SLABS", False)
    slow = roi_geometry(roi, SHAPE)
    assert fast.volume_cc == pytest.approx(slow.volume_cc, rel=5e-4)
    assert fast.volume_cc == pytest.approx(4.0 / 3.0 * math.pi * r**3 / 1000.0, rel=0.01)
