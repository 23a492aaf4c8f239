"""The vectorised ROI geometry (:func:`roi_geometry`, :func:`slab_stack`, :func:`geometry_for_grid`)
gives bit for bit what a straightforward per-contour implementation gives: every plane section
(z, polygon arrays, signs, area, orientations), the slabs, bounds, volume, warnings and errors.

The reference below is the per-contour implementation the fast one replaced, kept verbatim in
substance: a Python loop over contours, one PlaneSection per plane, ``np.median`` for the spacing,
``planar.nesting_depths`` for planes with several contours."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dosimetry.dvh.endcaps import GAP_FACTOR, EndCapConvention, SlabStack, slab_stack
from dosimetry.dvh.geometry import (
    PLANARITY_TOLERANCE_MM,
    PLANE_MERGE_TOLERANCE_MM,
    PlaneSection,
    RoiGeometry,
    _label,
    closed_contours,
    roi_geometry,
)
from dosimetry.dvh.planar import nesting_depths, points_in_polygon, signed_area
from dosimetry.dvh.rasterise import geometry_for_grid
from dosimetry.errors import GeometryError
from dosimetry.structures import Contour, ContourGeometricType, Roi
from tests.dvh_helpers import circle, polygon_contour, rectangle, uniform_grid

CLOSED = ContourGeometricType.CLOSED_PLANAR

#: The conventions the reference implementation below was written for (stacked slabs of the
#: contour planes themselves); the shape model (EndCapConvention.SHAPE) rebuilds the stack and
#: has its own tests against true solids (tests/test_dvh_shape.py).
SLAB_CONVENTIONS = (EndCapConvention.HALF_SLAB, EndCapConvention.TRUNCATED)


# ---------------------------------------------------------------- reference (per contour) ----


def _reference_slab_stack(
    planes_mm: np.ndarray, convention: EndCapConvention, *, single_plane_thickness_mm: float | None = None, roi_label: str = "ROI"
) -> SlabStack:
    planes = np.asarray(planes_mm, dtype=np.float64)
    if planes.ndim != 1 or planes.size == 0:
        raise GeometryError(f"{roi_label} has no closed planar contours")
    if planes.size > 1 and not np.all(np.diff(planes) > 0):
        raise GeometryError(f"{roi_label}: contour planes must be sorted and unique")
    warnings: list[str] = []
    if planes.size == 1:
        if single_plane_thickness_mm is None or not single_plane_thickness_mm > 0:
            raise GeometryError(
                f"{roi_label} has a single contour plane at z={planes[0]:.2f} mm; its slab thickness is "
                "undefined (give single_plane_thickness_mm)"
            )
        spacing = float(single_plane_thickness_mm)
        warnings.append(f"{roi_label} has a single contour plane; assumed slab thickness {spacing:.3g} mm")
        gaps = np.zeros(0)
    else:
        gaps = np.diff(planes)
        spacing = float(np.median(gaps))
    half = 0.5 * spacing
    lower = np.empty_like(planes)
    upper = np.empty_like(planes)
    joined = gaps <= GAP_FACTOR * spacing
    if np.any(~joined):
        warnings.append(
            f"{roi_label} has {int(np.sum(~joined))} gap(s) larger than {GAP_FACTOR} x its contour "
            f"spacing {spacing:.3g} mm; treated as separate parts, each capped as the ends"
        )
    mids = 0.5 * (planes[1:] + planes[:-1])
    cap = half if convention is EndCapConvention.HALF_SLAB else 0.0
    lower[0] = planes[0] - cap
    upper[-1] = planes[-1] + cap
    if planes.size > 1:
        lower[1:] = np.where(joined, mids, planes[1:] - cap)
        upper[:-1] = np.where(joined, mids, planes[:-1] + cap)
    return SlabStack(planes, lower, upper, spacing, tuple(warnings))


def _outer_contours_overlap(polygons: list[tuple[np.ndarray, np.ndarray]], depths: list[int]) -> bool:
    solids = [p for p, d in zip(polygons, depths, strict=True) if d == 0]
    for i in range(len(solids)):
        for j in range(len(solids)):
            if i == j:
                continue
            ui, vi = solids[i]
            uj, vj = solids[j]
            if ui.max() < uj.min() or uj.max() < ui.min() or vi.max() < vj.min() or vj.max() < vi.min():
                continue
            step = max(1, ui.size // 64)
            if np.any(points_in_polygon(ui[::step], vi[::step], uj, vj)):
                return True
    return False


def _reference_z_ranges_and_areas(points: list[np.ndarray]) -> tuple[list[float], list[float], list[float]]:
    sizes = np.array([p.shape[0] for p in points], dtype=np.int64)
    if sizes.size == 0 or np.any(sizes == 0):
        lows = [float(p[:, 2].min()) if p.shape[0] else math.inf for p in points]
        highs = [float(p[:, 2].max()) if p.shape[0] else -math.inf for p in points]
        return lows, highs, [signed_area(p[:, 0], p[:, 1]) if p.shape[0] >= 3 else 0.0 for p in points]
    everything = np.concatenate(points)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    z = everything[:, 2]
    lows = np.minimum.reduceat(z, starts)
    highs = np.maximum.reduceat(z, starts)
    x, y = everything[:, 0], everything[:, 1]
    following = np.arange(1, z.size + 1)
    following[starts + sizes - 1] = starts
    cross = x * y[following] - x[following] * y
    areas = np.where(sizes >= 3, 0.5 * np.add.reduceat(cross, starts), 0.0)
    return lows.tolist(), highs.tolist(), areas.tolist()


def _reference_roi_geometry(
    roi: Roi, end_cap: EndCapConvention = EndCapConvention.HALF_SLAB, *, single_plane_thickness_mm: float | None = None
) -> RoiGeometry:
    label = _label(roi)
    warnings: list[str] = []
    closed = roi.closed_planar_contours
    if len(closed) < len(roi.contours):
        warnings.append(f"{label}: {len(roi.contours) - len(closed)} contour(s) that are not CLOSED_PLANAR were ignored")
    if not closed:
        raise GeometryError(f"{label} has no CLOSED_PLANAR contours; it has no volume")
    by_plane: dict[float, list[tuple[np.ndarray, np.ndarray]]] = {}
    signed_by_plane: dict[float, list[float]] = {}
    key_of_bucket: dict[int, float] = {}
    skipped = 0
    z_lows, z_highs, signed_areas = _reference_z_ranges_and_areas([c.points_mm for c in closed])
    for contour, z_low, z_high, signed_area_mm2 in zip(closed, z_lows, z_highs, signed_areas, strict=True):
        pts = contour.points_mm
        if z_high - z_low > PLANARITY_TOLERANCE_MM:
            raise GeometryError(f"{label}: a contour spans {z_high - z_low:.3f} mm in z; only axial contours are supported")
        if pts.shape[0] < 3:
            skipped += 1
            continue
        z = 0.5 * (z_low + z_high)
        bucket = int(round(z / PLANE_MERGE_TOLERANCE_MM))
        key = next((key_of_bucket[b] for b in (bucket, bucket - 1, bucket + 1) if b in key_of_bucket), None)
        if key is None:
            key = z
            key_of_bucket[bucket] = z
            by_plane[key] = []
            signed_by_plane[key] = []
        xy = pts[:, :2].T.copy()
        by_plane[key].append((xy[0], xy[1]))
        signed_by_plane[key].append(signed_area_mm2)
    if skipped:
        warnings.append(f"{label}: {skipped} contour(s) with fewer than 3 points were ignored")
    if not by_plane:
        raise GeometryError(f"{label} has no contour with at least 3 points")
    planes = np.array(sorted(by_plane))
    slabs = _reference_slab_stack(planes, end_cap, single_plane_thickness_mm=single_plane_thickness_mm, roi_label=label)
    warnings.extend(slabs.warnings)
    sections = []
    volume_mm3 = 0.0
    overlapping = 0
    for z, thickness in zip(planes, slabs.thickness_mm, strict=True):
        polygons = by_plane[float(z)]
        if len(polygons) == 1:
            (a,) = signed_by_plane[float(z)]
            area = abs(a)
            sections.append(PlaneSection(float(z), tuple(polygons), (1,), area, ((a > 0) - (a < 0),)))
            volume_mm3 += area * float(thickness)
            continue
        depths = nesting_depths(polygons)
        signs = [1 if d % 2 == 0 else -1 for d in depths]
        signed = signed_by_plane[float(z)]
        areas = [abs(a) for a in signed]
        area = float(sum(s * a for s, a in zip(signs, areas, strict=True)))
        if sum(1 for d in depths if d == 0) > 1 and _outer_contours_overlap(polygons, depths):
            overlapping += 1
        sections.append(PlaneSection(float(z), tuple(polygons), tuple(signs), area, tuple((a > 0) - (a < 0) for a in signed)))
        volume_mm3 += area * float(thickness)
    all_points = np.concatenate([c.points_mm for c in closed if c.points_mm.shape[0] >= 3])
    x_min, y_min = (float(v) for v in all_points[:, :2].min(axis=0))
    x_max, y_max = (float(v) for v in all_points[:, :2].max(axis=0))
    if overlapping:
        warnings.append(
            f"{label}: on {overlapping} plane(s) solid contours overlap without nesting; the overlap "
            "is counted once in the occupancy but twice in the contour volume"
        )
    return RoiGeometry(roi.name, roi.number, tuple(sections), slabs, end_cap, (x_min, x_max, y_min, y_max), volume_mm3 / 1000.0, tuple(warnings))


def _reference_geometry_for_grid(roi: Roi, grid, convention: EndCapConvention, single_plane_thickness_mm: float | None) -> RoiGeometry:  # type: ignore[no-untyped-def]
    if single_plane_thickness_mm is None:
        first_z = {round(float(c.points_mm[0, 2]), 2) for c in roi.closed_planar_contours}
        planes = roi.contour_planes_mm() if len(first_z) == 1 else np.zeros(2)
        if planes.size == 1:
            ze = grid.z_edges_mm
            k = int(np.searchsorted(ze, planes[0], side="right")) - 1
            if 0 <= k < grid.z_mm.size:
                single_plane_thickness_mm = float(ze[k + 1] - ze[k])
    return _reference_roi_geometry(roi, convention, single_plane_thickness_mm=single_plane_thickness_mm)


# ------------------------------------------------------------------------- comparison ----


def _same_float(a: object, b: object) -> None:
    assert type(a) is type(b) and repr(a) == repr(b), (a, b)  # bit-identical, -0.0 and type included


def _same_array(a: np.ndarray, b: np.ndarray) -> None:
    assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes(), (a, b)


def _assert_identical(fast: RoiGeometry, ref: RoiGeometry) -> None:
    assert (fast.name, fast.number, fast.end_cap, fast.warnings) == (ref.name, ref.number, ref.end_cap, ref.warnings)
    for a, b in zip(fast.bounds_xy_mm, ref.bounds_xy_mm, strict=True):
        _same_float(a, b)
    _same_float(fast.volume_cc, ref.volume_cc)
    for name in ("planes_mm", "lower_mm", "upper_mm"):
        _same_array(getattr(fast.slabs, name), getattr(ref.slabs, name))
    _same_float(fast.slabs.nominal_spacing_mm, ref.slabs.nominal_spacing_mm)
    assert fast.slabs.warnings == ref.slabs.warnings
    assert len(fast.sections) == len(ref.sections)
    for s, r in zip(fast.sections, ref.sections, strict=True):
        _same_float(s.z_mm, r.z_mm)
        _same_float(s.area_mm2, r.area_mm2)
        assert s.signs == r.signs and s.orientations == r.orientations
        assert all(type(v) is int for v in s.signs + s.orientations)
        assert len(s.polygons) == len(r.polygons)
        for (x, y), (rx, ry) in zip(s.polygons, r.polygons, strict=True):
            _same_array(x, rx)
            _same_array(y, ry)


GRID = uniform_grid((-40.0, -40.0, -10.0), (2.0, 2.0, 2.5), (41, 41, 30))


def _check(roi: Roi, single_plane_thickness_mm: float | None = None) -> list[RoiGeometry]:
    """Fast and reference agree (results or error type and message) under both conventions, directly
    and through geometry_for_grid; returns the fast results."""
    out = []
    for convention in SLAB_CONVENTIONS:
        for fast_call, ref_call in (
            (
                lambda: roi_geometry(roi, convention, single_plane_thickness_mm=single_plane_thickness_mm),
                lambda: _reference_roi_geometry(roi, convention, single_plane_thickness_mm=single_plane_thickness_mm),
            ),
            (
                lambda: geometry_for_grid(roi, GRID, convention, single_plane_thickness_mm),
                lambda: _reference_geometry_for_grid(roi, GRID, convention, single_plane_thickness_mm),
            ),
        ):
            try:
                ref = ref_call()
            except GeometryError as error:
                with pytest.raises(GeometryError) as raised:
                    fast_call()
                assert type(raised.value) is type(error) and str(raised.value) == str(error)
                continue
            fast = fast_call()
            _assert_identical(fast, ref)
            out.append(fast)
    return out


def _contour(xy: np.ndarray, z: float | np.ndarray, kind: ContourGeometricType = CLOSED) -> Contour:
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    return Contour(np.column_stack([xy, np.broadcast_to(z, (len(xy),))]), kind)


def _roi(contours: list[Contour], name: str = "r") -> Roi:
    return Roi(7, name, "ORGAN", tuple(contours))


# ---------------------------------------------------------------------------- cases ----


def test_regular_stack_of_circles() -> None:
    roi = _roi([polygon_contour(circle(1.0, -2.0, 10.0 - abs(z) / 3, 48), z) for z in np.arange(-9.0, 9.1, 1.5)])
    geometries = _check(roi)
    assert len(geometries) == 4 and len(geometries[0].sections) == 13


def test_holes_islands_nested_island_and_clockwise_contours() -> None:
    contours = []
    for z in (0.0, 2.5, 5.0):
        contours.append(polygon_contour(rectangle(-20, 20, -20, 20), z))
        contours.append(polygon_contour(rectangle(-10, 10, -10, 10)[::-1], z))  # hole, clockwise
        contours.append(polygon_contour(circle(0.0, 0.0, 4.0, 30), z))  # island in the hole
        contours.append(polygon_contour(circle(30.0, 30.0, 3.0, 17)[::-1], z))  # separate island
    geometries = _check(_roi(contours))
    assert geometries[0].sections[0].signs == (1, -1, 1, 1)
    assert geometries[0].sections[0].orientations == (1, -1, 1, -1)


def test_overlapping_solids_are_reported_identically() -> None:
    contours = [polygon_contour(r, z) for z in (0.0, 2.0, 4.0) for r in (rectangle(-6, 2, -4, 4), rectangle(-2, 6, -6, 2))]
    (geometry, *_) = _check(_roi(contours))
    assert any("on 3 plane(s) solid contours overlap" in w for w in geometry.warnings)
    # a plus sign: boxes meet but no vertex of one lies inside the other (not detected by either)
    plus = [polygon_contour(r, z) for z in (0.0, 2.0) for r in (rectangle(-10, 10, -2, 2), rectangle(-2, 2, -10, 10))]
    (geometry, *_) = _check(_roi(plus + [polygon_contour(rectangle(30, 40, 30, 40), 2.0)]))
    assert not any("overlap" in w for w in geometry.warnings)
    # many vertices (sampled every size // 64-th): two overlapping circles of 200 points
    left, right = np.roll(circle(-5.0, 0.0, 8.0, 200), 100, axis=0), circle(5.0, 0.0, 8.0, 200)  # first vertices outside each other
    circles = [polygon_contour(c, z) for z in (0.0, 2.0) for c in ((left, right) if z else (right, left))]
    (geometry, *_) = _check(_roi(circles))
    assert any("on 2 plane(s)" in w for w in geometry.warnings)


def test_keyhole_contour() -> None:
    # outer square with a slit channel down to an inner square hole: one self-touching contour
    keyhole = np.array([[-10, -10], [10, -10], [10, 10], [0.5, 10], [0.5, 3], [3, 3], [3, -3], [-3, -3], [-3, 3], [-0.5, 3], [-0.5, 10], [-10, 10]])
    _check(_roi([polygon_contour(keyhole, z) for z in (1.0, 3.0, 5.0, 7.0)]))


def test_uneven_planes_gaps_and_unsorted_order() -> None:
    planes = [5.0, -2.0, 0.0, 2.0, 4.0, 11.0, 13.5, 3.0]
    _check(_roi([polygon_contour(rectangle(-5, 5 + i, -5, 5), z) for i, z in enumerate(planes)]))


def test_single_plane_with_and_without_thickness() -> None:
    roi = _roi([polygon_contour(rectangle(-5, 5, -5, 5), 3.0), polygon_contour(rectangle(-2, 2, -2, 2), 3.0)])
    assert len(_check(roi, single_plane_thickness_mm=1.5)) == 4
    # without a thickness: roi_geometry raises (same message), geometry_for_grid uses the grid slice
    assert len(_check(roi)) == 2
    outside = _roi([polygon_contour(rectangle(-5, 5, -5, 5), 500.0)])
    assert len(_check(outside)) == 0  # the grid does not reach z = 500: both paths raise alike


def test_planes_within_merge_tolerance_and_chained_buckets() -> None:
    # buckets 1001, 1000, 999, 1000: the second joins the first, the third opens a plane, the
    # fourth joins the third; z values a few micrometres apart merge into one plane
    zs = [10.012, 10.001, 9.99, 10.004, 12.5, 12.5049, 12.4951, 15.0]
    geometries = _check(_roi([polygon_contour(rectangle(-5 - i, 5, -5, 5), z) for i, z in enumerate(zs)]))
    assert [s.z_mm for s in geometries[0].sections] == [9.99, 10.012, 12.5, 15.0]


def test_degenerate_and_point_contours() -> None:
    contours = [
        polygon_contour(rectangle(-5, 5, -5, 5), 0.0),
        _contour([[1.0, 1.0]], 2.0),  # one point
        _contour([[1.0, 1.0], [2.0, 2.0]], 2.0),  # two points
        polygon_contour(np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]), 2.0),  # collinear: zero area
        polygon_contour(rectangle(-5, 5, -5, 5), 2.0),
        _contour([[0.0, 0.0]], 4.0, ContourGeometricType.POINT),
        polygon_contour(np.array([[1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [3.0, 1.0], [3.0, 4.0]]), 4.0),  # repeated points
    ]
    (geometry, *_) = _check(_roi(contours))
    assert any("fewer than 3 points" in w for w in geometry.warnings)
    assert any("not CLOSED_PLANAR" in w for w in geometry.warnings)
    assert geometry.sections[1].orientations == (0, 1)
    _check(_roi([_contour([[1.0, 1.0]], 2.0), _contour([[1.0, 1.0], [2.0, 1.0]], 2.0)]))  # only degenerate: error
    _check(_roi([_contour([[1.0, 1.0]], 2.0, ContourGeometricType.POINT)]))  # only a point: error
    _check(_roi([]))  # no contours: error


def test_non_axial_contour_error_names_the_first() -> None:
    tilted = _contour(rectangle(-5, 5, -5, 5), np.array([0.0, 0.0, 0.3, 0.3]))
    slightly = _contour(rectangle(-5, 5, -5, 5), np.array([2.0, 2.0, 2.2, 2.2]))
    roi = _roi([polygon_contour(rectangle(-5, 5, -5, 5), 4.0), slightly, tilted])
    assert not _check(roi)
    with pytest.raises(GeometryError, match="spans 0.200 mm"):
        roi_geometry(roi)
    # within the planarity tolerance: a plane at the middle of its z range
    _check(_roi([_contour(rectangle(-5, 5, -5, 5), np.array([1.0, 1.02, 1.04, 1.0])), polygon_contour(rectangle(-5, 5, -5, 5), 3.0)]))


def test_non_finite_z_is_a_geometry_error() -> None:
    roi = _roi([polygon_contour(rectangle(-5, 5, -5, 5), 0.0), polygon_contour(rectangle(-5, 5, -5, 5), math.nan)])
    with pytest.raises(GeometryError, match="closed contour 2 of 2 has non-finite coordinates"):
        roi_geometry(roi)


@pytest.mark.parametrize("column", [0, 1])
def test_non_finite_x_or_y_is_a_geometry_error(column: int) -> None:
    """A NaN in x or y used to reach the DVH as a NaN contour volume and a misleading 'no volume
    inside the dose grid' error."""
    bad = polygon_contour(rectangle(-5, 5, -5, 5), 3.0)
    points = bad.points_mm.copy()
    points[1, column] = math.inf if column else math.nan
    roi = _roi([polygon_contour(rectangle(-5, 5, -5, 5), 0.0), _contour(points[:, :2], points[:, 2])])
    with pytest.raises(GeometryError, match="closed contour 2 of 2 has non-finite coordinates"):
        roi_geometry(roi)


