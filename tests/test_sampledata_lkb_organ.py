"""The LKB organ-toxicity truth of the synthetic cohort generator (dosimetry.sampledata.organ_dose)."""

from __future__ import annotations

import pytest


def test_lkb_organ_truth_of_the_cohort_generator() -> None:
    """The temporal lobe's dose samples cover the analytic ellipsoid's volume (oracle: 4/3 pi abc of
    the solid, lattice error < 2 %), the model NTCP is the LKB formula of dosimetry.constraints.ntcp at
    the documented parameters, and the draw is deterministic."""
    from dosimetry.constraints.ntcp import geud_gy, lkb_ntcp
    from dosimetry.sampledata.anatomy import Phantom
    from dosimetry.sampledata.cohort import cohort_patient_spec
    from dosimetry.sampledata.organ_dose import organ_cumulative_eqd2
    from dosimetry.sampledata.outcomes import LKB_M, LKB_N, LKB_ORGAN, LKB_TD50_GY, draw_organ_toxicity, lkb_organ_ntcp

    spec = cohort_patient_spec(2026, 1)
    organ = organ_cumulative_eqd2(spec, LKB_ORGAN)
    solid = {o.name: o for o in Phantom(spec.anatomy).organs()}[LKB_ORGAN].solid
    assert organ.total_volume_cc == pytest.approx(solid.volume_cc, rel=0.02)
    assert organ.min_gy >= 0.0
    assert lkb_organ_ntcp(organ) == lkb_ntcp(geud_gy(organ, LKB_N), LKB_TD50_GY, LKB_M)
    first = draw_organ_toxicity(seed=2026, patient_id=spec.patient_id, organ_eqd2=organ)
    assert draw_organ_toxicity(seed=2026, patient_id=spec.patient_id, organ_eqd2=organ) == first
