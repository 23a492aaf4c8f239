"""Dose samples with volume weights inside an ROI: the input of the DVH and of isodose volumes.

Dose model. Dose values of an RT Dose grid are defined at voxel centres; between centres the dose
is the trilinear interpolant (outside the outermost centres it is held constant). This one field
is the dose of every ROI: a voxel's dose distribution does not depend on which ROI it is
evaluated for. An ROI is sampled as follows:

* boundary voxels (the ROI boundary crosses them) are split into ``n x n`` fine pixels in plane
  (``n`` from :func:`auto_supersample`: even, sub-pixels of at most ~1.5 mm) and, in z, into
  pieces cut at the voxel-centre plane and at the ROI's contour-slab boundaries, so that each
  piece lies in one slab and in one cell of the trilinear interpolant; each covered piece gives
  one sample at the centroid of its covered part (exact polygon moments,
  :mod:`dosimetry.dvh.planar`) with the trilinear dose there, weighted by its exact covered volume;
  a fine pixel that every piece of a half-voxel (edge to centre plane) covers entirely gives one
  sample for the whole half instead, whatever the ROI's slabs;
* interior voxels (entirely inside the ROI) where the dose is steep, i.e. the 27 voxel-centre
  doses around the voxel span more than ``STEEP_FRACTION`` (10 %) of the grid's largest absolute
  dose, are sub-sampled the same way without reference to the ROI (n x n fine pixels x the two
  halves of the voxel in z). The criterion depends on the dose grid only, so a steep voxel gives
  the same samples to every ROI that covers it, the same as the whole fine pixels of a boundary
  voxel there, and the part of it inside a target gives the sub-samples the External has there;
* other interior voxels give one sample: the mean of the trilinear dose over the voxel (a
  separable [1, 6, 1] / 8 filter on a uniform axis), weight = voxel volume.

Each sample also carries a dose *spread*: the dose over the covered part of its (sub-)voxel is
taken as uniformly distributed over ``[dose - spread/2, dose + spread/2]`` with ``spread =
sqrt(12 var)``, ``var = sum_i g_i^2 var_i`` (``g`` the local dose gradient, trilinear for pieces,
central differences for whole voxels; ``var_i`` the variance of coordinate i over the covered
part; h^2/12 for a full box of edge h). For a linear dose along one axis over a box this is exact
(the dose is then uniform between the face values); otherwise it matches the variance. The
interval is narrowed, keeping its centre, to the range of the voxel-centre doses the trilinear
dose over that box is made of (the 27 around a whole voxel; for a piece or a sub-voxel the 8
corners of the interpolation cell holding it, since with an even ``n`` every fine pixel lies in
one cell; with an odd ``n``, every node bracketing its fine pixel), so no sample reaches below the
grid's minimum (below 0 Gy next to a 0 Gy region) or above its maximum; this holds in floating
point (:func:`_clipped_spread`). (Until 2026-11-26 a piece's range came from the nodes bracketing a
fine-pixel-sized box around its centroid, which could reach past its cell and then skipped the
node in the middle: a piece beside a local dose minimum or maximum on a voxel-centre plane was
moved to the wrong side of it, 4-13 % in the mean of a small box, tests/test_dvh_local_extrema.py.) This removes the staircase a
point-sampled DVH shows when a voxel spans several bins, without the cost of sampling every voxel
finely.

Measured (benchmarks/dvh_vs_dicompyler.py and tests/test_dvh_consistency.py): on the 180
analytic phantom cases the worst errors are 0.001 % in volume and 0.086 % of the dose span for
Mean, D99, D95, D5 and D1 (unchanged by the single dose model). On the sample patient, mean, D2 %
and D98 % of the chiasm, an optic nerve and the PTV agree with a 0.2 mm brute-force lattice of
the trilinear dose within 0.03 Gy (the previous model was 4.1 Gy off in the chiasm's D2 %, 3.7 Gy
in the right optic nerve's, 0.7 Gy in the PTV's D98 %). An isodose sphere inside a spherical target on a 3 mm grid (quadratic dose
falloff) has the same volume from the target's samples and from the External's within 0.07 %
(previously 6-9 % apart: interior voxels were sampled at their centre, boundary voxels with the
trilinear dose), both within 0.3 % of the exact isodose volume of the interpolated dose; on a
1.5 mm grid n = 2 gives 0.04 % where n = 1 gave 0.26 %. Residual differences come from the
uniform shape given to the dose over a partly covered fine pixel. On the sample patient, mean
doses of the small optic ROIs in steep gradients move by up to 0.7 Gy against the previous model
(the z profile is now integrated as the trilinear interpolant instead of taken at the voxel
centre); n = 2, 4 and 6 then agree within 0.001 Gy. Sub-sampling every interior voxel instead of
the steep ones only changes no mean dose, D98 % by at most 0.004 Gy and D2 % by at most 0.016 Gy
on the sample patient (10 %: 0.15 s for all ROIs; 5 %: 0.19 s; all voxels: 0.34 s).

Speed. Everything that depends on the dose grid only is computed once per grid and shared by all
ROIs (weak-keyed on the :class:`~dosimetry.dose.DoseGrid`): voxel statistics, the interior samples
and steep mask, the steep voxels' sub-samples (for an even ``n`` as fixed weights of each voxel's
27-neighbourhood, :func:`_steep_samples_in_cells`), and per interpolation cell the minimum and
maximum of its 8 corner doses (:func:`_cell_range`). Boundary pieces on the same dose slice and
contour plane share one coverage lookup (:func:`_piece_samples`). The hot arithmetic
works in place on few temporaries; each speed path computes the same numbers as the plain formula
(tests/test_dvh_fastpaths.py; ``benchmarks/dvh_vs_dicompyler.py --check-reference`` compares every
ROI's volume, mean, min, max, median, D2/D50/D98 % of a patient set before and after a change).

:func:`roi_dose_samples_batch` (used by :func:`~dosimetry.dvh.compute.compute_dvhs` and ``dosimetry
dvh``) samples the dose at the boundary pieces of all ROIs of a structure set in one pass; that step
is element by element, so each ROI gets exactly the samples :func:`roi_dose_samples` gives it
(tests/test_dvh_batch.py). Measured A/B in one process on the sample set (2026-11-26): no faster
than one call per ROI (the concatenated pieces leave the cache; one-pass DVH curves were tried and
were slower, 20 vs 8.8 ms, so curves stay per ROI).
"""

from __future__ import annotations

import logging
import math
import weakref
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt

from dosimetry.dose import DoseGrid
from dosimetry.dvh.endcaps import EndCapConvention, SlabStack
from dosimetry.dvh.geometry import RoiGeometry
from dosimetry.dvh.planar import EdgePieces, edge_pieces
from dosimetry.dvh.rasterise import COVERAGE_TOLERANCE, SNAP, fine_window, geometry_for_grid, irregular_coverage_warning
from dosimetry.errors import ArgumentError, GeometryError
from dosimetry.grid import RectilinearGrid
from dosimetry.structures import Roi

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
logger = logging.getLogger(__name__)

#: Target sub-voxel edge length (mm) of the automatic supersampling factor.
AUTO_SUBVOXEL_MM = 1.5
#: Bounds of the automatic supersampling factor (even, see :func:`auto_supersample`).
AUTO_MIN, AUTO_MAX = 2, 4
#: Largest supersampling factor accepted when asked for (n^2 fine pixels per boundary voxel and z
#: piece: 99 ran out of memory on the sample patient's External; 8 is 4x finer than the automatic one
#: on a 3 mm grid).
MAX_SUPERSAMPLE = 8


#: Interior voxels whose 27 surrounding voxel-centre doses span more than this fraction of the
#: grid's largest absolute dose are sub-sampled like boundary voxels (see the module docstring).
STEEP_FRACTION = 0.1


_MAX_ABS_GY: weakref.WeakKeyDictionary[DoseGrid, float] = weakref.WeakKeyDictionary()


def steep_threshold_gy(dose: DoseGrid) -> float:
    """Dose range (Gy) above which an interior voxel counts as steep: depends on the dose only."""
    largest = _MAX_ABS_GY.get(dose)
    if largest is None:
        largest = float(np.max(np.abs(dose.dose_gy), initial=0.0))
        _MAX_ABS_GY[dose] = largest
    return STEEP_FRACTION * largest


