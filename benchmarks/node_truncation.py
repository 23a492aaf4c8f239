"""Why the DICOM node walks the element lengths of every received data set (dosimetry/node/integrity.py).

Cuts each object type of the sample patient (CT, RT Structure Set, RT Plan, RT Ion Plan, RT Dose,
Spatial Registration) at about 2,000 evenly spaced points of its data set and counts the truncated
streams each check accepts:

- pydicom's own read (``dcmread`` succeeds);
- ``dosimetry.io.dicom_file.check_complete`` on the decoded data set (raw element lengths);
- ``dosimetry.node.integrity.check_encoded_lengths`` on the encoded stream (every declared length).

A cut exactly between two top-level elements leaves a well-formed, shorter data set that no length
check can tell from a whole one; the walk's remaining acceptances are those. Accuracy only, no timing.

Run: ``.venv/bin/python benchmarks/node_truncation.py``.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import pydicom
from pydicom.filereader import read_preamble

from dosimetry.errors import DosimetryError
from dosimetry.io.dicom_file import check_complete
from dosimetry.node.integrity import check_encoded_lengths

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "patient01"
FILES = ("current/CT_001.dcm", "current/RS_patient01.dcm", "prior/RP_patient01.dcm", "current/RI_patient01.dcm",
         "current/RD_patient01.dcm", "prior/RE_patient01.dcm")


def _data_set_offset(data: bytes) -> int:
    fp = io.BytesIO(data)
    read_preamble(fp, False)
    pydicom.filereader._read_file_meta_info(fp)
    return fp.tell()


def main() -> None:
    warnings.simplefilter("ignore")
    print(f"{'object':28s} {'cuts':>6s} {'pydicom reads':>14s} {'io check accepts':>17s} {'walk accepts':>13s}")
    totals = [0, 0, 0, 0]
    for name in FILES:
        data = (SAMPLE / name).read_bytes()
        offset = _data_set_offset(data)
        syntax = pydicom.dcmread(SAMPLE / name, stop_before_pixels=True).file_meta.TransferSyntaxUID
        step = max(1, (len(data) - offset) // 2000)
        counts = [0, 0, 0, 0]
        for cut in range(offset + 1, len(data), step):
            counts[0] += 1
            try:
                ds = pydicom.dcmread(io.BytesIO(data[:cut]))
            except Exception:  # noqa: BLE001 - any failure is a refusal by pydicom
                ds = None
            if ds is not None:
                counts[1] += 1
                try:
                    check_complete(ds, Path(name))
                    counts[2] += 1
                except DosimetryError:
                    pass
            try:
                check_encoded_lengths(data[offset:cut], syntax)
                counts[3] += 1
            except DosimetryError:
                pass
        totals = [t + c for t, c in zip(totals, counts, strict=True)]
        print(f"{name:28s} {counts[0]:6d} {counts[1]:14d} {counts[2]:17d} {counts[3]:13d}")
    print(f"{'total':28s} {totals[0]:6d} {totals[1]:14d} {totals[2]:17d} {totals[3]:13d}")


if __name__ == "__main__":
    main()
