"""Per-voxel BED/EQD2 maps: a hand-computed voxel case, fraction rules and dose-type/RBE rules."""

from __future__ import annotations

import numpy as np
import pytest

from dosimetry.dose import DoseGrid, DoseSummationType, DoseType
from dosimetry.errors import ArgumentError, ConsistencyError, RadiobiologyError
from dosimetry.grid import RectilinearGrid
from dosimetry.plan import Beam, FractionGroup, Plan, PlanKind, RadiationType
from dosimetry.quantities import DoseQuantity
from dosimetry.radiobiology.maps import (
    lq_map,
    lq_maps,
    photon_equivalent_dose,
    resolve_fractions,
)

FRAME = "1.2.826.0.1.3680043.8.498.1"


def make_plan(fractions: int, radiation: RadiationType = RadiationType.ION, uid: str = "1.2.3.4") -> Plan:
    beam = Beam(1, "B1", radiation, atomic_number=6 if radiation is RadiationType.ION else None)
    return Plan(
        sop_instance_uid=uid,
        kind=PlanKind.RT_ION_PLAN if radiation in (RadiationType.ION, RadiationType.PROTON) else PlanKind.RT_PLAN,
        label="P",
        name="P",
        frame_of_reference_uid=FRAME,
        fraction_groups=(FractionGroup(1, fractions, (beam,)),),
    )


def make_dose(values: np.ndarray, dose_type: DoseType = DoseType.EFFECTIVE) -> DoseGrid:
    grid = RectilinearGrid.uniform((0.0, 0.0, 0.0), (2.0, 2.0, 3.0), values.shape)
    return DoseGrid(grid, values, dose_type, DoseSummationType.PLAN, FRAME)


# A 2 x 2 x 2 map in 22 fractions, BED/EQD2 worked by hand:
# D = 55 GyE: d = 2.5, BED2 = 55 * (1 + 1.25) = 123.75, BED9 = 55 * (1 + 2.5/9) = 70.2778
# D = 44 GyE: d = 2.0, BED2 = 88, EQD2_2 = 44 (2 Gy fractions)
# D = 11 GyE: d = 0.5, BED2 = 11 * 1.25 = 13.75, EQD2_2 = 6.875
# D = 0: everything 0
VOXELS = np.array([[[55.0, 44.0], [11.0, 0.0]], [[0.0, 11.0], [44.0, 55.0]]])
BED2 = {55.0: 123.75, 44.0: 88.0, 11.0: 13.75, 0.0: 0.0}
EQD2_2 = {55.0: 61.875, 44.0: 44.0, 11.0: 6.875, 0.0: 0.0}
BED9 = {55.0: 55.0 * (1 + 2.5 / 9), 44.0: 44.0 * (1 + 2.0 / 9), 11.0: 11.0 * (1 + 0.5 / 9), 0.0: 0.0}


def _expected(table: dict[float, float]) -> np.ndarray:
    return np.vectorize(table.__getitem__)(VOXELS)


def test_voxel_maps_by_hand() -> None:
    maps = lq_maps(make_dose(VOXELS), plan=make_plan(22))
    by_key = {(m.quantity, m.alpha_beta_gy): m for m in maps}
    assert set(by_key) == {(DoseQuantity.BED, 2.0), (DoseQuantity.EQD2, 2.0), (DoseQuantity.BED, 9.0), (DoseQuantity.EQD2, 9.0)}
    np.testing.assert_allclose(by_key[DoseQuantity.BED, 2.0].dose.dose_gy, _expected(BED2), rtol=1e-12)
    np.testing.assert_allclose(by_key[DoseQuantity.EQD2, 2.0].dose.dose_gy, _expected(EQD2_2), rtol=1e-12)
    np.testing.assert_allclose(by_key[DoseQuantity.BED, 9.0].dose.dose_gy, _expected(BED9), rtol=1e-12)
    for m in maps:
        assert m.fractions == 22
        assert m.dose.dose_type is DoseType.EFFECTIVE
        assert m.dose.referenced_plan_uid == "1.2.3.4"
        assert f"a/b {m.alpha_beta_gy:g} Gy" in m.description and "22 fx" in m.description


def test_voxel_dose_per_fraction_is_the_voxels_own() -> None:
    # a voxel at half the prescription has a quarter of the quadratic term, not the prescription's d
    m = lq_map(make_dose(VOXELS), quantity=DoseQuantity.BED, alpha_beta_gy=2.0, fractions=22)
    assert m.dose.dose_gy[0, 1, 0] == pytest.approx(13.75)  # 11 GyE: d = 0.5, not 2.5


