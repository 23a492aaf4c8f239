"""``pipelines.analyze.full_analysis`` through the batch seam: a valid and a broken patient."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from pipelines.analysis import AnalysisParameters, analysis_identity, load_analysis
from pipelines.analyze import full_analysis
from pipelines.batch import ProgressMode, run_batch
from dosimetry.patient.schema import validate

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "patient01"


def test_full_analysis_in_a_batch(tmp_path: Path) -> None:
    root = tmp_path / "cohort"
    shutil.copytree(SAMPLE, root / "patient01")
    broken = root / "broken"
    shutil.copytree(SAMPLE / "current", broken / "current")
    for rd in (broken / "current").glob("RD*.dcm"):
        rd.unlink()  # no dose
    import pydicom

    for path in (broken / "current").glob("*.dcm"):  # another PatientID so it is a separate patient
        ds = pydicom.dcmread(path)
        ds.PatientID = "../../broken"
        ds.save_as(path)

    assert load_analysis("pipelines.analyze:full_analysis") is full_analysis
    assert analysis_identity(full_analysis) == "pipelines.analyze.full_analysis@2"
    out = tmp_path / "out"
    summary = run_batch(root, out, analysis=full_analysis, parameters=AnalysisParameters(), workers=0, progress=ProgressMode.OFF)
    assert (summary.total, summary.succeeded, summary.failed) == (2, 1, 1), [(p.patient_id, p.error) for p in summary.patients]
    by_id = {p.patient_id: p for p in summary.patients}
    folder = out / "patients" / by_id["patient01"].key
    for name in ("report.html", "results.json", "dvh.csv", "metrics.csv", "EQD2_2_cumulative.dcm"):
        assert (folder / name).is_file(), name
    import json

    validate(json.loads((folder / "results.json").read_text(encoding="utf-8")))
    assert summary.metrics_rows > 500
    # plan-quality indices of every target are candidate predictors in the cohort metrics.csv
    # (oracle: the patient's own results.json lists the same defined index values)
    import csv

    with open(out / "metrics.csv", newline="") as handle:
        cohort_rows = [r for r in csv.DictReader(handle) if r["patient_id"] == "patient01"]
    index_rows = {(r["roi"], r["quantity"], r["metric"]): float(r["value"]) for r in cohort_rows if r["metric"].startswith("index:")}
    results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    expected = {
        (rec["target"], rec["quantity"], f"index:{name}"): item["value"]
        for rec in results["indices"] for name, item in rec["indices"].items() if item["value"] is not None
    }
    assert expected and index_rows == expected
    assert all(out.resolve() in p.resolve().parents for p in out.rglob("*"))


def test_batch_gives_every_patient_a_verdict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Oracle: the cohort built here: the sample patient fails the Emami TD5/5 of the optic chiasm and the left
    optic nerve (sample_data/README.md), the small patient reaches no limit (tests/report_patients.py), the third
    has no dose (the analysis fails). The overview page is opened in headless Chromium and sorted there."""
    from dosimetry.cli import main as cli_main
    from tests.browser import CHROMIUM_FLAGS, chromium_binary
    from tests.report_patients import make_small_patient

    root = tmp_path / "cohort"
    shutil.copytree(SAMPLE, root / "patient01")
    make_small_patient(root / "small")
    shutil.copytree(SAMPLE / "current", root / "broken" / "current")
    for rd in (root / "broken" / "current").glob("RD*.dcm"):
        rd.unlink()
    import pydicom

    for path in (root / "broken" / "current").glob("*.dcm"):
        ds = pydicom.dcmread(path)
        ds.PatientID = "NODOSE"
        ds.save_as(path)
    out = tmp_path / "out"
    common = ["batch", str(root), "--out", str(out), "--workers", "0", "--progress", "off"]
    assert cli_main.main(common) == 1  # one patient failed
    console = capsys.readouterr().out
    lines = {line.split(" [")[0]: line for line in console.splitlines() if " [" in line}
    assert lines["patient01"].startswith("patient01 [") and ": VIOLATION: 2 constraint(s) failed" in lines["patient01"]
    assert "worst OpticChiasm Max[Gy] on eqd2_cumulative = 64.99 Gy, limit <= 50 Gy, margin -14.99 Gy" in lines["patient01"]
    assert ": PASS" in lines["SYN001"] and ": FAILED (analysis failed:" in lines["NODOSE"]
    assert "verdicts: 1 violation, 1 pass, 0 not evaluable, 1 failed" in console

    summary = json.loads((out / "batch_summary.json").read_text(encoding="utf-8"))
    by_id = {p["patient_id"]: p for p in summary["patients"]}
    assert by_id["patient01"]["verdict"] == "violation" and by_id["patient01"]["failing_constraints"] == 2
    assert by_id["patient01"]["worst_margin"] == pytest.approx(-14.99, abs=0.01) and by_id["patient01"]["worst_unit"] == "Gy"
    assert by_id["SYN001"]["verdict"] == "pass" and by_id["NODOSE"]["verdict"] == "failed"
    assert summary["verdict_counts"]["violation"] == 1

    # --fail-on-violation: with the broken patient removed the batch succeeds, yet exits 2 for the violation.
    shutil.rmtree(root / "broken")
    assert cli_main.main([*common, "--fail-on-violation"]) == 2
    assert cli_main.main(common) == 0
    capsys.readouterr()

    overview = out / "cohort_overview.html"
    for hash_, expected in (("", ["patient01", "SYN001"]), ("#sort=patient", [])):
        proc = subprocess.run(
            [chromium_binary(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / ('p' + str(len(hash_)))}", "--dump-dom",
             overview.resolve().as_uri() + hash_],
            capture_output=True, text=True, timeout=120, check=False,
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        order = re.findall(r'data-patient="([^"]+)"', proc.stdout)
        if not hash_:
            assert order == expected  # violations first
        else:
            assert order == sorted(order, key=str.lower) and 'data-sorted-by="patient"' in proc.stdout
        for link in re.findall(r'href="([^"]+)"', proc.stdout):
            assert (out / link).is_file(), link
