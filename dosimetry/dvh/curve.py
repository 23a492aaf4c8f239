"""The dose-volume histogram value object."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import cast

import numpy as np
import numpy.typing as npt

from dosimetry.dvh.endcaps import EndCapConvention
from dosimetry.dvh.sampling import DoseSamples, cumulative_volume
from dosimetry.errors import ArgumentError, GeometryError, MetricError

FloatArray = npt.NDArray[np.float64]

#: Relative tolerance for volume queries at the ends of the curve.
VOLUME_RTOL = 1e-9


@dataclass(frozen=True, eq=False)
class Dvh:
    """Cumulative and differential DVH of one ROI.

    ``bin_edges_gy`` (length B+1, multiples of the bin width) and ``cumulative_cc`` (volume with
    dose >= each edge) define the curve; it is linear between edges. ``volume_cc`` is the ROI volume
    from its contours under ``end_cap``; relative volumes refer to ``volume_in_dose_grid_cc`` (the
    dose outside the grid is unknown; ``volume_outside_dose_grid_cc`` says how much that is).
    ``min_gy``, ``max_gy``, ``mean_gy`` and ``median_gy`` are computed from the dose samples, not
    from the bins. ``edge_mass_cc`` is the volume whose dose equals a bin edge exactly (typically
    0 Gy outside the fields): the curve drops by it just above that edge, so a D-metric falling in
    that step returns the edge dose rather than an interpolated one. Doses are Gy (GyE for an
    EFFECTIVE dose).
    """

    roi_name: str
    roi_number: int
    bin_edges_gy: FloatArray
    cumulative_cc: FloatArray
    volume_cc: float
    volume_in_dose_grid_cc: float
    volume_outside_dose_grid_cc: float
    min_gy: float
    max_gy: float
    mean_gy: float
    median_gy: float
    end_cap: EndCapConvention | None  # None: a DVH read from a planning system (its convention unknown)
    supersample: int
    dose_type: str = ""
    warnings: tuple[str, ...] = ()
    edge_mass_cc: FloatArray | None = None

    def __post_init__(self) -> None:
        if self.edge_mass_cc is None:
            object.__setattr__(self, "edge_mass_cc", np.zeros(np.shape(self.bin_edges_gy)))
        for name in ("bin_edges_gy", "cumulative_cc", "edge_mass_cc"):
            arr = np.array(getattr(self, name), dtype=np.float64)
            arr.flags.writeable = False
            object.__setattr__(self, name, arr)
        if (
            self.bin_edges_gy.shape != self.cumulative_cc.shape
            or self.bin_edges_gy.shape != cast(FloatArray, self.edge_mass_cc).shape
            or self.bin_edges_gy.size < 2
        ):
            raise ArgumentError("a DVH needs matching bin edges, cumulative volumes and edge masses (at least 2)")

    # --- derived curves -------------------------------------------------------------------
    @property
    def bin_width_gy(self) -> float:
        return float(self.bin_edges_gy[1] - self.bin_edges_gy[0])

    @property
    def bin_centres_gy(self) -> FloatArray:
        return 0.5 * (self.bin_edges_gy[1:] + self.bin_edges_gy[:-1])

    @property
    def differential_cc(self) -> FloatArray:
        """Volume (cc) with dose in each bin [edge_i, edge_i+1) (length B)."""
        return np.maximum(self.cumulative_cc[:-1] - self.cumulative_cc[1:], 0)

    @property
    def differential_cc_per_gy(self) -> FloatArray:
        return self.differential_cc / self.bin_width_gy

    @property
    def cumulative_percent(self) -> FloatArray:
        return 100.0 * self.cumulative_cc / self.volume_in_dose_grid_cc

    @property
    def differential_percent(self) -> FloatArray:
        return 100.0 * self.differential_cc / self.volume_in_dose_grid_cc

    # --- queries --------------------------------------------------------------------------
    def volume_at_dose_cc(self, dose_gy: float) -> float:
        """Volume (cc) receiving at least ``dose_gy`` (linear between bin edges)."""
        if not math.isfinite(dose_gy):
            raise MetricError(f"dose {dose_gy!r} is not finite")
        if dose_gy <= self.bin_edges_gy[0]:
            return float(self.cumulative_cc[0])
        return float(np.interp(dose_gy, self.bin_edges_gy, self.cumulative_cc, right=0.0))

    def dose_at_volume_cc(self, volume_cc: float, *, label: str = "") -> float:
        """Minimum dose (Gy) to the hottest ``volume_cc`` (linear between bin edges).

        Raises :class:`MetricError` when the volume is negative or larger than the ROI volume
        inside the dose grid: the curve has no value there.
        """
        total = self.volume_in_dose_grid_cc
        what = label or f"dose at {volume_cc} cc"
        if not math.isfinite(volume_cc) or volume_cc < 0:
            raise MetricError(f"{what}: volume {volume_cc!r} cc must be finite and >= 0")
        if volume_cc > total * (1 + VOLUME_RTOL):
            raise MetricError(
                f"{what}: asks for {volume_cc:.6g} cc but ROI {self.roi_name!r} has only {total:.6g} cc "
                "inside the dose grid"
            )
        if volume_cc >= total * (1 - VOLUME_RTOL):
            return self.min_gy
        if volume_cc <= 0:
            return self.max_gy
        cum = self.cumulative_cc
        # last index i with cum[i] >= volume (cum is non-increasing)
        i = cum.size - int(np.searchsorted(cum[::-1], volume_cc, side="left")) - 1
        i = min(max(i, 0), cum.size - 2)
        after = cum[i] - cast(FloatArray, self.edge_mass_cc)[i]  # volume just above edge i (an array after __post_init__)
        if after < volume_cc:
            return float(min(max(self.bin_edges_gy[i], self.min_gy), self.max_gy))
        drop = after - cum[i + 1]
        frac = 0.0 if drop <= 0 else (after - volume_cc) / drop
        dose = self.bin_edges_gy[i] + frac * (self.bin_edges_gy[i + 1] - self.bin_edges_gy[i])
        return float(min(max(dose, self.min_gy), self.max_gy))

    def dose_at_volume_percent(self, percent: float, *, label: str = "") -> float:
        if not math.isfinite(percent) or percent < 0 or percent > 100:
            raise MetricError(f"{label or 'dose at volume'}: percentage {percent!r} must be within 0..100")
        return self.dose_at_volume_cc(percent / 100.0 * self.volume_in_dose_grid_cc, label=label)


#: Widest DVH bin accepted (Gy). D-metrics and volumes at a dose are interpolated linearly between
#: bin edges, so the bin width bounds their error (a 1000 Gy bin gave the sample PTV a D95 % of 50 Gy,
#: interpolated across the one bin, where every voxel gets at least 48 Gy: a plausible wrong number).
MAX_BIN_WIDTH_GY = 1.0


def edges_for(min_gy: float, max_gy: float, bin_width_gy: float) -> FloatArray:
    """Bin edges: multiples of the bin width from min(0, min) to one bin past the maximum."""
    if not (math.isfinite(bin_width_gy) and 0 < bin_width_gy <= MAX_BIN_WIDTH_GY):
        raise ArgumentError(
            f"bin width must be a number of Gy in (0, {MAX_BIN_WIDTH_GY:g}], got {bin_width_gy!r} (DVH metrics are "
            "interpolated between bin edges, so a wider bin would make them wrong by up to its width)"
        )
    first = min(0, math.floor(min_gy / bin_width_gy))
    last = math.floor(max_gy / bin_width_gy) + 1
    if last - first > 10_000_000:
        raise ArgumentError(
            f"bin width {bin_width_gy} Gy gives {last - first} bins for doses up to {max_gy:.4g} Gy; use a wider bin"
        )
    return np.arange(first, last + 1, dtype=np.float64) * bin_width_gy


#: :func:`exact_dose_at_volume` tries its lower-end shortcut above this many samples in the bracket.
SHORTCUT_ABOVE_SAMPLES = 2048


def exact_dose_at_volume(samples: DoseSamples, volume_cc: float, bracket: tuple[float, float]) -> float:
    """Dose at which the sample distribution's cumulative volume equals ``volume_cc``, exactly.

    The cumulative volume of the samples is piecewise linear between the sample breakpoints
    (dose - spread/2, dose + spread/2, point doses); ``bracket`` (lo, hi) must contain the
    answer. All breakpoints inside the bracket are evaluated, so the interpolation is exact.
    """
    lo, hi = bracket
    d, s, w = samples.dose_gy, samples.spread_gy, samples.weight_cc
    low_end, high_end = samples.low_end_gy, samples.high_end_gy
    # samples wholly at or above the bracket count fully at every level inside it; only those
    # reaching into the bracket matter for the shape there
    above = low_end >= hi
    base = float(w[above].sum())
    inside = high_end > lo
    inside &= ~above
    sub = DoseSamples(
        dose_gy=d[inside],
        weight_cc=w[inside],
        spread_gy=s[inside],
        volume_cc=samples.volume_cc,
        volume_in_grid_cc=samples.volume_in_grid_cc,
        volume_outside_grid_cc=samples.volume_outside_grid_cc,
        end_cap=samples.end_cap,
        supersample=samples.supersample,
    )
    d, s = sub.dose_gy, sub.spread_gy
    # The volume just above ``lo`` already below ``volume_cc`` (no sample has its point dose at
    # ``lo``: those do not reach into the bracket) means the answer is ``lo``, as the search below
    # would find; spares evaluating every breakpoint (a median of 0 Gy in a large External). Tried
    # only with many samples in the bracket, where it pays for itself.
    if d.size > SHORTCUT_ABOVE_SAMPLES and base + float(cumulative_volume(sub, np.array([lo]), total_cc=samples.volume_in_grid_cc)[0]) < volume_cc:
        return float(lo)
    is_point = s == 0
    has_spread = ~is_point
    points = d[is_point]
    pts = np.concatenate([points, sub.low_end_gy[has_spread], sub.high_end_gy[has_spread]])
    pts = pts[(pts > lo) & (pts < hi)]
    levels = np.unique(np.concatenate([[lo, hi], pts]))
    vol = base + cumulative_volume(sub, levels, total_cc=samples.volume_in_grid_cc)
    # Point samples are steps: just above a level holding point doses the volume is smaller by
    # their weight; between levels the volume is linear.
    at = np.searchsorted(levels, points)
    exact = (at < levels.size) & (levels[np.minimum(at, levels.size - 1)] == points)
    mass = np.bincount(at[exact], weights=sub.weight_cc[is_point][exact], minlength=levels.size)
    after = vol - mass
    i = vol.size - int(np.searchsorted(vol[::-1], volume_cc, side="left")) - 1
    i = min(max(i, 0), vol.size - 2)
    if after[i] < volume_cc:
        return float(levels[i])
    drop = after[i] - vol[i + 1]
    frac = 0.0 if drop <= 0 else (after[i] - volume_cc) / drop
    return float(levels[i] + frac * (levels[i + 1] - levels[i]))


def dvh_from_samples(
    samples: DoseSamples,
    *,
    roi_name: str,
    roi_number: int,
    bin_width_gy: float = 0.01,
    dose_type: str = "",
) -> Dvh:
    """Bin ``samples`` into a :class:`Dvh` (raises GeometryError when no volume is in the grid)."""
    if samples.weight_cc.size == 0 or samples.volume_in_grid_cc <= 0:
        raise GeometryError(
            f"ROI {roi_name!r} (number {roi_number}) has no volume inside the dose grid "
            f"(contour volume {samples.volume_cc:.4g} cc); no DVH"
        )
    edges = edges_for(samples.min_gy, samples.max_gy, bin_width_gy)
    cumulative = cumulative_volume(samples, edges, uniform_levels=True)
    total = samples.volume_in_grid_cc
    cumulative[edges <= samples.min_gy] = total
    cumulative[-1] = 0.0
    points = samples.spread_gy == 0
    point_dose = samples.dose_gy[points]
    at = np.clip(np.rint((point_dose - edges[0]) / bin_width_gy).astype(np.int64), 0, edges.size - 1)
    on_edge = edges[at] == point_dose
    edge_mass = np.bincount(at[on_edge], weights=samples.weight_cc[points][on_edge], minlength=edges.size)
    half = 0.5 * total
    i = cumulative.size - int(np.searchsorted(cumulative[::-1], half, side="left")) - 1
    i = min(max(i, 0), cumulative.size - 2)
    median = exact_dose_at_volume(samples, half, (float(edges[i]), float(edges[i + 1])))
    return Dvh(
        roi_name=roi_name,
        roi_number=roi_number,
        bin_edges_gy=edges,
        cumulative_cc=cumulative,
        volume_cc=samples.volume_cc,
        volume_in_dose_grid_cc=total,
        volume_outside_dose_grid_cc=samples.volume_outside_grid_cc,
        min_gy=samples.min_gy,
        max_gy=samples.max_gy,
        mean_gy=samples.mean_gy,
        median_gy=median,
        end_cap=samples.end_cap,
        supersample=samples.supersample,
        dose_type=dose_type,
        warnings=samples.warnings,
        edge_mass_cc=np.asarray(edge_mass, dtype=np.float64),
    )
