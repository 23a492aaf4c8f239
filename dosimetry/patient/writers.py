"""The files of one analysis, each written atomically into the output folder.

* ``dvh.csv``: ``roi, quantity, dose_gy, volume_cc, volume_pct``: the cumulative DVH sampled every
  ``dvh_csv_step_gy`` (default 0.1 Gy; exact, the curve is linear between bin edges) from 0 Gy to
  the first step above the maximum; ``volume_pct`` refers to the ROI volume inside the dose grid.
* ``metrics.csv``: ``roi, quantity, metric, value, unit, warnings`` (the same rows as results.json
  ``metrics``; ``warnings``: the analysis warnings naming the row's ROI or no ROI, joined by `` | ``,
  so that a warning that may change the number travels with it).
* the maps as RT Dose files ``BED2.dcm``, ``BED9.dcm``, ``EQD2_2.dcm``, ``EQD2_9.dcm`` and (with a
  prior course) ``EQD2_2_cumulative.dcm``, ``BED2_cumulative.dcm`` (file names are fixed, never
  taken from DICOM values).
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dosimetry.io.csv_cells import csv_writer
from dosimetry.patient.dvhs import PatientDvhs
from dosimetry.patient.maps import PatientMaps
from dosimetry.patient.records import MetricRow, OutputRecord
from dosimetry.roi_warnings import warnings_by_roi
from dosimetry.radiobiology.export import (
    export_cumulative_map,
    export_lq_map,
    identity_from_dicom,
)

DVH_CSV_STEP_GY = 0.1


def dvh_csv_text(dvhs: PatientDvhs, step_gy: float = DVH_CSV_STEP_GY) -> str:
    """``dvh.csv`` (module docstring)."""
    buffer = io.StringIO()
    writer = csv_writer(buffer, lineterminator="\n")
    writer.writerow(["roi", "quantity", "dose_gy", "volume_cc", "volume_pct"])
    # The text cells of a curve (neutralised, quoted as needed) once per curve through the CSV
    # writer, then its numeric cells joined directly: a formatted number is never neutralised nor
    # quoted, so the bytes are those of one writer row per level. Measured reason (issue 20,
    # clinical case, 268 curves): one writer row per level took 0.26 s CPU of `analyze`.
    head = io.StringIO()
    head_writer = csv_writer(head, lineterminator="\n")
    for (name, quantity), dvh in dvhs.curves.items():
        top = float(dvh.bin_edges_gy[-1])
        levels = np.arange(0.0, top + step_gy, step_gy)
        volumes = np.interp(levels, dvh.bin_edges_gy, dvh.cumulative_cc, left=dvh.volume_in_dose_grid_cc, right=0.0)
        pct = 100.0 * volumes / dvh.volume_in_dose_grid_cc
        head.seek(0)
        head.truncate()
        head_writer.writerow([name, quantity])
        prefix = head.getvalue()[:-1] + ","
        buffer.write("".join([
            f"{prefix}{level:.4f},{volume:.6g},{p:.6g}\n"
            for level, volume, p in zip(levels.tolist(), volumes.tolist(), pct.tolist(), strict=True)
        ]))
    return buffer.getvalue()


def metrics_csv_text(rows: Sequence[MetricRow], warnings: Sequence[str] = (), rois: Sequence[tuple[int, str]] = ()) -> str:
    """``metrics.csv`` (module docstring); values with full precision (``repr``); the ``warnings``
    column holds the analysis warnings naming the row's ROI (``rois``: (number, name)) or naming no
    ROI, joined by `` | `` (:func:`dosimetry.roi_warnings.warnings_by_roi`)."""
    numbered = list(rois) or [(k, name) for k, name in enumerate(dict.fromkeys(r.roi for r in rows), start=1)]
    number_of = {name: number for number, name in numbered}
    by_roi = warnings_by_roi(numbered, warnings)
    buffer = io.StringIO()
    writer = csv_writer(buffer, lineterminator="\n")
    writer.writerow(["roi", "quantity", "metric", "value", "unit", "warnings"])
    for row in rows:
        notes = by_roi.get(number_of.get(row.roi, -1), [])
        writer.writerow([row.roi, row.quantity, row.metric, repr(row.value), row.unit, " | ".join(notes)])
    return buffer.getvalue()


def export_maps(maps: PatientMaps, out_dir: Path, warnings: Sequence[str]) -> tuple[OutputRecord, ...]:
    """Write the maps as RT Dose files: each into a private temporary folder, then renamed into ``out_dir``.
    The first 50 ``warnings`` go into each file's notes."""
    identity = identity_from_dicom(maps.current.dose_paths[0])
    outputs: list[OutputRecord] = []
    notes = tuple(warnings)[:50]
    scratch = Path(tempfile.mkdtemp(prefix=".rtdose-", dir=out_dir))
    try:
        for key, lq in maps.lq.items():
            tmp = scratch / f"{key}.dcm"
            exported = export_lq_map(lq, tmp, identity=identity, plan=maps.current.plan, notes=notes)
            outputs.append(_publish(tmp, out_dir, exported.series_description, exported.sop_instance_uid))
        if maps.prior is not None:
            for key, cumulative in maps.cumulative.items():
                tmp = scratch / f"{key}.dcm"
                exported = export_cumulative_map(cumulative, tmp, identity=identity, plan=maps.current.plan, notes=notes)
                outputs.append(_publish(tmp, out_dir, exported.series_description, exported.sop_instance_uid))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return tuple(outputs)


def _publish(tmp: Path, out_dir: Path, description: str, sop_instance_uid: str) -> OutputRecord:
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, out_dir / tmp.name)
    return OutputRecord(path=tmp.name, kind="rtdose", description=description, sop_instance_uid=sop_instance_uid)
