"""Fine pixels of narrow ROIs' boundary voxels: the grid's factor vs the automatic one (issue 13).

Run:  .venv/bin/python benchmarks/dvh_small_roi_sampling.py [--only REGEX]

For every case of benchmarks/dvh_true_solids.py whose ROI the automatic rule samples more finely
than the grid's factor (``auto_supersample(grid, geometry) > auto_supersample(grid)``: ROIs
narrower in x or y than 3 of the grid's fine pixels), each convention's Max, D0.03cc, D99, D95,
D5, D1 and Mean are computed with the grid's factor (the rule before issue 13's fix), with the
automatic factor, and with 8 x 8 fine pixels. Printed per convention and metric: the worst error
against the true solid (% of its dose span; oracle: dosimetry.dvh.true_solids, never the
contours) and against the same geometry sampled with 8 x 8 (the sampling error alone), with
both factors; and the seconds spent sampling with each factor.
"""

from __future__ import annotations

import argparse
import itertools
import re
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.dvh_true_solids import oracle, solids  # noqa: E402
from dosimetry.dose import DoseGrid  # noqa: E402
from dosimetry.dvh import EndCapConvention, evaluate_metric  # noqa: E402
from dosimetry.dvh.curve import dvh_from_samples  # noqa: E402
from dosimetry.dvh.geometry import RoiGeometry  # noqa: E402
from dosimetry.dvh.phantoms import GradientAxis  # noqa: E402
from dosimetry.dvh.rasterise import geometry_for_grid  # noqa: E402
from dosimetry.dvh.sampling import auto_supersample, roi_dose_samples  # noqa: E402
from dosimetry.errors import GeometryError  # noqa: E402
from dosimetry.structures import Roi  # noqa: E402

METRICS = ("max", "D0.03cc", "D99", "D95", "D5", "D1", "mean")


def metrics(dose: DoseGrid, roi: Roi, geometry: RoiGeometry, n: int) -> tuple[dict[str, float], float]:
    t0 = time.perf_counter()
    samples = roi_dose_samples(dose, roi, geometry=geometry, supersample=n)
    seconds = time.perf_counter() - t0
    dvh = dvh_from_samples(samples, roi_name=roi.name, roi_number=1, bin_width_gy=0.01)
    out = {"max": dvh.max_gy, "mean": dvh.mean_gy}
    out.update({f"D{p}": evaluate_metric(dvh, f"D{p}%[Gy]") for p in (99, 95, 5, 1)})
    out["D0.03cc"] = evaluate_metric(dvh, "D0.03cc[Gy]") if dvh.volume_cc > 0.03 else dvh.max_gy
    return out, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", metavar="REGEX", help="only the cases whose label matches REGEX")
    args = parser.parse_args()
    worst: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0, 0.0])
    seconds: dict[str, float] = defaultdict(float)
    cases = skipped = 0
    for (label, solid), axis_name in itertools.product(solids(), ("y", "z")):
        axis = GradientAxis(axis_name)
        truth = oracle(solid, axis)
        for spacing, offset, grid_mm, shift in itertools.product((1.0, 2.0, 3.0), (0.0, 0.5), (1.0, 2.0, 3.0), (0.0, 0.5)):
            case = f"{label} contours {spacing:g} mm {'tangent' if offset == 0 else 'mid'}, grid {grid_mm:g} mm shift {shift:g}, gradient {axis_name}"
            if args.only is not None and not re.search(args.only, case):
                continue
            roi = solid.roi(spacing, offset)
            if not roi.contours:
                continue
            dose = solid.dose_grid(grid_mm, axis, shift_fraction=shift)
            for convention in EndCapConvention:
                try:
                    geometry = geometry_for_grid(roi, dose.grid, convention, spacing)
                except GeometryError:
                    continue
                old_n, new_n = auto_supersample(dose.grid), auto_supersample(dose.grid, geometry)
                if new_n == old_n:
                    continue
                try:
                    old, t_old = metrics(dose, roi, geometry, old_n)
                    new, t_new = metrics(dose, roi, geometry, new_n)
                    fine, _ = metrics(dose, roi, geometry, 8)
                except GeometryError:  # no volume in the grid (as in dvh_true_solids.py)
                    skipped += 1
                    continue
                cases += 1
                seconds["grid factor"] += t_old
                seconds["automatic factor"] += t_new
                for m in METRICS:
                    w = worst[(convention.value, m)]
                    w[0] = max(w[0], 100 * abs(old[m] - truth[m]) / truth["span"])
                    w[1] = max(w[1], 100 * abs(new[m] - truth[m]) / truth["span"])
                    w[2] = max(w[2], 100 * abs(old[m] - fine[m]) / truth["span"])
                    w[3] = max(w[3], 100 * abs(new[m] - fine[m]) / truth["span"])
    print(f"{cases} case x convention pairs sampled more finely by the automatic rule ({skipped} without a DVH skipped)")
    print(f"{'convention':10s} {'metric':8s} {'vs true solid: grid n -> auto n':>34s} {'vs n=8 same geometry: grid n -> auto n':>40s}")
    for (name, m), w in sorted(worst.items()):
        print(f"{name:10s} {m:8s} {w[0]:16.3f} -> {w[1]:6.3f} % {w[2]:22.3f} -> {w[3]:6.3f} %")
    print("sampling seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in seconds.items()))


if __name__ == "__main__":
    main()
