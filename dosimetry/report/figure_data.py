"""What the report's figures are drawn from: curves, panels, markers, outlines (plain frozen
dataclasses of numbers and arrays, without matplotlib).

They are separate from :mod:`dosimetry.report.figures` (which draws them) so that the report's
sections can describe a figure and send it to a render process (:mod:`dosimetry.report.render_process`)
without importing matplotlib in the main process (issue 20: matplotlib's import was about 1 s CPU of
``dosimetry analyze`` on the clinical case). :mod:`dosimetry.report.figures` exports the same names.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

#: Isodose levels (% of reference) and colours of the protocol's Fig. 1.
PROTOCOL_ISODOSE_COLOURS: dict[float, str] = {95.0: "red", 85.0: "orange", 70.0: "yellow", 30.0: "blue"}


@dataclass(frozen=True, eq=False)
class DvhCurve:
    name: str
    dose_gy: npt.NDArray[np.float64]
    volume_pct: npt.NDArray[np.float64]
    colour_rgb: tuple[int, int, int] | None = None
    linestyle: str = "-"


@dataclass(frozen=True)
class DvhMarker:
    """A constraint limit on a curve: at (``dose_gy``, ``volume_pct``); ``failed`` draws it filled red."""

    roi: str
    dose_gy: float
    volume_pct: float
    label: str
    failed: bool


@dataclass(frozen=True, eq=False)
class DvhPanel:
    title: str
    curves: tuple[DvhCurve, ...]
    markers: tuple[DvhMarker, ...] = ()
    reference_lines: tuple[tuple[float, str], ...] = ()  # (dose_gy, label), e.g. the prescription


@dataclass(frozen=True)
class OverlayMarker:
    """A point on the displayed plane (horizontal, vertical mm) with a label."""

    x_mm: float
    y_mm: float
    label: str


#: The CT window of the overlays: (lower, upper) HU, i.e. width 1000 HU at level 100 HU (soft tissue and bone).
CT_WINDOW_HU: tuple[float, float] = (-400.0, 600.0)


def ct_window_text(window_hu: tuple[float, float] = CT_WINDOW_HU) -> str:
    low, high = window_hu
    return f"CT window W {high - low:g} / L {(high + low) / 2:g} HU"


@dataclass(frozen=True, eq=False)
class OverlayContour:
    """An ROI outline: ``occupancy`` on the displayed plane (same shape as the CT plane), drawn at 0.5."""

    name: str
    occupancy: npt.NDArray[np.float64]
    colour_rgb: tuple[int, int, int]
