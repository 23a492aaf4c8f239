"""CPU seconds of the report's sections and of the convention spreads in one ``dosimetry analyze``
(issue 20): where the report and the spreads spend their time, per checkout, side by side.

For each checkout (``--checkout LABEL=PATH``, e.g. main=/work/main and branch=.) a fresh process
loads the patient (``CASE``, read only), computes the results (DVHs, checks; the convention spreads
are timed separately: ``with_convention_spreads``), then builds the report with every section of
``dosimetry.report.builder.SECTIONS`` timed (process CPU seconds, user + system of this process,
steadier than wall time on a shared machine). Runs alternate between the checkouts (``--repeat``);
the median per stage is printed. The baseline (dicompyler-core) has neither a report nor
convention spreads, so the side by side is our checkouts before and after.

Run: ``.venv/bin/python benchmarks/report_spread_cost.py /tmp/dosimetry_clinical/clinical01
--checkout main=/work/main --checkout branch=. [--repeat 2]``

Measured (issue 20, 2-core machine shared with other jobs, load average 3.6-4.8, median of 3 CPU s),
clinical case (256 x 256 x 160 dose grid and CT, 40 ROIs, 6 overlays, 2 DVH figures), main at
417dc98 against branch s4-report:

=======================  =====  ======
stage                     main  branch
=======================  =====  ======
convention spreads       0.206   0.100
report: DVH figures      0.739   0.616
report: overlays         3.274   2.382
report (all)             4.030   3.013
=======================  =====  ======

Where the report's time went before (clinical case, in-process CPU): 8 figures 2.6 s (102
``ContourSet`` artists in the overlays about 0.5 s; each DVH figure laid out and drawn twice), the
ROI occupancies on the CT grid 0.44 s (39 full-grid arrays, their sums and box searches; 13 of the
ROIs reach no drawn plane), reading the CT pixels 0.3-0.4 s (``load_ct_volume``, unchanged here),
the hottest voxels and overlap 0.3 s (maps computed on demand). After: figures 2.1 s with
byte-identical PNGs, occupancies 0.23 s (26 ROIs, boxes only). The report page and results.json
are identical to main's (timestamps, UIDs aside) on the clinical case and sample_data/patient01.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

_CHILD = r"""
import json, logging, sys, time
sys.path.insert(0, sys.argv[1])
logging.disable(logging.WARNING)
import dosimetry
from dosimetry.patient import sensitivity as patient_sensitivity
from dosimetry.patient import facade
from dosimetry.report import builder

cost = {}
def timed(label, fn):
    def run(*args, **kwargs):
        start = time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            cost[label] = cost.get(label, 0.0) + time.process_time() - start
    return run

facade.with_convention_spreads = timed("convention spreads", patient_sensitivity.with_convention_spreads)
builder.SECTIONS[:] = [(name, timed("report: " + name, fn)) for name, fn in builder.SECTIONS]
start = time.process_time()
patient = timed("load", dosimetry.load_patient)(sys.argv[2])
results = timed("results (incl. spreads)", patient.results)()
page = timed("report (all)", builder.build_report)(results.to_dict(), patient._maps, patient.dvhs())
cost["total"] = time.process_time() - start
print(json.dumps(cost))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("case", type=Path)
    parser.add_argument("--checkout", action="append", required=True, metavar="LABEL=PATH")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    checkouts = [(c.split("=", 1)[0], Path(c.split("=", 1)[1]).resolve()) for c in args.checkout]
    runs: dict[str, list[dict[str, float]]] = {label: [] for label, _ in checkouts}
    for _ in range(args.repeat):
        for label, path in checkouts:
            env = dict(os.environ, PYTHONPATH=str(path))
            done = subprocess.run(
                [sys.executable, "-c", _CHILD, str(path), str(args.case)],
                capture_output=True, text=True, check=True, env=env, cwd=path, timeout=1800,
            )
            runs[label].append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(f"# {label}: load average {os.getloadavg()[0]:.2f}", file=sys.stderr)
    stages = list(dict.fromkeys(k for label, _ in checkouts for r in runs[label] for k in r))
    print(f"{'stage (CPU s, median of ' + str(args.repeat) + ')':44s}" + "".join(f"{label:>12s}" for label, _ in checkouts))
    for stage in stages:
        cells = []
        for label, _ in checkouts:
            values = [r[stage] for r in runs[label] if stage in r]
            cells.append(f"{statistics.median(values):12.3f}" if values else f"{'-':>12s}")
        print(f"{stage:44s}" + "".join(cells))


if __name__ == "__main__":
    main()