def test_closed_contours_packs_in_order() -> None:
    contours = [_contour([[0.0, 0.0]], 1.0, ContourGeometricType.POINT), polygon_contour(rectangle(0, 1, 0, 1), 2.0), polygon_contour(circle(0, 0, 1, 5), 3.0)]
    packed = closed_contours(_roi(contours))
    assert packed.count == 2 and packed.offsets == (0, 4, 9)
    assert packed.sizes.tolist() == [4, 5] and packed.starts.tolist() == [0, 4]
    _same_array(packed.points_mm, np.concatenate([contours[1].points_mm, contours[2].points_mm]))
    assert closed_contours(_roi(contours[:1])).count == 0


@pytest.mark.parametrize("seed", range(60))
def test_random_rois_match_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_planes = int(rng.integers(1, 9))
    spacing = float(rng.choice([1.0, 2.0, 2.5, 3.0]))
    planes = np.round(rng.uniform(-20, 20) + spacing * np.cumsum(rng.choice([1, 1, 1, 2, 5], n_planes)), int(rng.integers(1, 4)))
    contours = []
    for z in planes:
        cx, cy, r = 0.0, 0.0, 12.0
        for _ in range(int(rng.choice([1, 1, 2, 3, 4, 5]))):
            if rng.random() < 0.4:  # nested in the previous one (hole, island in a hole, ...)
                r = r * rng.uniform(0.3, 0.9)
            else:
                cx, cy = rng.uniform(-15, 15, 2)
                r = rng.uniform(0.5, 12)
            xy = circle(cx, cy, r, int(rng.integers(3, 40)))
            if rng.random() < 0.3:
                xy = xy[::-1]
            if rng.random() < 0.1:
                xy = xy[: int(rng.integers(1, 3))]  # a degenerate contour
            jitter = rng.choice([0.0, 0.0, 0.003, -0.004, 0.006])
            kind = CLOSED if rng.random() > 0.05 else ContourGeometricType.POINT
            contours.append(_contour(xy, z + jitter, kind))
    rng.shuffle(contours)
    _check(_roi(contours, f"random {seed}"), single_plane_thickness_mm=None if seed % 3 else 2.0)


