"""The planning system's DVHs in ``analyze``'s results (results.json ``planning_system``,
warnings) and report section; the convention spread of every constraint row.

Oracle: a planning system that agrees with us by construction for one ROI (its DVH Sequence item
is our own half-slab DVH of the sample patient's BrainStem, written in cGy/cc) and disagrees by a
known 25 % in volume for another (the OpticChiasm item scaled by 1.25): the first must not be
flagged, the second must be, in results.json, in the warnings and in the report section.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

import dosimetry
from dosimetry.dvh import compute_dvh
from dosimetry.quantities import DoseBasis
from dosimetry.io import load_dose, load_structure_set
from dosimetry.patient.schema import validate
from dosimetry.dvh import EndCapConvention, evaluate_metric
from dosimetry.report.planning_system import convention_sensitivity_section, planning_system_section

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "patient01"


def item(roi_number: int, edges_gy: np.ndarray, cumulative_cc: np.ndarray, mean_gy: float, max_gy: float) -> Dataset:
    ds = Dataset()
    ref = Dataset()
    ref.ReferencedROINumber = roi_number
    ds.DVHReferencedROISequence = Sequence([ref])
    ds.DVHType = "CUMULATIVE"
    ds.DoseUnits = "CGY"
    ds.DoseType = "PHYSICAL"
    ds.DVHDoseScaling = 1.0
    ds.DVHVolumeUnits = "CM3"
    ds.DVHNumberOfBins = edges_gy.size - 1
    widths = 100.0 * np.diff(edges_gy)
    ds.DVHData = [round(float(v), 6) for pair in zip(widths, cumulative_cc[:-1], strict=True) for v in pair]
    ds.DVHMeanDose = round(100 * mean_gy, 4)
    ds.DVHMaximumDose = round(100 * max_gy, 4)
    return ds


@pytest.fixture(scope="module")
def patient_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("ps") / "patient01"
    shutil.copytree(SAMPLE, target)
    rd_path = next((target / "current").glob("RD*.dcm"))
    rs_path = next((target / "current").glob("RS*.dcm"))
    dose = load_dose(rd_path)
    rois = {r.name: r for r in load_structure_set(rs_path).rois}
    items = []
    for name, scale in (("BrainStem", 1.0), ("OpticChiasm", 1.25)):
        dvh = compute_dvh(dose, rois[name], bin_width_gy=0.1)
        items.append(item(rois[name].number, dvh.bin_edges_gy, scale * dvh.cumulative_cc, dvh.mean_gy, dvh.max_gy))
    ds = pydicom.dcmread(rd_path)
    ds.DVHSequence = Sequence(items)
    ds.save_as(rd_path)
    return target


def test_results_and_report_show_the_planning_system(patient_dir: Path) -> None:
    results = dosimetry.load_patient(patient_dir).results()
    document = results.to_dict()
    validate(document)
    rows = {(r["roi"], r["quantity"]): r for r in document["planning_system"]}
    brainstem = rows[("BrainStem", "volume_cc")]
    assert abs(brainstem["difference"]) < 1e-3 * brainstem["planning_system"] and not brainstem["flagged"]
    assert abs(rows[("BrainStem", "Mean[Gy]")]["difference"]) < 0.01
    chiasm = rows[("OpticChiasm", "volume_cc")]
    assert chiasm["flagged"] and chiasm["planning_system"] == pytest.approx(1.25 * chiasm["ours"], rel=1e-3)
    assert any("OpticChiasm" in w and "beyond tolerance" in w for w in results.warnings)
    assert not any("BrainStem" in w and "beyond tolerance" in w for w in results.warnings)
    section = planning_system_section(document)
    assert section is not None and section.section_id == "planning-system"
    assert planning_system_section({"planning_system": []}) is None


def test_constraint_rows_carry_their_convention_spread(patient_dir: Path) -> None:
    """Oracle: the spread of a constraint row is max - min of its metric recomputed here under
    each convention on the same map (dosimetry.dvh.compute_dvh per convention); a row is flagged
    exactly when that exceeds 1 Gy, and then a warning names it."""
    patient = dosimetry.load_patient(patient_dir)
    results = patient.results()
    document = results.to_dict()
    validate(document)
    rows = [r for r in document["constraints"]["rows"] if r["convention_spread_gy"] is not None]
    assert rows
    row = next(r for r in rows if r["roi"] == "OpticChiasm" and r["metric"] == "Max[Gy]")
    dose = patient.patient_maps.constraint_maps()[DoseBasis(row["quantity"])]()
    roi = next(r for r in load_structure_set(next((patient_dir / "current").glob("RS*.dcm"))).rois if r.name == "OpticChiasm")
    values = [evaluate_metric(compute_dvh(dose, roi, end_cap=c), "Max[Gy]") for c in EndCapConvention]
    assert row["convention_spread_gy"] == pytest.approx(max(values) - min(values), abs=0.02)
    for r in rows:
        assert r["convention_sensitive"] == (r["convention_spread_gy"] > 1.0)
        if r["convention_sensitive"]:
            assert any(r["roi"] in w and "end-cap conventions" in w for w in results.warnings)
    assert convention_sensitivity_section(document) is not None
