"""Compute the DVH of an ROI on a dose grid."""

from __future__ import annotations

from dataclasses import dataclass

from dosimetry.dose import DoseGrid
from dosimetry.dvh.curve import Dvh, dvh_from_samples
from dosimetry.dvh.endcaps import DEFAULT_END_CAP, EndCapConvention
from dosimetry.dvh.sampling import roi_dose_samples, roi_dose_samples_batch
from dosimetry.errors import GeometryError
from dosimetry.structures import Roi


def compute_dvh(
    dose: DoseGrid,
    roi: Roi,
    *,
    bin_width_gy: float = 0.01,
    end_cap: EndCapConvention | str = DEFAULT_END_CAP,
    supersample: int | None = None,
    spread: bool = True,
    single_plane_thickness_mm: float | None = None,
) -> Dvh:
    """DVH of ``roi`` in ``dose``: exact partial-volume occupancy, trilinear sub-voxel dose.

    See :mod:`dosimetry.dvh.sampling` for how the dose inside voxels is sampled and
    :mod:`dosimetry.dvh.endcaps` for ``end_cap``. Raises GeometryError when the ROI has no closed
    contours or no volume inside the dose grid.
    """
    samples = roi_dose_samples(
        dose,
        roi,
        end_cap=end_cap,
        supersample=supersample,
        spread=spread,
        single_plane_thickness_mm=single_plane_thickness_mm,
    )
    return dvh_from_samples(
        samples,
        roi_name=roi.name,
        roi_number=roi.number,
        bin_width_gy=bin_width_gy,
        dose_type=str(dose.dose_type),
    )


@dataclass(frozen=True, eq=False)
class BatchDvh:
    """Outcome of :func:`compute_dvhs` for one ROI: its DVH, or the GeometryError
    :func:`compute_dvh` raises for it (exactly one of the two is set)."""

    roi: Roi
    dvh: Dvh | None
    error: GeometryError | None


def compute_dvhs(
    dose: DoseGrid,
    rois: list[Roi] | tuple[Roi, ...],
    *,
    bin_width_gy: float = 0.01,
    end_cap: EndCapConvention | str = DEFAULT_END_CAP,
    supersample: int | None = None,
    spread: bool = True,
    single_plane_thickness_mm: float | None = None,
) -> tuple[BatchDvh, ...]:
    """:func:`compute_dvh` of several ROIs of one structure set on one dose grid, in their order,
    with the same numbers (tests/test_dvh_batch.py); the dose sampling of all ROIs' boundary pieces
    is done in one pass (:func:`~dosimetry.dvh.sampling.roi_dose_samples_batch`). An ROI without
    closed contours or without volume in the dose grid gets its GeometryError in ``error``; the
    others are computed all the same."""
    out = []
    for item in roi_dose_samples_batch(
        dose, rois, end_cap=end_cap, supersample=supersample, spread=spread,
        single_plane_thickness_mm=single_plane_thickness_mm,
    ):
        if item.samples is None:
            out.append(BatchDvh(item.roi, None, item.error))
            continue
        try:
            dvh = dvh_from_samples(
                item.samples,
                roi_name=item.roi.name,
                roi_number=item.roi.number,
                bin_width_gy=bin_width_gy,
                dose_type=str(dose.dose_type),
            )
        except GeometryError as exc:
            out.append(BatchDvh(item.roi, None, exc))
            continue
        out.append(BatchDvh(item.roi, dvh, None))
    return tuple(out)
