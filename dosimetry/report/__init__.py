"""Report building blocks: figures (PNG bytes) and a self-contained HTML page.

The drawing functions are imported from :mod:`dosimetry.report.figures` on first use, so that
importing the package does not import matplotlib (issue 20: the report's figures may be drawn in a
render process, :mod:`dosimetry.report.render_process`, and matplotlib's import was about 1 s CPU).
"""

from dosimetry._lazy_exports import lazy_exports

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
from dosimetry.report.figure_data import (
    DvhCurve,
    DvhMarker,
    DvhPanel,
    OverlayContour,
    OverlayMarker,
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

_MODULES = {name: "dosimetry.report.figures" for name in ("dvh_figure_png", "dvh_panels_png", "isodose_overlay_png")}

__getattr__, __dir__ = lazy_exports(__name__, _MODULES, globals(), __all__)
