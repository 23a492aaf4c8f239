"""The seam between the batch runner and the per-patient analysis.

The runner in :mod:`pipelines.batch` does not know what a patient analysis computes. It calls a
:data:`PatientAnalysis`, i.e. any picklable callable

    analysis(inputs: PatientInputs, parameters: AnalysisParameters, out_dir: Path) -> PatientResult

where ``out_dir`` is an empty, private staging folder for this patient (it is published atomically
as ``OUT/patients/<patient key>/`` only after the callable returns). The callable:

* writes every output file under ``out_dir`` (never elsewhere; :func:`pipelines.paths.inside` helps);
* returns a frozen :class:`PatientResult` whose metric rows, constraint rows, course and ROI rows go
  to the cohort database and ``metrics.csv``, and whose ``warnings`` are recorded per patient;
* raises a :class:`dosimetry.errors.DosimetryError` with a one-line message when the patient cannot
  be analysed (recorded as the patient's failure reason; the batch goes on). Any other exception is
  recorded as ``internal error: Type: message``.

A callable may carry two optional attributes used in the resumability key (see
:mod:`pipelines.hashing`): ``analysis_id`` (a stable name, default: module and qualified name) and
``analysis_version`` (bump it when the callable's results change). To plug in the full ``analyze``
pipeline, pass another callable to :func:`pipelines.batch.run_batch` (``analysis=``); the default is
:func:`pipelines.analyze.full_analysis` (the whole ``dosimetry analyze``, i.e. the library's
:meth:`dosimetry.patient.Patient.write`: maps, DVH metrics, indices, constraints, report);
:func:`pipelines.default_analysis.dvh_analysis` is a lighter DVH-only alternative. From the command line, ``dosimetry batch
--analysis package.module:callable`` does the same (:func:`load_analysis`). A folder-based
analysis gets a folder per patient from :func:`pipelines.adapters.patient_folder`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from dosimetry.dvh.endcaps import DEFAULT_END_CAP, EndCapConvention
from dosimetry.errors import ArgumentError
from dosimetry.patient.records import MetricRow

__all__ = [
    "AnalysisParameters",
    "ConstraintRow",
    "CourseRow",
    "DicomFileInfo",
    "Layout",
    "MetricRow",
    "PatientAnalysis",
    "PatientInputs",
    "PatientResult",
    "RoiRow",
    "analysis_identity",
    "load_analysis",
]


@dataclass(frozen=True)
class DicomFileInfo:
    """Header facts of one DICOM input file (read with ``stop_before_pixels=True``).

    ``relative_path`` is POSIX-style, relative to the patient's ``source_dir`` when the patient is
    a folder, or to the batch ROOT when the patient was grouped by PatientID.
    """

    path: Path
    relative_path: str
    modality: str
    sop_class_uid: str
    sop_instance_uid: str
    patient_id: str
    study_instance_uid: str
    series_instance_uid: str
    frame_of_reference_uid: str
    size_bytes: int


class Layout(StrEnum):
    """How a patient was found under ROOT."""

    FOLDER = "folder"  # a top-level folder of ROOT holding one PatientID
    GROUPED = "grouped"  # files of mixed folders grouped by PatientID


@dataclass(frozen=True)
class PatientInputs:
    """One patient's input files as found by :func:`pipelines.discovery.discover_patients`.

    ``key`` is the sanitised, unique, deterministic output folder name (see
    :mod:`pipelines.paths`); ``patient_id`` is the raw DICOM PatientID (may be hostile: never use it
    to build a path). ``source_dir`` is the patient's folder (layout FOLDER) or ROOT (GROUPED).
    """

    key: str
    patient_id: str
    layout: Layout
    source_dir: Path
    files: tuple[DicomFileInfo, ...]
    warnings: tuple[str, ...] = ()

    def files_of(self, modality: str) -> tuple[DicomFileInfo, ...]:
        return tuple(f for f in self.files if f.modality == modality)

    @property
    def source_label(self) -> str:
        """Where the patient came from, for messages and the database (ROOT-relative or absolute)."""
        return str(self.source_dir)


ParameterValue = str | int | float | bool | None


@dataclass(frozen=True)
class AnalysisParameters:
    """Parameters shared by every patient of a batch; part of the resumability key.

    ``residual_fraction``: fraction of the prior course's dose still counted for OARs (protocol:
    30 % residual, i.e. 0.3). ``alpha_beta_tumour_gy`` / ``alpha_beta_late_gy``: alpha/beta ratios
    (protocol: 9 Gy for NPC, 2 Gy for late-responding tissue). ``protocol_path``: optional
    constraint protocol file (its *content* is hashed, not its name). ``end_cap``: how every ROI's
    solid is closed between and beyond its contour planes (:mod:`dosimetry.dvh.endcaps`; default
    shape), passed to every patient's DVHs; part of the key, so a rerun with another convention
    analyses every patient again instead of reusing results computed under the old one. ``extra``:
    further named parameters for a plugged-in analysis (str, int, float, bool or None values).
    """

    residual_fraction: float = 0.3
    alpha_beta_tumour_gy: float = 9.0
    alpha_beta_late_gy: float = 2.0
    protocol_path: Path | None = None
    extra: tuple[tuple[str, ParameterValue], ...] = ()
    end_cap: EndCapConvention = DEFAULT_END_CAP

    def __post_init__(self) -> None:
        object.__setattr__(self, "end_cap", EndCapConvention.parse(self.end_cap))
        if not (0.0 <= self.residual_fraction <= 1.0) or math.isnan(self.residual_fraction):
            raise ArgumentError(f"residual fraction must be within [0, 1], got {self.residual_fraction}")
        for name in ("alpha_beta_tumour_gy", "alpha_beta_late_gy"):
            value = getattr(self, name)
            if not (value > 0 and math.isfinite(value)):
                raise ArgumentError(f"{name} must be a positive finite number of Gy, got {value}")
        names = [k for k, _ in self.extra]
        if len(set(names)) != len(names):
            raise ArgumentError(f"AnalysisParameters.extra has duplicate names: {names}")
        object.__setattr__(self, "extra", tuple(sorted(self.extra)))

    @classmethod
    def with_extra(cls, extra: Mapping[str, ParameterValue], **kwargs: Any) -> AnalysisParameters:
        return cls(extra=tuple(extra.items()), **kwargs)

    def extra_value(self, name: str) -> ParameterValue:
        for key, value in self.extra:
            if key == name:
                return value
        raise ArgumentError(f"no extra analysis parameter named {name!r}; given: {[k for k, _ in self.extra]}")

    def to_json_dict(self) -> dict[str, Any]:
        """A JSON-ready description (the protocol path as given; its content hash is added by hashing)."""
        return {
            "residual_fraction": self.residual_fraction,
            "alpha_beta_tumour_gy": self.alpha_beta_tumour_gy,
            "alpha_beta_late_gy": self.alpha_beta_late_gy,
            "protocol_path": None if self.protocol_path is None else str(self.protocol_path),
            "end_cap": self.end_cap.value,
            "extra": {k: v for k, v in self.extra},
        }

    def to_json(self) -> str:
        return json.dumps(self.to_json_dict(), sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class ConstraintRow:
    """One constraint check, e.g. Brainstem D0.03cc on EQD2_cumulative <= 54 Gy -> passed."""

    roi: str
    quantity: str
    metric: str
    comparator: str
    limit: float
    value: float
    unit: str
    passed: bool
    description: str = ""


@dataclass(frozen=True)
class CourseRow:
    """One treatment course of the patient (label such as "current" or "prior")."""

    label: str
    plan_sop_instance_uid: str = ""
    radiation_type: str = ""
    fractions: int | None = None
    prescription_dose_gy: float | None = None
    frame_of_reference_uid: str = ""


@dataclass(frozen=True)
class RoiRow:
    """One ROI of the patient as analysed (volume on the dose grid, cc)."""

    name: str
    interpreted_type: str
    volume_cc: float


@dataclass(frozen=True)
class PatientResult:
    """What a :data:`PatientAnalysis` returns. ``output_files`` are POSIX paths relative to the
    patient's output folder."""

    metrics: tuple[MetricRow, ...]
    constraints: tuple[ConstraintRow, ...] = ()
    courses: tuple[CourseRow, ...] = ()
    rois: tuple[RoiRow, ...] = ()
    warnings: tuple[str, ...] = ()
    output_files: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for what, keys in (
            ("metric", [(m.roi, m.quantity, m.metric) for m in self.metrics]),
            ("constraint", [(c.roi, c.quantity, c.metric, c.comparator, c.limit) for c in self.constraints]),
            ("course", [c.label for c in self.courses]),
            ("ROI", [r.name for r in self.rois]),
            ("output file", list(self.output_files)),
        ):
            seen: set[object] = set()
            for key in keys:
                if key in seen:
                    raise ArgumentError(f"PatientResult lists the {what} {key!r} twice")
                seen.add(key)

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "metrics": [vars(m) for m in self.metrics],
            "constraints": [vars(c) for c in self.constraints],
            "courses": [vars(c) for c in self.courses],
            "rois": [vars(r) for r in self.rois],
            "warnings": list(self.warnings),
            "output_files": list(self.output_files),
        }

    @classmethod
    def from_json_dict(cls, data: Mapping[str, Any]) -> PatientResult:
        return cls(
            metrics=tuple(MetricRow(**m) for m in data["metrics"]),
            constraints=tuple(ConstraintRow(**c) for c in data["constraints"]),
            courses=tuple(CourseRow(**c) for c in data["courses"]),
            rois=tuple(RoiRow(**r) for r in data["rois"]),
            warnings=tuple(data["warnings"]),
            output_files=tuple(data["output_files"]),
        )


