"""Cost of the per-file probe and parse deadline (dosimetry.io.dicom_probe) on a real export.

Reads every file of the committed sample patient's header (``stop_before_pixels``) with plain
``pydicom.dcmread`` and with the probe plus the deadline-checking file wrapper that
``dosimetry.io.dicom_file.read_dicom`` uses; prints the best of N rounds of each, side by side, and
the time of one 2 GiB sparse zero file through the probe (before the probe, pydicom parsed such a
file for about 880 s). Run: ``python benchmarks/dicom_probe_overhead.py [ROUNDS]``.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import pydicom

from dosimetry.errors import InputFileError
from dosimetry.io.dicom_probe import DeadlineReader, probe_dicom_file

FILES = sorted((Path(__file__).resolve().parents[1] / "sample_data" / "patient01").rglob("*.dcm"))


def plain() -> None:
    for path in FILES:
        pydicom.dcmread(path, stop_before_pixels=True)


def probed() -> None:
    for path in FILES:
        probe_dicom_file(path)
        with DeadlineReader(path) as handle:
            pydicom.dcmread(handle, stop_before_pixels=True)


def best_ms(functions: dict[str, object], rounds: int) -> dict[str, float]:
    """Best time of each function, the functions interleaved round by round (a shared machine's
    load then affects both alike)."""
    times: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(rounds):
        for name, function in functions.items():
            start = time.perf_counter()
            function()  # type: ignore[operator]
            times[name].append(time.perf_counter() - start)
    return {name: 1000.0 * min(values) for name, values in times.items()}


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    print(f"{len(FILES)} files of sample_data/patient01, best of {rounds} rounds")
    best = best_ms({"pydicom.dcmread(path)": plain, "probe + DeadlineReader + dcmread": probed}, rounds)
    for name, ms in best.items():
        print(f"  {name:34s} {ms:8.1f} ms")
    with tempfile.TemporaryDirectory() as folder:
        big = Path(folder) / "x.dcm"
        big.touch()
        os.truncate(big, 2 << 30)
        start = time.perf_counter()
        try:
            probe_dicom_file(big)
        except InputFileError:
            pass
        print(f"  probe of a 2 GiB sparse zero file {1000.0 * (time.perf_counter() - start):6.3f} ms (refused)")


if __name__ == "__main__":
    main()
