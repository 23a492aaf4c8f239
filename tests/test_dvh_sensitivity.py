"""Convention sensitivity (dosimetry.dvh.sensitivity) and ``dosimetry dvh --convention-spread``.

Oracle: closed-form slab geometry. A 4 x 4 x 20 mm box lying along y is contoured on two planes
3 mm apart (z = +-1.5 mm) in a 2 Gy/mm SI gradient: truncated gives 4 x 20 x 3 mm^3, half-slab
4 x 20 x 6 mm^3 (twice as much), so the volume spread is 67 % of their mean, and the maximum dose
moves with the upper end of the solid, by 1.5 mm x 2 Gy/mm = 3 Gy between truncated and half-slab
(more than the 1 Gy threshold). A 60 mm wide box on 30 planes 1 mm apart moves by 3 % in volume (29 against 30 mm thick)
and its mean not at all (symmetric): not flagged for volume or mean.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks.phantoms import write_case
from dosimetry.cli.main import main
from dosimetry.dose import DoseGrid, DoseSummationType, DoseType
from dosimetry.dvh.sensitivity import convention_sensitivity
from dosimetry.grid import RectilinearGrid
from dosimetry.structures import Contour, ContourGeometricType, Roi


def box(number: int, name: str, half_x: float, half_y: float, planes: np.ndarray) -> Roi:
    x = np.array([-half_x, half_x, half_x, -half_x])
    y = np.array([-half_y, -half_y, half_y, half_y])
    contours = tuple(
        Contour(np.column_stack([x, y, np.full(4, z)]), ContourGeometricType.CLOSED_PLANAR) for z in planes
    )
    return Roi(number, name, "ORGAN", contours)


def dose_si(gradient_gy_per_mm: float) -> DoseGrid:
    axis = np.arange(-40.0, 40.5, 1.0)
    grid = RectilinearGrid(axis, axis, np.arange(-20.0, 20.5, 1.0))
    z, _, _ = np.meshgrid(grid.z_mm, grid.y_mm, grid.x_mm, indexing="ij")
    return DoseGrid(grid=grid, dose_gy=40.0 + gradient_gy_per_mm * z, dose_type=DoseType.PHYSICAL,
                    summation_type=DoseSummationType.PLAN, frame_of_reference_uid="1.2.3")


def test_small_roi_flagged_large_not() -> None:
    small = box(1, "small", 2.0, 10.0, np.array([-1.5, 1.5]))
    large = box(2, "large", 30.0, 30.0, np.arange(-14.5, 15.0, 1.0))
    result = {s.roi_name: s for s in convention_sensitivity(dose_si(2.0), [small, large], ["Max[Gy]", "Mean[Gy]"])}
    spreads = {q.quantity: q for q in result["small"].spreads}
    volumes = dict(spreads["volume_cc"].by_convention)
    assert volumes["truncated"] == pytest.approx(4 * 20 * 3 / 1000)
    assert volumes["half-slab"] == pytest.approx(4 * 20 * 6 / 1000)
    assert spreads["volume_cc"].flagged
    max_by = dict(spreads["Max[Gy]"].by_convention)
    assert max_by["half-slab"] - max_by["truncated"] == pytest.approx(3.0, abs=0.05)
    assert spreads["Max[Gy]"].flagged and result["small"].flagged
    large_spreads = {q.quantity: q for q in result["large"].spreads}
    assert not large_spreads["volume_cc"].flagged and not large_spreads["Mean[Gy]"].flagged


def test_cli_convention_spread(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    small = box(1, "small", 2.0, 10.0, np.array([-1.5, 1.5]))
    rd, rs = write_case(dose_si(2.0), [small], tmp_path, seed="spread")
    assert main(["dvh", "--dose", str(rd), "--structures", str(rs), "--metric", "Max[Gy]", "--convention-spread", "--json", "-"]) == 0
    (entry,) = json.loads(capsys.readouterr().out)["convention_sensitivity"]
    assert entry["flagged"] and {s["quantity"] for s in entry["spreads"]} == {"volume_cc", "Max[Gy]"}


@pytest.mark.parametrize("metric", ["Max[cGy]", "max[gy]", "D0.03cc[cGy]"])
def test_dose_spread_flagged_in_any_dose_unit_spelling(metric: str) -> None:
    """Oracle: the closed-form slab of the module docstring: the top of the small box moves by
    1.5 mm x 2 Gy/mm = 3 Gy = 300 cGy between truncated and half-slab, beyond the 1 Gy (100 cGy)
    threshold whatever the unit or its case (the metric grammar is case-insensitive)."""
    small = box(1, "small", 2.0, 10.0, np.array([-1.5, 1.5]))
    (result,) = convention_sensitivity(dose_si(2.0), [small], [metric])
    spread = {q.quantity: q for q in result.spreads}[metric]
    scale = 100.0 if "cgy" in metric.lower() else 1.0
    assert spread.spread is not None and spread.spread > 2.0 * scale
    assert spread.flagged


def test_small_cgy_spread_not_flagged() -> None:
    """Oracle: the large box of the module docstring is symmetric about the gradient's centre, so
    its mean does not move between conventions (well under 100 cGy): not flagged in cGy."""
    large = box(2, "large", 30.0, 30.0, np.arange(-14.5, 15.0, 1.0))
    (result,) = convention_sensitivity(dose_si(2.0), [large], ["Mean[cGy]"])
    spread = {q.quantity: q for q in result.spreads}["Mean[cGy]"]
    assert spread.spread is not None and spread.spread < 100.0 and not spread.flagged


def single_plane_roi() -> Roi:
    return box(1, "single", 5.0, 5.0, np.array([0.0]))


def dose_on(z_step_mm: float) -> DoseGrid:
    axis = np.arange(-20.0, 20.5, 1.0)
    grid = RectilinearGrid(axis, axis, np.arange(-12.0, 12.0 + 0.5 * z_step_mm, z_step_mm))
    return DoseGrid(grid=grid, dose_gy=np.full(grid.shape_zyx, 50.0), dose_type=DoseType.PHYSICAL,
                    summation_type=DoseSummationType.PLAN, frame_of_reference_uid="1.2.3")


def test_geometry_cache_is_keyed_by_the_grid() -> None:
    """Oracle: closed-form slab. A 10 x 10 mm square on a single plane takes the dose grid's slice
    thickness there as its slab (half-slab): 100 mm^2 x 1 mm on a 1 mm grid, x 3 mm on a 3 mm
    grid. The geometry memo (geometry_for_grid) shared by the two calls must not carry the first
    grid's slab into the second."""
    roi = single_plane_roi()
    (fine,) = convention_sensitivity(dose_on(1.0), [roi], ["Mean[Gy]"])
    (coarse,) = convention_sensitivity(dose_on(3.0), [roi], ["Mean[Gy]"])
    volume = {s.roi_name: dict({q.quantity: q for q in s.spreads}["volume_cc"].by_convention) for s in (fine,)}
    assert volume["single"]["half-slab"] == pytest.approx(0.1)
    coarse_volume = dict({q.quantity: q for q in coarse.spreads}["volume_cc"].by_convention)
    assert coarse_volume["half-slab"] == pytest.approx(0.3)


