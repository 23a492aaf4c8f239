"""Recovery models on a whole patient: per-organ models, the interval from the DICOM dates, the
results.json ``recovery`` section, the report table and the command-line options.

Oracle: the synthetic two-course patient of tests/test_constraints_check_cli.py with hand-computed
EQD2 (EQD2 = D (d + 2) / 4 at alpha/beta 2 Gy). Brain stem voxels: current 22 GyE / 22 fx (EQD2
16.5), prior 30 Gy / 30 fx (BED2 45 Gy). Chiasm voxels: current 44 GyE (EQD2 44), prior 60 Gy /
30 fx (BED2 120 Gy, above the Jones-Grant tolerance BED 90.63 Gy: no recovery credited).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import shutil
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import FileMetaDataset

import dosimetry
from dosimetry.cli import main as cli_main
from dosimetry.errors import ArgumentError, RadiobiologyError
from dosimetry.patient.schema import validate
from dosimetry.radiobiology.interval import course_dates, course_interval
from dosimetry.radiobiology.recovery import JonesGrant2014, RecoverySelection, example_step_table
from tests.test_constraints_check_cli import patient  # noqa: F401  (the synthetic two-course patient fixture)


def _jg_eqd2(prior_bed: float, months: float) -> float:
    """Jones & Grant by hand (cautious r, tolerance 52 Gy / 35 fx, alpha/beta 2), as EQD2 = BED / 2."""
    r = 1.5 + math.exp(1.2 * (min(months, 36.0) / 12.0 - 1.0))
    tol = 52.0 * (1.0 + 52.0 / 35.0 / 2.0)
    x = prior_bed / tol
    remaining = tol * (1.0 - (1.0 - x) ** (1.0 / (1.0 + r))) if 0 < x < 1 else prior_bed
    return remaining / 2.0


def test_per_organ_model_and_comparison(patient: Path) -> None:  # noqa: F811
    """Oracle: hand EQD2 (module docstring). The brain stem gets Jones-Grant at 12 months
    (16.5 + JG(45 Gy) = 24.57 Gy), the chiasm keeps the protocol's 0.3 (44 + 18 = 62 Gy); the
    comparison's uniform Jones-Grant column gives the chiasm 44 + 60 = 104 Gy (no recovery above
    the tolerance) and the shipped step table at 12 months 0.5: 44 + 30 = 74 Gy."""
    selection = RecoverySelection(
        per_organ=(("BrainStem", JonesGrant2014()),), alternatives=(JonesGrant2014(), example_step_table())
    )
    plan = dosimetry.load_patient(patient, recovery=selection, interval_months=12.0)
    results = plan.results()
    brainstem = 16.5 + _jg_eqd2(45.0, 12.0)
    assert brainstem == pytest.approx(24.57, abs=0.01)
    assert results.metric("Brain Stem", "EQD2_2_cumulative", "Max[Gy]") == pytest.approx(brainstem, abs=1e-3)
    assert results.metric("OpticChiasm", "EQD2_2_cumulative", "Max[Gy]") == pytest.approx(62.0, abs=1e-3)
    assert results.parameters.residual is None
    document = results.to_dict()
    validate(document)
    recovery = document["recovery"]
    assert recovery["interval"]["source"].startswith("--interval-months")
    assert {o["roi"]: o["key"] for o in recovery["organ_models"]}["Brain Stem"] == "BrainStem"
    columns = recovery["comparison"]["columns"]
    assert columns[0].startswith("protocol") and columns[1].startswith("this run") and len(columns) == 4
    rows = {(r["roi"], r["metric"]): r["values_gy"] for r in recovery["comparison"]["rows"]}
    chiasm = rows[("OpticChiasm", "D0.03cc[Gy]")]
    assert chiasm[0] == pytest.approx(62.0, abs=1e-3) and chiasm[2] == pytest.approx(104.0, abs=1e-3)
    assert chiasm[3] == pytest.approx(74.0, abs=1e-3)
    # The organ with its own model equals the uniform map of that model (a second path).
    assert rows[("Brain Stem", "D0.03cc[Gy]")][1] == pytest.approx(rows[("Brain Stem", "D0.03cc[Gy]")][2], abs=1e-9)
    assert "recovery: constant residual 0.3; BrainStem: Jones-Grant" in results.summary()


def test_interval_from_plan_dates_and_missing_dates(patient: Path, tmp_path: Path) -> None:  # noqa: F811
    """Oracle: the factory writes RTPlanDate 20260101 in both courses, so the interval is 0 months;
    with every date removed a time-dependent model stops with an error naming --interval-months."""
    plan = dosimetry.load_patient(patient, recovery=RecoverySelection(JonesGrant2014()))
    assert plan.patient_maps.interval is not None and plan.patient_maps.interval.months == 0.0
    assert "RTPlanDate" in plan.patient_maps.interval.source
    # Chiasm: BED 120 > tolerance, no recovery: 44 + 60 = 104 Gy.
    assert plan.results().metric("OpticChiasm", "EQD2_2_cumulative", "Max[Gy]") == pytest.approx(104.0, abs=1e-3)
    bare = tmp_path / "bare"
    shutil.copytree(patient, bare)
    for path in (bare / "prior").glob("*.dcm"):
        ds = pydicom.dcmread(path)
        for keyword in ("RTPlanDate", "ContentDate", "StudyDate", "InstanceCreationDate", "SeriesDate"):
            if keyword in ds:
                delattr(ds, keyword)
        ds.save_as(path)
    with pytest.raises(RadiobiologyError, match=r"prior course.*--interval-months"):
        dosimetry.load_patient(bare, recovery=RecoverySelection(JonesGrant2014()))
    assert dosimetry.load_patient(bare).patient_maps.interval is None  # the constant residual needs no date
    with pytest.raises(ArgumentError, match="not both"):
        dosimetry.load_patient(bare, residual=0.3, recovery=RecoverySelection())


def _record(folder: Path, day: str, name: str) -> None:
    ds = pydicom.Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.481.4"
    ds.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.Modality = "RTRECORD"
    ds.TreatmentDate = day
    ds.save_as(folder / name, enforce_file_format=True)


def test_interval_from_treatment_records(tmp_path: Path) -> None:
    """Oracle: calendar arithmetic. Prior records on 2023-01-02 and 2023-02-10 (last day), current
    plan dated 2024-02-10: 365 days = 365 / 30.4375 = 11.99 months, from the records."""
    prior, current = tmp_path / "prior", tmp_path / "current"
    prior.mkdir()
    current.mkdir()
    _record(prior, "20230102", "RT1.dcm")
    _record(prior, "20230210", "RT2.dcm")
    _record(current, "20240210", "RT3.dcm")
    prior_dates, current_dates = course_dates(prior, None, ()), course_dates(current, None, ())
    assert prior_dates is not None and prior_dates.end == dt.date(2023, 2, 10) and prior_dates.from_records
    interval = course_interval(prior_dates, current_dates)
    assert interval is not None and interval.months == pytest.approx(365 / 30.4375)
    assert "treatment records" in interval.source and "last treatment day" in interval.source
    assert course_interval(prior_dates, current_dates, override_months=20.0).months == 20.0  # type: ignore[union-attr]
    assert course_interval(None, current_dates) is None


def test_cli_options_and_protocol_file(patient: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    """Oracle: the same hand values through the command line (``check --json``) with the model from
    a protocol file, and ``--recovery`` overriding it."""
    protocol = tmp_path / "p.yaml"
    protocol.write_text(
        "recovery:\n  per_organ:\n    serial: jones-grant-2014\n  alternatives: [step]\n"
        "constraints:\n  BrainStem: 'D0.03cc[Gy] < 54'\n",
        encoding="utf-8",
    )
    code = cli_main.main(["check", str(patient), "--protocol", str(protocol), "--interval-months", "12", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 2  # the chiasm (serial, BED above the tolerance: 104 Gy) fails
    organs = {o["roi"]: o for o in data["organs"]}
    assert organs["Brain Stem"]["dose_summary"]["max_gy"] == pytest.approx(16.5 + _jg_eqd2(45.0, 12.0), abs=1e-3)
    assert organs["OpticChiasm"]["dose_summary"]["max_gy"] == pytest.approx(104.0, abs=1e-3)
    assert "serial: Jones-Grant" in data["parameters"]["recovery"]
    code = cli_main.main(["check", str(patient), "--recovery", "constant:0.5", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert {o["roi"]: o for o in data["organs"]}["OpticChiasm"]["dose_summary"]["max_gy"] == pytest.approx(74.0, abs=1e-3)
    assert cli_main.main(["check", str(patient), "--recovery", "nonsense"]) == 1
    assert "unknown recovery model" in capsys.readouterr().err


def test_accumulate_with_recovery(patient: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    """Oracle: hand EQD2 with the shipped step table at 12 months (residual 0.5): brain stem
    voxels 16.5 + 0.5 x 22.5 = 27.75 Gy, chiasm voxels 44 + 0.5 x 60 = 74 Gy; and the rule that a
    time-dependent model names where its interval came from."""
    out = tmp_path / "acc"
    args = ["accumulate", "--current", str(patient / "current"), "--prior", str(patient / "prior"), "--out", str(out),
            "--alpha-beta", "2", "--recovery", "step", "--interval-months", "12", "--json"]
    assert cli_main.main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["recovery"]["interval_source"].startswith("--interval-months")
    assert summary["recovery"]["models"][0]["kind"] == "step"
    ds = pydicom.dcmread(out / "RD_cumEQD2_ab2.dcm")
    dose = ds.pixel_array * float(ds.DoseGridScaling)
    assert float(dose.max()) == pytest.approx(74.0, abs=1e-3) and float(dose.min()) == pytest.approx(27.75, abs=1e-3)
    assert "prior[step]" in ds.SeriesDescription
    assert cli_main.main([*args[:-5], "--interval-months", "12", "--overwrite"]) == 1
    assert "--interval-months is used only with --recovery" in capsys.readouterr().err


def test_accumulate_jones_grant_clamp_warning(patient: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    """Oracle: Jones and Grant's range (0-3 years): at 48 months the model uses 36 (brain stem
    voxels 16.5 + the hand value at 36 months), and the clamp, which changes the number, reaches the
    JSON summary and the cumulative map's DICOM comments (it reached neither from accumulate)."""
    out = tmp_path / "acc"
    args = ["accumulate", "--current", str(patient / "current"), "--prior", str(patient / "prior"), "--out", str(out),
            "--alpha-beta", "2", "--recovery", "jones-grant-2014", "--interval-months", "48", "--json"]
    assert cli_main.main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert any("clamped" in w and "48.0 months" in w for w in summary["warnings"])
    ds = pydicom.dcmread(out / "RD_cumEQD2_ab2.dcm")
    assert "48.0 months clamped" in str(ds.ImageComments)
    dose = ds.pixel_array * float(ds.DoseGridScaling)
    assert float(dose.min()) == pytest.approx(16.5 + _jg_eqd2(45.0, 36.0), abs=1e-3)


