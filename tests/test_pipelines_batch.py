"""The batch runner: reliability with bad and hostile patients, resumability, killed runs, CLI."""

from __future__ import annotations

import hashlib
import io
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dosimetry.cli import main as cli_main
from dosimetry.errors import ArgumentError, OutputError
from pipelines.default_analysis import dvh_analysis
from pipelines.analysis import AnalysisParameters, PatientResult
from pipelines.batch import MANIFEST_NAME, PatientStatus, ProgressMode, one_line_reason, run_batch
from pipelines.csv_out import read_metrics_csv
from tests.pipelines_cohort import dying_analysis, header_analysis, uid, write_patient

REPO = Path(__file__).resolve().parents[1]
HOSTILE_IDS = ("../../x", "/etc/passwd", "a/b", "..")


def tree(base: Path, exclude: Path | None = None) -> dict[str, str]:
    """Every path under ``base`` (except ``exclude``) with the SHA-256 of files / 'dir' / 'link'."""
    result: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(base):
        here = Path(dirpath)
        if exclude is not None:
            dirnames[:] = [d for d in dirnames if (here / d) != exclude]
        for name in dirnames:
            result[(here / name).relative_to(base).as_posix()] = "dir"
        for name in filenames:
            path = here / name
            result[path.relative_to(base).as_posix()] = (
                "link" if path.is_symlink() else hashlib.sha256(path.read_bytes()).hexdigest()
            )
    return result


def make_cohort(root: Path, *, bad: bool = True, hostile: bool = True, valid: int = 2) -> None:
    for i in range(1, valid + 1):
        write_patient(root / f"valid{i}", patient_id=f"P0{i}", scale_gy=float(i))
    if bad:
        write_patient(root / "truncated", patient_id="B01", truncate_dose=True)
        write_patient(root / "no_structures", patient_id="B02", structure_set=False)
        write_patient(root / "other_frame", patient_id="B03", structure_frame_uid=uid("B03", "elsewhere"))
    if hostile:
        for i, pid in enumerate(HOSTILE_IDS):
            write_patient(root / f"hostile{i}", patient_id=pid, seed=f"hostile{i}")


def test_reliability_bad_and_hostile_patients(tmp_path: Path) -> None:
    root = tmp_path / "root"
    make_cohort(root)
    out = tmp_path / "a" / "out"  # OUT/patients/../../x would be tmp_path/a/x
    before = tree(tmp_path)
    summary = run_batch(root, out, analysis=dvh_analysis, workers=0, progress=ProgressMode.OFF)  # io + dvh

    by_id = {p.patient_id: p for p in summary.patients}
    assert summary.total == 9 and summary.failed == 3 and summary.succeeded == 6 and summary.exit_code == 1
    assert "3 failed" in summary.summary_line()
    for pid in ("P01", "P02", *HOSTILE_IDS):
        assert by_id[pid].status is PatientStatus.SUCCEEDED, by_id[pid]
    assert "truncated" in by_id["B01"].error
    assert "RT Structure Set" in by_id["B02"].error and "found 0" in by_id["B02"].error
    assert "FrameOfReferenceUID" in by_id["B03"].error
    for failure in summary.failures:
        assert "\n" not in failure.error and not failure.error.startswith("internal error")

    after = tree(tmp_path, exclude=out.resolve())
    assert after == {**before, "a": "dir"}  # nothing outside OUT was written, ROOT untouched
    out_resolved = out.resolve()
    for path in out.rglob("*"):
        assert path.resolve().is_relative_to(out_resolved)
    published = sorted(p.name for p in (out / "patients").iterdir())
    assert published == sorted(p.key for p in summary.patients if p.status is PatientStatus.SUCCEEDED)
    for name in published:
        assert (out / "patients" / name / MANIFEST_NAME).is_file()
        assert (out / "patients" / name / "dvh_metrics.csv").is_file()
    assert list((out / ".staging").iterdir()) == []

    rows = read_metrics_csv(out / "metrics.csv")
    assert {r["patient_id"] for r in rows} == {"P01", "P02", *HOSTILE_IDS}
    # a hand-checkable value: the dose is 30 + x Gy (x in mm) times the patient's scale; the
    # Brainstem box spans x = 3..9 mm, so its median is 36 Gy for P01 and 72 Gy for P02
    median = {r["patient_id"]: float(r["value"]) for r in rows if r["roi"] == "Brainstem" and r["metric"] == "D50%[Gy]"}
    assert median["P01"] == pytest.approx(36.0, abs=0.05) and median["P02"] == pytest.approx(72.0, abs=0.1)

    document = json.loads((out / "batch_summary.json").read_text())
    assert document["failed"] == 3 and len(document["patients"]) == 9


