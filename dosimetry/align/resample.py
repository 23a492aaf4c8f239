"""Resample a prior dose onto the current dose grid.

Choice of the mapping (:func:`align_prior_dose`):

* same frame of reference: identity;
* frames linked by a :class:`~dosimetry.registration.RigidRegistration`: its matrix, in the
  direction that maps current points to prior points (:mod:`dosimetry.align.transforms`);
* frames linked by a DICOM Deformable Spatial Registration: pre matrix, grid, post matrix in the
  standard's direction, inverted numerically when its registered frame is the prior one
  (:mod:`dosimetry.align.deformable`); its Jacobian determinant statistics travel with the result
  and folding (determinant <= 0) is a warning on every output;
* a user ITK transform (object or file): applied as is (ITK maps output/current points to
  input/prior points); current-grid voxels outside a displacement field's domain, which ITK maps
  with zero displacement, are counted in a warning;
* different frames and nothing else: :class:`~dosimetry.errors.ConsistencyError`, unless
  ``assume_same_position=True``, which uses the identity and puts a warning on the result (and so
  on every output made from it).

Interpolation is trilinear (SimpleITK ``sitkLinear``). The prior grid covers its voxels up to
their outer edges (half a voxel beyond the outer centres; ITK holds the border value there).
Current-grid voxels whose centre maps outside that box get prior dose 0; their count and volume
(cc) are reported. A centre exactly on a face counts as inside on the lower faces and outside on
the upper ones (ITK's continuous-index rule; the scipy path follows it).

Grids: the output grid is the current dose grid. SimpleITK images are built from the canonical
grid (origin = first voxel centre, spacing, identity direction). A current grid with non-uniform z
is filled one z plane at a time (each plane is its own one-slice output image), which is exact.
A prior grid with non-uniform z cannot be an ITK image: it is interpolated with scipy's
``RegularGridInterpolator`` in physical coordinates (the same trilinear rule on the rectilinear
grid; slower, about 10x), with the transformed points taken from SimpleITK's displacement field
of the transform.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from dosimetry.dose import DoseGrid
from dosimetry.errors import ArgumentError, ConsistencyError
from dosimetry.grid import RectilinearGrid
from dosimetry.io.registration_reader import DeformableRegistration
from dosimetry.registration import RigidRegistration
from dosimetry.align.deformable import JacobianStats, direction_for, displacement_field, jacobian_stats
from dosimetry.align.transforms import current_to_prior_transform, describe_transform, load_itk_transform

if TYPE_CHECKING:
    # Imported in the functions that use it (0.1-0.2 s CPU): an analyze without a prior course,
    # --no-prior, never needs SimpleITK (issue 20, start-up CPU).
    import SimpleITK as sitk

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

#: Marks output voxels outside the prior grid during resampling (interpolating finite doses never
#: gives NaN, and negative values stay possible, e.g. for dose differences).
_OUTSIDE = float("nan")


class AlignmentMethod(StrEnum):
    SAME_FRAME = "same-frame"
    REGISTRATION = "registration"
    TRANSFORM = "transform"
    DEFORMABLE_REGISTRATION = "deformable-registration"
    ASSUMED_SAME_POSITION = "assumed-same-position"


@dataclass(frozen=True, eq=False)
class AlignedDose:
    """The prior dose on the current grid and how it got there."""

    dose: DoseGrid
    method: AlignmentMethod
    transform_description: str
    uncovered_voxel_count: int
    uncovered_volume_cc: float
    warnings: tuple[str, ...] = field(default=())
    jacobian: JacobianStats | None = None


def _z_spacing(grid: RectilinearGrid) -> float:
    if grid.z_mm.size == 1:
        return float(grid.slice_thickness_mm[0])
    return float(grid.z_mm[1] - grid.z_mm[0])


def _image_from_dose(dose_gy: FloatArray, grid: RectilinearGrid) -> sitk.Image:
    import SimpleITK as sitk

    image = sitk.GetImageFromArray(np.ascontiguousarray(dose_gy, dtype=np.float64))
    image.SetOrigin((float(grid.x_mm[0]), float(grid.y_mm[0]), float(grid.z_mm[0])))
    image.SetSpacing((grid.spacing_x_mm, grid.spacing_y_mm, _z_spacing(grid)))
    image.SetDirection((1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0))
    return image


def _resample_sitk(
    prior_image: sitk.Image, target: RectilinearGrid, transform: sitk.Transform
) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    import SimpleITK as sitk

    nz, ny, nx = target.shape_zyx
    spacing_xy = (target.spacing_x_mm, target.spacing_y_mm)
    resampler = sitk.ResampleImageFilter()
    resampler.SetInterpolator(sitk.sitkLinear)
    resampler.SetDefaultPixelValue(_OUTSIDE)
    resampler.SetOutputPixelType(sitk.sitkFloat64)
    resampler.SetTransform(transform)
    resampler.SetOutputDirection((1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0))
    if target.z_is_uniform:
        resampler.SetSize((nx, ny, nz))
        resampler.SetOutputOrigin((float(target.x_mm[0]), float(target.y_mm[0]), float(target.z_mm[0])))
        resampler.SetOutputSpacing((*spacing_xy, _z_spacing(target)))
        image = resampler.Execute(prior_image)
        view = sitk.GetArrayViewFromImage(image)  # valid while ``image`` lives: copy before returning
        outside = np.isnan(view)
        return _zero_outside_copy(view, outside), outside
    out = np.empty(target.shape_zyx, dtype=np.float64)
    resampler.SetSize((nx, ny, 1))
    resampler.SetOutputSpacing((*spacing_xy, 1.0))
    for k, z in enumerate(target.z_mm):
        resampler.SetOutputOrigin((float(target.x_mm[0]), float(target.y_mm[0]), float(z)))
        out[k] = sitk.GetArrayFromImage(resampler.Execute(prior_image))[0]
    return _split_outside(out)


def _zero_outside_copy(view: FloatArray, outside: npt.NDArray[np.bool_]) -> FloatArray:
    """``np.nan_to_num(view, nan=0.0)`` given ``outside = np.isnan(view)``: a new array owning its
    data, 0 where ``outside``, +-inf (never seen: interpolated finite doses) replaced as
    :func:`numpy.nan_to_num` does. Measured reason (issue 20, clinical case, 10.5 M voxels):
    nan_to_num copies the grid, then builds NaN, +inf and -inf masks, each a fresh array whose first
    touch is page faults (system time); one ``np.where`` pass with the mask already made, and a
    min/max scan for infinities, writes one array. With the aligned array handed to DoseGrid
    uncopied, ``align_prior_dose`` went from 0.84 to 0.49 s CPU (median of 10 alternating runs of
    ``benchmarks/load_patient_cpu.py``)."""
    values = np.where(outside, 0.0, view)
    if not (np.isfinite(values.min()) and np.isfinite(values.max())):
        np.nan_to_num(values, copy=False)
    return values


def _split_outside(values: FloatArray) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """Replace the outside marker by 0 in place; return the values and the outside mask."""
    outside = np.isnan(values)
    values[outside] = 0.0
    return values, outside


def _resample_rectilinear(
    prior: DoseGrid, target: RectilinearGrid, transform: sitk.Transform
) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """Trilinear interpolation on a prior grid with non-uniform z (one output plane at a time)."""
    import SimpleITK as sitk
    # Imported here, not at the top: scipy.interpolate (with scipy.special/linalg/optimize/sparse/spatial
    # it pulls in) was ~0.3-0.7 s CPU of every analyze start-up, and only a non-uniform prior grid needs it.
    from scipy.interpolate import RegularGridInterpolator

    src = prior.grid
    interpolator = RegularGridInterpolator(
        (src.z_mm, src.y_mm, src.x_mm), prior.dose_gy, method="linear", bounds_error=False, fill_value=None
    )
    (x0, x1), (y0, y1), (z0, z1) = src.bounds_mm()
    nz, ny, nx = target.shape_zyx
    out = np.empty(target.shape_zyx, dtype=np.float64)
    xx, yy = np.meshgrid(target.x_mm, target.y_mm)  # (ny, nx)
    for k, z in enumerate(target.z_mm):
        field_image = sitk.TransformToDisplacementField(
            transform,
            sitk.sitkVectorFloat64,
            (nx, ny, 1),
            (float(target.x_mm[0]), float(target.y_mm[0]), float(z)),
            (target.spacing_x_mm, target.spacing_y_mm, 1.0),
            (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0),
        )
        disp = sitk.GetArrayViewFromImage(field_image)[0]  # (ny, nx, 3) as (dx, dy, dz)
        px = xx + disp[..., 0]
        py = yy + disp[..., 1]
        pz = z + disp[..., 2]
        # ITK's rule (start - 0.5 <= index < end + 0.5): lower faces inside, upper faces outside.
        inside = (px >= x0) & (px < x1) & (py >= y0) & (py < y1) & (pz >= z0) & (pz < z1)
        # Between the outer centre and the outer edge the border value holds (as in ITK).
        pts = np.stack(
            [
                np.clip(pz, src.z_mm[0], src.z_mm[-1]),
                np.clip(py, src.y_mm[0], src.y_mm[-1]),
                np.clip(px, src.x_mm[0], src.x_mm[-1]),
            ],
            axis=-1,
        )
        plane = interpolator(pts.reshape(-1, 3)).reshape(ny, nx)
        out[k] = np.where(inside, plane, _OUTSIDE)
    return _split_outside(out)


def resample_dose_with_transform(
    prior: DoseGrid, target: RectilinearGrid, transform: sitk.Transform | None = None
) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """Linear resampling of ``prior`` onto ``target``; ``transform`` maps target points to prior
    points (ITK convention; identity when None). Returns the dose (0 outside the prior grid) and
    the mask of target voxels outside the prior grid."""
    import SimpleITK as sitk

    if transform is None:
        transform = sitk.Transform(3, sitk.sitkIdentity)
    src = prior.grid
    if src.z_is_uniform and src.x_mm.size > 1 and src.y_mm.size > 1:
        return _resample_sitk(_image_from_dose(prior.dose_gy, src), target, transform)
    return _resample_rectilinear(prior, target, transform)


def outside_displacement_field(transform: sitk.Transform, grid: RectilinearGrid) -> npt.NDArray[np.bool_] | None:
    """Mask of ``grid`` voxels whose centre lies outside the domain of a displacement-field transform
    (ITK maps such points with zero displacement, as the identity, without telling); None for any
    other transform. The domain is ITK's: continuous index in [-0.5, size - 0.5) on each axis."""
    import SimpleITK as sitk

    if not isinstance(transform, sitk.DisplacementFieldTransform):
        return None
    fixed = np.asarray(transform.GetFixedParameters(), dtype=np.float64)  # size, origin, spacing, direction
    size, origin, spacing = fixed[0:3], fixed[3:6], fixed[6:9]
    to_index = np.linalg.inv(fixed[9:18].reshape(3, 3) * spacing)  # index = (D diag(s))^-1 (p - origin)
    xx, yy = np.meshgrid(grid.x_mm - origin[0], grid.y_mm - origin[1])  # (ny, nx)
    outside = np.empty(grid.shape_zyx, dtype=np.bool_)
    for k, z in enumerate(grid.z_mm):
        index = np.stack([xx, yy, np.full_like(xx, z - origin[2])], axis=-1) @ to_index.T
        outside[k] = np.any((index < -0.5) | (index >= size - 0.5), axis=-1)
    return outside


