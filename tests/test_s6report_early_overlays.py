"""The overlays' CT scene built, and the centre planes drawn, in a render process during the
analysis (issue 20, :mod:`dosimetry.report.overlay_scene`): the same report as drawn in the main
process, a centre plane drawn before the scene's last outlines are the same PNG, and an early
start from other inputs is not used.

Oracles: ``Patient.write(report_workers=0)`` (every figure drawn in the main process, no early
start) and the same plane drawn after the scene holds every outline."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from dosimetry.patient import load_patient
from dosimetry.report import overlay_scene
from dosimetry.report.builder import build_report
from dosimetry.report.figure_sections import drawable_rois, hottest_voxels, overlap_voxel, overlay_ct_series
from dosimetry.report.overlay_scene import OverlayScene, SceneInputs, centre_title, start_early_overlays
from dosimetry.report.planes import PlaneAxis, nearest_index
from dosimetry.report.render_process import RenderProcesses, draw

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "patient01"
_RUN = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\+00:00)?|\b\d+(\.\d+){4,}\b")


def _page(out: Path) -> str:
    return _RUN.sub("X", (out / "report.html").read_text(encoding="utf-8").replace(str(out), "OUT"))


def test_write_with_the_early_scene_gives_the_page_drawn_in_the_main_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[Any] = []
    original = overlay_scene.start_early_overlays

    def spy(*args: Any, **kwargs: Any) -> Any:
        early = original(*args, **kwargs)
        started.append(early)
        return early

    monkeypatch.setattr(overlay_scene, "start_early_overlays", spy)
    monkeypatch.setattr(overlay_scene, "spare_core", lambda: True)  # whatever the test machine's load
    load_patient(SAMPLE).write(tmp_path / "serial", report_workers=0)
    assert started == []  # no render process, no early start
    built_here: list[OverlayScene] = []
    monkeypatch.setattr(OverlayScene, "__init__", _counting(OverlayScene.__init__, built_here))
    load_patient(SAMPLE).write(tmp_path / "early", report_workers=2)
    assert len(started) == 1 and built_here == []  # the scene was built in the render process only
    assert _page(tmp_path / "early") == _page(tmp_path / "serial")
    assert len(re.findall(r'<img data-figure="overlay-', _page(tmp_path / "early"))) == 6


def _counting(init: Any, calls: list[Any]) -> Any:
    def wrapper(self: OverlayScene, *args: Any, **kwargs: Any) -> None:
        calls.append(self)
        init(self, *args, **kwargs)

    return wrapper


def test_an_early_scene_of_other_inputs_is_not_used(tmp_path: Path) -> None:
    patient = load_patient(SAMPLE)
    maps = patient.patient_maps
    document = patient.results().to_dict()
    serial = build_report(document, maps, patient.dvhs())
    inputs = SceneInputs(overlay_ct_series(maps), maps.current.dose, drawable_rois(patient.dvhs())[:-1], patient.end_cap)
    with RenderProcesses(1) as renderer:
        early = start_early_overlays(renderer, inputs, 1.0, "Gy")  # one ROI and the prescription differ
        page = build_report(document, maps, patient.dvhs(), renderer=renderer, early_overlays=early)
    assert page.html == serial.html


def test_a_centre_plane_drawn_before_the_last_outlines_is_the_same_png() -> None:
    patient = load_patient(SAMPLE)
    maps, dvhs = patient.patient_maps, patient.dvhs()
    document = patient.results().to_dict()
    scene = OverlayScene(SceneInputs(overlay_ct_series(maps), maps.current.dose, drawable_rois(dvhs), dvhs.end_cap))
    assert scene.summary.error is None
    point, grid = scene.point, scene.inputs.series.grid
    before = {axis: draw(scene.plane_job(f"overlay-{axis.value}", axis, point, centre_title(axis, point, scene.centre_from), None, 60.0, "Gy"))
              for axis in (PlaneAxis.AXIAL, PlaneAxis.SAGITTAL, PlaneAxis.CORONAL)}
    boxed = len(scene.boxes)
    hottest = hottest_voxels(maps, dvhs, document, [])
    overlap = overlap_voxel(maps)
    axial = {nearest_index(grid.z_mm, at[2]) for _, at, _ in hottest} | ({nearest_index(grid.z_mm, overlap[0][2])} if overlap else set())
    axial |= set(range(grid.z_mm.size))  # every slice: as many more outlines as the scene can get
    scene.extend(axial)
    assert len(scene.boxes) > boxed  # outlines that cross no centre plane were added
    for axis, png in before.items():
        again = draw(scene.plane_job(f"overlay-{axis.value}", axis, point, centre_title(axis, point, scene.centre_from), None, 60.0, "Gy"))
        assert again == png


def test_no_early_scene_on_a_busy_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    started: list[Any] = []
    monkeypatch.setattr(overlay_scene, "start_early_overlays", lambda *a, **k: started.append(1))
    monkeypatch.setattr(os, "getloadavg", lambda: (2.0 * (os.cpu_count() or 1), 0.0, 0.0))
    assert not overlay_scene.spare_core()
    load_patient(SAMPLE).write(tmp_path / "busy", report_workers=1)
    assert started == []
    assert len(re.findall(r'<img data-figure="overlay-', _page(tmp_path / "busy"))) == 6
