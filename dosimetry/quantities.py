"""The closed vocabularies of what a dose number is.

* :class:`DoseQuantity`: the quantity a dose map or metric holds: the dose as planned
  (``physical``: physical dose in Gy, or RBE-weighted dose in Gy(RBE) for an EFFECTIVE RT Dose), or
  the linear-quadratic BED or EQD2 derived from it voxel by voxel.
* :class:`DoseBasis`: which dose a constraint is evaluated on: a quantity *and* the course(s) it
  comes from (``eqd2_cumulative`` = EQD2 of the current course plus the residual of the prior one).
  Its values are the ``quantity`` keys of protocol files and of results.json constraint rows.
"""

from __future__ import annotations

from enum import StrEnum

from dosimetry.errors import ArgumentError


class DoseQuantity(StrEnum):
    """The quantity a map holds: the planned (physical or RBE-weighted) dose, BED or EQD2."""

    PHYSICAL = "physical"
    BED = "BED"
    EQD2 = "EQD2"

    @classmethod
    def parse(cls, text: str | DoseQuantity) -> DoseQuantity:
        """The member named by ``text`` (case-insensitive), or an ArgumentError listing the choices."""
        if isinstance(text, DoseQuantity):
            return text
        for member in cls:
            if member.value.casefold() == str(text).strip().casefold():
                return member
        raise ArgumentError(f"quantity {text!r} is not one of {[m.value for m in cls]}")

    @property
    def is_lq(self) -> bool:
        """True for the linear-quadratic quantities (BED, EQD2)."""
        return self is not DoseQuantity.PHYSICAL


#: The quantities a linear-quadratic conversion can produce.
LQ_QUANTITIES: tuple[DoseQuantity, ...] = (DoseQuantity.BED, DoseQuantity.EQD2)


def lq_quantity(quantity: str | DoseQuantity, *, argument: str = "quantity") -> DoseQuantity:
    """``quantity`` as an LQ quantity (BED or EQD2); anything else is an ArgumentError naming ``argument``."""
    member = DoseQuantity.parse(quantity)
    if not member.is_lq:
        raise ArgumentError(f"{argument} must be one of {[q.value for q in LQ_QUANTITIES]} for an LQ map, got {member.value!r}")
    return member


class DoseBasis(StrEnum):
    """Which dose a constraint is evaluated on.

    * ``eqd2_cumulative``: EQD2 (alpha/beta 2 Gy unless stated) of the current course plus the
      residual fraction of the prior course - the quantity of the Emami checks;
    * ``eqd2_current`` / ``eqd2_prior``: EQD2 of one course;
    * ``dose_current`` / ``dose_prior``: the course's dose as planned (RBE-weighted for carbon ions,
      physical for photons), not converted.
    """

    EQD2_CUMULATIVE = "eqd2_cumulative"
    EQD2_CURRENT = "eqd2_current"
    EQD2_PRIOR = "eqd2_prior"
    DOSE_CURRENT = "dose_current"
    DOSE_PRIOR = "dose_prior"