def test_process_pool_matches_in_process_run(tmp_path: Path) -> None:
    root = tmp_path / "root"
    make_cohort(root, bad=True, hostile=False)
    local = run_batch(root, tmp_path / "local", analysis=header_analysis, workers=0, progress=ProgressMode.OFF)
    pooled = run_batch(root, tmp_path / "pool", analysis=header_analysis, workers=2, progress=ProgressMode.OFF)
    assert [(p.key, p.status, p.error) for p in pooled.patients] == [(p.key, p.status, p.error) for p in local.patients]
    assert (tmp_path / "local" / "metrics.csv").read_bytes() == (tmp_path / "pool" / "metrics.csv").read_bytes()
    assert len({p.worker for p in pooled.patients}) >= 1 and all(p.peak_rss_mib > 10 for p in pooled.patients)


def test_rerun_skips_unchanged_and_reruns_changed_inputs_or_parameters(tmp_path: Path) -> None:
    root, out = tmp_path / "root", tmp_path / "out"
    make_cohort(root, bad=True, hostile=False, valid=3)
    first = run_batch(root, out, analysis=header_analysis, workers=0, progress=ProgressMode.OFF)
    assert (first.succeeded, first.skipped, first.failed) == (3, 0, 3)
    csv_before = (out / "metrics.csv").read_bytes()

    second = run_batch(root, out, analysis=header_analysis, workers=0, progress=ProgressMode.OFF)
    assert (second.succeeded, second.skipped, second.failed) == (0, 3, 3)
    assert (out / "metrics.csv").read_bytes() == csv_before

    write_patient(root / "valid2", patient_id="P02", scale_gy=5.0)  # new dose content
    third = run_batch(root, out, analysis=header_analysis, workers=0, progress=ProgressMode.OFF)
    assert {p.patient_id: p.status for p in third.patients if p.status is not PatientStatus.FAILED} == {
        "P01": PatientStatus.SKIPPED,
        "P02": PatientStatus.SUCCEEDED,
        "P03": PatientStatus.SKIPPED,
    }
    fourth = run_batch(
        root, out, analysis=header_analysis, parameters=AnalysisParameters(residual_fraction=0.5), workers=0, progress=ProgressMode.OFF
    )
    assert (fourth.succeeded, fourth.skipped) == (3, 0)
    scaled = {r["patient_id"]: float(r["value"]) for r in read_metrics_csv(out / "metrics.csv") if r["metric"] == "Scaled[Gy]"}
    maximum = {r["patient_id"]: float(r["value"]) for r in read_metrics_csv(out / "metrics.csv") if r["metric"] == "Max[Gy]"}
    assert scaled == {k: pytest.approx(0.5 * v) for k, v in maximum.items()}
    forced = run_batch(root, out, analysis=header_analysis, parameters=AnalysisParameters(residual_fraction=0.5), workers=0,
                       force=True, progress=ProgressMode.OFF)
    assert forced.succeeded == 3


