"""Recovery models (dosimetry.radiobiology.recovery) and their use in the cumulative map."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dosimetry.errors import ArgumentError, RadiobiologyError
from dosimetry.radiobiology.recovery import (
    DEFAULT_RESIDUAL,
    ConstantResidual,
    IntervalStep,
    JonesGrant2014,
    RecoveryModelKind,
    StepResidual,
    example_step_table,
    jones_grant_exponent,
    model_record,
    parse_recovery_model,
)
from dosimetry.radiobiology.summation import RecoveryAssignment, SummationMethod, cumulative_array


def _jones_grant_by_hand(prior_bed: float, tolerance_gy: float, tolerance_n: int, ab: float, months: float, cautious: bool) -> float:
    """Jones & Grant 2014 evaluated with scalar arithmetic, the way DICOMautomaton writes it: the
    exponent per *month* (0.1 = 1.2/12 and 0.139177 = 1.67/12, time clamped to 0-36 months)."""
    months = min(max(months, 0.0), 36.0)
    r = 1.5 + math.exp(0.1 * (months - 12.0)) if cautious else 2.8 + math.exp(0.139177 * (months - 12.0))
    tol = tolerance_gy * (1.0 + (tolerance_gy / tolerance_n) / ab)
    x = prior_bed / tol
    if not 0.0 < x < 1.0:
        return prior_bed
    return tol * (1.0 - (1.0 - x) ** (1.0 / (1.0 + r)))


def test_jones_grant_worked_example() -> None:
    """Oracle: a worked example by hand with DICOMautomaton's defaults (tolerance 52 Gy in 35 fx,
    alpha/beta 2 Gy, cautious curve): BED_tol = 52 (1 + 52/35/2) = 90.6286 Gy; a prior 40 Gy in
    20 fx has BED 80 Gy, x = 0.88273; at 12 months r = 1.5 + e^0 = 2.5, so
    BED_rem = 90.6286 (1 - 0.11727^(1/3.5)) = 41.50 Gy (hand arithmetic, 4 digits)."""
    model = JonesGrant2014()
    assert model.tolerance_bed_gy(2.0) == pytest.approx(90.62857, abs=1e-4)
    remaining = model.remaining_bed(np.array([80.0]), alpha_beta_gy=2.0, interval_months=12.0)
    assert remaining[0] == pytest.approx(41.50, abs=0.01)
    assert jones_grant_exponent(12.0) == pytest.approx(2.5)
    assert jones_grant_exponent(12.0, conservative=False) == pytest.approx(3.8)
    assert jones_grant_exponent(24.0) == pytest.approx(1.5 + math.exp(1.2))


@pytest.mark.parametrize("months", [0.0, 6.0, 12.0, 18.5, 30.0, 36.0, 60.0])
@pytest.mark.parametrize("cautious", [True, False])
def test_jones_grant_matches_monthly_form(months: float, cautious: bool) -> None:
    """Oracle: DICOMautomaton's per-month coefficients (0.1 and 0.139177 per month, clamp at 36
    months) evaluated with scalar math, against our per-year form over a range of prior BEDs,
    including doses at and above the tolerance (no recovery credited there). DICOMautomaton writes
    the fitted slope as 0.139177 per month where 1.67/12 = 0.139167, hence the looser tolerance there."""
    model = JonesGrant2014(conservative=cautious)
    rel = 2e-5 if cautious else 1e-3
    beds = np.array([0.0, 5.0, 30.0, 60.0, 90.0, 90.62857142857143, 120.0])
    ours = model.remaining_bed(beds, alpha_beta_gy=2.0, interval_months=months)
    for bed, value in zip(beds, ours, strict=True):
        assert value == pytest.approx(_jones_grant_by_hand(float(bed), 52.0, 35, 2.0, months, cautious), rel=rel, abs=1e-9)


def test_jones_grant_clamp_note_and_missing_interval() -> None:
    """Oracle: the model's stated range (0-3 years) and the rule that a time-dependent model
    without an interval is an error naming --interval-months."""
    model = JonesGrant2014()
    assert model.interval_note(40.0) is not None and "clamped" in model.interval_note(40.0)  # type: ignore[operator]
    assert model.interval_note(20.0) is None
    with pytest.raises(RadiobiologyError, match="--interval-months"):
        model.remaining_bed(np.array([10.0]), alpha_beta_gy=2.0, interval_months=None)


def test_constant_residual_is_the_protocol_default() -> None:
    """Oracle: the protocol's 30 % residual, r x BED by hand."""
    model = ConstantResidual()
    assert model.residual == DEFAULT_RESIDUAL == 0.3
    np.testing.assert_allclose(model.remaining_bed(np.array([10.0, 100.0]), alpha_beta_gy=2.0), [3.0, 30.0])
    assert parse_recovery_model("constant") == model
    assert parse_recovery_model("constant:0.5").residual == 0.5  # type: ignore[attr-defined]


def test_example_step_table_names_its_source() -> None:
    """Oracle: the issue's example scheme (none < 6 months, 25 % at 6-12, 50 % > 12 months)."""
    table = example_step_table()
    assert "Nieder" in table.source and "Ang" in table.source
    assert [table.residual_at(m) for m in (0, 5.9, 6, 11.9, 12, 100)] == [1.0, 1.0, 0.75, 0.75, 0.5, 0.5]
    assert parse_recovery_model("step") == table
    with pytest.raises(RadiobiologyError, match="--interval-months"):
        table.residual_at(None)


