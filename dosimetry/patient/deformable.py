"""A deformable registration computed for one patient (``--register deformable``) and its output files.

:func:`compute_patient_registration` registers the prior course's CT to the current course's CT
(:func:`dosimetry.align.register.register_deformable`: rigid, then demons) and returns the DICOM
form (:class:`~dosimetry.io.registration_reader.DeformableRegistration`, registered = current
frame, source = prior frame) that :func:`dosimetry.align.align_prior_dose` applies like one read
from a file, so a computed and a supplied registration give the same numbers.
:func:`write_registration_outputs` writes it as ``REG_deformable.dcm`` (DICOM Deformable Spatial
Registration) and ``prior_to_current_deformable.h5`` (ITK composite transform, current -> prior
points, usable with ``dosimetry accumulate --transform``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np
import numpy.typing as npt

from dosimetry.align.register import (
    ComputedRegistration,
    RegistrationParameters,
    register_deformable,
    to_deformable_registration,
    write_itk_transform,
)
from dosimetry.errors import ArgumentError, ConsistencyError
from dosimetry.io import CtSeries, load_ct_series, load_ct_volume
from dosimetry.io.registration_reader import DeformableRegistration
from dosimetry.patient.records import OutputRecord
from dosimetry.radiobiology.course import Course
from dosimetry.registration import RigidRegistration

logger = logging.getLogger(__name__)

REGISTRATION_DICOM = "REG_deformable.dcm"
REGISTRATION_ITK = "prior_to_current_deformable.h5"
REGISTRATION_PARAMETERS = "registration_parameters.json"


class RegisterMode(StrEnum):
    """What ``--register`` computes when no registration is supplied."""

    DEFORMABLE = "deformable"


def parse_register(value: str | RegisterMode | None) -> RegisterMode | None:
    if value is None or isinstance(value, RegisterMode):
        return value
    try:
        return RegisterMode(value)
    except ValueError:
        raise ArgumentError(f"--register must be one of {[m.value for m in RegisterMode]}, got {value!r}") from None


@dataclass(frozen=True, eq=False)
class PatientRegistration:
    """A registration computed for this patient: the ITK result and its DICOM form."""

    computed: ComputedRegistration
    deformable: DeformableRegistration
    rigid: RigidRegistration


def _course_ct(course: Course, argument: str) -> tuple[CtSeries, npt.NDArray[np.float64]]:
    series = load_ct_series(course.folder)
    if series.frame_of_reference_uid != course.dose.frame_of_reference_uid:
        raise ConsistencyError(
            f"{argument} {course.folder}: the CT series {series.series_instance_uid} is in frame {series.frame_of_reference_uid}, "
            f"the RT Dose in {course.dose.frame_of_reference_uid}; --register needs each course's planning CT"
        )
    return series, load_ct_volume(series)


def compute_patient_registration(
    current: Course, prior: Course, parameters: RegistrationParameters | None = None
) -> PatientRegistration:
    """Register the prior CT to the current CT (both read from the course folders)."""
    cur_series, cur_hu = _course_ct(current, "PATIENT_DIR")
    pri_series, pri_hu = _course_ct(prior, "--prior")
    computed = register_deformable(
        cur_hu, cur_series.grid, pri_hu, pri_series.grid,
        current_frame_uid=current.dose.frame_of_reference_uid,
        prior_frame_uid=prior.dose.frame_of_reference_uid,
        parameters=parameters,
    )
    deformable = to_deformable_registration(computed)
    rigid = RigidRegistration(
        source_frame_uid=current.dose.frame_of_reference_uid,
        target_frame_uid=prior.dose.frame_of_reference_uid,
        matrix=computed.rigid_matrix(),
    )
    logger.info("deformable registration computed in %.1f s", computed.seconds)
    return PatientRegistration(computed, deformable, rigid)


def write_registration_outputs(registration: PatientRegistration, out_dir: Path, identity_source: Path) -> list[OutputRecord]:
    """Write the DICOM object, the ITK transform and the parameters into ``out_dir``."""
    from dosimetry.io.atomic_files import write_text
    from dosimetry.io.registration_writer import write_deformable_registration
    from dosimetry.radiobiology.export import identity_from_dicom

    computed = registration.computed
    sop = write_deformable_registration(
        registration.deformable,
        out_dir / REGISTRATION_DICOM,
        identity=identity_from_dicom(identity_source),
        description="dosimetry --register deformable: rigid + demons",
    )
    write_itk_transform(computed, out_dir / REGISTRATION_ITK)
    document = {
        "method": "rigid (Euler3D, Mattes MI) then demons (FastSymmetricForces), SimpleITK",
        "parameters": computed.parameters.to_dict(),
        "seconds": computed.seconds,
        "rigid_metric": computed.rigid_metric,
        "rigid_matrix_current_to_prior": computed.rigid_matrix().tolist(),
    }
    write_text(out_dir / REGISTRATION_PARAMETERS, json.dumps(document, indent=2) + "\n")
    return [
        OutputRecord(REGISTRATION_DICOM, "dicom", "computed Deformable Spatial Registration (registered = current frame)", sop),
        OutputRecord(REGISTRATION_ITK, "itk-transform", "computed ITK transform, current -> prior points"),
        OutputRecord(REGISTRATION_PARAMETERS, "json", "parameters and timing of the computed registration"),
    ]
