"""Where many analyses run side by side, each draws its report in its own process: the DICOM node
(one child process per study, under per-job time and memory bounds) and batch workers (one process
per core already) call ``Patient.write`` with ``report_workers=0``, so no render processes are
started beside them (issue 20: the render processes use a second core for one ``analyze``).

Oracle: the keyword ``Patient.write`` receives (a spy that records it and stops the analysis)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dosimetry.patient.facade import Patient

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "patient01"


class _Stop(Exception):
    pass


@pytest.fixture
def write_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    def spy(self: Patient, *args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        raise _Stop

    monkeypatch.setattr(Patient, "write", spy)
    return calls


def test_the_node_draws_its_reports_in_the_job_process(write_calls: list[dict[str, Any]], tmp_path: Path) -> None:
    from dosimetry.node.analysis import AnalysisJob, run_job

    job = AnalysisJob(SAMPLE, tmp_path / "out", reirradiation=True, residual=0.3, protocol=None, mapping=None,
                      assume_same_position=False)
    with pytest.raises(_Stop):
        run_job(job)
    assert [c.get("report_workers") for c in write_calls] == [0]


def test_batch_workers_draw_their_reports_in_the_worker_process(write_calls: list[dict[str, Any]], tmp_path: Path) -> None:
    import shutil

    from pipelines.analysis import AnalysisParameters
    from pipelines.analyze import full_analysis
    from pipelines.batch import ProgressMode, run_batch

    shutil.copytree(SAMPLE, tmp_path / "cohort" / "patient01")
    summary = run_batch(tmp_path / "cohort", tmp_path / "out", analysis=full_analysis, parameters=AnalysisParameters(),
                        workers=0, progress=ProgressMode.OFF)
    assert summary.failed == 1  # the spy stops the analysis: an isolated failure, as any patient's
    assert [c.get("report_workers") for c in write_calls] == [0]
