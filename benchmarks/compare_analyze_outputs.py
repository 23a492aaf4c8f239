"""Compare two ``dosimetry analyze`` output folders (issue 20: a speed change must not change outputs).

Compared: ``dvh.csv`` and ``metrics.csv`` byte for byte; ``results.json`` as JSON without the
fields that change on every run (``generated_utc``, SOP Instance UIDs of the written maps); each
RT Dose map's PixelData byte for byte and every other element of the map equal except the UIDs a
run generates (SOP Instance, Series Instance, Media Storage SOP Instance UIDs). ``report.html`` is
not compared (it embeds the run's time and figures). Exit 1 and a line per difference when they differ.

Run: ``.venv/bin/python benchmarks/compare_analyze_outputs.py OUT_BEFORE OUT_AFTER``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import pydicom

RUN_UIDS = ("SOPInstanceUID", "SeriesInstanceUID")


def _results(path: Path) -> Any:
    document = json.loads(path.read_text())
    document.pop("generated_utc", None)
    for output in document.get("outputs", []):
        output.pop("sop_instance_uid", None)
    return document


def _map_differences(a: Path, b: Path) -> list[str]:
    ds_a, ds_b = pydicom.dcmread(a), pydicom.dcmread(b)
    problems = []
    if ds_a.PixelData != ds_b.PixelData:
        problems.append(f"{a.name}: PixelData differs")
    for elem in ds_a:
        if elem.keyword in RUN_UIDS or elem.keyword == "PixelData":
            continue
        other = ds_b.get(elem.tag)
        if other is None or other.value != elem.value:
            problems.append(f"{a.name}: {elem.keyword or elem.tag} differs")
    missing = {e.tag for e in ds_b} - {e.tag for e in ds_a}
    problems += [f"{a.name}: {t} only in the second" for t in sorted(missing)]
    return problems


def compare(first: Path, second: Path) -> list[str]:
    problems = []
    for name in ("dvh.csv", "metrics.csv"):
        if (first / name).read_bytes() != (second / name).read_bytes():
            problems.append(f"{name} differs")
    if _results(first / "results.json") != _results(second / "results.json"):
        problems.append("results.json differs (beyond generated_utc and map UIDs)")
    maps_a = sorted(p.name for p in first.glob("*.dcm"))
    maps_b = sorted(p.name for p in second.glob("*.dcm"))
    if maps_a != maps_b:
        problems.append(f"maps differ: {maps_a} vs {maps_b}")
    for name in sorted(set(maps_a) & set(maps_b)):
        problems += _map_differences(first / name, second / name)
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("first", type=Path)
    parser.add_argument("second", type=Path)
    args = parser.parse_args()
    problems = compare(args.first, args.second)
    for line in problems:
        print(line)
    n_maps = len(list(args.first.glob("*.dcm")))
    print("same outputs" if not problems else f"{len(problems)} difference(s)", f"({n_maps} maps compared)")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
