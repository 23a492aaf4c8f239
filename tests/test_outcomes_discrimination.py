"""ROC AUC and the Mann-Whitney test against a brute-force pairwise count and U identities."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from dosimetry.outcomes import ModelFitError, discrimination, mann_whitney_u, roc_auc


def _brute_force_auc(x: np.ndarray, y: np.ndarray) -> float:
    events, non_events = x[y == 1], x[y == 0]
    score = 0.0
    for a, b in itertools.product(events, non_events):
        score += 1.0 if a > b else 0.5 if a == b else 0.0
    return score / (events.size * non_events.size)


def test_hand_counted_case_with_ties() -> None:
    x = np.array([10.0, 20.0, 20.0, 30.0, 5.0, 20.0])
    y = np.array([0, 1, 0, 1, 0, 1])
    # events 20, 30, 20 vs non-events 10, 20, 5: pairs won 2 + 0.5 + 1... counted by hand:
    # 20 vs (10, 20, 5) = 1 + 0.5 + 1; 30 vs all = 3; 20 vs (10, 20, 5) = 2.5 -> 8 / 9
    assert roc_auc(x, y) == pytest.approx(8.0 / 9.0)
    assert mann_whitney_u(x, y) == pytest.approx(8.0)


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.integers(0, 6), min_size=4, max_size=30),
    labels=st.lists(st.booleans(), min_size=4, max_size=30),
)
def test_auc_equals_the_pairwise_count_and_u_identities(values: list[int], labels: list[bool]) -> None:
    n = min(len(values), len(labels))
    x = np.array(values[:n], dtype=float) * 1.5
    y = np.array(labels[:n], dtype=int)
    if y.sum() in (0, n):
        y[0], y[-1] = 1, 0
    auc = roc_auc(x, y)
    assert auc == pytest.approx(_brute_force_auc(x, y), abs=1e-12)
    n1, n0 = int(y.sum()), int(n - y.sum())
    u1 = mann_whitney_u(x, y)
    u0 = mann_whitney_u(x, 1 - y)
    assert u1 + u0 == pytest.approx(n1 * n0)
    assert auc == pytest.approx(1.0 - u0 / (n1 * n0), abs=1e-12)
    assert roc_auc(-x, y) == pytest.approx(1.0 - auc, abs=1e-12)
    assert u1 == pytest.approx(stats.mannwhitneyu(x[y == 1], x[y == 0]).statistic)


def test_discrimination_p_value_is_scipys_two_sided_mann_whitney() -> None:
    rng = np.random.default_rng(3)
    x = np.round(rng.normal(50, 10, 80), 1)
    y = (rng.random(80) < 1 / (1 + np.exp(-(x - 55) / 5))).astype(int)
    d = discrimination(x, y, name="PTV D95%[Gy]")
    ref = stats.mannwhitneyu(x[y == 1], x[y == 0], alternative="two-sided")
    assert d.p_value == pytest.approx(ref.pvalue, rel=1e-12)
    assert d.auc == pytest.approx(_brute_force_auc(x, y))
    assert d.n_events + d.n_non_events == 80 and d.n_events == int(y.sum())
    assert 0.5 < d.auc < 1.0 and d.p_value < 0.05


def test_perfect_separation_gives_auc_one_or_zero() -> None:
    x = np.arange(10.0)
    y = (x >= 5).astype(int)
    assert roc_auc(x, y) == 1.0
    assert roc_auc(-x, y) == 0.0


@pytest.mark.parametrize(
    "x,y,fragment",
    [
        ([1.0, 2.0, 3.0], [0, 0, 0], "no events"),
        ([1.0, 2.0, 3.0], [1, 1, 1], "only events"),
        ([2.0, 2.0, 2.0], [1, 0, 1], "constant"),
        ([1.0, 2.0], [1, 0, 1], "equal length"),
    ],
)
def test_degenerate_inputs_name_the_metric(x: list[float], y: list[int], fragment: str) -> None:
    with pytest.raises(ModelFitError, match=r"OpticChiasm Max\[Gy\]") as info:
        discrimination(x, y, name="OpticChiasm Max[Gy]")
    assert fragment in str(info.value)
