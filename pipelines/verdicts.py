"""Per-patient verdicts of a batch: console lines, ``batch_summary.json`` entries and a cohort overview page.

Each analysed patient's ``OUT/patients/<key>/results.json`` carries its verdict (pass / violation /
not evaluable, computed once by :mod:`dosimetry.patient.verdict`); this module only collects them
after :func:`pipelines.batch.run_batch` has finished, so the runner itself is unchanged:

* :func:`patient_verdicts`: one :class:`PatientVerdict` per patient (a failed patient's verdict is
  ``failed``; an analysis that writes no ``results.json``, e.g. DVH metrics only, ``not_checked``);
* :func:`verdict_line`: ``patient01: VIOLATION, 2 constraint(s) failed (worst OpticChiasm ... margin
  -14.99 Gy), 1 coverage rule(s) not met``;
* :func:`add_verdicts_to_summary`: the same fields on each patient of ``batch_summary.json``
  (rewritten atomically) plus ``verdict_counts``;
* :func:`write_overview`: ``OUT/cohort_overview.html``, one row per patient linking its report,
  sorted by verdict (violations first) and re-sortable by any column in the browser.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dosimetry.errors import OutputError
from dosimetry.patient.verdict import relative_margin
from pipelines import atomic
from pipelines.batch import PATIENTS_DIR_NAME, SUMMARY_NAME, BatchSummary, PatientStatus

OVERVIEW_NAME = "cohort_overview.html"
RESULTS_NAME = "results.json"
REPORT_NAME = "report.html"

#: Sort order of verdicts on the overview page and in the console (most urgent first).
VERDICT_ORDER = ("violation", "failed", "not_evaluable", "not_checked", "pass")


@dataclass(frozen=True)
class PatientVerdict:
    """One patient's verdict as the batch reports it; ``worst_margin`` in ``worst_unit`` (negative: violated by)."""

    key: str
    patient_id: str
    batch_status: str
    verdict: str
    failing_constraints: int
    coverage_not_met: int
    worst: str
    worst_margin: float | None
    worst_unit: str
    report: str | None
    reason: str