def test_step_table_file_and_errors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Oracle: the table rules (starts at 0, increasing starts, residual never grows, a source)."""
    path = tmp_path / "steps.json"
    path.write_text(json.dumps({"source": "my clinic 2024", "steps": [{"from_months": 0, "residual": 0.8}, {"from_months": 24, "residual": 0.4}]}))
    model = parse_recovery_model(f"step:{path}")
    assert model.kind is RecoveryModelKind.STEP and model.citation == "my clinic 2024"
    with pytest.raises(ArgumentError, match="may not grow"):
        StepResidual((IntervalStep(0, 0.5), IntervalStep(6, 0.7)), "x")
    with pytest.raises(ArgumentError, match="start at 0"):
        StepResidual((IntervalStep(3, 0.5),), "x")
    with pytest.raises(ArgumentError, match="name its source"):
        StepResidual((IntervalStep(0, 0.5),), " ")
    with pytest.raises(ArgumentError, match="unknown recovery model"):
        parse_recovery_model("linear")
    with pytest.raises(ArgumentError, match="DOSE_GY/FRACTIONS"):
        parse_recovery_model("jones-grant-2014:abc/x")
    assert parse_recovery_model("jones-grant-2014:54/30:fitted") == JonesGrant2014(54.0, 30, False)
    assert model_record(JonesGrant2014())["tolerance_dose_gy"] == 52.0


_MODELS = st.sampled_from(
    [
        ConstantResidual(),
        ConstantResidual(0.0),
        ConstantResidual(1.0),
        example_step_table(),
        JonesGrant2014(),
        JonesGrant2014(conservative=False),
        JonesGrant2014(45.0, 25),
    ]
)


@settings(max_examples=150, deadline=None)
@given(
    model=_MODELS,
    bed=st.floats(min_value=0.0, max_value=400.0),
    ab=st.floats(min_value=0.5, max_value=20.0),
    t1=st.floats(min_value=0.0, max_value=120.0),
    dt=st.floats(min_value=0.0, max_value=120.0),
)
def test_recovery_properties(model, bed: float, ab: float, t1: float, dt: float) -> None:  # type: ignore[no-untyped-def]
    """Oracle: the definition of recovery -- it never exceeds 100 % nor falls below 0
    (0 <= remaining <= prior BED), and a longer interval never leaves more residual dose."""
    early = float(model.remaining_bed(np.array([bed]), alpha_beta_gy=ab, interval_months=t1)[0])
    late = float(model.remaining_bed(np.array([bed]), alpha_beta_gy=ab, interval_months=t1 + dt)[0])
    assert -1e-12 <= early <= bed * (1 + 1e-12) + 1e-12
    assert late <= early * (1 + 1e-12) + 1e-12


def test_cumulative_with_default_assignment_is_unchanged() -> None:
    """Oracle: the historic constant-residual sum, EQD2_cur + 0.3 EQD2_prior, by hand:
    current 55 Gy / 22 fx at a/b 2: 55 (1 + 2.5/2) / 2 = 61.875; prior 70 Gy / 35 fx: 70."""
    current = np.array([55.0])
    prior = np.array([70.0])
    plain = cumulative_array(current, 22, prior, 35, alpha_beta_gy=2.0)
    assigned = cumulative_array(current, 22, prior, 35, alpha_beta_gy=2.0, recovery=RecoveryAssignment(ConstantResidual()))
    assert plain[0] == assigned[0] == pytest.approx(61.875 + 0.3 * 70.0)


def test_cumulative_with_jones_grant_and_organ_override() -> None:
    """Oracle: hand arithmetic in BED space. Prior 40 Gy in 20 fx (BED2 80 Gy, EQD2 40 Gy), no
    current dose: voxel 0 (default constant 0.3) -> EQD2 12 Gy; voxel 1 (override Jones-Grant
    at 12 months) -> BED 41.50 Gy -> EQD2 20.75 Gy; voxel 2 (two overlapping overrides, 0.3 and
    0.9) -> the larger, 0.9 x 40 = 36 Gy."""
    zeros = np.zeros(3)
    prior = np.full(3, 40.0)
    jg = np.array([False, True, False])
    low = np.array([False, False, True])
    high = np.array([False, False, True])
    assignment = RecoveryAssignment(
        ConstantResidual(), ((JonesGrant2014(), jg), (ConstantResidual(0.3), low), (ConstantResidual(0.9), high)), 12.0
    )
    out = cumulative_array(zeros, 20, prior, 20, alpha_beta_gy=2.0, recovery=assignment)
    np.testing.assert_allclose(out, [12.0, 41.50 / 2.0, 36.0], atol=0.01)
    with pytest.raises(ArgumentError, match="BED space"):
        cumulative_array(zeros, 20, prior, 20, alpha_beta_gy=2.0, recovery=assignment, method=SummationMethod.PHYSICAL)


def test_batch_recovery_parameters(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Oracle: the batch's extra parameters name the same models as the command-line specs, and a
    protocol file's recovery block applies when the batch gives none."""
    from pipelines.analysis import AnalysisParameters
    from pipelines.analyze import _recovery

    params = AnalysisParameters(extra=(("recovery", "jones-grant-2014"), ("organ_recovery", "serial=step;Parotid_L=constant:0.5")))
    selection = _recovery(params, dict(params.extra))
    assert selection is not None and selection.default == JonesGrant2014()
    assert [k for k, _ in selection.per_organ] == ["serial", "Parotid_L"]
    assert _recovery(AnalysisParameters(), {}) is None
    protocol = tmp_path / "p.yaml"
    protocol.write_text("recovery: step\nconstraints:\n  BrainStem: 'D0.03cc[Gy] < 54'\n", encoding="utf-8")
    from_protocol = _recovery(AnalysisParameters(protocol_path=protocol), {})
    assert from_protocol is not None and from_protocol.default == example_step_table()
