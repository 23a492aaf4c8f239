"""The report's overlays take the EQD2 maps the analysis computed (held by the write's spool)
instead of computing them again (issue 20): the same page, the same values; render processes
leave at once when their input ends.

Oracle: the report built without handed-over maps (the overlays compute them, as before)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

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