@pytest.mark.parametrize("seed", range(30))
def test_slab_stack_median_matches_numpy(seed: int) -> None:
    rng = np.random.default_rng(1000 + seed)
    planes = np.cumsum(rng.choice([0.5, 1.0, 1.25, 2.0, 3.0, 7.0], int(rng.integers(2, 60))) + rng.uniform(0, 1e-3, 1))
    for convention in SLAB_CONVENTIONS:
        fast, ref = slab_stack(planes, convention, roi_label="x"), _reference_slab_stack(planes, convention, roi_label="x")
        for name in ("planes_mm", "lower_mm", "upper_mm"):
            _same_array(getattr(fast, name), getattr(ref, name))
        _same_float(fast.nominal_spacing_mm, ref.nominal_spacing_mm)
        assert fast.warnings == ref.warnings
    for bad in (np.array([1.0, 1.0]), np.array([2.0, 1.0]), np.zeros(0), np.array([1.0, math.nan]), np.zeros((2, 2))):
        with pytest.raises(GeometryError) as error:
            _reference_slab_stack(bad, EndCapConvention.HALF_SLAB)
        with pytest.raises(GeometryError, match=str(error.value).replace("(", r"\(").replace(")", r"\)")):
            slab_stack(bad, EndCapConvention.HALF_SLAB)


