"""Matplotlib figures rendered to PNG bytes (Agg backend, no display needed).

- :func:`dvh_panels_png`: cumulative DVHs on side-by-side panels (e.g. targets | organs at risk),
  dose on x, volume in % on y; each curve with its line style (left and right organs differ),
  markers at constraint limits on their organ's curve (filled red when the check fails), vertical
  reference lines (the prescription). :func:`dvh_figure_png` is one panel.
- :func:`isodose_overlay_png`: a CT plane in grey (the window stated on the figure) with shaded
  isodose bands at percentages of a reference dose (the protocol's Fig. 1: red 95 %, orange 85 %,
  yellow 70 %, blue 30 %) and their colour bar in % and in dose, ROI outlines drawn from occupancy
  masks at the 0.5 level, and point markers (e.g. an organ's hottest voxel).

Measured reason for drawing the overlay's bands and outlines without ``Axes.contour``/``contourf``
(issue 20, clinical case, 6 overlays with 6-13 outlines each): every ``ContourSet`` is a full
artist with its own colour mapping and autoscaling, about 5 ms each; 102 of them were 0.5 s of the
overlays' 1.65 s CPU. The same lines and bands come from contourpy (the generator matplotlib's
``contour`` calls, with the same algorithm, corner mask and line/fill types), drawn as one filled
and one line collection per figure in the order ``contour`` draws them (all bands, then isodose
lines, then outlines). The DVH figures keep the positions ``tight_layout`` computes but drop the
layout engine it leaves on the figure, which made ``savefig`` lay out and draw the figure twice.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any, Literal

import contourpy
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import numpy.typing as npt  # noqa: E402
from matplotlib.cm import ScalarMappable  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402
from matplotlib.colors import BoundaryNorm, ListedColormap, to_rgba  # noqa: E402
from matplotlib.path import Path  # noqa: E402

from dosimetry.errors import ArgumentError  # noqa: E402
from dosimetry.report.figure_data import (  # noqa: E402  (re-exported: the names figures are drawn from)
    CT_WINDOW_HU,
    PROTOCOL_ISODOSE_COLOURS,
    DvhCurve,
    DvhMarker,
    DvhPanel,
    OverlayContour,
    OverlayMarker,
    ct_window_text,
)

__all__ = [
    "CT_WINDOW_HU",
    "PROTOCOL_ISODOSE_COLOURS",
    "DvhCurve",
    "DvhMarker",
    "DvhPanel",
    "OverlayContour",
    "OverlayMarker",
    "ct_window_text",
    "dvh_figure_png",
    "dvh_panels_png",
    "isodose_overlay_png",
]


def _to_png(fig: plt.Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


def _colour(rgb: tuple[int, int, int] | None) -> tuple[float, float, float] | None:
    return None if rgb is None else (rgb[0] / 255.0, rgb[1] / 255.0, rgb[2] / 255.0)


def _generator(xs: npt.NDArray[np.float64], ys: npt.NDArray[np.float64], z: npt.NDArray[np.float64]) -> Any:
    """The contour generator ``Axes.contour(xs, ys, z)`` makes (matplotlib 3.8+: contourpy with the
    rcParams' algorithm and corner mask, separate-code lines, outer-code fills, no chunks)."""
    return contourpy.contour_generator(
        xs, ys, np.ma.masked_invalid(np.asarray(z, dtype=np.float64), copy=False),
        name=matplotlib.rcParams["contour.algorithm"], corner_mask=matplotlib.rcParams["contour.corner_mask"],
        line_type=contourpy.LineType.SeparateCode, fill_type=contourpy.FillType.OuterCode, chunk_size=0,
    )


class _Layer:
    """Paths of one kind (bands or lines) of an overlay, drawn as one collection in the order added
    (what one ``ContourSet`` per level drew, each level's segments as one compound path)."""

    def __init__(self) -> None:
        self.paths: list[Path] = []
        self.colours: list[tuple[float, float, float, float]] = []
        self.widths: list[float] = []

    def add(self, vertices_and_codes: tuple[list[Any], list[Any]], colour: Any, width: float) -> None:
        vertices, codes = vertices_and_codes
        if len(vertices):
            self.paths.append(Path(np.concatenate(vertices), np.concatenate(codes)))
            self.colours.append(to_rgba(colour))
            self.widths.append(width)

    def draw(self, ax: Any, *, filled: bool, alpha: float | None) -> None:
        if not self.paths:
            return
        if filled:  # as contourf: no edge, not antialiased (no artefacts between bands), below the lines
            collection = PathCollection(self.paths, facecolors=self.colours, edgecolors="none", alpha=alpha,
                                        antialiaseds=False, zorder=1)
        else:  # as contour: unfilled, lines above the bands
            collection = PathCollection(self.paths, facecolors="none", edgecolors=self.colours, linewidths=self.widths,
                                        alpha=alpha, zorder=2)
        ax.add_collection(collection, autolim=False)


def _plot_panel(ax: Any, panel: DvhPanel, dose_label: str) -> None:
    for curve in panel.curves:
        if curve.dose_gy.shape != curve.volume_pct.shape:
            raise ArgumentError(f"DVH curve {curve.name!r}: dose and volume arrays differ in shape")
        ax.plot(curve.dose_gy, curve.volume_pct, linestyle=curve.linestyle, color=_colour(curve.colour_rgb), label=curve.name, lw=1.6)
    for dose, label in panel.reference_lines:
        ax.axvline(dose, color="0.25", ls="-.", lw=1.0)
        ax.annotate(label, (dose, 2), xytext=(-4, 0), textcoords="offset points", fontsize=8, color="0.25", rotation=90,
                    ha="right", va="bottom")
    for m in panel.markers:
        ax.plot([m.dose_gy], [m.volume_pct], marker="v" if m.failed else "o", ms=9 if m.failed else 7,
                mfc="red" if m.failed else "white", mec="darkred" if m.failed else "0.2", ls="none", zorder=5)
        if m.failed:
            ax.annotate(m.label, (m.dose_gy, m.volume_pct), xytext=(6, 8), textcoords="offset points", fontsize=8,
                        color="darkred", fontweight="bold")
    ax.set_xlabel(dose_label)
    ax.set_ylabel("Volume [%]")
    ax.set_ylim(0, 104)
    ax.set_xlim(left=0)
    ax.grid(True, alpha=0.3)
    ax.set_title(panel.title, fontsize=11)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), fontsize=7.5, ncol=min(4, max(1, len(panel.curves))), frameon=False)


