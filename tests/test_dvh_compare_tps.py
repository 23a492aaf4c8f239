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


def _shifted_planning_system(units: str, shift_gy: float) -> tuple[object, list[Roi], object]:
    """Our own DVH of the sphere copied as the "planning system's", its doses raised by
    ``shift_gy`` (a known, deliberate difference; its stored mean and max are left as ours), in CM3 or PERCENT (volumes scaled to 100)."""
    from dataclasses import replace

    from dosimetry.dvh.compute import compute_dvhs
    from dosimetry.io.dvh_sequence import DvhVolumeUnits, PlanningSystemDvh, PlanningSystemDvhs

    solid = make_solid("sphere")
    dose = solid.dose_grid(2.0, GradientAxis.Z)
    roi = solid.roi(3.0, 0.0)
    (outcome,) = compute_dvhs(dose, [roi])
    ours = outcome.dvh
    assert ours is not None
    width = float(ours.bin_edges_gy[1] - ours.bin_edges_gy[0])
    below = np.arange(round(shift_gy / width)) * width
    scale = 100.0 / ours.volume_cc if units == "PERCENT" else 1.0
    theirs = replace(
        ours,
        bin_edges_gy=np.concatenate([below, ours.bin_edges_gy + below.size * width]),
        cumulative_cc=scale * np.concatenate([np.full(below.size, ours.cumulative_cc[0]), ours.cumulative_cc]),
        volume_cc=scale * ours.volume_cc,
        volume_in_dose_grid_cc=scale * ours.volume_in_dose_grid_cc,
        end_cap=None,
        edge_mass_cc=None,
    )
    item = PlanningSystemDvh(1, roi.number, theirs, "CUMULATIVE", DvhVolumeUnits(units), "GY", None, None, None)
    return dose, [roi], PlanningSystemDvhs("test", (item,), ())


@pytest.mark.parametrize("metric", ["D50%[Gy]", "d50%[gy]", "D50%[cGy]"])
def test_dose_metric_judged_by_dose_tolerance_in_any_unit_spelling(metric: str) -> None:
    """Oracle: the planning system's curve is ours shifted by exactly 1 Gy (100 cGy), beyond the
    dose tolerance max(0.5 Gy, 2 % of D50% = 40 Gy: 0.8 Gy) but within the volume tolerance (5 % of
    the value) a dose metric must not be judged by, whatever the unit's spelling."""
    from dosimetry.dvh.planning_system import compare_with_planning_system

    dose, rois, ps = _shifted_planning_system("CM3", 1.0)
    (roi,) = compare_with_planning_system(dose, rois, ps, [metric]).rois  # type: ignore[arg-type]
    value = {v.quantity: v for v in roi.values}[metric]
    scale = 100.0 if "cgy" in metric.lower() else 1.0
    assert value.difference == pytest.approx(-1.0 * scale, abs=0.02 * scale)
    assert value.flagged


@pytest.mark.parametrize("metric", ["V30Gy[cc]", "V30Gy[CC]", "D0.03CC[Gy]"])
def test_percent_planning_system_dvh_never_gives_a_cc_metric(metric: str) -> None:
    """Oracle: DICOM PS3.3 C.8.8.4: a DVH in PERCENT has no absolute volume, so a cc metric of
    it does not exist; its curve holds percent (total 100), which read as cc would be a plausible
    wrong number. Upper-case CC is the same unit (the metric grammar is case-insensitive)."""
    from dosimetry.dvh.planning_system import compare_with_planning_system

    dose, rois, ps = _shifted_planning_system("PERCENT", 0.0)
    (roi,) = compare_with_planning_system(dose, rois, ps, [metric]).rois  # type: ignore[arg-type]
    value = {v.quantity: v for v in roi.values}[metric]
    assert value.planning_system is None and not value.flagged and "PERCENT" in value.note



def test_percent_volume_metric_judged_in_percentage_points() -> None:
    """Oracle: the closed-form slab of a sphere (radius 12 mm, 1 Gy/mm gradient) at its equator, dV/V = 3 dz / (4 r):
    the planning system's curve, ours shifted by 0.3 Gy, holds 100 x 3 x 0.3 / 48 = 1.9 percentage points more at
    V40Gy (about 50 %), beyond the documented V..[%] tolerance of 1 point; in the top cap (V50Gy, about 1.5 %) a
    0.1 Gy shift moves far less than 1 point. The cc tolerance read as percent (more than 0.05 *and* more than 5 %
    of the value) missed the first (5 % of 52 is 2.6) and flagged the second."""
    from dosimetry.dvh.planning_system import VOLUME_TOLERANCE_PERCENT, VOLUME_TOLERANCE_PERCENT_POINTS, compare_with_planning_system

    dose, rois, ps = _shifted_planning_system("CM3", 0.3)
    (roi,) = compare_with_planning_system(dose, rois, ps, ["V40Gy[%]"]).rois  # type: ignore[arg-type]
    (equator,) = [v for v in roi.values if v.quantity == "V40Gy[%]"]
    assert equator.difference is not None and equator.planning_system is not None
    assert -equator.difference == pytest.approx(100.0 * 3 * 0.3 / 48.0, rel=0.05)
    assert VOLUME_TOLERANCE_PERCENT_POINTS < -equator.difference < VOLUME_TOLERANCE_PERCENT / 100.0 * equator.planning_system
    assert equator.flagged

    dose, rois, ps = _shifted_planning_system("CM3", 0.1)
    (roi,) = compare_with_planning_system(dose, rois, ps, ["V50Gy[%]"]).rois  # type: ignore[arg-type]
    (cap,) = [v for v in roi.values if v.quantity == "V50Gy[%]"]
    assert cap.difference is not None and cap.planning_system is not None
    assert VOLUME_TOLERANCE_PERCENT / 100.0 * cap.planning_system < -cap.difference < VOLUME_TOLERANCE_PERCENT_POINTS
    assert not cap.flagged
