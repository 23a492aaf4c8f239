"""``pipelines.default_analysis.dvh_analysis`` on the sample patient's current course: the BED/EQD2
metrics against the hand LQ formula, and their names follow the alpha/beta used."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipelines.analysis import AnalysisParameters
from pipelines.default_analysis import dvh_analysis
from pipelines.discovery import discover_patients

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "patient01"
FRACTIONS = 22  # the sample's RT Ion Plan: 2.5 GyE x 22


def test_bed_and_eqd2_metrics_are_named_for_the_alpha_beta_used(tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(SAMPLE / "current", root / "patient01" / "current")
    (patient,) = discover_patients(root).patients
    out = tmp_path / "out"
    out.mkdir()
    result = dvh_analysis(patient, AnalysisParameters(alpha_beta_late_gy=3.0, alpha_beta_tumour_gy=10.0), out)
    metrics = {(m.roi, m.quantity, m.metric): m.value for m in result.metrics}
    assert {q for _, q, _ in metrics} == {"rbe_weighted", "BED3", "BED10", "EQD2"}
    # Voxel LQ is monotone in dose, so the maximum of a target's BED map is the hand formula
    # BED = D (1 + D / (n a/b)) of its (nearly uniform) dose maximum, within the DVH sampling spread.
    for roi in ("GTV", "PTV"):
        d = metrics[(roi, "rbe_weighted", "Max[Gy]")]
        for ab in (3.0, 10.0):
            assert metrics[(roi, f"BED{ab:g}", "Max[Gy]")] == pytest.approx(d * (1 + d / (FRACTIONS * ab)), rel=5e-3)
    # EQD2 = BED / (1 + 2 / (a/b)) voxel by voxel (a linear scaling that the sample-based Max, Mean and Min keep): the tumour a/b for
    # targets, the late a/b for organs.
    for roi, ab in (("PTV", 10.0), ("GTV", 10.0), ("BrainStem", 3.0), ("Parotid_L", 3.0)):
        for metric in ("Max[Gy]", "Mean[Gy]", "Min[Gy]"):  # from the samples, not the bins
            bed = metrics[(roi, f"BED{ab:g}", metric)]
            assert metrics[(roi, "EQD2", metric)] == pytest.approx(bed / (1 + 2.0 / ab), rel=1e-6), (roi, metric)