# ------------------------------------------------- Contour: copies only when it must ----


def test_contour_copies_writable_points_and_freezes_them() -> None:
    given = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 1.0], [1.0, 1.0, 1.0]])
    contour = Contour(given, CLOSED)
    assert not np.shares_memory(contour.points_mm, given) and not contour.points_mm.flags.writeable
    given[0, 0] = 99.0
    assert contour.points_mm[0, 0] == 0.0
    with pytest.raises(ValueError):
        contour.points_mm[0, 0] = 5.0
    listed = Contour([[0, 0, 1], [1, 0, 1], [1, 1, 1]], CLOSED)
    assert listed.points_mm.dtype == np.float64 and listed.points_mm.flags.c_contiguous


def test_contour_keeps_a_view_of_a_read_only_array_uncopied() -> None:
    everything = np.arange(30, dtype=np.float64).reshape(10, 3).copy()  # owns its memory
    everything.flags.writeable = False
    contour = Contour(everything[2:6], CLOSED)
    assert contour.points_mm.base is everything and not contour.points_mm.flags.writeable
    from_bytes = np.frombuffer(np.arange(9, dtype=np.float64).tobytes()).reshape(3, 3)
    assert Contour(from_bytes, CLOSED).points_mm.base is not None  # bytes are immutable: kept


