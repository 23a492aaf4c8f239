"""``dosimetry dvh`` shares the ROIs with a forked process (:mod:`dosimetry.dvh._fork`): the same
outcomes as one ``compute_dvhs`` call, ROI by ROI and array by array (sample patient, both end
caps), the same JSON from the command; a child that fails leaves its ROIs to this process (same
numbers, a warning), and an error in this process still propagates."""

from __future__ import annotations

import json
import logging
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from dosimetry.cli.main import main
from dosimetry.dvh import _fork
from dosimetry.dvh.compute import BatchDvh, compute_dvhs
from dosimetry.dvh.rasterise import clear_geometry_cache
from dosimetry.io import load_dose, load_structure_set

CURRENT = Path(__file__).resolve().parents[1] / "sample_data" / "patient01" / "current"
RD = CURRENT / "RD_patient01.dcm"
RS = CURRENT / "RS_patient01.dcm"

needs_fork = pytest.mark.skipif(not _fork.can_fork(), reason="no fork here (not Linux, one core, or other threads)")


def _assert_same(shared: tuple[BatchDvh, ...], plain: tuple[BatchDvh, ...]) -> None:
    assert len(shared) == len(plain)
    for a, b in zip(shared, plain, strict=True):
        assert a.roi is b.roi
        assert (a.dvh is None) == (b.dvh is None)
        assert str(a.error) == str(b.error) and type(a.error) is type(b.error)
        if a.dvh is None or b.dvh is None:
            continue
        for name in ("roi_name", "roi_number", "volume_cc", "volume_in_dose_grid_cc", "volume_outside_dose_grid_cc",
                     "min_gy", "max_gy", "mean_gy", "median_gy", "end_cap", "supersample", "dose_type", "warnings"):
            assert getattr(a.dvh, name) == getattr(b.dvh, name), name
        np.testing.assert_array_equal(a.dvh.bin_edges_gy, b.dvh.bin_edges_gy)
        np.testing.assert_array_equal(a.dvh.cumulative_cc, b.dvh.cumulative_cc)
        np.testing.assert_array_equal(a.dvh.edge_mass_cc, b.dvh.edge_mass_cc)


def _wait_for(flag: Path) -> None:
    """Until the child has taken its first ROI (the test's own synchronisation, not a timing)."""
    for _ in range(6000):
        if flag.exists():
            return
        time.sleep(0.01)
    pytest.fail("the forked child took no ROI in 60 s")


