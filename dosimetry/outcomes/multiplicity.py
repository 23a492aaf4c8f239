"""Multiple-testing adjustment of p-values.

Holm (1979) step-down: with the m p-values sorted ascending ``p(1) <= ... <= p(m)``,
``adj(i) = max_{j <= i} min(1, (m - j + 1) p(j))``, returned in the input order. It controls the
family-wise error rate under any dependence between the tests (dosimetric metrics are strongly
correlated, so this is conservative). Computed by statsmodels' ``multipletests(method="holm")``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from dosimetry.errors import ArgumentError


def holm_adjust(p_values: Sequence[float]) -> tuple[float, ...]:
    """Holm-adjusted p-values in the order of ``p_values``."""
    for i, p in enumerate(p_values):
        if not (isinstance(p, (int, float)) and math.isfinite(p) and 0.0 <= p <= 1.0):
            raise ArgumentError(f"p-value #{i} is {p!r}; expected a number in [0, 1]")
    if not p_values:
        return ()
    from statsmodels.stats.multitest import multipletests

    adjusted = multipletests(list(p_values), method="holm")[1]
    return tuple(float(v) for v in adjusted)
