"""pipelines.correlate and ``dosimetry correlate`` on hand-written batch outputs and outcomes."""

from __future__ import annotations

import csv
import json
import math
import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from dosimetry.cli import main as cli_main
from dosimetry.errors import ArgumentError, InputFileError
from dosimetry.outcomes import OutcomesTableError, fit_logistic, holm_adjust, parse_endpoint, roc_auc
from pipelines.correlate import CSV_COLUMNS, MetricKey, MetricsSource, correlate, load_cohort_metrics, report_csv_rows
from pipelines.csv_out import METRICS_COLUMNS

N = 80
KEY_DOSE = MetricKey("PTV", "rbe_weighted", "D50%[Gy]")


def _cohort(seed: int = 11) -> dict[str, dict[str, float]]:
    """Per patient: a PTV dose drawn over the protocol's dose levels, a noise metric, and the
    grade drawn from the sample-data toxicity model."""
    rng = np.random.default_rng(seed)
    patients: dict[str, dict[str, float]] = {}
    for k in range(N):
        dose = 2.5 * (21 + k % 6) + rng.normal(0.0, 0.5)
        p = 1 / (1 + math.exp(-(-2.944 + 0.2355 * (dose - 52.5))))
        grade = 3 if rng.random() < p else int(rng.integers(0, 3))
        patients[f"NPC{k + 1:03d}"] = {"dose": dose, "noise": float(rng.normal(20.0, 5.0)), "grade": grade}
    return patients


def _write_results(out: Path, patients: dict[str, dict[str, float]], *, extra_rows: list[list[str]] = ()) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "metrics.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(METRICS_COLUMNS)
        for pid, v in patients.items():
            writer.writerow([pid, pid, "PTV", "rbe_weighted", "D50%[Gy]", repr(v["dose"]), "Gy"])
            writer.writerow([pid, pid, "Parotid_L", "EQD2_2", "Mean[Gy]", repr(v["noise"]), "Gy"])
            writer.writerow([pid, pid, "BrainStem", "BED2", "D95%[Gy]", "0.0", "Gy"])  # constant
            writer.writerow([pid, pid, "Marker", "rbe_weighted", "Max[Gy]", "1.0" if v["grade"] >= 3 else "0.0", "Gy"])  # separates
        for row in extra_rows:
            writer.writerow(row)
    return out


def _write_outcomes(path: Path, patients: dict[str, dict[str, float]], *, blank: tuple[str, ...] = (), extra: tuple[str, ...] = ()) -> Path:
    lines = ["patient_id,worst_toxicity_grade,local_progression"]
    for pid, v in patients.items():
        lines.append(f"{pid},{'' if pid in blank else int(v['grade'])},0")
    for pid in extra:
        lines.append(f"{pid},4,1")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_join_fit_rank_and_warnings(tmp_path: Path) -> None:
    patients = _cohort()
    only_metrics = {"ORPHAN1": {"dose": 60.0, "noise": 1.0, "grade": 0}}
    out = _write_results(tmp_path / "out", {**patients, **only_metrics})
    outcomes = _write_outcomes(tmp_path / "outcomes.csv", patients, blank=("NPC005",), extra=("LOST9",))
    report = correlate(load_cohort_metrics(out), outcomes, parse_endpoint("worst_toxicity_grade>=3"))

    joined = sorted(p for p in patients if p != "NPC005")
    assert report.patients_joined == tuple(joined)
    x = np.array([patients[p]["dose"] for p in joined])
    y = np.array([patients[p]["grade"] >= 3 for p in joined])
    assert report.events == int(y.sum())
    text = "\n".join(report.warnings)
    assert "ORPHAN1" in text and "LOST9" in text and "NPC005" in text
    assert "1 metric(s) could not be analysed" in text

    top = report.associations[0]
    assert top.key == KEY_DOSE and top.n == len(joined) and top.events == int(y.sum())
    oracle = fit_logistic(x, y)
    assert top.fit is not None
    assert top.fit.slope == pytest.approx(oracle.slope, rel=1e-10)
    assert top.fit.odds_ratio_ci95 == pytest.approx(oracle.odds_ratio_ci95, rel=1e-10)
    assert top.discrimination.auc == pytest.approx(roc_auc(x, y))
    assert top.fit.lr_p_value < 0.01 and top.fit.odds_ratio > 1.0

    fitted = [a for a in report.associations if a.fit is not None]
    assert [a.key for a in fitted] == [KEY_DOSE, MetricKey("Parotid_L", "EQD2_2", "Mean[Gy]")]
    ps = [a.fit.lr_p_value for a in fitted]
    assert ps == sorted(ps)
    assert [a.lr_p_value_holm for a in fitted] == pytest.approx(list(holm_adjust(ps)))

    separated = report.associations[-1]
    assert separated.key.roi == "Marker" and separated.fit is None and "separation" in separated.fit_error
    assert "Marker rbe_weighted Max[Gy]" in separated.fit_error
    assert separated.discrimination.auc == 1.0 and separated.lr_p_value_holm is None

    assert [(n.key.roi, n.n) for n in report.not_analysed] == [("BrainStem", len(joined))]
    assert "constant" in report.not_analysed[0].reason

    rows = report_csv_rows(report)
    assert [r[0] for r in rows] == ["1", "2", "3"] and rows[-1][7] == "" and "separation" in rows[-1][CSV_COLUMNS.index("note")]


