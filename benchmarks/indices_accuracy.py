"""Benchmark: accuracy and speed of the plan-quality indices against closed-form sphere geometry.

Phantom (as in tests/test_indices_evaluate.py): D(r) = 60 Gy for r <= 6 mm, linear to 0 at 30 mm,
prescription 50 Gy, so the 100 % isodose is a sphere of 10 mm and the 50 % isodose one of 20 mm
(GI = 8). For each dose-grid spacing it prints the relative error of TV, PIV, TV_PIV and the
Paddick CI against 4/3 pi r^3 and the lens volume, for four geometries:

- ``nested``: target R = 12 mm holding the isodose sphere (TV_PIV = PIV);
- ``shifted``: target R = 10 mm shifted 4 mm (lens overlap);
- ``coincident``: target R = 10 mm centred on the isodose sphere (the target surface is the
  isodose surface; the oracle is the exact overlap of the contoured cylinder stack with the
  sphere, 1.8 % below the smooth sphere at 1 mm planes);
- GI error and the time of one ``evaluate_target`` call (target + External sampling).

It also times ``dosimetry indices`` on the sample patient when ``sample_data/patient01`` exists.
Run: ``.venv/bin/python benchmarks/indices_accuracy.py``.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dosimetry.indices.evaluate import ReferenceLevel, evaluate_target  # noqa: E402
from tests.indices_phantoms import (  # noqa: E402
    RadialFalloff,
    dose_grid,
    lens_cc,
    sphere_cc,
    sphere_roi,
    stacked_sphere_in_isodose_cc,
)

FALLOFF = RadialFalloff(dmax_gy=60.0, plateau_mm=6.0, zero_mm=30.0)
RX = ReferenceLevel.physical(50.0)


def _pct(got: float, expected: float) -> str:
    return f"{100.0 * (got / expected - 1.0):+6.2f}%"


def phantom_table() -> None:
    body = sphere_roi("BODY", 22.5, interpreted_type="EXTERNAL", number=99)
    print("spacing  case        TV err   PIV err  TV_PIV err  Paddick err   GI err   time/eval")
    for spacing in (1.0, 1.5, 2.0, 2.5, 3.0):
        dose = dose_grid(FALLOFF, half_width_mm=26.0, spacing_mm=spacing)
        cases = (
            ("nested", 12.0, (0.0, 0.0, 0.0)),
            ("shifted", 10.0, (4.0, 0.0, 0.0)),
            ("coincident", 10.0, (0.0, 0.0, 0.0)),
        )
        for name, radius, centre in cases:
            start = time.perf_counter()
            result = evaluate_target(dose, sphere_roi("CTV", radius, centre_mm=centre), RX, body=body)
            elapsed = time.perf_counter() - start
            tv, piv = sphere_cc(radius), sphere_cc(10.0)
            overlap = lens_cc(radius, 10.0, math.dist(centre, (0.0, 0.0, 0.0)))
            if name == "coincident":  # the contoured target is a cylinder stack: exact overlap
                tv, overlap = stacked_sphere_in_isodose_cc(radius, 100.0), stacked_sphere_in_isodose_cc(radius, 10.0)
            paddick = overlap**2 / (tv * piv)
            print(
                f"{spacing:5.1f} mm  {name:<10} {_pct(result.tv_cc, tv)}  {_pct(result.piv_cc, piv)}  "
                f"{_pct(result.tv_piv_cc, overlap)}     {_pct(result.index('paddick_ci').require(), paddick)}    "
                f"{_pct(result.index('gradient_index').require(), 8.0)}  {elapsed:7.3f} s"
            )


def sample_patient() -> None:
    folder = ROOT / "sample_data" / "patient01" / "current"
    dose_files = sorted(folder.glob("RD_*.dcm"))
    rs_files = sorted(folder.glob("RS_*.dcm"))
    if not dose_files or not rs_files:
        print("sample patient not found; run `dosimetry sample-data` to time it")
        return
    from dosimetry.cli import main as cli_main

    args = ["indices", "--dose", str(dose_files[0]), "--structures", str(rs_files[0]), "--target", "CTV",
            "--target", "PTV", "--prescription", "55", "--isodose", "95", "--json"]
    start = time.perf_counter()
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        cli_main.main(args)
    print(f"dosimetry indices on the sample patient (CTV + PTV, External, load included): "
          f"{time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    phantom_table()
    sample_patient()
