"""Errors of the outcome-analysis package (both are project errors and ``ValueError``)."""

from __future__ import annotations

from dosimetry.errors import DosimetryError


class OutcomesTableError(DosimetryError, ValueError):
    """An outcomes table is malformed; the message names the file, the line and the column."""


class ModelFitError(DosimetryError, ValueError):
    """A statistical model cannot be fitted to the data given (no events, all events, a constant
    metric, separation); the message names the metric and what was found."""
