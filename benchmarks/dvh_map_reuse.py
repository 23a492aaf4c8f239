"""CPU time of the DVH engine as ``analyze`` uses it: every ROI's geometry made once on the planned
dose's grid, then every ROI sampled on every dose map of the patient (planned dose, LQ maps,
cumulative maps), one map at a time with its per-grid tables released after it (issue 20: the
ROI's sampling plan, i.e. its polygon moments and boundary pieces, is the same on every map of a
grid).

Each run is a fresh process started in a checkout with ``PYTHONPATH`` set to it; it prints the CPU
time (``time.process_time``: user + system) of the geometries (``geometry``: shape model and
rasterisation of every ROI), the sampling on the first map (``first map``) and on the other maps
(``other maps``), the sample count and a SHA-256 of every sample array (dose, weight, spread of
every ROI on every map, in order): the same in every checkout when no number moved. Runs alternate between the
checkouts; the table gives the median and the smallest of each figure. On a shared machine compare
CPU, not wall time, and byte-compile both checkouts first (``python -m compileall -q dosimetry``).

Run: ``.venv/bin/python benchmarks/dvh_map_reuse.py CASE --checkout base=/tmp/base --checkout
branch=. [--repeat 3]`` (CASE: a patient folder, e.g. the clinical-size case of
``benchmarks/clinical_scale.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

_CHILD = r"""
import hashlib, json, sys, time
from dosimetry import load_patient
from dosimetry.dvh import roi_dose_samples
from dosimetry.dvh.sampling import release_grid_caches
from dosimetry.dvh.rasterise import geometry_for_grid
from dosimetry.patient.dvhs import map_getters
from dosimetry.errors import GeometryError
patient = load_patient(sys.argv[1])
maps = patient._maps
rois = patient._rois
end_cap = patient.end_cap
grid = maps.current.dose.grid
out = {}
c0 = time.process_time()
geometries = {}
for roi in rois:
    if not roi.closed_planar_contours:
        continue
    try:
        geometries[roi.name] = geometry_for_grid(roi, grid, end_cap, None)
    except GeometryError:
        pass
out["geometry"] = time.process_time() - c0
first = other = 0.0
count = 0
digest = hashlib.sha256()
for i, (quantity, get) in enumerate(map_getters(maps).items()):
    dose = get()
    kept = []
    c0 = time.process_time()
    for roi in rois:
        geometry = geometries.get(roi.name)
        if geometry is None:
            continue
        samples = roi_dose_samples(dose, roi, geometry=geometry)
        count += samples.dose_gy.size
        kept.append(samples)
    release_grid_caches(dose)
    spent = time.process_time() - c0
    for samples in kept:  # outside the timing
        for array in (samples.dose_gy, samples.weight_cc, samples.spread_gy):
            digest.update(array.tobytes())
    kept.clear()
    if i == 0:
        first += spent
    else:
        other += spent
    del dose
out["first map"] = first
out["other maps"] = other
out["maps"] = len(map_getters(maps))
out["samples"] = count
out["sha256"] = digest.hexdigest()[:16]
print(json.dumps(out))
"""


def _run(checkout: Path, case: str) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(checkout))
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, case],
        env=env, cwd=checkout, capture_output=True, text=True, check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("case")
    parser.add_argument("--checkout", action="append", required=True, help="NAME=PATH (repeatable)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    checkouts = [(c.split("=", 1)[0], Path(c.split("=", 1)[1]).resolve()) for c in args.checkout]
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in checkouts}
    for _ in range(args.repeat):
        for name, path in checkouts:
            runs[name].append(_run(path, args.case))
    keys = ("geometry", "first map", "other maps")
    print(f"{'checkout':<10}" + "".join(f"{k + ' med/min (s)':>26}" for k in keys) + f"{'maps':>6}{'samples':>12}  sha256 of every sample array")
    for name, _ in checkouts:
        cells = "".join(
            f"{statistics.median(r[k] for r in runs[name]):>13.3f}/{min(r[k] for r in runs[name]):<12.3f}" for k in keys
        )
        last = runs[name][-1]
        digests = sorted({r["sha256"] for r in runs[name]})
        print(f"{name:<10}{cells}{int(last['maps']):>6}{int(last['samples']):>12}  {' '.join(digests)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
