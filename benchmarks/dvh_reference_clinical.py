"""Full-curve reference of the DVH engine on the clinical-size cases of ``benchmarks/clinical_scale.py``
(the simplified and the dense-contour variant), to show a speed change leaves every number where it
was on them too (``benchmarks/dvh_reference.py`` covers the sample patient, the synthetic
head-and-neck set and the analytic phantoms; the same arrays and the same comparison, to 1e-9 of
each array's largest value).

Run:  .venv/bin/python benchmarks/dvh_reference_clinical.py save REF.npz CASE_FOLDER...   (before)
      .venv/bin/python benchmarks/dvh_reference_clinical.py check REF.npz CASE_FOLDER...  (after; exit 1 if moved)
      ... --end-cap shape --end-cap half-slab   (only these conventions; default all three)

A CASE_FOLDER is a patient folder whose ``current`` course holds one RD_*.dcm and one RS_*.dcm
(e.g. /tmp/dosimetry_clinical/clinical01). Keys: ``CONVENTION/FOLDER-NAME/ROI/...``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.dvh_reference import compare, record  # noqa: E402
from dosimetry.dvh.endcaps import EndCapConvention  # noqa: E402
from dosimetry.io import load_dose, load_structure_set  # noqa: E402


def collect(folders: list[Path], conventions: tuple[EndCapConvention, ...]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for folder in folders:
        current = folder / "current"
        dose = load_dose(next(current.glob("RD_*.dcm")))
        rois = list(load_structure_set(next(current.glob("RS_*.dcm"))).rois)
        for convention in conventions:
            record(out, folder.name, dose, rois, convention)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["save", "check"])
    parser.add_argument("file", type=Path, help="reference .npz")
    parser.add_argument("folders", nargs="+", type=Path, help="case folders (each with a current/ course)")
    parser.add_argument("--rtol", type=float, default=1e-9)
    parser.add_argument("--end-cap", action="append", choices=[c.value for c in EndCapConvention],
                        help="convention to compute (repeatable; default all three)")
    args = parser.parse_args(argv)
    conventions = tuple(EndCapConvention(c) for c in dict.fromkeys(args.end_cap or [c.value for c in EndCapConvention]))
    current = collect(args.folders, conventions)
    if args.action == "save":
        np.savez(args.file, **current)
        print(f"wrote {len(current)} arrays to {args.file}")
        return 0
    with np.load(args.file) as saved:
        reference = {key: saved[key] for key in saved.files}
    return compare(reference, current, args.rtol)


if __name__ == "__main__":
    raise SystemExit(main())
