"""``pipelines.analyze.full_analysis`` through the batch seam: a valid and a broken patient."""

from __future__ import annotations

import shutil
from pathlib import Path

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
