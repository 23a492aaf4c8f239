"""What a structure-set load gives, as one comparable value: the tests that check the raw-byte
reading paths of the RS reader against pydicom's path compare these."""

from __future__ import annotations

from collections.abc import Callable

from dosimetry.structures import StructureSet


def structure_set_summary(ss: StructureSet) -> tuple:  # type: ignore[type-arg]
    """Every ROI field, every contour's type, shape and point bytes, and the set's own fields."""
    rois = tuple(
        (r.number, r.name, r.interpreted_type, r.color_rgb, r.frame_of_reference_uid,
         tuple((c.geometric_type, c.points_mm.shape, c.points_mm.tobytes()) for c in r.contours))
        for r in ss.rois
    )
    return rois, ss.frame_of_reference_uid, ss.sop_instance_uid, ss.label, ss.referenced_series_uid, ss.warnings


def load_outcome(load: Callable[[], StructureSet]) -> tuple:  # type: ignore[type-arg]
    """``("ok", *summary)`` of what ``load`` returns, or ``("error", type name, message)``."""
    try:
        ss = load()
    except Exception as exc:  # noqa: BLE001 - the error itself is compared
        return ("error", type(exc).__name__, str(exc))
    return ("ok", *structure_set_summary(ss))
