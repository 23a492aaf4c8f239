"""A CT series of one slice (as in the anonymised photon breast export dicompyler-core ships, the
issue-20 real-size plan: 98 dose planes, one CT slice): the report draws the axial overlay and says
why the sagittal and coronal ones are not drawn, instead of an internal error from contourpy.

Oracles: the CT's own geometry (a plane needs two pixels along each of its axes; a plane through a
point outside the CT along its normal would show the CT's edge slice under another position's title).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import dosimetry
from dosimetry.grid import RectilinearGrid
from dosimetry.report.planes import PlaneAxis, plane_unavailable

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "patient01"


def _grid(nz: int) -> RectilinearGrid:
    return RectilinearGrid.uniform((-10.0, -20.0, 5.0), (1.0, 1.0, 3.0), (nz, 4, 5))


def test_one_slice_has_an_axial_plane_only() -> None:
    grid = _grid(1)  # z from 3.5 to 6.5 mm
    assert plane_unavailable(grid, PlaneAxis.AXIAL, (0.0, 0.0, 5.0)) is None
    assert plane_unavailable(grid, PlaneAxis.SAGITTAL, (-8.0, -18.0, 5.0)) == (
        "the CT has 1 pixel(s) along z (a sagittal plane needs at least 2)")
    assert plane_unavailable(grid, PlaneAxis.CORONAL, (-8.0, -18.0, 5.0)) == (
        "the CT has 1 pixel(s) along z (a coronal plane needs at least 2)")


def test_a_point_outside_the_ct_along_the_normal_is_refused_at_the_edges_accepted() -> None:
    grid = _grid(3)  # x edges -10.5 .. -5.5, y -20.5 .. -16.5, z 3.5 .. 12.5 mm
    assert plane_unavailable(grid, PlaneAxis.AXIAL, (0.0, 0.0, 12.5)) is None
    assert plane_unavailable(grid, PlaneAxis.AXIAL, (0.0, 0.0, 3.5)) is None
    assert plane_unavailable(grid, PlaneAxis.AXIAL, (0.0, 0.0, 12.6)) == (
        "z = 12.6 mm lies outside the CT (z from 3.5 to 12.5 mm)")
    assert plane_unavailable(grid, PlaneAxis.SAGITTAL, (-11.0, 0.0, 0.0)) == (
        "x = -11.0 mm lies outside the CT (x from -10.5 to -5.5 mm)")
    assert plane_unavailable(grid, PlaneAxis.CORONAL, (0.0, -16.0, 0.0)) == (
        "y = -16.0 mm lies outside the CT (y from -20.5 to -16.5 mm)")
    assert plane_unavailable(grid, PlaneAxis.SAGITTAL, (-8.0, 0.0, 0.0)) is None


@pytest.fixture(scope="module")
def one_slice_patient(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("one_slice") / "patient01"
    shutil.copytree(SAMPLE / "current", target / "current")
    slices = sorted((target / "current").glob("CT_*.dcm"))
    for ct in slices[: len(slices) // 2] + slices[len(slices) // 2 + 1:]:
        ct.unlink()
    return target


def test_analyze_with_a_one_slice_ct_writes_the_axial_overlay_and_says_why_not_the_others(
    one_slice_patient: Path, tmp_path: Path
) -> None:
    patient = dosimetry.load_patient(one_slice_patient)  # current/ only: the current course alone
    patient.write(tmp_path / "out", report_workers=0)
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert 'id="overlay-axial"' in html
    assert 'id="overlay-sagittal"' not in html and 'id="overlay-coronal"' not in html
    warnings = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))["warnings"]
    texts = [w if isinstance(w, str) else json.dumps(w) for w in warnings]
    for axis in ("sagittal", "coronal"):
        assert any(f"{axis} plane through" in t and f"a {axis} plane needs at least 2" in t for t in texts), texts
        assert f"a {axis} plane needs at least 2" in html
