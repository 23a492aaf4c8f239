"""CPU of the shape model (every ROI's ``shape_geometry``) and of ``compute_dvhs`` on a case, this
tree against another checkout of the project (e.g. a base commit), in ONE process, alternating ROI
by ROI (shape model) or call by call (compute_dvhs), and checking that both give the same numbers.

Why in one process: on a shared machine (2 cores, several helpers benchmarking at once) the CPU
time of a whole ``dosimetry dvh`` process moved by +-15 % from run to run in issue 20, more than a
10 % change of the shape model; alternating within one process puts both sides under the same
load. The other checkout is imported as a package ``dosimetry_base`` (a copy of its ``dosimetry``
folder with the package name rewritten, written under ``--scratch``).

Run: ``.venv/bin/python benchmarks/dvh_shape_ab.py CASE_FOLDER OTHER_CHECKOUT [--repeat 3]
[--scratch /tmp/dvh_shape_ab]`` (CASE_FOLDER as in ``benchmarks/clinical_scale.py``:
``current/RD_*.dcm`` and ``current/RS_*.dcm``; OTHER_CHECKOUT e.g. a ``git worktree add --detach``
of the base commit).
"""

from __future__ import annotations

import argparse
import importlib
import re
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _aliased_copy(checkout: Path, scratch: Path) -> Path:
    """``checkout/dosimetry`` copied to ``scratch/dosimetry_base`` with every ``dosimetry`` module
    name rewritten; returns ``scratch`` (to put on sys.path)."""
    target = scratch / "dosimetry_base"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(checkout / "dosimetry", target, ignore=shutil.ignore_patterns("__pycache__"))
    pattern = re.compile(r"\bdosimetry\b")
    for path in target.rglob("*.py"):
        path.write_text(pattern.sub("dosimetry_base", path.read_text()))
    return scratch


def _same_sections(a: Any, b: Any) -> bool:
    if len(a.sections) != len(b.sections) or a.volume_cc != b.volume_cc:
        return False
    for sa, sb in zip(a.sections, b.sections, strict=True):
        if sa.z_mm != sb.z_mm or sa.area_mm2 != sb.area_mm2 or len(sa.polygons) != len(sb.polygons):
            return False
        for (xa, ya), (xb, yb) in zip(sa.polygons, sb.polygons, strict=True):
            if not (np.array_equal(xa, xb) and np.array_equal(ya, yb)):
                return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("case", type=Path)
    parser.add_argument("other", type=Path, help="the other checkout (its dosimetry/ folder is imported as dosimetry_base)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scratch", type=Path, default=Path("/tmp/dvh_shape_ab"))
    args = parser.parse_args()
    args.scratch.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(_aliased_copy(args.other.resolve(), args.scratch)))
    import contourpy  # noqa: F401 -- imported before timing, as the shape model's first use would
    import scipy.ndimage  # type: ignore[import-untyped,unused-ignore]  # noqa: F401
    import scipy.spatial  # type: ignore[import-untyped,unused-ignore]  # noqa: F401

    sides = {}
    for name in ("dosimetry", "dosimetry_base"):
        io = importlib.import_module(f"{name}.io")
        sides[name] = {
            "geometry": importlib.import_module(f"{name}.dvh.geometry").roi_geometry,
            "shape": importlib.import_module(f"{name}.dvh.endcaps").EndCapConvention.SHAPE,
            "compute": importlib.import_module(f"{name}.dvh.compute").compute_dvhs,
            "clear": importlib.import_module(f"{name}.dvh.rasterise").clear_geometry_cache,
            "dose": io.load_dose(next((args.case / "current").glob("RD_*.dcm"))),
            "rois": list(io.load_structure_set(next((args.case / "current").glob("RS_*.dcm"))).rois),
        }
    this, other = sides["dosimetry"], sides["dosimetry_base"]
    shape_time = {"this": 0.0, "other": 0.0}
    for rep in range(args.repeat + 1):  # the first pass checks the numbers and is not counted
        for roi_this, roi_other in zip(this["rois"], other["rois"], strict=True):
            out = {}
            for label, side, roi in (("other", other, roi_other), ("this", this, roi_this)):
                start = time.process_time()
                try:
                    out[label] = side["geometry"](roi, side["shape"], single_plane_thickness_mm=2.0)
                except Exception as exc:  # noqa: BLE001 -- an ROI without volume: the same on both sides
                    out[label] = type(exc).__name__
                if rep:
                    shape_time[label] += time.process_time() - start
            if rep == 0 and not (out["this"] == out["other"] if isinstance(out["this"], str) else _same_sections(out["this"], out["other"])):
                raise SystemExit(f"ROI {roi_this.name}: the two trees' shape models differ")
    compute_time: dict[str, list[float]] = {"this": [], "other": []}
    for rep in range(args.repeat):
        curves = {}
        for label, side in (("other", other), ("this", this)):
            side["clear"]()
            start = time.process_time()
            curves[label] = side["compute"](side["dose"], side["rois"], end_cap="shape")
            compute_time[label].append(time.process_time() - start)
        if rep == 0:
            for a, b in zip(curves["this"], curves["other"], strict=True):
                if (a.dvh is None) != (b.dvh is None) or (
                    a.dvh is not None and not (np.array_equal(a.dvh.cumulative_cc, b.dvh.cumulative_cc) and a.dvh.mean_gy == b.dvh.mean_gy)
                ):
                    raise SystemExit(f"ROI {a.roi.name}: the two trees' DVHs differ")
    print(f"{args.case.name}: identical shape models and DVHs; CPU seconds (this tree / {args.other})")
    print(f"  shape_geometry of every ROI, mean of {args.repeat} alternated passes: "
          f"{shape_time['this'] / args.repeat:.3f} / {shape_time['other'] / args.repeat:.3f} "
          f"(ratio {shape_time['this'] / shape_time['other']:.3f})")
    med_this, med_other = statistics.median(compute_time["this"]), statistics.median(compute_time["other"])
    print(f"  compute_dvhs (shape), median of {args.repeat} alternated calls: {med_this:.3f} / {med_other:.3f} (ratio {med_this / med_other:.3f})")


if __name__ == "__main__":
    main()
