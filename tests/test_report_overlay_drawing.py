"""The report's cheaper drawing (issue 20) gives the pixels matplotlib's own calls give.

Oracles: matplotlib itself. The overlay's isodose bands and ROI outlines, drawn from contourpy as
two collections (``dosimetry.report.figures._Layer``), against ``Axes.contourf``/``Axes.contour``
on the same data and axes, rendered to the same Agg canvas: the RGBA buffers must be equal. The DVH
figure without the layout engine ``tight_layout`` leaves behind, against the same figure saved with
it (matplotlib then lays the figure out and draws it twice): the PNG bytes must be equal.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.figure  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from dosimetry.report import figures  # noqa: E402
from dosimetry.report.figures import DvhCurve, DvhMarker, DvhPanel, _generator, _Layer, dvh_panels_png  # noqa: E402


def _plane() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    ys = np.linspace(-50.0, 50.0, 61)
    xs = np.linspace(-60.0, 60.0, 73)
    y, x = np.meshgrid(ys, xs, indexing="ij")
    # the minimum is 16.5 Gy = 30 % of 55 Gy: contourf's "lowest interval includes the minimum" case
    dose = 16.5 + 45.0 * np.exp(-((x - 5) ** 2 + (y + 3) ** 2) / (2 * 18.0**2))
    occupancy = np.clip(1.0 - np.hypot(x + 20, y - 10) / 12.0 + 0.5, 0.0, 1.0)  # partial values at the edge
    ring = ((np.hypot(x - 25, y) < 14) & (np.hypot(x - 25, y) > 6)).astype(float)  # a hole: two closed lines
    return xs, ys, dose, occupancy, ring


def _render(draw: object) -> np.ndarray:
    fig = plt.figure(figsize=(4.0, 3.5), dpi=100)
    ax = fig.add_axes((0.1, 0.1, 0.8, 0.8))
    xs, ys, *_ = _plane()
    ax.imshow(np.zeros((ys.size, xs.size)), cmap="gray", extent=(xs[0], xs[-1], ys[0], ys[-1]), origin="lower")
    draw(ax)  # type: ignore[operator]
    fig.canvas.draw()
    pixels = np.asarray(fig.canvas.buffer_rgba()).copy()  # type: ignore[attr-defined]
    plt.close(fig)
    return pixels


LEVELS = ((30.0, "blue"), (70.0, "yellow"), (85.0, "orange"), (95.0, "red"))


def test_bands_and_outlines_from_contourpy_are_the_pixels_of_axes_contour() -> None:
    xs, ys, dose, occupancy, ring = _plane()
    reference_gy = 55.0

    def with_matplotlib(ax: object) -> None:
        for level, colour in LEVELS:
            t = reference_gy * level / 100.0
            ax.contourf(xs, ys, dose, levels=[t, np.inf], colors=[colour], alpha=0.22)  # type: ignore[attr-defined]
            ax.contour(xs, ys, dose, levels=[t], colors=[colour], linewidths=1.0)  # type: ignore[attr-defined]
        for occ, colour in ((occupancy, (0.8, 0.1, 0.6)), (ring, (0.0, 0.7, 0.9))):
            ax.contour(xs, ys, occ, levels=[0.5], colors=[colour], linewidths=1.6)  # type: ignore[attr-defined]

    def with_layers(ax: object) -> None:
        bands, lines = _Layer(), _Layer()
        generator = _generator(xs, ys, dose)
        for level, colour in LEVELS:
            t = reference_gy * level / 100.0
            bands.add(generator.create_filled_contour(t - 1.0 if float(dose.min()) == t else t, np.inf), colour, 0.0)
            lines.add(generator.create_contour(t), colour, 1.0)
        for occ, colour in ((occupancy, (0.8, 0.1, 0.6)), (ring, (0.0, 0.7, 0.9))):
            lines.add(_generator(xs, ys, occ).create_contour(0.5), colour, 1.6)
        bands.draw(ax, filled=True, alpha=0.22)
        lines.draw(ax, filled=False, alpha=None)

    expected, got = _render(with_matplotlib), _render(with_layers)
    assert np.array_equal(got, expected)
    assert np.unique(got.reshape(-1, 4), axis=0).shape[0] > 10  # something was drawn


def test_the_dvh_figure_is_the_one_saved_with_the_tight_layout_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    dose = np.linspace(0.0, 70.0, 141)
    panels = [
        DvhPanel("Targets", (DvhCurve("GTV", dose, 100.0 / (1.0 + np.exp((dose - 66.0) / 1.5)), (255, 0, 0)),),
                 (), ((66.0, "prescription 66 Gy"),)),
        DvhPanel("Organs at risk", tuple(
            DvhCurve(f"Organ_{side}{k}", dose, 100.0 / (1.0 + np.exp((dose - 10.0 * k) / 4.0)), (20 * k, 90, 200),
                     "--" if side == "R" else "-") for k in range(1, 6) for side in "LR"
        ), (DvhMarker("Organ_L1", 20.0, 5.0, "Organ_L1 Max <= 20 Gy", True),)),
    ]
    ours = dvh_panels_png(panels, title="DVH")
    original = matplotlib.figure.Figure.set_layout_engine

    def keep_engine(self: matplotlib.figure.Figure, layout: object = None, **kwargs: object) -> None:
        if layout is None:
            return  # as before: the placeholder engine tight_layout leaves stays on the figure
        original(self, layout, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(matplotlib.figure.Figure, "set_layout_engine", keep_engine)
    assert figures.dvh_panels_png(panels, title="DVH") == ours
