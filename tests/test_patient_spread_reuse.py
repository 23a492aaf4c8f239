"""``dosimetry analyze``'s convention spreads reuse the DVH stage's curve under the default
convention instead of sampling the ROI again (issue 20); the spreads must not move.

Oracle: the full computation -- :func:`with_convention_spreads` without the DVH stage's curves
(every convention of every row's ROI sampled afresh) on the sample patient: every row's spread,
flag and warning equal to those of ``Patient.results()``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import dosimetry
from dosimetry.dvh.endcaps import EndCapConvention
from dosimetry.patient import sensitivity
from dosimetry.patient.sensitivity import with_convention_spreads
from dosimetry.patient.results import constraint_checks

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "patient01"


@pytest.mark.parametrize("end_cap", [EndCapConvention.SHAPE, EndCapConvention.HALF_SLAB])
def test_spreads_with_the_dvh_stages_curves_equal_the_full_computation(
    monkeypatch: pytest.MonkeyPatch, end_cap: EndCapConvention
) -> None:
    """With the DVH stage under ``end_cap`` (its curves are then that convention's values)."""
    given: list[int] = []
    original = sensitivity.convention_sensitivity

    def counted(*args: Any, **kwargs: Any) -> Any:
        given.append(len(kwargs.get("computed") or {}))
        return original(*args, **kwargs)

    monkeypatch.setattr(sensitivity, "convention_sensitivity", counted)
    patient = dosimetry.load_patient(SAMPLE, end_cap=end_cap)
    results = patient.results()
    assert given and all(n == 1 for n in given)  # every ROI's default-convention DVH came from the DVH stage
    given.clear()
    rows = constraint_checks(patient.check())
    full, full_warnings = with_convention_spreads(
        patient._maps, patient._rois, tuple(rows), bin_width_gy=patient.dvh_bin_width_gy
    )
    # the constraint rows come first; the re-irradiation limit rows after them have no spread
    spreads = [(r.roi, r.quantity, r.metric, r.convention_spread_gy, r.convention_sensitive) for r in results.constraints.rows[: len(full)]]
    assert spreads == [(r.roi, r.quantity, r.metric, r.convention_spread_gy, r.convention_sensitive) for r in full]
    assert given and not any(given)  # the oracle sampled every convention
    assert sum(r.convention_spread_gy is not None for r in full) >= 5  # rows with a spread were compared
    assert set(full_warnings) <= set(results.warnings)
