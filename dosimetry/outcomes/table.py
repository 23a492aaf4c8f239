"""Reading and validating an outcomes CSV, and turning one of its columns into a binary endpoint.

The table has a ``patient_id`` column (matched against the DICOM PatientID of the cohort results)
and any number of endpoint columns, e.g. the synthetic cohort's ``outcomes.csv``
(``worst_toxicity_grade``, ``local_progression``, ...). An endpoint is either a comparison of a
numeric column with a number (``worst_toxicity_grade>=3``) or a bare 0/1 column
(``local_progression``). An empty cell is a missing value: that patient is left out of the
endpoint and listed (never silently dropped). Every error names the file, the line and the column.

Time-to-event pairs (:func:`time_to_event`): a time column in months to the event or to the last
follow-up (the generator's ``progression_months``, ``toxicity_months``) with an event endpoint.
Covariates (``age_years``, ``sex``, ``concurrent_chemotherapy``, ...) are read with
:func:`column_cells` / :func:`numeric_column` and encoded by
:func:`dosimetry.outcomes.multivariable.covariate_column`.
"""

from __future__ import annotations

import csv
import enum
import logging
import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from dosimetry.errors import ArgumentError, InputFileError, OutcomesTableError

logger = logging.getLogger(__name__)

PATIENT_ID_COLUMN = "patient_id"
DEFAULT_ENDPOINT = "worst_toxicity_grade>=3"

_TRUE = frozenset({"1", "true", "yes", "y"})
_FALSE = frozenset({"0", "false", "no", "n"})


class Comparator(enum.Enum):
    GE = ">="
    GT = ">"
    LE = "<="
    LT = "<"
    EQ = "=="
    NE = "!="

    def apply(self, value: float, threshold: float) -> bool:
        return _OPS[self](value, threshold)


_OPS: dict[Comparator, Callable[[float, float], bool]] = {
    Comparator.GE: operator.ge,
    Comparator.GT: operator.gt,
    Comparator.LE: operator.le,
    Comparator.LT: operator.lt,
    Comparator.EQ: operator.eq,
    Comparator.NE: operator.ne,
}

_ENDPOINT_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.\-]*)\s*(?:(>=|<=|==|!=|>|<)\s*([-+]?[0-9.]+(?:[eE][-+]?[0-9]+)?)\s*)?$")


@dataclass(frozen=True)
class Endpoint:
    """A binary endpoint: ``column comparator threshold``, or a bare 0/1 column when
    ``comparator`` is None."""

    column: str
    comparator: Comparator | None = None
    threshold: float | None = None

    @property
    def label(self) -> str:
        if self.comparator is None:
            return self.column
        return f"{self.column}{self.comparator.value}{self.threshold:g}"


def parse_endpoint(text: str) -> Endpoint:
    """``"worst_toxicity_grade>=3"`` -> Endpoint; ``"local_progression"`` -> a bare 0/1 column."""
    match = _ENDPOINT_RE.match(text)
    if match is None:
        raise ArgumentError(
            f"--endpoint {text!r} is not understood: expected COLUMN (a 0/1 column) or COLUMN OP NUMBER "
            "with OP one of >= > <= < == != (e.g. 'worst_toxicity_grade>=3')"
        )
    column, op, number = match.groups()
    if op is None:
        return Endpoint(column=column)
    threshold = float(number)
    if not math.isfinite(threshold):
        raise ArgumentError(f"--endpoint {text!r}: the threshold must be a finite number")
    return Endpoint(column=column, comparator=Comparator(op), threshold=threshold)


@dataclass(frozen=True)
class OutcomesTable:
    """The validated rows of an outcomes CSV: ``rows[patient_id][column]`` is the cell text and
    ``line_of[patient_id]`` the file line (1 = header) it came from."""

    path: Path
    columns: tuple[str, ...]
    rows: Mapping[str, Mapping[str, str]]
    line_of: Mapping[str, int]

    @property
    def patient_ids(self) -> tuple[str, ...]:
        return tuple(self.rows)


@dataclass(frozen=True)
class EndpointValues:
    """The endpoint per patient (True = event) and the patients whose cell was empty."""

    endpoint: Endpoint
    by_patient: Mapping[str, bool]
    missing: tuple[str, ...]
    warnings: tuple[str, ...] = field(default=())

    @property
    def events(self) -> int:
        return sum(self.by_patient.values())


