"""The report page: escaping, tables with status, figures as PNG data URIs, and real rendering
in headless Chromium (figures decoded by the browser, pixels on the screenshot)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest

from dosimetry.errors import ArgumentError
from dosimetry.report import (
    DvhCurve,
    Figure,
    OverlayContour,
    Paragraph,
    Report,
    Section,
    RowStyle,
    Table,
    dvh_figure_png,
    isodose_overlay_png,
    render_html,
)
from tests.browser import dump_dom, screenshot


def _overlay() -> bytes:
    y, x = np.mgrid[-50:50:100j, -50:50:100j]
    ct = np.where(x**2 / 45**2 + y**2 / 40**2 < 1, 40.0, -1000.0)
    dose = 60.0 * np.exp(-(x**2 + y**2) / (2 * 15**2))
    occ = ((x**2 + y**2) < 12**2).astype(float)
    return isodose_overlay_png(
        ct,
        dose,
        extent_mm=(-50, 50, -50, 50),
        reference_gy=55.0,
        contours=[OverlayContour("GTV", occ, (255, 0, 0))],
        title="Axial",
        axis_labels=("x [mm]", "y [mm]"),
    )


def _report() -> Report:
    dose = np.linspace(0, 60, 50)
    dvh_png = dvh_figure_png(
        [DvhCurve("PTV", dose, 100 / (1 + np.exp(dose - 52)), (255, 0, 0))], title="DVH (physical)"
    )
    table = Table(
        title="Constraints",
        columns=("ROI", "Metric", "Value [Gy]", "RowStyle"),
        rows=(("BrainStem", "D0.03cc[Gy]", "48.1", "PASS"), ("<script>", "x & y", "1", "FAIL")),
        row_status=(RowStyle.PASS, RowStyle.FAIL),
    )
    return Report(
        title="Patient <01>",
        subtitle="Pre-treatment check",
        sections=(
            Section("Plan", (Paragraph("55 GyE in 22 fractions"), table)),
            Section("Figures", (Figure("dvh-physical", "DVH", dvh_png), Figure("overlay-axial", "Overlay", _overlay()))),
        ),
        warnings=("prior dose uncovered: 3.2 cc",),
    )


def test_html_escapes_text_and_embeds_png() -> None:
    page = render_html(_report())
    assert "<td>&lt;script&gt;</td>" in page and "<td>x &amp; y</td>" in page
    assert "Patient &lt;01&gt;" in page
    assert page.count("data:image/png;base64,") == 2
    assert 'class="fail"' in page and 'class="pass"' in page
    assert "prior dose uncovered: 3.2 cc" in page
    assert "http://" not in page and "https://" not in page


def test_table_shape_is_validated() -> None:
    with pytest.raises(ArgumentError, match="row 0 has 1 cells"):
        Table("t", ("a", "b"), (("x",),))


def test_figure_requires_png() -> None:
    with pytest.raises(ArgumentError):
        Figure("f", "t", b"GIF89a")


def test_overlay_rejects_mismatched_planes() -> None:
    with pytest.raises(ArgumentError, match="equal 2-D shapes"):
        isodose_overlay_png(
            np.zeros((4, 4)), np.zeros((4, 5)), extent_mm=(0, 1, 0, 1), reference_gy=1.0, contours=[], title="", axis_labels=("", "")
        )


def test_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(render_html(_report()), encoding="utf-8")
    dom = dump_dom(page, tmp_path / "profile1")
    for figure_id in ("dvh-physical", "overlay-axial"):
        assert f'data-figure="{figure_id}"' in dom
        tag = dom.split(f'data-figure="{figure_id}"')[1].split(">")[0]
        assert 'data-loaded="true"' in tag, f"{figure_id} was not decoded by the browser"
    shot = tmp_path / "shot.png"
    screenshot(page, shot, tmp_path / "profile2")
    pixels = mpimg.imread(shot)
    non_white = np.mean(np.any(pixels[..., :3] < 0.9, axis=-1))
    assert non_white > 0.05, f"screenshot nearly blank ({non_white:.3f} non-white)"
