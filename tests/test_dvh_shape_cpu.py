"""CPU short cuts of the shape model's planar helpers (issue 20, dosimetry/dvh/_shape_planar.py)
against the calls they replace, on random input with fixed seeds.

Oracles: scipy.spatial.cKDTree (the k-d tree the brute-force nearest distances replace) and the
long paths kept in this file (the scalar forms of the vectorised expressions), compared bit for
bit: the speed work may not move a number.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree  # type: ignore[import-untyped,unused-ignore]

from dosimetry.dvh._shape_planar import _nearest_distances


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_nearest_distances_are_the_k_d_trees_bit_for_bit(seed: int) -> None:
    """Oracle: cKDTree(points).query(queries)[0], with the tree options the shape model uses;
    queries inside a ring of points (the inscribed radius's lattice: many nearly equidistant
    points) and scattered ones."""
    rng = np.random.default_rng(seed)
    angle = np.sort(rng.uniform(0.0, 2.0 * np.pi, size=300))
    radius = 7.3 + 0.05 * rng.normal(size=angle.size)
    px, py = 1.7 + radius * np.cos(angle), -3.1 + radius * np.sin(angle)
    qx = np.concatenate([1.7 + 0.01 * rng.normal(size=60), rng.uniform(-10.0, 10.0, size=60)])
    qy = np.concatenate([-3.1 + 0.01 * rng.normal(size=60), rng.uniform(-10.0, 10.0, size=60)])
    tree = cKDTree(np.column_stack([px, py]), balanced_tree=False, compact_nodes=False)
    expected, _ = tree.query(np.column_stack([qx, qy]))
    got = _nearest_distances(qx, qy, px, py)
    assert got.dtype == np.float64
    assert np.array_equal(got, expected)


def test_nearest_distances_single_point() -> None:
    """Oracle: the Euclidean distance written out (one candidate point)."""
    got = _nearest_distances(np.array([0.0, 3.0]), np.array([0.0, 4.0]), np.array([0.0]), np.array([0.0]))
    assert got.tolist() == [0.0, 5.0]


def _lagrange_weights_numpy_scalars(nodes: np.ndarray, z: float) -> np.ndarray:
    """The form lagrange_weights had before issue 20: NumPy scalar arithmetic on an array."""
    weights = np.ones(nodes.size)
    for j in range(nodes.size):
        for k in range(nodes.size):
            if k != j:
                weights[j] *= (z - nodes[k]) / (nodes[j] - nodes[k])
    return weights


@pytest.mark.parametrize("count", [2, 3, 4])
def test_lagrange_weights_are_the_numpy_scalar_forms_bit_for_bit(count: int) -> None:
    """Oracle: the NumPy-scalar loop above, on random nodes and heights inside and outside them."""
    from dosimetry.dvh._shape_convex import lagrange_weights

    rng = np.random.default_rng(count)
    for _ in range(500):
        nodes = np.sort(rng.uniform(-50.0, 50.0, size=count))
        z = float(rng.uniform(-60.0, 60.0))
        assert np.array_equal(lagrange_weights(nodes, z), _lagrange_weights_numpy_scalars(nodes, z))


def test_raster_coordinates_are_cached_and_read_only() -> None:
    """Oracle: the formula x0 + pixel * arange(n) written out; the shared arrays refuse writes."""
    from dosimetry.dvh._shape_planar import _Raster

    raster = _Raster(-3.0, 2.0, 0.25, 5, 4)
    assert np.array_equal(raster.xs, -3.0 + 0.25 * np.arange(5, dtype=np.float64))
    assert np.array_equal(raster.ys, 2.0 + 0.25 * np.arange(4, dtype=np.float64))
    assert raster.xs is raster.xs
    with pytest.raises(ValueError, match="read-only"):
        raster.xs[0] = 1.0


def test_band_query_that_finds_nothing_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """The band's exact distances are searched within the band's bound; a query the tree answers
    with "none within it" (infinity) is refused, never written into the map."""
    import scipy.spatial  # type: ignore[import-untyped,unused-ignore]

    from dosimetry.dvh._shape_planar import _Raster, _signed_distance
    from dosimetry.dvh.geometry import PlaneSection
    from dosimetry.errors import GeometryError

    class NothingWithinTheBound(cKDTree):  # type: ignore[misc]
        def query(self, x, *args, **kwargs):  # type: ignore[no-untyped-def]
            distance, index = super().query(x, *args, **kwargs)
            if "distance_upper_bound" in kwargs:
                distance = np.full_like(distance, np.inf)
            return distance, index

    monkeypatch.setattr(scipy.spatial, "cKDTree", NothingWithinTheBound)
    square = (np.array([0.0, 4.0, 4.0, 0.0]), np.array([0.0, 0.0, 4.0, 4.0]))
    section = PlaneSection(0.0, (square,), (1,), 16.0, (1,))
    with pytest.raises(GeometryError, match="no boundary point within"):
        _signed_distance(section, _Raster(-2.0, -2.0, 0.25, 33, 33))
