"""The cohort ``metrics.csv``: one row per patient, ROI, quantity and metric.

Columns: ``patient_key`` (output folder name under ``OUT/patients/``), ``patient_id`` (DICOM
PatientID), ``roi``, ``quantity`` (e.g. ``physical``, ``EQD2_cumulative``), ``metric`` (e.g.
``D95%[Gy]``), ``value`` (shortest text that round-trips the float), ``unit``. Rows come from the
manifests the run published under ``OUT/patients/`` (exactly the numbers of that output folder, even
when another batch shares the cohort database), in a stable order, and the file is replaced atomically.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from dosimetry.io.csv_cells import csv_writer, restore_row
from pipelines.atomic import open_atomic

METRICS_CSV_NAME = "metrics.csv"
METRICS_COLUMNS = ("patient_key", "patient_id", "roi", "quantity", "metric", "value", "unit")


def write_metrics_csv(path: Path, rows: Iterable[Mapping[str, Any]]) -> int:
    """Write ``rows`` (mappings with :data:`METRICS_COLUMNS`) atomically; returns the row count."""
    count = 0
    with open_atomic(Path(path), "w", newline="") as handle:
        writer = csv_writer(handle, lineterminator="\n")
        writer.writerow(METRICS_COLUMNS)
        for row in rows:
            writer.writerow([repr(float(row["value"])) if name == "value" else row[name] for name in METRICS_COLUMNS])
            count += 1
    return count


def read_metrics_csv(path: Path) -> list[dict[str, str]]:
    """The rows of a ``metrics.csv`` as dictionaries of strings, text cells restored
    (:func:`dosimetry.io.csv_cells.restore_cell`)."""
    with open(path, newline="", encoding="utf-8") as handle:
        return [restore_row(row) for row in csv.DictReader(handle)]
