"""Are two ``dosimetry analyze`` output folders the same analysis? (issue 20: a speed change must
not move an output.)

Compared: ``dvh.csv`` and ``metrics.csv`` byte for byte; ``results.json`` and ``report.html`` with
what differs between runs by design replaced (ISO timestamps, DICOM UIDs the run generates, the
output folder's path); every exported RT Dose by its voxel values, DoseGridScaling and every other
element but the UIDs the run generates (SOP Instance, Series Instance UID), and the two folders
hold the same maps. Prints one line per file and exits 1 when any differs.

Run: ``.venv/bin/python benchmarks/compare_analyze_outputs.py OUT_A OUT_B`` (e.g. the ``main_0`` and
``branch_0`` folders benchmarks/analyze_side_by_side.py leaves).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pydicom

#: elements of an exported map a run generates anew (compared elsewhere: none)
_RUN_UIDS = frozenset({"SOPInstanceUID", "SeriesInstanceUID"})
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(\+00:00|Z)?")
_UID = re.compile(r"\b\d+(\.\d+){4,}\b")


def _text(path: Path, out_dir: Path) -> str:
    text = path.read_text(encoding="utf-8").replace(str(out_dir.resolve()), "OUT").replace(str(out_dir), "OUT")
    return _UID.sub("UID", _TIME.sub("TIME", text))


def _json(path: Path, out_dir: Path) -> Any:
    return json.loads(_text(path, out_dir))


def compare(a: Path, b: Path) -> list[tuple[str, bool]]:
    out = []
    for name in ("dvh.csv", "metrics.csv"):
        out.append((name, (a / name).read_bytes() == (b / name).read_bytes()))
    out.append(("results.json", _json(a / "results.json", a) == _json(b / "results.json", b)))
    out.append(("report.html", _text(a / "report.html", a) == _text(b / "report.html", b)))
    for dose in sorted(p.name for p in a.glob("*.dcm")):
        if not (b / dose).exists():
            out.append((dose, False))
            continue
        x, y = pydicom.dcmread(a / dose), pydicom.dcmread(b / dose)
        same_header = {e.tag for e in x} == {e.tag for e in y} and all(
            e.value == y[e.tag].value for e in x if e.keyword not in _RUN_UIDS and e.keyword != "PixelData"
        )
        out.append((dose, bool(np.array_equal(x.pixel_array, y.pixel_array)) and x.DoseGridScaling == y.DoseGridScaling and same_header))
    out += [(f"{dose} (only in {b})", False) for dose in sorted(p.name for p in b.glob("*.dcm")) if not (a / dose).exists()]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    args = parser.parse_args()
    results = compare(args.a, args.b)
    for name, same in results:
        print(f"{name:28s} {'same' if same else 'DIFFERS'}")
    sys.exit(0 if all(same for _, same in results) else 1)


if __name__ == "__main__":
    main()
