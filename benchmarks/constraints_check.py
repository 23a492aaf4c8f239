"""Benchmark: the constraint checks (Emami effective-volume rule, gEUD/LKB NTCP, summaries).

The checks run on per-organ DVHs, so their cost is independent of how the dose map was made.
Figures printed: time to evaluate one patient of ``--organs`` organs, each a DVH (0.01 Gy bins) of
``--samples`` point doses (the size of a 0.01 Gy-bin DVH up to 80 Gy is 8000), and, when ``--patient DIR`` is given,
the wall time of ``dosimetry check DIR`` split into loading (discovery, RT Dose/Plan/Structure Set),
the cumulative EQD2 map, the DVHs and the checks.

Run: ``.venv/bin/python benchmarks/constraints_check.py [--organs 30] [--samples 8000] [--patient sample_data/patient01]``.
dicompyler-core has no tolerance tables or NTCP, so there is no side-by-side figure.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import time
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np

from dosimetry.constraints import DoseBasis, evaluate
from dosimetry.constraints.naming import NameMapper
from dosimetry.dvh import Dvh, EndCapConvention
from dosimetry.dvh.curve import dvh_from_samples
from dosimetry.dvh.sampling import DoseSamples as DvhSamples

ORGAN_NAMES = [
    "BrainStem", "SpinalCord", "OpticChiasm", "OpticNrv_L", "OpticNrv_R", "Lobe_Temporal_L", "Lobe_Temporal_R",
    "Eye_L", "Eye_R", "Lens_L", "Lens_R", "Parotid_L", "Parotid_R", "Mandible", "Cochlea_L", "Cochlea_R",
    "Larynx", "Esophagus", "BrachialPlex_L", "BrachialPlex_R", "Brain", "Joint_TM_L", "Joint_TM_R",
    "Ear_Middle_L", "Ear_Middle_R", "Retina_L", "Retina_R", "Skin", "Lung_L", "Lung_R",
]


def _point_dvh(dose_gy: np.ndarray, volume_cc: np.ndarray, name: str) -> Dvh:
    total = float(volume_cc.sum())
    samples = DvhSamples(dose_gy, volume_cc, np.zeros_like(dose_gy), total, total, 0.0, EndCapConvention.HALF_SLAB, 1)
    return dvh_from_samples(samples, roi_name=name, roi_number=1)


def synthetic_patient(organs: int, samples: int, seed: int = 1) -> tuple[dict[DoseBasis, dict[str, Dvh]], list[str]]:
    rng = np.random.default_rng(seed)
    names = [ORGAN_NAMES[k % len(ORGAN_NAMES)] + ("" if k < len(ORGAN_NAMES) else f"_{k}") for k in range(organs)]
    per_roi = {name: _point_dvh(rng.gamma(2.0, 10.0, samples), rng.uniform(0.001, 0.01, samples), name) for name in names}
    return {DoseBasis.EQD2_CUMULATIVE: per_roi}, names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--organs", type=int, default=30)
    parser.add_argument("--samples", type=int, default=8000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--patient", type=Path, help="patient folder for 'dosimetry check' (e.g. sample_data/patient01)")
    args = parser.parse_args()

    samples, names = synthetic_patient(args.organs, args.samples)
    mapper = NameMapper()
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        report = evaluate(samples, names, mapper=mapper)
        times.append(time.perf_counter() - start)
    endpoints = sum(len(o.endpoints) for o in report.organs)
    print(
        f"evaluate: {args.organs} ROIs x {args.samples} samples ({endpoints} endpoints): "
        f"best {min(times) * 1e3:.1f} ms of {args.repeat}"
    )

    if args.patient is not None:
        from dosimetry.cli import main as cli_main

        profiler = cProfile.Profile()
        start = time.perf_counter()
        with redirect_stdout(io.StringIO()):
            profiler.enable()
            code = cli_main.main(["check", str(args.patient), "--json"])
            profiler.disable()
        total = time.perf_counter() - start
        stats = pstats.Stats(profiler)
        parts = {
            "load_course (discovery + DICOM)": "load_course",
            "prior dose onto current grid (align)": "align_prior_dose",
            "cumulative EQD2 (accumulate)": "accumulate",
            "DVHs (compute_dvh)": "compute_dvh",
            "checks (constraints.evaluate)": "evaluate",
        }
        print(f"dosimetry check {args.patient}: {total:.2f} s wall, exit code {code}")
        for label, function in parts.items():
            cumulative = sum(
                entry[3] for key, entry in stats.stats.items()  # type: ignore[attr-defined]
                if key[2] == function and ("constraints" in key[0]) == (function == "evaluate")
            )
            print(f"  {label:<40} {cumulative:7.2f} s")


if __name__ == "__main__":
    main()
