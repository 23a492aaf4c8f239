"""One shape geometry per ROI per analysis (issue 13): :func:`geometry_for_grid` memoises geometries.

Oracles: the uncached path (cache size 0, every step rebuilds its geometry) gives identical results
and output files; the call count is the number of ROIs analysed, counted from the structure set.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import dosimetry
from dosimetry.dvh import _shape, rasterise
from dosimetry.dvh.endcaps import EndCapConvention
from dosimetry.dvh.rasterise import clear_geometry_cache, geometry_for_grid
from dosimetry.structures import Roi
from tests.dvh_helpers import circle, polygon_contour, uniform_grid
from tests.test_constraints_check_cli import patient  # noqa: F401  (the synthetic two-course patient fixture)

N_ROIS = 6 + 1  # the fixture's structure set and the whole-grid box of the isodose volumes (no External)


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    build = _shape.shape_geometry

    def counted(base: object, label: str) -> object:
        calls.append(label)
        return build(base, label)  # type: ignore[arg-type]

    monkeypatch.setattr(_shape, "shape_geometry", counted)
    return calls


def _without_run_fields(document: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in document.items() if k not in ("generated_utc", "outputs")}


def test_one_shape_geometry_per_roi_and_same_numbers_as_uncached(
    patient: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    """Oracle: the uncached path (GEOMETRY_CACHE_SIZE 0) gives the same results.json document and
    byte-identical dvh.csv / metrics.csv; cached, shape_geometry runs once per ROI (6 in the
    fixture's structure set, plus the whole-grid box the isodose volumes use as it has no External)
    over the whole analysis, uncached many times more."""
    calls = _counting(monkeypatch)
    clear_geometry_cache()
    cached = dosimetry.load_patient(patient).write(tmp_path / "cached")
    assert len(calls) == N_ROIS, sorted(calls)
    assert len(set(calls)) == N_ROIS
    calls.clear()
    clear_geometry_cache()
    monkeypatch.setattr(rasterise, "GEOMETRY_CACHE_SIZE", 0)
    uncached = dosimetry.load_patient(patient).write(tmp_path / "uncached")
    assert len(calls) > N_ROIS
    assert _without_run_fields(cached.to_dict()) == _without_run_fields(uncached.to_dict())
    for name in ("dvh.csv", "metrics.csv"):
        assert (tmp_path / "cached" / name).read_bytes() == (tmp_path / "uncached" / name).read_bytes()


def _disc(number: int, planes_mm: tuple[float, ...]) -> Roi:
    return Roi(number, f"disc{number}", "ORGAN", tuple(polygon_contour(circle(0.0, 0.0, 5.0, 64), z) for z in planes_mm))


def test_key_is_roi_identity_convention_and_single_plane_thickness() -> None:
    """Oracle: the definition of a geometry's inputs: an equal-contoured but distinct ROI object,
    another convention or another single-plane slab thickness (from a grid with other slices) is a
    new geometry; the same inputs return the very same object. The single plane's volume is its
    disc area x the grid's slice thickness (pi 5^2 mm^2 x 2 or 4 mm), computed by hand."""
    clear_geometry_cache()
    grid_2mm = uniform_grid((-10.0, -10.0, -10.0), (1.0, 1.0, 2.0), (21, 21, 11))
    grid_4mm = uniform_grid((-10.0, -10.0, -10.0), (1.0, 1.0, 4.0), (21, 21, 6))
    flat = _disc(1, (2.0,))
    g2 = geometry_for_grid(flat, grid_2mm, EndCapConvention.HALF_SLAB, None)
    assert geometry_for_grid(flat, grid_2mm, EndCapConvention.HALF_SLAB, None) is g2
    g4 = geometry_for_grid(flat, grid_4mm, EndCapConvention.HALF_SLAB, None)
    assert g4 is not g2
    assert g2.volume_cc == pytest.approx(25 * 3.14159265 * 2.0 / 1000, rel=2e-3)
    assert g4.volume_cc == pytest.approx(25 * 3.14159265 * 4.0 / 1000, rel=2e-3)
    assert geometry_for_grid(flat, grid_2mm, EndCapConvention.TRUNCATED, None) is not g2
    twin = _disc(1, (2.0,))
    assert geometry_for_grid(twin, grid_2mm, EndCapConvention.HALF_SLAB, None) is not g2
    stack = _disc(2, (0.0, 2.0, 4.0))  # several planes: the grid does not enter the key
    assert geometry_for_grid(stack, grid_4mm, EndCapConvention.SHAPE, None) is geometry_for_grid(
        stack, grid_2mm, EndCapConvention.SHAPE, None
    )


def test_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Oracle: the LRU definition: with room for 2, a third ROI evicts the least recently used."""
    clear_geometry_cache()
    monkeypatch.setattr(rasterise, "GEOMETRY_CACHE_SIZE", 2)
    grid = uniform_grid((-10.0, -10.0, -10.0), (1.0, 1.0, 2.0), (21, 21, 11))
    a, b, c = (_disc(n, (0.0, 2.0)) for n in (1, 2, 3))
    ga = geometry_for_grid(a, grid, EndCapConvention.HALF_SLAB, None)
    geometry_for_grid(b, grid, EndCapConvention.HALF_SLAB, None)
    assert geometry_for_grid(a, grid, EndCapConvention.HALF_SLAB, None) is ga  # a now most recent
    geometry_for_grid(c, grid, EndCapConvention.HALF_SLAB, None)  # evicts b
    assert len(rasterise._geometry_cache) == 2
    assert geometry_for_grid(a, grid, EndCapConvention.HALF_SLAB, None) is ga
    clear_geometry_cache()
    assert geometry_for_grid(a, grid, EndCapConvention.HALF_SLAB, None) is not ga


def test_passed_geometry_labels_the_samples_and_occupancy() -> None:
    """Oracle: the geometry's own convention (set by roi_geometry) and the half-slab volume of a
    cylinder by hand: pi 5^2 mm^2 x 3 planes x 2 mm = 0.471 cc; a half-slab geometry passed
    without ``end_cap`` (default shape) yields half-slab samples labelled half-slab, not shape."""
    from dosimetry.dvh import rasterise_roi, roi_dose_samples
    from tests.dvh_helpers import dose_from

    grid = uniform_grid((-10.0, -10.0, -6.0), (1.0, 1.0, 2.0), (21, 21, 7))
    dose = dose_from(grid, lambda x, y, z: 10.0 + 0.1 * x)
    roi = _disc(1, (-2.0, 0.0, 2.0))
    half_slab = geometry_for_grid(roi, grid, EndCapConvention.HALF_SLAB, None)
    assert half_slab.end_cap is EndCapConvention.HALF_SLAB
    assert half_slab.volume_cc == pytest.approx(25 * 3.14159265 * 6.0 / 1000, rel=2e-3)
    samples = roi_dose_samples(dose, roi, geometry=half_slab)
    assert samples.end_cap is EndCapConvention.HALF_SLAB
    assert samples.volume_cc == half_slab.volume_cc
    assert roi_dose_samples(dose, roi).end_cap is EndCapConvention.SHAPE  # no geometry: the argument
    assert rasterise_roi(roi, grid, geometry=half_slab).end_cap is EndCapConvention.HALF_SLAB