def test_patients_without_a_metric_are_counted(tmp_path: Path) -> None:
    patients = _cohort()
    out = _write_results(tmp_path / "out", patients, extra_rows=[[p, p, "GTV", "rbe_weighted", "Min[Gy]", repr(v["dose"] - 3), "Gy"] for p, v in list(patients.items())[:50]])
    outcomes = _write_outcomes(tmp_path / "o.csv", patients)
    report = correlate(load_cohort_metrics(out), outcomes, parse_endpoint("worst_toxicity_grade>=3"), rois=["gtv"])
    (gtv,) = report.associations
    assert gtv.n == 50 and gtv.patients_without_metric == N - 50


def test_selection_filters_and_unknown_names(tmp_path: Path) -> None:
    patients = _cohort()
    out = _write_results(tmp_path / "out", patients)
    outcomes = _write_outcomes(tmp_path / "o.csv", patients)
    metrics = load_cohort_metrics(out)
    ep = parse_endpoint("worst_toxicity_grade>=3")
    report = correlate(metrics, outcomes, ep, quantities=["EQD2_2"], metric_names=["mean[gy]"])
    assert [a.key for a in report.associations] == [MetricKey("Parotid_L", "EQD2_2", "Mean[Gy]")]
    with pytest.raises(ArgumentError, match=r"--roi Cochlea.*available: BrainStem, Marker, PTV, Parotid_L"):
        correlate(metrics, outcomes, ep, rois=["Cochlea"])
    with pytest.raises(ArgumentError, match="matches no metric"):
        correlate(metrics, outcomes, ep, rois=["PTV"], quantities=["EQD2_2"])


def test_no_common_patients_is_an_error(tmp_path: Path) -> None:
    patients = _cohort()
    out = _write_results(tmp_path / "out", patients)
    other = {f"X{k}": v for k, v in enumerate(patients.values())}
    outcomes = _write_outcomes(tmp_path / "o.csv", other)
    with pytest.raises(ArgumentError, match="no patient is in both"):
        correlate(load_cohort_metrics(out), outcomes, parse_endpoint("worst_toxicity_grade>=3"))


def test_duplicate_patient_id_under_two_batch_patients_is_listed_and_left_out(tmp_path: Path) -> None:
    patients = _cohort()
    out = _write_results(tmp_path / "out", patients, extra_rows=[["NPC001_2", "NPC001", "PTV", "rbe_weighted", "D50%[Gy]", "70.0", "Gy"]])
    metrics = load_cohort_metrics(out)
    assert "NPC001" not in metrics.patient_ids
    assert any("NPC001" in w and "NPC001_2" in w for w in metrics.warnings)
    outcomes = _write_outcomes(tmp_path / "o.csv", patients)
    report = correlate(metrics, outcomes, parse_endpoint("worst_toxicity_grade>=3"))
    assert any("NPC001" in w for w in report.warnings) and "NPC001" not in report.patients_joined


@pytest.mark.parametrize(
    "row,fragment",
    [
        (["NPC001", "NPC001", "PTV", "rbe_weighted", "D98%[Gy]", "abc", "Gy"], "line 319, column 'value'"),
        (["NPC001", "NPC001", "Parotid_L", "EQD2_2", "Mean[Gy]", "1.0", "Gy"], "line 319: a second value of Parotid_L EQD2_2 Mean[Gy] for patient NPC001"),
        (["NPC001", "NPC001", "PTV", "rbe_weighted", "D50%[Gy]", "1.0", "cGy"], "line 319, column 'unit'"),
    ],
)
def test_malformed_metrics_csv(tmp_path: Path, row: list[str], fragment: str) -> None:
    patients = _cohort()
    patients.pop("NPC001")
    out = _write_results(tmp_path / "out", patients, extra_rows=[["NPC001", "NPC001", "Parotid_L", "EQD2_2", "Mean[Gy]", "2.0", "Gy"], row])
    with pytest.raises(OutcomesTableError, match="metrics.csv") as info:
        load_cohort_metrics(out)
    assert fragment in str(info.value)


