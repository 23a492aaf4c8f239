"""Dose distributions as value objects: a dose array in Gy on a :class:`RectilinearGrid`."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import numpy as np
import numpy.typing as npt

from dosimetry.errors import GeometryError
from dosimetry.grid import RectilinearGrid


class DoseType(StrEnum):
    """DICOM (3004,0004) DoseType."""

    PHYSICAL = "PHYSICAL"
    EFFECTIVE = "EFFECTIVE"  # RBE-weighted (GyE / Gy(RBE))
    ERROR = "ERROR"

    @property
    def unit_label(self) -> str:
        """The unit a dose of this type is labelled with: Gy(RBE) (the protocol's GyE) for RBE-weighted
        (EFFECTIVE) dose, Gy otherwise."""
        return "Gy(RBE)" if self is DoseType.EFFECTIVE else "Gy"

    @property
    def adjective(self) -> str:
        """``RBE-weighted`` for EFFECTIVE dose, ``physical`` otherwise (as titles and labels write it)."""
        return "RBE-weighted" if self is DoseType.EFFECTIVE else "physical"


class DoseSummationType(StrEnum):
    """DICOM (3004,000A) DoseSummationType."""

    PLAN = "PLAN"
    MULTI_PLAN = "MULTI_PLAN"
    PLAN_OVERVIEW = "PLAN_OVERVIEW"
    FRACTION = "FRACTION"
    BEAM = "BEAM"
    BRACHY = "BRACHY"
    FRACTION_SESSION = "FRACTION_SESSION"
    BEAM_SESSION = "BEAM_SESSION"
    BRACHY_SESSION = "BRACHY_SESSION"
    CONTROL_POINT = "CONTROL_POINT"
    RECORD = "RECORD"


@dataclass(frozen=True, eq=False)
class DoseGrid:
    """A 3-D dose distribution.

    ``dose_gy`` has axis order (z, y, x) matching ``grid``; values are Gy (GyE when
    ``dose_type`` is EFFECTIVE). The array is made read-only.
    """

    grid: RectilinearGrid
    dose_gy: npt.NDArray[np.float64]
    dose_type: DoseType
    summation_type: DoseSummationType
    frame_of_reference_uid: str
    sop_instance_uid: str = ""
    referenced_plan_uid: str | None = None
    referenced_beam_number: int | None = None
    description: str = ""
    source_path: Path | None = None
    warnings: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        given = self.dose_gy
        # A read-only float64 array that owns its data is kept as it is: its producer hands it over
        # (the RT Dose reader does; a copy of a clinical-size grid is 84 MB and 0.1-0.3 s of page
        # faults). Any other array is copied, so changing it later does not change this grid.
        handed_over = (
            isinstance(given, np.ndarray) and given.dtype == np.float64 and given.base is None
            and given.flags.c_contiguous and not given.flags.writeable
        )
        array = given if handed_over else np.array(given, dtype=np.float64)
        if array.shape != self.grid.shape_zyx:
            raise GeometryError(
                f"dose array shape {array.shape} does not match grid shape (z, y, x) {self.grid.shape_zyx}"
                + (f" in {self.source_path}" if self.source_path else "")
            )
        if not np.all(np.isfinite(array)):
            raise GeometryError(
                "dose array contains non-finite values" + (f" in {self.source_path}" if self.source_path else "")
            )
        array.flags.writeable = False
        object.__setattr__(self, "dose_gy", array)

    @property
    def max_gy(self) -> float:
        return float(self.dose_gy.max())

    def with_dose(self, dose_gy: npt.NDArray[np.float64], *, description: str, dose_type: DoseType | None = None) -> DoseGrid:
        """A new DoseGrid on the same grid with other values (no SOP Instance UID: it is a new object)."""
        return DoseGrid(
            grid=self.grid,
            dose_gy=dose_gy,
            dose_type=self.dose_type if dose_type is None else dose_type,
            summation_type=self.summation_type,
            frame_of_reference_uid=self.frame_of_reference_uid,
            sop_instance_uid="",
            referenced_plan_uid=self.referenced_plan_uid,
            description=description,
            source_path=None,
            warnings=self.warnings,
        )
