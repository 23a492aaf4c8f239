"""The researcher's workflow in one run: synthetic cohort -> batch analysis -> toxicity correlation.

Usage::

    .venv/bin/python benchmarks/correlation_demo.py [--patients 20] [--workers 2] [--cohort DIR] [--out DIR]

Runs the same three commands a researcher types (and prints them)::

    dosimetry sample-data --patients 20 --out COHORT --seed 2026
    dosimetry batch COHORT --out OUT --workers 2
    dosimetry correlate --results OUT --outcomes COHORT/outcomes.csv --endpoint 'worst_toxicity_grade>=3' \
        --study-report STUDY --lkb-roi Lobe_Temporal_L --covariates age_years sex concurrent_chemotherapy \
        --time-column progression_months --event local_progression

The cohort (``--cohort``) is generated unless the folder already holds ``outcomes.csv`` and the
patients; without ``--cohort``/``--out`` everything goes to a temporary folder that is removed at the
end. The outcomes are drawn from the documented model (``dosimetry/sampledata/outcomes.py``):
``logit P(grade >= 3) = -2.944 + 0.2355 (D - 52.5) + 0.03 (V_PTV - 40)`` with D the prescribed
total dose of the patient's dose level, so the target dose metrics (PTV/CTV/GTV D50%, mean, ...) on
the RBE-weighted dose should lead the ranking, with a true odds ratio of exp(0.2355) = 1.27 per Gy of
prescribed dose. With 20 patients the confidence intervals are wide and separation is possible:
this shows the workflow, it is not a power analysis. Timings of each step are printed.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _run(command: list[str], *, show_output: bool) -> float:
    printable = " ".join(shlex.quote(c) for c in ["dosimetry", *command[3:]])
    print(f"$ {printable}", flush=True)
    started = time.perf_counter()
    result = subprocess.run(command, stdout=None if show_output else subprocess.DEVNULL, check=False)
    elapsed = time.perf_counter() - started
    print(f"  ({elapsed:.1f} s, exit {result.returncode})\n", flush=True)
    if result.returncode not in (0,) and not (command[3] == "batch" and result.returncode == 1):
        raise SystemExit(f"command failed with exit code {result.returncode}: {printable}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--cohort", type=Path, default=None, help="cohort folder (generated when it holds no outcomes.csv)")
    parser.add_argument("--out", type=Path, default=None, help="batch output folder (default: a temporary folder)")
    parser.add_argument("--endpoint", default="worst_toxicity_grade>=3")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--study-report", type=Path, default=None, help="folder of the study report (default: temporary)")
    parser.add_argument("--lkb-roi", default="Lobe_Temporal_L", help="organ of the LKB fit in the study report")
    args = parser.parse_args()

    cli = [sys.executable, "-m", "dosimetry"]
    with tempfile.TemporaryDirectory(prefix="dosimetry-correlation-") as tmp:
        cohort = args.cohort or Path(tmp) / "cohort"
        out = args.out or Path(tmp) / "out"
        timings: dict[str, float] = {}
        if not (cohort / "outcomes.csv").is_file():
            timings["sample-data"] = _run(
                [*cli, "sample-data", "--patients", str(args.patients), "--out", str(cohort), "--seed", str(args.seed)],
                show_output=False,
            )
        timings["batch"] = _run([*cli, "batch", str(cohort), "--out", str(out), "--workers", str(args.workers), "--progress", "lines"], show_output=False)
        timings["correlate"] = _run(
            [*cli, "correlate", "--results", str(out), "--outcomes", str(cohort / "outcomes.csv"),
             "--endpoint", args.endpoint, "--top", str(args.top), "--csv", str(Path(tmp) / "associations.csv"),
             "--study-report", str(args.study_report or Path(tmp) / "study"), "--lkb-roi", args.lkb_roi,
             "--covariates", "age_years", "sex", "concurrent_chemotherapy",
             "--time-column", "progression_months", "--event", "local_progression"],
            show_output=True,
        )
        print("timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
        if "batch" in timings:
            print(f"batch throughput: {60.0 * args.patients / timings['batch']:.1f} patients/min with {args.workers} workers")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
