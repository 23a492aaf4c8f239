"""Real RT files bundled in the pydicom wheel (no download): the quirks they carry.

* rtdose.dcm (Implicit VR LE), rtdose_expb.dcm (Explicit VR Big Endian), rtdose_rle.dcm (RLE
  Lossless): 15 frames, DoseUnits RELATIVE, DoseGridScaling 1e-6, DoseSummationType BEAM, a plan
  UID with a non-conformant leading-zero component. All three must decode to the same values.
* rtdose_1frame.dcm / _expb_1frame / _rle_1frame: one frame, no NumberOfFrames and no
  SliceThickness, but the 15-value GridFrameOffsetVector of the full grid left behind.
* rtplan.dcm: RT Plan, 30 fractions, one photon beam with BeamDose, two Dose References.
* rtplan_truncated.dcm: the same plan cut short inside the Beam Sequence.
* rtstruct.dcm: no preamble / file meta (raw dataset), CLOSED_PLANAR and POINT contours.
"""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from dosimetry.cli.main import main
from dosimetry.dose import DoseSummationType, DoseType
from dosimetry.errors import InputFileError, UnsupportedDataError
from dosimetry.io import load_dose, load_plan, load_structure_set, read_dose_header
from dosimetry.plan import RadiationType
from dosimetry.structures import ContourGeometricType


def _bundled(name: str) -> str:
    path = get_testdata_file(name, download=False)
    assert path is not None, f"{name} is not bundled with this pydicom"
    return str(path)


def _independent_reference() -> np.ndarray:
    """Values straight from pydicom (HFS, ascending relative offsets): frames are z, rows y, columns x."""
    ds = pydicom.dcmread(_bundled("rtdose.dcm"))
    return ds.pixel_array.astype(np.float64) * float(ds.DoseGridScaling)


def test_relative_units_refused_then_read_with_normalisation() -> None:
    with pytest.raises(UnsupportedDataError, match="DoseUnits is RELATIVE"):
        load_dose(_bundled("rtdose.dcm"))
    dose = load_dose(_bundled("rtdose.dcm"), normalisation_gy=1.0)
    assert dose.dose_type is DoseType.PHYSICAL and dose.summation_type is DoseSummationType.BEAM
    assert dose.grid.shape_zyx == (15, 10, 10)
    np.testing.assert_allclose(dose.grid.x_mm, 189.43125 + 10.0 * np.arange(10))
    np.testing.assert_allclose(dose.grid.y_mm, 199.43125 + 10.0 * np.arange(10))
    np.testing.assert_allclose(dose.grid.z_mm, -761.87 + 5.0 * np.arange(15))
    np.testing.assert_allclose(dose.dose_gy, _independent_reference())
    assert dose.referenced_plan_uid == "1.2.123.456.78.9.0123.4567.89012345678901"


@pytest.mark.parametrize("name", ["rtdose_expb.dcm", "rtdose_rle.dcm"])
def test_big_endian_and_rle_equal_little_endian(name: str) -> None:
    reference = load_dose(_bundled("rtdose.dcm"), normalisation_gy=1.0)
    dose = load_dose(_bundled(name), normalisation_gy=1.0)
    assert dose.grid.same_as(reference.grid)
    np.testing.assert_array_equal(dose.dose_gy, reference.dose_gy)
    assert read_dose_header(_bundled(name)).transfer_syntax_uid in ("1.2.840.10008.1.2.2", "1.2.840.10008.1.2.5")


@pytest.mark.parametrize("name", ["rtdose_1frame.dcm", "rtdose_expb_1frame.dcm", "rtdose_rle_1frame.dcm"])
def test_single_frame_with_leftover_offset_vector(name: str) -> None:
    dose = load_dose(_bundled(name), normalisation_gy=1.0)
    assert dose.grid.shape_zyx == (1, 10, 10)
    np.testing.assert_allclose(dose.grid.z_edges_mm, [-764.37, -759.37])  # first 5 mm step used as thickness
    assert any("SliceThickness" in w for w in dose.warnings)
    np.testing.assert_allclose(dose.dose_gy[0], _independent_reference()[0])


def test_rt_plan() -> None:
    plan = load_plan(_bundled("rtplan.dcm"))
    assert plan.fractions_planned == 30
    (beam,) = plan.fraction_groups[0].beams
    assert beam.radiation_type is RadiationType.PHOTON and beam.dose_per_fraction_gy == pytest.approx(1.0275401)
    assert plan.target_prescription_dose_gy == pytest.approx(30.826203)
    assert {p.dose_reference_type for p in plan.prescriptions} == {"TARGET", "ORGAN_AT_RISK"}
    assert plan.label == "Plan1" and plan.approval_status == "UNAPPROVED"
    assert plan.manufacturer == "Manufacturer name here"
    assert plan.referenced_structure_set_uid == "1.2.333.444.55.6.7777.88888"


def test_truncated_plan_refused() -> None:
    with pytest.raises(InputFileError, match=r"truncated file: \(300A,00B0\) BeamSequence holds 711 of its 976 declared bytes"):
        load_plan(_bundled("rtplan_truncated.dcm"))


def test_rt_struct_without_preamble() -> None:
    ss = load_structure_set(_bundled("rtstruct.dcm"))
    assert [(r.name, r.interpreted_type) for r in ss.rois] == [("patient", "EXTERNAL"), ("Isocenter 1", "ISOCENTER"), ("Isocenter 2", "ISOCENTER")]
    body = ss.roi("patient")
    assert [c.geometric_type for c in body.contours] == [ContourGeometricType.CLOSED_PLANAR] * 3
    np.testing.assert_allclose(body.contour_planes_mm(), [-200.0, -190.0, -180.0])
    assert ss.roi("Isocenter 1").contours[0].geometric_type is ContourGeometricType.POINT
    assert body.color_rgb == (220, 160, 120)
    assert ss.frame_of_reference_uid == "1.2.826.0.1.3680043.8.498.2010020400001.2"


def test_inspect_vendor_dose_reports_units_and_missing_plan(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["inspect", _bundled("rtdose.dcm")])
    out, err = capsys.readouterr()
    assert code == 2 and err == ""
    assert "DoseUnits is RELATIVE, expected GY" in out and "not among the scanned files" in out
