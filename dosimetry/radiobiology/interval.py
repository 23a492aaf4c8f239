"""The interval between the prior course and the re-irradiation, from the DICOM dates.

Each course's dates are taken from the first source that has them, and the result names it:

1. treatment records in the course folder (RT Beams / Ion Beams / Brachy Treatment Record:
   TreatmentDate (3008,0250); RT Treatment Summary Record: FirstTreatmentDate (3008,0054) and
   MostRecentTreatmentDate (3008,0056)): the first and last treatment day;
2. the RT (Ion) Plan's RTPlanDate (300A,0006) (the planning date: a start, not an end);
3. the RT Dose's ContentDate (0008,0023), then InstanceCreationDate (0008,0012), then the
   StudyDate (0008,0020).

The interval runs from the prior course's end (its last treatment day; without records its
start, so the interval is then overestimated by the prior course's duration, which the source text
says) to the current course's start, in months of 30.4375 days (one twelfth of a Julian year, as
DICOMautomaton counts). ``--interval-months`` overrides the dates. Without a usable date the
interval is None; a time-dependent recovery model then stops with an error naming what is missing
(:func:`dosimetry.radiobiology.recovery.check_interval_months`).
"""

from __future__ import annotations

import datetime as _dt
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import pydicom
from pydicom.errors import InvalidDicomError

from dosimetry.errors import ArgumentError
from dosimetry.io.dicom_file import known_sop_class

logger = logging.getLogger(__name__)

DAYS_PER_MONTH = 30.4375

#: SOP classes of treatment records (RT Beams, Brachy, Summary, Ion Beams Treatment Record).
TREATMENT_RECORD_SOP_CLASSES = frozenset(
    {
        "1.2.840.10008.5.1.4.1.1.481.4",
        "1.2.840.10008.5.1.4.1.1.481.6",
        "1.2.840.10008.5.1.4.1.1.481.7",
        "1.2.840.10008.5.1.4.1.1.481.9",
    }
)

#: At most this many files of a course folder are opened when looking for treatment records.
MAX_FILES_SCANNED = 5000


@dataclass(frozen=True)
class CourseDates:
    """A course's first and last known day and where they were read."""

    start: _dt.date
    end: _dt.date
    source: str  # e.g. "RT Plan RTPlanDate (300A,0006) of .../RP.dcm"
    from_records: bool = False


@dataclass(frozen=True)
class CourseInterval:
    """Months from the prior course's end (or start, see ``source``) to the current course's start."""

    months: float
    source: str
    prior: CourseDates | None = None
    current: CourseDates | None = None
    given_by_user: bool = False  # --interval-months

    @property
    def prior_end_unknown(self) -> bool:
        """True when the months run from the prior course's planning (or dose) date, not its last
        treatment day (no treatment records): the true interval is shorter by about the prior
        course's duration, so a minimum interval cannot be confirmed from these dates."""
        return not self.given_by_user and self.prior is not None and not self.prior.from_records

    def to_dict(self) -> dict[str, object]:
        def dates(d: CourseDates | None) -> dict[str, object] | None:
            return None if d is None else {"start": d.start.isoformat(), "end": d.end.isoformat(), "source": d.source}

        return {"months": round(self.months, 3), "source": self.source, "prior": dates(self.prior), "current": dates(self.current)}


def parse_dicom_date(value: object) -> _dt.date | None:
    """A DICOM DA value (YYYYMMDD) as a date, None when absent or malformed."""
    text = str(value or "").strip().replace("-", "").replace(".", "")
    if len(text) < 8 or not text[:8].isdigit():
        return None
    try:
        return _dt.date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None


def _read(path: Path) -> pydicom.Dataset | None:
    try:
        return pydicom.dcmread(path, stop_before_pixels=True)
    except (InvalidDicomError, OSError, ValueError, AttributeError, EOFError) as exc:
        logger.debug("not read for dates: %s (%s)", path, exc)
        return None