def test_missing_results(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="no such folder"):
        load_cohort_metrics(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputFileError, match="neither metrics.csv nor cohort.sqlite"):
        load_cohort_metrics(tmp_path / "empty")
    _write_results(tmp_path / "csv_only", _cohort())
    with pytest.raises(InputFileError, match="--source sqlite: no cohort.sqlite in .*; metrics.csv exists: use --source csv"):
        load_cohort_metrics(tmp_path / "csv_only", source=MetricsSource.SQLITE)


def _write_sqlite(out: Path, patients: dict[str, dict[str, float]]) -> Path:
    from pipelines.store import metadata, metrics, patient_runs, runs
    from pipelines.store import patients as patients_table

    out.mkdir(parents=True, exist_ok=True)
    path = out / "cohort.sqlite"
    engine = sa.create_engine(f"sqlite:///{path}")
    metadata.create_all(engine)
    old, new = str(uuid.uuid4()), str(uuid.uuid4())
    t0, t1 = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)
    with engine.begin() as conn:
        for run_id, t in ((old, t0), (new, t1)):
            conn.execute(runs.insert().values(run_id=run_id, started_utc=t, status="completed", parameters_json="{}", analysis_id="a", software_version="0", out_dir=str(out)))
        for pid, v in patients.items():
            conn.execute(patients_table.insert().values(patient_key=pid, patient_id=pid, layout="folder", source="x", status="succeeded", run_key="k", last_run_id=new, updated_utc=t1, warnings_json="[]"))
            conn.execute(patient_runs.insert().values(run_id=new, patient_key=pid, status="succeeded", run_key="k"))
            conn.execute(metrics.insert().values(patient_key=pid, roi="PTV", quantity="rbe_weighted", metric="D50%[Gy]", value=v["dose"], unit="Gy"))
        # a patient only the older run saw, and one that failed in the latest run
        conn.execute(patients_table.insert().values(patient_key="GONE", patient_id="GONE", layout="folder", source="x", status="succeeded", run_key="g", last_run_id=old, updated_utc=t0, warnings_json="[]"))
        conn.execute(patient_runs.insert().values(run_id=old, patient_key="GONE", status="succeeded", run_key="g"))
        conn.execute(metrics.insert().values(patient_key="GONE", roi="PTV", quantity="rbe_weighted", metric="D50%[Gy]", value=1.0, unit="Gy"))
        conn.execute(patients_table.insert().values(patient_key="BAD", patient_id="BAD", layout="folder", source="x", status="failed", error="truncated RT Dose", last_run_id=new, updated_utc=t1, warnings_json="[]"))
        conn.execute(patient_runs.insert().values(run_id=new, patient_key="BAD", status="failed", error="truncated RT Dose"))
    engine.dispose()
    return path


def test_sqlite_source_reads_the_latest_run_and_lists_failures(tmp_path: Path) -> None:
    patients = _cohort()
    db = _write_sqlite(tmp_path / "out", patients)
    before = db.read_bytes()
    metrics = load_cohort_metrics(tmp_path / "out")
    assert metrics.source == db and set(metrics.patient_ids) == set(patients)
    assert any("BAD" in w and "truncated RT Dose" in w for w in metrics.warnings)
    assert db.read_bytes() == before  # read-only
    outcomes = _write_outcomes(tmp_path / "o.csv", patients)
    from_db = correlate(metrics, outcomes, parse_endpoint("worst_toxicity_grade>=3"))
    _write_results(tmp_path / "out", patients)
    from_csv = correlate(load_cohort_metrics(tmp_path / "out", source=MetricsSource.CSV), outcomes, parse_endpoint("worst_toxicity_grade>=3"), rois=["PTV"])
    assert from_db.associations[0].fit.slope == pytest.approx(from_csv.associations[0].fit.slope, rel=1e-12)
    assert load_cohort_metrics(tmp_path / "out", source=MetricsSource.SQLITE).source == db


