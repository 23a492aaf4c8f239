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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from dosimetry.errors import OutputError
from dosimetry.io.csv_cells import csv_writer
from dosimetry.patient.dvhs import PatientDvhs
from dosimetry.patient.maps import CumulativeMapSet, LqMapSet, MapSpool, PatientMaps
from dosimetry.patient.records import MetricRow, OutputRecord
from dosimetry.roi_warnings import warnings_by_roi
from dosimetry.radiobiology.export import (
    export_cumulative_map,
    export_lq_map,
    export_map_file,
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


def export_maps(
    maps: PatientMaps, out_dir: Path, warnings: Sequence[str], spool: MapSpool | None = None
) -> tuple[OutputRecord, ...]:
    """Write the maps as RT Dose files: each into a private temporary folder, then renamed into ``out_dir``.
    The first 50 ``warnings`` go into each file's notes. A map the ``spool`` holds (encoded when the
    analysis computed it, :meth:`PatientMaps.spooling`) is written from there, the others are computed."""
    identity = identity_from_dicom(maps.current.dose_paths[0])
    outputs: list[OutputRecord] = []
    notes = tuple(warnings)[:50]
    plan = maps.current.plan
    scratch = Path(tempfile.mkdtemp(prefix=".rtdose-", dir=out_dir))
    keys = [(key, False) for key in maps.lq] + ([(key, True) for key in maps.cumulative] if maps.prior is not None else [])
    try:
        for key, is_cumulative in keys:
            tmp = scratch / f"{key}.dcm"
            spooled = None if spool is None else spool.get(key)
            if spooled is not None:
                exported = export_map_file(spooled.encoded, spooled.text, tmp, identity=identity, plan=plan, notes=notes)
            elif is_cumulative:
                exported = export_cumulative_map(maps.cumulative[key], tmp, identity=identity, plan=plan, notes=notes)
            else:
                exported = export_lq_map(maps.lq[key], tmp, identity=identity, plan=plan, notes=notes)
            outputs.append(_publish(tmp, out_dir, exported.series_description, exported.sop_instance_uid))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return tuple(outputs)


@contextmanager
def map_spool(maps: PatientMaps, out_dir: Path) -> Iterator[MapSpool]:
    """Creates ``out_dir`` if needed (OutputError when it cannot) and, while open, encodes the maps
    the analysis computes into a private folder of it for :func:`export_maps`
    (as :meth:`PatientMaps.spooling`); the folder is removed at exit, and ``out_dir`` too when this created it and the block failed (it is then empty)."""
    created = not out_dir.exists()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix=".maps-", dir=out_dir))
    except OSError as exc:
        raise OutputError(f"cannot create the output folder {out_dir}: {exc}") from exc
    failed = True
    spool = MapSpool(folder)
    # what PatientMaps.spooling does, with this spool (spooling makes its own MapSpool)
    sets = [m for m in (maps.lq, maps.cumulative) if isinstance(m, (LqMapSet, CumulativeMapSet))]
    try:
        for mapping in sets:
            mapping.spool = spool
        try:
            yield spool
        finally:
            for mapping in sets:
                mapping.spool = None
        failed = False
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        if failed and created:
            try:
                out_dir.rmdir()
            except OSError:
                pass  # not empty: something else wrote into it meanwhile; left as it is


def _publish(tmp: Path, out_dir: Path, description: str, sop_instance_uid: str) -> OutputRecord:
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, out_dir / tmp.name)
    return OutputRecord(path=tmp.name, kind="rtdose", description=description, sop_instance_uid=sop_instance_uid)
