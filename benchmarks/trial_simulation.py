"""Operating characteristics of the protocol's TITE-CRM design (1000 simulated trials per scenario).

Prints, for the protocol's skeleton taken as the true pDLT (true MTD = level 3 under the
"closest but not above 0.25" rule), 25 patients, 4 patients/month and both observation windows
the protocol mentions (6 and 4 months): probability of selecting each level, mean patients and
DLTs per level, mean trial duration, and how often each safety rule bound. Also times one posterior
by each integration method.

    .venv/bin/python benchmarks/trial_simulation.py [--runs 1000] [--seed 20260101]
"""

from __future__ import annotations

import argparse
import time

from dosimetry.trial.crm_model import PROTOCOL_SKELETON, EmpiricModel, IntegrationMethod, TiteObservations, posterior
from dosimetry.trial.next_dose import TiteCrmDesign
from dosimetry.trial.rules import SafetyRules
from dosimetry.trial.simulate import simulate_trials


def _row(values: tuple[float, ...], fmt: str) -> str:
    return " ".join(format(v, fmt) for v in values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=20260101)
    args = parser.parse_args()

    obs = TiteObservations.from_sequences([2] * 8 + [3] * 6, [0] * 7 + [1] + [0, 0, 1, 0, 0, 0], [1.0] * 10 + [0.5] * 4)
    model = EmpiricModel(PROTOCOL_SKELETON)
    for method in IntegrationMethod:
        t0 = time.perf_counter()
        for _ in range(20):
            post = posterior(model, obs, method)
        print(f"posterior ({method.value}): {(time.perf_counter() - t0) / 20 * 1e3:.2f} ms, mean beta {post.mean_beta:.9f}")

    truth = PROTOCOL_SKELETON
    scenarios = [
        ("protocol rules, window 6 months", TiteCrmDesign(window_months=6)),
        ("protocol rules, window 4 months", TiteCrmDesign(window_months=4)),
        ("window 6 months, without the full-window rule",
         TiteCrmDesign(window_months=6, rules=SafetyRules(require_full_window_before_escalation=False))),
    ]
    for name, design in scenarios:
        t0 = time.perf_counter()
        res = simulate_trials(truth, design, n_patients=25, accrual_per_month=4.0, runs=args.runs, seed=args.seed)
        elapsed = time.perf_counter() - t0
        print(f"\n== {name}: {res.runs} trials, seed {res.seed}, {elapsed:.1f} s")
        print(f"true pDLT            {_row(res.true_pdlt, '6.2f')}   (true MTD level {res.true_mtd_level})")
        print(f"P(select as MTD)     {_row(res.selection_probability, '6.3f')}")
        print(f"  (uncapped model)   {_row(res.uncapped_selection_probability, '6.3f')}")
        print(f"mean patients/level  {_row(res.mean_patients_per_level, '6.2f')}")
        print(f"mean DLTs/level      {_row(res.mean_dlts_per_level, '6.2f')}")
        print(f"mean total DLTs {res.mean_total_dlts:.2f}; mean duration {res.mean_duration_months:.1f} months "
              f"(sd {res.sd_duration_months:.1f})")
        print("rule bound (mean assignments/trial): "
              + ", ".join(f"{k} {v:.2f}" for k, v in res.mean_rule_bindings_per_trial.items()))


if __name__ == "__main__":
    main()
