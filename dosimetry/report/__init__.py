"""Report building blocks: figures (PNG bytes) and a self-contained HTML page."""

from dosimetry.report.content import (
    Banner,
    Details,
    Figure,
    Paragraph,
    Report,
    RowStyle,
    Section,
    SignOff,
    Table,
    WarningGroup,
)
from dosimetry.report.figures import (
    DvhCurve,
    DvhMarker,
    DvhPanel,
    OverlayContour,
    OverlayMarker,
    dvh_figure_png,
    dvh_panels_png,
    isodose_overlay_png,
)
from dosimetry.report.html import render_html

__all__ = [
    "Banner",
    "Details",
    "DvhCurve",
    "DvhMarker",
    "DvhPanel",
    "OverlayMarker",
    "dvh_panels_png",
    "Figure",
    "OverlayContour",
    "Paragraph",
    "Report",
    "RowStyle",
    "Section",
    "SignOff",
    "Table",
    "WarningGroup",
    "dvh_figure_png",
    "isodose_overlay_png",
    "render_html",
]