def test_failed_patient_loses_stale_outputs_and_rows(tmp_path: Path) -> None:
    root, out = tmp_path / "root", tmp_path / "out"
    make_cohort(root, bad=False, hostile=False, valid=2)
    run_batch(root, out, analysis=header_analysis, workers=0, progress=ProgressMode.OFF)
    (root / "valid1" / "RS.dcm").unlink()
    summary = run_batch(root, out, analysis=header_analysis, workers=0, progress=ProgressMode.OFF)
    assert summary.failed == 1 and not (out / "patients" / "P01").exists()
    assert {r["patient_id"] for r in read_metrics_csv(out / "metrics.csv")} == {"P02"}
    with sqlite3.connect(out / "cohort.sqlite") as db:
        assert db.execute("SELECT status, error FROM patients WHERE patient_key = 'P01'").fetchone() == (
            "failed",
            "patient 'P01': no RT Structure Set",
        )


def _db_counts(db_path: Path) -> dict[str, int]:
    with sqlite3.connect(db_path) as db:
        return {t: db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("patients", "metrics", "input_files")}


def test_run_killed_midway_leaves_no_half_outputs_and_no_duplicates(tmp_path: Path) -> None:
    root, out = tmp_path / "root", tmp_path / "out"
    make_cohort(root, bad=False, hostile=False, valid=5)
    code = textwrap.dedent(
        f"""
        from pathlib import Path
        from pipelines.batch import run_batch, ProgressMode
        from tests.pipelines_cohort import dying_analysis
        run_batch(Path({str(root)!r}), Path({str(out)!r}), analysis=dying_analysis, workers=0, progress=ProgressMode.OFF)
        """
    )
    env = {**os.environ, "PIPELINES_TEST_DIE_ON": "P03"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, check=False, capture_output=True, text=True)
    assert proc.returncode == 17, proc.stderr
    # P01 and P02 are complete, P03's half-written outputs never became visible
    assert sorted(p.name for p in (out / "patients").iterdir()) == ["P01", "P02"]
    assert len(list((out / ".staging").iterdir())) == 1
    assert not (out / "metrics.csv").exists()
    with sqlite3.connect(out / "cohort.sqlite") as db:
        assert db.execute("SELECT status FROM runs").fetchall() == [("running",)]

    summary = run_batch(root, out, analysis=header_analysis, workers=0, progress=ProgressMode.OFF)
    assert (summary.succeeded, summary.skipped, summary.failed) == (3, 2, 0)
    assert list((out / ".staging").iterdir()) == []
    assert not any(p.name == "partial.txt" for p in (out / "patients" / "P03").iterdir())
    counts = _db_counts(out / "cohort.sqlite")
    assert counts == {"patients": 5, "metrics": 10, "input_files": 10}
    assert len(read_metrics_csv(out / "metrics.csv")) == 10
    with sqlite3.connect(out / "cohort.sqlite") as db:
        statuses = [s for (s,) in db.execute("SELECT status FROM runs ORDER BY started_utc")]
    assert statuses == ["interrupted", "completed"]

    # a run killed after publishing but before its database writes: the rerun rebuilds the rows
    (out / "cohort.sqlite").unlink()
    again = run_batch(root, out, analysis=header_analysis, workers=0, progress=ProgressMode.OFF)
    assert again.skipped == 5 and _db_counts(out / "cohort.sqlite") == counts


def test_keyboard_interrupt_marks_run_interrupted(tmp_path: Path) -> None:
    root, out = tmp_path / "root", tmp_path / "out"
    make_cohort(root, bad=False, hostile=False, valid=2)

    def stop(outcome: object) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_batch(root, out, analysis=header_analysis, workers=0, progress=ProgressMode.OFF, on_outcome=stop)
    with sqlite3.connect(out / "cohort.sqlite") as db:
        assert db.execute("SELECT status FROM runs").fetchall() == [("interrupted",)]
    summary = run_batch(root, out, analysis=header_analysis, workers=0, progress=ProgressMode.OFF)
    assert (summary.succeeded, summary.skipped) == (1, 1)


