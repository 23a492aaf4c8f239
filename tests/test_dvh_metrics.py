"""TG-263 metric parsing and evaluation on hand-built DVH curves."""

from __future__ import annotations

import numpy as np
import pytest

from dosimetry.dvh import Dvh, EndCapConvention, evaluate_metric, parse_metric
from dosimetry.dvh.metrics import MetricKind, Unit
from dosimetry.errors import MetricError


def linear_dvh(total_cc: float = 10.0, lo: float = 20.0, hi: float = 60.0, bin_gy: float = 0.5) -> Dvh:
    """Dose uniformly distributed between lo and hi: V(>= D) = total (hi - D) / (hi - lo)."""
    edges = np.arange(0.0, hi + bin_gy + 1e-9, bin_gy)
    cumulative = total_cc * np.clip((hi - edges) / (hi - lo), 0.0, 1.0)
    return Dvh(
        roi_name="test",
        roi_number=1,
        bin_edges_gy=edges,
        cumulative_cc=cumulative,
        volume_cc=total_cc,
        volume_in_dose_grid_cc=total_cc,
        volume_outside_dose_grid_cc=0.0,
        min_gy=lo,
        max_gy=hi,
        mean_gy=(lo + hi) / 2,
        median_gy=(lo + hi) / 2,
        end_cap=EndCapConvention.HALF_SLAB,
        supersample=1,
    )


@pytest.mark.parametrize(
    ("text", "kind", "value", "value_unit", "output_unit"),
    [
        ("D95%[Gy]", MetricKind.DOSE_AT_VOLUME, 95.0, Unit.PERCENT, Unit.GY),
        ("D0.03cc[Gy]", MetricKind.DOSE_AT_VOLUME, 0.03, Unit.CC, Unit.GY),
        ("D2cc[cGy]", MetricKind.DOSE_AT_VOLUME, 2.0, Unit.CC, Unit.CGY),
        ("V20Gy[%]", MetricKind.VOLUME_AT_DOSE, 20.0, Unit.GY, Unit.PERCENT),
        ("V20Gy[cc]", MetricKind.VOLUME_AT_DOSE, 20.0, Unit.GY, Unit.CC),
        ("CV20Gy[cc]", MetricKind.COMPLEMENT_VOLUME, 20.0, Unit.GY, Unit.CC),
        ("V95%[%]", MetricKind.VOLUME_AT_DOSE, 95.0, Unit.PERCENT, Unit.PERCENT),
        ("DC2cc[Gy]", MetricKind.DOSE_COMPLEMENT, 2.0, Unit.CC, Unit.GY),
        ("Mean[Gy]", MetricKind.MEAN, None, None, Unit.GY),
        ("max[gy]", MetricKind.MAX, None, None, Unit.GY),
    ],
)
def test_parse(text: str, kind: MetricKind, value: float | None, value_unit: Unit | None, output_unit: Unit) -> None:
    m = parse_metric(text)
    assert (m.kind, m.value, m.value_unit, m.output_unit) == (kind, value, value_unit, output_unit)
    assert m.text == text


@pytest.mark.parametrize("text", ["D95", "D95%", "95%[Gy]", "V20[%]", "D95%[cc]", "Vx Gy[%]", "Mean", "D-5%[Gy]", "D120%[Gy]", ""])
def test_malformed_metric_names_string_and_grammar(text: str) -> None:
    with pytest.raises(MetricError) as info:
        parse_metric(text)
    assert repr(text) in str(info.value) or "exceeds 100%" in str(info.value)
    if "exceeds" not in str(info.value):
        assert "D<v>%|cc[Gy|cGy|%]" in str(info.value)


def test_dose_metrics_interpolate_between_bins() -> None:
    dvh = linear_dvh()
    # D95% = 60 - 0.95 * 40 = 22.0 ; D0.03cc: 60 - 0.003 * 40 = 59.88 (between bin edges)
    assert evaluate_metric(dvh, "D95%[Gy]") == pytest.approx(22.0, abs=1e-9)
    assert evaluate_metric(dvh, "D0.03cc[Gy]") == pytest.approx(59.88, abs=1e-9)
    assert evaluate_metric(dvh, "D2cc[Gy]") == pytest.approx(52.0, abs=1e-9)
    assert evaluate_metric(dvh, "D2cc[cGy]") == pytest.approx(5200.0, abs=1e-6)
    assert evaluate_metric(dvh, "DC2cc[Gy]") == pytest.approx(28.0, abs=1e-9)
    assert evaluate_metric(dvh, "D100%[Gy]") == 20.0
    assert evaluate_metric(dvh, "D0cc[Gy]") == 60.0
    assert evaluate_metric(dvh, "Max[Gy]") == 60.0
    assert evaluate_metric(dvh, "Mean[Gy]") == 40.0


def test_volume_metrics() -> None:
    dvh = linear_dvh()
    assert evaluate_metric(dvh, "V30Gy[cc]") == pytest.approx(7.5)
    assert evaluate_metric(dvh, "V30.25Gy[%]") == pytest.approx(74.375)
    assert evaluate_metric(dvh, "CV30Gy[cc]") == pytest.approx(2.5)
    assert evaluate_metric(dvh, "V3000cGy[cc]") == pytest.approx(7.5)
    assert evaluate_metric(dvh, "V80Gy[cc]") == 0.0  # above the maximum: truly nothing
    assert evaluate_metric(dvh, "V5Gy[%]") == pytest.approx(100.0)


def test_relative_dose_needs_prescription() -> None:
    dvh = linear_dvh()
    assert evaluate_metric(dvh, "V95%[%]", prescription_gy=40.0) == pytest.approx(100 * (60 - 38) / 40)
    assert evaluate_metric(dvh, "D95%[%]", prescription_gy=44.0) == pytest.approx(50.0)
    assert evaluate_metric(dvh, "Mean[%]", prescription_gy=50.0) == pytest.approx(80.0)
    for text in ("V95%[%]", "D95%[%]", "Max[%]"):
        with pytest.raises(MetricError, match="prescription"):
            evaluate_metric(dvh, text)
    with pytest.raises(MetricError, match="prescription"):
        evaluate_metric(dvh, "V95%[%]", prescription_gy=-1.0)


def test_query_outside_the_curve_raises_never_zero() -> None:
    dvh = linear_dvh(total_cc=1.0)
    with pytest.raises(MetricError, match="D2cc"):
        evaluate_metric(dvh, "D2cc[Gy]")
    with pytest.raises(MetricError):
        evaluate_metric(dvh, "DC2cc[Gy]")


def test_d99_when_the_curve_steps_within_one_bin() -> None:
    # all volume within one 1 Gy bin (50..51 Gy): D99 must be inside that bin, not 0
    edges = np.arange(0.0, 53.0, 1.0)
    cumulative = np.where(edges <= 50.0, 5.0, 0.0)
    dvh = Dvh("s", 1, edges, cumulative, 5.0, 5.0, 0.0, 50.2, 50.8, 50.5, 50.5, EndCapConvention.HALF_SLAB, 1)
    d99 = evaluate_metric(dvh, "D99%[Gy]")
    assert 50.2 <= d99 <= 50.8
