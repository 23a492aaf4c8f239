"""Registration uncertainty of the cumulative checks and the mapping quality (dosimetry.patient.registration_quality)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dosimetry.patient import load_patient
from dosimetry.patient.schema import validate
from tests import dicom_factory as f


def _export(root: Path) -> f.TwoCourseExport:
    """Two-course export with an identity deformable registration (zero vectors, registered = current)
    mapping the prior frame; the prior dose is f.linear_dose_gy = 100 + 0.01 x + 0.1 y + 1.0 z Gy."""
    export = f.make_two_course_export(root, with_registration=False)
    f.make_deformable_reg(root / "prior", identity=export.current, source_frame_uid=export.prior.frame_of_reference_uid,
                          vectors_zyx3_mm=np.zeros((4, 4, 4, 3)), origin_mm=(-40, -40, -40), resolution_mm=(27, 27, 27))
    return export


def _protocol(path: Path, limit_gy: float) -> Path:
    path.write_text(f'quantity: eqd2_cumulative\nconstraints:\n  BrainStem: "Max[Gy] < {limit_gy:.6f}"\n')
    return path


def test_verdict_flipping_within_the_margin_is_uncertain(tmp_path: Path) -> None:
    """Oracle: monotonicity. The prior dose rises 1 Gy per mm along +z (its largest gradient), so a
    shift of 2 mm along -z (shifted(p) = D(p + 2 z)) raises the prior dose by 2 Gy at every voxel and
    every cumulative EQD2 with it: the worst direction is -z, and a limit just above the nominal
    maximum is exceeded within the spread (UNCERTAIN), while a limit far above it is not (PASS)."""
    _export(tmp_path / "p")
    nominal = load_patient(tmp_path / "p")
    probe = nominal.registration_uncertainty(_protocol(tmp_path / "probe.yaml", 1e4))
    assert probe is not None
    (row,) = [r for r in probe.rows if r.source == "protocol"]
    assert row.verdict == "PASS" and row.worst_direction == "-z"
    assert row.value is not None and row.spread_high is not None and row.spread_high > row.value
    tight_protocol = _protocol(tmp_path / "tight.yaml", row.value + 0.01)
    patient = load_patient(tmp_path / "p")
    tight = patient.registration_uncertainty(tight_protocol)
    assert tight is not None
    (flip,) = [r for r in tight.rows if r.source == "protocol"]
    assert flip.status == "PASS" and flip.verdict == "UNCERTAIN"
    assert "UNCERTAIN BrainStem" in patient.results(tight_protocol).summary()


def test_results_and_report_carry_the_uncertainty(tmp_path: Path) -> None:
    """Oracles: the JSON schema, and identity of the contours: the prior structure set's PTV_70 is the
    same 8 mm box as the current PTV and the registration is the identity while the frames differ, so
    no organ of the constraint table is in the prior set (notes say so) and the jacobian is 1."""
    _export(tmp_path / "p")
    patient = load_patient(tmp_path / "p")
    results = patient.write(tmp_path / "out")
    document = results.to_dict()
    validate(document)
    u = document["registration_uncertainty"]
    assert u is not None and u["deformable_available"] and u["margin_mm"] == 2.0
    for organ in u["organs"]:
        assert organ["jacobian_min"] is None or abs(organ["jacobian_min"] - 1.0) < 1e-9
    html = (tmp_path / "out" / "report.html").read_text()
    assert "Registration uncertainty of the cumulative dose" in html


def test_mapped_prior_contour_overlaps_the_current_one(tmp_path: Path) -> None:
    """Oracle: geometry of two boxes. The current BrainStem is a 6 mm box centred at (0, 10); the prior
    structure set holds the same box centred at (3, 10) in the prior frame, and the deformable
    registration says p_prior = p_current + (3, 0, 0): mapped, the prior box covers the current one
    exactly (Dice 1, surface distance 0 up to the 1 mm rasterisation). Mapped the wrong way it would
    land 6 mm off, overlapping nothing."""
    root = tmp_path / "p"
    export = f.make_two_course_export(root, with_registration=False)
    rois = [f.box_roi(1, "PTV_70", (0, 0), 8, (-3, 0, 3), "PTV"), f.box_roi(2, "BrainStem", (3, 10), 3, (-3, 0, 3))]
    f.make_rt_struct(root / "prior", filename="RS.pri.dcm", identity=export.prior, rois=rois,
                     referenced_series_uid=f.uid("pri-ct"), seed="pri-ss", label="PRIOR")
    f.make_deformable_reg(root / "prior", identity=export.current, source_frame_uid=export.prior.frame_of_reference_uid,
                          vectors_zyx3_mm=np.tile([3.0, 0.0, 0.0], (4, 4, 4, 1)), origin_mm=(-40, -40, -40), resolution_mm=(27, 27, 27))
    u = load_patient(root).registration_uncertainty()
    assert u is not None
    (brainstem,) = [o for o in u.organs if o.roi == "BrainStem"]
    assert brainstem.prior_roi == "BrainStem"
    assert brainstem.dice_deformable is not None and brainstem.dice_deformable > 0.95
    assert brainstem.mean_surface_distance_deformable_mm is not None and brainstem.mean_surface_distance_deformable_mm < 0.5
    assert brainstem.folding_voxels == 0


def test_inverse_consistency_of_two_directions(tmp_path: Path) -> None:
    """Oracle: translations compose by addition. Forward p_prior = p_current + (3, 0, 0); the backward
    object (registered = prior) says p_current = p_prior + (-2, 0, 0); the round trip misses by 1 mm
    everywhere."""
    root = tmp_path / "p"
    export = f.make_two_course_export(root, with_registration=False)
    f.make_deformable_reg(root / "prior", identity=export.current, source_frame_uid=export.prior.frame_of_reference_uid,
                          vectors_zyx3_mm=np.tile([3.0, 0.0, 0.0], (4, 4, 4, 1)), origin_mm=(-40, -40, -40), resolution_mm=(27, 27, 27))
    f.make_deformable_reg(root / "prior", filename="DREG_back.dcm", identity=export.prior, seed="back",
                          source_frame_uid=export.current.frame_of_reference_uid,
                          vectors_zyx3_mm=np.tile([-2.0, 0.0, 0.0], (4, 4, 4, 1)), origin_mm=(-40, -40, -40), resolution_mm=(27, 27, 27))
    patient = load_patient(root)
    assert "applied as is" in patient.patient_maps.aligned.transform_description  # type: ignore[union-attr]
    u = patient.registration_uncertainty()
    assert u is not None and u.inverse_consistency is not None
    assert abs(u.inverse_consistency.mean_mm - 1.0) < 1e-5 and abs(u.inverse_consistency.max_mm - 1.0) < 1e-5


def test_every_uncertainty_row_carries_its_unit_to_every_output(tmp_path: Path) -> None:
    """Oracle: the metric grammar (TG-263): "V10Gy[%]" is a percentage of the organ's volume, "V10Gy[cc]" a volume
    in cc and "Max[Gy]" a dose in Gy, whatever the dose quantity. Each row of the uncertainty carries that unit in
    results.json (validated by the schema), in the report's table and in the summary's UNCERTAIN lines; the rows
    had no unit, so a reader could take a percentage for Gy."""
    _export(tmp_path / "p")
    protocol = tmp_path / "units.yaml"
    protocol.write_text('quantity: eqd2_cumulative\nconstraints:\n  BrainStem: ["Max[Gy] < 10000", "V10Gy[%] <= 100", "V10Gy[cc] < 10000"]\n')
    patient = load_patient(tmp_path / "p")
    u = patient.registration_uncertainty(protocol)
    assert u is not None
    units = {r.metric: r.unit for r in u.rows if r.source == "protocol"}
    assert units == {"Max[Gy]": "Gy", "V10Gy[%]": "%", "V10Gy[cc]": "cc"}
    results = patient.write(tmp_path / "out", protocol=protocol)
    document = results.to_dict()
    validate(document)
    written = {r["metric"]: r["unit"] for r in document["registration_uncertainty"]["rows"] if r["source"] == "protocol"}
    assert written == units
    html = (tmp_path / "out" / "report.html").read_text()
    assert "<th>unit</th>" in html and "<td>%</td>" in html
