"""The project's exception hierarchy.

Every error raised on purpose by :mod:`dosimetry` derives from :class:`DosimetryError` and also
from the builtin that describes it best, so callers can catch either. Messages name the file,
the DICOM tag or argument, and what was expected.
"""

from __future__ import annotations


class DosimetryError(Exception):
    """Base class of all errors raised deliberately by this package."""


class InputFileError(DosimetryError, OSError):
    """A file cannot be read: missing, truncated, not DICOM, or unreadable."""


class DicomContentError(DosimetryError, ValueError):
    """A DICOM file was read but its content is missing, malformed or unsupported."""


class UnsupportedDataError(DicomContentError):
    """The data are valid DICOM but describe something this tool refuses (for example an
    oblique dose grid or RELATIVE dose units without a normalisation)."""


class ConsistencyError(DosimetryError, ValueError):
    """Files that are each valid do not fit together (frames of reference, references, fractions)."""


class GeometryError(DosimetryError, ValueError):
    """A geometric request cannot be answered (ROI outside the grid, empty structure, ...)."""


class RadiobiologyError(DosimetryError, ValueError):
    """A radiobiological conversion was asked for with inadequate inputs."""


class MetricError(DosimetryError, ValueError):
    """A DVH metric is malformed or cannot be evaluated on the curve (for example D2cc of a 1 cc ROI)."""


class ConstraintError(DosimetryError, ValueError):
    """A constraint, tolerance table or protocol file is malformed or cannot be evaluated."""


class TrialDesignError(DosimetryError, ValueError):
    """Bad input to the trial design tools (TITE-CRM data, design parameters)."""


class ArgumentError(DosimetryError, ValueError):
    """A function or command-line argument is out of its allowed range or inconsistent."""


class OutputError(DosimetryError, OSError):
    """An output cannot be written (path outside the output folder, permission, ...)."""


class OutcomesTableError(DosimetryError, ValueError):
    """An outcomes table is malformed; the message names the file, the line and the column."""


class ModelFitError(DosimetryError, ValueError):
    """A statistical model cannot be fitted to the data given (no events, all events, a constant
    metric, separation); the message names the metric and what was found."""


class ClusterError(DosimetryError, RuntimeError):
    """The compute cluster of a batch cannot go on (for example the Dask cluster has had no worker
    for longer than the documented timeout); the message says what finished and how to resume."""