def test_explicit_fractions_agree_with_plan() -> None:
    assert resolve_fractions(plan=make_plan(22), fractions=22) == 22
    assert resolve_fractions(plan=make_plan(22), fractions=None) == 22
    assert resolve_fractions(plan=None, fractions=5) == 5


def test_fraction_mismatch_with_plan_names_argument() -> None:
    with pytest.raises(ConsistencyError, match=r"fractions=20 .*22 fractions"):
        lq_maps(make_dose(VOXELS), plan=make_plan(22), fractions=20)


def test_fractions_unknown() -> None:
    with pytest.raises(ArgumentError, match="fractions"):
        lq_maps(make_dose(VOXELS))


def test_zero_fractions_refused() -> None:
    with pytest.raises(RadiobiologyError, match="fractions"):
        lq_maps(make_dose(VOXELS), fractions=0)


def test_alpha_beta_refused() -> None:
    with pytest.raises(RadiobiologyError, match="alpha_beta_gy"):
        lq_maps(make_dose(VOXELS), fractions=22, alpha_betas_gy=(2.0, 0.0))


def test_negative_dose_refused() -> None:
    # DoseGrid accepts negative values (ERROR doses may be negative); the LQ conversion does not
    with pytest.raises(RadiobiologyError, match="dose_gy.*>= 0"):
        lq_maps(make_dose(VOXELS - 1.0), fractions=22)


def test_physical_carbon_dose_refused_even_with_rbe() -> None:
    dose = make_dose(VOXELS, DoseType.PHYSICAL)
    with pytest.raises(RadiobiologyError, match="never assumed"):
        lq_maps(dose, plan=make_plan(22, RadiationType.ION))
    with pytest.raises(RadiobiologyError, match="never assumed"):
        lq_maps(dose, plan=make_plan(22, RadiationType.ION), rbe=3.0)


def test_physical_proton_dose_needs_constant_rbe() -> None:
    dose = make_dose(VOXELS, DoseType.PHYSICAL)
    with pytest.raises(RadiobiologyError, match="rbe"):
        lq_maps(dose, plan=make_plan(22, RadiationType.PROTON))
    m = lq_map(dose, quantity=DoseQuantity.BED, alpha_beta_gy=2.0, plan=make_plan(22, RadiationType.PROTON), rbe=1.1)
    assert m.rbe == 1.1
    assert m.dose.dose_gy[0, 0, 0] == pytest.approx(60.5 * (1 + 60.5 / 22 / 2))
    assert any("1.1" in w for w in m.warnings)
    assert "RBE 1.1" in m.description


def test_photon_physical_dose_used_as_is_and_rbe_refused() -> None:
    dose = make_dose(VOXELS, DoseType.PHYSICAL)
    m = lq_map(dose, quantity=DoseQuantity.BED, alpha_beta_gy=2.0, plan=make_plan(22, RadiationType.PHOTON))
    np.testing.assert_allclose(m.dose.dose_gy, _expected(BED2))
    assert m.warnings == ()
    with pytest.raises(RadiobiologyError, match="rbe"):
        lq_maps(dose, plan=make_plan(22, RadiationType.PHOTON), rbe=1.1)


def test_effective_dose_with_rbe_refused() -> None:
    with pytest.raises(RadiobiologyError, match="already EFFECTIVE"):
        lq_maps(make_dose(VOXELS), fractions=22, rbe=1.1)


def test_physical_dose_without_plan_is_photon_with_warning() -> None:
    result = photon_equivalent_dose(make_dose(VOXELS, DoseType.PHYSICAL))
    assert result.rbe is None
    assert any("photon" in w for w in result.warnings)


def test_error_dose_refused() -> None:
    with pytest.raises(RadiobiologyError, match="ERROR"):
        lq_maps(make_dose(VOXELS, DoseType.ERROR), fractions=22)


def test_beam_dose_refused() -> None:
    grid = RectilinearGrid.uniform((0.0, 0.0, 0.0), (2.0, 2.0, 3.0), VOXELS.shape)
    beam = DoseGrid(grid, VOXELS, DoseType.EFFECTIVE, DoseSummationType.BEAM, FRAME)
    with pytest.raises(RadiobiologyError, match="BEAM dose"):
        lq_maps(beam, fractions=22)


def test_unscaled_fraction_dose_refused() -> None:
    grid = RectilinearGrid.uniform((0.0, 0.0, 0.0), (2.0, 2.0, 3.0), VOXELS.shape)
    one_fraction = DoseGrid(grid, VOXELS / 22, DoseType.EFFECTIVE, DoseSummationType.FRACTION, FRAME)
    with pytest.raises(RadiobiologyError, match="course total"):
        lq_maps(one_fraction, fractions=22)
