"""The report's overlays take the EQD2 maps the analysis computed (held by the write's spool)
instead of computing them again (issue 20): the same page, the same values; render processes
leave at once when their input ends.

Oracle: the report built without handed-over maps (the overlays compute them, as before)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dosimetry.errors import ArgumentError, OutputError
from dosimetry.patient import load_patient
from dosimetry.patient.writers import map_spool
from dosimetry.report.builder import build_report
from dosimetry.report.figure_sections import overlay_map_keys
from dosimetry.report.render_process import RenderProcesses
from tests.test_report_render_process import _dvh_job

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "patient01"


def test_the_spool_holds_the_overlay_maps_the_analysis_computed(tmp_path: Path) -> None:
    patient = load_patient(SAMPLE)
    maps = patient.patient_maps
    keys = overlay_map_keys(maps)
    with map_spool(maps, tmp_path / "out", hold=keys) as spool:
        document = patient.results().to_dict()
        held = spool.take_held()
        assert spool.take_held() == {}  # handed over once
    assert sorted(held) == sorted(keys)
    current_key, cumulative_key = keys
    np.testing.assert_array_equal(held[current_key].dose_gy, maps.lq[current_key].dose.dose_gy)
    np.testing.assert_array_equal(held[cumulative_key].dose_gy, maps.cumulative[cumulative_key].dose.dose_gy)
    assert held[current_key].grid == maps.lq[current_key].dose.grid
    with_held = build_report(document, maps, patient.dvhs(), computed_maps=held)
    assert held == {}  # let go of once used
    computed_again = build_report(document, maps, patient.dvhs())
    assert with_held.html == computed_again.html
    assert with_held.warnings == computed_again.warnings
    assert 'data-figure="overlay-overlap"' in with_held.html  # the overlap plane uses both held maps


def test_a_spool_without_hold_holds_nothing(tmp_path: Path) -> None:
    patient = load_patient(SAMPLE)
    with map_spool(patient.patient_maps, tmp_path / "out") as spool:
        patient.dvhs()
        assert spool.take_held() == {}


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
