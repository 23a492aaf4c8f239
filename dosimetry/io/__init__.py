"""DICOM input: every quirk of planning-system exports stops here.

Public API::

    from dosimetry.io import load_dose, load_plan, load_structure_set, load_registration

Everything returns the frozen value objects of :mod:`dosimetry.dose`, :mod:`dosimetry.plan`,
:mod:`dosimetry.structures` and :mod:`dosimetry.registration`; failures raise project errors that
name the file, the tag and what was expected.
"""

from dosimetry.io.dose_reader import DoseHeader, load_beam_doses, load_dose, read_dose_header
from dosimetry.io.plan_reader import load_plan
from dosimetry.io.registration_reader import (
    DeformableRegistration,
    load_deformable_registrations,
    load_registration,
    load_registrations,
)
from dosimetry.io.structure_reader import contour_plane_spacing_mm, load_structure_set

__all__ = [
    "DeformableRegistration",
    "DoseHeader",
    "contour_plane_spacing_mm",
    "load_beam_doses",
    "load_deformable_registrations",
    "load_dose",
    "load_plan",
    "load_registration",
    "load_registrations",
    "load_structure_set",
    "read_dose_header",
]