def test_worker_process_death_fails_only_its_patient(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root, out = tmp_path / "root", tmp_path / "out"
    make_cohort(root, bad=False, hostile=False, valid=3)
    monkeypatch.setenv("PIPELINES_TEST_DIE_ON", "P02")
    summary = run_batch(root, out, analysis=dying_analysis, workers=2, progress=ProgressMode.OFF)
    status = {p.patient_id: (p.status, p.error) for p in summary.patients}
    assert status["P01"] == (PatientStatus.SUCCEEDED, None) and status["P03"] == (PatientStatus.SUCCEEDED, None)
    assert status["P02"][0] is PatientStatus.FAILED and status["P02"][1].startswith("worker process died")
    assert sorted(p.name for p in (out / "patients").iterdir()) == ["P01", "P03"]


def _raises_plain(inputs: object, parameters: object, out_dir: Path) -> PatientResult:
    raise ZeroDivisionError("float division by zero\nsecond line")


def test_unexpected_exception_is_an_internal_error_line(tmp_path: Path) -> None:
    make_cohort(tmp_path / "root", bad=False, hostile=False, valid=1)
    summary = run_batch(tmp_path / "root", tmp_path / "out", analysis=_raises_plain, workers=0, progress=ProgressMode.OFF)
    assert summary.patients[0].error == "internal error: ZeroDivisionError: float division by zero second line"
    assert one_line_reason(SystemExit(3)) == "internal error: SystemExit: 3"


def test_unpicklable_analysis_is_refused_for_worker_processes(tmp_path: Path) -> None:
    make_cohort(tmp_path / "root", bad=False, hostile=False, valid=1)
    with pytest.raises(ArgumentError, match="cannot be sent to worker processes"):
        run_batch(tmp_path / "root", tmp_path / "out", analysis=lambda i, p, o: None, workers=1)  # type: ignore[arg-type,return-value]


def test_second_batch_on_same_out_is_refused(tmp_path: Path) -> None:
    make_cohort(tmp_path / "root", bad=False, hostile=False, valid=1)
    out = tmp_path / "out"

    def nested(outcome: object) -> None:
        run_batch(tmp_path / "root", out, analysis=header_analysis, workers=0, progress=ProgressMode.OFF)

    with pytest.raises(OutputError, match="another batch"):
        run_batch(tmp_path / "root", out, analysis=header_analysis, workers=0, progress=ProgressMode.OFF, on_outcome=nested)


def test_progress_lines_and_bar(tmp_path: Path) -> None:
    make_cohort(tmp_path / "root", bad=True, hostile=False, valid=1)
    stream = io.StringIO()
    run_batch(tmp_path / "root", tmp_path / "out", analysis=header_analysis, workers=0, progress=ProgressMode.AUTO, progress_stream=stream)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 4 and lines[-1].startswith("batch: 4/4 (1 succeeded, 0 skipped, 3 failed)")
    bar = io.StringIO()
    run_batch(tmp_path / "root", tmp_path / "out2", analysis=header_analysis, workers=0, progress=ProgressMode.BAR, progress_stream=bar)
    assert "4/4" in bar.getvalue() and "patient" in bar.getvalue()


def test_cli_exit_codes_and_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "root"
    make_cohort(root, bad=False, hostile=False, valid=1)
    args = ["batch", str(root), "--out", str(tmp_path / "out"), "--workers", "0", "--progress", "off",
            "--analysis", "tests.pipelines_cohort:header_analysis"]
    assert cli_main.main(args) == 0
    assert "1 patients: 1 analysed, 0 unchanged (skipped), 0 failed" in capsys.readouterr().out
    write_patient(root / "broken", patient_id="B02", structure_set=False)
    assert cli_main.main([*args, "--json"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["failed"] == 1 and document["skipped"] == 1
    assert cli_main.main([*args, "--residual", "1.5"]) == 1
    assert "residual fraction must be within [0, 1]" in capsys.readouterr().err
    assert cli_main.main([*args[:-1], "nowhere:nothing"]) == 1
    assert "cannot import module" in capsys.readouterr().err


def test_result_refused_by_the_database_fails_only_that_patient(tmp_path: Path) -> None:
    from tests.pipelines_cohort import unstorable_analysis

    make_cohort(tmp_path / "root", bad=False, hostile=False, valid=3)
    out = tmp_path / "out"
    summary = run_batch(tmp_path / "root", out, analysis=unstorable_analysis, workers=0, progress=ProgressMode.OFF)
    status = {p.patient_id: (p.status, p.error) for p in summary.patients}
    assert status["P02"][0] is PatientStatus.FAILED
    assert status["P02"][1].startswith("cannot store the results in the cohort database: NOT NULL constraint failed")
    assert (summary.succeeded, summary.failed) == (2, 1)
    assert sorted(p.name for p in (out / "patients").iterdir()) == ["P01", "P03"]
    assert {r["patient_id"] for r in read_metrics_csv(out / "metrics.csv")} == {"P01", "P03"}


def test_damaged_published_output_is_analysed_again(tmp_path: Path) -> None:
    root, out = tmp_path / "root", tmp_path / "out"
    make_cohort(root, bad=False, hostile=False, valid=3)
    run_batch(root, out, analysis=header_analysis, workers=0, progress=ProgressMode.OFF)
    (out / "patients" / "P01" / "summary.json").unlink()  # a listed output is gone
    manifest = out / "patients" / "P02" / MANIFEST_NAME
    document = json.loads(manifest.read_text())
    document["result"] = {"metrics": "garbage"}
    manifest.write_text(json.dumps(document))  # the stored result no longer parses
    summary = run_batch(root, out, analysis=header_analysis, workers=0, progress=ProgressMode.OFF)
    assert {p.patient_id: p.status for p in summary.patients} == {
        "P01": PatientStatus.SUCCEEDED,
        "P02": PatientStatus.SUCCEEDED,
        "P03": PatientStatus.SKIPPED,
    }
    assert (out / "patients" / "P01" / "summary.json").is_file()


def test_output_folder_inside_root_is_not_taken_as_input(tmp_path: Path) -> None:
    root = tmp_path / "root"
    make_cohort(root, bad=False, hostile=False, valid=2)
    out = root / "results"
    first = run_batch(root, out, analysis=header_analysis, workers=0, progress=ProgressMode.OFF)
    write_patient(out / "patients" / "P01" / "copy", patient_id="P99")  # DICOM written into OUT
    second = run_batch(root, out, analysis=header_analysis, workers=0, progress=ProgressMode.OFF)
    assert first.total == second.total == 2 and second.skipped == 2


def test_output_folder_that_is_root_or_cannot_be_created_is_one_line_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "root"
    make_cohort(root, bad=False, hostile=False, valid=1)
    before = tree(tmp_path)
    common = ["--workers", "0", "--progress", "off", "--analysis", "tests.pipelines_cohort:header_analysis"]
    # OUT == ROOT: the next run would take OUT/patients/*/ for patients.
    assert cli_main.main(["batch", str(root), "--out", str(root), *common]) == 1
    err = capsys.readouterr().err
    assert err.startswith("dosimetry: error: --out") and "is the batch root" in err and err.count("\n") == 1
    # An OUT that cannot be created (its parent is a file): an output error, not an internal error.
    (tmp_path / "file").write_text("x", encoding="utf-8")
    before["file"] = tree(tmp_path)["file"]
    assert cli_main.main(["batch", str(root), "--out", str(tmp_path / "file" / "out"), *common]) == 1
    err = capsys.readouterr().err
    assert err.startswith("dosimetry: error: cannot create the output folder --out") and err.count("\n") == 1
    assert tree(tmp_path) == before  # nothing written