#: The per-patient analysis the batch runner calls (see the module docstring for its contract).
PatientAnalysis = Callable[[PatientInputs, AnalysisParameters, Path], PatientResult]


def analysis_identity(analysis: PatientAnalysis) -> str:
    """A stable name and version of an analysis callable, part of the resumability key."""
    name = getattr(analysis, "analysis_id", None)
    if name is None:
        module = getattr(analysis, "__module__", type(analysis).__module__)
        qualname = getattr(analysis, "__qualname__", type(analysis).__qualname__)
        name = f"{module}.{qualname}"
    version = getattr(analysis, "analysis_version", "")
    return f"{name}@{version}" if version else str(name)



#: The analysis ``dosimetry batch`` runs unless ``--analysis`` names another.
DEFAULT_ANALYSIS_SPEC = "pipelines.analyze:full_analysis"


def load_analysis(spec: str) -> PatientAnalysis:
    """The callable named ``"package.module:attribute"`` (e.g. :data:`DEFAULT_ANALYSIS_SPEC`)."""
    import importlib

    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise ArgumentError(f"--analysis {spec!r} must have the form package.module:callable")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ArgumentError(f"--analysis {spec!r}: cannot import module {module_name!r} ({exc})") from exc
    target: object = module
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise ArgumentError(f"--analysis {spec!r}: {module_name!r} has no attribute {attribute!r}")
        target = getattr(target, part)
    if not callable(target):
        raise ArgumentError(f"--analysis {spec!r} is not callable")
    return target  # type: ignore[return-value]