def dvh_panels_png(panels: Sequence[DvhPanel], *, title: str, dose_label: str = "Dose [Gy]") -> bytes:
    """Side-by-side DVH panels sharing the dose axis label (see the module docstring)."""
    panels = [p for p in panels if p.curves]
    if not panels:
        raise ArgumentError("dvh_panels_png: no curves to plot")
    rows_of_legend = max((len(p.curves) + 3) // 4 for p in panels)
    fig, axes = plt.subplots(1, len(panels), figsize=(10.5, 5.2 + 0.2 * rows_of_legend), squeeze=False)
    for ax, panel in zip(axes[0], panels, strict=True):
        _plot_panel(ax, panel, dose_label)
    fig.suptitle(title, fontsize=12)
    fig.tight_layout()
    # tight_layout leaves a placeholder layout engine, which makes savefig draw the figure once more
    # to lay it out; the positions are set, so no engine: one draw, the same pixels
    fig.set_layout_engine(None)
    return _to_png(fig)


def dvh_figure_png(curves: Sequence[DvhCurve], *, title: str, dose_label: str = "Dose [Gy]") -> bytes:
    """One panel of ``curves`` (see :func:`dvh_panels_png`)."""
    if not curves:
        raise ArgumentError("dvh_figure_png: no curves to plot")
    return dvh_panels_png([DvhPanel("", tuple(curves))], title=title, dose_label=dose_label)


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
    dose_unit: str = "Gy",
    markers: Sequence[OverlayMarker] = (),
    window_hu: tuple[float, float] = CT_WINDOW_HU,
    width_in: float = 10.5,
) -> bytes:
    """One plane: ``ct_hu`` and ``dose_gy`` are 2-D arrays of the same shape [rows, cols] whose
    columns run along the horizontal axis; ``extent_mm`` is (left, right, bottom, top) of the image
    edges in mm. Bands are shaded at ``levels_pct`` of ``reference_gy`` (``dose_unit``), with a colour
    bar; the CT window ``window_hu`` is written on the figure. ``width_in`` x 100 dpi = image width in pixels.
    """
    if ct_hu.shape != dose_gy.shape or ct_hu.ndim != 2:
        raise ArgumentError(f"isodose_overlay_png: CT {ct_hu.shape} and dose {dose_gy.shape} planes must be equal 2-D shapes")
    if not reference_gy > 0:
        raise ArgumentError(f"isodose_overlay_png: reference_gy must be > 0, got {reference_gy}")
    # Layout in inches: the image at 64 % of the width (its height from the plane's aspect ratio), the
    # colour bar of the isodose bands under it, the legend of isodoses and outlines to its right.
    aspect = abs(extent_mm[3] - extent_mm[2]) / max(abs(extent_mm[1] - extent_mm[0]), 1e-9)
    left_in, image_w_in = 0.85, 0.64 * width_in
    image_h_in = float(np.clip(image_w_in * aspect, 2.5, 9.0))
    bar_bottom_in, bar_h_in, gap_in, top_in = 0.62, 0.2, 0.95, 0.45
    height_in = bar_bottom_in + bar_h_in + gap_in + image_h_in + top_in
    fig = plt.figure(figsize=(width_in, height_in))
    ax = fig.add_axes((left_in / width_in, (bar_bottom_in + bar_h_in + gap_in) / height_in, image_w_in / width_in, image_h_in / height_in))
    cax = fig.add_axes((left_in / width_in, bar_bottom_in / height_in, image_w_in / width_in, bar_h_in / height_in))
    origin: Literal["upper", "lower"] = "upper" if flip_vertical else "lower"
    ax.imshow(ct_hu, cmap="gray", vmin=window_hu[0], vmax=window_hu[1], extent=extent_mm, origin=origin,
              interpolation="bilinear", aspect="equal")
    rows, cols = ct_hu.shape
    # Pixel centres (the extent gives the image edges): column i is centred at left + (i + 0.5) x width.
    xs = extent_mm[0] + (np.arange(cols) + 0.5) * (extent_mm[1] - extent_mm[0]) / cols
    if flip_vertical:  # row 0 at the top edge extent_mm[3]
        ys = extent_mm[3] + (np.arange(rows) + 0.5) * (extent_mm[2] - extent_mm[3]) / rows
    else:
        ys = extent_mm[2] + (np.arange(rows) + 0.5) * (extent_mm[3] - extent_mm[2]) / rows
    levels = sorted(levels_pct)
    handles = []
    bands = _Layer()
    lines = _Layer()
    dose_generator = _generator(xs, ys, dose_gy)
    dose_min, dose_max = float(dose_gy.min()), float(dose_gy.max())
    for level in levels:
        colour = PROTOCOL_ISODOSE_COLOURS.get(float(level), "magenta")
        threshold = reference_gy * level / 100.0
        if dose_max >= threshold:
            # contourf's lowest interval includes the minimum: its lower level moves down by 1 there
            bands.add(dose_generator.create_filled_contour(threshold - 1.0 if dose_min == threshold else threshold, np.inf),
                      colour, 0.0)
            lines.add(dose_generator.create_contour(threshold), colour, 1.0)
        handles.append(plt.Line2D([], [], color=colour, lw=3, label=f"{level:g} %"))
    for contour in contours:
        if contour.occupancy.shape != ct_hu.shape:
            raise ArgumentError(f"overlay contour {contour.name!r}: occupancy shape differs from the CT plane")
        if float(contour.occupancy.max()) >= 0.5:  # only outlines crossing this plane are drawn and listed
            lines.add(_generator(xs, ys, contour.occupancy).create_contour(0.5), _colour(contour.colour_rgb), 1.6)
            handles.append(plt.Line2D([], [], color=_colour(contour.colour_rgb), lw=1.6, label=contour.name))
    bands.draw(ax, filled=True, alpha=0.22)
    lines.draw(ax, filled=False, alpha=None)
    for marker in markers:
        ax.plot([marker.x_mm], [marker.y_mm], marker="+", ms=16, mew=2.2, color="red", zorder=6)
        right_half = marker.x_mm > (extent_mm[0] + extent_mm[1]) / 2
        ax.annotate(marker.label, (marker.x_mm, marker.y_mm), xytext=(-12 if right_half else 12, 12), textcoords="offset points",
                    ha="right" if right_half else "left", fontsize=9,
                    color="white", fontweight="bold", bbox={"boxstyle": "round", "fc": "darkred", "alpha": 0.8})
    ax.set_xlabel(axis_labels[0])
    ax.set_ylabel(axis_labels[1])
    ax.set_title(title, fontsize=11, loc="left")
    ax.text(0.01, 0.99, ct_window_text(window_hu), transform=ax.transAxes, va="top", ha="left", fontsize=8.5,
            color="white", bbox={"boxstyle": "round", "fc": "black", "alpha": 0.6})
    fig.legend(handles=handles, loc="upper left", bbox_to_anchor=((left_in + image_w_in + 0.35) / width_in,
               (bar_bottom_in + bar_h_in + gap_in + image_h_in) / height_in), fontsize=8, frameon=False,
               title="isodose / outline", title_fontsize=8, ncol=2 if len(handles) * 0.17 > image_h_in else 1)
    # The colour bar of the isodose bands: % of the reference and the dose it stands for.
    bounds = [*levels, max(110.0, 100.0 * float(dose_gy.max()) / reference_gy)]
    cmap = ListedColormap([PROTOCOL_ISODOSE_COLOURS.get(float(level), "magenta") for level in levels])
    bar = fig.colorbar(ScalarMappable(norm=BoundaryNorm(bounds, cmap.N), cmap=cmap), cax=cax, ticks=levels,
                       orientation="horizontal", alpha=0.5)
    bar.ax.set_xticklabels([f"{level:g} %\n{reference_gy * level / 100:.4g} {dose_unit}" for level in levels], fontsize=8)
    bar.ax.set_title(f"isodose bands: % of the prescription {reference_gy:g} {dose_unit}", fontsize=8, loc="left")
    return _to_png(fig)
