"""Where ``dosimetry dvh``'s CPU time goes on a clinical-size case: imports, reading, the shape
model's planar helpers (distance maps, level sets, resampling; ``dosimetry.dvh._shape_planar``),
the rest of the shape model (``dosimetry.dvh._shape``), the rest of the DVH calculation, and writing
the JSON and CSV outputs. One fresh process per run, CPU time (``time.process_time``), so that on a
shared machine the load matters less than for wall time.

The planar helpers are timed by wrapping them (a wrapper's own cost is a few microseconds a call);
scipy is imported on its own line (the shape model imports it on its first distance map).

Run: ``.venv/bin/python benchmarks/dvh_clinical_profile.py CASE_FOLDER [--end-cap shape] [--repeat 3]``
(CASE_FOLDER as in ``benchmarks/clinical_scale.py``: ``current/RD_*.dcm`` and ``current/RS_*.dcm``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_CHILD = r"""
import json, sys, time, tempfile, collections
from pathlib import Path
t = collections.OrderedDict()
c0 = time.process_time()
import numpy, pydicom  # noqa: E401
t["import numpy + pydicom"] = time.process_time() - c0
c0 = time.process_time()
from dosimetry.dvh import compute_dvhs
from dosimetry.dvh.endcaps import EndCapConvention
from dosimetry.io import load_dose, load_structure_set
from dosimetry.cli.commands import dvh as command
t["import dosimetry (dvh, io, cli command)"] = time.process_time() - c0
convention = EndCapConvention(sys.argv[3])
if convention is EndCapConvention.SHAPE:
    c0 = time.process_time()
    import scipy.ndimage, scipy.spatial  # noqa: E401
    t["import scipy.ndimage + scipy.spatial (shape only)"] = time.process_time() - c0
c0 = time.process_time()
dose = load_dose(Path(sys.argv[1]))
t["read RT Dose"] = time.process_time() - c0
c0 = time.process_time()
rois = list(load_structure_set(Path(sys.argv[2])).rois)
t["read RT Structure Set"] = time.process_time() - c0
import dosimetry.dvh._shape as shape
spent = collections.Counter()
def wrap(name):
    f = getattr(shape, name)
    def timed(*a, **k):
        s = time.process_time()
        try:
            return f(*a, **k)
        finally:
            spent[name] += time.process_time() - s
    setattr(shape, name, timed)
for name in ("_signed_distance", "_level_sections", "_resample", "shape_geometry"):
    wrap(name)
c0 = time.process_time()
outcomes = compute_dvhs(dose, rois, end_cap=convention)
total = time.process_time() - c0
planar = spent["_signed_distance"] + spent["_level_sections"] + spent["_resample"]
t["shape model: distance maps (_signed_distance)"] = spent["_signed_distance"]
t["shape model: level sets (_level_sections)"] = spent["_level_sections"]
t["shape model: resampling (_resample)"] = spent["_resample"]
t["shape model: the rest (_shape.shape_geometry)"] = spent["shape_geometry"] - planar
t["DVH calculation outside the shape model"] = total - spent["shape_geometry"]
c0 = time.process_time()
with tempfile.TemporaryDirectory() as tmp:
    entries = [command._entry(o.roi, o.dvh, o.error, list(command.DEFAULT_METRICS), None) for o in outcomes]
    Path(tmp, "dvh.json").write_text(json.dumps(entries, indent=2, default=str))
t["default metrics and a JSON of them"] = time.process_time() - c0
print(json.dumps(t))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("case", type=Path)
    parser.add_argument("--end-cap", default="shape")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    current = args.case / "current"
    rd, rs = next(current.glob("RD_*.dcm")), next(current.glob("RS_*.dcm"))
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    runs = []
    for _ in range(args.repeat + 1):  # the first run compiles the modules (not counted)
        out = subprocess.run([sys.executable, "-c", _CHILD, str(rd), str(rs), args.end_cap],
                             capture_output=True, text=True, check=True, env=env, cwd=ROOT)  # "" on sys.path: ROOT
        runs.append(json.loads(out.stdout))
    runs = runs[1:]
    print(f"{args.case} ({args.end_cap}); CPU seconds, median of {args.repeat} fresh processes (min - max); "
          f"load average {os.getloadavg()[0]:.1f}")
    total = 0.0
    for key in runs[0]:
        values = [r[key] for r in runs]
        total += statistics.median(values)
        print(f"  {key:<52} {statistics.median(values):6.3f}  ({min(values):.3f} - {max(values):.3f})")
    print(f"  {'sum of the medians':<52} {total:6.3f}")


if __name__ == "__main__":
    main()
