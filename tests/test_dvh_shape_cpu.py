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
