"""Issue 20: work the analysis steps of ``Patient.results()`` share instead of repeating changes no number.

* the lazy map sets answer ``key in maps.lq`` and the cumulative maps' descriptions without computing a map;
* the target indices take the DVH stage's dose samples of the targets and the body instead of
  sampling those ROIs again;
* dvh.csv formats each curve's text cells once, not once per dose level.

Each test's oracle is the uncached computation: the map computed directly, the indices computed by
a separate step that samples every ROI itself, ``evaluate_targets`` without the samples given,
the CSV writer called once per row.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import dosimetry
import dosimetry.indices.evaluate as indices_evaluate
import dosimetry.indices.volumes as indices_volumes
import dosimetry.patient.maps as patient_maps
from dosimetry.dvh import compute_dvh, evaluate_metric, roi_dose_samples
from dosimetry.dvh.endcaps import EndCapConvention
from dosimetry.errors import ArgumentError
from dosimetry.indices.evaluate import ReferenceLevel, evaluate_targets
from dosimetry.io.csv_cells import csv_writer
from dosimetry.patient.dvhs import PatientDvhs
from dosimetry.patient.indices import target_indices
from dosimetry.patient.maps import CumulativeMapSet
from dosimetry.patient.writers import dvh_csv_text
from dosimetry.quantities import DoseQuantity
from dosimetry.radiobiology import CourseDose
from tests import dicom_factory as f
from tests.indices_phantoms import RadialFalloff, dose_grid, sphere_roi
from tests.test_constraints_check_cli import PLANES, POSITION, SHAPE, _dose


@pytest.fixture(scope="module")
def patient_with_body(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The two-course patient of tests/test_constraints_check_cli.py with a CTV, a PTV and an
    External ROI (the body of the indices' isodose volumes), partly outside the dose grid."""
    root = tmp_path_factory.mktemp("patient_body")
    current, prior = root / "current", root / "prior"
    current.mkdir()
    prior.mkdir()
    ion_uid, photon_uid = f.uid("reuse-ion-plan"), f.uid("reuse-photon-plan")
    f.make_rt_ion_plan(current, fractions=22, dose_per_fraction_gy=2.0, sop_instance_uid=ion_uid)
    f.make_rt_dose(current, shape_frc=SHAPE, position_mm=POSITION, pixel_spacing_mm=(2.0, 2.0), dose_frc_gy=_dose(22.0, 44.0),
                   dose_type="EFFECTIVE", referenced_plan_uid=ion_uid, seed="reuse-current-dose")
    rois = [
        f.box_roi(1, "External", (0.0, 0.0), 36.0, [2.5 * k for k in range(13)], interpreted_type="EXTERNAL"),
        f.box_roi(2, "Brain Stem", (-18.0, 0.0), 6.0, PLANES),
        f.box_roi(3, "CTV_60", (14.0, -12.0), 4.0, PLANES[2:7], interpreted_type="CTV"),
        f.box_roi(4, "PTV_66", (14.0, -12.0), 6.0, PLANES, interpreted_type="PTV"),
    ]
    f.make_rt_struct(current, rois=rois, seed="reuse-struct")
    f.make_rt_plan(prior, fractions=30, prescription_gy=60.0, sop_instance_uid=photon_uid, seed="reuse-photon")
    f.make_rt_dose(prior, shape_frc=SHAPE, position_mm=POSITION, pixel_spacing_mm=(2.0, 2.0), dose_frc_gy=_dose(30.0, 60.0),
                   referenced_plan_uid=photon_uid, seed="reuse-prior-dose")
    return root


