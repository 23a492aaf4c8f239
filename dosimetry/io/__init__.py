"""DICOM input: every quirk of planning-system exports stops here.

Public API::

    from dosimetry.io import (load_dose, load_beam_doses, load_plan, load_structure_set,
                              load_registration, load_ct_series, discover)

Everything returns frozen value objects (:mod:`dosimetry.dose`, :mod:`dosimetry.plan`,
:mod:`dosimetry.structures`, :mod:`dosimetry.registration`, plus :class:`CtSeries`,
:class:`DeformableRegistration` and :class:`Discovery` defined here); failures raise project errors
that name the file, the tag and what was expected.
"""

from dosimetry.io.ct_reader import CtSeries, load_ct_series, load_ct_volume
from dosimetry.io.discovery import (
    CourseEntry,
    DicomFileEntry,
    Discovery,
    Issue,
    PatientEntry,
    discover,
    dose_per_fraction_gy,
    plan_type,
)
from dosimetry.io.dose_reader import (
    DoseHeader,
    load_beam_doses,
    load_dose,
    read_dose_header,
    resample_dose,
)
from dosimetry.io.folder_walk import FolderWalk, SkippedFile, walk_files
from dosimetry.io.plan_reader import load_plan
from dosimetry.io.registration_reader import (
    DeformableRegistration,
    load_deformable_registrations,
    load_registration,
    load_registrations,
)
from dosimetry.io.structure_reader import contour_plane_spacing_mm, load_structure_set

__all__ = [
    "CourseEntry",
    "CtSeries",
    "DeformableRegistration",
    "DicomFileEntry",
    "Discovery",
    "DoseHeader",
    "FolderWalk",
    "Issue",
    "PatientEntry",
    "SkippedFile",
    "contour_plane_spacing_mm",
    "discover",
    "dose_per_fraction_gy",
    "load_beam_doses",
    "load_ct_series",
    "load_ct_volume",
    "load_deformable_registrations",
    "load_dose",
    "load_plan",
    "load_registration",
    "load_registrations",
    "load_structure_set",
    "plan_type",
    "read_dose_header",
    "resample_dose",
    "walk_files",
]
