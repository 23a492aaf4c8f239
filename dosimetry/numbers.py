"""How the package prints numbers that are compared with published tables.

One rule, :func:`round_half_up`: decimal half-up rounding of the number's shortest repr, the way
printed tables round (the protocol's Table 1 prints BED2 146.25 GyE as 146.3; Python's ``round``
and ``format`` round half to even on the binary value and would print 146.2).
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

from dosimetry.errors import ArgumentError

#: Decimals of the protocol's Table 1 (total dose, BED2, BED9, and the EQD2 columns shown beside them).
TABLE1_DECIMALS = 1


def round_half_up(value: float, decimals: int) -> str:
    """``value`` rounded half-up to ``decimals`` places, as text (``round_half_up(146.25, 1) == "146.3"``)."""
    if not math.isfinite(value):
        raise ArgumentError(f"round_half_up: expected a finite number, got {value!r}")
    quantum = Decimal(1).scaleb(-decimals)
    return str(Decimal(repr(float(value))).quantize(quantum, rounding=ROUND_HALF_UP))


def table1_cell(value_gy: float) -> str:
    """A dose cell of the protocol's Table 1 (and of ``dosimetry schedule``): half-up to 0.1 Gy."""
    return round_half_up(value_gy, TABLE1_DECIMALS)
