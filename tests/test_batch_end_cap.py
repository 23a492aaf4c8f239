"""``dosimetry batch --end-cap``: every patient analysed under the convention, the convention recorded
(cohort database, metrics.csv, each patient's manifest), and a rerun with another convention
analyses every patient again instead of reusing the results of the old one (the choice documented
in :mod:`pipelines.hashing`: recompute, with a warning in the run summary).

Oracle: the closed-form volumes of the cohort's box ROIs (tests/pipelines_cohort.py: squares of
12 x 12 mm (PTV) and 6 x 18 mm (Brainstem) on the planes z = -3, 0, 3 mm): three slabs of 3 mm
under half-slab and shape (flat ends: a constant section is capped half a spacing out,
:mod:`dosimetry.dvh.endcaps`), two under truncated (the outermost planes' half-slabs dropped).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from dosimetry.cli import main as cli_main
from dosimetry.dvh.endcaps import EndCapConvention
from pipelines.analysis import AnalysisParameters
from pipelines.batch import ProgressMode, run_batch
from pipelines.csv_out import read_metrics_csv
from pipelines.default_analysis import dvh_analysis
from tests.pipelines_cohort import write_patient

AREA_MM2 = {"PTV": 12.0 * 12.0, "Brainstem": 6.0 * 18.0}
SLABS = {EndCapConvention.SHAPE: 3, EndCapConvention.HALF_SLAB: 3, EndCapConvention.TRUNCATED: 2}


def _volumes(out: Path) -> dict[tuple[str, str], float]:
    with sqlite3.connect(out / "cohort.sqlite") as conn:
        return {(k, n): v for k, n, v in conn.execute("SELECT patient_key, name, volume_cc FROM rois")}


def _last_run_end_cap(out: Path) -> str:
    with sqlite3.connect(out / "cohort.sqlite") as conn:
        (text,) = conn.execute("SELECT parameters_json FROM runs ORDER BY started_utc DESC LIMIT 1").fetchone()
    return str(json.loads(text)["end_cap"])


def _check_outputs(out: Path, end_cap: EndCapConvention, patients: int = 2) -> None:
    volumes = _volumes(out)
    assert len(volumes) == 2 * patients
    for (_, name), volume_cc in volumes.items():
        assert volume_cc == pytest.approx(AREA_MM2[name] * 3.0 * SLABS[end_cap] / 1000.0, rel=1e-9), (name, end_cap)
    assert _last_run_end_cap(out) == end_cap.value
    rows = read_metrics_csv(out / "metrics.csv")
    assert rows and {r["end_cap"] for r in rows} == {end_cap.value}


def test_rerun_with_another_end_cap_recomputes(tmp_path: Path) -> None:
    """Oracle: the boxes' closed-form volumes per convention (module docstring): after the rerun the
    database holds the truncated volumes, so nothing of the shape run was reused."""
    root, out = tmp_path / "root", tmp_path / "out"
    for i in (1, 2):
        write_patient(root / f"p{i}", patient_id=f"P0{i}", scale_gy=float(i))

    first = run_batch(root, out, analysis=dvh_analysis, workers=0, progress=ProgressMode.OFF)
    assert first.succeeded == 2 and not any("end caps" in w for w in first.warnings)
    _check_outputs(out, EndCapConvention.SHAPE)

    truncated = AnalysisParameters(end_cap=EndCapConvention.TRUNCATED)
    second = run_batch(root, out, analysis=dvh_analysis, parameters=truncated, workers=0, progress=ProgressMode.OFF)
    assert (second.succeeded, second.skipped) == (2, 0)  # nothing of the shape run reused
    (note,) = [w for w in second.warnings if "end caps" in w]
    assert "shape" in note and "truncated" in note and "analysed again" in note
    _check_outputs(out, EndCapConvention.TRUNCATED)
    summary = json.loads((out / "batch_summary.json").read_text(encoding="utf-8"))
    assert note in summary["warnings"]

    third = run_batch(root, out, analysis=dvh_analysis, parameters=truncated, workers=0, progress=ProgressMode.OFF)
    assert (third.succeeded, third.skipped) == (0, 2) and not any("end caps" in w for w in third.warnings)
    _check_outputs(out, EndCapConvention.TRUNCATED)


def test_batch_cli_end_cap(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Oracle: the boxes' closed-form half-slab volumes (module docstring) in the database."""
    root, out = tmp_path / "root", tmp_path / "out"
    write_patient(root / "p1", patient_id="P01")
    code = cli_main.main([
        "batch", str(root), "--out", str(out), "--workers", "0", "--progress", "off", "--end-cap", "half-slab",
        "--analysis", "pipelines.default_analysis:dvh_analysis", "--json",
    ])
    assert code == 0, capsys.readouterr().err
    _check_outputs(out, EndCapConvention.HALF_SLAB, patients=1)
    manifest = json.loads(next((out / "patients").glob("*/batch_result.json")).read_text(encoding="utf-8"))
    assert manifest["parameters"]["end_cap"] == "half-slab"