def _shared_with_child_doing(
    in_child: Callable[[], None], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> list[str]:
    """compute_dvhs_shared of the sample patient's first 6 ROIs with ``in_child`` run by the child
    when it takes its first ROI (this process waits until it has); asserts the outcomes equal one batch's and returns the warnings logged."""
    dose = load_dose(RD)
    rois = list(load_structure_set(RS).rois)[:6]
    parent = os.getpid()
    real = _fork.compute_dvhs
    started = tmp_path / "child_started"

    def patched(*args, **kwargs):  # type: ignore[no-untyped-def]
        if os.getpid() != parent:
            started.touch()
            in_child()
        else:
            _wait_for(started)
        return real(*args, **kwargs)

    monkeypatch.setattr(_fork, "compute_dvhs", patched)
    with caplog.at_level(logging.WARNING, logger="dosimetry.dvh._fork"):
        shared = _fork.compute_dvhs_shared(dose, rois, bin_width_gy=0.01, end_cap="half-slab", supersample=None)
    _assert_same(shared, real(dose, rois, bin_width_gy=0.01, end_cap="half-slab"))
    return [r.getMessage() for r in caplog.records]


@needs_fork
@pytest.mark.parametrize("end_cap", ["half-slab", "shape"])
def test_shared_equals_one_batch(end_cap: str, caplog: pytest.LogCaptureFixture) -> None:
    dose = load_dose(RD)
    rois = list(load_structure_set(RS).rois)
    clear_geometry_cache()
    with caplog.at_level(logging.DEBUG, logger="dosimetry.dvh._fork"):
        shared = _fork.compute_dvhs_shared(dose, rois, bin_width_gy=0.01, end_cap=end_cap, supersample=None)
    clear_geometry_cache()
    plain = compute_dvhs(dose, rois, bin_width_gy=0.01, end_cap=end_cap)
    _assert_same(shared, plain)
    assert any("computed by a forked child" in r.getMessage() for r in caplog.records)
    assert not any(r.levelno >= logging.WARNING for r in caplog.records)


@needs_fork
def test_failing_child_leaves_its_rois_here(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    def fail() -> None:
        raise MemoryError("simulated failure of the forked process")

    messages = _shared_with_child_doing(fail, monkeypatch, caplog, tmp_path)
    assert any("computed here" in m for m in messages)


@needs_fork
def test_error_here_propagates(monkeypatch: pytest.MonkeyPatch) -> None:
    dose = load_dose(RD)
    rois = list(load_structure_set(RS).rois)[:6]
    parent = os.getpid()
    real = _fork.compute_dvhs

    def failing_here(*args, **kwargs):  # type: ignore[no-untyped-def]
        if os.getpid() == parent:
            raise ValueError("simulated error in this process")
        return real(*args, **kwargs)

    monkeypatch.setattr(_fork, "compute_dvhs", failing_here)
    with pytest.raises(ValueError, match="simulated error in this process"):
        _fork.compute_dvhs_shared(dose, rois, bin_width_gy=0.01, end_cap="half-slab", supersample=None)
    with pytest.raises(ChildProcessError):  # the child was waited for
        os.waitpid(-1, os.WNOHANG)


def test_no_fork_is_one_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    dose = load_dose(RD)
    rois = list(load_structure_set(RS).rois)[:4]
    monkeypatch.setattr(_fork, "can_fork", lambda: False)
    monkeypatch.setattr(_fork.os, "fork", lambda: pytest.fail("forked"))
    _assert_same(
        _fork.compute_dvhs_shared(dose, rois, bin_width_gy=0.01, end_cap="half-slab", supersample=None),
        compute_dvhs(dose, rois, bin_width_gy=0.01, end_cap="half-slab"),
    )


@needs_fork
@pytest.mark.parametrize("end_cap", ["half-slab", "shape"])
def test_command_json_same_with_and_without_fork(end_cap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    args = ["dvh", "--dose", str(RD), "--structures", str(RS), "--end-cap", end_cap, "--metric", "D95%[Gy]",
            "--metric", "Mean[Gy]", "--metric", "V20Gy[%]"]
    clear_geometry_cache()
    assert main([*args, "--json", str(tmp_path / "shared.json")]) == 0
    clear_geometry_cache()
    monkeypatch.setattr(_fork, "can_fork", lambda: False)
    assert main([*args, "--json", str(tmp_path / "alone.json")]) == 0
    shared = (tmp_path / "shared.json").read_bytes()
    assert shared == (tmp_path / "alone.json").read_bytes()
    assert len(json.loads(shared)["structures"]) == 18


@needs_fork
def test_killed_child_leaves_its_rois_here(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """The child killed in its first ROI (as by the kernel's out-of-memory killer)."""
    messages = _shared_with_child_doing(lambda: os.kill(os.getpid(), signal.SIGKILL), monkeypatch, caplog, tmp_path)
    assert any("exit code -9" in m for m in messages)


@needs_fork
def test_stuck_child_is_stopped_and_its_rois_computed_here(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """A child that never finishes its ROI (as one stuck on a lock the fork copied held) does not make
    the command hang: after the wait limit it is stopped, its ROIs are computed here (same numbers),
    and a warning says so."""
    monkeypatch.setattr(_fork, "child_wait_limit_s", lambda own_share_s: 0.5)
    messages = _shared_with_child_doing(lambda: time.sleep(3600), monkeypatch, caplog, tmp_path)
    assert any("still running" in m and "stopped" in m for m in messages)
    assert any("exit code -9" in m for m in messages)
    with pytest.raises(ChildProcessError):  # the child was waited for
        os.waitpid(-1, os.WNOHANG)


def test_child_wait_limit() -> None:
    assert _fork.child_wait_limit_s(0.2) == _fork.CHILD_WAIT_MIN_S
    assert _fork.child_wait_limit_s(30.0) == 30.0 * _fork.CHILD_WAIT_FACTOR
