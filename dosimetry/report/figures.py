"""Matplotlib figures rendered to PNG bytes (Agg backend, no display needed).

- :func:`dvh_figure_png`: cumulative DVHs, dose in Gy on x, volume in % on y.
- :func:`isodose_overlay_png`: a CT plane in grey with shaded isodose bands at percentages of a
  reference dose (the protocol's Fig. 1: red 95 %, orange 85 %, yellow 70 %, blue 30 %) and ROI
  outlines drawn from occupancy masks at the 0.5 level.
"""

from __future__ import annotations

import io
from typing import Literal
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import numpy.typing as npt  # noqa: E402

from dosimetry.errors import ArgumentError  # noqa: E402

#: Isodose levels (% of reference) and colours of the protocol's Fig. 1.
PROTOCOL_ISODOSE_COLOURS: dict[float, str] = {95.0: "red", 85.0: "orange", 70.0: "yellow", 30.0: "blue"}


@dataclass(frozen=True, eq=False)
class DvhCurve:
    name: str
    dose_gy: npt.NDArray[np.float64]
    volume_pct: npt.NDArray[np.float64]
    colour_rgb: tuple[int, int, int] | None = None
    linestyle: str = "-"


@dataclass(frozen=True, eq=False)
class OverlayContour:
    """An ROI outline: ``occupancy`` on the displayed plane (same shape as the CT plane), drawn at 0.5."""

    name: str
    occupancy: npt.NDArray[np.float64]
    colour_rgb: tuple[int, int, int]


def _to_png(fig: plt.Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


def _colour(rgb: tuple[int, int, int] | None) -> tuple[float, float, float] | None:
    return None if rgb is None else (rgb[0] / 255.0, rgb[1] / 255.0, rgb[2] / 255.0)


def dvh_figure_png(curves: Sequence[DvhCurve], *, title: str, dose_label: str = "Dose [Gy]") -> bytes:
    if not curves:
        raise ArgumentError("dvh_figure_png: no curves to plot")
    fig, ax = plt.subplots(figsize=(9, 5.5))
    for curve in curves:
        if curve.dose_gy.shape != curve.volume_pct.shape:
            raise ArgumentError(f"DVH curve {curve.name!r}: dose and volume arrays differ in shape")
        ax.plot(curve.dose_gy, curve.volume_pct, curve.linestyle, color=_colour(curve.colour_rgb), label=curve.name, lw=1.5)
    ax.set_xlabel(dose_label)
    ax.set_ylabel("Volume [%]")
    ax.set_ylim(0, 102)
    ax.set_xlim(left=0)
    ax.grid(True, alpha=0.3)
    ax.set_title(title)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)
    fig.tight_layout()
    return _to_png(fig)


def isodose_overlay_png(
    ct_hu: npt.NDArray[np.float64],
    dose_gy: npt.NDArray[np.float64],
    *,
    extent_mm: tuple[float, float, float, float],
    reference_gy: float,
    contours: Sequence[OverlayContour],
    title: str,
    axis_labels: tuple[str, str],
    levels_pct: Sequence[float] = (95.0, 85.0, 70.0, 30.0),
    flip_vertical: bool = False,
) -> bytes:
    """One plane: ``ct_hu`` and ``dose_gy`` are 2-D arrays of the same shape [rows, cols] whose
    columns run along the horizontal axis; ``extent_mm`` is (left, right, bottom, top) of the image
    edges in mm. Bands are shaded at ``levels_pct`` of ``reference_gy``.
    """
    if ct_hu.shape != dose_gy.shape or ct_hu.ndim != 2:
        raise ArgumentError(f"isodose_overlay_png: CT {ct_hu.shape} and dose {dose_gy.shape} planes must be equal 2-D shapes")
    if not reference_gy > 0:
        raise ArgumentError(f"isodose_overlay_png: reference_gy must be > 0, got {reference_gy}")
    # Figure height follows the plane's aspect ratio (no wide empty bands for sagittal/coronal planes).
    aspect = abs(extent_mm[3] - extent_mm[2]) / max(abs(extent_mm[1] - extent_mm[0]), 1e-9)
    fig, ax = plt.subplots(figsize=(5.5, float(np.clip(4.4 * aspect + 1.1, 3.0, 8.0))))
    origin: Literal["upper", "lower"] = "upper" if flip_vertical else "lower"
    ax.imshow(ct_hu, cmap="gray", vmin=-400, vmax=600, extent=extent_mm, origin=origin, interpolation="bilinear")
    rows, cols = ct_hu.shape
    # Pixel centres (the extent gives the image edges): column i is centred at left + (i + 0.5) x width.
    xs = extent_mm[0] + (np.arange(cols) + 0.5) * (extent_mm[1] - extent_mm[0]) / cols
    if flip_vertical:  # row 0 at the top edge extent_mm[3]
        ys = extent_mm[3] + (np.arange(rows) + 0.5) * (extent_mm[2] - extent_mm[3]) / rows
    else:
        ys = extent_mm[2] + (np.arange(rows) + 0.5) * (extent_mm[3] - extent_mm[2]) / rows
    levels = sorted(levels_pct)
    handles = []
    for level in levels:
        colour = PROTOCOL_ISODOSE_COLOURS.get(float(level), "magenta")
        threshold = reference_gy * level / 100.0
        if float(dose_gy.max()) >= threshold:
            ax.contourf(xs, ys, dose_gy, levels=[threshold, np.inf], colors=[colour], alpha=0.22)
            ax.contour(xs, ys, dose_gy, levels=[threshold], colors=[colour], linewidths=1.0)
        handles.append(plt.Line2D([], [], color=colour, lw=3, label=f"{level:g} %"))
    for contour in contours:
        if contour.occupancy.shape != ct_hu.shape:
            raise ArgumentError(f"overlay contour {contour.name!r}: occupancy shape differs from the CT plane")
        if float(contour.occupancy.max()) >= 0.5:
            ax.contour(xs, ys, contour.occupancy, levels=[0.5], colors=[_colour(contour.colour_rgb)], linewidths=1.6)
        handles.append(plt.Line2D([], [], color=_colour(contour.colour_rgb), lw=1.6, label=contour.name))
    ax.set_xlabel(axis_labels[0])
    ax.set_ylabel(axis_labels[1])
    ax.set_title(title, fontsize=10)
    ax.legend(handles=handles, loc="lower right", fontsize=7, framealpha=0.7)
    fig.tight_layout()
    return _to_png(fig)