def test_membership_and_descriptions_compute_no_map(patient_with_body: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Oracle: accumulate called directly on the loaded courses (its description). ``in`` on the
    LQ and cumulative map sets and the cumulative descriptions once a map was computed call neither
    lq_map nor accumulate (counted); a description asked for first computes the map."""
    maps = dosimetry.load_patient(patient_with_body).patient_maps
    assert maps.prior is not None and maps.aligned is not None and isinstance(maps.cumulative, CumulativeMapSet)
    calls: list[str] = []
    real_lq_map, real_accumulate = patient_maps.lq_map, patient_maps.accumulate

    def counted(name: str, real: Callable[..., object]) -> Callable[..., object]:
        def call(*args: object, **kwargs: object) -> object:
            calls.append(name)
            return real(*args, **kwargs)

        return call

    monkeypatch.setattr(patient_maps, "lq_map", counted("lq_map", real_lq_map))
    monkeypatch.setattr(patient_maps, "accumulate", counted("accumulate", real_accumulate))
    assert "BED9" in maps.lq and "EQD2_2" in maps.lq and "BED3" not in maps.lq and 2 not in maps.lq
    assert maps.eqd2_late_cumulative_key in maps.cumulative and "EQD2_2" not in maps.cumulative
    assert calls == []
    # the late EQD2 map was computed at load time (its warnings): its description was kept then; the
    # BED map was not computed yet: its description computes it once
    for key, quantity, computed in (
        (maps.eqd2_late_cumulative_key, DoseQuantity.EQD2, []), (maps.bed_late_cumulative_key, DoseQuantity.BED, ["accumulate"]),
    ):
        calls.clear()
        direct = real_accumulate(
            CourseDose(maps.current.dose, maps.current.plan), CourseDose(maps.aligned.dose, maps.prior.plan),
            alpha_beta_gy=maps.alpha_beta_late_gy, residual=0.3, quantity=quantity, warnings=maps.aligned.warnings,
            recovery=maps.recovery_assignment,
        )
        assert maps.cumulative.description(key) == direct.description
        assert calls == computed
        assert maps.cumulative.description(key) == direct.description
        assert calls == computed  # the second time from the description kept


def test_indices_take_the_dvh_stage_samples(patient_with_body: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Oracle: target_indices as a separate step after the DVHs on a second load of the patient (it
    samples every target and the body itself). results() samples no target again and the body
    only on the tumour BED (the External ROI gets no BED map in the DVH stage): counted calls of
    the engine from the indices modules; the index records are equal."""
    sampled: list[str] = []

    def counting(module: object) -> None:
        real = module.roi_dose_samples  # type: ignore[attr-defined]

        def call(dose: object, roi: object, **kwargs: object) -> object:
            sampled.append(roi.name)  # type: ignore[attr-defined]
            return real(dose, roi, **kwargs)

        monkeypatch.setattr(module, "roi_dose_samples", call)

    counting(indices_evaluate)
    counting(indices_volumes)
    combined = dosimetry.load_patient(patient_with_body)
    document = combined.results().to_dict()
    assert sampled == ["External"]  # on BED9 only: the planned dose's samples came from the DVH stage
    monkeypatch.undo()
    separate = dosimetry.load_patient(patient_with_body)
    alone = target_indices(separate.patient_maps, separate.dvhs())
    assert {r.target_name for r in alone.results} == {"CTV_60", "PTV_66"}
    assert len(alone.results) == 4  # two targets on the planned dose and on BED9
    assert [r.to_dict() for r in combined.indices().results] == [r.to_dict() for r in alone.results]
    assert combined.indices().warnings == alone.warnings
    assert all(r.body_description.startswith("ROI 'External'") for r in alone.results)
    assert len(document["indices"]) == 4


def test_evaluate_targets_with_known_samples_equals_sampling_again() -> None:
    """Oracle: evaluate_targets without samples given (every ROI sampled by the engine). Given the
    engine's samples of a target and of the body, the results are equal; samples under another
    end-cap convention are refused, naming the ROI."""
    dose = dose_grid(RadialFalloff(dmax_gy=60.0, plateau_mm=6.0, zero_mm=30.0), half_width_mm=26.0, spacing_mm=1.0)
    body = sphere_roi("BODY", 22.5, interpreted_type="EXTERNAL", number=99, vertices=96)
    ctv, ptv = sphere_roi("CTV", 10.5), sphere_roi("PTV", 11.5, interpreted_type="PTV", number=2)
    reference = ReferenceLevel.physical(50.0)
    fresh = evaluate_targets(dose, (ctv, ptv), reference, body=body)
    known = {"PTV": roi_dose_samples(dose, ptv), "BODY": roi_dose_samples(dose, body)}
    given = evaluate_targets(dose, (ctv, ptv), reference, body=body, known_samples=known)
    assert [r.to_dict() for r in given] == [r.to_dict() for r in fresh]
    assert np.array_equal([r.piv_cc for r in given], [r.piv_cc for r in fresh])
    other = next(c for c in EndCapConvention if c is not known["PTV"].end_cap)
    with pytest.raises(ArgumentError, match="'PTV'"):
        evaluate_targets(dose, (ptv,), reference, body=body, known_samples={"PTV": roi_dose_samples(dose, ptv, end_cap=other)})


def _dvh_csv_row_by_row(dvhs: PatientDvhs, step_gy: float) -> str:
    """dvh.csv as written before issue 20: one CSV writer row per dose level."""
    buffer = io.StringIO()
    writer = csv_writer(buffer, lineterminator="\n")
    writer.writerow(["roi", "quantity", "dose_gy", "volume_cc", "volume_pct"])
    for (name, quantity), dvh in dvhs.curves.items():
        levels = np.arange(0.0, float(dvh.bin_edges_gy[-1]) + step_gy, step_gy)
        volumes = np.interp(levels, dvh.bin_edges_gy, dvh.cumulative_cc, left=dvh.volume_in_dose_grid_cc, right=0.0)
        pct = 100.0 * volumes / dvh.volume_in_dose_grid_cc
        for level, volume, p in zip(levels, volumes, pct, strict=True):
            writer.writerow([name, quantity, f"{level:.4f}", f"{volume:.6g}", f"{p:.6g}"])
    return buffer.getvalue()


def test_dvh_csv_equals_one_writer_row_per_level() -> None:
    """Oracle: the CSV writer called once per dose level (the code before issue 20). The text is
    the same, byte for byte, for ROI names that the writer neutralises (formula triggers, a
    leading quote) or quotes (comma, double quote, line break) and for a name that is a number."""
    dose = dose_grid(RadialFalloff(dmax_gy=60.0, plateau_mm=6.0, zero_mm=30.0), half_width_mm=26.0, spacing_mm=2.0)
    dvh = compute_dvh(dose, sphere_roi("CTV", 10.5))
    names = ["CTV", "=HYPERLINK(1)", "+cmd|' /C calc'!A0", "-1.5", "'quoted", "a,b", 'say "hi"', "two\nlines", "\tTab", ""]
    dvhs = PatientDvhs(
        curves={(name, quantity): dvh for name in names for quantity in ("physical", "@BED2")}, rois=(), roles={},
        planned_dose_name="physical", metrics=(),
    )
    for step in (0.1, 0.25):
        assert dvh_csv_text(dvhs, step) == _dvh_csv_row_by_row(dvhs, step)


@pytest.mark.parametrize("shape", [(3, 5, 7), (5, 300, 301)])  # one chunk; several chunks and a partial one
@pytest.mark.parametrize("quantity", [DoseQuantity.EQD2, DoseQuantity.BED])
def test_cumulative_array_in_chunks_equals_the_whole_array_formula(shape: tuple[int, int, int], quantity: DoseQuantity) -> None:
    """Oracle: the whole-array formula (the code before issue 20): lq_array of each course, the
    prior term times the residual, added. The chunked sum is equal bit for bit, for contiguous and
    strided inputs, and a negative prior dose is refused with the message lq_array gives."""
    from dosimetry.errors import RadiobiologyError
    from dosimetry.radiobiology.maps import lq_array
    from dosimetry.radiobiology.summation import cumulative_array

    rng = np.random.default_rng(20)
    current, prior = rng.uniform(0.0, 70.0, shape), rng.uniform(0.0, 60.0, shape)
    expected = lq_array(current, quantity, 22, 2.0)
    term = lq_array(prior, quantity, 33, 2.0)
    term *= 0.3
    expected += term
    assert np.array_equal(cumulative_array(current, 22, prior, 33, alpha_beta_gy=2.0, residual=0.3, quantity=quantity), expected)
    strided = np.asfortranarray(prior)
    assert np.array_equal(cumulative_array(current, 22, strided, 33, alpha_beta_gy=2.0, residual=0.3, quantity=quantity), expected)
    negative = prior.copy()
    negative.flat[-1] = -1.0
    with pytest.raises(RadiobiologyError) as whole:
        lq_array(negative, quantity, 33, 2.0)
    with pytest.raises(RadiobiologyError) as chunked:
        cumulative_array(current, 22, negative, 33, alpha_beta_gy=2.0, residual=0.3, quantity=quantity)
    assert str(chunked.value) == str(whole.value)


def test_lq_map_slabs_and_the_overlap_ratio_equal_the_whole_maps(patient_with_body: Path) -> None:
    """Oracle: lq_map's whole maps (what the re-irradiation type used before issue 20). The slabs
    equal the map's values bit for bit, and the classification made from the slabs equals one made
    from the whole-map ratio min(EQD2 prior / t, EQD2 current / t): the overlap volume counted
    voxel by voxel and every organ's overlap volume from its DVH on that ratio map."""
    from dosimetry.patient.reirradiation_type import classify_reirradiation
    from dosimetry.radiobiology import lq_map
    from dosimetry.radiobiology.maps import effective_dose_grid, lq_map_slabs

    patient = dosimetry.load_patient(patient_with_body)
    maps = patient.patient_maps
    assert maps.aligned is not None and maps.prior is not None
    courses = ((maps.aligned.dose, maps.prior.plan), (maps.current.dose, maps.current.plan))
    whole = []
    for dose, plan in courses:
        for quantity in (DoseQuantity.EQD2, DoseQuantity.BED):
            expected = lq_map(dose, quantity=quantity, alpha_beta_gy=2.0, plan=plan).dose.dose_gy
            slabs = [slab.copy() for slab in lq_map_slabs(dose, quantity=quantity, alpha_beta_gy=2.0, plan=plan)]
            assert np.array_equal(np.stack(slabs), expected)
        whole.append(lq_map(dose, quantity=DoseQuantity.EQD2, alpha_beta_gy=2.0, plan=plan).dose)
    t_prior, t_current = 40.0, 30.0  # thresholds inside the synthetic doses' EQD2 range (16.5-62 Gy)
    ratio = np.minimum(np.divide(whole[0].dose_gy, t_prior), np.divide(whole[1].dose_gy, t_current))
    kind, _ = classify_reirradiation(maps, patient.dvhs().rois, threshold_prior_gy=t_prior, threshold_current_gy=t_current)
    assert kind is not None and kind.organs
    per_slab = np.count_nonzero(ratio >= 1.0, axis=(1, 2))
    assert kind.overlap_cc == float(np.dot(per_slab, maps.current.dose.grid.voxel_volume_cc()))
    assert kind.overlap_cc > 0
    both = effective_dose_grid(whole[1], ratio, plan=None, description="whole-map ratio", warnings=())
    rois = {r.name: r for r in maps.structure_set.rois}
    for organ in kind.organs:
        dvh = compute_dvh(both, rois[organ.roi], end_cap=patient.end_cap)
        assert organ.overlap_cc == float(evaluate_metric(dvh, "V1Gy[cc]"))
        assert organ.volume_cc == float(dvh.volume_in_dose_grid_cc)


def test_uncertainty_evaluations_equal_the_eager_computation(
    patient_with_body: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Oracle: the evaluation of one shifted prior dose as before issue 20: both cumulative maps
    accumulated up front and every constraint DVH sampled (constraint_report without known DVHs).
    The lazy evaluation with the DVH stage's current-course curves gives the same rows, accumulates
    the late EQD2 map only (counted), and the facade's uncertainty equals one computed without the
    stage's curves. The protocol has a constraint on the current course's dose and one on its EQD2."""
    from dataclasses import replace as replace_fields

    import dosimetry.patient.registration_quality as quality
    from dosimetry.constraints.naming import NameMapper
    from dosimetry.constraints.protocol import load_protocol
    from dosimetry.patient.checks import constraint_report
    from dosimetry.patient.results import constraint_checks
    from dosimetry.radiobiology import accumulate
    from dosimetry.radiobiology.recovery import DEFAULT_RESIDUAL

    protocol_path = tmp_path / "protocol.toml"
    protocol_path.write_text(
        '[constraints]\nBrainStem = "D0.03cc[Gy] < 54"\n'
        '[constraints.PTV_66]\nquantity = "dose_current"\nconstraints = ["Dmax[Gy] < 50"]\n'
        '[constraints."Brain Stem"]\nquantity = "eqd2_current"\nconstraints = ["Dmax[Gy] < 30"]\n',
        encoding="utf-8",
    )
    patient = dosimetry.load_patient(patient_with_body, uncertainty_margin_mm=2.0)
    maps, rois = patient.patient_maps, tuple(patient.dvhs().rois)
    assert maps.aligned is not None and maps.prior is not None
    protocol, mapper = load_protocol(protocol_path), NameMapper()
    shifted = quality._shifted(maps.aligned.dose, (2.0, 0.0, 0.0))
    eager = {
        key: accumulate(
            CourseDose(maps.current.dose, maps.current.plan), CourseDose(shifted, maps.prior.plan),
            alpha_beta_gy=maps.alpha_beta_late_gy, residual=DEFAULT_RESIDUAL if maps.residual is None else maps.residual,
            quantity=quantity, recovery=maps.recovery_assignment,
        )
        for key, quantity in ((maps.eqd2_late_cumulative_key, DoseQuantity.EQD2), (maps.bed_late_cumulative_key, DoseQuantity.BED))
    }
    alt = replace_fields(maps, aligned=replace_fields(maps.aligned, dose=shifted), cumulative=eager)
    expected = constraint_checks(constraint_report(
        alt, rois, mapper=mapper, protocol=protocol, bin_width_gy=patient.dvh_bin_width_gy, roi_failures={}, end_cap=patient.end_cap,
    ))
    assert {r.quantity for r in expected} >= {"dose_current", "eqd2_current", "eqd2_cumulative"}
    accumulated: list[object] = []
    real_accumulate: Callable[..., object] = patient_maps.accumulate

    def counted(*args: object, **kwargs: object) -> object:
        accumulated.append(kwargs["quantity"])
        return real_accumulate(*args, **kwargs)

    monkeypatch.setattr(patient_maps, "accumulate", counted)
    lazy = quality._checks_for_prior(
        maps, shifted, rois, mapper, protocol, patient.dvh_bin_width_gy, patient.end_cap,
        patient._stage_dvhs(cumulative=False),
    )
    assert accumulated == [DoseQuantity.EQD2]
    assert list(lazy.values()) == list(expected)
    monkeypatch.undo()
    facade = patient.registration_uncertainty(protocol_path)
    plain = quality.registration_uncertainty(
        maps, rois, constraint_checks(patient.check(protocol_path)), mapper=mapper, protocol=protocol,
        bin_width_gy=patient.dvh_bin_width_gy, margin_mm=2.0, end_cap=patient.end_cap,
    )
    assert facade is not None and facade == plain and facade.rows


def test_mapping_quality_rasterises_each_organ_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Oracle: the overlap computed as before issue 20, each organ and its prior rasterised again for
    every mapping (rasterise_roi, resample, Dice and surface distance written out here). With a
    rigid and a deformable mapping, mapping_quality rasterises each organ and its prior once
    (counted) and gives the same Dice and surface distances."""
    import dosimetry.patient.registration_quality as quality
    from dosimetry.align.resample import resample_values_with_transform
    from dosimetry.constraints.naming import NameMapper
    from dosimetry.dvh.rasterise import rasterise_roi

    root = tmp_path / "p"
    export = f.make_two_course_export(root, with_registration=True)  # a rigid registration too
    rois = [f.box_roi(1, "PTV_70", (0, 0), 8, (-3, 0, 3), "PTV"), f.box_roi(2, "BrainStem", (3, 10), 3, (-3, 0, 3))]
    f.make_rt_struct(root / "prior", filename="RS.pri.dcm", identity=export.prior, rois=rois,
                     referenced_series_uid=f.uid("pri-ct"), seed="pri-ss", label="PRIOR")
    f.make_deformable_reg(root / "prior", identity=export.current, source_frame_uid=export.prior.frame_of_reference_uid,
                          vectors_zyx3_mm=np.tile([3.0, 0.0, 0.0], (4, 4, 4, 1)), origin_mm=(-40, -40, -40), resolution_mm=(27, 27, 27))
    maps = dosimetry.load_patient(root).patient_maps
    current = {r.name: r for r in maps.structure_set.rois}
    prior_brainstem = next(r for r in maps.prior.structure_set(argument="--prior").rois if r.name == "BrainStem")  # type: ignore[union-attr]
    rasterised: list[str] = []

    def counting(roi: object, grid: object) -> object:
        rasterised.append(roi.name)  # type: ignore[attr-defined]
        return rasterise_roi(roi, grid)  # type: ignore[arg-type]

    monkeypatch.setattr(quality, "rasterise_roi", counting)
    rigid_transform = quality._rigid_transform(maps)
    assert rigid_transform is not None
    (organ,), _ = quality.mapping_quality(maps, ("BrainStem",), current, NameMapper())
    assert sorted(rasterised) == ["BrainStem", "BrainStem"]  # the current organ and its prior, once each
    monkeypatch.undo()
    grid = quality._fine_grid(quality._roi_points(current["BrainStem"]))
    for transform, dice, distance in (
        (rigid_transform, organ.dice_rigid, organ.mean_surface_distance_rigid_mm),
        (quality._deformable_transform(maps, grid), organ.dice_deformable, organ.mean_surface_distance_deformable_mm),
    ):
        mask = rasterise_roi(current["BrainStem"], grid).occupancy >= 0.5
        prior_occ, prior_grid = quality._prior_occupancy(prior_brainstem, grid.spacing_x_mm)
        mapped = resample_values_with_transform(prior_occ, prior_grid, grid, transform)[0] >= 0.5
        assert dice == float(2 * (mask & mapped).sum() / int(mask.sum() + mapped.sum()))
        assert distance == quality._surface_distance_mm(mask, mapped, grid.spacing_x_mm)
    assert organ.dice_deformable is not None and organ.dice_deformable > 0.95  # the prior box mapped onto the current one
