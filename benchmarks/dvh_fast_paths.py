"""The hand-written fast paths of the DVH sampling against the plain way, on the sample patient.

Run:  PYTHONPATH=$PWD .venv/bin/python benchmarks/dvh_fast_paths.py

Reproduces the figures quoted at the top of the private modules of ``dosimetry.dvh``:

* ``_trilinear``: value and gradient at 200,000 random points of the current course's dose grid,
  against the value alone from scipy's ``RegularGridInterpolator`` (largest difference printed);
* ``_steep``: sub-samples of every steep voxel by fixed weights of the 27-neighbourhood (even n)
  against a trilinear evaluation at every sub-voxel centre (largest relative difference printed);
* ``_samples``: cumulative volume of the External at 0.01 Gy levels, arithmetic counting for equally
  spaced levels against ``np.searchsorted``.

Best of 7 runs each (caches warm), with the peak of traced Python allocations of one run.
Deterministic inputs: the sample patient and seed-0 random points; nothing downloaded.
"""

from __future__ import annotations

import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy.interpolate import RegularGridInterpolator

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from dosimetry.dvh._steep import _steep_samples_at_points, _steep_samples_in_cells  # noqa: E402
from dosimetry.dvh._voxel_stats import _interior_samples, whole_grid  # noqa: E402
from dosimetry.dvh.sampling import auto_supersample, cumulative_volume, roi_dose_samples, trilinear  # noqa: E402
from dosimetry.io import load_dose, load_structure_set  # noqa: E402

FOLDER = ROOT / "sample_data" / "patient01" / "current"


def timed(label: str, run: Callable[[], object], repeats: int = 7) -> None:
    run()
    best = min(_once(run) for _ in range(repeats))
    tracemalloc.start()
    run()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"{label:58s} {best * 1e3:8.2f} ms   peak {peak / 2**20:7.1f} MiB")


def _once(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def main() -> int:
    dose = load_dose(min(FOLDER.glob("RD*.dcm")))
    rois = load_structure_set(min(FOLDER.glob("RS*.dcm"))).rois
    grid = dose.grid
    print(f"dose grid (z, y, x) {grid.shape_zyx}, {grid.spacing_x_mm} x {grid.spacing_y_mm} mm")

    rng = np.random.default_rng(0)
    count = 200_000
    x = rng.uniform(grid.x_mm[0], grid.x_mm[-1], count)
    y = rng.uniform(grid.y_mm[0], grid.y_mm[-1], count)
    z = rng.uniform(grid.z_mm[0], grid.z_mm[-1], count)
    points = np.column_stack([z, y, x])
    scipy_interpolator = RegularGridInterpolator((grid.z_mm, grid.y_mm, grid.x_mm), dose.dose_gy)
    difference = float(np.abs(trilinear(dose, x, y, z)[0] - scipy_interpolator(points)).max())
    print(f"trilinear vs RegularGridInterpolator: largest difference {difference:.2g} Gy")
    timed(f"_trilinear: value + gradient, {count} points", lambda: trilinear(dose, x, y, z))
    timed(f"scipy RegularGridInterpolator: value, {count} points", lambda: scipy_interpolator(points))

    n = auto_supersample(grid)
    steep = np.flatnonzero(_interior_samples(dose, whole_grid(dose))[2])
    fast = _steep_samples_in_cells(dose, steep, n)
    plain = _steep_samples_at_points(dose, steep, n)
    relative = max(float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300))) for a, b in zip(fast, plain, strict=True))
    print(f"steep voxels {steep.size}, n = {n}: largest relative difference {relative:.2g}")
    timed("_steep: fixed weights of the 27-neighbourhood", lambda: _steep_samples_in_cells(dose, steep, n))
    timed("_steep: trilinear at every sub-voxel centre", lambda: _steep_samples_at_points(dose, steep, n))

    samples = max((roi_dose_samples(dose, roi) for roi in rois), key=lambda s: s.volume_cc)
    levels = np.arange(0.0, samples.max_gy + 0.01, 0.01)
    same = np.allclose(
        cumulative_volume(samples, levels, uniform_levels=True), cumulative_volume(samples, levels), rtol=0, atol=1e-9
    )
    print(f"largest ROI: {samples.dose_gy.size} samples, {levels.size} levels; same volumes both ways: {same}")
    timed("_samples: cumulative volume, equally spaced levels", lambda: cumulative_volume(samples, levels, uniform_levels=True))
    timed("_samples: cumulative volume, np.searchsorted", lambda: cumulative_volume(samples, levels))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
