"""Benchmark: voxel-wise LQ conversion and prior-dose resampling on an 18-million-voxel grid.

Targets (issue 5): BED/EQD2 of a 300 x 300 x 200 grid in under 0.5 s on one core with peak extra
memory under four grid copies; resampling the prior dose onto such a grid in under 2 s.

Run: ``.venv/bin/python benchmarks/lq_benchmark.py [--shape 200 300 300] [--repeat 3]``.
Prints the measured figures. dicompyler-core has no LQ conversion or dose resampling, so the
side-by-side reference is the direct numpy expression ``D * (1 + D / (n * ab))`` (which makes
temporaries).
"""

from __future__ import annotations

import argparse
import os
import time
import tracemalloc
from collections.abc import Callable

import numpy as np
import SimpleITK as sitk

from dosimetry.align import align_prior_dose
from dosimetry.align.resample import resample_dose_with_transform
from dosimetry.dose import DoseGrid, DoseSummationType, DoseType
from dosimetry.grid import RectilinearGrid
from dosimetry.quantities import DoseQuantity
from dosimetry.radiobiology.lq import bed_array, eqd2_array
from dosimetry.radiobiology.maps import lq_map
from dosimetry.registration import RigidRegistration


def best_time(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def peak_extra_bytes(fn: Callable[[], object]) -> int:
    tracemalloc.start()
    tracemalloc.reset_peak()
    result = fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del result
    return peak


def naive_bed(dose: np.ndarray, n: int, ab: float) -> np.ndarray:
    return dose * (1.0 + dose / (n * ab))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shape", type=int, nargs=3, default=[200, 300, 300], metavar=("NZ", "NY", "NX"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    shape = tuple(args.shape)
    rng = np.random.default_rng(20261126)
    dose = rng.uniform(0.0, 70.0, size=shape)
    grid_bytes = dose.nbytes
    print(f"grid {shape[2]} x {shape[1]} x {shape[0]} = {dose.size / 1e6:.1f} M voxels, one float64 copy = {grid_bytes / 2**20:.0f} MiB")
    print(f"numpy {np.__version__}; element-wise numpy ufuncs run on one core")

    print(f"\n{'LQ conversion (22 fractions, alpha/beta 2 Gy)':<47} time [s]   peak extra memory [grid copies]")
    out = np.empty_like(dose)
    rows = [
        ("bed_array (new output)", lambda: bed_array(dose, 22, 2.0)),
        ("eqd2_array (new output)", lambda: eqd2_array(dose, 22, 2.0)),
        ("bed_array (preallocated out)", lambda: bed_array(dose, 22, 2.0, out=out)),
        ("reference: numpy D*(1+D/(n ab))", lambda: naive_bed(dose, 22, 2.0)),
    ]
    for label, fn in rows:
        seconds = best_time(fn, args.repeat)
        copies = peak_extra_bytes(fn) / grid_bytes
        flag = "" if not label.startswith("bed") and not label.startswith("eqd2") else ("  OK" if seconds < 0.5 and copies < 4 else "  MISSED TARGET")
        print(f"  {label:<45} {seconds:8.3f}   {copies:8.2f}{flag}")
    np.testing.assert_allclose(bed_array(dose[:4], 22, 2.0), naive_bed(dose[:4], 22, 2.0), rtol=1e-12)
    grid = RectilinearGrid.uniform((0.0, 0.0, 0.0), (2.0, 2.0, 2.0), shape)
    effective = DoseGrid(grid, dose, DoseType.EFFECTIVE, DoseSummationType.PLAN, "1.2.3.2")
    seconds = best_time(lambda: lq_map(effective, quantity=DoseQuantity.EQD2, alpha_beta_gy=2.0, fractions=22), args.repeat)
    copies = peak_extra_bytes(lambda: lq_map(effective, quantity=DoseQuantity.EQD2, alpha_beta_gy=2.0, fractions=22)) / grid_bytes
    print(f"  {'lq_map on a DoseGrid (+ DoseGrid copy)':<45} {seconds:8.3f}   {copies:8.2f}")

    nz, ny, nx = shape
    current_grid = RectilinearGrid.uniform((-0.5 * 2.0 * nx, -0.5 * 2.0 * ny, -0.5 * 2.0 * nz), (2.0, 2.0, 2.0), shape)
    prior_grid = RectilinearGrid.uniform((-0.5 * 2.5 * nx, -0.5 * 2.5 * ny, -0.5 * 2.5 * nz), (2.5, 2.5, 2.5), shape)
    prior = DoseGrid(prior_grid, dose, DoseType.PHYSICAL, DoseSummationType.PLAN, "1.2.3.1")
    angle = np.radians(7.0)
    matrix = np.eye(4)
    matrix[:3, :3] = [[np.cos(angle), -np.sin(angle), 0.0], [np.sin(angle), np.cos(angle), 0.0], [0.0, 0.0, 1.0]]
    matrix[:3, 3] = [4.0, -3.0, 2.5]
    registration = RigidRegistration("1.2.3.1", "1.2.3.2", matrix)
    threads = sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()
    print(f"\nResampling the prior dose onto the current grid (rigid registration, linear), os.cpu_count()={os.cpu_count()}")
    for n_threads in sorted({1, threads}):
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(n_threads)
        raw = best_time(lambda: resample_dose_with_transform(prior, current_grid, sitk.Transform(3, sitk.sitkIdentity)), args.repeat)
        full = best_time(lambda: align_prior_dose(prior, current_grid, "1.2.3.2", registration=registration), args.repeat)
        print(f"  SimpleITK threads {n_threads}: resample_dose_with_transform {raw:6.3f} s   align_prior_dose (incl. coverage, DoseGrid) {full:6.3f} s"
              f"{'  OK' if full < 2.0 else '  MISSED TARGET'}")
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(threads)
    aligned = align_prior_dose(prior, current_grid, "1.2.3.2", registration=registration)
    print(f"  uncovered volume {aligned.uncovered_volume_cc:.1f} cc ({aligned.uncovered_voxel_count} voxels)")


if __name__ == "__main__":
    main()
