"""The dose samples of an ROI (:class:`DoseSamples`) and the volume at or above dose levels
(:func:`cumulative_volume`: the cumulative DVH before binning).

:func:`cumulative_volume` is exact (suffix sums over the levels). For equally spaced levels (DVH
bin edges) it counts the levels below each sample by arithmetic instead of a binary search,
correcting the counts of values within 1e-6 steps of a level. Measured with
benchmarks/dvh_fast_paths.py on the sample patient's External (178,246 samples, 5,554 levels 0.01
Gy apart): 3.1-4.0 ms against 14.6-15.0 ms with ``np.searchsorted`` (tests/test_dvh_fastpaths.py:
the same volumes both ways).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt

from dosimetry.dvh.endcaps import EndCapConvention
from dosimetry.errors import ArgumentError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class DoseSamples:
    """Dose samples (Gy) with the ROI volume (cc) each stands for and its dose spread (Gy).

    ``volume_cc`` is the ROI volume from its contours (end-cap convention applied);
    ``volume_in_grid_cc`` = sum of the weights; ``volume_outside_grid_cc`` the rest.
    """

    dose_gy: FloatArray
    weight_cc: FloatArray
    spread_gy: FloatArray
    volume_cc: float
    volume_in_grid_cc: float
    volume_outside_grid_cc: float
    end_cap: EndCapConvention
    supersample: int
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("dose_gy", "weight_cc", "spread_gy"):
            getattr(self, name).flags.writeable = False

    def volume_at_or_above(self, level_gy: float) -> float:
        """ROI volume (cc, inside the dose grid) receiving at least ``level_gy``."""
        return float(cumulative_volume(self, np.array([float(level_gy)]))[0])

    def volumes_at_or_above(self, levels_gy: npt.ArrayLike) -> FloatArray:
        """:meth:`volume_at_or_above` for several levels at once (any order), cc."""
        levels = np.asarray(levels_gy, dtype=np.float64).reshape(-1)
        order = np.argsort(levels)
        out = np.empty(levels.size)
        out[order] = cumulative_volume(self, levels[order])
        return out

    @cached_property
    def low_end_gy(self) -> FloatArray:
        """Lower end of each sample's dose interval, ``dose - spread / 2`` (read-only)."""
        ends = self.dose_gy - 0.5 * self.spread_gy
        ends.flags.writeable = False
        return ends

    @cached_property
    def high_end_gy(self) -> FloatArray:
        """Upper end of each sample's dose interval, ``dose + spread / 2`` (read-only)."""
        ends = self.dose_gy + 0.5 * self.spread_gy
        ends.flags.writeable = False
        return ends

    @cached_property
    def min_gy(self) -> float:
        return float(np.min(self.low_end_gy))

    @cached_property
    def max_gy(self) -> float:
        return float(np.max(self.high_end_gy))

    @cached_property
    def mean_gy(self) -> float:
        return float((self.dose_gy * self.weight_cc).sum() / self.weight_cc.sum())  # no BLAS threads


def cumulative_volume(
    samples: DoseSamples, levels_gy: FloatArray, *, total_cc: float | None = None, uniform_levels: bool = False
) -> FloatArray:
    """Volume (cc) with dose >= each level, for sorted increasing ``levels_gy``.

    Samples with a spread contribute ``w * clip((d + s/2 - L) / s, 0, 1)``, point samples
    ``w * [d >= L]``. Computed exactly with suffix sums over the levels. ``uniform_levels`` (equally
    spaced levels, as DVH bin edges) replaces the binary searches by arithmetic.
    """
    levels = np.asarray(levels_gy, dtype=np.float64)
    if uniform_levels and levels.size > 1:
        if not levels[1] > levels[0]:  # equally spaced: increasing iff the first step is positive
            raise ArgumentError("levels_gy must be sorted increasing")
    elif levels.size > 1 and np.any(np.diff(levels) < 0):
        raise ArgumentError("levels_gy must be sorted increasing")
    d, w, s = samples.dose_gy, samples.weight_cc, samples.spread_gy
    n = levels.size
    shift = float(levels[0]) if n else 0.0
    lv = levels - shift
    spread = s > 0
    out = np.zeros(n)
    step = float(levels[1] - levels[0]) if n > 1 else 0.0
    uniform = n > 2 and uniform_levels

    def count_below(
        values: FloatArray, inclusive: bool, shifted: FloatArray | None = None, exact: bool = True
    ) -> IntArray:
        """Number of levels < value (or <= value when inclusive), as searchsorted would give
        (``shifted``: ``values - shift`` when already computed). ``exact=False`` takes the
        arithmetic count as it is: a value within rounding (~1e-12 steps) of a level may then be
        counted on either side of it, which does not matter where the contribution is continuous
        in the value (the ends of a uniform interval add ``c * (p - L)``, 0 at ``p = L``)."""
        if not uniform:
            return np.searchsorted(levels, values, side="right" if inclusive else "left")
        position = values - shift if shifted is None else shifted.copy()
        position /= step
        floor = np.floor(position)
        guess = floor.astype(np.int64)
        guess += 1
        np.maximum(guess, 0, out=guess)
        np.minimum(guess, n, out=guess)
        if not exact:
            return guess
        # A value more than 1e-6 steps from every level is counted right by the arithmetic (the
        # levels and the position are off by rounding only, ~1e-12 steps); the guesses of the
        # others are corrected by one step either way against the levels themselves.
        position -= floor
        near = position < 1e-6
        near |= position > 1.0 - 1e-6
        # a value equal to the first level (typically 0 Gy) has exactly 1 level <= it, 0 below it
        first = values == shift
        near &= ~first
        guess[first] = 1 if inclusive else 0
        near_index = np.flatnonzero(near)
        if near_index.size:
            v = values[near_index]
            g = guess[near_index]
            probe_lo = levels[np.maximum(g - 1, 0)]
            below = (probe_lo > v) if inclusive else (probe_lo >= v)
            g = np.where((g > 0) & below, g - 1, g)
            probe_hi = levels[np.minimum(g, n - 1)]
            above = (probe_hi <= v) if inclusive else (probe_hi < v)
            guess[near_index] = np.where((g < n) & above, g + 1, g)
        return guess

    # Point samples: d >= L_i  <=>  i < (number of levels <= d).
    points = ~spread
    if np.any(points):
        b = count_below(d[points], inclusive=True)
        counts = np.bincount(b, weights=w[points], minlength=n + 1)
        out += np.cumsum(counts[::-1])[::-1][1:] if n else 0.0
    if np.any(spread):
        c = w[spread] / s[spread]
        for sign, p in ((1.0, samples.high_end_gy[spread]), (-1.0, samples.low_end_gy[spread])):
            # sum over p > L_i of c * (p - L_i)
            shifted = p - shift
            b = count_below(p, inclusive=False, shifted=shifted, exact=False)
            s0 = np.bincount(b, weights=c, minlength=n + 1)
            shifted *= c
            s1 = np.bincount(b, weights=shifted, minlength=n + 1)
            suf0 = np.cumsum(s0[::-1])[::-1][1:]
            suf1 = np.cumsum(s1[::-1])[::-1][1:]
            out += sign * (suf1 - lv * suf0)
    total = float(w.sum()) if total_cc is None else total_cc
    return np.minimum(np.maximum(out, 0.0), total)
