"""Step-1 loaders on ordinary HFS files: dose, plan, ion plan, structure set, registration."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dosimetry.dose import DoseSummationType, DoseType
from dosimetry.io import load_dose, load_plan, load_registration, load_structure_set
from dosimetry.plan import PlanKind, RadiationType
from dosimetry.structures import ContourGeometricType
from tests import dicom_factory as f


def test_hfs_dose_values_and_geometry(tmp_path: Path) -> None:
    path = f.make_rt_dose(tmp_path, shape_frc=(3, 4, 5), position_mm=(-10, -20, -30), pixel_spacing_mm=(2.0, 3.0),
                          offsets_mm=(0, 2.5, 5), dose_type="EFFECTIVE", referenced_plan_uid=f.uid("p"))
    dose = load_dose(path)
    # hand-computed geometry: x from IPP x by PixelSpacing[1]=3, y from IPP y by PixelSpacing[0]=2, z by offsets
    np.testing.assert_allclose(dose.grid.x_mm, [-10, -7, -4, -1, 2])
    np.testing.assert_allclose(dose.grid.y_mm, [-20, -18, -16, -14])
    np.testing.assert_allclose(dose.grid.z_mm, [-30, -27.5, -25])
    # voxel (z=-27.5, y=-16, x=-1): 100 + 0.01*-1 + 0.1*-16 + -27.5 = 70.89 Gy
    assert dose.dose_gy[1, 2, 3] == pytest.approx(70.89, abs=1e-4)
    assert dose.dose_type is DoseType.EFFECTIVE
    assert dose.summation_type is DoseSummationType.PLAN
    assert dose.referenced_plan_uid == f.uid("p")
    assert dose.source_path == path


def test_photon_plan(tmp_path: Path) -> None:
    plan = load_plan(f.make_rt_plan(tmp_path, fractions=33, prescription_gy=70.0, structure_set_uid=f.uid("ss")))
    assert plan.kind is PlanKind.RT_PLAN
    assert plan.fractions_planned == 33
    assert plan.radiation_types == frozenset({RadiationType.PHOTON})
    assert plan.target_prescription_dose_gy == 70.0
    assert plan.referenced_structure_set_uid == f.uid("ss")
    assert plan.manufacturer == "dosimetry tests" and plan.model_name == "SyntheticTPS"
    assert plan.approval_status == "APPROVED" and plan.label == "IMRT"


def test_carbon_ion_plan(tmp_path: Path) -> None:
    plan = load_plan(f.make_rt_ion_plan(tmp_path, fractions=22, dose_per_fraction_gy=2.5))
    assert plan.kind is PlanKind.RT_ION_PLAN
    assert plan.fractions_planned == 22
    beams = plan.fraction_groups[0].beams
    assert {(b.radiation_type, b.atomic_number, b.mass_number) for b in beams} == {(RadiationType.ION, 6, 12)}
    assert sum(b.dose_per_fraction_gy or 0 for b in beams) == pytest.approx(2.5)


def test_structure_set(tmp_path: Path) -> None:
    path = f.make_rt_struct(tmp_path, rois=[f.box_roi(3, "GTV", (1, 2), 5, [0, 3, 6], "GTV")], referenced_series_uid=f.uid("ct"))
    ss = load_structure_set(path)
    roi = ss.roi("GTV")
    assert roi.number == 3 and roi.interpreted_type == "GTV" and roi.color_rgb == (255, 0, 0)
    assert len(roi.contours) == 3 and roi.contours[0].geometric_type is ContourGeometricType.CLOSED_PLANAR
    np.testing.assert_allclose(roi.contours[1].points_mm[0], [-4, -3, 3])
    assert ss.frame_of_reference_uid == f.DEFAULT_IDENTITY.frame_of_reference_uid
    assert ss.referenced_series_uid == f.uid("ct")


def test_rigid_registration_direction(tmp_path: Path) -> None:
    matrix = f.rigid_matrix(10.0, (1.0, 2.0, 3.0))
    reg = load_registration(f.make_reg(tmp_path, source_frame_uid=f.uid("prior-frame"), matrix=matrix))
    assert reg.source_frame_uid == f.uid("prior-frame")
    assert reg.target_frame_uid == f.DEFAULT_IDENTITY.frame_of_reference_uid
    np.testing.assert_allclose(reg.map_points(np.array([[10.0, 0.0, 0.0]])), [[10 * np.cos(np.pi / 18) + 1, 10 * np.sin(np.pi / 18) + 2, 3]])
