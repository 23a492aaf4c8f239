"""Report building blocks: figures (PNG bytes) and a self-contained HTML page."""

from dosimetry.report.content import Figure, Paragraph, Report, Section, RowStyle, Table
from dosimetry.report.figures import DvhCurve, OverlayContour, dvh_figure_png, isodose_overlay_png
from dosimetry.report.html import render_html

__all__ = [
    "DvhCurve",
    "Figure",
    "OverlayContour",
    "Paragraph",
    "Report",
    "Section",
    "RowStyle",
    "Table",
    "dvh_figure_png",
    "isodose_overlay_png",
    "render_html",
]
