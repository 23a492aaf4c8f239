"""What the shape model (EndCapConvention.SHAPE) costs on top of the half-slab convention, per ROI.

Run:  .venv/bin/python benchmarks/dvh_shape_cost.py [--patient DIR] [--repeats N] [--top N]

For one structure set on its RT Dose (sample_data/patient01/current by default, or ``--patient DIR``
holding RS*.dcm and RD*.dcm, e.g. a clinical-size case): (1) the shape model's own geometry per ROI
(``shape_geometry`` on the ROI's planar sections: CPU seconds, contour planes -> sections, volume
under half-slab and shape), the costliest first; (2) every DVH of the set with ``compute_dvhs``
under half-slab and under shape, repeated alternately (--repeats, default 3), the fastest run of
each kept, wall and CPU (process) time, CPU being the steadier figure on a busy machine, with the
dose grid's interpolation tables built afresh for each run as in one ``dosimetry dvh`` call
(``--warm`` keeps them: the DVH work alone); (3) the
process's peak RSS. dicompyler-core has no shape model: the baseline side by side is our own
half-slab convention (benchmarks/dvh_vs_dicompyler.py compares that with dicompyler-core).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from dosimetry.dvh._shape import shape_geometry  # noqa: E402
from dosimetry.dvh.compute import compute_dvhs  # noqa: E402
from dosimetry.dvh.endcaps import EndCapConvention  # noqa: E402
from dosimetry.dvh.geometry import roi_geometry  # noqa: E402
from dosimetry.dvh.sampling import release_grid_caches  # noqa: E402
from dosimetry.errors import GeometryError  # noqa: E402
from dosimetry.io import load_dose, load_structure_set  # noqa: E402

#: Thickness given to single-plane ROIs in part (1) (compute_dvhs asks the dose grid instead).
SINGLE_PLANE_MM = 2.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patient", type=Path, default=ROOT / "sample_data" / "patient01" / "current")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--top", type=int, default=15, help="ROIs listed in part (1), costliest first")
    parser.add_argument("--warm", action="store_true", help="keep the dose grid's tables between runs")
    args = parser.parse_args()
    rd, rs = sorted(args.patient.glob("RD*.dcm"))[0], sorted(args.patient.glob("RS*.dcm"))[0]
    dose, rois = load_dose(rd), load_structure_set(rs).rois

    rows = []
    for roi in rois:
        try:
            base = roi_geometry(roi, EndCapConvention.HALF_SLAB, single_plane_thickness_mm=SINGLE_PLANE_MM)
        except GeometryError as exc:
            print(f"  {roi.name}: skipped ({exc})")
            continue
        start = time.process_time()
        shaped = shape_geometry(base, roi.name)
        rows.append((time.process_time() - start, roi.name, len(base.sections), len(shaped.sections), base.volume_cc, shaped.volume_cc))
    rows.sort(reverse=True)
    print(f"(1) shape model geometry, {rs.name}: {sum(r[0] for r in rows):.2f} s CPU over {len(rows)} ROIs, "
          f"{sum(r[2] for r in rows)} planes -> {sum(r[3] for r in rows)} sections")
    print(f"  {'ROI':<22} {'CPU [s]':>8} {'planes':>7} {'sections':>9} {'half-slab [cc]':>15} {'shape [cc]':>11}")
    for seconds, name, planes, sections, half_cc, shape_cc in rows[: args.top]:
        print(f"  {name:<22} {seconds:8.3f} {planes:7d} {sections:9d} {half_cc:15.4f} {shape_cc:11.4f}")

    best: dict[EndCapConvention, tuple[float, float]] = {}
    for _ in range(args.repeats):
        for convention in (EndCapConvention.HALF_SLAB, EndCapConvention.SHAPE):
            if not args.warm:
                release_grid_caches(dose)
            wall, cpu = time.perf_counter(), time.process_time()
            compute_dvhs(dose, list(rois), end_cap=convention)
            run = (time.perf_counter() - wall, time.process_time() - cpu)
            best[convention] = min(best.get(convention, run), run, key=lambda x: x[1])
    tables = "kept between runs" if args.warm else "built in each run"
    print(f"(2) every DVH of the set (compute_dvhs, fastest of {args.repeats} by CPU; grid tables {tables})")
    for convention, (wall, cpu) in best.items():
        print(f"  {convention.value:<10} wall {wall:6.2f} s   CPU {cpu:6.2f} s")
    print(f"(3) peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
