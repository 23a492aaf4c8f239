"""lq_map_preview and accumulate_preview: the warnings, the description and the errors of lq_map /
accumulate without the map (issue 20: load_patient computed a map to collect its warnings). Oracle: the map
functions themselves, called with the same arguments."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from dosimetry.dose import DoseGrid, DoseType
from dosimetry.errors import DosimetryError
from dosimetry.plan import RadiationType
from dosimetry.quantities import DoseQuantity
from dosimetry.radiobiology import CourseDose
from dosimetry.radiobiology.maps import lq_map, lq_map_preview
from dosimetry.radiobiology.recovery import ConstantResidual
from dosimetry.radiobiology.summation import RecoveryAssignment, SummationMethod, accumulate, accumulate_preview
from tests.test_radiobiology_maps import VOXELS, make_dose, make_plan

#: doses whose BED/EQD2 overflow float64 (the map's DoseGrid refuses the non-finite values)
HUGE = np.full_like(VOXELS, 1e160)
NEGATIVE = VOXELS - 1.0


def _outcome(fn: Callable[[], Any]) -> tuple[str, str]:
    """(``"ok"``, warnings) or (error type, message): what a call gives."""
    try:
        return "ok", repr(fn())
    except DosimetryError as exc:
        return type(exc).__name__, str(exc)


def _lq_cases() -> list[tuple[DoseGrid, dict[str, Any]]]:
    photon, proton, ion = (make_plan(22, r) for r in (RadiationType.PHOTON, RadiationType.PROTON, RadiationType.ION))
    physical = make_dose(VOXELS, DoseType.PHYSICAL)
    cases: list[tuple[DoseGrid, dict[str, Any]]] = []
    for quantity in (DoseQuantity.BED, DoseQuantity.EQD2, DoseQuantity.PHYSICAL):
        for ab in (2.0, 9.0, 0.0, float("nan")):
            cases += [
                (make_dose(VOXELS), dict(quantity=quantity, alpha_beta_gy=ab, plan=photon)),
                (physical, dict(quantity=quantity, alpha_beta_gy=ab, plan=photon)),
                (physical, dict(quantity=quantity, alpha_beta_gy=ab, fractions=22)),  # no plan: a warning
                (physical, dict(quantity=quantity, alpha_beta_gy=ab, plan=proton, rbe=1.1)),
                (physical, dict(quantity=quantity, alpha_beta_gy=ab, plan=proton)),  # refused: no RBE
                (physical, dict(quantity=quantity, alpha_beta_gy=ab, plan=ion)),  # refused: ions
                (physical, dict(quantity=quantity, alpha_beta_gy=ab, plan=photon, fractions=5)),  # disagrees
                (physical, dict(quantity=quantity, alpha_beta_gy=ab)),  # no fraction count
                (make_dose(NEGATIVE), dict(quantity=quantity, alpha_beta_gy=ab, plan=photon)),
                (make_dose(HUGE), dict(quantity=quantity, alpha_beta_gy=ab, plan=photon)),
                (make_dose(HUGE * 1e-150), dict(quantity=quantity, alpha_beta_gy=ab, plan=photon)),
            ]
    return cases


@pytest.mark.parametrize("case", range(len(_lq_cases())))
def test_lq_map_preview_gives_what_lq_map_gives(case: int) -> None:
    dose, kwargs = _lq_cases()[case]
    def made() -> tuple[tuple[str, ...], str]:
        computed = lq_map(dose, **kwargs)
        return computed.warnings, computed.description

    def preview() -> tuple[tuple[str, ...], str]:
        found = lq_map_preview(dose, **kwargs)
        return found.warnings, found.description

    assert _outcome(preview) == _outcome(made)


def test_overflowing_map_is_refused_as_before() -> None:
    kind, message = _outcome(lambda: lq_map_preview(make_dose(HUGE), quantity=DoseQuantity.BED, alpha_beta_gy=2.0, fractions=1))
    assert (kind, "non-finite" in message) == ("GeometryError", True)


def _accumulate_cases() -> list[tuple[CourseDose, CourseDose, dict[str, Any]]]:
    photon = make_plan(22, RadiationType.PHOTON)
    prior_plan = make_plan(30, RadiationType.PHOTON, uid="1.2.3.5")
    current = CourseDose(make_dose(VOXELS), photon)
    cases: list[tuple[CourseDose, CourseDose, dict[str, Any]]] = []
    priors = {
        "same": CourseDose(make_dose(VOXELS[::-1].copy()), prior_plan),
        "physical, no plan": CourseDose(make_dose(VOXELS, DoseType.PHYSICAL), fractions=30),
        "negative": CourseDose(make_dose(NEGATIVE), prior_plan),
        "huge": CourseDose(make_dose(HUGE), prior_plan),
        "large": CourseDose(make_dose(np.full_like(VOXELS, 1e153)), prior_plan),
        "edge": CourseDose(make_dose(np.full_like(VOXELS, 9e154)), prior_plan),  # finite terms, their sum may overflow
    }
    currents = {"current": current, "huge current": CourseDose(make_dose(HUGE), photon), "negative current": CourseDose(make_dose(NEGATIVE), photon),
                "edge current": CourseDose(make_dose(np.full_like(VOXELS, 8e154)), photon)}
    for cur in currents.values():
        for prior in priors.values():
            for quantity in (DoseQuantity.EQD2, DoseQuantity.BED, DoseQuantity.PHYSICAL):
                for options in (
                    dict(alpha_beta_gy=2.0),
                    dict(alpha_beta_gy=2.0, residual=0.0),
                    dict(alpha_beta_gy=2.0, residual=1.5),
                    dict(alpha_beta_gy=-1.0),
                    dict(alpha_beta_gy=3.0, warnings=("alignment note",), residual=1.0),
                    dict(alpha_beta_gy=2.0, method=SummationMethod.PHYSICAL),
                    dict(alpha_beta_gy=2.0, recovery=RecoveryAssignment(ConstantResidual(0.5))),
                    dict(),  # neither alpha/beta
                    dict(alpha_beta_gy=2.0, alpha_beta_map_gy=np.full(VOXELS.shape, 2.0)),
                    dict(alpha_beta_map_gy=np.full(VOXELS.shape, 3.0), alpha_beta_rule="3 Gy everywhere"),
                ):
                    cases.append((cur, prior, dict(quantity=quantity, **options)))
    return cases


@pytest.mark.parametrize("case", range(len(_accumulate_cases())))
def test_accumulate_preview_gives_what_accumulate_gives(case: int) -> None:
    current, prior, kwargs = _accumulate_cases()[case]
    def made() -> tuple[tuple[str, ...], str]:
        computed = accumulate(current, prior, **kwargs)
        return computed.warnings, computed.description

    def preview() -> tuple[tuple[str, ...], str]:
        found = accumulate_preview(current, prior, **kwargs)
        return found.warnings, found.description

    assert _outcome(preview) == _outcome(made)
