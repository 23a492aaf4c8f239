"""The report's figures drawn in render processes (issue 20): the same bytes as drawn in the main
process, failures named, the processes always stopped.

Oracle for the bytes: the same report built with the figures drawn in this process
(``renderer=None``, as before render processes existed)."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib
import numpy as np
import pytest

from dosimetry.errors import ArgumentError, OutputError
from dosimetry.patient import load_patient
from dosimetry.report.builder import build_report
from dosimetry.report.figure_data import DvhCurve, DvhPanel
from dosimetry.report.render_process import FigureJob, RenderProcesses, draw, report_renderer

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "patient01"


def _dvh_job(figure_id: str = "dvh-test", *, broken: bool = False) -> FigureJob:
    dose = np.linspace(0.0, 60.0, 121)
    volume = 100.0 / (1.0 + np.exp((dose - 40.0) / 3.0))
    curve = DvhCurve("PTV", dose, volume[:-1] if broken else volume, (0, 255, 0))
    return FigureJob(figure_id, "dvh_panels", ([DvhPanel("Targets", (curve,))],), {"title": "test DVH"})


def test_the_sample_patients_report_is_the_same_page_with_render_processes() -> None:
    patient = load_patient(SAMPLE)
    document = patient.results().to_dict()
    serial = build_report(document, patient._maps, patient.dvhs())
    with RenderProcesses(2) as renderer:
        parallel = build_report(document, patient._maps, patient.dvhs(), renderer=renderer)
    figures = re.findall(r'<img data-figure="([^"]+)"', serial.html)
    assert len(figures) == 8  # 2 DVH plots and 6 overlays, each a PNG drawn in a render process
    assert parallel.html == serial.html  # every PNG byte for byte, and the rest of the page
    assert parallel.warnings == serial.warnings


def test_the_main_processs_rcparams_reach_the_render_process() -> None:
    job = _dvh_job()
    with RenderProcesses(1) as renderer:
        default = renderer.submit(job)()
        with matplotlib.rc_context({"font.size": 14.0, "lines.linewidth": 3.0}):
            changed_here = draw(job)
            changed_there = renderer.submit(job)()
    assert default == draw(job)
    assert changed_there == changed_here != default


def test_a_figure_failing_in_the_render_process_is_an_error_naming_it() -> None:
    with RenderProcesses(1) as renderer:
        good = renderer.submit(_dvh_job("dvh-good"))
        bad = renderer.submit(_dvh_job("dvh-broken", broken=True))
        assert good().startswith(b"\x89PNG")
        with pytest.raises(OutputError, match=r"'dvh-broken' could not be drawn.*ArgumentError.*differ in shape"):
            bad()


def test_the_render_processes_are_stopped_after_an_exception() -> None:
    with pytest.raises(KeyboardInterrupt):
        with RenderProcesses(2) as renderer:
            renderer.submit(_dvh_job())
            processes = [p.popen for p in renderer.processes]
            assert all(p.poll() is None for p in processes)
            raise KeyboardInterrupt
    assert all(p.returncode is not None for p in processes)


def test_the_render_processes_stop_when_asked() -> None:
    with RenderProcesses(1) as renderer:
        assert renderer.submit(_dvh_job())().startswith(b"\x89PNG")
        process = renderer.processes[0].popen
    assert process.returncode == 0


def test_a_render_process_that_dies_is_an_error_naming_the_awaited_figures() -> None:
    with RenderProcesses(1) as renderer:
        renderer.processes[0].popen.kill()
        png = renderer.submit(_dvh_job("dvh-lost"))
        with pytest.raises(OutputError, match=r"'dvh-lost': render process .* exited"):
            png()
        with pytest.raises(OutputError, match="exited"):
            renderer.submit(_dvh_job("dvh-next"))


def test_no_png_within_the_timeout_is_an_error() -> None:
    with RenderProcesses(1, timeout_s=0.01) as renderer:
        with pytest.raises(OutputError, match=r"'dvh-slow': no PNG from the render process within 0.01 s"):
            renderer.submit(_dvh_job("dvh-slow"))()


def test_report_workers_zero_draws_here_and_negative_is_refused() -> None:
    with report_renderer(0) as renderer:
        assert renderer is None
    with pytest.raises(ArgumentError, match="report_workers"):
        with report_renderer(-1):
            pass
    with pytest.raises(ArgumentError, match="unknown drawing function"):
        FigureJob("x", "pie_chart")


def test_a_render_process_that_cannot_start_is_an_error_saying_how_to_draw_here(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.executable", "/nonexistent/python")
    with pytest.raises(OutputError, match=r"cannot start a report render process .*report_workers=0"):
        RenderProcesses(2)
