"""Drive dicompyler-core in its own environment (.venv-baseline) through a subprocess and JSON.

dicompyler-core 0.5.6 cannot run beside pydicom 3 (the product's requirement), so it is never
imported here: :func:`dicompyler_dvh` sends a request to ``dicompyler_worker.py`` running under
``.venv-baseline/bin/python`` and returns its JSON answer. Create the environment with
``bash benchmarks/baseline/setup.sh`` (``make test`` and ``make benchmark`` do it).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("dicompyler_worker.py")


class BaselineUnavailableError(RuntimeError):
    """The baseline environment is missing or the worker failed."""


def baseline_python() -> Path:
    """The baseline interpreter: $DOSIMETRY_BASELINE_PYTHON or .venv-baseline/bin/python."""
    override = os.environ.get("DOSIMETRY_BASELINE_PYTHON")
    python = Path(override) if override else ROOT / ".venv-baseline" / "bin" / "python"
    if not python.exists():
        raise BaselineUnavailableError(
            f"baseline interpreter {python} not found; run 'bash benchmarks/baseline/setup.sh'"
        )
    return python


def dicompyler_dvh(
    rtdose: Path,
    rtstruct: Path,
    rois: list[str] | None = None,
    *,
    get_dvh_kwargs: dict[str, Any] | None = None,
    dose_metrics: list[str] | None = None,
    timeout_s: float = 1800.0,
) -> dict[str, Any]:
    """dicompyler-core's ``get_dvh`` for each ROI (or those named), as the worker's JSON."""
    request = {
        "rtdose": str(Path(rtdose).resolve()),
        "rtstruct": str(Path(rtstruct).resolve()),
        "rois": rois,
        "get_dvh_kwargs": get_dvh_kwargs or {},
        "dose_metrics": dose_metrics or [],
    }
    return _run_worker(request, timeout_s)


def dicompyler_dvh_cases(
    cases: list[tuple[Path, Path]],
    *,
    get_dvh_kwargs: dict[str, Any] | None = None,
    dose_metrics: list[str] | None = None,
    timeout_s: float = 3600.0,
) -> list[dict[str, Any]]:
    """:func:`dicompyler_dvh` for many (rtdose, rtstruct) pairs in one worker process (all ROIs)."""
    request = {
        "cases": [
            {
                "rtdose": str(Path(rd).resolve()),
                "rtstruct": str(Path(rs).resolve()),
                "rois": None,
                "get_dvh_kwargs": get_dvh_kwargs or {},
                "dose_metrics": dose_metrics or [],
            }
            for rd, rs in cases
        ]
    }
    return list(_run_worker(request, timeout_s)["cases"])


def _run_worker(request: dict[str, Any], timeout_s: float) -> dict[str, Any]:
    proc = subprocess.run(
        [str(baseline_python()), str(WORKER)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    try:
        answer = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise BaselineUnavailableError(
            f"dicompyler worker gave no JSON (exit {proc.returncode}): {proc.stderr.strip()[-2000:]}"
        ) from exc
    if proc.returncode != 0 or "error" in answer:
        raise BaselineUnavailableError(f"dicompyler worker failed: {answer.get('error', proc.stderr[-2000:])}")
    return answer
