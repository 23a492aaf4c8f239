"""The printable report: ``dosimetry analyze --pdf`` (headless Chromium), the print stylesheet, and the
screen layout at a 1200 px window.

Oracles: (1) the browser's own layout of the page under its print rules at the printable width of
A4 (186 mm = 703 CSS px): no table, cell, figure or image extends past its box or the page; (2) the
PDF's text layer (pypdf, an independent PDF reader): the right-most and longest cells of the tables
(every input file's SHA-256, every constraint's reason) and the banner appear in it, so nothing was
cut at the page edge or left folded."""

from __future__ import annotations

import re
import subprocess
import unicodedata
from pathlib import Path

import pytest

from dosimetry.cli import main as cli_main
from tests.browser import CHROMIUM_FLAGS, chromium_binary

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "patient01"
A4_PRINTABLE_PX = 703  # (210 mm - 2 x 12 mm @page margin) at 96 CSS px per inch

_CLIP_CHECK = """
<script>
window.addEventListener('load', function(){
  var width = document.documentElement.clientWidth, clipped = [];
  document.querySelectorAll('table, th, td, figure, img, .banner, .signoff, p').forEach(function(el){
    var r = el.getBoundingClientRect();
    var name = el.tagName + (el.id ? '#' + el.id : '') + ':' + (el.textContent || el.getAttribute('data-figure') || '').slice(0, 40);
    if (r.right > width + 1 || r.left < -1) { clipped.push('outside ' + name); }
    if (el.tagName !== 'IMG' && el.scrollWidth > el.clientWidth + 1 && el.clientWidth > 0) { clipped.push('overflow ' + name); }
  });
  document.body.setAttribute('data-clipped', clipped.join(' | ') || 'none');
  document.body.setAttribute('data-checked', String(document.querySelectorAll('td').length));
});
</script>
"""


@pytest.fixture(scope="module")
def printed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("print") / "out"
    assert cli_main.main(["analyze", str(SAMPLE), "--out", str(out), "--pdf"]) == 0
    return out


@pytest.mark.parametrize(("media", "width_px"), [("print", A4_PRINTABLE_PX), ("screen", 1200)])
def test_layout_clips_nothing(printed: Path, tmp_path: Path, media: str, width_px: int) -> None:
    """Print: the print rules at the A4 printable width; screen: a 1200 px browser window (no table
    needs a scroll bar)."""
    page = (printed / "report.html").read_text(encoding="utf-8")
    assert "@media print{" in page
    # Every folded part opened (as for printing); for print the print rules applied at the printable width.
    as_printed = page.replace("<details>", "<details open>")
    if media == "print":
        as_printed = as_printed.replace("@media print{", "@media all{")
    as_printed = as_printed.replace("</body>", _CLIP_CHECK + "</body>")
    copy = tmp_path / "as_printed.html"
    copy.write_text(as_printed, encoding="utf-8")
    proc = subprocess.run(
        [chromium_binary(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", f"--window-size={width_px},1000",
         "--dump-dom", copy.resolve().as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    clipped = re.search(r'data-clipped="([^"]*)"', proc.stdout)
    checked = re.search(r'data-checked="(\d+)"', proc.stdout)
    assert clipped is not None and checked is not None and int(checked.group(1)) > 300
    assert clipped.group(1) == "none", clipped.group(1)


def test_pdf_holds_every_table_cell_and_figure(printed: Path) -> None:
    import json

    import pypdf

    pdf = printed / "report.pdf"
    assert pdf.read_bytes().startswith(b"%PDF-")
    reader = pypdf.PdfReader(pdf)
    assert len(reader.pages) > 5
    width_pt = float(reader.pages[0].mediabox.width)
    assert abs(width_pt - 595.0) < 2  # A4 portrait
    text = unicodedata.normalize("NFKC", "\n".join(p.extract_text() for p in reader.pages))
    flat = re.sub(r"\s+", "", text)
    results = json.loads((printed / "results.json").read_text(encoding="utf-8"))
    assert "VIOLATION" in text and "Signature" in text
    for entry in results["inputs"]:  # the provenance table's right-most column: printed unfolded and uncut
        assert entry["sha256"] in flat, entry["path"]
    for row in results["constraints"]["rows"]:  # the constraint table's right-most column
        assert re.sub(r"\s+", "", row["reason"]) in flat, row["reason"]
    figures = len(re.findall(r'data-figure="', (printed / "report.html").read_text(encoding="utf-8")))
    assert sum(len(p.images) for p in reader.pages) >= figures
