"""Full-curve reference of the DVH engine, to show a speed change leaves every number where it was.

Run:  .venv/bin/python benchmarks/dvh_reference.py save REF.npz     (before the change)
      .venv/bin/python benchmarks/dvh_reference.py check REF.npz    (after; exit 1 if anything moved)
      .venv/bin/python benchmarks/dvh_reference.py                  (computes everything twice and
                                                                     compares: the engine is deterministic)
      ... --end-cap shape --end-cap half-slab                        (only these conventions; default all)

Cases: every ROI of the sample patient's current and prior course, the synthetic head-and-neck set
of ``benchmarks/dvh_vs_dicompyler.py`` and 16 analytic phantoms (sphere, cylinder, cone and their
rotated forms; 1 and 3 mm contours; 1 and 3 mm grids; AP and SI gradients; aligned and shifted half
a voxel). Every case is computed under each end-cap convention named explicitly (shape,
half-slab, truncated; ``--end-cap`` to restrict), never under "the default", so that a reference
means the same numbers whatever the default is (it became shape in issue 13); keys are
``CONVENTION/CASE/ROI/...``. A reference saved before the conventions were named (keys
``CASE/ROI/...``, computed when the default was half-slab) is compared with this run's half-slab
numbers. Per ROI: volume, volume in and outside the grid, min, max, mean, median, and the whole
cumulative curve with its bin edges and edge masses (what ``compute_dvhs`` returns), or the error
message. ``check`` compares each array with the saved one to 1e-9 of its largest value (--rtol) and
prints the largest relative change seen. Deterministic: nothing random, nothing downloaded.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.dvh_vs_dicompyler import synthetic_head_neck  # noqa: E402
from dosimetry.dose import DoseGrid  # noqa: E402
from dosimetry.dvh.compute import compute_dvhs  # noqa: E402
from dosimetry.dvh.endcaps import EndCapConvention  # noqa: E402
from dosimetry.dvh.phantoms import Shape, make_phantom  # noqa: E402
from dosimetry.io import load_dose, load_structure_set  # noqa: E402
from dosimetry.structures import Roi  # noqa: E402

PATIENT = ROOT / "sample_data" / "patient01"


def cases(workdir: Path) -> Iterator[tuple[str, DoseGrid, tuple[Roi, ...]]]:
    for course in ("current", "prior"):
        folder = PATIENT / course
        rd, rs = sorted(folder.glob("RD*.dcm"))[0], sorted(folder.glob("RS*.dcm"))[0]
        yield course, load_dose(rd), load_structure_set(rs).rois
    rd, rs = synthetic_head_neck(workdir)
    yield "synthetic", load_dose(rd), load_structure_set(rs).rois
    matrix = itertools.product(list(Shape), [1.0, 3.0], [1.0, 3.0], ["y", "z"], [0.0, 0.5])
    for index, (shape, spacing, grid_mm, axis, shift) in enumerate(matrix):
        if index % 2:
            continue
        phantom = make_phantom(shape, spacing, gradient_axis=axis)
        yield f"phantom{index}", phantom.dose_grid(grid_mm, shift_fraction=shift), (phantom.roi(),)


#: Key prefix of a reference saved before each convention was named: it holds half-slab numbers.
LEGACY_CONVENTION = EndCapConvention.HALF_SLAB


def record(out: dict[str, np.ndarray], tag: str, dose: DoseGrid, rois: list[Roi], convention: EndCapConvention) -> None:
    """Every array of ``compute_dvhs(dose, rois, end_cap=convention)`` into ``out`` under
    ``convention/tag/roi`` keys (the error text of an ROI that has no DVH)."""
    for outcome in compute_dvhs(dose, rois, end_cap=convention):
        key = f"{convention.value}/{tag}/{outcome.roi.name}"
        if outcome.dvh is None:
            out[f"{key}/error"] = np.array([str(outcome.error)])
            continue
        d = outcome.dvh
        out[f"{key}/scalars"] = np.array(
            [d.volume_cc, d.volume_in_dose_grid_cc, d.volume_outside_dose_grid_cc, d.min_gy, d.max_gy, d.mean_gy, d.median_gy]
        )
        out[f"{key}/edges"] = d.bin_edges_gy
        out[f"{key}/cumulative"] = d.cumulative_cc
        out[f"{key}/edge_mass"] = np.asarray(d.edge_mass_cc)


def collect(conventions: tuple[EndCapConvention, ...] = tuple(EndCapConvention)) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for (tag, dose, rois), convention in itertools.product(cases(Path(tmp)), conventions):
            record(out, tag, dose, list(rois), convention)
    return out


def named_conventions(reference: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``reference`` with every key prefixed by its convention: a legacy reference (no convention
    in its keys) holds half-slab numbers (module docstring)."""
    values = {c.value for c in EndCapConvention}
    if all(key.split("/", 1)[0] in values for key in reference):
        return reference
    print(f"legacy reference (no convention in its keys): compared as {LEGACY_CONVENTION.value}")
    return {f"{LEGACY_CONVENTION.value}/{key}": value for key, value in reference.items()}


