"""TITE-CRM posterior: two integration methods, a brute-force oracle, and the dfcrm worked example."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dosimetry.errors import TrialDesignError
from dosimetry.trial.crm_model import (
    PROTOCOL_SKELETON,
    EmpiricModel,
    IntegrationMethod,
    TiteObservations,
    posterior,
)
from dosimetry.trial.next_dose import SelectionRule, select_level
from dosimetry.trial.weights import linear_weights

# dfcrm's documented titecrm example (R package dfcrm, ?titecrm, "Create a simple data set").
DFCRM_PRIOR = (0.05, 0.10, 0.20, 0.35, 0.50, 0.70)
DFCRM_TARGET = 0.2
DFCRM_LEVEL = (3, 3, 3, 4, 4, 3, 2, 2, 2, 3)
DFCRM_Y = (0, 0, 1, 0, 1, 0, 0, 0, 0, 0)
DFCRM_U = (178, 181, 168, 181, 24, 181, 179, 102, 42, 3)
DFCRM_TAU = 180


def _dfcrm_observations() -> TiteObservations:
    w = linear_weights(DFCRM_U, [bool(y) for y in DFCRM_Y], DFCRM_TAU)
    return TiteObservations.from_sequences(DFCRM_LEVEL, DFCRM_Y, w)


def _brute_force(skeleton, levels, y, w, variance, lo=-25.0, hi=12.0, n=400_001):
    """Independent oracle: Riemann sum of the posterior written out patient by patient."""
    beta = np.linspace(lo, hi, n)
    log_post = -beta**2 / (2.0 * variance)
    with np.errstate(divide="ignore", over="ignore"):
        for lev, tox, wt in zip(levels, y, w):
            p = np.exp(np.exp(beta) * math.log(skeleton[lev - 1]))
            log_post = log_post + (np.log(p) if tox else np.log(1.0 - wt * p))
    f = np.exp(log_post - log_post.max())
    z = f.sum()
    mean = float((beta * f).sum() / z)
    var = float((beta**2 * f).sum() / z) - mean**2
    with np.errstate(over="ignore"):
        pk = [float((np.asarray(s) ** np.exp(beta) * f).sum() / z) for s in skeleton]
    return mean, var, pk


def test_dfcrm_example_weights_are_linear_and_capped() -> None:
    obs = _dfcrm_observations()
    expected = [178 / 180, 1.0, 1.0, 1.0, 1.0, 1.0, 179 / 180, 102 / 180, 42 / 180, 3 / 180]
    assert obs.weights == pytest.approx(expected, abs=1e-15)


@pytest.mark.parametrize("method", list(IntegrationMethod))
def test_dfcrm_example_matches_brute_force_oracle(method: IntegrationMethod) -> None:
    obs = _dfcrm_observations()
    post = posterior(EmpiricModel(DFCRM_PRIOR, 1.34), obs, method)
    mean, var, pk = _brute_force(DFCRM_PRIOR, DFCRM_LEVEL, DFCRM_Y, obs.weights, 1.34)
    assert post.mean_beta == pytest.approx(mean, abs=1e-8)
    assert post.variance_beta == pytest.approx(var, abs=1e-8)
    assert post.pdlt_posterior_mean == pytest.approx(pk, abs=1e-8)
    plugin = [s ** math.exp(mean) for s in DFCRM_PRIOR]
    assert post.pdlt_plugin == pytest.approx(plugin, abs=1e-8)


def test_dfcrm_example_values_and_recommendation() -> None:
    """Our numbers for dfcrm's example (dfcrm's printed output was not available to compare with)."""
    post = posterior(EmpiricModel(DFCRM_PRIOR, 1.34), _dfcrm_observations())
    assert post.mean_beta == pytest.approx(-0.132787, abs=1e-6)
    assert post.pdlt_plugin == pytest.approx([0.072569, 0.133152, 0.244312, 0.398807, 0.545008, 0.731745], abs=1e-6)
    # dfcrm's rule (closest to the target 0.2): level 3 (0.244 vs 0.133 at level 2)
    assert select_level(post.pdlt_plugin, DFCRM_TARGET, SelectionRule.CLOSEST_TO_TARGET)[0] == 3
    # the protocol's rule (closest but not above): level 2
    assert select_level(post.pdlt_plugin, DFCRM_TARGET, SelectionRule.CLOSEST_NOT_ABOVE_TARGET)[0] == 2


def test_two_methods_agree_on_dfcrm_example() -> None:
    model = EmpiricModel(DFCRM_PRIOR, 1.34)
    a = posterior(model, _dfcrm_observations(), IntegrationMethod.QUAD)
    b = posterior(model, _dfcrm_observations(), IntegrationMethod.GAUSS_HERMITE)
    assert abs(a.mean_beta - b.mean_beta) < 1e-6
    assert abs(a.variance_beta - b.variance_beta) < 1e-6
    assert np.max(np.abs(np.subtract(a.pdlt_posterior_mean, b.pdlt_posterior_mean))) < 1e-6
    assert a.log_marginal_likelihood == pytest.approx(b.log_marginal_likelihood, abs=1e-6)


@pytest.mark.parametrize("method", list(IntegrationMethod))
def test_no_data_gives_the_prior(method: IntegrationMethod) -> None:
    post = posterior(EmpiricModel(PROTOCOL_SKELETON, 1.34), TiteObservations((), (), ()), method)
    assert post.mean_beta == pytest.approx(0.0, abs=1e-9)
    assert post.variance_beta == pytest.approx(1.34, abs=1e-7)
    assert post.pdlt_plugin == pytest.approx(PROTOCOL_SKELETON, abs=1e-9)
    assert post.log_marginal_likelihood == pytest.approx(0.0, abs=1e-8)


@pytest.mark.parametrize(
    ("levels", "y", "w"),
    [
        ((1,) * 25, (1,) * 25, (1.0,) * 25),  # every patient a DLT at the lowest level: posterior far left
        ((6,) * 25, (0,) * 25, (1.0,) * 25),  # no DLT at the top: posterior pushed right
        ((2, 2, 2, 2), (0, 0, 0, 0), (0.0, 0.0, 0.0, 0.0)),  # zero weights: the prior again
        ((2, 3, 3, 4), (0, 1, 0, 1), (0.2, 1.0, 0.5, 1.0)),
    ],
)
def test_two_methods_agree_on_extreme_data(levels, y, w) -> None:
    model = EmpiricModel(PROTOCOL_SKELETON, 1.34)
    obs = TiteObservations.from_sequences(levels, y, w)
    a = posterior(model, obs, IntegrationMethod.QUAD)
    b = posterior(model, obs, IntegrationMethod.GAUSS_HERMITE)
    assert abs(a.mean_beta - b.mean_beta) < 1e-6
    assert np.max(np.abs(np.subtract(a.pdlt_posterior_mean, b.pdlt_posterior_mean))) < 1e-6
    mean, _, _ = _brute_force(PROTOCOL_SKELETON, levels, y, w, 1.34, lo=-40.0, hi=12.0, n=800_001)
    assert a.mean_beta == pytest.approx(mean, abs=1e-7)


@settings(max_examples=25, deadline=None)
@given(
    data=st.lists(
        st.tuples(st.integers(1, 6), st.booleans(), st.floats(0.0, 1.0, allow_nan=False)),
        min_size=0,
        max_size=25,
    ),
    variance=st.floats(0.2, 4.0),
)
def test_two_methods_agree_property(data, variance) -> None:
    levels = [d[0] for d in data]
    y = [d[1] for d in data]
    w = [1.0 if d[1] else d[2] for d in data]
    model = EmpiricModel(PROTOCOL_SKELETON, variance)
    obs = TiteObservations.from_sequences(levels, y, w)
    a = posterior(model, obs, IntegrationMethod.QUAD)
    b = posterior(model, obs, IntegrationMethod.GAUSS_HERMITE)
    assert abs(a.mean_beta - b.mean_beta) < 1e-6
    assert abs(a.variance_beta - b.variance_beta) < 1e-6
    assert np.max(np.abs(np.subtract(a.pdlt_posterior_mean, b.pdlt_posterior_mean))) < 1e-6


def test_more_dlts_lower_the_posterior_mean() -> None:
    model = EmpiricModel(PROTOCOL_SKELETON, 1.34)
    base = posterior(model, TiteObservations.from_sequences([3, 3, 3], [0, 0, 0], [1, 1, 1]))
    worse = posterior(model, TiteObservations.from_sequences([3, 3, 3], [0, 0, 1], [1, 1, 1]))
    assert worse.mean_beta < base.mean_beta
    assert all(p_w > p_b for p_w, p_b in zip(worse.pdlt_plugin, base.pdlt_plugin))


@pytest.mark.parametrize(
    ("skeleton", "variance"),
    [((0.1,), 1.34), ((0.2, 0.1), 1.34), ((0.0, 0.5), 1.34), ((0.1, 1.0), 1.34), ((0.1, 0.2), 0.0), ((0.1, 0.2), -1.0)],
)
def test_model_rejects_bad_parameters(skeleton, variance) -> None:
    with pytest.raises(TrialDesignError):
        EmpiricModel(skeleton, variance)


def test_level_beyond_skeleton_is_refused() -> None:
    with pytest.raises(TrialDesignError, match="exceeds the 6 levels"):
        posterior(EmpiricModel(PROTOCOL_SKELETON), TiteObservations.from_sequences([7], [0], [1.0]))


def test_observations_validate() -> None:
    with pytest.raises(TrialDesignError, match="weight"):
        TiteObservations.from_sequences([1], [0], [1.5])
    with pytest.raises(TrialDesignError, match="differ in length"):
        TiteObservations.from_sequences([1, 2], [0], [1.0])
