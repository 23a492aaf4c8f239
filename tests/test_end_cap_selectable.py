"""The end-cap convention is selectable everywhere (issue 13): ``load_patient(end_cap=...)``,
``dosimetry analyze|check --end-cap``, and every step of the analysis uses it.

Oracles (none of them the DVH engine):

* the true solid (:mod:`dosimetry.dvh.true_solids`: a 12 mm sphere, its volume by quadrature over
  its exact sections, never the contours) for the shape model, within the engine's documented
  accuracy (README, "Between and beyond the contour planes": within 1 % for a sphere on 3+ planes);
* the shoelace areas of the contours written to the RT Structure Set times the contour spacing,
  computed here from the polygons, for the half-slab (each plane a slab one spacing thick) and
  truncated (the outermost planes' slabs halved) definitions of :mod:`dosimetry.dvh.endcaps`;
* ``dosimetry dvh --end-cap``, a second path through the code (the DVH command computes the DVHs
  itself, without the facade), for the numbers ``analyze`` writes.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

import dosimetry
from dosimetry.cli import main as cli_main
from dosimetry.dvh.endcaps import DEFAULT_END_CAP, EndCapConvention
from dosimetry.dvh.true_solids import make_solid
from dosimetry.errors import ArgumentError
from tests import dicom_factory as f

SPACING_MM = 3.0
ROI_NAME = "BrainStem"  # an organ at risk: it gets checks, the late-EQD2 maps and the constraint rows


def _shoelace_mm2(points: np.ndarray) -> float:
    x, y = points[:, 0], points[:, 1]
    return float(0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


@pytest.fixture(scope="module")
def sphere_patient(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[np.ndarray]]:
    """A current course alone: a 12 mm sphere (contoured every 3 mm, poles tangent to the outer
    planes' neighbours) in a linear dose, on a 2 mm grid covering it with margin."""
    folder = tmp_path_factory.mktemp("endcap") / "current"
    folder.mkdir()
    solid = make_solid("sphere")
    roi = solid.roi(SPACING_MM)
    contours = [np.asarray(c.points_mm, dtype=np.float64) for c in roi.closed_planar_contours]
    plan_uid = f.uid("endcap-plan")
    f.make_rt_ion_plan(folder, fractions=22, dose_per_fraction_gy=2.5, sop_instance_uid=plan_uid)
    f.make_rt_dose(
        folder, shape_frc=(19, 19, 19), position_mm=(-18.0, -18.0, -18.0), pixel_spacing_mm=(2.0, 2.0),
        offsets_mm=[2.0 * k for k in range(19)], dose_type="EFFECTIVE", referenced_plan_uid=plan_uid, seed="endcap-dose",
    )
    spec = f.RoiSpec(1, ROI_NAME, "ORGAN", tuple(("CLOSED_PLANAR", c) for c in contours))
    f.make_rt_struct(folder, rois=[spec], seed="endcap-struct")
    return folder, contours


def _volume_cc(patient: dosimetry.Patient) -> float:
    return patient.dvhs().get(ROI_NAME, "rbe_weighted").volume_cc


def test_load_patient_end_cap_against_true_solid_and_contour_areas(sphere_patient: tuple[Path, list[np.ndarray]]) -> None:
    """Oracles: the true sphere (volume by quadrature; Max 100 + 12 |grad| in the linear dose) for
    shape; the contours' shoelace areas x spacing and the top contour's vertices for half-slab and
    truncated (module docstring)."""
    folder, contours = sphere_patient
    areas_mm2 = [_shoelace_mm2(c) for c in contours]
    half_slab_cc = sum(areas_mm2) * SPACING_MM / 1000.0
    truncated_cc = half_slab_cc - (areas_mm2[0] + areas_mm2[-1]) * SPACING_MM / 2 / 1000.0
    true_cc = make_solid("sphere").volume_cc()

    shape = dosimetry.load_patient(folder)
    half = dosimetry.load_patient(folder, end_cap=EndCapConvention.HALF_SLAB)
    truncated = dosimetry.load_patient(folder, end_cap="truncated")
    assert shape.end_cap is DEFAULT_END_CAP is EndCapConvention.SHAPE
    assert half.end_cap is EndCapConvention.HALF_SLAB and truncated.end_cap is EndCapConvention.TRUNCATED

    assert _volume_cc(half) == pytest.approx(half_slab_cc, rel=1e-6)
    assert _volume_cc(truncated) == pytest.approx(truncated_cc, rel=1e-6)
    assert _volume_cc(shape) == pytest.approx(true_cc, rel=0.01)
    # the half-slab excess over the true solid (midpoint rule + flat caps 1.5 mm past the last planes)
    # is what the shape model recovers
    assert _volume_cc(half) - _volume_cc(shape) == pytest.approx(half_slab_cc - true_cc, abs=0.005 * true_cc)
    assert abs(half_slab_cc - true_cc) > 0.015 * true_cc  # 1.6 % (issue 13): more than the shape model's error
    # Max in the dose 100 + 0.01 x + 0.1 y + z (Gy, mm; linear, so trilinear sampling is exact): the
    # true sphere's is 100 + 12 |grad|; the half-slab solid's top face is the last plane + 1.5 mm, the
    # truncated one's the last plane, each with the top contour's largest in-plane term (its vertices)
    top = contours[-1]
    in_plane_gy = float(np.max(0.01 * top[:, 0] + 0.1 * top[:, 1]))
    z_top_mm = float(top[0, 2])
    expected_max_gy = {
        shape: 100.0 + 12.0 * float(np.sqrt(1.0 + 0.01**2 + 0.1**2)),
        half: 100.0 + z_top_mm + SPACING_MM / 2 + in_plane_gy,
        truncated: 100.0 + z_top_mm + in_plane_gy,
    }
    for patient, max_gy in expected_max_gy.items():
        # 0.1 Gy: 0.4 % of the 24 Gy span across the sphere (the target for Max: 2 %)
        assert patient.dvhs().get(ROI_NAME, "rbe_weighted").max_gy == pytest.approx(max_gy, abs=0.1), patient.end_cap

    # every output of the facade carries it: the results, their volume, every map's DVH, the checks
    results = half.results()
    assert results.parameters.end_cap is EndCapConvention.HALF_SLAB
    assert results.to_dict()["parameters"]["end_cap"] == "half-slab"
    (record,) = [r for r in results.rois if r.name == ROI_NAME]
    assert record.volume_cc == pytest.approx(half_slab_cc, rel=1e-6)
    for (name, quantity), dvh in half.dvhs().curves.items():
        assert dvh.volume_cc == pytest.approx(half_slab_cc, rel=1e-6), (name, quantity)
    summaries = {o.mapping.roi_name: o.summary for o in half.check().organs}
    cumulative = half.dvhs().get(ROI_NAME, "EQD2_2")
    summary = summaries[ROI_NAME]
    assert summary is not None and summary.max_gy == pytest.approx(cumulative.max_gy, abs=1e-9)
    assert shape.results().parameters.end_cap is EndCapConvention.SHAPE


def test_end_cap_is_a_fixed_load_setting(sphere_patient: tuple[Path, list[np.ndarray]]) -> None:
    """Oracle: the documented contract of ``_LOAD_SETTINGS`` (a cached result cannot silently
    belong to another convention) and of :meth:`EndCapConvention.parse`."""
    folder, _ = sphere_patient
    patient = dosimetry.load_patient(folder, end_cap="half-slab")
    with pytest.raises(dataclasses.FrozenInstanceError, match="end_cap"):
        patient.end_cap = EndCapConvention.SHAPE
    with pytest.raises(ArgumentError, match="end-cap convention 'round'"):
        dosimetry.load_patient(folder, end_cap="round")


def _metric_rows(path: Path, quantity: str) -> dict[tuple[str, str], float]:
    with open(path, newline="", encoding="utf-8") as handle:
        return {(r["roi"], r["metric"]): float(r["value"]) for r in csv.DictReader(handle) if r["quantity"] == quantity}


@pytest.mark.parametrize("end_cap", ["half-slab", "truncated"])
def test_analyze_end_cap_matches_dvh_command(
    sphere_patient: tuple[Path, list[np.ndarray]], tmp_path: Path, capsys: pytest.CaptureFixture[str], end_cap: str
) -> None:
    """Oracle: ``dosimetry dvh --end-cap`` on the same RT Dose and structure set (computes its DVHs
    without the facade): analyze's planned-dose metrics and volume are the same numbers."""
    folder, _ = sphere_patient
    out = tmp_path / "out"
    assert cli_main.main(["analyze", str(folder), "--no-prior", "--end-cap", end_cap, "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["end_cap"] == end_cap
    document = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert document["parameters"]["end_cap"] == end_cap
    ours = _metric_rows(out / "metrics.csv", "rbe_weighted")
    metrics = sorted({m for (_, m) in ours if m.endswith("[Gy]")})
    argv = ["dvh", "--dose", str(next(folder.glob("RD*.dcm"))), "--structures", str(next(folder.glob("RS*.dcm"))),
            "--end-cap", end_cap, "--json", "-"]
    for metric in metrics:
        argv += ["--metric", metric]
    assert cli_main.main(argv) == 0
    (roi,) = [r for r in json.loads(capsys.readouterr().out)["structures"] if r["name"] == ROI_NAME]
    assert {m: ours[(ROI_NAME, m)] for m in metrics} == pytest.approx(dict(roi["metrics"]), abs=1e-9)
    (record,) = [r for r in document["rois"] if r["name"] == ROI_NAME]
    assert record["volume_cc"] == pytest.approx(roi["volume_cc"], rel=1e-9)


def test_check_end_cap_option(sphere_patient: tuple[Path, list[np.ndarray]], capsys: pytest.CaptureFixture[str]) -> None:
    """Oracle: the facade loaded with the same convention (a second path: the library call, not the CLI)."""
    folder, _ = sphere_patient
    cli_main.main(["check", str(folder), "--no-prior", "--end-cap", "half-slab", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert data["parameters"]["end_cap"] == "half-slab"
    expected = dosimetry.load_patient(folder, end_cap="half-slab").check().to_dict()["organs"]
    assert data["organs"] == expected
    shape = dosimetry.load_patient(folder).check().to_dict()["organs"]
    assert data["organs"] != shape  # the option changed the numbers
    cli_main.main(["check", str(folder), "--no-prior"])
    assert "DVH end caps: shape convention" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli_main.main(["check", str(folder), "--no-prior", "--end-cap", "round"])
    assert "invalid choice: 'round'" in capsys.readouterr().err