def compare(reference: dict[str, np.ndarray], current: dict[str, np.ndarray], rtol: float) -> int:
    moved = 0
    worst = 0.0
    for key in sorted(set(reference) | set(current)):
        if key not in reference or key not in current:
            print(f"only in {'the reference' if key in reference else 'this run'}: {key}")
            moved += 1
            continue
        a, b = reference[key], current[key]
        if a.dtype.kind in "US" or b.dtype.kind in "US":
            if not np.array_equal(a, b):
                print(f"differs: {key}: {a} -> {b}")
                moved += 1
            continue
        if a.shape != b.shape:
            print(f"shape differs: {key}: {a.shape} -> {b.shape}")
            moved += 1
            continue
        scale = max(float(np.abs(a).max(initial=0.0)), 1e-300)
        change = float(np.abs(a - b).max(initial=0.0)) / scale
        worst = max(worst, change)
        if change > rtol:
            print(f"differs: {key}: {change:.3g} of its largest value")
            moved += 1
    print(f"{len(reference)} arrays: {moved} moved by more than {rtol:g} (largest relative change {worst:.3g})")
    return 1 if moved else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", nargs="?", choices=["save", "check"])
    parser.add_argument("file", nargs="?", type=Path, help="reference .npz")
    parser.add_argument("--rtol", type=float, default=1e-9)
    parser.add_argument(
        "--end-cap", action="append", choices=[c.value for c in EndCapConvention],
        help="convention to compute (repeatable; default all three)",
    )
    args = parser.parse_args(argv)
    if (args.action is None) != (args.file is None):
        parser.error("give both an action and a file, or neither")
    conventions = tuple(EndCapConvention(c) for c in dict.fromkeys(args.end_cap or [c.value for c in EndCapConvention]))
    current = collect(conventions)
    if args.action is None:
        print("no reference given: computing everything a second time to compare (determinism)")
        return compare(current, collect(conventions), 0.0)
    if args.action == "save":
        np.savez(args.file, **current)
        print(f"wrote {len(current)} arrays to {args.file}")
        return 0
    with np.load(args.file) as saved:
        reference = named_conventions({key: saved[key] for key in saved.files})
    computed = {c.value for c in conventions}
    saved_conventions = {key.split("/", 1)[0] for key in reference}
    skipped = sorted(computed - saved_conventions)
    if skipped:  # e.g. a legacy (half-slab only) reference
        print(f"not in the reference, not compared: {', '.join(skipped)}")
    reference = {k: v for k, v in reference.items() if k.split("/", 1)[0] in computed}
    current = {k: v for k, v in current.items() if k.split("/", 1)[0] in saved_conventions}
    return compare(reference, current, args.rtol)


if __name__ == "__main__":
    raise SystemExit(main())
