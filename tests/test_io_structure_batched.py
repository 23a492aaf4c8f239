"""Helpers of the RS loader that do per-contour work once for all contours give exactly what the
per-contour computation gives: z ranges (np.ptp), contour planes (round(Contour.z_mm, 3)) where
they claim certainty, and np.median of plane steps."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dosimetry.io.contour_data import plane_estimates as _plane_estimates
from dosimetry.io.contour_data import z_spans as _z_spans
from dosimetry.io.structure_reader import _median
from dosimetry.structures import Contour, ContourGeometricType

finite = st.floats(min_value=-2000.0, max_value=2000.0, allow_nan=False, allow_infinity=False)


def _contours(draw_lists: list[list[tuple[float, float, float]]]) -> tuple[np.ndarray, np.ndarray]:
    flat = np.array([v for points in draw_lists for p in points for v in p], dtype=np.float64)
    counts = np.array([3 * len(points) for points in draw_lists], dtype=np.intp)
    return flat, counts


def _exact_plane(points: list[tuple[float, float, float]]) -> float:
    contour = Contour(points_mm=np.array(points, dtype=np.float64), geometric_type=ContourGeometricType.CLOSED_PLANAR)
    return round(contour.z_mm, 3)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.tuples(finite, finite, finite), min_size=1, max_size=40), min_size=1, max_size=8))
def test_z_spans_and_certain_planes_equal_per_contour_values(contours: list[list[tuple[float, float, float]]]) -> None:
    flat, counts = _contours(contours)
    spans = _z_spans(flat, counts)
    assert spans is not None
    estimates, certain = _plane_estimates(flat, counts)
    for k, points in enumerate(contours):
        z = np.array(points, dtype=np.float64)[:, 2]
        assert spans[k] == np.ptp(z)
        if certain[k]:
            assert estimates[k] == _exact_plane(points)


def test_planes_next_to_a_rounding_boundary_are_not_claimed() -> None:
    # 0.0005 mm lies on a rounding boundary of round(., 3); many points summed in another order can
    # fall either side of it, so the estimate must defer to Contour.z_mm there
    near = [0.0005, 12.0015, -7.2225, 1.0005 + 1e-15]
    contours = [[(0.0, 0.0, z)] * 97 for z in near] + [[(1.0, 2.0, 3.0)] * 5]
    flat, counts = _contours(contours)
    estimates, certain = _plane_estimates(flat, counts)
    assert certain == [False] * len(near) + [True]
    assert estimates[-1] == _exact_plane(contours[-1]) == 3.0


def test_z_spans_need_whole_points() -> None:
    assert _z_spans(np.arange(7.0), np.array([3, 4], dtype=np.intp)) is None


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(min_value=0.0, max_value=50.0, allow_nan=False), min_size=1, max_size=30))
def test_median_is_numpys(values: list[float]) -> None:
    assert _median(values) == float(np.median(np.array(values)))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(-40000, 40000), st.sampled_from([1, 3, 7, 8, 9, 16, 17, 128, 129, 300])),
        min_size=1,
        max_size=6,
    )
)
def test_planar_contours_at_decimal_planes(planes: list[tuple[int, int]]) -> None:
    # the usual case: every point of a contour on the same plane, written with a few decimals
    contours = [[(float(i), -float(i), z_step * 0.0125)] * n for i, (z_step, n) in enumerate(planes)]
    flat, counts = _contours(contours)
    estimates, certain = _plane_estimates(flat, counts)
    for k, points in enumerate(contours):
        if certain[k]:
            assert estimates[k] == _exact_plane(points)
    assert sum(certain) >= len(planes) - sum(1 for z_step, _ in planes if (z_step * 125) % 10 == 5)


def test_partly_decoded_contour_data_gives_the_same_structure_set() -> None:
    # some Contour Data already decoded by pydicom (a dataset used before): those contours take
    # pydicom's values and the per-contour checks, the others the batched path
    from pathlib import Path

    from dosimetry.io.dicom_file import read_dicom
    from dosimetry.io.contour_data import raw_contour_data
    from dosimetry.io.structure_reader import structure_set_from_dataset

    path = Path(__file__).resolve().parents[1] / "sample_data" / "patient01" / "current" / "RS_patient01.dcm"
    reference = structure_set_from_dataset(read_dicom(path), path)
    ds = read_dicom(path)
    items = [c for r in ds.ROIContourSequence for c in r.ContourSequence]
    for c in items[::3]:
        _ = c.ContourData
    assert sum(raw_contour_data(c) is None for c in items) == len(items[::3])
    mixed = structure_set_from_dataset(ds, path)
    assert mixed.warnings == reference.warnings
    for a, b in zip(mixed.rois, reference.rois, strict=True):
        assert (a.number, a.name, len(a.contours)) == (b.number, b.name, len(b.contours))
        assert all(x.points_mm.tobytes() == y.points_mm.tobytes() for x, y in zip(a.contours, b.contours, strict=True))