def test_report_shows_the_side_by_side_table(patient: Path, tmp_path: Path) -> None:  # noqa: F811
    """Oracle: the same hand values (chiasm 62 Gy under the protocol's 0.3, 74 Gy under the step
    table's 0.5 at 12 months) appear in the report's re-irradiation section as in results.json."""
    plan = dosimetry.load_patient(patient, recovery=RecoverySelection(alternatives=(example_step_table(),)), interval_months=12.0)
    page = plan.report(tmp_path / "report.html").read_text(encoding="utf-8")
    assert "Re-irradiation: recovery of the prior course" in page
    assert "of each organ under each recovery model" in page
    assert "alternative: step residual" in page and "62.00" in page and "74.00" in page
    assert "ESTRO-EORTC" in page and "eligibility" in page


@pytest.mark.parametrize("given", ["six", None, -1.0, float("nan")])
def test_interval_override_must_be_months(given: object) -> None:
    """Oracle: the rule that a bad argument raises ArgumentError naming it (a string or None was a
    bare ValueError/TypeError from float())."""
    from dosimetry.radiobiology.interval import check_override_months

    with pytest.raises(ArgumentError, match="--interval-months must be a finite number of months"):
        check_override_months(given)  # type: ignore[arg-type]


def test_accumulate_uses_the_one_interval_lookup(patient: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    """Oracle: the rule that ``accumulate`` and the patient facade share one interval lookup
    (dosimetry.patient.recovery.resolve_interval): replacing it changes what accumulate reports."""
    import datetime as dt

    import dosimetry.patient.recovery as recovery_module
    from dosimetry.radiobiology.interval import CourseDates, CourseInterval

    day = CourseDates(dt.date(2020, 1, 1), dt.date(2020, 1, 1), "test")
    calls: list[float | None] = []

    def fake(current, prior, selection, override_months):  # type: ignore[no-untyped-def]
        calls.append(override_months)
        return CourseInterval(12.0, "the replaced lookup", day, day)

    monkeypatch.setattr(recovery_module, "resolve_interval", fake)
    args = ["accumulate", "--current", str(patient / "current"), "--prior", str(patient / "prior"), "--out", str(tmp_path / "acc"),
            "--alpha-beta", "2", "--recovery", "step", "--json"]
    assert cli_main.main(args) == 0
    assert calls == [None]
    assert json.loads(capsys.readouterr().out)["recovery"]["interval_source"] == "the replaced lookup"