def record_dates(folder: Path) -> tuple[list[_dt.date], list[Path]]:
    """Treatment days found in the treatment records under ``folder`` (and the record files)."""
    days: list[_dt.date] = []
    records: list[Path] = []
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    if len(files) > MAX_FILES_SCANNED:
        logger.warning("%s holds %d files; only the first %d are searched for treatment records", folder, len(files), MAX_FILES_SCANNED)
        files = files[:MAX_FILES_SCANNED]
    for path in files:
        known = known_sop_class(path)  # a file discovery read already: no need to open it again unless it is a record
        if known is not None and known not in TREATMENT_RECORD_SOP_CLASSES:
            continue
        ds = _read(path)
        if ds is None or str(ds.get("SOPClassUID", "")) not in TREATMENT_RECORD_SOP_CLASSES:
            continue
        found = [parse_dicom_date(ds.get(k)) for k in ("TreatmentDate", "FirstTreatmentDate", "MostRecentTreatmentDate")]
        found_days = [d for d in found if d is not None]
        if found_days:
            records.append(path)
            days.extend(found_days)
    return days, records


def course_dates(folder: Path, plan_path: Path | None, dose_paths: tuple[Path, ...]) -> CourseDates | None:
    """The course's dates from the first source that has them (module docstring); None when none does."""
    days, records = record_dates(folder)
    if days:
        names = ", ".join(p.name for p in records[:3]) + (f" and {len(records) - 3} more" if len(records) > 3 else "")
        return CourseDates(min(days), max(days), f"treatment records TreatmentDate (3008,0250) in {folder}: {names}", True)
    if plan_path is not None:
        ds = _read(plan_path)
        day = parse_dicom_date(ds.get("RTPlanDate")) if ds is not None else None
        if day is not None:
            return CourseDates(day, day, f"RT Plan RTPlanDate (300A,0006) of {plan_path}")
    for path in dose_paths:
        ds = _read(path)
        if ds is None:
            continue
        for keyword, tag in (("ContentDate", "(0008,0023)"), ("InstanceCreationDate", "(0008,0012)"), ("StudyDate", "(0008,0020)")):
            day = parse_dicom_date(ds.get(keyword))
            if day is not None:
                return CourseDates(day, day, f"RT Dose {keyword} {tag} of {path}")
    return None


def check_override_months(interval_months: float, *, argument: str = "--interval-months") -> float:
    """The user's interval as a finite number of months >= 0, else an ArgumentError naming ``argument``."""
    try:
        value = float(interval_months)
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise ArgumentError(f"{argument} must be a finite number of months >= 0, got {interval_months!r}")
    return value


def course_interval(prior: CourseDates | None, current: CourseDates | None, *, override_months: float | None = None) -> CourseInterval | None:
    """The interval from ``prior`` to ``current`` (``override_months`` wins); None when a date is missing."""
    if override_months is not None:
        return CourseInterval(check_override_months(override_months), "--interval-months (given by the user)", prior, current, True)
    if prior is None or current is None:
        return None
    days = (current.start - prior.end).days
    if days < 0:
        raise ArgumentError(
            f"the prior course ends {prior.end.isoformat()} ({prior.source}) after the current course starts "
            f"{current.start.isoformat()} ({current.source}); check the folders or give --interval-months"
        )
    basis = "last treatment day" if prior.from_records else "date (no treatment records: the planning date, so the interval includes the prior course's duration)"
    source = f"prior {basis} {prior.end.isoformat()} from {prior.source}; current start {current.start.isoformat()} from {current.source}"
    return CourseInterval(days / DAYS_PER_MONTH, source, prior, current)


def missing_dates_message(prior: CourseDates | None, current: CourseDates | None) -> str:
    """What is missing for the interval, for error messages."""
    missing = [label for label, d in (("prior", prior), ("current", current)) if d is None]
    return (
        f"no usable date for the {' and '.join(missing)} course (treatment records TreatmentDate, RT Plan RTPlanDate, "
        "RT Dose ContentDate/InstanceCreationDate/StudyDate all absent or malformed)"
    )