def test_cli_convention_spread_honours_supersample(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    """Oracle: the command's own per-ROI result under --end-cap half-slab with the same
    --supersample (another code path: compute_dvhs), and the closed-form slab of the module
    docstring for the volume. With --supersample 1 and 8 the half-slab Max of the spread table
    is the one the ROI row reports for that supersampling (they differ: the box's edges fall
    inside voxels)."""
    small = box(1, "small", 2.3, 10.0, np.array([-1.5, 1.5]))
    rd, rs = write_case(dose_si(2.0), [small], tmp_path, seed="spread-ss")
    seen = {}
    for n in ("1", "8"):
        argv = ["dvh", "--dose", str(rd), "--structures", str(rs), "--metric", "Mean[Gy]", "--supersample", n,
                "--convention-spread", "--json", "-"]
        assert main(argv) == 0
        out = json.loads(capsys.readouterr().out)
        (entry,) = out["convention_sensitivity"]
        by = {s["quantity"]: dict(s["by_convention"]) for s in entry["spreads"]}
        (row,) = out["structures"]
        assert by["Mean[Gy]"]["half-slab"] == pytest.approx(row["metrics"]["Mean[Gy]"], abs=1e-9)
        assert by["volume_cc"]["half-slab"] == pytest.approx(4.6 * 20 * 6 / 1000, rel=1e-6)
        seen[n] = by["Mean[Gy]"]["half-slab"]
    assert seen["1"] != seen["8"]


def test_a_given_dvh_is_used_as_it_is_and_gives_the_full_computation() -> None:
    """Oracle: the full computation (every convention sampled here) -- the spreads, values and flags
    with the default convention's DVHs passed in (as ``dosimetry analyze`` passes the DVH stage's)
    are those without; and a marker DVH passed for one convention is the one used for it."""
    from dataclasses import replace

    from dosimetry.dvh import compute_dvh
    from dosimetry.dvh.endcaps import DEFAULT_END_CAP

    dose = dose_si(2.0)
    rois = [box(1, "small", 2.0, 10.0, np.array([-1.5, 1.5])), box(2, "large", 30.0, 30.0, np.arange(-14.5, 15.0, 1.0))]
    metrics = ["Max[Gy]", "Mean[Gy]", "D0.03cc[Gy]", "V41Gy[%]"]
    full = convention_sensitivity(dose, rois, metrics)
    stage = {(r.name, DEFAULT_END_CAP): compute_dvh(dose, r, end_cap=DEFAULT_END_CAP, bin_width_gy=0.01) for r in rois}
    assert convention_sensitivity(dose, rois, metrics, computed=stage) == full
    marker = replace(stage[("small", DEFAULT_END_CAP)], volume_cc=123.0)
    (small,) = convention_sensitivity(dose, rois[:1], ["Max[Gy]"], computed={("small", DEFAULT_END_CAP): marker})
    assert dict(small.spreads[0].by_convention)[DEFAULT_END_CAP.value] == 123.0
