"""Which warnings concern which ROI, so that a per-ROI output (a CSV row) carries every warning
that may change its numbers (issue 21 item 6).

A warning *names* an ROI when it holds ``ROI <number>`` (the structure-set reader's form, e.g. "ROI 3
... closed contour with 2 points ignored") or ``ROI '<name>'`` / ``ROI "<name>"`` (the DVH and
analysis form). A warning naming no ROI at all (dose file, alignment, structure set as a whole)
concerns every ROI. A warning naming only other ROIs concerns none of the given ones.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

_ANY_ROI = re.compile(r"\bROI (?:\d+\b|'[^']*'|\"[^\"]*\")")


def _names(warning: str, number: int, name: str) -> bool:
    if re.search(rf"\bROI {number}(?![\d.])", warning):
        return True
    return f"ROI {name!r}" in warning or f"ROI '{name}'" in warning or f'ROI "{name}"' in warning


def warnings_by_roi(rois: Sequence[tuple[int, str]], warnings: Iterable[str]) -> dict[int, list[str]]:
    """For each ``(number, name)`` of ``rois``: the warnings naming it, then those naming no ROI
    (module docstring), in their original order without repeats."""
    warnings = list(dict.fromkeys(warnings))
    general = [w for w in warnings if not _ANY_ROI.search(w)]
    result: dict[int, list[str]] = {}
    for number, name in rois:
        own = [w for w in warnings if w not in general and _names(w, number, name)]
        result[number] = own + general
    return result