def _check_exclusive(registration: object, transform: object, assume_same_position: bool, deformable: object = None) -> None:
    given = [
        name
        for name, value in (
            ("registration", registration is not None),
            ("deformable", deformable is not None),
            ("transform", transform is not None),
            ("assume_same_position", assume_same_position),
        )
        if value
    ]
    if len(given) > 1:
        raise ArgumentError(f"give at most one of registration, deformable, transform and assume_same_position; got {', '.join(given)}")


def align_prior_dose(
    prior: DoseGrid,
    current_grid: RectilinearGrid,
    current_frame_uid: str,
    *,
    registration: RigidRegistration | None = None,
    transform: sitk.Transform | Path | str | None = None,
    assume_same_position: bool = False,
    deformable: DeformableRegistration | None = None,
) -> AlignedDose:
    """Bring ``prior`` onto ``current_grid`` (see the module docstring for the rules)."""
    import SimpleITK as sitk

    _check_exclusive(registration, transform, assume_same_position, deformable)
    warnings: list[str] = []
    prior_frame = prior.frame_of_reference_uid
    jacobian: JacobianStats | None = None
    itk_transform: sitk.Transform | None
    if deformable is not None:
        used_as = direction_for(deformable, current_frame_uid=current_frame_uid, prior_frame_uid=prior_frame)
        field_image, beyond_grid = displacement_field(
            deformable, current_grid, current_frame_uid=current_frame_uid, prior_frame_uid=prior_frame
        )
        itk_transform = sitk.DisplacementFieldTransform(sitk.Image(field_image))
        method = AlignmentMethod.DEFORMABLE_REGISTRATION
        src = f" {deformable.source_path}" if deformable.source_path else ""
        how = (
            f"deformable spatial registration{src} ({deformable.source_frame_uid} -> {deformable.target_frame_uid}; "
            f"{used_as.value}; grid {'x'.join(str(n) for n in deformable.grid_dimensions_xyz)} at "
            f"{'/'.join(f'{r:g}' for r in deformable.resolution_mm)} mm, max displacement {deformable.max_displacement_mm:.1f} mm)"
        )
        jacobian = jacobian_stats(field_image)
        if jacobian.folding_voxels:
            warnings.append(
                f"the deformable registration{src} folds space: {jacobian.folding_voxels} of {jacobian.voxels} voxels of the "
                f"current dose grid have a Jacobian determinant <= 0 (min {jacobian.minimum:.3g}); the mapped prior dose is "
                "not physical there"
            )
        if beyond_grid.any():
            warnings.append(
                f"{int(beyond_grid.sum())} points of the current dose grid lie more than half a grid voxel outside the "
                f"deformation grid of{src}; the border displacement was held there"
            )
    elif transform is not None:
        itk_transform = transform if isinstance(transform, sitk.Transform) else load_itk_transform(transform)
        method = AlignmentMethod.TRANSFORM
        where = f" from {transform}" if not isinstance(transform, sitk.Transform) else ""
        how = f"user ITK {describe_transform(itk_transform)}{where} (current -> prior points)"
        beyond_field = outside_displacement_field(itk_transform, current_grid)
        if beyond_field is not None and beyond_field.any():
            field_cc = float((beyond_field.sum(axis=(1, 2)) * current_grid.voxel_volume_cc()).sum())
            warnings.append(
                f"{field_cc:.2f} cc ({int(beyond_field.sum())} voxels) of the current dose grid lie outside the "
                f"displacement field{where}: ITK maps them with zero displacement (as the identity)"
            )
    elif registration is not None:
        itk_transform = current_to_prior_transform(
            registration, current_frame_uid=current_frame_uid, prior_frame_uid=prior_frame
        )
        method = AlignmentMethod.REGISTRATION
        direction = "inverted" if registration.source_frame_uid == prior_frame else "as is"
        src = f" {registration.source_path}" if registration.source_path else ""
        how = f"spatial registration{src} ({registration.source_frame_uid} -> {registration.target_frame_uid}, {direction})"
        if not registration.is_rigid:
            warnings.append(f"registration matrix{src} is not rigid; applied as an affine transform")
    elif prior_frame == current_frame_uid:
        itk_transform = None
        method = AlignmentMethod.SAME_FRAME
        how = f"same frame of reference {current_frame_uid}"
    elif assume_same_position:
        itk_transform = None
        method = AlignmentMethod.ASSUMED_SAME_POSITION
        how = "identity (patient position assumed unchanged)"
        warnings.append(
            f"the prior dose (frame {prior_frame}) and the current dose (frame {current_frame_uid}) have different "
            "frames of reference and no registration: the patient was ASSUMED to lie in the same position "
            "(assume_same_position); the cumulative dose is only as good as that assumption"
        )
    else:
        raise ConsistencyError(
            f"the prior dose{f' ({prior.source_path})' if prior.source_path else ''} is in frame of reference "
            f"{prior_frame} and the current dose in {current_frame_uid}: give a spatial registration (REG) or a "
            "transform file, or explicitly assume_same_position"
        )
    values, outside = resample_dose_with_transform(prior, current_grid, itk_transform)
    count = int(outside.sum())
    volume_cc = float((outside.sum(axis=(1, 2)) * current_grid.voxel_volume_cc()).sum())
    if count:
        warnings.append(
            f"{volume_cc:.2f} cc ({count} voxels) of the current dose grid lie outside the prior dose grid; "
            "prior dose taken as 0 there"
        )
    logger.info("prior dose aligned by %s; %d voxels (%.2f cc) outside the prior grid", how, count, volume_cc)
    all_warnings = tuple(dict.fromkeys(prior.warnings + tuple(warnings)))
    values.flags.writeable = False  # a new array nothing else holds: DoseGrid keeps it without a copy
    aligned = DoseGrid(
        grid=current_grid,
        dose_gy=values,
        dose_type=prior.dose_type,
        summation_type=prior.summation_type,
        frame_of_reference_uid=current_frame_uid,
        referenced_plan_uid=prior.referenced_plan_uid,
        description=f"prior dose resampled: {how}",
        warnings=all_warnings,
    )
    return AlignedDose(aligned, method, how, count, volume_cc, all_warnings, jacobian)


def resample_values_with_transform(
    values: FloatArray, grid: RectilinearGrid, target: RectilinearGrid, transform: sitk.Transform | None = None
) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """:func:`resample_dose_with_transform` for any voxel values on a uniform ``grid`` (e.g. an ROI's
    occupancy): linear, 0 outside ``grid``; returns the values and the outside mask."""
    import SimpleITK as sitk

    if not grid.z_is_uniform:
        raise ArgumentError("resample_values_with_transform needs a grid with uniform z spacing")
    if transform is None:
        transform = sitk.Transform(3, sitk.sitkIdentity)
    return _resample_sitk(_image_from_dose(values, grid), target, transform)
