"""CSV cells that a spreadsheet cannot run as formulas (CSV / formula injection, issue 21 item 10).

PatientIDs, ROI names and other DICOM strings come from outside: a PatientID ``=HYPERLINK(...)`` or
an ROI name ``+cmd|' /C calc'!A0`` written unescaped into ``metrics.csv`` runs as a formula when a
physicist opens the file in a spreadsheet. Every CSV this tool writes goes through
:func:`csv_writer`, which neutralises its *text* cells (the OWASP "CSV Injection" rule):

* a text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a single
  quote ``'`` in front (spreadsheets show it as text);
* a text cell already starting with ``'`` gets one more, so that the rule can be undone without
  ambiguity;
* numbers are never changed: ``int``/``float`` cells, and text cells that are a number as Python
  reads it (``"-1.5"``, ``"-3e-05"``, ``"-inf"``) are written as they are.

The value is recoverable: :func:`restore_cell` removes exactly one leading ``'`` (the readers of the
tool's own CSVs, e.g. ``correlate`` reading ``metrics.csv``, use it), so
``restore_cell(neutralise_cell(s)) == s`` for every string ``s``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import IO, Any

#: First characters that make a spreadsheet evaluate a cell (plus the quote used to escape them).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
ESCAPE = "'"
#: the first characters for which :func:`neutralise_cell` may change a text cell
_FIRST_CHARACTERS = frozenset((*FORMULA_TRIGGERS, ESCAPE))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def neutralise_cell(value: Any) -> Any:
    """``value`` with a ``'`` in front when it is text starting with a formula trigger or a quote
    (module docstring); anything else (numbers, None) unchanged."""
    if not isinstance(value, str) or not value:
        return value
    if value.startswith(ESCAPE) or (value.startswith(FORMULA_TRIGGERS) and not _is_number(value)):
        return ESCAPE + value
    return value


def restore_cell(text: str) -> str:
    """The original text of a cell written by :func:`neutralise_cell`."""
    return text[1:] if text.startswith(ESCAPE) else text


class _NeutralisingWriter:
    """A :func:`csv.writer` whose rows pass through :func:`neutralise_cell`."""

    def __init__(self, handle: IO[str], **kwargs: Any) -> None:
        self._writer = csv.writer(handle, **kwargs)

    def writerow(self, row: Iterable[Any]) -> Any:
        # neutralise_cell only for text starting with a trigger or the quote (it returns anything
        # else unchanged): a function call per cell was 40 % of writing a DVH-curve CSV of numbers
        return self._writer.writerow(
            [neutralise_cell(v) if isinstance(v, str) and v[:1] in _FIRST_CHARACTERS else v for v in row]
        )

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(handle: IO[str], **kwargs: Any) -> _NeutralisingWriter:
    """:func:`csv.writer` (same keyword arguments) with text cells neutralised; the only CSV writer
    the package uses (a test greps for others)."""
    return _NeutralisingWriter(handle, **kwargs)


def restore_row(row: dict[str, str]) -> dict[str, str]:
    """A :class:`csv.DictReader` row with every cell restored (:func:`restore_cell`)."""
    return {key: restore_cell(value) if isinstance(value, str) else value for key, value in row.items()}
