"""``dosimetry correlate --study-report``: the study page, JSON and CSV tables from a hand-written
batch output whose organ DVHs and outcomes come from known models.

Oracles: the LKB fit through the batch files equals the fit on the simulated organs directly (the
cumulative DVH written at the simulation's bin edges converts back to exactly its bins); the
documented file list; the small-sample warning rule."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from dosimetry.cli import main as cli_main
from dosimetry.outcomes.lkb_fit import fit_lkb
from dosimetry.outcomes.simulate import BIN_EDGES_GY, simulate_lkb_cohort
from pipelines.csv_out import METRICS_COLUMNS


def _batch_output(tmp_path: Path, patients: int = 60) -> tuple[Path, Path, object]:
    cohort = simulate_lkb_cohort(patients, td50_gy=55.0, m=0.2, n=0.25, seed=12)
    out = tmp_path / "out"
    rng = np.random.default_rng(3)
    with _open(tmp_path / "outcomes.csv") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["patient_id", "worst_toxicity_grade", "local_progression", "progression_months", "age_years", "sex"])
        for pid, y in zip(cohort.patient_ids, cohort.outcome):
            t = float(rng.exponential(30.0))
            writer.writerow([pid, 3 if y else 1, int(t < 36.0), f"{min(t, 36.0):.2f}", f"{rng.uniform(40, 75):.1f}", "MF"[int(rng.random() < 0.3)]])
    (out / "patients").mkdir(parents=True)
    with _open(out / "metrics.csv") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(METRICS_COLUMNS)
        for k, (pid, organ) in enumerate(zip(cohort.patient_ids, cohort.organs)):
            key = f"key{k:03d}"
            writer.writerow([key, pid, "BrainStem", "EQD2_2_cumulative", "Mean[Gy]", repr(organ.mean_gy), "Gy"])
            writer.writerow([key, pid, "BrainStem", "EQD2_2_cumulative", "Max[Gy]", repr(organ.max_gy), "Gy"])
            folder = out / "patients" / key
            folder.mkdir()
            # cumulative DVH at the simulation's bin edges: V(edge_k) = volume of the bins from k on
            order = np.argsort(organ.dose_gy)
            volumes = np.zeros(BIN_EDGES_GY.size - 1)
            volumes[np.searchsorted(BIN_EDGES_GY, organ.dose_gy[order]) - 1] = organ.volume_cc[order]
            cumulative = np.append(np.cumsum(volumes[::-1])[::-1], 0.0)
            with _open(folder / "dvh.csv") as dvh:
                w = csv.writer(dvh, lineterminator="\n")
                w.writerow(["roi", "quantity", "dose_gy", "volume_cc", "volume_pct"])
                for d, v in zip(BIN_EDGES_GY, cumulative):
                    w.writerow(["BrainStem", "EQD2_2_cumulative", f"{d:.4f}", repr(float(v)), "0"])
    return out, tmp_path / "outcomes.csv", cohort


def _open(path: Path):
    return open(path, "w", newline="", encoding="utf-8")


def test_study_report_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, outcomes, cohort = _batch_output(tmp_path)
    report = tmp_path / "study"
    code = cli_main.main([
        "correlate", "--results", str(out), "--outcomes", str(outcomes), "--study-report", str(report),
        "--lkb-roi", "BrainStem", "--bootstrap", "20", "--covariates", "age_years", "sex",
        "--time-column", "progression_months", "--event", "local_progression",
    ])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    names = {p.name for p in report.iterdir()}
    assert {"study.html", "study.json", "associations.csv", "lkb_parameters.csv", "lkb_calibration.csv", "lkb_patients.csv",
            "multivariable_logistic.csv", "kaplan_meier.csv", "numbers_at_risk.csv", "logrank.csv", "cox.csv",
            "warnings.csv", "not_done.csv"} <= names
    data = json.loads((report / "study.json").read_text())
    direct = fit_lkb(cohort.organs, cohort.outcome, bootstrap=0)
    assert data["lkb"]["td50_gy"]["estimate"] == pytest.approx(direct.td50.estimate, rel=1e-6)
    assert data["lkb"]["n"]["estimate"] == pytest.approx(direct.n.estimate, rel=1e-5)
    page = (report / "study.html").read_text()
    assert page.count("<img") >= 5  # dose-response, ROC, forest (logistic), Kaplan-Meier, forest (Cox)
    assert "statsmodels" in data["methods"] and "lifelines" in data["methods"]
    assert data["not_done"] == {}
    assert any("small sample" in w.lower() for w in data["warnings"])
    with open(report / "warnings.csv", newline="") as handle:
        assert any("small sample" in r["warning"].lower() for r in csv.DictReader(handle))


def test_study_report_says_what_it_could_not_do(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, outcomes, _ = _batch_output(tmp_path, patients=30)
    report = tmp_path / "study"
    code = cli_main.main(["correlate", "--results", str(out), "--outcomes", str(outcomes), "--study-report", str(report),
                          "--lkb-roi", "Parotid_L", "--bootstrap", "0"])
    err = capsys.readouterr().err
    assert code == 0
    data = json.loads((report / "study.json").read_text())
    assert "LKB NTCP fit" in data["not_done"] and "Parotid_L" in data["not_done"]["LKB NTCP fit"] or "LKB" in err
    assert "Cox proportional hazards" in data["not_done"]
    assert "not done" in err


def test_kaplan_meier_time_axis_is_named_by_the_time_column(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Oracle: the outcomes table's own column name (``followup_days``): the time axis carries the
    unit the user's column has; it was hard-coded as "months" whatever the column held."""
    import pipelines.study_report as study_report

    out, outcomes, _ = _batch_output(tmp_path, patients=30)
    outcomes.write_text(outcomes.read_text().replace("progression_months", "followup_days", 1))
    labels: list[str] = []
    original = study_report.kaplan_meier_png

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        labels.append(kwargs["time_label"])
        return original(*args, **kwargs)

    monkeypatch.setattr(study_report, "kaplan_meier_png", spy)
    code = cli_main.main(["correlate", "--results", str(out), "--outcomes", str(outcomes), "--study-report", str(tmp_path / "study"),
                          "--time-column", "followup_days", "--event", "local_progression"])
    assert code == 0
    assert labels == ["followup_days"]


@pytest.mark.parametrize(
    "options",
    [{"bootstrap": -1}, {"bootstrap": 10**9}, {"lkb_fixed_n": 0.0}, {"lkb_fixed_n": float("nan")}, {"roc_curves": -2}],
)
def test_bad_study_options_stop_with_an_argument_error(options: dict[str, object]) -> None:
    """Oracle: the options' documented domains; a bad value used to end up as a 'not done' line with exit 0."""
    from dosimetry.errors import ArgumentError
    from pipelines.study import StudyOptions

    with pytest.raises(ArgumentError):
        StudyOptions(**options)  # type: ignore[arg-type]