def _worst(failures: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    ranked = [f for f in failures if f["kind"] == "constraint" and f["margin"] is not None]
    ranked = ranked or [f for f in failures if f["margin"] is not None]
    return min(ranked, key=lambda f: relative_margin(float(f["margin"]), f["limit"])) if ranked else None


def _from_results(out_dir: Path, key: str, patient_id: str, status: str) -> PatientVerdict:
    folder = Path(out_dir) / PATIENTS_DIR_NAME / key
    report = f"{PATIENTS_DIR_NAME}/{key}/{REPORT_NAME}" if (folder / REPORT_NAME).is_file() else None
    path = folder / RESULTS_NAME
    if not path.is_file():
        return PatientVerdict(key, patient_id, status, "not_checked", 0, 0, "", None, "", report,
                              "the batch's analysis wrote no results.json (no constraint checks)")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        verdict = document["verdict"]
        failures = verdict["failures"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise OutputError(f"{path}: cannot read the patient's verdict ({exc}); rerun the batch with --force") from exc
    worst = _worst(failures)
    worst_text = "" if worst is None else (
        f"{worst['subject']} {worst['check']} = {worst['value_text']} {worst['unit']}, limit {worst['comparator']} "
        f"{worst['limit']:g} {worst['unit']}".replace("  ", " ")
    )
    return PatientVerdict(
        key=key, patient_id=patient_id, batch_status=status, verdict=str(verdict["verdict"]),
        failing_constraints=sum(1 for f in failures if f["kind"] == "constraint"),
        coverage_not_met=sum(1 for f in failures if f["kind"] == "coverage"),
        worst=worst_text, worst_margin=None if worst is None else float(worst["margin"]),
        worst_unit="" if worst is None else str(worst["unit"]), report=report, reason=str(verdict["scope"]),
    )


def patient_verdicts(summary: BatchSummary) -> tuple[PatientVerdict, ...]:
    """Every patient's verdict, most urgent first (then by patient ID)."""
    out: list[PatientVerdict] = []
    for p in summary.patients:
        if p.status is PatientStatus.FAILED:
            out.append(PatientVerdict(p.key, p.patient_id, p.status.value, "failed", 0, 0, "", None, "", None, p.error or ""))
        else:
            out.append(_from_results(summary.out_dir, p.key, p.patient_id, p.status.value))
    return tuple(sorted(out, key=lambda v: (VERDICT_ORDER.index(v.verdict) if v.verdict in VERDICT_ORDER else 9, v.patient_id)))


def verdict_line(v: PatientVerdict) -> str:
    """One console line per patient: verdict, failing constraints, worst organ and margin."""
    head = f"{v.patient_id} [{v.key}]: {v.verdict.upper().replace('_', ' ')}"
    if v.verdict == "failed":
        return f"{head} (analysis failed: {v.reason})"
    parts = []
    if v.failing_constraints:
        parts.append(f"{v.failing_constraints} constraint(s) failed")
    if v.coverage_not_met:
        parts.append(f"{v.coverage_not_met} coverage rule(s) not met")
    if v.worst:
        parts.append(f"worst {v.worst}, margin {v.worst_margin:+.2f} {v.worst_unit}".rstrip())
    if v.verdict == "not_checked":
        parts.append(v.reason)
    return head + (": " + "; ".join(parts) if parts else "")


def verdict_counts(verdicts: Sequence[PatientVerdict]) -> dict[str, int]:
    return {name: sum(1 for v in verdicts if v.verdict == name) for name in VERDICT_ORDER}


def add_verdicts_to_summary(out_dir: Path, verdicts: Sequence[PatientVerdict]) -> Path:
    """Add each patient's verdict fields and ``verdict_counts`` to ``OUT/batch_summary.json`` (atomically)."""
    path = Path(out_dir) / SUMMARY_NAME
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise OutputError(f"cannot add the verdicts to {path}: {exc}") from exc
    by_key = {v.key: v for v in verdicts}
    for patient in document.get("patients", []):
        v = by_key.get(patient["key"])
        if v is not None:
            patient.update({k: val for k, val in asdict(v).items() if k not in ("key", "patient_id")})
            patient["verdict_line"] = verdict_line(v)
    document["verdict_counts"] = verdict_counts(verdicts)
    document["overview"] = OVERVIEW_NAME
    atomic.write_text(path, json.dumps(document, indent=1))
    return path


_CSS = """
body{font-family:system-ui,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1200px;color:#222}
table{border-collapse:collapse;width:100%}th,td{border:1px solid #bbb;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#eee;cursor:pointer}th:after{content:" \\2195";color:#888}
tr.violation td.verdict,tr.failed td.verdict{background:#f8c8c8;font-weight:bold}
tr.pass td.verdict{background:#d4f4d4}tr.not_evaluable td.verdict,tr.not_checked td.verdict{background:#e4e4e4}
.counts span{margin-right:1.5em}
@media print{body{max-width:none;margin:0}th:after{content:""}tr{break-inside:avoid}}
"""

_SCRIPT = """
function keyOf(row, col){
  var cell = row.children[col]; var v = cell.getAttribute('data-sort');
  if (v === null) { v = cell.textContent; }
  var n = parseFloat(v); return isNaN(n) ? v.toLowerCase() : n;
}
function sortBy(col){
  var body = document.querySelector('#patients tbody'); var rows = Array.prototype.slice.call(body.rows);
  var th = document.querySelectorAll('#patients th')[col]; var asc = th.getAttribute('data-dir') !== 'asc';
  document.querySelectorAll('#patients th').forEach(function(h){ h.removeAttribute('data-dir'); });
  th.setAttribute('data-dir', asc ? 'asc' : 'desc');
  rows.sort(function(a, b){ var x = keyOf(a, col), y = keyOf(b, col); var c = x < y ? -1 : x > y ? 1 : 0; return asc ? c : -c; });
  rows.forEach(function(r){ body.appendChild(r); });
  document.body.setAttribute('data-sorted-by', th.getAttribute('data-column'));
}
document.querySelectorAll('#patients th').forEach(function(th, i){ th.addEventListener('click', function(){ sortBy(i); }); });
var wanted = (location.hash.match(/sort=([a-z_]+)/) || [])[1];
if (wanted) { document.querySelectorAll('#patients th').forEach(function(th, i){ if (th.getAttribute('data-column') === wanted) { sortBy(i); } }); }
"""


def overview_html(verdicts: Sequence[PatientVerdict], title: str) -> str:
    """The cohort overview page (self-contained; links are relative to OUT)."""
    e = html.escape
    columns = (("patient", "patient"), ("verdict", "verdict"), ("constraints", "failing constraints"),
               ("coverage", "coverage rules not met"), ("worst", "worst check"), ("margin", "margin"),
               ("status", "batch status"), ("report", "report"))
    head = "".join(f'<th data-column="{c}">{e(label)}</th>' for c, label in columns)
    rows = []
    for v in verdicts:
        rank = VERDICT_ORDER.index(v.verdict) if v.verdict in VERDICT_ORDER else 9
        link = f'<a href="{e(v.report)}">report</a>' if v.report else "-"
        margin = "-" if v.worst_margin is None else f"{v.worst_margin:+.2f} {v.worst_unit}"
        detail = v.reason if v.verdict in ("failed", "not_checked") else v.worst
        rows.append(
            f'<tr class="{e(v.verdict)}" data-verdict="{e(v.verdict)}" data-patient="{e(v.patient_id)}">'
            f"<td>{e(v.patient_id)}</td><td class=\"verdict\" data-sort=\"{rank}\">{e(v.verdict.replace('_', ' ').upper())}</td>"
            f"<td>{v.failing_constraints}</td><td>{v.coverage_not_met}</td><td>{e(detail)}</td>"
            f'<td data-sort="{"" if v.worst_margin is None else v.worst_margin}">{e(margin)}</td>'
            f"<td>{e(v.batch_status)}</td><td>{link}</td></tr>"
        )
    counts = "".join(f"<span>{e(k.replace('_', ' '))}: <b>{n}</b></span>" for k, n in verdict_counts(verdicts).items())
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title><style>{_CSS}</style></head><body>'
        f"<h1>{e(title)}</h1><p class=\"counts\">{counts}</p>"
        "<p>Sorted by verdict (violations first); click a column heading to sort by it. Each report link opens the "
        "patient's clinical report.</p>"
        f'<table id="patients"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
        f"<script>{_SCRIPT}</script></body></html>\n"
    )


def write_overview(out_dir: Path, verdicts: Sequence[PatientVerdict]) -> Path:
    path = Path(out_dir) / OVERVIEW_NAME
    atomic.write_text(path, overview_html(verdicts, f"Cohort overview: {len(verdicts)} patients"))
    return path


def any_violation(verdicts: Sequence[PatientVerdict]) -> bool:
    return any(v.verdict == "violation" for v in verdicts)
