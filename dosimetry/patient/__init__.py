"""One patient's analysis: load the courses, build the maps, DVHs, indices, constraint checks,
results and report (:func:`load_patient` -> :class:`Patient`).

Public API::

    from dosimetry.patient import load_patient, Patient, AnalysisResults, PatientDvhs, resolve_folders
"""

from dosimetry.patient.dvhs import METRICS, TARGET_COVERAGE_METRICS, PatientDvhs
from dosimetry.patient.facade import Patient, load_patient
from dosimetry.patient.folders import CourseFolders, resolve_folders
from dosimetry.patient.indices import PatientIndices
from dosimetry.patient.maps import PatientMaps
from dosimetry.patient.records import ConstraintCheck, MetricRow
from dosimetry.patient.results import SCHEMA_VERSION, AnalysisResults, ConstraintSummary

__all__ = [
    "METRICS",
    "SCHEMA_VERSION",
    "TARGET_COVERAGE_METRICS",
    "AnalysisResults",
    "ConstraintCheck",
    "ConstraintSummary",
    "CourseFolders",
    "MetricRow",
    "Patient",
    "PatientDvhs",
    "PatientIndices",
    "PatientMaps",
    "load_patient",
    "resolve_folders",
]
