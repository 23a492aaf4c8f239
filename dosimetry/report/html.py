"""Render a :class:`Report` as one self-contained HTML page (inline CSS, images as data URIs).

Every text is HTML-escaped; the page loads nothing from the network. Each image carries
``data-figure`` and, once decoded by the browser, the small inline script marks it with
``data-loaded="true"`` and its natural, rendered and section widths (``data-natural-width``,
``data-rendered-width``, ``data-content-width``) so a headless browser test can tell that the
figures really render and how wide they are.
"""

from __future__ import annotations

import base64
import html

from dosimetry.report.content import (
    Banner,
    Details,
    Figure,
    Item,
    Paragraph,
    PendingFigure,
    Report,
    RowStyle,
    Section,
    SignOff,
    Table,
)

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{margin-bottom:0}h2{border-bottom:2px solid #ccc;padding-bottom:.2em;margin-top:2em}
.subtitle{color:#555;margin-top:.3em}
table{border-collapse:collapse;margin:.5em 0 1.5em 0;font-size:.9em}
th,td{border:1px solid #bbb;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#eee}
tr.pass td.status{background:#d4f4d4}tr.fail td.status{background:#f8c8c8;font-weight:bold}
tr.warn td.status{background:#fff0b3}tr.not-evaluable td.status{background:#e4e4e4}
tr.fail{background:#fdeaea}
tr.highlight td{background:#dbe9ff;font-weight:bold}
.banner{border:3px solid;border-radius:6px;padding:.6em 1.2em;margin:1em 0}
.banner h2{border:0;margin:.2em 0;font-size:1.6em}
.banner.violation{background:#fde4e4;border-color:#c00000}.banner.violation h2{color:#a00000}
.banner.pass{background:#e3f6e3;border-color:#2a8a2a}.banner.pass h2{color:#1d6b1d}
.banner.not_evaluable{background:#eeeeee;border-color:#777}
.banner .scope{font-weight:bold}
.banner table{background:#fff}
.warnings{border:1px solid #bbb;padding:.3em 1em;margin:.5em 0}
.warnings h3{margin:.3em 0;font-size:1em}
.warnings.review{background:#fff6d6;border-color:#e0c060}.warnings.note{background:#f4f4f4;color:#444;font-size:.9em}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #ddd}
figure img{width:100%;height:auto;box-sizing:border-box}
table{display:block;max-width:100%;overflow-x:auto}td.n{white-space:nowrap}
.signoff{border:2px solid #444;padding:.5em 1em;margin:1em 0;break-inside:avoid}
.signoff .line{display:flex;align-items:flex-end;margin:1.4em 0 .4em 0}
.signoff .line span{width:14em}.signoff .line i{flex:1;border-bottom:1px solid #222;height:1.2em}
details{margin:.5em 0}details>summary{cursor:pointer;font-weight:bold}details td{overflow-wrap:anywhere}
@page{size:A4;margin:12mm}
@media print{
 body{max-width:none;margin:0;font-size:9pt}
 table{display:table;width:100%;table-layout:auto;overflow:visible;font-size:7.5pt}
 th,td,td.n{padding:.15em .3em;overflow-wrap:anywhere;word-break:break-word;white-space:normal}
 tr,figure,.banner,.signoff{break-inside:avoid}
 thead{display:table-header-group}
 h2,h3{break-after:avoid}
 figure img{max-width:100%;height:auto}
 details>summary{display:none}
}
figcaption{color:#555;font-size:.85em}
.note{color:#555;font-size:.85em}
code{font-size:.9em}
"""

_SCRIPT = """
window.addEventListener('beforeprint', function(){ document.querySelectorAll('details').forEach(function(d){ d.open = true; }); });
if (window.matchMedia) { window.matchMedia('print').addEventListener('change', function(m){ if (m.matches) { document.querySelectorAll('details').forEach(function(d){ d.open = true; }); } }); }
document.querySelectorAll('img[data-figure]').forEach(function(img){
  function mark(){ if(img.complete && img.naturalWidth>0){
    img.setAttribute('data-loaded','true');
    img.setAttribute('data-natural-width', String(img.naturalWidth));
    img.setAttribute('data-rendered-width', String(Math.round(img.getBoundingClientRect().width)));
    img.setAttribute('data-content-width', String(Math.round(img.closest('section').getBoundingClientRect().width)));
  } }
  if(img.complete){ mark(); } else { img.addEventListener('load', mark); }
});
"""


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _table(table: Table) -> str:
    status_col = bool(table.row_status)
    head = "".join(f"<th>{_e(c)}</th>" for c in table.columns)
    rows = []
    for i, row in enumerate(table.rows):
        status = table.row_status[i] if status_col else RowStyle.NONE
        cells = []
        for j, cell in enumerate(row):
            is_status_cell = status_col and table.columns[j].lower() == "status"
            cls = ' class="status"' if is_status_cell else ' class="n"' if table.columns[j] in table.nowrap_columns else ""
            cells.append(f"<td{cls}>{_e(cell)}</td>")
        cls_attr = f' class="{status.value}"' if status.value else ""
        rows.append(f"<tr{cls_attr}>{''.join(cells)}</tr>")
    note = f'<p class="note">{_e(table.note)}</p>' if table.note else ""
    return f"<h3>{_e(table.title)}</h3><table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{note}"


def _figure(figure: Figure) -> str:
    data = base64.b64encode(figure.png).decode("ascii")
    caption = f"<figcaption>{_e(figure.caption)}</figcaption>" if figure.caption else ""
    return (
        f'<figure id="{_e(figure.figure_id)}"><h3>{_e(figure.title)}</h3>'
        f'<img data-figure="{_e(figure.figure_id)}" alt="{_e(figure.title)}" src="data:image/png;base64,{data}">'
        f"{caption}</figure>"
    )


def _signoff(block: SignOff) -> str:
    lines = "".join(f'<div class="line"><span>{_e(f)}</span><i></i></div>' for f in block.fields)
    statement = f"<p>{_e(block.statement)}</p>" if block.statement else ""
    return f'<div class="signoff"><h3>{_e(block.title)}</h3>{statement}{lines}</div>'


def _item(item: Item) -> str:
    if isinstance(item, Table):
        return _table(item)
    if isinstance(item, Figure):
        return _figure(item)
    if isinstance(item, PendingFigure):
        return _figure(item.resolve())
    if isinstance(item, SignOff):
        return _signoff(item)
    if isinstance(item, Details):
        return f"<details><summary>{_e(item.summary)}</summary>{''.join(_item(i) for i in item.items)}</details>"
    assert isinstance(item, Paragraph)
    return f"<p>{_e(item.text)}</p>"


def _section(section: Section) -> str:
    sid = f' id="{_e(section.section_id)}"' if section.section_id else ""
    return f"<section{sid}><h2>{_e(section.heading)}</h2>{''.join(_item(i) for i in section.items)}</section>"


def _banner(banner: Banner) -> str:
    findings = _table(banner.findings) if banner.findings is not None else ""
    return (
        f'<section id="verdict" class="banner {_e(banner.verdict)}" data-verdict="{_e(banner.verdict)}">'
        f"<h2>{_e(banner.headline)}</h2><p class=\"scope\">Dose evaluated: {_e(banner.scope)}</p>{findings}</section>"
    )


def _warnings(report: Report) -> str:
    if report.warning_groups:
        parts = []
        for group in report.warning_groups:
            if not group.items:
                continue
            items = "".join(f"<li>{_e(w)}</li>" for w in group.items)
            parts.append(
                f'<div class="warnings {_e(group.severity)}" data-severity="{_e(group.severity)}">'
                f"<h3>{_e(group.title)} ({len(group.items)})</h3><ul>{items}</ul></div>"
            )
        return f'<section id="warnings">{"".join(parts)}</section>' if parts else ""
    if report.warnings:
        items = "".join(f"<li>{_e(w)}</li>" for w in dict.fromkeys(report.warnings))
        return f'<section id="warnings" class="warnings review"><h2>Warnings</h2><ul>{items}</ul></section>'
    return ""


def render_html(report: Report) -> str:
    """The page: title, the verdict banner, warnings grouped by severity, then the sections in order."""
    banner = _banner(report.banner) if report.banner is not None else ""
    body = "".join(_section(s) for s in report.sections)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(report.title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{_e(report.title)}</h1><p class=\"subtitle\">{_e(report.subtitle)}</p>"
        f"{banner}{_warnings(report)}{body}<script>{_SCRIPT}</script></body></html>\n"
    )
