"""``report.pdf``: the report page printed by headless Chromium (``--print-to-pdf``).

Why Chromium and not a Python HTML-to-PDF library: the page is tested in Chromium already (the
same engine lays out screen and print), and WeasyPrint would add Pango/cairo system libraries for
one file. The print stylesheet (:mod:`dosimetry.report.html`) fits tables to the page width and
keeps rows, figures and the banner from splitting; folded details are opened for printing.
The browser runs with a hard time limit and without network access.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from pathlib import Path

from dosimetry.errors import OutputError

logger = logging.getLogger(__name__)

#: Chromium binaries tried in order (Debian's package installs ``chromium``).
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
PDF_TIMEOUT_S = 120.0
_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--no-pdf-header-footer", "--virtual-time-budget=5000",
    # no name resolves and no proxy: the self-contained page needs no network, and gets none
    "--host-resolver-rules=MAP * ~NOTFOUND", "--no-proxy-server",
)


def chromium_path() -> str:
    """The Chromium binary, or an :class:`OutputError` saying how to install it."""
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    raise OutputError("--pdf needs headless Chromium: install Debian's 'chromium' package (apt-get install chromium)")


def print_pdf(html_path: Path, pdf_path: Path, *, timeout_s: float = PDF_TIMEOUT_S) -> Path:
    """Print ``html_path`` to ``pdf_path`` with headless Chromium; returns ``pdf_path``."""
    html_path, pdf_path = Path(html_path).resolve(), Path(pdf_path).resolve()
    if not html_path.is_file():
        raise OutputError(f"cannot print {html_path}: no such file")
    with tempfile.TemporaryDirectory(prefix="dosimetry-chromium-") as profile:
        partial = pdf_path.with_name(pdf_path.name + ".partial")
        command = [chromium_path(), *_FLAGS, f"--user-data-dir={profile}", f"--print-to-pdf={partial}", html_path.as_uri()]
        try:
            proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired as exc:
            partial.unlink(missing_ok=True)
            raise OutputError(f"Chromium did not print {html_path} within {timeout_s:g} s") from exc
        if proc.returncode != 0 or not partial.is_file() or partial.stat().st_size == 0:
            partial.unlink(missing_ok=True)
            tail = (proc.stderr or "").strip().splitlines()[-3:]
            raise OutputError(f"Chromium could not print {html_path} (exit {proc.returncode}): {' | '.join(tail)}")
        partial.replace(pdf_path)
    logger.info("report printed to %s", pdf_path)
    return pdf_path
