"""Binned calibration and the Hosmer-Lemeshow test (dosimetry.outcomes.calibration).

Oracles: a worked example computed by hand below (three groups of five), and the published
definition's limiting cases (perfect agreement gives C = 0)."""

from __future__ import annotations

import pytest
from scipy import stats

from dosimetry.errors import ArgumentError
from dosimetry.outcomes.calibration import calibration


def test_hand_computed_three_groups() -> None:
    """Oracle: by hand. Sorted predictions in groups of 5:
    g1 = 0.1 x5 (E = 0.5, O = 1): (1 - 0.5)^2 / (0.5 * 0.9) = 0.5556
    g2 = 0.4 x5 (E = 2.0, O = 2): 0
    g3 = 0.8 x5 (E = 4.0, O = 3): 1 / (4 * 0.2) = 1.25;  C = 1.80556, df 1."""
    predicted = [0.8] * 5 + [0.1] * 5 + [0.4] * 5
    outcome = [1, 1, 1, 0, 0] + [1, 0, 0, 0, 0] + [1, 1, 0, 0, 0]
    cal = calibration(predicted, outcome, groups=3)
    assert [b.observed_events for b in cal.bins] == [1, 2, 3]
    assert [b.expected_events for b in cal.bins] == pytest.approx([0.5, 2.0, 4.0])
    assert cal.hl_statistic == pytest.approx(0.25 / 0.45 + 1.25, rel=1e-12)
    assert cal.hl_df == 1
    assert cal.hl_p_value == pytest.approx(stats.chi2.sf(0.25 / 0.45 + 1.25, 1))
    for b in cal.bins:
        assert 0.0 <= b.observed_ci95[0] <= b.observed_rate <= b.observed_ci95[1] <= 1.0


def test_too_few_patients_for_the_test_is_said() -> None:
    """Oracle: the documented rule (>= 5 patients per group, >= 3 groups)."""
    cal = calibration([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7], [0, 0, 1, 0, 1, 1, 1])
    assert cal.hl_statistic is None and len(cal.bins) == 1
    assert any("not computed" in w for w in cal.warnings)


def test_rejects_bad_probabilities() -> None:
    """Oracle: the domain of a probability."""
    with pytest.raises(ArgumentError):
        calibration([1.2, 0.1], [1, 0])
