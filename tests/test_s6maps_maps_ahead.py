"""Issue 20: the DVH stage makes each dose map ahead in a background thread
(``dosimetry.patient.dvhs._MapsAhead``) while the ROI geometries are computed and the previous map is
sampled. Nothing it gives may change.

Oracle: the same stage with every map made in the calling thread when it is sampled (``_maps_ahead``
replaced by one that starts nothing), on the two-course test patient: the same curves (every array
and field), metric rows, failures and warnings; each map's getter called once, in the same order;
an error raised by a getter surfaces as the same exception class and message at the same point
(the maps before it sampled and handed to ``on_map``, none after it); no thread is left running.
(The planned dose's getter, which makes nothing, is called after the first map's has started.)
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

import dosimetry
import dosimetry.patient.dvhs as dvhs
from dosimetry.dose import DoseGrid
from dosimetry.errors import RadiobiologyError
from dosimetry.patient.dvhs import PatientDvhs, compute_patient_dvhs
from tests.test_patient_step_reuse import patient_with_body  # noqa: F401  (the fixture)


@contextmanager
def _in_calling_thread(getters: Mapping[str, Callable[[], DoseGrid]]) -> Iterator[dvhs._MapsAhead]:
    class Sequential(dvhs._MapsAhead):
        def start(self, quantity: str) -> None:  # nothing made ahead: get() runs the getter
            return None

    yield Sequential(getters, None)  # type: ignore[arg-type]


def _stage(path: Path, monkeypatch: pytest.MonkeyPatch, *, ahead: bool, failing: str | None = None) -> tuple[
    PatientDvhs | RadiobiologyError, list[tuple[str, str]], list[str]
]:
    """The DVH stage on a fresh load; the getters' calls (quantity, thread name) and on_map's quantities."""
    patient = dosimetry.load_patient(path)
    calls: list[tuple[str, str]] = []
    seen: list[str] = []
    real_getters = dvhs.map_getters

    def getters(maps: object) -> dict[str, Callable[[], DoseGrid]]:
        def wrap(quantity: str, get: Callable[[], DoseGrid]) -> Callable[[], DoseGrid]:
            def call() -> DoseGrid:
                calls.append((quantity, threading.current_thread().name))
                if quantity == failing:
                    raise RadiobiologyError(f"map {quantity} cannot be made")
                return get()

            return call

        return {q: wrap(q, g) for q, g in real_getters(maps).items()}  # type: ignore[arg-type]

    monkeypatch.setattr(dvhs, "map_getters", getters)
    if not ahead:
        monkeypatch.setattr(dvhs, "_maps_ahead", _in_calling_thread)
    try:
        result: PatientDvhs | RadiobiologyError = compute_patient_dvhs(
            patient.patient_maps, patient.patient_maps.structure_set.rois, on_map=lambda q, *_: seen.append(q)
        )
    except RadiobiologyError as exc:
        result = exc
    monkeypatch.undo()
    return result, calls, seen


def _same_dvh(a: object, b: object) -> None:
    assert type(a) is type(b)
    for field in dataclasses.fields(a):  # type: ignore[arg-type]
        left, right = getattr(a, field.name), getattr(b, field.name)
        if isinstance(left, np.ndarray):
            assert left.dtype == right.dtype and left.tobytes() == right.tobytes(), field.name
        else:
            assert left == right, field.name


def test_maps_made_ahead_give_the_same_stage(patient_with_body: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    ahead, ahead_calls, ahead_seen = _stage(patient_with_body, monkeypatch, ahead=True)
    inline, inline_calls, inline_seen = _stage(patient_with_body, monkeypatch, ahead=False)
    assert isinstance(ahead, PatientDvhs) and isinstance(inline, PatientDvhs)
    assert list(ahead.curves) == list(inline.curves)
    for key in inline.curves:
        _same_dvh(ahead.curves[key], inline.curves[key])
    assert ahead.metrics == inline.metrics
    assert ahead.warnings == inline.warnings and dict(ahead.roi_failures) == dict(inline.roi_failures)
    assert ahead_seen == inline_seen
    # each getter once; the planned dose (sampled first, nothing to make) in the calling thread when
    # it is sampled, every other map in the background thread, in the same order as before
    planned = inline_calls[0][0]
    assert sorted(q for q, _ in ahead_calls) == sorted(q for q, _ in inline_calls)
    assert len(ahead_calls) == len(set(ahead_calls)) > 2
    assert (planned, threading.current_thread().name) in ahead_calls
    made = [(q, name) for q, name in ahead_calls if q != planned]
    assert [q for q, _ in made] == [q for q, _ in inline_calls[1:]]
    assert all(name.startswith("dosimetry-map") for _, name in made)
    assert not [t for t in threading.enumerate() if t.name.startswith("dosimetry-map")]


@pytest.mark.parametrize("position", [1, 2, 3, -1])
def test_an_error_making_a_map_surfaces_as_before(
    patient_with_body: Path, monkeypatch: pytest.MonkeyPatch, position: int  # noqa: F811
) -> None:
    _, calls, _ = _stage(patient_with_body, monkeypatch, ahead=False)
    failing = calls[position][0]
    ahead, _, ahead_seen = _stage(patient_with_body, monkeypatch, ahead=True, failing=failing)
    inline, _, inline_seen = _stage(patient_with_body, monkeypatch, ahead=False, failing=failing)
    assert isinstance(ahead, RadiobiologyError) and isinstance(inline, RadiobiologyError)
    assert type(ahead) is type(inline) and str(ahead) == str(inline) == f"map {failing} cannot be made"
    assert ahead_seen == inline_seen == [q for q, _ in calls[: calls.index(calls[position])]]
    assert not [t for t in threading.enumerate() if t.name.startswith("dosimetry-map")]


def test_an_error_in_the_stage_waits_for_the_map_being_made(
    patient_with_body: Path, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    """on_map raising on the first map: the error surfaces, the map being made ahead is waited for
    (its thread ended), nothing else is made."""
    patient = dosimetry.load_patient(patient_with_body)

    def on_map(quantity: str, *_: object) -> None:
        raise RadiobiologyError(f"stop at {quantity}")

    with pytest.raises(RadiobiologyError, match="stop at "):
        compute_patient_dvhs(patient.patient_maps, patient.patient_maps.structure_set.rois, on_map=on_map)
    assert not [t for t in threading.enumerate() if t.name.startswith("dosimetry-map")]
