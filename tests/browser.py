"""Headless Chromium (Debian's package) for report rendering tests.

The flags follow this workplace's notes: no sandbox as root, no GPU, and no background
networking so Chromium makes no outbound connections.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--virtual-time-budget=5000",
)


def chromium_binary() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise AssertionError(
        "Chromium not found: install Debian's 'chromium' package (make test and .ci/run do it)"
    )


def dump_dom(html_path: Path, profile_dir: Path) -> str:
    proc = subprocess.run(
        [chromium_binary(), *CHROMIUM_FLAGS, f"--user-data-dir={profile_dir}", "--dump-dom", html_path.resolve().as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def screenshot(html_path: Path, png_path: Path, profile_dir: Path, size: tuple[int, int] = (1200, 2400)) -> None:
    proc = subprocess.run(
        [
            chromium_binary(),
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile_dir}",
            f"--window-size={size[0]},{size[1]}",
            f"--screenshot={png_path}",
            html_path.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0 and png_path.exists(), proc.stderr[-2000:]
