"""Write a :class:`pipelines.study.StudyResult` as ``study.html`` (figures embedded as PNG),
``study.json`` and one CSV per table (``associations.csv``, ``lkb_parameters.csv``,
``lkb_calibration.csv``, ``lkb_patients.csv``, ``multivariable_logistic.csv``,
``kaplan_meier.csv``, ``numbers_at_risk.csv``, ``logrank.csv``, ``cox.csv``, ``warnings.csv``,
``not_done.csv``). Every warning (small sample first) is at the top of the page and in
``warnings.csv``; every analysis that could not be done is listed with its reason."""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dosimetry.io.csv_cells import csv_writer
from dosimetry.report.study_figures import (
    ForestRow,
    RocCurve,
    SurvivalCurve,
    dose_response_png,
    forest_png,
    kaplan_meier_png,
    roc_png,
)
from pipelines.atomic import open_atomic
from pipelines.correlate import CSV_COLUMNS, report_csv_rows
from pipelines.study import StudyResult, methods_paragraph

HTML_NAME = "study.html"


def _write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> Path:
    with open_atomic(path, "w", newline="") as handle:
        writer = csv_writer(handle, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow(["" if c is None else repr(c) if isinstance(c, float) else c for c in row])
    return path


def _number(text: str) -> object:
    try:
        return float(text)
    except ValueError:
        return text or None


def _finite(value: object) -> object:
    """JSON has no infinity or NaN: such floats become null."""
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    def cell(c: object) -> str:
        if c is None:
            return "&ndash;"
        if isinstance(c, float):
            return html.escape(f"{c:.4g}")
        return html.escape(str(c))

    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def write_study_report(result: StudyResult, out_dir: Path | str) -> list[Path]:
    """Write the page, the JSON and the CSVs into ``out_dir`` (created); returns the files written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    sections: list[str] = []
    c = result.correlation

    assoc_rows = report_csv_rows(c)
    written.append(_write_csv(out / "associations.csv", CSV_COLUMNS, assoc_rows))
    shown = [[r[0], r[1], r[2], r[3], r[5], r[6], *(_number(r[k]) for k in (7, 18, 19, 11, 12, 14, 15, 16))] for r in assoc_rows[:20]]
    sections.append(
        "<h2>Univariable associations</h2><p>Ranked by the unadjusted likelihood-ratio p-value; OR per unit of the metric with "
        "its profile-likelihood 95 % CI; value at 50 % probability with its profile-likelihood CI (truncated at 0 where "
        "flagged). All rows in associations.csv.</p>"
        + _table(["#", "ROI", "quantity", "metric", "n", "events", "OR", "OR CI low", "OR CI high", "p Holm", "AUC", "x50", "x50 low", "x50 high"], shown)
    )

    if result.lkb is not None:
        fit = result.lkb
        params = []
        for p in (fit.td50, fit.m, fit.n):
            lo, hi = p.profile_ci95
            b = p.bootstrap_ci95 or (None, None)
            note = "fixed" if p.fixed else ("not identifiable" if not p.identifiable else ("unbounded end" if None in (lo, hi) else ""))
            params.append([p.parameter.value, p.estimate, lo, hi, b[0], b[1], note])
        header = ["parameter", "estimate", "profile CI low", "profile CI high", "bootstrap CI low", "bootstrap CI high", "note"]
        written.append(_write_csv(out / "lkb_parameters.csv", header, params))
        cal = fit.calibration
        cal_rows = [[b.n, b.observed_events, b.expected_events, b.mean_predicted, b.observed_rate, *b.observed_ci95] for b in cal.bins]
        cal_header = ["n", "observed_events", "expected_events", "mean_predicted", "observed_rate", "wilson_ci95_low", "wilson_ci95_high"]
        written.append(_write_csv(out / "lkb_calibration.csv", cal_header, cal_rows))
        written.append(_write_csv(out / "lkb_patients.csv", ["patient_id", "geud_gy", "predicted_ntcp", "event"],
                                  [[p, g, q, int(y)] for p, g, q, y in zip(fit.patient_ids, fit.geud_gy, fit.predicted_ntcp, fit.outcome)]))
        geud = np.asarray(fit.geud_gy)
        y = np.asarray(fit.outcome)
        grid = np.linspace(0.0, max(float(geud.max()) * 1.2, fit.td50.estimate * 1.3), 200)
        curve = np.array([fit.ntcp(float(g)) for g in grid])
        band = fit.curve_band(grid) if fit.bootstrap.replicates else (None, None)
        order = np.argsort(geud, kind="stable")
        bin_dose = [float(np.mean(chunk)) for chunk in np.array_split(geud[order], len(cal.bins))]
        png = dose_response_png(
            dose_gy=geud, outcome=y, curve_dose_gy=grid, curve=curve, band_lower=band[0], band_upper=band[1],
            bin_dose_gy=bin_dose, bin_rate=[b.observed_rate for b in cal.bins], bin_lower=[b.observed_ci95[0] for b in cal.bins],
            bin_upper=[b.observed_ci95[1] for b in cal.bins], title=f"LKB NTCP of {fit.organ} ({c.endpoint.label})",
            dose_label=f"gEUD [Gy] on {fit.quantity} (n = {fit.n.estimate:.3g})",
        )
        hl = cal.hl_statistic
        sections.append(
            f"<h2>LKB NTCP model: {html.escape(fit.organ)}</h2>" + _img(png, "dose-response curve")
            + _table(header, params)
            + f"<p>{fit.n_patients} patients, {fit.events} events; AUC {fit.auc:.3f}; Hosmer-Lemeshow "
            + (f"C = {hl:.3g} ({cal.hl_df} df), p = {cal.hl_p_value:.3g}" if hl is not None else "not computed (too few patients)")
            + f"; bootstrap {fit.bootstrap.succeeded}/{fit.bootstrap.requested} resamples fitted.</p>"
        )

    if result.roc:
        png = roc_png([RocCurve(r.label, np.asarray(r.fpr), np.asarray(r.tpr), r.auc) for r in result.roc], title=f"ROC: {c.endpoint.label}")
        sections.append("<h2>ROC curves of the best-ranked metrics</h2>" + _img(png, "ROC curves"))

    if result.multivariable is not None:
        mv = result.multivariable
        rows = [[t.name, t.odds_ratio, t.ci95[0], t.ci95[1], t.p_value] for t in mv.terms]
        header = ["predictor", "odds_ratio", "ci95_low", "ci95_high", "p_value"]
        written.append(_write_csv(out / "multivariable_logistic.csv", header, rows))
        png = forest_png([ForestRow(t.name, t.odds_ratio, t.ci95[0], t.ci95[1]) for t in mv.terms],
                         title=f"Multivariable logistic: {c.endpoint.label}", ratio_label="odds ratio per unit")
        sections.append(
            f"<h2>Multivariable logistic regression</h2><p>{html.escape(mv.method.value)}; {mv.n} patients, {mv.events} events; "
            f"intervals: {html.escape(mv.interval_method)}.</p>" + _img(png, "forest plot") + _table(header, rows)
        )

    if result.km is not None:
        km = result.km
        curves = []
        km_rows = []
        for g in km.groups:
            ci = np.array(g.km.ci95()) if g.km.times else np.zeros((0, 2))
            curves.append(SurvivalCurve(g.label, np.asarray(g.km.times), np.asarray(g.km.survival), ci[:, 0], ci[:, 1], g.at_risk))
            km_rows += [[g.label, t, n, d, s, lo, hi] for t, n, d, s, (lo, hi) in zip(g.km.times, g.km.at_risk, g.km.events, g.km.survival, ci)]
        written.append(_write_csv(out / "kaplan_meier.csv", ["group", "time", "at_risk", "events", "survival", "ci95_low", "ci95_high"], km_rows))
        written.append(_write_csv(out / "numbers_at_risk.csv", ["group", *[f"{t:g}" for t in km.risk_times]], [[g.label, *g.at_risk] for g in km.groups]))
        written.append(_write_csv(out / "logrank.csv", ["statistic", "df", "p_value"], [[km.logrank_statistic, km.degrees_of_freedom, km.p_value]]))
        png = kaplan_meier_png(curves, km.risk_times, title=f"Kaplan-Meier: {result.time_event_label}",
                               time_label=result.options.time_column or "time")
        sections.append(
            "<h2>Time to event by dose group</h2>" + _img(png, "Kaplan-Meier curves")
            + f"<p>Log-rank chi-square {km.logrank_statistic:.3g} ({km.degrees_of_freedom} df), p = {km.p_value:.3g}.</p>"
        )
    if result.cox is not None:
        cox = result.cox
        rows = [[t.name, t.hazard_ratio, t.ci95[0], t.ci95[1], t.p_value, t.ph_p_value] for t in cox.terms]
        header = ["covariate", "hazard_ratio", "ci95_low", "ci95_high", "p_value", "ph_test_p_value"]
        written.append(_write_csv(out / "cox.csv", header, rows))
        png = forest_png([ForestRow(t.name, t.hazard_ratio, t.ci95[0], t.ci95[1]) for t in cox.terms],
                         title=f"Cox model: {result.time_event_label}", ratio_label="hazard ratio per unit")
        sections.append(
            f"<h2>Cox proportional hazards</h2><p>{cox.n} patients, {cox.events} events, concordance {cox.concordance:.3f}.</p>"
            + _img(png, "Cox forest plot") + _table(header, rows)
        )

    written.append(_write_csv(out / "warnings.csv", ["warning"], [[w] for w in result.warnings]))
    written.append(_write_csv(out / "not_done.csv", ["analysis", "reason"], list(result.not_done.items())))
    warn_html = "".join(f"<li>{html.escape(w)}</li>" for w in result.warnings)
    not_done_html = "".join(f"<li><b>{html.escape(k)}</b>: {html.escape(v)}</li>" for k, v in result.not_done.items())
    methods = methods_paragraph(result)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Study: {html.escape(c.endpoint.label)}</title>
<style>body{{font-family:sans-serif;max-width:1000px;margin:auto}} table{{border-collapse:collapse;font-size:12px}}
td,th{{border:1px solid #ccc;padding:2px 6px}} .warn{{background:#fff3cd;padding:6px}} img{{max-width:100%}}</style></head>
<body><h1>Toxicity-dosimetry study: {html.escape(c.endpoint.label)}</h1>
<p>Metrics: {html.escape(str(c.metrics_source))}; outcomes: {html.escape(str(c.outcomes_path))};
{len(c.patients_joined)} patients, {c.events} events.</p>
<div class="warn"><b>Warnings</b><ul>{warn_html or '<li>none</li>'}</ul></div>
{''.join(sections)}
<h2>Not done</h2><ul>{not_done_html or '<li>nothing</li>'}</ul>
<h2>Methods</h2><p>{html.escape(methods)}</p>
</body></html>
"""
    with open_atomic(out / HTML_NAME, "w") as handle:
        handle.write(page)
    written.append(out / HTML_NAME)
    with open_atomic(out / "study.json", "w") as handle:
        handle.write(json.dumps(_finite(result.as_dict()), indent=2, allow_nan=False, default=str))
    written.append(out / "study.json")
    return written