def auto_supersample(grid: RectilinearGrid) -> int:
    """Fine pixels per axis for sub-sampled voxels: the smallest even number giving sub-pixels of
    at most ~1.5 mm, between 2 and 4. Even, so that every fine pixel lies within one cell of the
    trilinear interpolant (whose kinks are the voxel-centre lines): the uniform-spread model of a
    sample is then exact for its linear part and a voxel's samples do not depend on which ROI
    covers it (an odd n, accepted when asked for, puts the kink inside the middle fine pixel)."""
    largest = max(grid.spacing_x_mm, grid.spacing_y_mm, float(grid.slice_thickness_mm.max()))
    even = 2 * math.ceil(largest / (2 * AUTO_SUBVOXEL_MM) - 1e-9)
    return int(min(max(even, AUTO_MIN), AUTO_MAX))


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
        near = np.flatnonzero(near)
        if near.size:
            v = values[near]
            g = guess[near]
            probe_lo = levels[np.maximum(g - 1, 0)]
            below = (probe_lo > v) if inclusive else (probe_lo >= v)
            g = np.where((g > 0) & below, g - 1, g)
            probe_hi = levels[np.minimum(g, n - 1)]
            above = (probe_hi <= v) if inclusive else (probe_hi < v)
            guess[near] = np.where((g < n) & above, g + 1, g)
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


_AXIS_STEPS: weakref.WeakKeyDictionary[DoseGrid, tuple[float, float, float]] = weakref.WeakKeyDictionary()


def _axis_steps(dose: DoseGrid) -> tuple[float, float, float]:
    """:func:`_uniform_step` of the z, y and x axes of a dose grid, computed once per grid."""
    steps = _AXIS_STEPS.get(dose)
    if steps is None:
        grid = dose.grid
        steps = (_uniform_step(grid.z_mm), _uniform_step(grid.y_mm), _uniform_step(grid.x_mm))
        _AXIS_STEPS[dose] = steps
    return steps


def _uniform_step(coords: FloatArray) -> float:
    """The spacing of equally spaced ``coords`` (to 1e-9 relative), else 0."""
    if coords.size < 2:
        return 0.0
    steps = np.diff(coords)
    step = float(steps.mean())
    return step if step > 0 and float(np.abs(steps - step).max()) <= 1e-9 * step else 0.0


