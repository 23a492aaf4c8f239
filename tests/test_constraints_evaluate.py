"""Patient-level evaluation: dose summaries, Emami decisions with NTCP, protocol results, report."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dosimetry.constraints.evaluate import OrganExtent, evaluate, summarise
from dosimetry.constraints.naming import NameMapper, RoiCategory
from dosimetry.constraints.partial_volume import Status
from dosimetry.constraints.protocol import parse_protocol_text
from dosimetry.quantities import DoseBasis
from dosimetry.constraints.samples import OrganDoseBins
from dosimetry.constraints.tables import Organ
from dosimetry.dvh import Dvh, evaluate_metric
from dosimetry.errors import ConstraintError, MetricError
from tests.constraints_helpers import point_dvh, uniform_dvh


def test_partial_volume_dose_definitions() -> None:
    # 30 cc: 10 cc at 60 Gy, 10 cc at 40 Gy, 10 cc at 20 Gy
    summary = summarise(point_dvh([20.0, 60.0, 40.0], [10.0, 10.0, 10.0]))
    assert summary.d_hottest_third_gy == 60.0  # minimum dose to the hottest 10 cc
    assert summary.d_hottest_two_thirds_gy == 40.0
    assert summary.d_whole_gy == 20.0
    assert summary.d_0_03cc_gy == 60.0
    assert summary.mean_gy == pytest.approx(40.0)
    assert summary.max_gy == 60.0 and summary.volume_cc == pytest.approx(30.0)


def test_near_max_of_tiny_organ_is_reported_missing_with_reason() -> None:
    summary = summarise(uniform_dvh(5.0, 0.02))
    assert summary.d_0_03cc_gy is None
    assert any("D0.03cc" in w for w in summary.warnings)
    with pytest.raises(MetricError):
        evaluate_metric(uniform_dvh(5.0, 0.02), "D0.03cc[Gy]")


def test_samples_validation() -> None:
    with pytest.raises(ConstraintError, match="positive volume"):
        OrganDoseBins(np.array([1.0]), np.array([0.0]))
    with pytest.raises(ConstraintError, match="negative doses"):
        OrganDoseBins(np.array([-1.0]), np.array([1.0]))
    with pytest.raises(ConstraintError, match="same length"):
        OrganDoseBins(np.array([1.0, 2.0]), np.array([1.0]))


def _patient() -> tuple[dict[DoseBasis, dict[str, Dvh]], list[str]]:
    rng = np.random.default_rng(7)
    points = {
        "Brain Stem": (rng.uniform(20.0, 48.0, 500), np.full(500, 0.05)),  # max < 50: PASS
        "OpticChiasm": (np.array([56.0, 30.0]), np.array([0.1, 0.4])),  # max 56 > 50: FAIL
        "Lt Parotid": (np.array([26.0]), np.array([20.0])),
        "SpinalCord": (np.array([40.0]), np.array([15.0])),
        "PTV70": (np.array([70.0]), np.array([100.0])),
    }
    cum = {name: point_dvh(dose, volume, name) for name, (dose, volume) in points.items()}
    current = {name: point_dvh(dose * 0.8, volume, name) for name, (dose, volume) in points.items()}
    names = [*cum, "Pituitary", "Brianstem", "External", "Lens_L"]
    return {DoseBasis.EQD2_CUMULATIVE: cum, DoseBasis.EQD2_CURRENT: current}, names


def test_patient_report() -> None:
    samples, names = _patient()
    protocol = parse_protocol_text(
        'constraints:\n  BrainStem: "D0.03cc[Gy] < 54"\n  OpticChiasm: "Dmax[Gy] < 54"\n'
        '  Parotid_L:\n    quantity: eqd2_current\n    constraints: "Dmean[Gy] < 26"\n  Cochlea_L: "Dmean[Gy] < 45"\n',
        "inst.yaml",
        "yaml",
    )
    report = evaluate(
        samples,
        names,
        protocol=protocol,
        extents={"SpinalCord": OrganExtent(length_cm=12.0, source="contour extent")},
        roi_failures={"Lens_L": "ROI Lens_L lies outside the dose grid"},
    )
    by_roi = {o.mapping.roi_name: o for o in report.organs}
    assert set(by_roi) == {"Brain Stem", "OpticChiasm", "Lt Parotid", "SpinalCord", "Lens_L"}
    brainstem = by_roi["Brain Stem"].endpoints[0]
    assert brainstem.status is Status.PASS and brainstem.margin_gy > 0
    assert brainstem.quantity is DoseBasis.EQD2_CUMULATIVE and brainstem.rule == report.rule
    chiasm = by_roi["OpticChiasm"].endpoints[0]
    assert chiasm.status is Status.FAIL and chiasm.margin_gy == pytest.approx(50.0 - 56.0)
    parotid = by_roi["Lt Parotid"].endpoints[0]
    assert parotid.status is Status.PASS and parotid.margin_gy == pytest.approx(6.0)
    assert parotid.ntcp == pytest.approx(0.00786, abs=5e-5) and not parotid.ntcp_flagged
    cord = by_roi["SpinalCord"].endpoints[0]
    assert cord.status is Status.PASS and cord.axis_value == pytest.approx(12.0)
    lens = by_roi["Lens_L"]
    assert lens.summary is None and lens.endpoints[0].status is Status.NOT_EVALUABLE
    assert "outside the dose grid" in lens.endpoints[0].reason
    assert [m.roi_name for m in report.unmapped] == ["Pituitary", "Brianstem"]
    assert {m.roi_name: m.category for m in report.non_organs} == {"PTV70": RoiCategory.TARGET, "External": RoiCategory.EXTERNAL}
    assert report.any_fail

    protocol_results = {(p.structure, p.roi_name): p for p in report.protocol}
    assert protocol_results[("BrainStem", "Brain Stem")].status is Status.PASS
    assert protocol_results[("OpticChiasm", "OpticChiasm")].status is Status.FAIL
    assert protocol_results[("OpticChiasm", "OpticChiasm")].margin == pytest.approx(-2.0)
    parotid_p = protocol_results[("Parotid_L", "Lt Parotid")]
    assert parotid_p.quantity is DoseBasis.EQD2_CURRENT and parotid_p.value == pytest.approx(20.8)
    missing = protocol_results[("Cochlea_L", None)]
    assert missing.status is Status.NOT_EVALUABLE and "no ROI" in missing.reason

    data = json.loads(json.dumps(report.to_dict()))
    assert data["quantity"] == "eqd2_cumulative" and data["alpha_beta_gy"] == 2.0
    assert data["rule"] == report.rule and "v_eff" in data["rule_description"]
    assert [u["roi"] for u in data["unmapped_rois"]] == ["Pituitary", "Brianstem"]
    chiasm_json = next(o for o in data["organs"] if o["roi"] == "OpticChiasm")
    assert chiasm_json["endpoints"][0]["lkb"] == {"n": 0.25, "m": 0.14, "td50_gy": 65.0, "source": "burman1991-v1"}
    assert chiasm_json["endpoints"][0]["status"] == "FAIL"


def test_multiple_endpoints_and_missing_quantity() -> None:
    report = evaluate({DoseBasis.EQD2_CUMULATIVE: {"Larynx": uniform_dvh(50.0, 30.0)}}, ["Larynx"])
    endpoints = {e.endpoint_id: e for e in report.organs[0].endpoints}
    assert set(endpoints) == {"cartilage_necrosis", "laryngeal_edema"}
    assert endpoints["cartilage_necrosis"].status is Status.PASS  # 50 <= 70
    assert endpoints["laryngeal_edema"].status is Status.FAIL  # 50 > 45
    with pytest.raises(ConstraintError, match="eqd2_cumulative"):
        evaluate({DoseBasis.EQD2_CURRENT: {}}, ["Larynx"])


def test_user_mapping_feeds_evaluation() -> None:
    mapper = NameMapper(overrides={"hirnstamm": Organ.BRAIN_STEM})
    report = evaluate({DoseBasis.EQD2_CUMULATIVE: {"Hirnstamm": uniform_dvh(52.0, 20.0)}}, ["Hirnstamm"], mapper=mapper)
    assert report.organs[0].mapping.organ is Organ.BRAIN_STEM
    assert report.organs[0].endpoints[0].status is Status.FAIL


def test_samples_from_a_dvh_curve() -> None:
    from dataclasses import dataclass as _dc

    @_dc(frozen=True)
    class _Dvh:  # the attributes OrganDoseBins.from_dvh reads (as dosimetry.dvh.Dvh has them)
        bin_centres_gy: np.ndarray
        differential_cc: np.ndarray
        min_gy: float
        max_gy: float
        roi_name: str = "Parotid_L"

    # bins [20, 21), [21, 22), [22, 23): 2 cc, 0 cc, 1 cc; exact sample extremes 20.2 and 22.3 Gy
    dvh = _Dvh(np.array([20.5, 21.5, 22.5]), np.array([2.0, 0.0, 1.0]), 20.2, 22.3)
    samples = OrganDoseBins.from_dvh(dvh)
    assert samples.label == "Parotid_L"
    assert samples.max_gy == 22.3 and samples.min_gy == 20.5
    assert samples.total_volume_cc == pytest.approx(3.0)
    # the hottest bin holding volume stands at the exact maximum, even below its centre
    low = OrganDoseBins.from_dvh(_Dvh(np.array([20.5, 21.5, 22.5]), np.array([2.0, 1.0, 0.0]), 20.2, 21.7))
    assert low.max_gy == 21.7 and list(low.dose_gy) == [21.7, 20.5]


def test_samples_from_a_dvh_stay_within_its_exact_range() -> None:
    from dataclasses import dataclass as _dc

    @_dc(frozen=True)
    class _Dvh:
        bin_centres_gy: np.ndarray
        differential_cc: np.ndarray
        min_gy: float
        max_gy: float

    # bin centres 0.1 .. 2.5 Gy, but the exact DVH range is 0.3 .. 2.2 Gy: by hand the samples are
    # 0.3 (clipped up), 1.5 and 2.2 (the hottest filled bin placed at the exact maximum).
    samples = OrganDoseBins.from_dvh(_Dvh(np.array([0.1, 1.5, 2.5]), np.array([0.1, 1.0, 1.0]), 0.3, 2.2))
    assert sorted(samples.dose_gy.tolist()) == pytest.approx([0.3, 1.5, 2.2])
    assert samples.min_gy == 0.3 and samples.max_gy == 2.2
    assert samples.total_volume_cc == pytest.approx(2.1)


def test_endpoint_without_burman_parameters_is_not_evaluable_and_keeps_the_max() -> None:
    from dosimetry.constraints.evaluate import evaluate_organ
    from dosimetry.constraints.tables import BurmanTable, load_burman

    burman = load_burman()
    no_parameters = BurmanTable(burman.citation, burman.version, burman.units, entries=())
    result = evaluate_organ(NameMapper().map("BrainStem"), point_dvh([40.0, 20.0], [1.0, 1.0], "BrainStem"), burman=no_parameters)
    assert result.endpoints
    for e in result.endpoints:
        assert e.status is Status.NOT_EVALUABLE and "no LKB parameters" in e.reason
        assert e.max_dose_gy == 40.0 and e.limit_gy is None and e.ntcp is None and not e.ntcp_flagged
