"""The sample-data generator: byte-for-byte determinism, the committed patient in sync with the
generator, the cohort command and the documented outcome model."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
from pathlib import Path

import numpy as np
import pydicom
import pytest

from dosimetry.cli.main import main
from dosimetry.errors import OutputError
from dosimetry.sampledata.cohort import cohort_patient_spec, dose_level_of
from dosimetry.sampledata.outcomes import (
    CSV_COLUMNS,
    draw_outcome,
    probability_grade3plus,
    probability_progression,
)
from dosimetry.sampledata.patient import generate_patient, reference_patient_spec
from dosimetry.sampledata.uids import UidFactory

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "sample_data" / "patient01"


def _hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_committed_patient_is_what_the_generator_writes(tmp_path: Path) -> None:
    """Any generator change must be followed by `dosimetry sample-data` (regenerates patient01)."""
    generate_patient(reference_patient_spec(), tmp_path)
    assert _hashes(tmp_path / "patient01") == _hashes(COMMITTED)


@pytest.fixture(scope="module")
def cohort_twice(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A two-patient cohort, and the first patient of the same cohort generated again."""
    a = tmp_path_factory.mktemp("cohort_a")
    b = tmp_path_factory.mktemp("cohort_b")
    assert main(["sample-data", "--patients", "2", "--out", str(a), "--seed", "11"]) == 0
    assert main(["sample-data", "--patients", "1", "--out", str(b), "--seed", "11"]) == 0
    return a, b


def test_same_seed_same_bytes(cohort_twice: tuple[Path, Path]) -> None:
    a, b = cohort_twice
    hashes_a = _hashes(a)
    assert len(hashes_a) == 1 + 2 * (2 * 49 + 7)
    hashes_b = _hashes(b)
    assert {k: v for k, v in hashes_a.items() if k.startswith("NPC001")} == {
        k: v for k, v in hashes_b.items() if k.startswith("NPC001")
    }
    lines_a = (a / "outcomes.csv").read_text().splitlines()
    lines_b = (b / "outcomes.csv").read_text().splitlines()
    assert lines_b == lines_a[:2]


def test_cohort_layout_outcomes_and_variation(cohort_twice: tuple[Path, Path]) -> None:
    a, _ = cohort_twice
    with (a / "outcomes.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [r["patient_id"] for r in rows] == ["NPC001", "NPC002"]
    assert [int(r["dose_level"]) for r in rows] == [2, 3]
    for row in rows:
        assert 0 <= int(row["worst_toxicity_grade"]) <= 5
        assert (row["ctcae_term"] == "") == (row["worst_toxicity_grade"] == "0")
        assert row["vital_status"] in ("alive", "dead")
        assert row["local_progression"] in ("0", "1")
        start = dt.date.fromisoformat(row["treatment_start_date"])
        if row["toxicity_date"]:
            months = (dt.date.fromisoformat(row["toxicity_date"]) - start).days / 30.4375
            assert 2.9 <= months <= float(row["followup_months"]) + 0.1
        folder = a / row["patient_id"]
        plan = pydicom.dcmread(next((folder / "current").glob("RI_*.dcm")))
        assert plan.FractionGroupSequence[0].NumberOfFractionsPlanned == int(row["fractions"])
        assert float(plan.DoseReferenceSequence[0].TargetPrescriptionDose) == float(row["total_dose_gye"])
        assert {p.name for p in folder.iterdir()} == {"current", "prior"}
    # anatomy varies between patients
    eyes = []
    for row in rows:
        ct = pydicom.dcmread(a / row["patient_id"] / "current" / "CT_025.dcm")
        eyes.append(ct.pixel_array.astype(np.int64))
    assert np.mean(np.abs(eyes[0] - eyes[1]) > 200) > 0.01


def test_another_seed_gives_other_patients() -> None:
    a = cohort_patient_spec(11, 1)
    b = cohort_patient_spec(12, 1)
    assert a.anatomy != b.anatomy and a.prior_to_current_translation_mm != b.prior_to_current_translation_mm
    assert UidFactory(11, "NPC001").uid("current", "rtdose") != UidFactory(12, "NPC001").uid("current", "rtdose")
    assert cohort_patient_spec(11, 1) == a


def test_existing_patient_is_not_overwritten_silently(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "patient01"
    (folder / "current").mkdir(parents=True)
    with pytest.raises(OutputError, match="exists"):
        generate_patient(reference_patient_spec(), tmp_path)
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match="notes.txt"):
        generate_patient(reference_patient_spec(), tmp_path, overwrite=True)
    assert (folder / "notes.txt").read_text() == "mine"
    assert main(["sample-data", "--out", str(tmp_path)]) == 1
    assert "notes.txt" in capsys.readouterr().err
    assert (folder / "notes.txt").read_text() == "mine"


def test_cli_rejects_bad_patient_count(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sample-data", "--patients", "0", "--out", str(tmp_path)]) == 1
    assert "--patients" in capsys.readouterr().err
    assert main(["sample-data", "--patients", "2"]) == 1
    assert "--out" in capsys.readouterr().err


def test_dose_levels_cycle_from_the_starting_level() -> None:
    assert [dose_level_of(k) for k in range(1, 8)] == [2, 3, 4, 5, 6, 1, 2]


def test_ntcp_model_is_anchored_to_the_protocol_pdlt() -> None:
    # Protocol Table 1: pDLT < 5 % at 52.5 GyE (level 1) and 50 % at 65 GyE (level 6).
    assert probability_grade3plus(52.5, 40.0) == pytest.approx(0.05, abs=0.001)
    assert probability_grade3plus(65.0, 40.0) == pytest.approx(0.50, abs=0.001)
    assert probability_grade3plus(60.0, 60.0) > probability_grade3plus(60.0, 30.0)
    assert probability_progression(65.0, 10.0) < probability_progression(52.5, 10.0)


def test_drawn_outcomes_carry_the_model_signal() -> None:
    """Severe-toxicity rates of many drawn patients match the model within binomial error."""
    start = dt.date(2022, 1, 1)
    n = 400
    for total, expected in ((52.5, probability_grade3plus(52.5, 40.0)), (65.0, probability_grade3plus(65.0, 40.0))):
        severe = 0
        for i in range(n):
            o = draw_outcome(
                seed=3,
                patient_id=f"X{total}-{i}",
                dose_level=1,
                fractions=21,
                total_dose_gye=total,
                gtv_volume_cc=10.0,
                ptv_volume_cc=40.0,
                treatment_start_date=start,
            )
            severe += o.worst_toxicity_grade >= 3
            if o.worst_toxicity_grade == 5:
                assert o.vital_status == "dead"
        sd = np.sqrt(expected * (1 - expected) / n)
        assert abs(severe / n - expected) < 4 * sd + 1e-9