def test_cli_table_json_and_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    patients = _cohort()
    out = _write_results(tmp_path / "out", {**patients, "ORPHAN1": {"dose": 60.0, "noise": 1.0, "grade": 0}})
    outcomes = _write_outcomes(tmp_path / "outcomes.csv", patients)
    assoc = tmp_path / "assoc.csv"
    code = cli_main.main(["correlate", "--results", str(out), "--outcomes", str(outcomes), "--csv", str(assoc)])
    printed = capsys.readouterr().out
    assert code == 0
    assert "UNADJUSTED" in printed and "Holm" in printed and "ORPHAN1" in printed
    lines = printed.splitlines()
    first = next(line for line in lines if line.startswith("1 "))
    assert "PTV" in first and "D50%[Gy]" in first
    assert "not fitted*" in printed and "separation" in printed
    with open(assoc, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["roi"] for r in rows] == ["PTV", "Parotid_L", "Marker"]

    code = cli_main.main(["correlate", "--results", str(out), "--outcomes", str(outcomes), "--json", "--endpoint", "worst_toxicity_grade >= 3"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["schema"] == "dosimetry.correlate/1"
    assert data["endpoint"] == "worst_toxicity_grade>=3" and data["patients"] == N
    assert data["associations"][0]["roi"] == "PTV"
    assert data["associations"][0]["logistic"]["odds_ratio_ci95"][0] > 1.0
    assert data["associations"][-1]["logistic"] is None and "separation" in data["associations"][-1]["logistic_error"]
    assert data["not_analysed"][0]["roi"] == "BrainStem"
    assert any("ORPHAN1" in w for w in data["warnings"])


def test_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    patients = _cohort()
    out = _write_results(tmp_path / "out", patients)
    outcomes = _write_outcomes(tmp_path / "outcomes.csv", patients)
    code = cli_main.main(["correlate", "--results", str(out), "--outcomes", str(outcomes), "--endpoint", "toxicity_grade>=3"])
    err = capsys.readouterr().err
    assert code == 1 and "no column 'toxicity_grade'" in err and "worst_toxicity_grade" in err
    code = cli_main.main(["correlate", "--results", str(out), "--outcomes", str(outcomes), "--endpoint", "local_progression"])
    err = capsys.readouterr().err
    assert code == 1 and "dosimetry: error:" in err and "no events among the 80 patients" in err and "local_progression" in err


def test_study_options_without_study_report_are_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Oracle: the documented option group (the LKB/time-to-event options act only with
    --study-report DIR); before, --lkb-roi without it printed the correlation table, exit 0, and no fit."""
    patients = _cohort()
    out = _write_results(tmp_path / "out", patients)
    outcomes = _write_outcomes(tmp_path / "outcomes.csv", patients)
    code = cli_main.main(["correlate", "--results", str(out), "--outcomes", str(outcomes), "--lkb-roi", "Parotid_L",
                          "--time-column", "progression_months"])
    err = capsys.readouterr().err
    assert code == 1 and "--lkb-roi, --time-column: only used by the study report; add --study-report DIR" in err


def test_small_cohort_warns_everywhere_and_never_prints_a_negative_dose(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The issue's new-user run: 6 patients, 2 events, BrainStem doses near 0 Gy. Oracle: the
    documented rules (fewer than 10 events per parameter -> SMALL SAMPLE in the text, JSON and CSV;
    a dose interval never below 0 Gy, its truncation flagged)."""
    doses = [0.01, 0.03, 0.05, 0.08, 0.12, 0.14]
    grades = [0, 3, 0, 0, 3, 0]
    patients = {f"NPC{k + 1:03d}": {"dose": d, "noise": 20.0 + k, "grade": g} for k, (d, g) in enumerate(zip(doses, grades))}
    out = _write_results(tmp_path / "out", patients)
    outcomes = _write_outcomes(tmp_path / "outcomes.csv", patients)
    assoc = tmp_path / "assoc.csv"
    code = cli_main.main(["correlate", "--results", str(out), "--outcomes", str(outcomes), "--csv", str(assoc), "--roi", "PTV"])
    printed = capsys.readouterr().out
    assert code == 0 and "SMALL SAMPLE" in printed
    assert "[-" not in printed.split("value at 50%")[1]  # no negative interval end in the table
    with open(assoc, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows[0]["small_sample"] == "true" and rows[0]["x50_ci95_truncated"] == "true"
    assert float(rows[0]["x50_ci95_low"]) == 0.0
    code = cli_main.main(["correlate", "--results", str(out), "--outcomes", str(outcomes), "--json", "--roi", "PTV"])
    data = json.loads(capsys.readouterr().out)
    assert any("SMALL SAMPLE" in w for w in data["warnings"])
    assert data["associations"][0]["logistic"]["x50_ci95"][0] == 0.0


def test_sqlite_url_source_reads_without_writing(tmp_path: Path) -> None:
    """Oracle: the same file read as --results (tested above); the file's bytes before and after,
    and an absent file must not be created."""
    patients = _cohort()
    db = _write_sqlite(tmp_path / "out", patients)
    before = db.read_bytes()
    metrics = load_cohort_metrics(None, database_url=f"sqlite:///{db}")
    assert set(metrics.patient_ids) == set(patients) and metrics.source == f"sqlite:///{db}"
    assert db.read_bytes() == before
    with pytest.raises(InputFileError, match="no such SQLite file"):
        load_cohort_metrics(None, database_url=f"sqlite:///{tmp_path / 'absent.sqlite'}")
    assert not (tmp_path / "absent.sqlite").exists()
