"""Batch workers make every dose map in their own thread (``without_background_maps``, issue 20: a
batch runs one analysis per core already, and one worker's background thread took 11 % of a core
from its neighbour); one ``analyze`` keeps the background thread. The numbers are the same.

Oracles: the context ``Patient.write`` runs in (a spy through ``run_batch``), the submissions to a
thread pool (a counting wrapper around ``ThreadPoolExecutor.submit``), and the same patient's
metric rows and warnings computed with the background thread.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from dosimetry import load_patient
from dosimetry.patient.background import background_maps_allowed, without_background_maps
from dosimetry.patient.facade import Patient

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "patient01"


class _Stop(Exception):
    pass


def test_batch_workers_write_without_background_maps(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import shutil

    from pipelines.analysis import AnalysisParameters
    from pipelines.analyze import full_analysis
    from pipelines.batch import ProgressMode, run_batch

    seen: list[bool] = []

    def spy(self: Patient, *args: Any, **kwargs: Any) -> Any:
        seen.append(background_maps_allowed())
        raise _Stop

    monkeypatch.setattr(Patient, "write", spy)
    shutil.copytree(SAMPLE, tmp_path / "cohort" / "patient01")
    summary = run_batch(tmp_path / "cohort", tmp_path / "out", analysis=full_analysis, parameters=AnalysisParameters(),
                        workers=0, progress=ProgressMode.OFF)
    assert summary.failed == 1  # the spy stops the analysis
    assert seen == [False]
    assert background_maps_allowed()  # the setting ends with the analysis


def test_without_background_maps_no_map_thread_and_the_same_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    submitted: list[str] = []
    original = ThreadPoolExecutor.submit

    def counting(self: ThreadPoolExecutor, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        submitted.append(getattr(self, "_thread_name_prefix", ""))
        return original(self, fn, *args, **kwargs)

    monkeypatch.setattr(ThreadPoolExecutor, "submit", counting)
    threaded = load_patient(SAMPLE).results()
    assert "dosimetry-map" in submitted  # one analyze makes maps in the background
    submitted.clear()
    with without_background_maps():
        inline = load_patient(SAMPLE).results()
    assert "dosimetry-map" not in submitted
    assert inline.metrics == threaded.metrics
    assert inline.warnings == threaded.warnings
    for key in ("recovery", "constraints", "indices", "quantities"):  # the re-irradiation type is in "recovery"
        assert inline.to_dict()[key] == threaded.to_dict()[key], key
