"""Typed rows of a patient's analysis results (the parts of ``results.json``, schema in
:mod:`dosimetry.patient.schema`). Doses in Gy of their quantity (Gy(RBE) where the source dose is
RBE-weighted), volumes in cc. Every record is frozen; ``to_dict`` gives its JSON form.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from dataclasses import dataclass
from typing import Any

from dosimetry.errors import ArgumentError


def record_dict(record: Any) -> dict[str, Any]:
    """A record's fields as a JSON-ready dict (tuples to lists, non-finite floats to None)."""
    return {name: json_ready(getattr(record, name)) for name in _field_names(type(record))}


#: Field names by dataclass type (a class's fields do not change; one entry per record class).
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    """The names ``dataclasses.fields`` gives for a dataclass type (TypeError for another type)."""
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


#: Types returned as they are (exact types: an Enum member of a str or int type is not one of them).
_PLAIN_TYPES = frozenset({str, int, bool, type(None)})


def json_ready(value: Any) -> Any:
    """JSON-ready copy: records to dicts, tuples to lists, numpy scalars to Python, non-finite floats to None.

    The exact built-in types come first (the same results: none of them is a dataclass, an Enum or a
    numpy scalar). Measured reason (issue 20, clinical case): 65,000 calls per analysis, 0.1 s of
    each results.json document's 0.1 s went through the chain of isinstance checks below."""
    kind = type(value)
    if kind in _PLAIN_TYPES:
        return value
    if kind is float:
        return value if math.isfinite(value) else None
    if kind is dict:
        return {str(k): json_ready(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [json_ready(v) for v in value]
    import numpy as np

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        to_dict = getattr(value, "to_dict", None)
        return json_ready(to_dict()) if callable(to_dict) else record_dict(value)
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, np.floating):
        value = float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


@dataclass(frozen=True)
class MetricRow:
    """One DVH metric of one ROI on one dose quantity, e.g. ("BrainStem", "EQD2_2_cumulative", "D0.03cc[Gy]", 41.2, "Gy")."""

    roi: str
    quantity: str
    metric: str
    value: float
    unit: str

    def __post_init__(self) -> None:
        if not math.isfinite(self.value):
            raise ArgumentError(f"metric {self.metric} of {self.roi} ({self.quantity}) is not finite: {self.value}")


@dataclass(frozen=True)
class ConstraintCheck:
    """One constraint check (an Emami endpoint or a protocol line) on one ROI.

    ``limit``/``value`` in ``unit``; None when the check is NOT_EVALUABLE (``reason`` says why).
    ``status`` is a :class:`dosimetry.constraints.partial_volume.Status` value.
    """

    source: str  # "emami" | "protocol" | "reirradiation"
    roi: str
    organ: str
    endpoint: str
    quantity: str
    metric: str
    comparator: str
    limit: float | None
    value: float | None
    unit: str
    status: str
    ntcp: float | None
    reason: str
    #: spread (max - min, Gy) of ``value`` over the end-cap conventions and whether it exceeds
    #: dosimetry.dvh.sensitivity.DOSE_SPREAD_GY (dosimetry.patient.sensitivity); None: not computed
    convention_spread_gy: float | None = None
    convention_sensitive: bool = False


@dataclass(frozen=True)
class CourseRecord:
    """One treatment course as analysed."""

    label: str  # "current" | "prior"
    folder: str
    plan_sop_instance_uid: str
    plan_label: str
    radiation_types: tuple[str, ...]
    fractions: int
    dose_per_fraction_gy: float | None
    prescription_dose_gy: float | None
    dose_type: str
    dose_sop_instance_uid: str
    frame_of_reference_uid: str


@dataclass(frozen=True)
class AlignmentRecord:
    """How the prior dose was brought onto the current dose grid."""

    method: str
    transform: str
    registration_source: str
    uncovered_volume_cc: float
    #: "deformable", "rigid", "same-frame", "transform" or "assumed-same-position": which mapping the cumulative dose used.
    registration_kind: str = "rigid"
    #: Jacobian determinant of the current -> prior mapping (deformable only): min, p1, median, p99, max, folding_voxels, voxels.
    jacobian_determinant: dict[str, float | int] | None = None


@dataclass(frozen=True)
class DoseLevelRow:
    """One row of the protocol's Table 1 (recomputed with :func:`dosimetry.radiobiology.make_schedules`)."""

    level: int
    fractions: int
    dose_per_fraction_gy: float
    total_gy: float
    bed2_gy: float
    bed9_gy: float
    eqd2_2_gy: float
    eqd2_9_gy: float


@dataclass(frozen=True)
class DoseLevels:
    """The protocol's dose levels and the current plan's level (None when it is none of them)."""

    rows: tuple[DoseLevelRow, ...]
    patient_level: int | None
    note: str


@dataclass(frozen=True)
class QuantityRecord:
    """A dose quantity of the metrics, what it is, and which ROIs got it ("all", "targets_and_organs", "organs")."""

    name: str
    description: str
    rois: str


@dataclass(frozen=True)
class RoiRecord:
    """One ROI as analysed; volumes None when it got no DVH (the reason is in the warnings)."""

    name: str
    number: int
    interpreted_type: str
    role: str
    volume_cc: float | None
    volume_in_dose_grid_cc: float | None


@dataclass(frozen=True)
class IndicesRecord:
    """Plan-quality indices of one target on one quantity (``indices`` is TargetIndices.to_dict() without "target")."""

    target: str
    quantity: str
    indices: tuple[tuple[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "quantity": self.quantity, **{k: json_ready(v) for k, v in self.indices}}


@dataclass(frozen=True)
class OutputRecord:
    """One file written (path relative to the output folder)."""

    path: str
    kind: str
    description: str
    sop_instance_uid: str | None = None


@dataclass(frozen=True)
class InputRecord:
    """One input file with its identity and content hash (provenance)."""

    path: str
    course: str
    modality: str
    sop_class_uid: str
    sop_instance_uid: str
    sha256: str
    size_bytes: int
