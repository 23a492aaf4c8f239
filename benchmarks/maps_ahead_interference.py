"""Does making a dose map in a background thread slow the main thread's DVH sampling? (issue 20)

The DVH stage makes the next LQ / cumulative map in a background thread (``dosimetry.patient.dvhs._MapsAhead``)
while the main thread samples ROIs (Python code holding the GIL; numpy's arithmetic releases it, and
each chunk of the map's arithmetic takes it back). This samples up to ``--rois`` ROIs of a patient on
its planned dose in the main thread, alone or with one EQD2 map (``--maps`` maps, one after the other)
made in a background thread at the same time, alternated ``--repeat`` times, and prints the main
thread's wall and CPU time (medians) for each: equal figures mean the map making costs the main
thread nothing. ``--chunk`` sets ``dosimetry.radiobiology.lq._CHUNK`` for the run (voxels per
chunk of the LQ arithmetic: fewer, larger chunks take the GIL back fewer times).

Run: ``PYTHONPATH=. .venv/bin/python benchmarks/maps_ahead_interference.py FOLDER [--maps 1] [--chunk N]``.
Measured (clinical case, load 3.2, 8 rounds): one map during 0.33 s of sampling: main thread
0.334 / 0.333 s wall / CPU alone, 0.336 / 0.333 s with the map (32768-voxel chunks), 0.340 / 0.338 s
(1 M-voxel chunks); a map made continuously (8 maps during the sampling) costs the main thread
0.35 -> 0.41 s CPU with 32768-voxel chunks, 0.37 s with 1 M-voxel chunks.
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time

import dosimetry
from dosimetry.dvh import roi_dose_samples
from dosimetry.dvh.endcaps import DEFAULT_END_CAP
from dosimetry.dvh.rasterise import geometry_for_grid
from dosimetry.quantities import DoseQuantity
from dosimetry.radiobiology import lq
from dosimetry.radiobiology.maps import lq_map


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder")
    parser.add_argument("--rois", type=int, default=20)
    parser.add_argument("--maps", type=int, default=1, help="maps made one after the other in the background thread")
    parser.add_argument("--chunk", type=int, default=lq._CHUNK, help="voxels per chunk of the LQ arithmetic")
    parser.add_argument("--repeat", type=int, default=8)
    args = parser.parse_args()
    lq._CHUNK = args.chunk
    maps = dosimetry.load_patient(args.folder).patient_maps
    dose, plan = maps.current.dose, maps.current.plan
    rois = [r for r in maps.structure_set.rois if r.closed_planar_contours][: args.rois]
    geometries = {r.name: geometry_for_grid(r, dose.grid, DEFAULT_END_CAP, None) for r in rois}

    def sample() -> None:
        for roi in rois:
            roi_dose_samples(dose, roi, geometry=geometries[roi.name])

    def make() -> None:
        for _ in range(args.maps):
            lq_map(dose, quantity=DoseQuantity.EQD2, alpha_beta_gy=2.0, plan=plan)

    sample()  # the per-grid tables and lazy imports once, before timing
    runs: dict[str, list[tuple[float, float]]] = {"alone": [], "with maps": []}
    for _ in range(args.repeat):
        for label in runs:
            thread = threading.Thread(target=make) if label == "with maps" else None
            if thread is not None:
                thread.start()
            wall, cpu = time.perf_counter(), time.thread_time()
            sample()
            wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
            if thread is not None:
                thread.join()
            runs[label].append((wall, cpu))
            print(f"{label:<10} main thread wall {wall:.3f} s CPU {cpu:.3f} s (load {os.getloadavg()[0]:.1f})", flush=True)
    for label, values in runs.items():
        print(f"median {label:<10} wall {statistics.median(v[0] for v in values):.3f} s CPU {statistics.median(v[1] for v in values):.3f} s")


if __name__ == "__main__":
    main()
