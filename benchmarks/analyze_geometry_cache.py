"""What the geometry memo of ``geometry_for_grid`` saves in one patient analysis (issue 13).

Run:  .venv/bin/python benchmarks/analyze_geometry_cache.py [--patient DIR] [--repeats N]

For one patient folder (sample_data/patient01 by default; e.g. /tmp/dosimetry_clinical/clinical01,
read only) ``Patient.write`` runs with the memo (the default) and without it
(``GEOMETRY_CACHE_SIZE = 0``: every step rebuilds its geometries, as before the memo), repeated
alternately (--repeats, default 2), each in a fresh process so that nothing is shared between runs;
reported: CPU seconds (the steadier figure on a busy machine), wall seconds, shape-model geometry
builds (``shape_geometry`` calls), peak RSS, and whether dvh.csv and metrics.csv are byte-identical.
The baseline side by side is our own uncached path: dicompyler-core has no shape model.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_CHILD = r"""
import json, logging, resource, sys, time
sys.path.insert(0, sys.argv[1])
logging.disable(logging.WARNING)
from dosimetry.dvh import _shape, rasterise
import dosimetry
calls = 0
build = _shape.shape_geometry
def counted(base, label):
    global calls
    calls += 1
    return build(base, label)
_shape.shape_geometry = counted
if sys.argv[4] == "uncached":
    rasterise.GEOMETRY_CACHE_SIZE = 0
cpu, wall = time.process_time(), time.perf_counter()
dosimetry.load_patient(sys.argv[2]).write(sys.argv[3])
print(json.dumps({"cpu_s": time.process_time() - cpu, "wall_s": time.perf_counter() - wall, "shape_builds": calls,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patient", type=Path, default=ROOT / "sample_data" / "patient01")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            for mode in ("uncached", "cached"):
                out = Path(tmp) / f"{mode}{i}"
                done = subprocess.run(
                    [sys.executable, "-c", _CHILD, str(ROOT), str(args.patient), str(out), mode],
                    check=True, capture_output=True, text=True, timeout=1800,
                )
                r = json.loads(done.stdout.strip().splitlines()[-1])
                print(f"{mode:9s} run {i + 1}: CPU {r['cpu_s']:.2f} s, wall {r['wall_s']:.2f} s, "
                      f"shape builds {r['shape_builds']}, peak RSS {r['peak_rss_mb']:.0f} MB")
        for name in ("dvh.csv", "metrics.csv"):
            same = (Path(tmp) / "cached0" / name).read_bytes() == (Path(tmp) / "uncached0" / name).read_bytes()
            print(f"{name}: {'byte-identical' if same else 'DIFFERENT'} cached vs uncached")


if __name__ == "__main__":
    main()
