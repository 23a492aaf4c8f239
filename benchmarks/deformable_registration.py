"""Deformable registration (``--register deformable``: rigid + demons) time and peak memory.

Cases, each run in its own subprocess so its peak resident memory (``ru_maxrss``) is its own:

* ``sample``: the sample patient's CTs (96 x 96 x 49 at 2.5 x 2.5 x 3 mm): reading both CT series,
  the registration, and applying the result (the DICOM form) to the prior dose;
* ``pair40``: the 40^3 generated pair of the tests (3 mm), with the recovery error against the known
  deformation (mean and 95th percentile inside the body, mm; rigid stage alone beside it);
* ``clinical``: a generated clinical-size pair, 512 x 512 x 120 at 0.98 x 0.98 x 3 mm (the registration
  runs on it averaged down to 2.9 mm voxels, see dosimetry.align.register).

There is no baseline to compare with (dicompyler-core has no registration); the times are wall
clock and CPU on this machine. Run: ``.venv/bin/python -m benchmarks.deformable_registration``
(``--case NAME`` runs one case in this process).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data" / "patient01"


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _case_sample() -> dict[str, object]:
    from dosimetry.align import align_prior_dose
    from dosimetry.align.register import register_deformable, to_deformable_registration
    from dosimetry.io import load_ct_series, load_ct_volume, load_dose

    t0 = time.perf_counter()
    cur = load_ct_series(SAMPLE / "current")
    pri = load_ct_series(SAMPLE / "prior")
    cur_hu, pri_hu = load_ct_volume(cur), load_ct_volume(pri)
    t_read = time.perf_counter() - t0
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    computed = register_deformable(cur_hu, cur.grid, pri_hu, pri.grid,
                                   current_frame_uid=cur.frame_of_reference_uid, prior_frame_uid=pri.frame_of_reference_uid)
    t_reg, cpu_reg = time.perf_counter() - t0, time.process_time() - cpu0
    prior_dose = load_dose(SAMPLE / "prior" / "RD_patient01.dcm")
    current_dose = load_dose(SAMPLE / "current" / "RD_patient01.dcm")
    t0 = time.perf_counter()
    aligned = align_prior_dose(prior_dose, current_dose.grid, current_dose.frame_of_reference_uid,
                               deformable=to_deformable_registration(computed))
    t_apply = time.perf_counter() - t0
    return {"case": "sample patient 96x96x49 (2.5x2.5x3 mm)", "read_s": t_read, "register_s": t_reg, "register_cpu_s": cpu_reg,
            "apply_s": t_apply, "jacobian_min": aligned.jacobian.minimum if aligned.jacobian else None, "peak_mib": _peak_mib()}


def _errors(transform: object, pair: object, points: np.ndarray) -> tuple[float, float]:
    est = np.array([transform.TransformPoint(tuple(float(v) for v in p)) for p in points])  # type: ignore[attr-defined]
    err = np.linalg.norm(est - pair.deformation(points), axis=1)  # type: ignore[attr-defined]
    return float(err.mean()), float(np.percentile(err, 95))


def _case_pair(shape: tuple[int, int, int], spacing: tuple[float, float, float], label: str, *, errors: bool) -> dict[str, object]:
    from dosimetry.align.register import register_deformable
    from dosimetry.sampledata.deformed_pair import deformed_pair, grid_points

    t0 = time.perf_counter()
    pair = deformed_pair(shape, spacing)
    t_gen = time.perf_counter() - t0
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    computed = register_deformable(pair.current_hu, pair.current_grid, pair.prior_hu, pair.prior_grid,
                                   current_frame_uid="1.2.3.1", prior_frame_uid="1.2.3.2")
    result: dict[str, object] = {"case": label, "generate_s": t_gen, "register_s": time.perf_counter() - t0,
                                 "register_cpu_s": time.process_time() - cpu0, "peak_mib": _peak_mib()}
    if errors:
        pts = grid_points(pair.current_grid)[pair.current_hu.ravel() > -500][::5]
        result["error_mean_p95_mm"] = _errors(computed.composite(), pair, pts)
        result["rigid_error_mean_p95_mm"] = _errors(computed.rigid, pair, pts)
    return result


CASES = {
    "sample": _case_sample,
    "pair40": lambda: _case_pair((40, 40, 40), (3.0, 3.0, 3.0), "generated pair 40^3 (3 mm)", errors=True),
    "clinical": lambda: _case_pair((512, 512, 120), (0.98, 0.98, 3.0), "generated clinical-size pair 512x512x120 (0.98x0.98x3 mm)", errors=False),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--case", choices=sorted(CASES))
    args = parser.parse_args()
    if args.case:
        print(json.dumps(CASES[args.case]()))
        return
    for name in CASES:
        out = subprocess.run([sys.executable, "-m", "benchmarks.deformable_registration", "--case", name],
                             cwd=ROOT, capture_output=True, text=True, timeout=1800, check=False)
        if out.returncode != 0:
            print(f"{name}: failed: {out.stderr.strip().splitlines()[-1] if out.stderr.strip() else out.returncode}", flush=True)
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        line = f"{r.pop('case')}: " + ", ".join(
            f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}" for k, v in r.items()
        )
        print(line, flush=True)


if __name__ == "__main__":
    main()
