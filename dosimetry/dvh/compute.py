"""Compute the DVH of an ROI on a dose grid."""

from __future__ import annotations

from dosimetry.dose import DoseGrid
from dosimetry.dvh.curve import Dvh, dvh_from_samples
from dosimetry.dvh.endcaps import EndCapConvention
from dosimetry.dvh.sampling import roi_dose_samples
from dosimetry.structures import Roi


def compute_dvh(
    dose: DoseGrid,
    roi: Roi,
    *,
    bin_width_gy: float = 0.01,
    end_cap: EndCapConvention | str = EndCapConvention.HALF_SLAB,
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
