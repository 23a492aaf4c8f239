"""``dosimetry dvh --compare-tps``: ours against the planning system's DVH Sequence, ROI by ROI.

Oracle: the "planning system" here is the true solid itself -- a 24 mm sphere in a 1 Gy/mm SI
gradient, whose cumulative DVH (closed form by quadrature, dosimetry.dvh.true_solids) is written
into the RT Dose's DVH Sequence in cGy and cc. A second item claims 30 % more volume for a copy of
the sphere (a known, deliberate difference that must be flagged), a third is malformed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from benchmarks.phantoms import write_case
from dosimetry.cli.main import main
from dosimetry.dvh.phantoms import GradientAxis
from dosimetry.dvh.true_solids import make_solid
from dosimetry.structures import Roi


def dvh_item(roi: int, doses_gy: np.ndarray, volumes_cc: np.ndarray, mean_gy: float, max_gy: float) -> Dataset:
    ds = Dataset()
    ref = Dataset()
    ref.ReferencedROINumber = roi
    ds.DVHReferencedROISequence = Sequence([ref])
    ds.DVHType = "CUMULATIVE"
    ds.DoseUnits = "CGY"
    ds.DoseType = "PHYSICAL"
    ds.DVHDoseScaling = 1.0
    ds.DVHVolumeUnits = "CM3"
    ds.DVHNumberOfBins = doses_gy.size
    widths_cgy = np.full(doses_gy.size, 100.0 * (doses_gy[1] - doses_gy[0]))
    ds.DVHData = [round(float(v), 6) for pair in zip(widths_cgy, volumes_cc, strict=True) for v in pair]
    ds.DVHMeanDose = round(100.0 * mean_gy, 4)
    ds.DVHMaximumDose = round(100.0 * max_gy, 4)
    return ds


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    solid = make_solid("sphere")
    axis = GradientAxis.Z
    dose = solid.dose_grid(2.0, axis)
    roi = solid.roi(3.0, 0.0)
    copy = Roi(2, "sphere copy", "ORGAN", roi.contours)
    rd, rs = write_case(dose, [roi, copy], tmp_path_factory.mktemp("tps"), seed="tps")
    doses = np.arange(0.0, 52.0, 0.1)
    volumes = np.array([solid.volume_at_or_above_cc(d, axis, 1.0, 40.0) if d > 28.0 else solid.volume_cc() for d in doses])
    mean = solid.mean_gy(axis, 1.0, 40.0)
    ds = pydicom.dcmread(rd)
    bad = dvh_item(3, doses, volumes, mean, 52.0)
    bad.DVHNumberOfBins = 7
    ds.DVHSequence = Sequence([dvh_item(1, doses, volumes, mean, 52.0), dvh_item(2, doses, 1.3 * volumes, mean, 52.0), bad])
    ds.save_as(rd)
    return rd, rs


def test_compare_tps_against_the_true_solid(case: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    """The shape convention is closest to the true volume; a 30 % larger planning-system volume
    is flagged beyond tolerance; the malformed item is a warning naming it, not a failure."""
    rd, rs = case
    code = main([
        "dvh", "--dose", str(rd), "--structures", str(rs), "--end-cap", "shape", "--metric", "D95%[Gy]",
        "--metric", "D0.03cc[Gy]", "--compare-tps", "--json", "-",
    ])
    assert code == 0
    comparison = json.loads(capsys.readouterr().out)["planning_system_comparison"]
    sphere, copy = comparison["rois"]
    values = {v["quantity"]: v for v in sphere["values"]}
    assert abs(values["volume_cc"]["difference"]) < 0.01 * values["volume_cc"]["planning_system"]
    assert not sphere["flagged"]
    assert abs(values["Mean[Gy]"]["difference"]) < 0.05
    assert abs(values["D95%[Gy]"]["difference"]) < 0.24  # 1 % of the 24 Gy span
    assert sphere["best_convention"] == "shape"
    copy_volume = {v["quantity"]: v for v in copy["values"]}["volume_cc"]
    assert copy_volume["flagged"] and copy["flagged"]
    assert len(comparison["warnings"]) == 1 and "item 3 (ROI 3)" in comparison["warnings"][0]
    assert comparison["unmatched_items"] == []


def test_compare_tps_table(case: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    """Oracle: the same comparison printed (flag and closest convention shown per ROI)."""
    rd, rs = case
    assert main(["dvh", "--dose", str(rd), "--structures", str(rs), "--compare-tps", "--metric", "Mean[Gy]"]) == 0
    out = capsys.readouterr().out
    assert "BEYOND TOLERANCE" in out and "closest: shape" in out and "DVH Sequence item 3" in out
