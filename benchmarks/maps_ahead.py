"""How well the DVH stage's background thread hides the making of the dose maps (issue 20).

``dosimetry.patient.dvhs._MapsAhead`` makes each LQ / cumulative map ahead in a background
thread while the ROI geometries are computed and the previous map is sampled. This loads one
patient folder, runs ``results()`` (or ``write(OUT)`` with ``--write OUT``: the maps are then also
encoded for the export in that thread) and prints, per map, how long the main thread waited for it
(0: it was ready), the wall and thread CPU time of making it in the background, then the wall and
CPU time of the whole call, the load average and the peak RSS. The waits are the figure that says
whether the maps are off the critical path; wall times on a shared machine are only indicative
(alternate with a base checkout: ``benchmarks/analyze_phases.py``).

Run: ``PYTHONPATH=. .venv/bin/python benchmarks/maps_ahead.py FOLDER [--write OUT]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from collections.abc import Callable

import dosimetry
import dosimetry.patient.dvhs as dvhs
from dosimetry.dose import DoseGrid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder")
    parser.add_argument("--write", metavar="OUT", help="run Patient.write(OUT) instead of results()")
    args = parser.parse_args()
    patient = dosimetry.load_patient(args.folder)
    waits: list[tuple[str, float]] = []
    made: dict[str, tuple[float, float]] = {}
    real_get, real_start = dvhs._MapsAhead.get, dvhs._MapsAhead.start

    def get(self: dvhs._MapsAhead, quantity: str) -> DoseGrid:
        start = time.perf_counter()
        try:
            return real_get(self, quantity)
        finally:
            waits.append((quantity, time.perf_counter() - start))

    def start(self: dvhs._MapsAhead, quantity: str) -> None:
        getter = self._getters[quantity]

        def timed() -> DoseGrid:
            wall, cpu = time.perf_counter(), time.thread_time()
            try:
                return getter()
            finally:
                made[quantity] = (time.perf_counter() - wall, time.thread_time() - cpu)

        getters: dict[str, Callable[[], DoseGrid]] = {**self._getters, quantity: timed}
        self._getters = getters
        real_start(self, quantity)

    dvhs._MapsAhead.get = get  # type: ignore[method-assign]
    dvhs._MapsAhead.start = start  # type: ignore[method-assign]
    load = os.getloadavg()[0]
    wall, cpu = time.perf_counter(), time.process_time()
    if args.write:
        patient.write(args.write)
    else:
        patient.results()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{'map':<22}{'waited [s]':>12}{'made: wall [s]':>16}{'thread CPU [s]':>16}")
    for quantity, waited in waits:
        made_wall, made_cpu = made.get(quantity, (float("nan"), float("nan")))
        print(f"{quantity:<22}{waited:>12.3f}{made_wall:>16.3f}{made_cpu:>16.3f}")
    print(f"waited in total {sum(w for _, w in waits):.3f} s; made in the background {sum(c for _, c in made.values()):.3f} s CPU")
    call = "write()" if args.write else "results()"
    print(f"{call}: wall {wall:.2f} s, CPU {cpu:.2f} s (all threads), load average at start {load:.1f}, "
          f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
