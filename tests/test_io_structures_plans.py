"""RT Structure Set and RT Plan / RT Ion Plan details."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dosimetry.errors import ConsistencyError, DicomContentError, UnsupportedDataError
from dosimetry.io import contour_plane_spacing_mm, load_plan, load_structure_set
from dosimetry.plan import PlanKind, RadiationType
from dosimetry.structures import ContourGeometricType
from tests import dicom_factory as f


def test_several_contours_per_plane_and_holes(tmp_path: Path) -> None:
    outer = f.square_contour(0, 0, 0, 20)
    hole = f.square_contour(0, 0, 0, 5)
    island = f.square_contour(60, 0, 0, 5)
    roi = f.RoiSpec(1, "Parotid_L", "ORGAN", (("CLOSED_PLANAR", outer), ("CLOSED_PLANAR", hole), ("CLOSED_PLANAR", island),
                                              ("CLOSED_PLANAR", f.square_contour(0, 0, 3, 20))), (0, 128, 255))
    ss = load_structure_set(f.make_rt_struct(tmp_path, rois=[roi]))
    r = ss.roi("parotid_l")  # case-insensitive lookup
    assert len(r.closed_planar_contours) == 4
    assert sum(1 for c in r.contours if c.z_mm == 0.0) == 3  # outer, hole and island kept separately
    np.testing.assert_allclose(r.contour_planes_mm(), [0.0, 3.0])
    assert contour_plane_spacing_mm(r) == pytest.approx(3.0)
    assert r.color_rgb == (0, 128, 255)
    assert ss.warnings == ()


def test_point_open_and_empty_rois(tmp_path: Path) -> None:
    rois = [
        f.RoiSpec(1, "Iso", "ISOCENTER", (("POINT", np.array([[1.0, 2.0, 3.0]])),)),
        f.RoiSpec(2, "Line", "MARKER", (("OPEN_PLANAR", np.array([[0, 0, 0], [10, 0, 0.0]])),)),
        f.RoiSpec(3, "Nothing", "ORGAN", ()),
        f.box_roi(4, "PTV", (0, 0), 10, [0.0, 3.0, 6.0], "PTV"),
    ]
    ss = load_structure_set(f.make_rt_struct(tmp_path, rois=rois))
    iso = ss.roi("Iso")
    assert iso.contours[0].geometric_type is ContourGeometricType.POINT
    np.testing.assert_allclose(iso.contours[0].points_mm, [[1, 2, 3]])
    assert ss.roi("Line").is_empty  # OPEN_PLANAR ignored...
    assert any("'Line'" in w and "OPEN_PLANAR" in w and "ignored" in w for w in ss.warnings)  # ...with a warning
    assert any("'Nothing'" in w and "empty" in w for w in ss.warnings)
    assert ss.roi("PTV").interpreted_type == "PTV"
    assert [r.number for r in ss.rois] == [1, 2, 3, 4]


def test_uneven_contour_planes_reported(tmp_path: Path) -> None:
    ss = load_structure_set(f.make_rt_struct(tmp_path, rois=[f.box_roi(1, "CTV", (0, 0), 5, [0, 3, 6, 12, 15])]))
    assert any("unevenly spaced" in w for w in ss.warnings)
    assert contour_plane_spacing_mm(ss.roi("CTV")) == pytest.approx(3.0)


def test_missing_roi_sequence(tmp_path: Path) -> None:
    path = f.make_rt_struct(tmp_path, rois=[f.box_roi(1, "A", (0, 0), 5, [0])], edit=lambda ds: delattr(ds, "StructureSetROISequence"))
    with pytest.raises(DicomContentError, match=r"\(3006,0020\) StructureSetROISequence is missing"):
        load_structure_set(path)


def test_contour_data_not_triplets(tmp_path: Path) -> None:
    def edit(ds):  # type: ignore[no-untyped-def]
        ds.ROIContourSequence[0].ContourSequence[0].ContourData = [0, 0, 0, 1, 1]

    with pytest.raises(DicomContentError, match="expected a multiple of 3"):
        load_structure_set(f.make_rt_struct(tmp_path, rois=[f.box_roi(1, "A", (0, 0), 5, [0])], edit=edit))


def test_unknown_roi_reference_warned(tmp_path: Path) -> None:
    def edit(ds):  # type: ignore[no-untyped-def]
        ds.ROIContourSequence[0].ReferencedROINumber = 99

    ss = load_structure_set(f.make_rt_struct(tmp_path, rois=[f.box_roi(1, "A", (0, 0), 5, [0])], edit=edit))
    assert any("ROI 99" in w for w in ss.warnings)
    assert ss.roi("A").is_empty


def test_plan_without_fractions(tmp_path: Path) -> None:
    plan = load_plan(f.make_rt_plan(tmp_path, fractions=None))
    assert plan.fraction_groups == ()
    assert any("FractionGroupSequence" in w for w in plan.warnings)
    with pytest.raises(ConsistencyError, match="RP.dcm"):
        plan.fractions_planned


def test_fraction_group_without_count(tmp_path: Path) -> None:
    def edit(ds):  # type: ignore[no-untyped-def]
        ds.FractionGroupSequence[0].NumberOfFractionsPlanned = None

    plan = load_plan(f.make_rt_plan(tmp_path, edit=edit))
    assert any("(300A,0078) NumberOfFractionsPlanned" in w for w in plan.warnings)
    with pytest.raises(ConsistencyError):
        plan.fractions_planned


def test_proton_plan(tmp_path: Path) -> None:
    beams = (f.BeamSpec(1, "P1", "PROTON", 1.0), f.BeamSpec(2, "P2", "PROTON", 1.0))
    plan = load_plan(f.make_rt_plan(tmp_path, beams=beams, ion=True, fractions=30))
    assert plan.kind is PlanKind.RT_ION_PLAN
    assert plan.radiation_types == frozenset({RadiationType.PROTON})


def test_ion_without_species_refused(tmp_path: Path) -> None:
    beams = (f.BeamSpec(1, "C1", "ION", 1.0),)
    with pytest.raises(DicomContentError, match=r"\(300A,0304\) RadiationAtomicNumber"):
        load_plan(f.make_rt_plan(tmp_path, beams=beams, ion=True))


def test_unknown_radiation_type(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedDataError, match="RadiationType"):
        load_plan(f.make_rt_plan(tmp_path, beams=(f.BeamSpec(1, "X", "GAMMA"),)))


def test_beam_dose_and_prescription(tmp_path: Path) -> None:
    beams = (f.BeamSpec(1, "A", "PHOTON", 0.8, 120.0), f.BeamSpec(2, "B", "PHOTON", 1.32, 140.0))
    plan = load_plan(f.make_rt_plan(tmp_path, beams=beams, fractions=33, prescription_gy=70.0, approval_status="UNAPPROVED"))
    group = plan.fraction_groups[0]
    assert [(b.number, b.dose_per_fraction_gy, b.meterset) for b in group.beams] == [(1, 0.8, 120.0), (2, 1.32, 140.0)]
    assert plan.prescriptions[0].dose_reference_type == "TARGET"
    assert plan.target_prescription_dose_gy == 70.0
    assert any("UNAPPROVED" in w for w in plan.warnings)


def test_fraction_group_references_unknown_beam(tmp_path: Path) -> None:
    def edit(ds):  # type: ignore[no-untyped-def]
        ds.FractionGroupSequence[0].ReferencedBeamSequence[1].ReferencedBeamNumber = 7

    plan = load_plan(f.make_rt_plan(tmp_path, edit=edit))
    assert [b.number for b in plan.fraction_groups[0].beams] == [1]
    assert any("beam 7" in w for w in plan.warnings)


def test_wrong_modality_for_plan_loader(tmp_path: Path) -> None:
    with pytest.raises(DicomContentError, match=r"\(0008,0016\) SOPClassUID is RT Dose .* expected RT Plan or RT Ion Plan"):
        load_plan(f.make_rt_dose(tmp_path))
