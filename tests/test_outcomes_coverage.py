"""CI-sized coverage check of the LKB fit's 95 % profile-likelihood intervals (the full table is
benchmarks/outcomes_coverage.py).

Oracle: the known parameters of cohorts simulated from the LKB model (dosimetry.outcomes.simulate);
over 40 cohorts a 95 % interval covers the truth 38 times on average (binomial SD 1.4), so fewer
than 33 (3.6 SD below) would mean the intervals are too short. The median estimates must sit near
the truth, and no interval may have an unbounded end (coverage counts an unbounded end as covering,
so intervals that all came back unbounded would otherwise pass: the intervals are not merely wide)."""

from __future__ import annotations

import pytest

from dosimetry.outcomes.coverage import coverage_study
from dosimetry.outcomes.lkb_fit import LkbParameter


def test_profile_intervals_cover_the_truth_with_n_fixed() -> None:
    study = coverage_study(cohorts=40, patients=100, td50_gy=55.0, m=0.2, n=0.25, seed=500, fixed={LkbParameter.N: 0.25})
    assert study.refused == 0
    for p in study.parameters:
        assert p.covered >= 33, (p.parameter, p.covered, p.fitted)
        assert p.unbounded == 0, (p.parameter, p.unbounded)
        assert p.median_estimate == pytest.approx(p.true_value, rel=0.1)


def test_all_cohorts_refused_is_not_evaluable_not_nan(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Oracle: the fit's documented minimum (dosimetry.outcomes.lkb_fit.MIN_MINORITY_PER_FREE_PARAMETER = 2 events and
    2 non-events per free parameter): a cohort of 5 patients has at most 2 of the rarer outcome, fewer than the 6 that
    3 free parameters need, so every cohort is refused. The study and the benchmark must say "not evaluable: all 3
    cohorts refused"; they printed a coverage of nan %."""
    import sys

    from benchmarks import outcomes_coverage
    from dosimetry.errors import ModelFitError

    with pytest.raises(ModelFitError, match="not evaluable: all 3 cohorts refused"):
        coverage_study(cohorts=3, patients=5, td50_gy=55.0, m=0.2, n=0.25, seed=7)
    monkeypatch.setattr(sys, "argv", ["outcomes_coverage.py", "--cohorts", "3", "--patients", "5", "--only", "free"])
    outcomes_coverage.main()
    out = capsys.readouterr().out
    assert "not evaluable: all 3 cohorts refused" in out and "nan" not in out.lower()
