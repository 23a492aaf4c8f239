"""Figures of a toxicity-dosimetry study, rendered to PNG bytes (matplotlib, Agg backend).

- :func:`dose_response_png`: a fitted NTCP curve with its confidence band over binned observed
  rates (with their intervals) and the patients as a rug (events on top, non-events at the bottom);
- :func:`roc_png`: ROC curves with their AUCs;
- :func:`kaplan_meier_png`: Kaplan-Meier step curves per group with their confidence bands and the
  numbers at risk tabulated under the axis;
- :func:`forest_png`: ratios (odds or hazard) with 95 % intervals on a log axis.

The functions take plain arrays (no model objects), so the orchestration can feed them any fit.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dosimetry.errors import ArgumentError
from dosimetry.report.figures import _to_png, plt


@dataclass(frozen=True, eq=False)
class RocCurve:
    label: str
    false_positive_rate: npt.NDArray[np.float64]
    true_positive_rate: npt.NDArray[np.float64]
    auc: float


@dataclass(frozen=True, eq=False)
class SurvivalCurve:
    label: str
    times: npt.NDArray[np.float64]
    survival: npt.NDArray[np.float64]
    lower: npt.NDArray[np.float64]
    upper: npt.NDArray[np.float64]
    at_risk: tuple[int, ...]


@dataclass(frozen=True)
class ForestRow:
    label: str
    estimate: float
    lower: float
    upper: float


def dose_response_png(
    *,
    dose_gy: npt.NDArray[np.float64],
    outcome: npt.NDArray[np.bool_],
    curve_dose_gy: npt.NDArray[np.float64],
    curve: npt.NDArray[np.float64],
    band_lower: npt.NDArray[np.float64] | None,
    band_upper: npt.NDArray[np.float64] | None,
    bin_dose_gy: Sequence[float],
    bin_rate: Sequence[float],
    bin_lower: Sequence[float],
    bin_upper: Sequence[float],
    title: str,
    dose_label: str,
) -> bytes:
    fig, ax = plt.subplots(figsize=(7.5, 5.0))
    if band_lower is not None and band_upper is not None:
        ax.fill_between(curve_dose_gy, band_lower, band_upper, color="tab:blue", alpha=0.2, label="95 % confidence band (bootstrap)")
    ax.plot(curve_dose_gy, curve, color="tab:blue", lw=2, label="fitted NTCP")
    rate = np.asarray(bin_rate)
    err = np.vstack([rate - np.asarray(bin_lower), np.asarray(bin_upper) - rate])
    ax.errorbar(bin_dose_gy, rate, yerr=err, fmt="o", color="black", capsize=3, label="observed rate per bin (Wilson 95 % CI)")
    ax.plot(dose_gy[outcome], np.full(int(outcome.sum()), 1.02), "|", color="tab:red", ms=12, label="events")
    ax.plot(dose_gy[~outcome], np.full(int((~outcome).sum()), -0.02), "|", color="grey", ms=12, label="non-events")
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel(dose_label)
    ax.set_ylabel("probability of the endpoint")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return _to_png(fig)


def roc_png(curves: Sequence[RocCurve], *, title: str) -> bytes:
    if not curves:
        raise ArgumentError("roc_png: no ROC curves to plot")
    fig, ax = plt.subplots(figsize=(5.5, 5.5))
    for c in curves:
        ax.step(c.false_positive_rate, c.true_positive_rate, where="post", label=f"{c.label} (AUC {c.auc:.2f})")
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1)
    ax.set_xlabel("1 - specificity")
    ax.set_ylabel("sensitivity")
    ax.set_title(title)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_aspect("equal")
    fig.tight_layout()
    return _to_png(fig)


def kaplan_meier_png(curves: Sequence[SurvivalCurve], risk_times: Sequence[float], *, title: str, time_label: str) -> bytes:
    if not curves:
        raise ArgumentError("kaplan_meier_png: no curves to plot")
    fig, (ax, table) = plt.subplots(2, 1, figsize=(7.5, 5.5 + 0.3 * len(curves)), gridspec_kw={"height_ratios": [4, 0.35 * len(curves) + 0.4]})
    for c in curves:
        t = np.concatenate([[0.0], c.times])
        s = np.concatenate([[1.0], c.survival])
        line = ax.step(t, s, where="post", label=c.label)[0]
        lo = np.concatenate([[1.0], c.lower])
        hi = np.concatenate([[1.0], c.upper])
        ax.fill_between(t, lo, hi, step="post", alpha=0.15, color=line.get_color())
    ax.set_ylim(0.0, 1.02)
    ax.set_xlim(left=0.0, right=max(risk_times) if risk_times else None)
    ax.set_ylabel("event-free probability")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    table.axis("off")
    cell_text = [[str(n) for n in c.at_risk] for c in curves]
    # the groups' shared prefix (the metric's name) goes into the title, the rows keep the rest
    prefix = os.path.commonprefix([c.label for c in curves]) if len(curves) > 1 else ""
    prefix = prefix[: prefix.rfind(" ") + 1] if " " in prefix else ""
    row_labels = [c.label[len(prefix):] or c.label for c in curves]
    tab = table.table(cellText=cell_text, rowLabels=row_labels, colLabels=[f"{t:g}" for t in risk_times], loc="center", cellLoc="center")
    tab.auto_set_font_size(False)
    tab.set_fontsize(7)
    table.set_title(f"numbers at risk ({time_label}){' - ' + prefix.strip() if prefix else ''}", fontsize=8)
    ax.set_xlabel(time_label)
    fig.tight_layout()
    return _to_png(fig)


def forest_png(rows: Sequence[ForestRow], *, title: str, ratio_label: str) -> bytes:
    if not rows:
        raise ArgumentError("forest_png: no rows to plot")
    fig, ax = plt.subplots(figsize=(7.0, 1.2 + 0.45 * len(rows)))
    y = np.arange(len(rows))[::-1]
    for yi, r in zip(y, rows):
        ax.plot([r.lower, r.upper], [yi, yi], color="black")
        ax.plot([r.estimate], [yi], "s", color="tab:blue")
    ax.axvline(1.0, ls="--", color="grey", lw=1)
    ax.set_xscale("log")
    ax.set_yticks(y)
    ax.set_yticklabels([r.label for r in rows], fontsize=8)
    ax.set_xlabel(ratio_label + " (log scale, 95 % CI)")
    ax.set_title(title)
    fig.tight_layout()
    return _to_png(fig)
