"""Applying a DICOM Deformable Spatial Registration (PS3.3 C.20.3) to points and to the prior dose.

Direction (PS3.3 C.20.3.1.1, "Deformable Registration Sequence Application"): the object's own
FrameOfReferenceUID is the *Registered* RCS, each item's SourceFrameOfReferenceUID a *Source* RCS.
A point ``p`` of the Registered RCS is transformed by the pre-deformation matrix, offset by the
deformation vector of the grid at ``p`` (the grid is placed in the Registered RCS by its
ImagePositionPatient / ImageOrientationPatient / GridResolution), then transformed by the
post-deformation matrix; the result addresses the sample point in the Source RCS::

    p_source = M_post @ (M_pre @ p_registered + D(p_registered))

So the object says where to *sample* source data for a registered point: the "pull" direction
that resampling needs. For the prior dose on the current grid:

* registered = current frame, source = prior frame: applied as is (current point -> prior point);
* registered = prior frame, source = current frame: the object maps prior points to current
  points; each current point's prior point is found by inverting the mapping numerically
  (:func:`source_to_registered`, a Newton-like fixed-point iteration preconditioned with the
  affine part; refused with a :class:`~dosimetry.errors.GeometryError` when it does not converge
  to 1e-3 mm, which happens where the deformation folds).

Between grid vectors the displacement is interpolated trilinearly (the standard leaves the
interpolation to the implementation). Beyond the grid's outer voxel centres the border vector
holds (constant extrapolation); points more than half a grid voxel outside the grid are counted
and reported (:attr:`MappedPoints.outside_grid`), never silently.

Hand-written rather than SimpleITK: ITK has no transform with a matrix before *and* after a
displacement field evaluated at the untransformed point; composing ITK transforms gives
D evaluated at M_pre p instead. The point mapping here is two matrix products and one
``scipy.ndimage.map_coordinates`` call per plane; the result is handed to SimpleITK as a
displacement field on the current grid, so the dose itself is resampled by the same code as every
other alignment (:mod:`dosimetry.align.resample`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from dosimetry.errors import ConsistencyError, GeometryError
from dosimetry.grid import RectilinearGrid
from dosimetry.io.registration_reader import DeformableRegistration

if TYPE_CHECKING:
    # Imported in the functions that use it (0.1-0.2 s CPU): an analyze without a prior course,
    # --no-prior, never needs SimpleITK (issue 20, start-up CPU).
    import SimpleITK as sitk

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: Convergence of the numerical inverse, mm (largest residual |T(p) - s| accepted).
INVERSE_TOLERANCE_MM = 1e-3
#: Iterations of the numerical inverse before it is refused.
INVERSE_MAX_ITERATIONS = 100


class DeformableDirection(StrEnum):
    """How a deformable registration was used for the prior dose."""

    AS_IS = "registered=current, source=prior: applied as is (current -> prior points)"
    INVERTED = "registered=prior, source=current: inverted numerically (prior -> current points given)"


@dataclass(frozen=True, eq=False)
class MappedPoints:
    """Points mapped by a deformable registration, and which fell outside its grid."""

    points_mm: FloatArray
    outside_grid: BoolArray


def _basis(reg: DeformableRegistration) -> FloatArray:
    o = np.asarray(reg.orientation, dtype=np.float64)
    row, col = o[:3], o[3:]
    if not (np.isclose(np.linalg.norm(row), 1.0, atol=1e-4) and np.isclose(np.linalg.norm(col), 1.0, atol=1e-4) and abs(row @ col) < 1e-4):
        where = f" in {reg.source_path}" if reg.source_path else ""
        raise GeometryError(f"ImageOrientationPatient {reg.orientation} of the deformation grid{where} is not two orthonormal direction cosines")
    return np.column_stack([row, col, np.cross(row, col)])


def grid_index(reg: DeformableRegistration, points_mm: FloatArray) -> FloatArray:
    """Continuous grid index (i, j, k) = (x, y, z grid axes) of Registered-RCS points, (N, 3)."""
    basis = _basis(reg)
    rel = np.asarray(points_mm, dtype=np.float64) - np.asarray(reg.origin_mm)
    return (rel @ basis) / np.asarray(reg.resolution_mm)


def displacement_at(reg: DeformableRegistration, points_mm: FloatArray) -> tuple[FloatArray, BoolArray]:
    """The grid's displacement (mm) at Registered-RCS points (trilinear, border held) and the mask of
    points more than half a grid voxel beyond the outer vectors."""
    from scipy import ndimage  # only a deformable registration needs it: not imported by every analyze

    index = grid_index(reg, points_mm)
    nx, ny, nz = reg.grid_dimensions_xyz
    size = np.array([nx, ny, nz], dtype=np.float64)
    outside = np.any((index < -0.5) | (index > size - 0.5), axis=1)
    coords = [index[:, 2], index[:, 1], index[:, 0]]  # (z, y, x) array order
    disp = np.empty((index.shape[0], 3), dtype=np.float64)
    for c in range(3):
        disp[:, c] = ndimage.map_coordinates(reg.vectors_mm[..., c], coords, order=1, mode="nearest")
    return disp, outside


def _affine(m: FloatArray, points: FloatArray) -> FloatArray:
    return points @ m[:3, :3].T + m[:3, 3]


def registered_to_source(reg: DeformableRegistration, points_mm: FloatArray) -> MappedPoints:
    """PS3.3 Equation C.20.3-1: ``p_source = M_post (M_pre p + D(p))`` for Registered-RCS points."""
    pts = np.asarray(points_mm, dtype=np.float64).reshape(-1, 3)
    disp, outside = displacement_at(reg, pts)
    moved = _affine(reg.pre_matrix, pts) + disp
    return MappedPoints(_affine(reg.post_matrix, moved), outside)


def source_to_registered(
    reg: DeformableRegistration,
    points_mm: FloatArray,
    *,
    tolerance_mm: float = INVERSE_TOLERANCE_MM,
    max_iterations: int = INVERSE_MAX_ITERATIONS,
) -> MappedPoints:
    """The Registered-RCS points ``p`` with ``registered_to_source(p) == s`` for Source-RCS points
    ``s``: iterate ``p <- p - A^-1 (T(p) - s)`` with ``A`` the linear part of ``M_post M_pre``,
    starting from the affine inverse. Converges where the deformation's gradient is below 1
    (no folding); otherwise a GeometryError names the largest residual."""
    s = np.asarray(points_mm, dtype=np.float64).reshape(-1, 3)
    affine = reg.post_matrix @ reg.pre_matrix
    inverse: FloatArray = np.linalg.inv(affine).astype(np.float64)
    a_inv = inverse[:3, :3]
    p = _affine(inverse, s)
    residual_mm = np.inf
    for _ in range(max_iterations):
        mapped = registered_to_source(reg, p).points_mm
        r = mapped - s
        residual_mm = float(np.sqrt((r**2).sum(axis=1)).max()) if r.size else 0.0
        if residual_mm <= tolerance_mm:
            break
        p = p - r @ a_inv.T
    else:
        where = f" {reg.source_path}" if reg.source_path else ""
        raise GeometryError(
            f"the deformable registration{where} could not be inverted: after {max_iterations} iterations a point is still "
            f"{residual_mm:.3g} mm from its target (tolerance {tolerance_mm} mm); the deformation folds (Jacobian <= 0) or "
            "is too strong to invert; give the registration in the other direction (registered = current frame)"
        )
    _, outside = displacement_at(reg, p)
    return MappedPoints(p, outside)


def direction_for(reg: DeformableRegistration, *, current_frame_uid: str, prior_frame_uid: str) -> DeformableDirection:
    """Whether ``reg`` maps current points to prior points as is, or must be inverted."""
    src, own = reg.source_frame_uid, reg.target_frame_uid
    where = f" ({reg.source_path})" if reg.source_path else ""
    if current_frame_uid == prior_frame_uid:
        raise ConsistencyError(
            f"the prior and current doses share frame of reference {current_frame_uid}; a deformable registration{where} "
            "between different frames cannot be applied (and would be ambiguous)"
        )
    if own == current_frame_uid and src == prior_frame_uid:
        return DeformableDirection.AS_IS
    if own == prior_frame_uid and src == current_frame_uid:
        return DeformableDirection.INVERTED
    raise ConsistencyError(
        f"the deformable registration{where} has source frame {src} and registered frame {own}, but the prior dose is in "
        f"frame {prior_frame_uid} and the current dose in frame {current_frame_uid}"
    )


def current_to_prior_points(
    reg: DeformableRegistration, points_mm: FloatArray, *, current_frame_uid: str, prior_frame_uid: str
) -> MappedPoints:
    """Prior-frame points of current-frame points (either direction of the object, see the module docstring)."""
    direction = direction_for(reg, current_frame_uid=current_frame_uid, prior_frame_uid=prior_frame_uid)
    if direction is DeformableDirection.AS_IS:
        return registered_to_source(reg, points_mm)
    return source_to_registered(reg, points_mm)


def field_geometry(grid: RectilinearGrid) -> tuple[tuple[int, int, int], tuple[float, float, float], tuple[float, float, float]]:
    """Size (x, y, z), origin and spacing of a uniform grid covering ``grid``'s voxel centres (the
    smallest z step when z is not uniform, so every current plane lies on or between field planes)."""
    nz = grid.z_mm.size
    dz = float(np.min(np.diff(grid.z_mm))) if nz > 1 else float(grid.slice_thickness_mm[0])
    n_z = round(float(grid.z_mm[-1] - grid.z_mm[0]) / dz) + 1 if nz > 1 else 1
    size = (grid.x_mm.size, grid.y_mm.size, n_z)
    origin = (float(grid.x_mm[0]), float(grid.y_mm[0]), float(grid.z_mm[0]))
    return size, origin, (grid.spacing_x_mm, grid.spacing_y_mm, dz)


def displacement_field(
    reg: DeformableRegistration, grid: RectilinearGrid, *, current_frame_uid: str, prior_frame_uid: str
) -> tuple[sitk.Image, BoolArray]:
    """The current -> prior mapping as an ITK displacement-field image (vectors ``p_prior - p_current``,
    mm) on a uniform grid covering ``grid``, and the mask (field z, y, x) of points outside the
    deformation grid. Computed one plane at a time (bounded memory)."""
    import SimpleITK as sitk

    (nx, ny, nz), origin, spacing = field_geometry(grid)
    vectors = np.empty((nz, ny, nx, 3), dtype=np.float64)
    outside = np.empty((nz, ny, nx), dtype=np.bool_)
    xx, yy = np.meshgrid(origin[0] + spacing[0] * np.arange(nx), origin[1] + spacing[1] * np.arange(ny))
    for k in range(nz):
        z = origin[2] + spacing[2] * k
        pts = np.stack([xx.ravel(), yy.ravel(), np.full(xx.size, z)], axis=1)
        mapped = current_to_prior_points(reg, pts, current_frame_uid=current_frame_uid, prior_frame_uid=prior_frame_uid)
        vectors[k] = (mapped.points_mm - pts).reshape(ny, nx, 3)
        outside[k] = mapped.outside_grid.reshape(ny, nx)
    image = sitk.GetImageFromArray(vectors, isVector=True)
    image.SetOrigin(origin)
    image.SetSpacing(spacing)
    return image, outside


@dataclass(frozen=True)
class JacobianStats:
    """Jacobian determinant of the current -> prior mapping over the current dose grid."""

    minimum: float
    percentile_1: float
    median: float
    percentile_99: float
    maximum: float
    folding_voxels: int
    voxels: int

    def to_dict(self) -> dict[str, float | int]:
        return {
            "min": self.minimum, "p1": self.percentile_1, "median": self.median,
            "p99": self.percentile_99, "max": self.maximum,
            "folding_voxels": self.folding_voxels, "voxels": self.voxels,
        }


def jacobian_stats(field_image: sitk.Image, mask: BoolArray | None = None) -> JacobianStats:
    """Statistics of the Jacobian determinant of ``x -> x + u(x)`` (SimpleITK
    DisplacementFieldJacobianDeterminant, central differences); ``folding_voxels`` counts
    determinants <= 0 (the mapping folds space there). ``mask`` (z, y, x) restricts the voxels."""
    import SimpleITK as sitk

    det = sitk.GetArrayFromImage(sitk.DisplacementFieldJacobianDeterminant(field_image))
    values = det[mask] if mask is not None else det.ravel()
    if values.size == 0:
        raise GeometryError("no voxel to compute the Jacobian determinant on (empty mask)")
    p = np.percentile(values, [1, 50, 99])
    return JacobianStats(
        float(values.min()), float(p[0]), float(p[1]), float(p[2]), float(values.max()),
        int((values <= 0).sum()), int(values.size),
    )
