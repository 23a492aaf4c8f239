"""Compute a deformable registration of the prior CT to the current CT (SimpleITK): rigid, then demons.

Fixed image: the current CT; moving image: the prior CT. ITK's result maps *current* points to
*prior* points (the direction resampling needs). Stages and their parameters
(:class:`RegistrationParameters`, every one recorded in the outputs):

1. **Rigid** (``Euler3DTransform``), initialised by aligning the image centres
   (``CenteredTransformInitializer``, GEOMETRY); Mattes mutual information (50 histogram bins),
   random sampling of 20 % of the voxels with a fixed seed (deterministic), regular step gradient
   descent (learning rate 2, minimum step 1e-3, 100 iterations per level), physical-shift
   scales; three levels, shrink factors 4, 2, 1 with smoothing sigmas 2, 1, 0 voxels.
2. **Demons** (``FastSymmetricForcesDemonsRegistrationFilter``) of the current CT and the prior CT
   resampled through the rigid stage: 50 iterations per level, displacement field smoothed with a
   Gaussian of standard deviation 2 (ITK's unit: physical mm), three levels with shrink factors 4,
   2, 1 (each level starts from the previous field). The result is ``p_prior = R(p + d(p))``.
   Demons is intensity-based, valid here because both images are CT in HU.

Measured on the generated 40^3 pair (3 mm voxels; :mod:`dosimetry.sampledata.deformed_pair`, a
4 mm Gaussian bump on top of a translation) inside the body: rigid alone mean 0.76 mm, 95th
percentile 2.2 mm, 3.7 mm at the bump's centre; rigid + demons mean 0.66 mm, 95th percentile
1.1 mm, 1.4 mm at the centre, smallest Jacobian determinant 0.83, in about 2 s
(``tests/test_align_register.py`` holds it to mean <= 0.8 mm and 95th percentile <= 1.5 mm).
A SimpleITK B-spline stage (30 mm control points, mean squares, L-BFGS-B 25 iterations, 5 %
sampling) reached mean 0.55 / p95 1.2 mm but 2.2 mm at the centre, and needed 60 iterations on
three levels (18 s) to reach 1.2 mm there: demons is kept as the default for the time bound.

Bounded time and memory: the iteration counts and shrink factors above, and both CTs are first
averaged down (``BinShrink``, whole factors per axis) to voxels of at least ``min_spacing_mm``
(3 mm; a 512 x 512 CT at 0.98 mm becomes 171 x 171 at 2.9 mm), so the demons field of a
clinical CT stays near 100 MB. Measured (``python -m benchmarks.deformable_registration``, on
the shared 2-core machine): the sample patient (96 x 96 x 49 CT) 6.4 s CPU (25 s wall under load),
peak 313 MiB; a generated 512 x 512 x 120 pair 56 s CPU (143 s wall), peak 1.0 GiB. Both images are
clipped to [-1000, 2000] HU before registration (metal and air outliers).

Reproducible to within about 1e-6 mm between runs, not bit for bit: ITK's multi-threaded sums
(metric, demons update) depend on the thread scheduling.

Outputs: the ITK composite transform (:func:`write_itk_transform`, ``.h5``, readable by
``SimpleITK.ReadTransform`` and so by ``dosimetry accumulate --transform``) and, through
:func:`to_deformable_registration`, the DICOM form: pre-deformation matrix identity, the demons
displacement d resampled every ``grid_spacing_mm`` over the current CT, post-deformation matrix
the rigid stage R; registered frame = current, source frame = prior (PS3.3 C.20.3.1.1).
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from dosimetry.errors import ArgumentError, GeometryError, OutputError
from dosimetry.grid import RectilinearGrid
from dosimetry.io.registration_reader import DeformableRegistration
from dosimetry.io.registration_writer import ds_exact

if TYPE_CHECKING:
    # Imported in the functions that use it (0.1-0.2 s CPU): an analyze without a prior course,
    # --no-prior, never needs SimpleITK (issue 20, start-up CPU).
    import SimpleITK as sitk

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class RegistrationParameters:
    """Every parameter of :func:`register_deformable` (see the module docstring)."""

    rigid_iterations: int = 100
    rigid_shrink_factors: tuple[int, ...] = (4, 2, 1)
    rigid_smoothing_voxels: tuple[float, ...] = (2.0, 1.0, 0.0)
    histogram_bins: int = 50
    sampling_fraction: float = 0.2
    seed: int = 20261207
    demons_iterations: int = 50
    demons_shrink_factors: tuple[int, ...] = (4, 2, 1)
    demons_smoothing_mm: float = 2.0
    hu_window: tuple[float, float] = (-1000.0, 2000.0)
    grid_spacing_mm: float = 4.0
    min_spacing_mm: float = 3.0

    def __post_init__(self) -> None:
        if len(self.rigid_shrink_factors) != len(self.rigid_smoothing_voxels):
            raise ArgumentError("rigid shrink factors and smoothing sigmas must have one entry per level")
        if not (0 < self.sampling_fraction <= 1):
            raise ArgumentError(f"sampling_fraction must be in (0, 1], got {self.sampling_fraction}")
        if self.grid_spacing_mm <= 0 or self.demons_smoothing_mm <= 0 or self.min_spacing_mm <= 0:
            raise ArgumentError("grid_spacing_mm, demons_smoothing_mm and min_spacing_mm must be > 0 mm")
        if self.rigid_iterations < 1 or self.demons_iterations < 0 or min(self.demons_shrink_factors, default=1) < 1:
            raise ArgumentError("iteration counts and shrink factors must be positive")

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True, eq=False)
class ComputedRegistration:
    """The result of :func:`register_deformable`: ITK transforms mapping current to prior points."""

    rigid: sitk.Euler3DTransform
    field: sitk.Image
    parameters: RegistrationParameters
    current_frame_uid: str
    prior_frame_uid: str
    current_grid: RectilinearGrid
    rigid_metric: float
    seconds: float

    def composite(self) -> sitk.CompositeTransform:
        """``p_prior = R(p + d(p))`` (ITK applies the last-added transform first)."""
        import SimpleITK as sitk

        composite = sitk.CompositeTransform(3)
        composite.AddTransform(self.rigid)
        composite.AddTransform(sitk.DisplacementFieldTransform(sitk.Image(self.field)))
        return composite

    def rigid_matrix(self) -> FloatArray:
        """The rigid stage as a 4x4 matrix (current -> prior points)."""
        return euler_matrix(self.rigid)


def euler_matrix(transform: sitk.Euler3DTransform) -> FloatArray:
    """4x4 homogeneous matrix of an ITK matrix-offset transform (p -> A (p - c) + c + t)."""
    a = np.asarray(transform.GetMatrix(), dtype=np.float64).reshape(3, 3)
    c = np.asarray(transform.GetCenter(), dtype=np.float64)
    t = np.asarray(transform.GetTranslation(), dtype=np.float64)
    m = np.eye(4)
    m[:3, :3] = a
    m[:3, 3] = c + t - a @ c
    return m


def ct_image(hu: npt.NDArray[np.floating[Any]], grid: RectilinearGrid, window: tuple[float, float]) -> sitk.Image:
    """A float32 SimpleITK image of a canonical CT volume (z, y, x) on a uniform grid, clipped to ``window``."""
    import SimpleITK as sitk

    if not grid.z_is_uniform:
        raise GeometryError("the CT slices are not evenly spaced; registration needs a uniform CT grid")
    image = sitk.GetImageFromArray(np.clip(hu, *window).astype(np.float32))
    image.SetOrigin((float(grid.x_mm[0]), float(grid.y_mm[0]), float(grid.z_mm[0])))
    dz = float(grid.z_mm[1] - grid.z_mm[0]) if grid.z_mm.size > 1 else float(grid.slice_thickness_mm[0])
    image.SetSpacing((grid.spacing_x_mm, grid.spacing_y_mm, dz))
    return image


def _coarsen(image: sitk.Image, min_spacing_mm: float) -> sitk.Image:
    """Average whole blocks of voxels so each axis's spacing is at least about ``min_spacing_mm``."""
    import SimpleITK as sitk

    factors = [max(1, int(np.floor(min_spacing_mm / s + 1e-6))) for s in image.GetSpacing()]
    return sitk.BinShrink(image, factors) if max(factors) > 1 else image


