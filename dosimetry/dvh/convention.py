"""The end-cap convention names (:class:`EndCapConvention`) and the default (:data:`DEFAULT_END_CAP`).

What each convention means, and why SHAPE is the default, is in :mod:`dosimetry.dvh.endcaps`, which
re-exports both names. They live in this module of their own because it imports no numpy: the command
line resolves ``--end-cap``'s choices and default from here when it prints ``--help`` (issue 20: the
CLI's start-up under 0.15 s; importing numpy alone takes about 0.07 s).
"""

from __future__ import annotations

from enum import StrEnum

from dosimetry.errors import ArgumentError


class EndCapConvention(StrEnum):
    """How far the solid extends beyond its outermost contour planes (:mod:`dosimetry.dvh.endcaps`)."""

    HALF_SLAB = "half-slab"
    TRUNCATED = "truncated"
    SHAPE = "shape"

    @classmethod
    def parse(cls, text: str | EndCapConvention) -> EndCapConvention:
        if isinstance(text, EndCapConvention):
            return text
        try:
            return cls(str(text).strip().lower())
        except ValueError:
            raise ArgumentError(
                f"end-cap convention {text!r} is not one of {[c.value for c in cls]}"
            ) from None


#: The convention every ``end_cap`` argument, ``--end-cap`` option and analysis uses unless told
#: otherwise (why: :mod:`dosimetry.dvh.endcaps`).
DEFAULT_END_CAP = EndCapConvention.SHAPE
