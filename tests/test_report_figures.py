"""Report figures a physicist reads (``dosimetry.report.figures``, ``dosimetry.report.figure_sections``).

Oracles: hand-built DVH curves (a straight line whose volume at the limit is known by hand), ROI names
with their written side, and the protocol's Fig. 1 colours blended at the documented alpha (0.5 on white)."""

from __future__ import annotations

import io
from types import SimpleNamespace

import matplotlib.image as mpimg
import numpy as np

from dosimetry.report import OverlayContour, OverlayMarker, isodose_overlay_png
from dosimetry.report.figure_sections import _markers, side_linestyle


def test_left_and_right_organs_get_different_line_styles() -> None:
    assert side_linestyle("OpticNrv_L") != side_linestyle("OpticNrv_R")
    assert side_linestyle("Parotid_R") == side_linestyle("Cochlea Rt") == side_linestyle("Right Eye") == "--"
    assert side_linestyle("Parotid_L") == side_linestyle("BrainStem") == side_linestyle("Liver") == "-"


def test_a_marker_sits_at_each_limit_on_its_organs_curve() -> None:
    """A linear DVH from 100 % at 0 Gy to 0 % at 80 Gy has 100 (1 - 50/80) = 37.5 % at the 50 Gy limit."""
    dvh = SimpleNamespace(bin_edges_gy=np.array([0.0, 80.0]), cumulative_percent=np.array([100.0, 0.0]))
    dvhs = SimpleNamespace(curves={("OpticChiasm", "EQD2_2_cumulative"): dvh, ("Parotid_L", "EQD2_2_cumulative"): dvh})
    rows = [
        {"roi": "OpticChiasm", "quantity": "eqd2_cumulative", "metric": "Max[Gy]", "comparator": "<=", "limit": 50.0,
         "unit": "Gy", "status": "FAIL"},
        {"roi": "Parotid_L", "quantity": "eqd2_cumulative", "metric": "V30Gy[%]", "comparator": "<", "limit": 50.0,
         "unit": "%", "status": "PASS"},
        {"roi": "Parotid_L", "quantity": "dose_current", "metric": "Max[Gy]", "comparator": "<", "limit": 60.0,
         "unit": "Gy", "status": "PASS"},  # another map: not on this plot
    ]
    chiasm, parotid = _markers({"constraints": {"rows": rows}}, dvhs, "EQD2_2_cumulative", {"eqd2_cumulative"})  # type: ignore[arg-type]
    assert (chiasm.dose_gy, chiasm.volume_pct, chiasm.failed) == (50.0, 37.5, True)
    assert (parotid.dose_gy, parotid.volume_pct, parotid.failed) == (30.0, 50.0, False)
    assert chiasm.label == "OpticChiasm Max <= 50 Gy"


def test_overlay_is_full_width_with_a_colour_bar_of_the_protocol_bands() -> None:
    y, x = np.mgrid[-60:60:120j, -60:60:120j]
    ct = np.where(x**2 + y**2 < 55**2, 40.0, -1000.0)
    dose = 60.0 * np.exp(-(x**2 + y**2) / (2 * 20**2))
    png = isodose_overlay_png(
        ct, dose, extent_mm=(-60, 60, -60, 60), reference_gy=55.0, dose_unit="Gy(RBE)", title="Axial",
        contours=[OverlayContour("OpticChiasm", ((x - 10) ** 2 + y**2 < 5**2).astype(float), (255, 128, 0))],
        axis_labels=("x [mm]", "y [mm]"), markers=[OverlayMarker(10.0, 0.0, "OpticChiasm hottest voxel")],
    )
    pixels = mpimg.imread(io.BytesIO(png))[..., :3]
    assert pixels.shape[1] == 1050  # 10.5 in at 100 dpi: the report's full content width
    strip = pixels[int(0.8 * pixels.shape[0]):].reshape(-1, 3)  # the colour bar lies under the image

    def present(rgb: tuple[float, float, float]) -> bool:
        return bool(np.any(np.all(np.abs(strip - np.array(rgb)) < 0.06, axis=1)))

    # Red, orange, yellow and blue of the protocol's Fig. 1 at alpha 0.5 on white.
    for colour in ((1.0, 0.5, 0.5), (1.0, 0.82, 0.5), (1.0, 1.0, 0.5), (0.5, 0.5, 1.0)):
        assert present(colour), colour


def test_the_hottest_voxel_label_gives_the_check_in_its_own_unit() -> None:
    """Oracle: the rows written here: a failing V20Gy[%] check is a percentage of the organ's volume (it was
    labelled Gy), and a Max of 50.004 Gy against <= 50 Gy fails by 0.004 Gy (two decimals would print 50.00)."""
    from dosimetry.report.figure_sections import checked_text

    def row(metric: str, value: float, limit: float, unit: str) -> dict[str, object]:
        return {"metric": metric, "value": value, "limit": limit, "comparator": "<=", "unit": unit, "status": "FAIL"}

    assert checked_text(row("V20Gy[%]", 35.0, 30.0, "%")) == "; checked V20Gy[%] = 35.00 %, limit <= 30 %"
    assert checked_text(row("Max[Gy]", 50.004, 50.0, "Gy")) == (
        "; checked Max[Gy] = 50.004 Gy (includes sub-voxel samples at the outline), limit <= 50 Gy")
