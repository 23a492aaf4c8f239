"""The write's late steps (issue 20): render processes leave at once when their input ends, the
outputs given late make the same page, a map export error names its file.

Oracle: the page built with the outputs given at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from dosimetry.errors import ArgumentError, OutputError
from dosimetry.patient import load_patient
from dosimetry.report.builder import build_report
from dosimetry.report.render_process import RenderProcesses
from tests.test_report_render_process import _dvh_job

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "patient01"


def test_a_render_process_leaves_with_code_0_once_its_input_ends() -> None:
    renderer = RenderProcesses(1)
    try:
        assert renderer.submit(_dvh_job())().startswith(b"\x89PNG")
    finally:
        renderer.close()
    assert renderer.processes[0].popen.returncode == 0


def test_the_outputs_given_late_make_the_same_page_and_are_asked_for_once() -> None:
    patient = load_patient(SAMPLE)
    document = patient.results().to_dict()
    document["outputs"] = [{"path": "BED2.dcm", "kind": "rtdose", "description": "BED2", "sop_instance_uid": "1.2.3.4.5.6"},
                           {"path": "dvh.csv", "kind": "csv", "description": "cumulative DVHs", "sop_instance_uid": None}]
    at_once = build_report(document, patient.patient_maps, patient.dvhs())
    asked: list[int] = []

    def outputs() -> list[dict[str, object]]:
        asked.append(1)
        return document["outputs"]  # type: ignore[no-any-return]

    late_document = {k: v for k, v in document.items() if k != "outputs"}
    late = build_report(late_document, patient.patient_maps, patient.dvhs(), outputs=outputs)
    assert late.html == at_once.html
    assert asked == [1]
    with pytest.raises(ArgumentError, match="give one"):
        build_report(document, patient.patient_maps, patient.dvhs(), outputs=outputs)


def test_a_map_export_error_during_the_report_is_an_output_error_naming_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import dosimetry.patient.writers as writers

    def failing(*args: object, **kwargs: object) -> object:
        raise OutputError(f"cannot write {tmp_path / 'out' / 'BED2.dcm'}: disk full")

    monkeypatch.setattr(writers, "export_map_file", failing)
    with pytest.raises(OutputError, match=r"BED2\.dcm: disk full"):
        load_patient(SAMPLE).write(tmp_path / "out", report_workers=0)
    assert not (tmp_path / "out").exists()  # created by write, left empty by the failure: removed