def read_outcomes_csv(path: Path | str) -> OutcomesTable:
    """Read and validate an outcomes CSV (UTF-8, optional BOM, comma separated, header row)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise InputFileError(f"outcomes file {path} does not exist") from exc
    except UnicodeDecodeError as exc:
        raise OutcomesTableError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except OSError as exc:
        raise InputFileError(f"cannot read outcomes file {path}: {exc}") from exc
    reader = csv.reader(text.splitlines())
    try:
        header = next(reader)
    except StopIteration:
        raise OutcomesTableError(f"{path}: the file is empty (expected a header row with a '{PATIENT_ID_COLUMN}' column)") from None
    columns = tuple(name.strip() for name in header)
    if PATIENT_ID_COLUMN not in columns:
        raise OutcomesTableError(
            f"{path}, line 1: no '{PATIENT_ID_COLUMN}' column in the header (columns: {', '.join(columns) or 'none'})"
        )
    seen_columns: set[str] = set()
    for index, name in enumerate(columns, start=1):
        if not name:
            raise OutcomesTableError(f"{path}, line 1, column {index}: empty column name")
        if name in seen_columns:
            raise OutcomesTableError(f"{path}, line 1, column {index}: column '{name}' appears twice")
        seen_columns.add(name)
    if len(columns) < 2:
        raise OutcomesTableError(f"{path}, line 1: only a '{PATIENT_ID_COLUMN}' column, no endpoint columns")
    id_index = columns.index(PATIENT_ID_COLUMN)
    rows: dict[str, Mapping[str, str]] = {}
    line_of: dict[str, int] = {}
    for line_number, cells in enumerate(reader, start=2):
        if not cells or all(not c.strip() for c in cells):
            continue
        if len(cells) != len(columns):
            raise OutcomesTableError(
                f"{path}, line {line_number}: {len(cells)} fields, expected {len(columns)} (the header's columns)"
            )
        patient_id = cells[id_index].strip()
        if not patient_id:
            raise OutcomesTableError(f"{path}, line {line_number}, column '{PATIENT_ID_COLUMN}': empty patient id")
        if patient_id in rows:
            raise OutcomesTableError(
                f"{path}, line {line_number}, column '{PATIENT_ID_COLUMN}': patient '{patient_id}' already "
                f"appears on line {line_of[patient_id]}"
            )
        rows[patient_id] = MappingProxyType({name: cell.strip() for name, cell in zip(columns, cells)})
        line_of[patient_id] = line_number
    if not rows:
        raise OutcomesTableError(f"{path}: a header but no patient rows")
    logger.info("read %d patients from %s", len(rows), path)
    return OutcomesTable(path=path, columns=columns, rows=MappingProxyType(rows), line_of=MappingProxyType(line_of))


def endpoint_values(table: OutcomesTable, endpoint: Endpoint) -> EndpointValues:
    """Evaluate ``endpoint`` for every patient of ``table``; an unparseable cell is an error
    naming the file, line and column, an empty cell a listed missing value."""
    if endpoint.column not in table.columns:
        raise OutcomesTableError(
            f"{table.path}: no column '{endpoint.column}' for the endpoint '{endpoint.label}' "
            f"(columns: {', '.join(table.columns)})"
        )
    by_patient: dict[str, bool] = {}
    missing: list[str] = []
    for patient_id, row in table.rows.items():
        cell = row[endpoint.column]
        where = f"{table.path}, line {table.line_of[patient_id]}, column '{endpoint.column}'"
        if cell == "":
            missing.append(patient_id)
            continue
        if endpoint.comparator is None:
            low = cell.lower()
            if low in _TRUE:
                by_patient[patient_id] = True
            elif low in _FALSE:
                by_patient[patient_id] = False
            else:
                raise OutcomesTableError(f"{where}: {cell!r} is not a binary value (expected 0/1, true/false or yes/no)")
            continue
        try:
            value = float(cell)
        except ValueError:
            raise OutcomesTableError(f"{where}: {cell!r} is not a number (endpoint '{endpoint.label}')") from None
        if not math.isfinite(value):
            raise OutcomesTableError(f"{where}: {cell!r} is not a finite number (endpoint '{endpoint.label}')")
        assert endpoint.threshold is not None
        by_patient[patient_id] = endpoint.comparator.apply(value, endpoint.threshold)
    warnings: tuple[str, ...] = ()
    if missing:
        warnings = (
            f"{len(missing)} patient(s) of {table.path} have no value for '{endpoint.column}' and are left out "
            f"of the endpoint '{endpoint.label}': {', '.join(missing)}",
        )
    return EndpointValues(endpoint=endpoint, by_patient=MappingProxyType(by_patient), missing=tuple(missing), warnings=warnings)


def column_cells(table: OutcomesTable, column: str, purpose: str) -> dict[str, str]:
    """The cell text of ``column`` per patient (empty cells left out); an unknown column is an
    error naming the file and what it was wanted for."""
    if column not in table.columns:
        raise OutcomesTableError(f"{table.path}: no column '{column}' for {purpose} (columns: {', '.join(table.columns)})")
    return {pid: row[column] for pid, row in table.rows.items() if row[column] != ""}


def numeric_column(table: OutcomesTable, column: str, purpose: str) -> dict[str, float]:
    """Numbers of ``column`` per patient (empty cells left out); a non-number is an error naming
    the file, line and column."""
    out: dict[str, float] = {}
    for pid, cell in column_cells(table, column, purpose).items():
        try:
            value = float(cell)
        except ValueError:
            raise OutcomesTableError(f"{table.path}, line {table.line_of[pid]}, column '{column}': {cell!r} is not a number ({purpose})") from None
        if not math.isfinite(value):
            raise OutcomesTableError(f"{table.path}, line {table.line_of[pid]}, column '{column}': {cell!r} is not finite ({purpose})")
        out[pid] = value
    return out


@dataclass(frozen=True)
class TimeToEvent:
    """Per patient: time (months, to the event or to the last follow-up) and the event flag."""

    time_column: str
    event: Endpoint
    times: Mapping[str, float]
    events: Mapping[str, bool]
    missing: tuple[str, ...]


def time_to_event(table: OutcomesTable, time_column: str, event: Endpoint) -> TimeToEvent:
    """Pair a time column (e.g. ``progression_months``) with an event endpoint (``local_progression``);
    patients missing either are listed in ``missing``; a negative time is an error."""
    times = numeric_column(table, time_column, f"the time of the endpoint '{event.label}'")
    for pid, value in times.items():
        if value < 0.0:
            raise OutcomesTableError(f"{table.path}, line {table.line_of[pid]}, column '{time_column}': negative time {value:g}")
    flags = endpoint_values(table, event)
    both = [pid for pid in table.patient_ids if pid in times and pid in flags.by_patient]
    missing = tuple(pid for pid in table.patient_ids if pid not in both)
    return TimeToEvent(
        time_column, event, MappingProxyType({p: times[p] for p in both}), MappingProxyType({p: flags.by_patient[p] for p in both}), missing
    )
