"""Transforms that map current-grid points to prior-frame points (what resampling needs).

Conventions:

* :class:`~dosimetry.registration.RigidRegistration` maps ``source`` frame points to ``target``
  frame points, ``p_target = M p_source``. To fill the current grid with the prior dose, each
  current-grid point needs the prior-frame point it came from. So a registration from the prior
  frame to the current frame is applied *inverted* (``p_prior = M^-1 p_current``) and a
  registration from the current frame to the prior frame is applied as is.
* ITK (and so SimpleITK and any ``.tfm``/``.h5`` transform file) uses the opposite, "pull"
  convention: a transform used for resampling maps points of the fixed/output space to the
  moving/input space. A user transform file is therefore read as mapping *current* (output) points
  to *prior* (input) points and is applied as is -- the transform an ITK/elastix registration of
  the prior image (moving) to the current image (fixed) writes.

Transform files: anything ``SimpleITK.ReadTransform`` reads (``.tfm``, ``.txt``, ``.h5``, ``.mat``:
rigid, affine, composite, displacement-field transforms), or a displacement-field image
(``.nii``, ``.nii.gz``, ``.mha``, ``.mhd``, ``.nrrd``) with 3-vector voxels in mm, LPS, defined on
the current (fixed) space: ``p_prior = p_current + u(p_current)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from dosimetry.errors import ConsistencyError, GeometryError, InputFileError
from dosimetry.registration import RigidRegistration

if TYPE_CHECKING:
    # Imported in the functions that use it (0.1-0.2 s CPU): an analyze without a prior course,
    # --no-prior, never needs SimpleITK (issue 20, start-up CPU).
    import SimpleITK as sitk

DISPLACEMENT_FIELD_SUFFIXES = (".nii", ".nii.gz", ".mha", ".mhd", ".nrrd")


def affine_transform(matrix_4x4: npt.ArrayLike) -> sitk.AffineTransform:
    """A SimpleITK affine transform computing ``p -> A p + t`` for a homogeneous 4x4 matrix."""
    import SimpleITK as sitk

    m = np.asarray(matrix_4x4, dtype=np.float64)
    transform = sitk.AffineTransform(3)
    transform.SetMatrix([float(v) for v in m[:3, :3].ravel()])
    transform.SetTranslation([float(v) for v in m[:3, 3]])
    return transform


def current_to_prior_matrix(
    registration: RigidRegistration, *, current_frame_uid: str, prior_frame_uid: str
) -> npt.NDArray[np.float64]:
    """The 4x4 matrix mapping current-frame points to prior-frame points, from a registration
    between the two frames in either direction."""
    src, dst = registration.source_frame_uid, registration.target_frame_uid
    where = f" ({registration.source_path})" if registration.source_path else ""
    if current_frame_uid == prior_frame_uid:
        raise ConsistencyError(
            f"the prior and current doses share frame of reference {current_frame_uid}; a registration{where} "
            "is not needed (and would be ambiguous)"
        )
    if src == prior_frame_uid and dst == current_frame_uid:
        return np.asarray(np.linalg.inv(registration.matrix), dtype=np.float64)
    if src == current_frame_uid and dst == prior_frame_uid:
        return np.array(registration.matrix, dtype=np.float64)
    raise ConsistencyError(
        f"the registration{where} links frames {src} -> {dst}, but the prior dose is in frame {prior_frame_uid} "
        f"and the current dose in frame {current_frame_uid}"
    )


def current_to_prior_transform(
    registration: RigidRegistration, *, current_frame_uid: str, prior_frame_uid: str
) -> sitk.AffineTransform:
    """:func:`current_to_prior_matrix` as a SimpleITK transform for resampling."""
    return affine_transform(
        current_to_prior_matrix(registration, current_frame_uid=current_frame_uid, prior_frame_uid=prior_frame_uid)
    )


def load_itk_transform(path: Path | str) -> sitk.Transform:
    """Read a transform file or displacement-field image (see the module docstring)."""
    import SimpleITK as sitk

    source = Path(path)
    if not source.is_file():
        raise InputFileError(f"transform file {source} does not exist or is not a file")
    name = source.name.lower()
    try:
        if name.endswith(DISPLACEMENT_FIELD_SUFFIXES):
            field = sitk.ReadImage(str(source), sitk.sitkVectorFloat64)
            if field.GetDimension() != 3 or field.GetNumberOfComponentsPerPixel() != 3:
                raise GeometryError(
                    f"displacement field {source} must be a 3-D image of 3-vectors (mm), got dimension "
                    f"{field.GetDimension()} with {field.GetNumberOfComponentsPerPixel()} components"
                )
            return sitk.DisplacementFieldTransform(field)
        transform = sitk.ReadTransform(str(source))
    except RuntimeError as exc:
        raise InputFileError(f"cannot read ITK transform {source}: {str(exc).strip().splitlines()[-1]}") from exc
    if transform.GetDimension() != 3:
        raise GeometryError(f"transform {source} is {transform.GetDimension()}-D; a 3-D transform is needed")
    return transform


def describe_transform(transform: sitk.Transform) -> str:
    """A short name of the transform kind (for reports)."""
    return transform.GetName()