def trilinear(dose: DoseGrid, x_mm: FloatArray, y_mm: FloatArray, z_mm: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Trilinear dose at points and its gradient (Gy/mm) along x, y, z.

    Points beyond the outermost voxel centres get the value at the nearest centre plane (and a
    zero gradient along that axis). At a voxel centre the gradient is that of the cell on the
    positive side.
    """
    value, gx, gy, gz, _, _ = _trilinear_cells(dose, x_mm, y_mm, z_mm)
    return value, gx, gy, gz


@dataclass(frozen=True, eq=False)
class _GridTables:
    """Per dose grid: the flat-index offsets of a cell's +x, +y, +z corners and, for every cell
    (indexed by its lowest corner), the minimum and maximum of its 8 corner doses."""

    offsets: tuple[int, int, int]
    cell_min: FloatArray
    cell_max: FloatArray


_GRID_TABLES: weakref.WeakKeyDictionary[DoseGrid, _GridTables] = weakref.WeakKeyDictionary()


def _grid_tables(dose: DoseGrid) -> _GridTables:
    tables = _GRID_TABLES.get(dose)
    if tables is None:
        nz, ny, nx = dose.grid.shape_zyx
        lo = dose.dose_gy.copy()
        hi = dose.dose_gy.copy()
        for axis, m in enumerate((nz, ny, nx)):
            if m < 2:
                continue
            head = [slice(None)] * 3
            tail = [slice(None)] * 3
            head[axis], tail[axis] = slice(None, -1), slice(1, None)
            # (the last plane is never a cell's lowest corner: left as it is)
            np.minimum(lo[tuple(head)], lo[tuple(tail)], out=lo[tuple(head)])
            np.maximum(hi[tuple(head)], hi[tuple(tail)], out=hi[tuple(head)])
        offsets = (1 if nx > 1 else 0, nx if ny > 1 else 0, nx * ny if nz > 1 else 0)
        tables = _GridTables(offsets, np.ascontiguousarray(lo).reshape(-1), np.ascontiguousarray(hi).reshape(-1))
        tables.cell_min.flags.writeable = False
        tables.cell_max.flags.writeable = False
        _GRID_TABLES[dose] = tables
    return tables


def _trilinear_cells(
    dose: DoseGrid, x_mm: FloatArray, y_mm: FloatArray, z_mm: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, IntArray, tuple[IntArray, IntArray, IntArray]]:
    """:func:`trilinear` plus, per point, the flat index of its cell's lowest corner and the cell's
    lowest-corner index along z, y and x."""
    grid = dose.grid
    parts = []
    for coords, p, step in zip((grid.z_mm, grid.y_mm, grid.x_mm), (z_mm, y_mm, x_mm), _axis_steps(dose), strict=True):
        m = coords.size
        if m == 1:
            parts.append((np.zeros(p.size, np.int64), np.zeros(p.size), np.zeros(p.size)))
            continue
        if step:  # arithmetic instead of a binary search (x and y are always uniform)
            f = np.subtract(p, coords[0])
            f *= 1.0 / step
            np.maximum(f, 0.0, out=f)
            np.minimum(f, m - 1.0, out=f)
        else:
            f = np.interp(p, coords, np.arange(m, dtype=np.float64))
        i0 = f.astype(np.int64)
        np.minimum(i0, m - 2, out=i0)
        t = np.subtract(f, i0, out=f)
        if step:
            inside = p > coords[0]
            inside &= p < coords[-1]
            inv = np.where(inside, 1.0 / step, 0.0)
        else:
            inv = np.where((p > coords[0]) & (p < coords[-1]), 1.0 / (coords[i0 + 1] - coords[i0]), 0.0)
        parts.append((i0, t, inv))
    (z0, tz, iz), (y0, ty, iy), (x0, tx, ix) = parts
    flat = dose.dose_gy.reshape(-1)
    _, ny, nx = grid.shape_zyx
    ox, oy, oz = _grid_tables(dose).offsets
    base = (z0 * ny + y0) * nx + x0
    c000 = flat.take(base)
    c001 = flat.take(base + ox)
    c010 = flat.take(base + oy)
    c011 = flat.take(base + (oy + ox))
    c100 = flat.take(base + oz)
    c101 = flat.take(base + (oz + ox))
    c110 = flat.take(base + (oz + oy))
    c111 = flat.take(base + (oz + oy + ox))
    # interpolate along x, then y, then z (differences shared with the gradient); in place, the
    # same operations in the same order as the plain formulas
    ax00 = np.subtract(c001, c000, out=c001)
    ax01 = np.subtract(c011, c010, out=c011)
    ax10 = np.subtract(c101, c100, out=c101)
    ax11 = np.subtract(c111, c110, out=c111)
    c00 = np.multiply(tx, ax00)
    c00 += c000
    c01 = np.multiply(tx, ax01)
    c01 += c010
    c10 = np.multiply(tx, ax10)
    c10 += c100
    c11 = np.multiply(tx, ax11)
    c11 += c110
    ay0 = np.subtract(c01, c00, out=c01)
    ay1 = np.subtract(c11, c10, out=c11)
    c0 = np.multiply(ty, ay0, out=c000)
    c0 += c00
    c1 = np.multiply(ty, ay1, out=c010)
    c1 += c10
    az = np.subtract(c1, c0, out=c1)
    value = np.multiply(tz, az, out=c00)
    value += c0
    gz = np.multiply(az, iz, out=az)
    omz = np.subtract(1, tz, out=c10)
    omy = np.subtract(1, ty, out=c100)
    gy = np.multiply(omz, ay0, out=ay0)
    gy += np.multiply(tz, ay1, out=ay1)
    gy *= iy
    dx0 = np.multiply(omy, ax00, out=ax00)
    dx0 += np.multiply(ty, ax01, out=ax01)
    dx1 = np.multiply(omy, ax10, out=ax10)
    dx1 += np.multiply(ty, ax11, out=ax11)
    gx = np.multiply(omz, dx0, out=dx0)
    gx += np.multiply(tz, dx1, out=dx1)
    gx *= ix
    return value, gx, gy, gz, base, (z0, y0, x0)


def _bracket(dose: DoseGrid, centre_mm: tuple[FloatArray, FloatArray, FloatArray], half_mm: tuple[float, float, FloatArray | float]) -> list[tuple[IntArray, IntArray]]:
    """Per axis (z, y, x): the first and last voxel-centre index bracketing each box."""
    grid = dose.grid
    idx = []
    for coords, p, h, step in zip(
        (grid.z_mm, grid.y_mm, grid.x_mm), centre_mm[::-1], half_mm[::-1], _axis_steps(dose), strict=True
    ):
        m = coords.size
        if step:  # rounding can only widen the bracket by one node, never narrow it
            lo = np.subtract(p, h)
            lo -= coords[0]
            lo *= 1.0 / step
            np.floor(lo, out=lo)
            np.maximum(lo, 0, out=lo)
            np.minimum(lo, m - 1, out=lo)
            hi = np.add(p, h)
            hi -= coords[0]
            hi *= 1.0 / step
            np.ceil(hi, out=hi)
            np.maximum(hi, 0, out=hi)
            np.minimum(hi, m - 1, out=hi)
            lo = lo.astype(np.int64)
            hi = hi.astype(np.int64)
        else:
            lo = np.maximum(np.searchsorted(coords, p - h, side="right") - 1, 0)
            hi = np.minimum(np.searchsorted(coords, p + h, side="left"), m - 1)
        idx.append((lo, hi))
    return idx


def _box_range(
    dose: DoseGrid, centre_mm: tuple[FloatArray, FloatArray, FloatArray], half_mm: tuple[float, float, FloatArray | float]
) -> tuple[FloatArray, FloatArray]:
    """Minimum and maximum of the voxel-centre doses at every node of the bracket of each box
    (x, y, z centre +- half extent; all nodes from the first to the last bracketing one on every
    axis): the trilinear dose over the box stays within them."""
    return _corner_range(dose, _bracket(dose, centre_mm, half_mm))


def _corner_range(dose: DoseGrid, idx: list[tuple[IntArray, IntArray]]) -> tuple[FloatArray, FloatArray]:
    """Minimum and maximum of the doses at every node of the index boxes ``idx`` (per axis z, y, x
    the first and last index, see :func:`_bracket`), nodes strictly between them included."""
    flat = dose.dose_gy.reshape(-1)
    _, ny, nx = dose.grid.shape_zyx
    nodes = []
    for lo, hi in idx:
        width = int(np.max(hi - lo, initial=0))
        nodes.append([lo] + [np.minimum(lo + step, hi) for step in range(1, width + 1)])
    rows = [(a * ny + b) * nx for a in nodes[0] for b in nodes[1]]
    corners = [flat[r + c] for r in rows for c in nodes[2]]
    return np.minimum.reduce(corners), np.maximum.reduce(corners)


def _cell_range(
    dose: DoseGrid, centre_mm: tuple[FloatArray, FloatArray, FloatArray], base: IntArray, cell: tuple[IntArray, IntArray, IntArray]
) -> tuple[FloatArray, FloatArray]:
    """Minimum and maximum of the corner doses of the interpolation cell holding each point
    (``base``, ``cell``: from :func:`_trilinear_cells`), from the per-grid table; along an axis
    where the point lies at or beyond the outermost centre plane (the dose is held constant
    there) only that plane's nodes count. The range of the trilinear dose over any box inside
    that cell."""
    tables = _grid_tables(dose)
    lo = tables.cell_min.take(base)
    hi = tables.cell_max.take(base)
    grid = dose.grid
    axes = list(zip((grid.z_mm, grid.y_mm, grid.x_mm), centre_mm[::-1], cell, strict=True))
    beyond = None
    for coords, p, _ in axes:
        if coords.size > 1:
            out = (p <= coords[0]) | (p >= coords[-1])
            beyond = out if beyond is None else beyond | out
    rows = np.flatnonzero(beyond) if beyond is not None else np.zeros(0, dtype=np.int64)
    if rows.size:
        idx = []
        for coords, p, first in axes:
            p_rows, first_rows = p[rows], first[rows]
            if coords.size == 1:
                idx.append((first_rows, first_rows))
                continue
            low = p_rows <= coords[0]
            high = p_rows >= coords[-1]
            idx.append((np.where(high, coords.size - 1, first_rows), np.where(low, 0, np.where(high, coords.size - 1, first_rows + 1))))
        lo[rows], hi[rows] = _corner_range(dose, idx)
    return lo, hi


def _sample_dose(
    dose: DoseGrid, centre_mm: tuple[FloatArray, FloatArray, FloatArray], half_mm: tuple[float, float, FloatArray | float]
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """:func:`trilinear` at the box centres and :func:`_box_range` of the boxes (value, gx, gy, gz,
    lo, hi). Where a box's bracketing nodes are the corners of the centre's own interpolation
    cell (almost always: boxes lie within one cell), the range comes from a per-grid table of cell
    minima and maxima; the same numbers as :func:`_box_range`."""
    value, gx, gy, gz, base, cell = _trilinear_cells(dose, *centre_mm)
    idx = _bracket(dose, centre_mm, half_mm)
    shape = dose.grid.shape_zyx
    same = None
    for (lo_i, hi_i), first, m in zip(idx, cell, shape, strict=True):
        if m == 1:
            continue
        axis_same = (lo_i == first) & (hi_i == first + 1)
        same = axis_same if same is None else same & axis_same
    tables = _grid_tables(dose)
    if same is None:  # a single voxel: every bracket is that node
        return value, gx, gy, gz, *_corner_range(dose, idx)
    lo = tables.cell_min.take(base)
    hi = tables.cell_max.take(base)
    other = np.flatnonzero(~same)
    if other.size:
        lo_o, hi_o = _corner_range(dose, [(a[other], b[other]) for a, b in idx])
        lo[other] = lo_o
        hi[other] = hi_o
    return value, gx, gy, gz, lo, hi


def _clipped_spread(value: FloatArray, spread: FloatArray, lo: FloatArray, hi: FloatArray) -> FloatArray:
    """Spread reduced, keeping its centre, so that the interval stays within [lo, hi].

    ``value`` must lie within [lo, hi]. The result satisfies ``value - s/2 >= lo`` and
    ``value + s/2 <= hi`` in floating point, not only in exact arithmetic.
    """
    room = np.subtract(value, lo)
    np.minimum(room, np.subtract(hi, value), out=room)
    half = np.multiply(spread, 0.5)
    np.minimum(half, room, out=half)
    np.maximum(half, 0.0, out=half)
    for _ in range(4):  # rounding of value -/+ half: shrink by one ulp where it crosses a bound
        bad = (value - half < lo) | (value + half > hi)
        if not np.any(bad):
            break
        half = np.where(bad, np.nextafter(half, 0.0), half)
    else:
        half = np.where((value - half < lo) | (value + half > hi), 0.0, half)
    return 2.0 * half


@dataclass(frozen=True, eq=False)
class _PlaneStats:
    """Coverage of all planes of an ROI on its window: per plane and coarse voxel whether it is
    full / touched (shape (planes, ny, nx)), and the edge pieces on the fine grid (planes stacked
    along the rows) for exact moments of any fine pixel."""

    full: npt.NDArray[np.bool_]
    any: npt.NDArray[np.bool_]
    fine: EdgePieces
    fine_rows: int
    irregular_planes_mm: tuple[float, ...]


def _plane_stats(
    geometry: RoiGeometry, origin_mm: tuple[float, float], coarse_mm: tuple[float, float], shape: tuple[int, int], n: int
) -> _PlaneStats:
    ny, nx = shape
    dx, dy = coarse_mm
    xs, ys, signs, layers, senses = [], [], [], [], []
    for p, section in enumerate(geometry.sections):
        for (x, y), sign in zip(section.polygons, section.signs, strict=True):
            xs.append(x)
            ys.append(y)
            signs.append(float(sign))
            layers.append(p)
        senses.extend(section.orientations)
    n_planes = len(geometry.sections)
    # all polygons scaled to fine-pixel units at once ((x - origin) / spacing * n, as per polygon)
    split = np.cumsum([x.size for x in xs])[:-1]
    u_all = (np.concatenate(xs) - origin_mm[0]) / dx
    u_all *= n
    v_all = (np.concatenate(ys) - origin_mm[1]) / dy
    v_all *= n
    fine_polys = list(zip(np.split(u_all, split), np.split(v_all, split), strict=True))
    fine = edge_pieces(
        fine_polys, signs, nx * n, ny * n, moments=True, layers=layers, n_layers=n_planes, orientations=senses
    )
    area = fine.coarse_area(n).reshape(n_planes, ny, nx)
    per_plane = area.reshape(n_planes, -1)
    outside = (np.minimum(per_plane.min(axis=1), 0.0) < -COVERAGE_TOLERANCE) | (
        np.maximum(per_plane.max(axis=1), 0.0) > 1 + COVERAGE_TOLERANCE
    )
    irregular = tuple(geometry.sections[p].z_mm for p in np.flatnonzero(outside))
    return _PlaneStats(
        full=area >= 1.0 - SNAP,
        any=area > SNAP,
        fine=fine,
        fine_rows=ny * n,
        irregular_planes_mm=irregular,
    )


_VOXEL_STATS: weakref.WeakKeyDictionary[DoseGrid, tuple[FloatArray, FloatArray, FloatArray, FloatArray]] = (
    weakref.WeakKeyDictionary()
)


def _voxel_stats(dose: DoseGrid) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """:func:`_block_voxel_stats` of the whole grid, computed once per dose grid (its dose array is
    read-only) and shared by all ROIs sampled on it."""
    cached = _VOXEL_STATS.get(dose)
    if cached is None:
        nz, ny, nx = dose.grid.shape_zyx
        cached = _block_voxel_stats(dose, (0, nz), (0, ny), (0, nx), True)
        for array in cached:
            array.flags.writeable = False
        _VOXEL_STATS[dose] = cached
    return cached


@dataclass(frozen=True, eq=False)
class _InteriorSamples:
    """Per dose grid: the one-sample model of every voxel (trilinear voxel mean, its spread clipped
    to the 27-neighbourhood range) and whether the voxel is steep (see the module docstring). The
    clipping is element by element, so computing it for the whole grid once gives every ROI the
    numbers it would compute for its own voxels."""

    dose_gy: FloatArray
    spread_gy: FloatArray
    steep: npt.NDArray[np.bool_]


_INTERIOR: weakref.WeakKeyDictionary[DoseGrid, _InteriorSamples] = weakref.WeakKeyDictionary()


def _interior_samples(dose: DoseGrid) -> _InteriorSamples:
    cached = _INTERIOR.get(dose)
    if cached is None:
        centre, raw, lo, hi = _voxel_stats(dose)
        steep = hi - lo
        cached = _InteriorSamples(centre, _clipped_spread(centre, raw, lo, hi), steep > steep_threshold_gy(dose))
        cached.spread_gy.flags.writeable = False
        cached.steep.flags.writeable = False
        _INTERIOR[dose] = cached
    return cached


def _block_voxel_stats(
    dose: DoseGrid, k_range: tuple[int, int], j_range: tuple[int, int], i_range: tuple[int, int], spread: bool
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Over a block of voxels: the mean of the trilinear dose over each voxel, the spread
    sqrt(sum (g_i h_i)^2) from central differences (one-sided at the grid border), and the minimum
    and maximum of the 27 voxel-centre doses around each voxel (the trilinear dose over the voxel
    stays within them).

    The trilinear dose is a tensor product of piecewise-linear functions, so its voxel mean is a
    separable filter: along each axis ``d + (w_+ (d_+ - d) + w_- (d_- - d)) / 4`` with ``w_+-`` the
    fractions of the voxel on either side of its centre (1/2 each on a uniform axis); beyond the
    outermost centres the dose is held, which repeating the border value reproduces.
    """
    grid = dose.grid
    index = []
    coords = []
    edges = []
    for (first, last), axis, axis_edges in zip(
        (k_range, j_range, i_range), (grid.z_mm, grid.y_mm, grid.x_mm), (grid.z_edges_mm, grid.y_edges_mm, grid.x_edges_mm), strict=True
    ):
        idx = np.clip(np.arange(first - 1, last + 1), 0, axis.size - 1)
        index.append(idx)
        coords.append(axis[idx])
        edges.append((axis_edges[first:last], axis[first:last], axis_edges[first + 1 : last + 1]))
    block = dose.dose_gy[np.ix_(*index)]
    centre = block[1:-1, 1:-1, 1:-1]
    # 27-neighbourhood range and trilinear voxel mean, one axis at a time
    lo = block
    hi = block
    mean = block
    for axis in range(3):
        lower = [slice(None)] * 3
        middle = [slice(None)] * 3
        upper = [slice(None)] * 3
        lower[axis], middle[axis], upper[axis] = slice(None, -2), slice(1, -1), slice(2, None)
        lo_next = np.minimum(lo[tuple(lower)], lo[tuple(middle)])
        hi_next = np.maximum(hi[tuple(lower)], hi[tuple(middle)])
        lo = np.minimum(lo_next, lo[tuple(upper)], out=lo_next)
        hi = np.maximum(hi_next, hi[tuple(upper)], out=hi_next)
        e_lo, c, e_hi = edges[axis]
        below, above = c - e_lo, e_hi - c
        shape = [1, 1, 1]
        shape[axis] = -1
        w_up = (above / (above + below)).reshape(shape)
        d = mean[tuple(middle)]
        if np.all(w_up == 0.5):  # the same numbers: halving and quartering are exact
            step_up = mean[tuple(upper)] - d
            step_up += mean[tuple(lower)] - d
            step_up *= 0.125
            step_up += d
            mean = step_up
        else:
            mean = d + 0.25 * (w_up * (mean[tuple(upper)] - d) + (1.0 - w_up) * (mean[tuple(lower)] - d))
    mean = np.minimum(np.maximum(mean, lo), hi)
    if not spread:
        return mean, np.zeros_like(centre), lo, hi
    sizes = (grid.slice_thickness_mm[k_range[0] : k_range[1]], grid.spacing_y_mm, grid.spacing_x_mm)
    total = np.zeros_like(centre)
    for axis in range(3):
        up = [slice(1, -1)] * 3
        down = [slice(1, -1)] * 3
        up[axis] = slice(2, None)
        down[axis] = slice(None, -2)
        c = coords[axis]
        span = c[2:] - c[:-2]
        inv = np.divide(1.0, span, out=np.zeros_like(span), where=span > 0)
        shape = [1, 1, 1]
        shape[axis] = -1
        size = np.asarray(sizes[axis], dtype=np.float64)
        factor = (inv * size if size.ndim else inv * float(size)).reshape(shape)
        difference = block[tuple(up)] - block[tuple(down)]
        difference *= factor
        np.square(difference, out=difference)
        total += difference
    return mean, np.sqrt(total), lo, hi


def _sample_slices(
    dose: DoseGrid,
    stats: _PlaneStats,
    slabs: SlabStack,
    k_range: tuple[int, int],
    start: tuple[int, int],
    shape: tuple[int, int],
    n: int,
    spread: bool,
    doses: list[FloatArray],
    weights: list[FloatArray],
    spreads: list[FloatArray],
    steep_gy: float | None,
    defer: list[tuple[_PendingPieces, tuple[list[FloatArray], list[FloatArray], list[FloatArray]]]] | None = None,
) -> None:
    """Samples of dose slices k_range[0] .. k_range[1] - 1 (all at once, no per-slice loop)."""
    grid = dose.grid
    ze = grid.z_edges_mm
    k_first, k_last = k_range
    y0, x0 = start
    ny, nx = shape
    x_origin = float(grid.x_edges_mm[x0])
    y_origin = float(grid.y_edges_mm[y0])
    # z pieces: dose voxel boundaries and contour slab boundaries; each piece lies in one dose slice
    # and in at most one slab.
    voxel_edges = ze[k_first : k_last + 1]
    bounds = np.concatenate([slabs.lower_mm, slabs.upper_mm])
    bounds = bounds[(bounds > voxel_edges[0]) & (bounds < voxel_edges[-1])]
    # voxel-centre planes too: the trilinear dose is then linear in z over every piece (it has a
    # kink at the centre plane), and covered steep voxels are cut the same way
    centres = grid.z_mm[k_first:k_last]
    cuts = np.unique(np.concatenate([voxel_edges, bounds, centres]))
    mids = 0.5 * (cuts[1:] + cuts[:-1])
    # (clipped: a piece one ulp thick next to the last edge can have its midpoint on that edge)
    piece_k = np.clip(np.searchsorted(voxel_edges, mids, side="right") - 1, 0, k_last - k_first - 1) + k_first
    plane = np.searchsorted(slabs.lower_mm, mids, side="right") - 1
    valid = (plane >= 0) & (mids < slabs.upper_mm[np.maximum(plane, 0)])
    n_slices = k_last - k_first
    slice_of = piece_k - k_first
    # pieces are sorted by z, so each slice's pieces are contiguous
    all_valid = np.ones(n_slices, dtype=bool)
    invalid_slices = slice_of[~valid]
    all_valid[invalid_slices] = False
    interior = np.zeros((n_slices, ny, nx), dtype=bool)
    touched = np.zeros((n_slices, ny, nx), dtype=bool)
    vp = np.flatnonzero(valid)
    if vp.size:
        group_slice, group_start = np.unique(slice_of[vp], return_index=True)
        interior[group_slice] = np.logical_and.reduceat(stats.full[plane[vp]], group_start, axis=0)
        touched[group_slice] = np.logical_or.reduceat(stats.any[plane[vp]], group_start, axis=0)
    interior &= all_valid[:, None, None]
    interior &= touched
    steep = np.zeros_like(interior)
    vox_cc = grid.voxel_volume_cc()
    # interior voxels: one sample at the voxel's trilinear mean, unless the dose varies steeply
    # across the voxel: then it is sub-sampled exactly as a boundary voxel (dose-only criterion, so
    # every ROI covering the voxel sees the same samples)
    if np.any(interior):
        window = (slice(k_first, k_last), slice(y0, y0 + ny), slice(x0, x0 + nx))
        if steep_gy is not None and steep_gy == steep_threshold_gy(dose):
            per_grid = _interior_samples(dose)
            centre, clipped = per_grid.dose_gy[window], per_grid.spread_gy[window]
            steep = interior & per_grid.steep[window]
            interior &= ~steep
        else:
            centre, raw, lo, hi = (a[window] for a in _voxel_stats(dose))
            clipped = None
            if steep_gy is not None:
                steep = interior & ((hi - lo) > steep_gy)
                interior &= ~steep
    partial = touched & ~interior & ~steep
    if np.any(interior):
        doses.append(centre[interior])
        weights.append(np.broadcast_to(vox_cc[k_first:k_last, None, None], interior.shape)[interior])
        if spread:
            spreads.append(
                clipped[interior] if clipped is not None
                else _clipped_spread(centre[interior], raw[interior], lo[interior], hi[interior])
            )
        else:
            spreads.append(np.zeros(int(interior.sum())))
    # half-voxels in z (edge to centre plane): a fine pixel covered by every piece of a half is
    # one sample over the whole half, as in a covered steep voxel, whatever the ROI's slabs
    half_edges = np.unique(np.concatenate([voxel_edges, centres]))
    piece_half = np.clip(np.searchsorted(half_edges, mids, side="right") - 1, 0, half_edges.size - 2)
    half_gap = np.zeros(half_edges.size - 1, dtype=bool)
    half_gap[piece_half[~valid]] = True
    _piece_samples(
        dose, stats, partial, cuts, plane, piece_k, vp, k_first, n_slices, (x_origin, y_origin), n, spread,
        doses, weights, spreads, (half_edges, piece_half, half_gap), defer,
    )
    if np.any(steep):
        _covered_voxel_samples(dose, steep, k_first, (y0, x0), n, spread, doses, weights, spreads)


#: Steep voxels sub-sampled per block (bounds the temporaries: ~27 doubles per voxel and sample
#: quantity; 32768 voxels keep each below ~8 MB).
STEEP_BLOCK_VOXELS = 32768

_STEEP_SAMPLES: weakref.WeakKeyDictionary[DoseGrid, dict[int, tuple[IntArray, FloatArray, FloatArray, FloatArray]]] = (
    weakref.WeakKeyDictionary()
)


def _steep_voxel_samples(dose: DoseGrid, n: int) -> tuple[IntArray, FloatArray, FloatArray, FloatArray]:
    """Samples of every steep voxel of the grid (see the module docstring): sorted flat voxel
    indices and, per voxel (rows), the dose, spread and weight (cc) of its 2 n^2 sub-voxel samples
    (fine pixel s = n * row + column, lower then upper half in z). They depend on the dose grid and
    ``n`` only, so they are computed once per grid and ``n``."""
    per_grid = _STEEP_SAMPLES.setdefault(dose, {})
    cached = per_grid.get(n)
    if cached is not None:
        return cached
    flat_index = np.flatnonzero(_interior_samples(dose).steep)
    sample = _steep_samples_in_cells if n % 2 == 0 else _steep_samples_at_points
    # in blocks of voxels, so that the temporaries stay small on a large grid (each voxel's
    # samples depend on that voxel only)
    blocks = [sample(dose, flat_index[i : i + STEEP_BLOCK_VOXELS], n) for i in range(0, flat_index.size, STEEP_BLOCK_VOXELS)]
    if len(blocks) == 1:
        value, spread_gy, weight = blocks[0]
    elif blocks:
        value, spread_gy, weight = (np.concatenate([b[q] for b in blocks]) for q in range(3))
    else:
        value, spread_gy, weight = (np.zeros((0, 2 * n * n)) for _ in range(3))
    cached = (flat_index, value, spread_gy, weight)
    for array in cached:
        array.flags.writeable = False
    per_grid[n] = cached
    return cached


def _steep_samples_at_points(dose: DoseGrid, flat_index: IntArray, n: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    """:func:`_steep_voxel_samples` by evaluating :func:`_sample_dose` at every sub-voxel centre
    (any ``n``; an odd ``n`` puts a fine pixel centre on the voxel centre, a kink of the
    interpolant)."""
    grid = dose.grid
    ks, jj, ii = np.unravel_index(flat_index, grid.shape_zyx)
    fdx, fdy = grid.spacing_x_mm / n, grid.spacing_y_mm / n
    ze = grid.z_edges_mm
    # n x n fine pixels x the two halves of the voxel on either side of its centre plane
    sy, sx = np.divmod(np.arange(n * n), n)
    per = 2 * n * n
    k = np.repeat(ks, per)
    px = np.repeat(grid.x_edges_mm[ii][:, None] + (sx[None, :] + 0.5) * fdx, 2, axis=1).reshape(-1)
    py = np.repeat(grid.y_edges_mm[jj][:, None] + (sy[None, :] + 0.5) * fdy, 2, axis=1).reshape(-1)
    upper = np.tile(np.array([False, True]), ks.size * n * n)
    za = np.where(upper, grid.z_mm[k], ze[k])
    zb = np.where(upper, ze[k + 1], grid.z_mm[k])
    pz = 0.5 * (za + zb)
    dz = zb - za
    value, gx, gy, gz, lo, hi = _sample_dose(dose, (px, py, pz), (0.5 * fdx, 0.5 * fdy, 0.5 * dz))
    np.maximum(value, lo, out=value)
    np.minimum(value, hi, out=value)
    # var = gx^2 fdx^2 + gy^2 fdy^2 + gz^2 dz^2 (spread^2 = 12 var / 12), in place
    var = np.square(gx, out=gx)
    var *= fdx**2
    var += np.multiply(np.square(gy, out=gy), fdy**2, out=gy)
    var += np.multiply(np.square(gz, out=gz), np.square(dz), out=gz)
    spread_gy = _clipped_spread(value, np.sqrt(var, out=var), lo, hi)
    weight = (fdx * fdy / 1000.0) * dz
    return value.reshape(-1, per), spread_gy.reshape(-1, per), weight.reshape(-1, per)


def _cell_fractions(n: int) -> FloatArray:
    """For the n (even) fine pixels along an axis of a voxel: the fractional position of each
    pixel centre in its interpolation cell. The first n/2 lie in the cell below the voxel centre,
    the others in the cell above (an even ``n`` keeps every fine pixel inside one cell)."""
    offset = (np.arange(n) + 0.5) / n - 0.5  # fine-pixel centre from the voxel centre, in voxels
    return np.where(offset > 0, offset, 1.0 + offset)


def _steep_samples_in_cells(dose: DoseGrid, flat_index: IntArray, n: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    """:func:`_steep_voxel_samples` for an even ``n`` from each voxel's 27-neighbourhood: every
    sub-voxel centre sits at a fixed fraction of one interpolation cell (fine pixels in plane; the
    half-voxels in z, whose centres are a quarter of the way to the neighbouring centre planes), so
    the trilinear dose and its derivatives follow from the neighbourhood by the interpolation of
    :func:`trilinear` (along x, then y, then z) at fixed fractions, for all voxels at once, and the
    dose range is that of the cell's 8 corners. The same numbers as
    :func:`_steep_samples_at_points` up to rounding (1e-15 relative); beyond the outermost centres
    the neighbour index is clamped, which holds the dose constant with a zero gradient there, as
    :func:`trilinear` does. (No matrix product: a multithreaded BLAS call would keep a second core
    busy after it returns.)"""
    grid = dose.grid
    nz, ny, nx = grid.shape_zyx
    ks, jj, ii = np.unravel_index(flat_index, grid.shape_zyx)
    fdx, fdy = grid.spacing_x_mm / n, grid.spacing_y_mm / n
    # the 3 x 3 x 3 neighbourhood (z, y, x) of every voxel (last axis), clamped at the grid border
    step = np.arange(-1, 2)
    offsets = ((step[:, None, None] * ny + step[None, :, None]) * nx + step[None, None, :]).reshape(-1)
    index = offsets[:, None] + flat_index[None, :]
    border = np.flatnonzero((ks == 0) | (ks == nz - 1) | (jj == 0) | (jj == ny - 1) | (ii == 0) | (ii == nx - 1))
    if border.size:
        kk = np.clip(ks[border, None] + step, 0, nz - 1)
        jn = np.clip(jj[border, None] + step, 0, ny - 1)
        iN = np.clip(ii[border, None] + step, 0, nx - 1)
        index[:, border] = ((kk[:, :, None, None] * ny + jn[:, None, :, None]) * nx + iN[:, None, None, :]).reshape(-1, 27).T
    cube = dose.dose_gy.reshape(-1).take(index).reshape(3, 3, 3, -1)
    # fine pixels along x and y: fraction in their cell (the first n/2 lie in the cell below the
    # voxel centre, the others above); the two halves in z: the cell below at 3/4, above at 1/4
    t_1d = _cell_fractions(n)
    t_col = t_1d[:, None]

    def per_pixel(cells: FloatArray, axis: int) -> FloatArray:
        """Values per interpolation cell (2 along ``axis``) -> per fine pixel (n along it)."""
        return cells if n == 2 else np.repeat(cells, n // 2, axis=axis)

    # along x: (z, y, fine x, voxel)
    x_lo = per_pixel(cube[:, :, 0:2], 2)
    ax = per_pixel(cube[:, :, 1:3] - cube[:, :, 0:2], 2)
    cx = x_lo + t_col * ax
    # along y: (z, fine y, fine x, voxel)
    y_lo = per_pixel(cx[:, 0:2], 1)
    ay = per_pixel(cx[:, 1:3] - cx[:, 0:2], 1)
    cy = y_lo + t_col[:, None] * ay
    dx_lo = per_pixel(ax[:, 0:2], 1)
    dx_y = dx_lo + t_col[:, None] * (per_pixel(ax[:, 1:3], 1) - dx_lo)  # x difference, interpolated in y
    # along z: (half, fine y, fine x, voxel)
    tz = np.array([0.75, 0.25])[:, None, None, None]
    z_lo = cy[0:2]
    az = cy[1:3] - z_lo
    value = z_lo + tz * az
    dy = (1.0 - tz) * ay[0:2] + tz * ay[1:3]
    dx = (1.0 - tz) * dx_y[0:2] + tz * dx_y[1:3]
    # corner range of the 8 interpolation cells around the voxel centre, (cell z, y, x, voxel)
    lo = hi = cube
    for axis in (2, 1, 0):
        first = [slice(None)] * 4
        second = [slice(None)] * 4
        first[axis], second[axis] = slice(None, -1), slice(1, None)
        lo = np.minimum(lo[tuple(first)], lo[tuple(second)])
        hi = np.maximum(hi[tuple(first)], hi[tuple(second)])
    lo = per_pixel(per_pixel(lo, 1), 2)
    hi = per_pixel(per_pixel(hi, 1), 2)
    np.maximum(value, lo, out=value)
    np.minimum(value, hi, out=value)
    # derivatives by position (Gy/mm): 1 / cell width, 0 beyond the outermost centres
    steps = _axis_steps(dose)
    gx = dx * per_pixel(_cell_inverse(grid.x_mm, ii, steps[2]), 0)[None, None, :, :]
    gy = dy * per_pixel(_cell_inverse(grid.y_mm, jj, steps[1]), 0)[None, :, None, :]
    gz = az * _cell_inverse(grid.z_mm, ks, steps[0])[:, None, None, :]
    ze = grid.z_edges_mm
    dz = np.stack([grid.z_mm[ks] - ze[ks], ze[ks + 1] - grid.z_mm[ks]])[:, None, None, :]
    var = np.square(gx, out=gx)
    var *= fdx**2
    var += np.multiply(np.square(gy, out=gy), fdy**2, out=gy)
    var += np.square(gz, out=gz) * np.square(dz)
    spread_gy = _clipped_spread(value, np.sqrt(var, out=var), lo, hi)
    weight = np.broadcast_to((fdx * fdy / 1000.0) * dz, value.shape)

    def per_voxel(a: FloatArray) -> FloatArray:
        """(half, fine y, fine x, voxel) -> rows per voxel: fine pixel s = n * y + x, then half."""
        return np.ascontiguousarray(a.transpose(3, 1, 2, 0).reshape(-1, 2 * n * n))

    return per_voxel(value), per_voxel(spread_gy), per_voxel(weight)


def _cell_inverse(coords: FloatArray, index: IntArray, step: float) -> FloatArray:
    """Per voxel (columns): 1 / width of the interpolation cell below (row 0) and above (row 1)
    its centre, 0 for a cell beyond the outermost centres."""
    lowest = np.array([-1, 0])[:, None] + index[None, :]
    inside = (lowest >= 0) & (lowest <= coords.size - 2)
    if step:
        return np.where(inside, 1.0 / step, 0.0)
    safe = np.clip(lowest, 0, max(coords.size - 2, 0))
    width = coords[np.minimum(safe + 1, coords.size - 1)] - coords[safe]
    return np.where(inside, 1.0 / np.where(width > 0, width, 1.0), 0.0)


def _covered_voxel_samples(
    dose: DoseGrid,
    mask: npt.NDArray[np.bool_],
    k_first: int,
    start: tuple[int, int],
    n: int,
    spread: bool,
    doses: list[FloatArray],
    weights: list[FloatArray],
    spreads: list[FloatArray],
) -> None:
    """Samples of voxels entirely inside the ROI that are sub-sampled (steep dose): one per n x n
    fine pixel and half voxel in z (cut at the centre plane), taken from
    :func:`_steep_voxel_samples`. Nothing here depends on the ROI, so such a voxel gives the same
    samples to every ROI covering it, and the same as a boundary voxel's whole fine pixels when no
    contour-slab boundary cuts the voxel."""
    _, ny, nx = dose.grid.shape_zyx
    ks, jj, ii = np.nonzero(mask)
    wanted = ((ks + k_first) * ny + (jj + start[0])) * nx + (ii + start[1])
    flat_index, value, spread_gy, weight = _steep_voxel_samples(dose, n)
    rows = np.searchsorted(flat_index, wanted)
    if rows.size and (rows.max() >= flat_index.size or np.any(flat_index[rows] != wanted)):
        raise AssertionError("steep voxel missing from the per-grid sample table")  # both masks come from _voxel_stats
    doses.append(value[rows].reshape(-1))
    weights.append(weight[rows].reshape(-1))
    spreads.append(spread_gy[rows].reshape(-1) if spread else np.zeros(rows.size * value.shape[1]))


def _piece_samples(
    dose: DoseGrid,
    stats: _PlaneStats,
    mask: npt.NDArray[np.bool_],
    cuts: FloatArray,
    plane: IntArray,
    piece_k: IntArray,
    vp: IntArray,
    k_first: int,
    n_slices: int,
    origin_mm: tuple[float, float],
    n: int,
    spread: bool,
    doses: list[FloatArray],
    weights: list[FloatArray],
    spreads: list[FloatArray],
    halves: tuple[FloatArray, IntArray, npt.NDArray[np.bool_]],
    defer: list[tuple[_PendingPieces, tuple[list[FloatArray], list[FloatArray], list[FloatArray]]]] | None = None,
) -> None:
    """One sample per (valid z piece) x (voxel of ``mask`` in the piece's slice) x (n x n fine
    pixel), at the centroid of the covered part (``piece_k``: dose slice of each z piece); the
    pieces of a half-voxel (``halves``: half edges, half of each piece, halves with a gap) that
    all cover a fine pixel entirely give one sample for the whole half instead.

    Consecutive valid pieces on the same dose slice and contour plane (typically the two halves
    of a voxel in one slab) have the same in-plane coverage: it is looked up and turned into
    centroids and variances once per such run and handed to each of its pieces. Samples come out
    in piece order, then voxel, then fine pixel."""
    slice_of = piece_k - k_first
    grid = dose.grid
    fdx, fdy = grid.spacing_x_mm / n, grid.spacing_y_mm / n
    x_origin, y_origin = origin_mm
    ks, jj, ii = np.nonzero(mask)
    if ks.size == 0 or vp.size == 0:
        return
    nn = n * n
    per_slice = np.bincount(ks, minlength=n_slices)
    starts = np.cumsum(per_slice)
    starts -= per_slice
    # runs of consecutive valid pieces with the same slice and plane
    v_slice, v_plane = slice_of[vp], plane[vp]
    new_run = np.ones(vp.size, dtype=bool)
    np.not_equal(v_slice[1:], v_slice[:-1], out=new_run[1:])
    new_run[1:] |= v_plane[1:] != v_plane[:-1]
    run_first = np.flatnonzero(new_run)
    run_of_piece = np.cumsum(new_run)
    run_of_piece -= 1
    run_slice = v_slice[run_first]
    run_voxels = per_slice[run_slice]
    total = int(run_voxels.sum())
    if total == 0:
        return
    # candidates of each run: the mask voxels of its slice x the n*n fine pixels of each voxel
    offset = np.arange(total) - np.repeat(np.cumsum(run_voxels) - run_voxels, run_voxels)
    voxel = np.repeat(starts[run_slice], run_voxels) + offset
    sub = np.arange(nn)
    sy, sx = np.divmod(sub, n)
    fr = (jj[voxel][:, None] * n + sy[None, :]).reshape(-1)
    fc = (ii[voxel][:, None] * n + sx[None, :]).reshape(-1)
    cand_run = np.repeat(np.repeat(np.arange(run_first.size), run_voxels), nn)
    area, mu, mv, muu, mvv = stats.fine.at(fr + v_plane[run_first][cand_run] * stats.fine_rows, fc)
    sel = np.flatnonzero(area > SNAP)
    if sel.size == 0:
        return
    # in-plane data of each run's covered candidates (contiguous per run, in candidate order)
    a_c = np.minimum(area[sel], 1.0)
    cx = mu[sel] / a_c
    cy = mv[sel] / a_c
    vx_c = muu[sel] / a_c - cx**2
    vy_c = mvv[sel] / a_c - cy**2
    px_c = x_origin + (fc[sel] + 0.5 + cx) * fdx
    py_c = y_origin + (fr[sel] + 0.5 + cy) * fdy
    m_run = np.bincount(cand_run[sel], minlength=run_first.size)
    # every valid piece takes its run's candidates
    m_piece = m_run[run_of_piece]
    count = int(m_piece.sum())
    if count == 0:
        return
    src = np.repeat(np.cumsum(m_run)[run_of_piece] - m_piece, m_piece)
    src += np.arange(count) - np.repeat(np.cumsum(m_piece) - m_piece, m_piece)
    piece = np.repeat(vp, m_piece)
    za, zb = cuts[piece], cuts[piece + 1]
    half_edges, piece_half, half_gap = halves
    # a half-voxel holding several valid pieces and no gap: a fine pixel that all of them cover
    # entirely is one sample over the whole half (at the first piece's entry), the others go
    pieces_in_half = np.bincount(piece_half[vp], minlength=half_edges.size - 1)
    multi = (pieces_in_half > 1) & ~half_gap
    keep = None
    if np.any(multi[piece_half[vp]]):
        rows = np.flatnonzero(multi[piece_half[piece]])
        cand = sel[src[rows]]
        row_half = piece_half[piece[rows]]
        key = (row_half * ks.size + voxel[cand // nn]) * nn + cand % nn
        groups, first, inverse = np.unique(key, return_index=True, return_inverse=True)
        full = np.bincount(inverse, weights=(area[cand] >= 1.0 - SNAP).astype(np.float64), minlength=groups.size)
        group_half = groups // (ks.size * nn)
        merged = full == pieces_in_half[group_half]
        if np.any(merged):
            keep = np.ones(count, dtype=bool)
            keep[rows[merged[inverse]]] = False
            heads = rows[first[merged]]
            keep[heads] = True
            za[heads] = half_edges[group_half[merged]]
            zb[heads] = half_edges[group_half[merged] + 1]
    if keep is not None:
        src, za, zb = src[keep], za[keep], zb[keep]
    pz = 0.5 * (za + zb)
    dz = zb - za
    pending = _PendingPieces(px_c[src], py_c[src], pz, dz, a_c[src], vx_c[src], vy_c[src], len(doses))
    if n % 2:
        pixel_x = x_origin + (fc[sel][src] + 0.5) * fdx
        pixel_y = y_origin + (fr[sel][src] + 0.5) * fdy
        pending = _PendingPieces(px_c[src], py_c[src], pz, dz, a_c[src], vx_c[src], vy_c[src], len(doses), pixel_x, pixel_y)
    doses.append(_EMPTY)
    weights.append(_EMPTY)
    spreads.append(_EMPTY)
    if defer is None:
        _finish_pieces(dose, n, spread, [pending], [(doses, weights, spreads)])
    else:
        defer.append((pending, (doses, weights, spreads)))


_EMPTY = np.zeros(0)


@dataclass(frozen=True, eq=False)
class _PendingPieces:
    """The covered pieces of one ROI, before their dose is sampled: centroids (mm), thickness in
    z (mm), covered fraction and in-plane variances in fine-pixel units (from the polygon moments),
    where their samples go in the ROI's sample lists, and (odd ``n`` only) the centres of their
    fine pixels."""

    px: FloatArray
    py: FloatArray
    pz: FloatArray
    dz: FloatArray
    a: FloatArray
    vx_unit: FloatArray
    vy_unit: FloatArray
    slot: int
    pixel_x: FloatArray | None = None
    pixel_y: FloatArray | None = None


def _required(array: FloatArray | None) -> FloatArray:
    if array is None:
        raise AssertionError("fine-pixel centres are recorded for every piece when n is odd")
    return array


def _finish_pieces(
    dose: DoseGrid,
    n: int,
    spread: bool,
    pending: list[_PendingPieces],
    targets: list[tuple[list[FloatArray], list[FloatArray], list[FloatArray]]],
) -> None:
    """Dose, weight and spread of the pending pieces of one or several ROIs on the same grid, in
    one pass: every operation is element by element, so concatenating the ROIs' pieces gives each
    piece the numbers it gets alone. The results replace the placeholders at each ``slot``."""
    grid = dose.grid
    fdx, fdy = grid.spacing_x_mm / n, grid.spacing_y_mm / n
    if len(pending) == 1:
        one = pending[0]
        px, py, pz, dz, a, vx_unit, vy_unit = one.px, one.py, one.pz, one.dz, one.a, one.vx_unit, one.vy_unit
    else:
        px, py, pz, dz, a, vx_unit, vy_unit = (
            np.concatenate([getattr(p, name) for p in pending])
            for name in ("px", "py", "pz", "dz", "a", "vx_unit", "vy_unit")
        )
    value, gx, gy, gz, base, cell = _trilinear_cells(dose, px, py, pz)
    if n % 2 == 0:  # a fine pixel (and so the piece) lies inside one interpolation cell
        lo, hi = _cell_range(dose, (px, py, pz), base, cell)
    else:  # the middle fine pixels straddle the voxel-centre lines: the nodes bracketing the pixel
        pixel_x = np.concatenate([_required(p.pixel_x) for p in pending])
        pixel_y = np.concatenate([_required(p.pixel_y) for p in pending])
        lo, hi = _box_range(dose, (pixel_x, pixel_y, pz), (0.5 * fdx, 0.5 * fdy, 0.5 * dz))
    np.maximum(value, lo, out=value)  # rounding of the interpolation
    np.minimum(value, hi, out=value)
    weight = a * (fdx * fdy / 1000.0) * dz
    if spread:
        vx = np.maximum(vx_unit, 0, out=vx_unit)
        vx *= fdx**2
        vy = np.maximum(vy_unit, 0, out=vy_unit)
        vy *= fdy**2
        # var = gx^2 vx + gy^2 vy + gz^2 dz^2 / 12, in place
        var = np.square(gx, out=gx)
        var *= vx
        var += np.multiply(np.square(gy, out=gy), vy, out=gy)
        gz_term = np.multiply(np.square(gz, out=gz), np.square(dz), out=gz)
        gz_term /= 12.0
        var += gz_term
        var *= 12.0
        spread_gy = _clipped_spread(value, np.sqrt(var, out=var), lo, hi)
    else:
        spread_gy = np.zeros(px.size)
    start = 0
    for p, (doses, weights, spreads) in zip(pending, targets, strict=True):
        stop = start + p.px.size
        doses[p.slot] = value[start:stop]
        weights[p.slot] = weight[start:stop]
        spreads[p.slot] = spread_gy[start:stop]
        start = stop




def roi_dose_samples(
    dose: DoseGrid,
    roi: Roi,
    *,
    end_cap: EndCapConvention | str = EndCapConvention.HALF_SLAB,
    supersample: int | None = None,
    spread: bool = True,
    single_plane_thickness_mm: float | None = None,
    geometry: RoiGeometry | None = None,
) -> DoseSamples:
    """Dose samples and volume weights (cc) covering ``roi`` inside the dose grid.

    See the module docstring. ``supersample``: ``n`` (default :func:`auto_supersample`).
    ``spread=False`` gives point samples (for comparison). ``geometry`` may pass a precomputed
    :func:`~dosimetry.dvh.geometry.roi_geometry` matching ``roi`` and ``end_cap``.
    """
    partial = _start_samples(dose, roi, end_cap, supersample, spread, single_plane_thickness_mm, geometry, None)
    return _end_samples(partial)


@dataclass(frozen=True, eq=False)
class BatchSamples:
    """Outcome of :func:`roi_dose_samples_batch` for one ROI: its samples, or the GeometryError
    :func:`roi_dose_samples` raises for it (exactly one of the two is set)."""

    roi: Roi
    samples: DoseSamples | None
    error: GeometryError | None


def roi_dose_samples_batch(
    dose: DoseGrid,
    rois: list[Roi] | tuple[Roi, ...],
    *,
    end_cap: EndCapConvention | str = EndCapConvention.HALF_SLAB,
    supersample: int | None = None,
    spread: bool = True,
    single_plane_thickness_mm: float | None = None,
) -> tuple[BatchSamples, ...]:
    """:func:`roi_dose_samples` of several ROIs on one dose grid, the same numbers, with the dose
    sampling of all their boundary pieces done in one pass of array operations (it is element by
    element, see :func:`_finish_pieces`). An ROI that raises GeometryError alone gets it in its
    :class:`BatchSamples` instead of aborting the others; other errors propagate."""
    convention = EndCapConvention.parse(end_cap)
    defer: list[tuple[_PendingPieces, tuple[list[FloatArray], list[FloatArray], list[FloatArray]]]] = []
    started: list[_PartialSamples | GeometryError] = []
    for roi in rois:
        try:
            started.append(
                _start_samples(dose, roi, convention, supersample, spread, single_plane_thickness_mm, None, defer)
            )
        except GeometryError as exc:
            started.append(exc)
    if defer:
        n = next(p.n for p in started if isinstance(p, _PartialSamples))
        _finish_pieces(dose, n, spread, [d[0] for d in defer], [d[1] for d in defer])
    out = []
    for roi, item in zip(rois, started, strict=True):
        if isinstance(item, GeometryError):
            out.append(BatchSamples(roi, None, item))
        else:
            out.append(BatchSamples(roi, _end_samples(item), None))
    return tuple(out)


@dataclass(frozen=True, eq=False)
class _PartialSamples:
    """An ROI's sample lists (some piece entries possibly still placeholders) and what
    :func:`_end_samples` needs to build its :class:`DoseSamples`."""

    roi: Roi
    geometry: RoiGeometry
    convention: EndCapConvention
    n: int
    doses: list[FloatArray]
    weights: list[FloatArray]
    spreads: list[FloatArray]
    irregular_warning: str


def _start_samples(
    dose: DoseGrid,
    roi: Roi,
    end_cap: EndCapConvention | str,
    supersample: int | None,
    spread: bool,
    single_plane_thickness_mm: float | None,
    geometry: RoiGeometry | None,
    defer: list[tuple[_PendingPieces, tuple[list[FloatArray], list[FloatArray], list[FloatArray]]]] | None,
) -> _PartialSamples:
    convention = EndCapConvention.parse(end_cap)
    grid = dose.grid
    if supersample is None:
        n = auto_supersample(grid)
    elif isinstance(supersample, bool) or not isinstance(supersample, (int, np.integer)) or not 1 <= supersample <= MAX_SUPERSAMPLE:
        raise ArgumentError(
            f"supersample must be a whole number of fine pixels per axis from 1 to {MAX_SUPERSAMPLE}, got {supersample!r}"
        )
    else:
        n = int(supersample)
    if geometry is None:
        geometry = geometry_for_grid(roi, grid, convention, single_plane_thickness_mm)
    ze = grid.z_edges_mm
    dx, dy = grid.spacing_x_mm, grid.spacing_y_mm
    doses: list[FloatArray] = []
    weights: list[FloatArray] = []
    spreads: list[FloatArray] = []
    window = fine_window(geometry, grid)
    slabs = geometry.slabs
    irregular_warning = ""
    if window is not None:
        y0, y1, x0, x1 = window
        ny, nx = y1 - y0, x1 - x0
        x_origin = float(grid.x_edges_mm[x0])
        y_origin = float(grid.y_edges_mm[y0])
        stats = _plane_stats(geometry, (x_origin, y_origin), (dx, dy), (ny, nx), n)
        if stats.irregular_planes_mm:
            irregular_warning = irregular_coverage_warning(roi.name, stats.irregular_planes_mm)

        z_lo, z_hi = geometry.z_range_mm
        k_first = max(int(np.searchsorted(ze, z_lo, side="right")) - 1, 0)
        k_last = min(int(np.searchsorted(ze, z_hi, side="left")), grid.z_mm.size)
        if k_last > k_first:
            _sample_slices(
                dose, stats, slabs, (k_first, k_last), (y0, x0), (ny, nx), n, spread, doses, weights, spreads,
                steep_threshold_gy(dose), defer,
            )
    return _PartialSamples(roi, geometry, convention, n, doses, weights, spreads, irregular_warning)


def _end_samples(partial: _PartialSamples) -> DoseSamples:
    roi, geometry, n = partial.roi, partial.geometry, partial.n
    doses, weights, spreads = partial.doses, partial.weights, partial.spreads
    if doses:
        d = np.concatenate(doses)
        w = np.concatenate(weights)
        s = np.concatenate(spreads)
    else:
        d = w = s = np.zeros(0)
    # Spreads far below any bin width are numerically points (``s`` is a fresh array).
    s[s < 1e-9] = 0.0
    in_grid = float(w.sum())
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug(
            "ROI %r: %d dose samples (%d with a spread), supersampling %d, %.4g cc in the grid",
            roi.name, d.size, int(np.count_nonzero(s)), n, in_grid,
        )
    outside = geometry.volume_cc - in_grid
    outside = outside if outside > 1e-9 * max(1.0, geometry.volume_cc) else 0.0
    warnings = list(geometry.warnings)
    if partial.irregular_warning:
        warnings.append(partial.irregular_warning)
    if outside > 0:
        warnings.append(
            f"ROI {roi.name!r}: {outside:.4g} cc of {geometry.volume_cc:.4g} cc lies outside the dose grid"
        )
    return DoseSamples(
        dose_gy=d,
        weight_cc=w,
        spread_gy=s,
        volume_cc=geometry.volume_cc,
        volume_in_grid_cc=in_grid,
        volume_outside_grid_cc=outside,
        end_cap=partial.convention,
        supersample=n,
        warnings=tuple(warnings),
    )


def volume_at_or_above(
    dose: DoseGrid,
    roi: Roi,
    level_gy: float,
    *,
    end_cap: EndCapConvention | str = EndCapConvention.HALF_SLAB,
    supersample: int | None = None,
) -> float:
    """Volume (cc) of ``roi`` inside the dose grid receiving at least ``level_gy`` (partial-volume
    isodose volume), consistent with :func:`~dosimetry.dvh.compute.compute_dvh`."""
    samples = roi_dose_samples(dose, roi, end_cap=end_cap, supersample=supersample)
    return samples.volume_at_or_above(level_gy)
