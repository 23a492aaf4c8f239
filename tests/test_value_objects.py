"""Shared value objects: canonical grid geometry, dose grids, structures, plans, registrations."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dosimetry.dose import DoseGrid, DoseSummationType, DoseType
from dosimetry.errors import ConsistencyError, DicomContentError, GeometryError
from dosimetry.grid import RectilinearGrid
from dosimetry.plan import Beam, FractionGroup, Plan, PlanKind, RadiationType
from dosimetry.registration import RigidRegistration
from dosimetry.structures import Contour, ContourGeometricType, Roi, StructureSet


def test_uniform_grid_volumes_by_hand() -> None:
    grid = RectilinearGrid.uniform((-10.0, 0.0, 5.0), (2.0, 2.5, 3.0), (4, 5, 6))
    assert grid.shape_zyx == (4, 5, 6)
    assert grid.spacing_x_mm == pytest.approx(2.0)
    assert grid.spacing_y_mm == pytest.approx(2.5)
    # 2 x 2.5 x 3 mm = 15 mm^3 = 0.015 cc per voxel, 120 voxels
    assert grid.voxel_volume_cc() == pytest.approx([0.015] * 4)
    assert grid.total_volume_cc() == pytest.approx(1.8)
    assert grid.bounds_mm() == ((-11.0, 1.0), (-1.25, 11.25), (3.5, 15.5))


def test_non_uniform_z_edges_are_midpoints() -> None:
    grid = RectilinearGrid(x_mm=[0.0, 1.0], y_mm=[0.0, 1.0], z_mm=[0.0, 2.0, 3.0, 7.0])
    assert grid.z_edges_mm == pytest.approx([-1.0, 1.0, 2.5, 5.0, 9.0])
    assert grid.slice_thickness_mm == pytest.approx([2.0, 1.5, 2.5, 4.0])
    assert not grid.z_is_uniform


@pytest.mark.parametrize(
    "kwargs",
    [
        {"x_mm": [0.0, 2.0, 1.0], "y_mm": [0.0, 1.0], "z_mm": [0.0, 1.0]},  # not increasing
        {"x_mm": [0.0, 1.0, 3.0], "y_mm": [0.0, 1.0], "z_mm": [0.0, 1.0]},  # x not uniform
        {"x_mm": [0.0, 1.0], "y_mm": [0.0, 1.0], "z_mm": [0.0]},  # single slice without thickness
        {"x_mm": [], "y_mm": [0.0, 1.0], "z_mm": [0.0, 1.0]},
        {"x_mm": [0.0, np.nan], "y_mm": [0.0, 1.0], "z_mm": [0.0, 1.0]},
    ],
)
def test_bad_grids_are_refused(kwargs: dict[str, list[float]]) -> None:
    with pytest.raises(GeometryError):
        RectilinearGrid(**kwargs)


def test_single_slice_grid_with_thickness() -> None:
    grid = RectilinearGrid(x_mm=[0.0, 1.0], y_mm=[0.0, 1.0], z_mm=[4.0], single_slice_thickness_mm=3.0)
    assert grid.z_edges_mm == pytest.approx([2.5, 5.5])


def _dose(values: np.ndarray) -> DoseGrid:
    return DoseGrid(
        grid=RectilinearGrid.uniform((0.0, 0.0, 0.0), (1.0, 1.0, 1.0), values.shape),
        dose_gy=values,
        dose_type=DoseType.PHYSICAL,
        summation_type=DoseSummationType.PLAN,
        frame_of_reference_uid="1.2.3",
    )


def test_dose_grid_is_read_only_and_shape_checked() -> None:
    dose = _dose(np.ones((2, 3, 4)))
    with pytest.raises(ValueError):
        dose.dose_gy[0, 0, 0] = 5.0
    with pytest.raises(GeometryError, match="does not match grid shape"):
        DoseGrid(
            grid=RectilinearGrid.uniform((0.0, 0.0, 0.0), (1.0, 1.0, 1.0), (2, 3, 4)),
            dose_gy=np.ones((4, 3, 2)),
            dose_type=DoseType.PHYSICAL,
            summation_type=DoseSummationType.PLAN,
            frame_of_reference_uid="1.2.3",
        )
    with pytest.raises(GeometryError, match="non-finite"):
        _dose(np.full((2, 2, 2), np.inf))


def test_structure_set_lookup() -> None:
    contour = Contour(points_mm=[[0, 0, 1], [1, 0, 1], [1, 1, 1]], geometric_type=ContourGeometricType.CLOSED_PLANAR)
    rois = (
        Roi(number=1, name="BrainStem", interpreted_type="ORGAN", contours=(contour,)),
        Roi(number=2, name="PTV", interpreted_type="PTV", contours=()),
    )
    ss = StructureSet(rois=rois, frame_of_reference_uid="1.2.3")
    assert ss.roi("brainstem").number == 1
    assert ss.roi("PTV").is_empty
    assert rois[0].contour_planes_mm() == pytest.approx([1.0])
    with pytest.raises(DicomContentError, match="no ROI named 'Cord'"):
        ss.roi("Cord")


def test_plan_fractions_must_be_consistent() -> None:
    beam = Beam(number=1, name="B1", radiation_type=RadiationType.ION, dose_per_fraction_gy=1.25, atomic_number=6, mass_number=12)
    plan = Plan(
        sop_instance_uid="1.2",
        kind=PlanKind.RT_ION_PLAN,
        label="NPC",
        name="",
        frame_of_reference_uid="1.2.3",
        fraction_groups=(FractionGroup(1, 22, (beam,)),),
    )
    assert plan.fractions_planned == 22
    assert plan.radiation_types == frozenset({RadiationType.ION})
    empty = Plan("1.3", PlanKind.RT_PLAN, "x", "", "1.2.3", fraction_groups=())
    with pytest.raises(ConsistencyError, match="FractionGroupSequence"):
        _ = empty.fractions_planned
    split = Plan("1.4", PlanKind.RT_PLAN, "x", "", "1.2.3", (FractionGroup(1, 20, ()), FractionGroup(2, 5, ())))
    with pytest.raises(ConsistencyError, match="different fraction counts"):
        _ = split.fractions_planned


@given(
    angle=st.floats(-np.pi, np.pi),
    t=st.tuples(*[st.floats(-100, 100)] * 3),
)
def test_rigid_registration_inverse_round_trip(angle: float, t: tuple[float, float, float]) -> None:
    c, s = np.cos(angle), np.sin(angle)
    m = np.eye(4)
    m[:3, :3] = [[c, -s, 0], [s, c, 0], [0, 0, 1]]
    m[:3, 3] = t
    reg = RigidRegistration("prior", "current", m)
    assert reg.is_rigid
    pts = np.array([[1.0, 2.0, 3.0], [-40.0, 10.0, 0.5]])
    back = reg.inverse().map_points(reg.map_points(pts))
    assert back == pytest.approx(pts, abs=1e-9)
    assert reg.inverse().source_frame_uid == "current"


def test_registration_matrix_validated() -> None:
    bad = np.eye(4)
    bad[3, 0] = 1.0
    with pytest.raises(GeometryError):
        RigidRegistration("a", "b", bad)
    not_finite = np.eye(4)
    not_finite[0, 3] = np.nan  # used to be accepted and map every point to nan
    with pytest.raises(GeometryError, match="finite"):
        RigidRegistration("a", "b", not_finite)


def test_target_prescription_only_from_target_dose_references() -> None:
    """(300A,0026) TargetPrescriptionDose is the prescription only in a TARGET dose reference (PS3.3
    C.8.8.10); an ORGAN_AT_RISK item carrying one (70 Gy here) must not become the 60 Gy plan's prescription."""
    from dosimetry.plan import Prescription

    target = Prescription(1, "VOLUME", "PTV", "TARGET", target_prescription_dose_gy=60.0)
    oar = Prescription(2, "VOLUME", "Brainstem", "ORGAN_AT_RISK", target_prescription_dose_gy=70.0, organ_at_risk_maximum_dose_gy=54.0)
    plan = Plan("1.5", PlanKind.RT_PLAN, "x", "", "1.2.3", (FractionGroup(1, 30, ()),), prescriptions=(target, oar))
    assert plan.target_prescription_dose_gy == 60.0
    only_oar = Plan("1.6", PlanKind.RT_PLAN, "x", "", "1.2.3", (FractionGroup(1, 30, ()),), prescriptions=(oar,))
    assert only_oar.target_prescription_dose_gy is None
