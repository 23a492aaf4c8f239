"""Issue 20: the re-irradiation type makes the prior course's EQD2 map in a background thread while
the organs are sampled on the overlap ratio map. Nothing it gives may change.

Oracle: the same step with the map made in the calling thread (the module's ThreadPoolExecutor
replaced by one running each task when it is submitted), on the two-course test patient: the same
classification (every field) and warnings; an error making the map surfaces as the same exception
class and message; no thread is left running. The ratio's slabs (``lq_map_slabs``, now the unchecked
arithmetic after one whole-array check) equal the whole maps bit for bit.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import dosimetry
import dosimetry.patient.reirradiation_type as reirradiation_type
from dosimetry.errors import ArgumentError, RadiobiologyError
from dosimetry.patient.maps import PatientMaps
from dosimetry.patient.reirradiation_type import classify_reirradiation
from dosimetry.quantities import DoseQuantity
from dosimetry.radiobiology.maps import lq_map, lq_map_slabs
from tests.test_patient_step_reuse import patient_with_body  # noqa: F401  (the fixture)


class _InlineExecutor:
    """A ThreadPoolExecutor stand-in running each task in the calling thread when it is submitted."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def __enter__(self) -> _InlineExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def submit(self, function: Callable[..., Any], *args: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(function(*args))
        except BaseException as exc:  # noqa: BLE001 (handed to the future, as the pool does)
            future.set_exception(exc)
        return future


def _classify(path: Path, monkeypatch: pytest.MonkeyPatch, *, inline: bool, failing: bool = False) -> object:
    patient = dosimetry.load_patient(path)
    rois = patient.dvhs().rois
    if inline:
        monkeypatch.setattr(reirradiation_type, "ThreadPoolExecutor", _InlineExecutor)
    if failing:
        def maker(self: PatientMaps, quantity: DoseQuantity, alpha_beta_gy: float) -> Callable[[], object]:
            def make() -> object:
                raise RadiobiologyError(f"prior {quantity.value} {alpha_beta_gy:g} cannot be made")

            return make

        monkeypatch.setattr(PatientMaps, "prior_lq_maker", maker)
    try:
        return classify_reirradiation(patient.patient_maps, rois, threshold_prior_gy=40.0, threshold_current_gy=30.0)
    except RadiobiologyError as exc:
        return exc
    finally:
        monkeypatch.undo()


def _no_map_thread() -> bool:
    return not [t for t in threading.enumerate() if t.name.startswith("dosimetry-map")]


def test_prior_map_made_in_the_background_gives_the_same_classification(
    patient_with_body: Path, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    background = _classify(patient_with_body, monkeypatch, inline=False)
    inline = _classify(patient_with_body, monkeypatch, inline=True)
    assert isinstance(background, tuple) and isinstance(inline, tuple)
    assert background[0] is not None and background[0].organs
    assert background == inline  # the frozen dataclass (every field) and the warnings
    assert _no_map_thread()


def test_an_error_making_the_prior_map_surfaces_as_before(
    patient_with_body: Path, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    background = _classify(patient_with_body, monkeypatch, inline=False, failing=True)
    inline = _classify(patient_with_body, monkeypatch, inline=True, failing=True)
    assert isinstance(background, RadiobiologyError) and type(background) is type(inline)
    assert str(background) == str(inline) == "prior EQD2 2 cannot be made"
    assert _no_map_thread()


def test_prior_lq_dose_without_a_prior_course_still_raises(patient_with_body: Path) -> None:  # noqa: F811
    patient = dosimetry.load_patient(patient_with_body)
    no_prior = dataclasses.replace(patient.patient_maps, aligned=None, prior=None)
    for made in (None, lambda: patient.patient_maps.current.dose):
        with pytest.raises(ArgumentError, match="needs a prior course"):
            no_prior.prior_lq_dose(DoseQuantity.EQD2, 2.0, made=made)
    with pytest.raises(ArgumentError, match="needs a prior course"):
        no_prior.prior_lq_maker(DoseQuantity.EQD2, 2.0)


@pytest.mark.parametrize("quantity", [DoseQuantity.EQD2, DoseQuantity.BED])
def test_lq_map_slabs_equal_the_whole_map_bit_for_bit(patient_with_body: Path, quantity: DoseQuantity) -> None:  # noqa: F811
    maps = dosimetry.load_patient(patient_with_body).patient_maps
    assert maps.aligned is not None and maps.prior is not None
    for dose, plan in ((maps.current.dose, maps.current.plan), (maps.aligned.dose, maps.prior.plan)):
        for ab in (2.0, 9.0, 3.5):
            whole = lq_map(dose, quantity=quantity, alpha_beta_gy=ab, plan=plan).dose.dose_gy
            slabs = np.stack([s.copy() for s in lq_map_slabs(dose, quantity=quantity, alpha_beta_gy=ab, plan=plan)])
            assert slabs.tobytes() == whole.tobytes()