def _rigid_method(parameters: RegistrationParameters) -> sitk.ImageRegistrationMethod:
    import SimpleITK as sitk

    method = sitk.ImageRegistrationMethod()
    method.SetMetricAsMattesMutualInformation(numberOfHistogramBins=parameters.histogram_bins)
    method.SetMetricSamplingStrategy(method.RANDOM)
    method.SetMetricSamplingPercentage(parameters.sampling_fraction, parameters.seed)
    method.SetInterpolator(sitk.sitkLinear)
    method.SetShrinkFactorsPerLevel(list(parameters.rigid_shrink_factors))
    method.SetSmoothingSigmasPerLevel(list(parameters.rigid_smoothing_voxels))
    method.SmoothingSigmasAreSpecifiedInPhysicalUnitsOff()
    method.SetOptimizerAsRegularStepGradientDescent(
        learningRate=2.0, minStep=1e-3, numberOfIterations=parameters.rigid_iterations, gradientMagnitudeTolerance=1e-6
    )
    method.SetOptimizerScalesFromPhysicalShift()
    return method


def _demons(fixed: sitk.Image, moving: sitk.Image, parameters: RegistrationParameters) -> sitk.Image:
    """Multi-level demons displacement field on the fixed image's grid (float64 vectors, mm)."""
    import SimpleITK as sitk

    field: sitk.Image | None = None
    for shrink in parameters.demons_shrink_factors:
        factors = [max(1, min(shrink, n // 4)) for n in fixed.GetSize()]  # keep at least 4 voxels per axis
        f = sitk.Shrink(fixed, factors) if max(factors) > 1 else fixed
        m = sitk.Shrink(moving, factors) if max(factors) > 1 else moving
        demons = sitk.FastSymmetricForcesDemonsRegistrationFilter()
        demons.SetNumberOfIterations(parameters.demons_iterations)
        demons.SetStandardDeviations(parameters.demons_smoothing_mm)
        if field is None:
            field = demons.Execute(f, m)
        else:
            start = sitk.Resample(field, f, sitk.Transform(), sitk.sitkLinear, 0.0, field.GetPixelID())
            field = demons.Execute(f, m, start)
    if field is None:
        return sitk.Image(fixed.GetSize(), sitk.sitkVectorFloat64, 3)
    field = sitk.Resample(field, fixed, sitk.Transform(), sitk.sitkLinear, 0.0, field.GetPixelID())
    return sitk.Cast(field, sitk.sitkVectorFloat64)


def register_deformable(
    current_hu: npt.NDArray[np.floating[Any]],
    current_grid: RectilinearGrid,
    prior_hu: npt.NDArray[np.floating[Any]],
    prior_grid: RectilinearGrid,
    *,
    current_frame_uid: str,
    prior_frame_uid: str,
    parameters: RegistrationParameters | None = None,
) -> ComputedRegistration:
    """Register the prior CT (moving) to the current CT (fixed): rigid, then demons (module docstring)."""
    import SimpleITK as sitk

    params = parameters or RegistrationParameters()
    start = time.perf_counter()
    fixed = _coarsen(ct_image(current_hu, current_grid, params.hu_window), params.min_spacing_mm)
    moving = _coarsen(ct_image(prior_hu, prior_grid, params.hu_window), params.min_spacing_mm)

    rigid_method = _rigid_method(params)
    initial = sitk.CenteredTransformInitializer(fixed, moving, sitk.Euler3DTransform(), sitk.CenteredTransformInitializerFilter.GEOMETRY)
    rigid_method.SetInitialTransform(initial, inPlace=False)
    try:
        rigid = sitk.Euler3DTransform(rigid_method.Execute(fixed, moving).GetNthTransform(0))
    except RuntimeError as exc:
        raise GeometryError(f"rigid registration of the prior CT to the current CT failed: {str(exc).strip().splitlines()[-1]}") from exc
    rigid_metric = float(rigid_method.GetMetricValue())
    logger.info("rigid stage: metric %.4f after %d iterations", rigid_metric, rigid_method.GetOptimizerIteration())
    low = float(params.hu_window[0])
    warped = sitk.Resample(moving, fixed, rigid, sitk.sitkLinear, low)
    field = _demons(fixed, warped, params)
    seconds = time.perf_counter() - start
    logger.info("deformable registration (rigid + demons) in %.1f s", seconds)
    return ComputedRegistration(
        rigid=rigid, field=field, parameters=params, current_frame_uid=current_frame_uid, prior_frame_uid=prior_frame_uid,
        current_grid=current_grid, rigid_metric=rigid_metric, seconds=seconds,
    )


def to_deformable_registration(computed: ComputedRegistration) -> DeformableRegistration:
    """The DICOM form (registered = current, source = prior): pre identity, grid vectors d(p) sampled
    every ``grid_spacing_mm`` over the current CT, post the rigid matrix."""
    import SimpleITK as sitk

    grid = computed.current_grid
    step = computed.parameters.grid_spacing_mm
    (x0, x1), (y0, y1), (z0, z1) = grid.bounds_mm()
    origin = ds_exact(np.array([x0, y0, z0]) + step / 2)
    dims = [max(1, int(np.floor((hi - lo) / step))) for lo, hi in ((x0, x1), (y0, y1), (z0, z1))]
    field = sitk.TransformToDisplacementField(
        sitk.DisplacementFieldTransform(sitk.Image(computed.field)), sitk.sitkVectorFloat64, dims,
        [float(v) for v in origin], [step] * 3, (1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0),
    )
    vectors = sitk.GetArrayFromImage(field).astype(np.float32).astype(np.float64)  # as stored (32-bit floats)
    return DeformableRegistration(
        source_frame_uid=computed.prior_frame_uid,
        target_frame_uid=computed.current_frame_uid,
        pre_matrix=np.eye(4),
        post_matrix=ds_exact(computed.rigid_matrix()),
        origin_mm=(float(origin[0]), float(origin[1]), float(origin[2])),
        orientation=(1.0, 0.0, 0.0, 0.0, 1.0, 0.0),
        resolution_mm=(step, step, step),
        vectors_mm=vectors,
    )


def write_itk_transform(computed: ComputedRegistration, path: Path) -> Path:
    """Write the composite transform (current -> prior points) with ``SimpleITK.WriteTransform``
    (``.h5``: HDF5 holds the displacement field)."""
    import SimpleITK as sitk

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        sitk.WriteTransform(computed.composite(), str(path))
    except (OSError, RuntimeError) as exc:
        raise OutputError(f"cannot write the ITK transform {path}: {str(exc).strip().splitlines()[-1]}") from exc
    return path
