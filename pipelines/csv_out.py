"""The cohort ``metrics.csv``: one row per patient, ROI, quantity and metric.

Columns: ``patient_key`` (output folder name under ``OUT/patients/``), ``patient_id`` (DICOM
PatientID), ``roi``, ``quantity`` (e.g. ``physical``, ``EQD2_cumulative``), ``metric`` (e.g.
``D95%[Gy]``), ``value`` (shortest text that round-trips the float), ``unit``, and ``end_cap``: the DVH
end-cap convention the patient was analysed under (``half-slab``, ``truncated``, ``shape``;
:mod:`dosimetry.dvh.endcaps`; an optional column, :data:`METRICS_COLUMNS` are the required ones). Rows come from the
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
#: Written after :data:`METRICS_COLUMNS`; readers do not require them (older files lack them).
OPTIONAL_METRICS_COLUMNS = ("end_cap",)


def write_metrics_csv(path: Path, rows: Iterable[Mapping[str, Any]]) -> int:
    """Write ``rows`` (mappings with :data:`METRICS_COLUMNS`, optionally :data:`OPTIONAL_METRICS_COLUMNS`:
    empty when missing or None) atomically; returns the row count."""
    count = 0
    columns = METRICS_COLUMNS + OPTIONAL_METRICS_COLUMNS
    with open_atomic(Path(path), "w", newline="") as handle:
        writer = csv_writer(handle, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow(
                [repr(float(row["value"])) if name == "value" else row[name] for name in METRICS_COLUMNS]
                + ["" if row.get(name) is None else row[name] for name in OPTIONAL_METRICS_COLUMNS]
            )
            count += 1
    return count


def read_metrics_csv(path: Path) -> list[dict[str, str]]:
    """The rows of a ``metrics.csv`` as dictionaries of strings, text cells restored
    (:func:`dosimetry.io.csv_cells.restore_cell`)."""
    with open(path, newline="", encoding="utf-8") as handle:
        return [restore_row(row) for row in csv.DictReader(handle)]
