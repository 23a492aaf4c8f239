"""Median of a DVH from its samples, against hand-computed values: the exact breakpoint search and
its shortcut when the answer is the lower end of the bracket (a large zero-dose volume)."""

from __future__ import annotations

import numpy as np
import pytest

from dosimetry.dvh.curve import dvh_from_samples, exact_dose_at_volume
from dosimetry.dvh.endcaps import EndCapConvention
from dosimetry.dvh.sampling import DoseSamples


def _samples(dose: list[float], weight: list[float], spread: list[float]) -> DoseSamples:
    w = np.array(weight, dtype=np.float64)
    return DoseSamples(
        dose_gy=np.array(dose, dtype=np.float64),
        weight_cc=w,
        spread_gy=np.array(spread, dtype=np.float64),
        volume_cc=float(w.sum()),
        volume_in_grid_cc=float(w.sum()),
        volume_outside_grid_cc=0.0,
        end_cap=EndCapConvention.HALF_SLAB,
        supersample=2,
    )


def test_median_is_zero_when_more_than_half_the_volume_is_at_zero() -> None:
    # 0.6 cc at exactly 0 Gy, 0.4 cc spread uniformly over [0, 2] Gy: V(0) = 1 cc, V(0+) = 0.4 cc
    samples = _samples([0.0, 1.0], [0.6, 0.4], [0.0, 2.0])
    assert dvh_from_samples(samples, roi_name="r", roi_number=1).median_gy == 0.0
    assert exact_dose_at_volume(samples, 0.5, (0.0, 0.01)) == 0.0


def test_median_just_above_a_zero_dose_mass() -> None:
    # 0.4 cc at 0 Gy, 0.6 cc uniform on [0, 2] Gy: 0.6 (2 - L) / 2 = 0.5 at L = 1/3 Gy
    samples = _samples([0.0, 1.0], [0.4, 0.6], [0.0, 2.0])
    assert dvh_from_samples(samples, roi_name="r", roi_number=1).median_gy == pytest.approx(1.0 / 3.0, abs=1e-12)


def test_median_inside_a_narrow_bracket_with_many_samples() -> None:
    # 5000 point samples at 0 Gy (0.5 cc - 1e-4 cc) and 5000 tiny spread samples uniform on
    # [0, 1e-3] Gy (0.5 cc + 1e-4 cc): V(L) = (0.5 + 1e-4)(1 - L / 1e-3) = 0.5 at L = 1e-7 / (0.5 + 1e-4) Gy
    n = 5000
    dose = [0.0] * n + [5e-4] * n
    weight = [(0.5 - 1e-4) / n] * n + [(0.5 + 1e-4) / n] * n
    spread = [0.0] * n + [1e-3] * n
    samples = _samples(dose, weight, spread)
    expected = 1e-3 * (1.0 - 0.5 / (0.5 + 1e-4))
    assert exact_dose_at_volume(samples, 0.5, (0.0, 0.01)) == pytest.approx(expected, rel=1e-9)
    assert dvh_from_samples(samples, roi_name="r", roi_number=1).median_gy == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("zero_fraction", [0.6, 0.5 + 1e-6, 0.4])
def test_large_sample_sets_give_the_same_median_with_and_without_the_shortcut(
    zero_fraction: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 6000 samples: a fraction of the volume at exactly 0 Gy, the rest spread uniformly over
    # [0, 0.004] Gy in 3000 equal samples; median 0 Gy when more than half is at 0 Gy, else
    # (hand-computed) 0.004 (1 - 0.5 / (1 - zero_fraction)) Gy
    import dosimetry.dvh.curve as curve

    n = 3000
    dose = [0.0] * n + [0.002] * n
    weight = [zero_fraction / n] * n + [(1.0 - zero_fraction) / n] * n
    spread = [0.0] * n + [0.004] * n
    samples = _samples(dose, weight, spread)
    expected = 0.0 if zero_fraction > 0.5 else 0.004 * (1.0 - 0.5 / (1.0 - zero_fraction))
    assert samples.dose_gy.size > curve.SHORTCUT_ABOVE_SAMPLES
    with_shortcut = dvh_from_samples(samples, roi_name="r", roi_number=1).median_gy
    monkeypatch.setattr(curve, "SHORTCUT_ABOVE_SAMPLES", 10**9)
    without = dvh_from_samples(samples, roi_name="r", roi_number=1).median_gy
    assert with_shortcut == pytest.approx(expected, abs=1e-12)
    assert with_shortcut == without
