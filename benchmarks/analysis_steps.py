"""CPU time (user + system) of the analysis steps of ``Patient.results()``, step by step (issue 20).

Loads one patient folder in this process (``dosimetry.load_patient``), then runs ``results()`` once
with the steps' functions wrapped at the places the facade calls them, and prints each step's CPU
time (inclusive: a step's figure contains the sub-steps indented under it), the number of calls,
the CPU time of ``results()`` as a whole and the process's peak RSS after each top-level step. The
DVH stage's sub-steps name the helper that owns them (shape model, DVH engine). CPU time, not wall
time, is the figure to compare on a shared machine; repeat a few times and compare the smallest.

The code measured is the one on ``PYTHONPATH`` (run it with ``PYTHONPATH=CHECKOUT`` to measure
another checkout: the functions wrapped exist in the checkouts since issue 20's first profile).

Run: ``PYTHONPATH=. .venv/bin/python benchmarks/analysis_steps.py FOLDER [--repeat N]`` (the
clinical-size case: ``benchmarks/clinical_scale.py`` generates ``/tmp/dosimetry_clinical/clinical01``).
"""

from __future__ import annotations

import argparse
import collections
import functools
import importlib
import resource
import time
from collections.abc import Callable
from typing import Any

#: (module, attribute, label): the functions wrapped where the facade (or the DVH stage) looks them up.
STEPS: tuple[tuple[str, str, str], ...] = (
    ("dosimetry.patient.facade", "compute_patient_dvhs", "DVH stage (every map, with the indices on their maps)"),
    ("dosimetry.patient.dvhs", "geometry_for_grid", "  ROI geometry (shape model)"),
    ("dosimetry.patient.dvhs", "roi_dose_samples", "  dose samples (DVH engine)"),
    ("dosimetry.patient.dvhs", "dvh_from_samples", "  DVH curves (DVH engine)"),
    ("dosimetry.patient.dvhs", "evaluate_metric", "  metric rows"),
    ("dosimetry.radiobiology.lq", "_lq_array", "  BED/EQD2 arithmetic (every caller, every chunk)"),
    ("dosimetry.radiobiology.summation", "cumulative_array", "  cumulative maps"),
    ("dosimetry.patient.indices", "evaluate_targets", "  target indices"),
    ("dosimetry.indices.evaluate", "body_volumes", "    body isodose volumes"),
    ("dosimetry.patient.facade", "constraint_report", "constraint checks"),
    ("dosimetry.patient.facade", "with_convention_spreads", "convention spreads"),
    ("dosimetry.patient.recovery_record", "classify_reirradiation", "re-irradiation type"),
    ("dosimetry.patient.facade", "reirradiation_limit_checks", "re-irradiation limits"),
    ("dosimetry.patient.facade", "registration_uncertainty", "registration uncertainty"),
    ("dosimetry.patient.facade", "planning_system_rows", "planning-system rows"),
    ("dosimetry.patient.facade", "input_records", "input records (provenance: headers, SHA-256)"),
)


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class StepClock:
    """CPU seconds and calls per label; a recursive call is counted once (the outermost)."""

    def __init__(self) -> None:
        self.cpu_s: dict[str, float] = collections.defaultdict(float)
        self.calls: collections.Counter[str] = collections.Counter()
        self.peaks: list[tuple[str, float]] = []
        self._depth: collections.Counter[str] = collections.Counter()

    def wrap(self, module_name: str, attribute: str, label: str) -> None:
        module = importlib.import_module(module_name)
        real: Callable[..., Any] = getattr(module, attribute)

        @functools.wraps(real)
        def timed(*args: Any, **kwargs: Any) -> Any:
            self._depth[label] += 1
            start = _cpu_s()
            try:
                return real(*args, **kwargs)
            finally:
                self._depth[label] -= 1
                self.calls[label] += 1
                if self._depth[label] == 0:
                    self.cpu_s[label] += _cpu_s() - start
                    if not label.startswith(" "):
                        self.peaks.append((label, _rss_mib()))

        setattr(module, attribute, timed)

    def reset(self) -> None:
        self.cpu_s.clear()
        self.calls.clear()
        self.peaks.clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("--repeat", type=int, default=1, help="load and analyse the patient this many times (a fresh Patient each)")
    args = parser.parse_args()
    clock = StepClock()
    for module, attribute, label in STEPS:
        clock.wrap(module, attribute, label)
    import dosimetry

    print(f"dosimetry from {dosimetry.__file__}")
    for run in range(args.repeat):
        patient = dosimetry.load_patient(args.folder)
        loaded_rss = _rss_mib()
        clock.reset()
        cpu0, wall0 = _cpu_s(), time.perf_counter()
        patient.results()
        cpu, wall = _cpu_s() - cpu0, time.perf_counter() - wall0
        print(f"\nrun {run + 1}: results() CPU {cpu:.2f} s (wall {wall:.2f} s); peak RSS after load {loaded_rss:.0f} MiB")
        print(f"{'step':<56} {'CPU [s]':>8} {'calls':>6}")
        for _, _, label in STEPS:
            print(f"{label:<56} {clock.cpu_s[label]:8.2f} {clock.calls[label]:6d}")
        print("peak RSS after each step:", ", ".join(f"{label.split(' (')[0]} {rss:.0f} MiB" for label, rss in clock.peaks))


if __name__ == "__main__":
    main()
