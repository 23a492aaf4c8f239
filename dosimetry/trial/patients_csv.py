"""Reading the phase I patient list (CSV) for the TITE-CRM.

Two layouts are accepted (header names are case-insensitive, order free; rows in enrolment order):

* follow-up in months: ``patient_id,dose_level,followup_months,dlt``
* dates: ``patient_id,dose_level,start_date,dlt`` with an optional ``end_date`` column, together
  with an *as-of* date given by the caller. ``start_date`` is the start of the patient's DLT
  observation period, ``end_date`` (optional, may be blank) the last date the patient was
  evaluable (date of DLT, loss to follow-up, death); when blank the as-of date is used. Follow-up
  months = days / 30.4375 (365.25 / 12). Dates are ISO ``YYYY-MM-DD``.

``dlt`` accepts 0/1, yes/no, true/false, y/n. Blank lines and lines starting with ``#`` are
skipped. Every error names the file, the line number and the column.
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
import math
from dataclasses import dataclass
from pathlib import Path

from dosimetry.errors import InputFileError, TrialDesignError

logger = logging.getLogger(__name__)

DAYS_PER_MONTH: float = 365.25 / 12.0

_REQUIRED = ("patient_id", "dose_level", "dlt")
_OPTIONAL = ("followup_months", "start_date", "end_date")
_TRUE = {"1", "yes", "y", "true", "t"}
_FALSE = {"0", "no", "n", "false", "f"}


@dataclass(frozen=True)
class PatientRecord:
    """One phase I patient: dose level (1-based), follow-up so far (months) and DLT status."""

    patient_id: str
    dose_level: int
    followup_months: float
    dlt: bool
    line_number: int | None = None

    def __post_init__(self) -> None:
        where = f"patient {self.patient_id!r}" + (f" (line {self.line_number})" if self.line_number else "")
        if not self.patient_id:
            raise TrialDesignError(f"{where}: empty patient_id")
        if isinstance(self.dose_level, bool) or int(self.dose_level) != self.dose_level or self.dose_level < 1:
            raise TrialDesignError(f"{where}: dose_level {self.dose_level!r} is not an integer >= 1")
        if not (math.isfinite(self.followup_months) and self.followup_months >= 0.0):
            raise TrialDesignError(f"{where}: followup_months {self.followup_months!r} is not a finite number >= 0")


def _parse_date(text: str, where: str, column: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise TrialDesignError(f"{where}, column '{column}': expected a date YYYY-MM-DD, got {text!r}") from exc


def read_patients_csv(
    path: str | Path, *, as_of: dt.date | None = None, n_levels: int | None = None
) -> tuple[PatientRecord, ...]:
    """Read the patient CSV; ``as_of`` is required for the date layout, ``n_levels`` bounds dose levels."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise InputFileError(f"{path}: patient CSV not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(f"{path}: cannot read the patient CSV as UTF-8 text ({exc})") from exc

    reader = csv.reader(text.splitlines())
    header: list[str] | None = None
    header_line = 0
    records: list[PatientRecord] = []
    seen: dict[str, int] = {}
    use_dates = False
    for row in reader:
        line = reader.line_num
        if not row or all(not c.strip() for c in row) or row[0].lstrip().startswith("#"):
            continue
        cells = [c.strip() for c in row]
        if header is None:
            header = [c.lower() for c in cells]
            header_line = line
            unknown = [c for c in header if c not in _REQUIRED + _OPTIONAL]
            if unknown:
                raise TrialDesignError(
                    f"{path}: line {line}: unknown column(s) {unknown}; expected {list(_REQUIRED)} plus "
                    "'followup_months' or 'start_date' (and optional 'end_date')"
                )
            dupes = sorted({c for c in header if header.count(c) > 1})
            if dupes:
                raise TrialDesignError(f"{path}: line {line}: duplicated column(s) {dupes}")
            missing = [c for c in _REQUIRED if c not in header]
            if missing:
                raise TrialDesignError(f"{path}: line {line}: missing required column(s) {missing}")
            has_fu = "followup_months" in header
            has_start = "start_date" in header
            if has_fu == has_start:
                raise TrialDesignError(
                    f"{path}: line {line}: give exactly one of the columns 'followup_months' or 'start_date'"
                )
            if "end_date" in header and not has_start:
                raise TrialDesignError(f"{path}: line {line}: column 'end_date' needs a 'start_date' column")
            use_dates = has_start
            if use_dates and as_of is None:
                raise TrialDesignError(
                    f"{path}: the file gives dates (column 'start_date'); an as-of date is required to compute follow-up"
                )
            continue
        where = f"{path}: line {line}"
        if len(cells) != len(header):
            raise TrialDesignError(f"{where}: expected {len(header)} columns as in the header (line {header_line}), got {len(cells)}")
        values = dict(zip(header, cells))

        pid = values["patient_id"]
        if not pid:
            raise TrialDesignError(f"{where}, column 'patient_id': empty")
        if pid in seen:
            raise TrialDesignError(f"{where}, column 'patient_id': {pid!r} already given on line {seen[pid]}")
        seen[pid] = line

        level_text = values["dose_level"]
        try:
            level = int(level_text)
        except ValueError as exc:
            raise TrialDesignError(f"{where}, column 'dose_level': expected an integer level, got {level_text!r}") from exc
        upper = f"..{n_levels}" if n_levels is not None else " or more"
        if level < 1 or (n_levels is not None and level > n_levels):
            raise TrialDesignError(f"{where}, column 'dose_level': expected a level 1{upper}, got {level}")

        dlt_text = values["dlt"].lower()
        if dlt_text in _TRUE:
            dlt = True
        elif dlt_text in _FALSE:
            dlt = False
        else:
            raise TrialDesignError(f"{where}, column 'dlt': expected 0/1 (or yes/no, true/false), got {values['dlt']!r}")

        if use_dates:
            assert as_of is not None
            start = _parse_date(values["start_date"], where, "start_date")
            end_text = values.get("end_date", "")
            end = _parse_date(end_text, where, "end_date") if end_text else as_of
            if end > as_of:
                raise TrialDesignError(f"{where}, column 'end_date': {end} is after the as-of date {as_of}")
            if start > end:
                column = "end_date" if end_text else "start_date"
                raise TrialDesignError(
                    f"{where}, column '{column}': start_date {start} is after the end of follow-up {end}"
                )
            followup = (end - start).days / DAYS_PER_MONTH
        else:
            fu_text = values["followup_months"]
            try:
                followup = float(fu_text)
            except ValueError as exc:
                raise TrialDesignError(
                    f"{where}, column 'followup_months': expected a number of months, got {fu_text!r}"
                ) from exc
            if not (math.isfinite(followup) and followup >= 0.0):
                raise TrialDesignError(f"{where}, column 'followup_months': expected a finite number >= 0, got {fu_text!r}")
        records.append(PatientRecord(pid, level, followup, dlt, line))

    if header is None:
        raise TrialDesignError(f"{path}: empty patient CSV (no header line)")
    logger.info("read %d patients from %s", len(records), path)
    return tuple(records)
