"""DICOM input: every quirk of planning-system exports stops here.

Public API::

    from dosimetry.io import (load_dose, load_beam_doses, load_plan, load_structure_set,
                              load_registration, load_ct_series, discover)

Everything returns frozen value objects (:mod:`dosimetry.dose`, :mod:`dosimetry.plan`,
:mod:`dosimetry.structures`, :mod:`dosimetry.registration`, plus :class:`CtSeries`,
:class:`DeformableRegistration` and :class:`Discovery` defined here); failures raise project errors
that name the file, the tag and what was expected.

The readers are imported on first use of a name (PEP 562 ``__getattr__``): a command that loads an
RT Dose does not pay for the CT, plan, registration and discovery readers (and scipy, which the
dose resampler needs) at start-up (issue 20: ``import dosimetry.io`` took 0.6 s of ``dosimetry dvh``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dosimetry._lazy_exports import lazy_exports

if TYPE_CHECKING:
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

_MODULES = {
    "CourseEntry": "dosimetry.io.discovery",
    "CtSeries": "dosimetry.io.ct_reader",
    "DeformableRegistration": "dosimetry.io.registration_reader",
    "DicomFileEntry": "dosimetry.io.discovery",
    "Discovery": "dosimetry.io.discovery",
    "DoseHeader": "dosimetry.io.dose_reader",
    "FolderWalk": "dosimetry.io.folder_walk",
    "Issue": "dosimetry.io.discovery",
    "PatientEntry": "dosimetry.io.discovery",
    "SkippedFile": "dosimetry.io.folder_walk",
    "contour_plane_spacing_mm": "dosimetry.io.structure_reader",
    "discover": "dosimetry.io.discovery",
    "dose_per_fraction_gy": "dosimetry.io.discovery",
    "load_beam_doses": "dosimetry.io.dose_reader",
    "load_ct_series": "dosimetry.io.ct_reader",
    "load_ct_volume": "dosimetry.io.ct_reader",
    "load_deformable_registrations": "dosimetry.io.registration_reader",
    "load_dose": "dosimetry.io.dose_reader",
    "load_plan": "dosimetry.io.plan_reader",
    "load_registration": "dosimetry.io.registration_reader",
    "load_registrations": "dosimetry.io.registration_reader",
    "load_structure_set": "dosimetry.io.structure_reader",
    "plan_type": "dosimetry.io.discovery",
    "read_dose_header": "dosimetry.io.dose_reader",
    "resample_dose": "dosimetry.io.dose_reader",
    "walk_files": "dosimetry.io.folder_walk",
}

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


__getattr__, __dir__ = lazy_exports(__name__, _MODULES, globals(), __all__)
