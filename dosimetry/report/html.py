"""Render a :class:`Report` as one self-contained HTML page (inline CSS, images as data URIs).

Every text is HTML-escaped; the page loads nothing from the network. Each image carries
``data-figure`` and, once decoded by the browser, the small inline script marks it with
``data-loaded="true"`` so a headless browser test can tell that the figures really render.
"""

from __future__ import annotations

import base64
import html

from dosimetry.report.content import Figure, Paragraph, Report, Section, RowStyle, Table

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
.warnings{background:#fff6d6;border:1px solid #e0c060;padding:.5em 1em}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #ddd}
section#overlays figure{display:inline-block;vertical-align:top;width:32.5%;margin:.5em 0}
section#overlays figure h3{font-size:.95em}
table{display:block;max-width:100%;overflow-x:auto}td{overflow-wrap:break-word}
figcaption{color:#555;font-size:.85em}
.note{color:#555;font-size:.85em}
code{font-size:.9em}
"""

_SCRIPT = """
document.querySelectorAll('img[data-figure]').forEach(function(img){
  function mark(){ if(img.complete && img.naturalWidth>0){ img.setAttribute('data-loaded','true'); } }
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
            cls = ' class="status"' if is_status_cell else ""
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


def _section(section: Section) -> str:
    parts = []
    for item in section.items:
        if isinstance(item, Table):
            parts.append(_table(item))
        elif isinstance(item, Figure):
            parts.append(_figure(item))
        else:
            assert isinstance(item, Paragraph)
            parts.append(f"<p>{_e(item.text)}</p>")
    sid = f' id="{_e(section.section_id)}"' if section.section_id else ""
    return f"<section{sid}><h2>{_e(section.heading)}</h2>{''.join(parts)}</section>"


def render_html(report: Report) -> str:
    warnings = ""
    if report.warnings:
        items = "".join(f"<li>{_e(w)}</li>" for w in report.warnings)
        warnings = f'<section id="warnings" class="warnings"><h2>Warnings</h2><ul>{items}</ul></section>'
    body = "".join(_section(s) for s in report.sections)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(report.title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{_e(report.title)}</h1><p class=\"subtitle\">{_e(report.subtitle)}</p>"
        f"{warnings}{body}<script>{_SCRIPT}</script></body></html>\n"
    )
