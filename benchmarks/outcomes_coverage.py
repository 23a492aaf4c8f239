"""Coverage of the LKB fit's 95 % profile-likelihood intervals over repeated simulated cohorts.

Draws ``--cohorts`` cohorts of ``--patients`` patients from the LKB model with known parameters
(:mod:`dosimetry.outcomes.simulate`: two-part organ DVHs, Bernoulli outcomes), fits each
(:func:`dosimetry.outcomes.lkb_fit.fit_lkb`, no bootstrap), and prints per parameter the true
value, the median estimate, how often the interval covers the truth (with its Monte-Carlo SE; ~95 %
expected), how many intervals had an unbounded end, the refused fits, the time per fit and the
peak traced memory. Runs once with n free (3 parameters) and once with n fixed at its true value.

    .venv/bin/python benchmarks/outcomes_coverage.py [--cohorts 200] [--patients 150] [--seed 1000]
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

from dosimetry.errors import ModelFitError
from dosimetry.outcomes.coverage import coverage_study
from dosimetry.outcomes.lkb_fit import LkbParameter

TRUE = {"td50_gy": 55.0, "m": 0.2, "n": 0.25}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cohorts", type=int, default=200)
    parser.add_argument("--patients", type=int, default=150)
    parser.add_argument("--seed", type=int, default=1000)
    parser.add_argument("--only", choices=("free", "fixed"), default=None, help="run only the n-free or only the n-fixed study")
    args = parser.parse_args()
    print(f"true TD50 {TRUE['td50_gy']} Gy, m {TRUE['m']}, n {TRUE['n']}; {args.cohorts} cohorts of {args.patients} patients")
    print(f"{'fit':<10} {'parameter':<9} {'true':>7} {'median est':>10} {'coverage':>9} {'MC SE':>6} {'unbounded':>9} {'refused':>7} {'s/fit':>6} {'peak MB':>7}")
    studies: tuple[tuple[str, dict[LkbParameter, float]], ...] = (("n free", {}), ("n fixed", {LkbParameter.N: TRUE["n"]}))
    for label, fixed in studies:
        if args.only and not label.endswith(args.only):
            continue
        tracemalloc.start()
        t0 = time.perf_counter()
        try:
            study = coverage_study(cohorts=args.cohorts, patients=args.patients, seed=args.seed, fixed=fixed, **TRUE)
        except ModelFitError as exc:  # every cohort refused: no coverage to print (never NaN)
            tracemalloc.stop()
            print(f"{label:<10} not evaluable: all {args.cohorts} cohorts refused ({exc})", flush=True)
            continue
        seconds = (time.perf_counter() - t0) / args.cohorts
        peak_mb = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
        for p in study.parameters:
            print(
                f"{label:<10} {p.parameter.value:<9} {p.true_value:>7.3g} {p.median_estimate:>10.4g} {p.coverage:>9.1%} "
                f"{p.monte_carlo_se:>6.1%} {p.unbounded:>9d} {study.refused:>7d} {seconds:>6.2f} {peak_mb:>7.1f}"
            )
        print(f"{'':<10} mean events per cohort {study.mean_events:.1f}", flush=True)


if __name__ == "__main__":
    main()