@pytest.mark.parametrize(
    "make",
    [
        lambda a: a[1:5],  # read-only view of a writable array: its base can still change
        lambda a: a[::2],  # not contiguous
        lambda a: np.asfortranarray(a[:4]),  # Fortran order
        lambda a: a[:4].astype(">f8"),  # byte-swapped
        lambda a: a[:4].astype(np.float32),  # another dtype
        lambda a: np.frombuffer(bytearray(a[:4].tobytes())).reshape(4, 3),  # mutable buffer
    ],
)
def test_contour_copies_whatever_could_still_change_or_is_not_plain_float64(make) -> None:  # type: ignore[no-untyped-def]
    base = np.arange(36, dtype=np.float64).reshape(12, 3) / 7.0
    given = make(base)
    given.flags.writeable = False
    expected = np.array(given, dtype=np.float64)
    contour = Contour(given, CLOSED)
    assert not np.shares_memory(contour.points_mm, given)
    assert not contour.points_mm.flags.writeable and contour.points_mm.dtype == np.float64
    assert contour.points_mm.flags.c_contiguous == expected.flags.c_contiguous  # as np.array copies it
    _same_array(contour.points_mm, expected)


@pytest.mark.parametrize("bad", [np.zeros((0, 3)), np.zeros((4, 2)), np.zeros(3), np.zeros((2, 3, 1))])
def test_contour_validation_is_the_same_for_copied_and_kept_arrays(bad: np.ndarray) -> None:
    for frozen in (False, True):
        given = bad.copy()
        given.flags.writeable = not frozen
        with pytest.raises(GeometryError, match=r"contour points must have shape \(N, 3\) with N >= 1, got"):
            Contour(given, CLOSED)


def test_contour_z_mm_is_numpy_mean() -> None:
    rng = np.random.default_rng(5)
    for n in [1, 2, 3, 7, 8, 9, 16, 127, 128, 129, 1000, 4099]:
        for scale in (1.0, 1e3):
            points = rng.normal(size=(n, 3)) * scale + rng.uniform(-500, 500)
            contour = Contour(points, CLOSED)
            _same_float(contour.z_mm, float(points[:, 2].mean()))
            frozen = points.copy()
            frozen.flags.writeable = False
            _same_float(Contour(frozen[: max(1, n - 1)], CLOSED).z_mm, float(frozen[: max(1, n - 1), 2].mean()))
