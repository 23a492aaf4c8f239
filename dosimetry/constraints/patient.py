"""What the constraint checks need to know about a patient's ROIs before any dose is read.

* :func:`needed_rois`: which ROIs need a DVH on which :class:`DoseBasis` (every organ on the Emami
  quantity; the ROIs a protocol constraint names, on that constraint's quantity);
* :func:`organ_extents`: the organ sizes along Emami's special axes (the spinal cord's contoured
  length), from the contours.

Used by ``dosimetry check`` and ``dosimetry analyze`` (through
:func:`dosimetry.patient.checks.constraint_report`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from dosimetry.constraints.evaluate import EMAMI_QUANTITY, OrganExtent
from dosimetry.constraints.naming import NameMapper, RoiCategory
from dosimetry.constraints.protocol import Protocol
from dosimetry.quantities import DoseBasis
from dosimetry.constraints.tables import VolumeAxis, load_emami
from dosimetry.structures import Roi

LENGTH_SOURCE = "contoured length: contour-plane span plus one plane spacing"


def needed_rois(
    roi_names: Iterable[str], mapper: NameMapper, protocol: Protocol | None, *, emami_quantity: DoseBasis = EMAMI_QUANTITY
) -> dict[DoseBasis, set[str]]:
    """ROI names per quantity that the Emami checks and ``protocol`` will look at (Emami quantity first)."""
    mappings = mapper.map_all(list(dict.fromkeys(roi_names)))
    needed: dict[DoseBasis, set[str]] = {emami_quantity: {m.roi_name for m in mappings if m.category is RoiCategory.ORGAN}}
    if protocol is not None:
        for item in protocol.constraints:
            key = mapper.map(item.structure).match_key
            needed.setdefault(item.quantity, set()).update(m.roi_name for m in mappings if m.match_key == key)
    return needed


def contoured_length_cm(roi: Roi) -> float | None:
    """Contoured length along z: span of the contour planes plus one plane spacing (cm); None below 2 planes."""
    planes = roi.contour_planes_mm()
    if planes.size < 2:
        return None
    spacing = float(np.median(np.diff(planes)))
    return (float(planes[-1] - planes[0]) + spacing) / 10.0


def organ_extents(rois: Mapping[str, Roi], mapper: NameMapper) -> dict[str, OrganExtent]:
    """Per ROI name, the extent of organs whose Emami tolerances are per length (cm)."""
    length_organs = {e.organ for e in load_emami().entries if e.axis is VolumeAxis.LENGTH_CM}
    extents: dict[str, OrganExtent] = {}
    for mapping in mapper.map_all(list(rois)):
        if mapping.organ in length_organs:
            length = contoured_length_cm(rois[mapping.roi_name])
            if length is not None:
                extents[mapping.roi_name] = OrganExtent(length_cm=length, source=LENGTH_SOURCE)
    return extents
