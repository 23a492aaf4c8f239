"""The dose quantities a constraint can be evaluated on."""

from __future__ import annotations

from enum import StrEnum


class Quantity(StrEnum):
    """Which dose map the samples come from.

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
