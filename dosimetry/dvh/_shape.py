"""Between-plane shape model (:attr:`~dosimetry.dvh.endcaps.EndCapConvention.SHAPE`): the solid
between and beyond an ROI's contour planes reconstructed from the contours, as a finer stack of
planar sections the rest of the engine samples exactly like any other (exact in-plane partial
volumes, trilinear dose).

Between planes. Each plane's region (even-odd, holes and several contours included) becomes a
signed-distance map on a common raster (negative inside). At a height z between planes ``i`` and
``i + 1`` the section is the zero level set of the Lagrange interpolant in z of the maps of up to
four planes around z (two below, two above, within the same part of the ROI): cubic in the
interior, quadratic or linear near the ends. A linear blend of two maps alone (classic
shape-based interpolation) makes the radius of a sphere piecewise linear in z and loses the
bulge between planes: measured on a 24 mm sphere contoured every 3 mm it is 2 % short, more than
the half-slab midpoint rule's error, while the cubic stencil is within 0.1 %. A branching (one
contour above two) needs nothing special: the maps are blended wherever the regions are.

Sliding sections. An oblique tube (an optic nerve running obliquely through the planes) has
sections that slide sideways from plane to plane; blending the maps where they lie shrinks the
section between two laterally shifted ones (a 20 mm oblique nerve, r 2 mm at 30 degrees out of
the axial plane, contoured every 3 mm, came out 13 % short). Where the stencil's sections
correspond one to one (one polygon each, no hole, overlapping by at least
:data:`REGISTER_OVERLAP` of the smaller one once their area centroids coincide, and by more than
as they lie: :data:`REGISTER_GAIN`), the maps are blended in a co-moving frame: each is
translated so that its centroid lies on the centroid interpolated at z (the same Lagrange
weights: linear in z for a straight tube), bilinearly on the raster. The same oblique nerve is
then within 1 %. Where the stencil's sections are moreover scaled copies of one another (they
overlap by :data:`SIMILAR_OVERLAP` of the larger once centroids and areas coincide: the
sections of an ellipsoid, a sphere, an axial cone, an oblique spheroid), the frame also scales:
each map is scaled about its centroid to the area interpolated at z (its values by the square of
the scale, so that it stays the map of the scaled section), which makes the interpolated section
a scaled copy too. Blending the maps of two ellipses of one family directly does not give an
ellipse of that family: a lens-like ellipsoid contoured every 3 mm came out 2.9 % short, a small
one every 2 mm 7.4 % short; both are now within 0.2 %. Branching, holes and several contours per
plane are blended as they lie, except where every section around the interval is one convex
polygon: there the squared support functions are interpolated instead of the maps
(:mod:`dosimetry.dvh._shape_convex`; a lying cone's apex edge came out short). Each
interval is cut into sub-slabs (:data:`SUB_SLABS_PER_RADIUS`; fewer where one section part-way
shows they would not matter, :data:`ADAPTIVE_SUB_SLABS`); an original plane keeps its own
polygons, verbatim, for the sub-slab around it.

End caps. Beyond an extreme plane of a part the section is the extreme contour eroded by
``m0 - m(s)``, ``m`` the largest inscribed radius (max of -distance) and ``s`` the distance out
of the plane. ``m(s)^2`` follows the trend of the last three planes (a quadratic through their
``m^2``; linear with two planes): it is exact for the caps of spheres, ellipsoids, cylinders
lying across the planes and cones ending in a tip, all of which have ``m^2`` quadratic in z. When
``m^2`` reaches 0 within one contour spacing the cap ends there, rounded; otherwise (constant or
growing contours, or shrinking too slowly to close before the next plane, where the ROI has no
contour) the ROI must end somewhere within that spacing and the cap is flat, half a spacing out
(as in the half-slab convention, the unbiased position). A single-plane ROI has no trend: its
profile is taken as round with the contour's inscribed radius (a section through a tube or
ball), ending at that radius when it is within the plane's thickness and flat at half the
thickness otherwise. A gap larger than :data:`~dosimetry.dvh.endcaps.GAP_FACTOR` spacings splits
the ROI into parts, each capped this way.

Why hand-written: the distance maps are :func:`scipy.ndimage.distance_transform_edt` corrected to
exact point-to-boundary distances (k-d tree, :class:`scipy.spatial.cKDTree`) in a band of two
pixels around the boundary, and level sets come from :mod:`contourpy` (the marching-squares
library matplotlib uses); what is written here is only their assembly into sections.
"""

from __future__ import annotations

import itertools
import logging
import math

import numpy as np
import numpy.typing as npt

from dosimetry.dvh._shape_caps import CLOSING_SLACK, _Cap, _cap, width_trend
from dosimetry.dvh._shape_convex import (
    NORMALS,
    eno_squared_support,
    is_convex,
    lagrange_weights,
    section_from_support,
    support,
)
from dosimetry.dvh._shape_planar import (
    _centroid,
    _inside,
    _level_sections,
    _radius,
    _raster_for,
    _resample,
    _scaled,
    _signed_distance,
    _typical_radius_mm,
)
from dosimetry.dvh.endcaps import GAP_FACTOR, SlabStack
from dosimetry.dvh.geometry import PlaneSection, RoiGeometry

FloatArray = npt.NDArray[np.float64]
logger = logging.getLogger(__name__)

#: Largest sub-slab between two contour planes: the ROI's typical radius (the median over planes
#: of 2 x area / perimeter) over SUB_SLABS_PER_RADIUS, within SUB_SLAB_MM .. SUB_SLAB_MAX_MM. The
#: midpoint rule on the interpolated sections errs by about (sub-slab / radius)^2 / 24 in relative
#: volume (0.02 % on a 24 mm sphere at 0.75 mm), so a large ROI needs no sub-slabs: the sample
#: patient's External (radius ~70 mm, 49 planes) takes 5 s with 0.75 mm sub-slabs, 0.6 s with its
#: own planes alone.
#: The lower bound matters for small ROIs in a gradient across the planes: the engine spreads a
#: sub-slab's dose uniformly over its thickness, so D99 / D1 of an optic-nerve-like tube (r 1.5 mm)
#: lying across the planes in an SI gradient missed by 1.9 % of the span with 0.75 mm sub-slabs,
#: and by 0.3 % with 0.1 mm (benchmarks/dvh_true_solids.py; the z-gradient small-structure cases
#: passing D99 went from 12 % to 82 %, at 10 s instead of 8.8 s for all 984 cases).
SUB_SLAB_MM = 0.1
SUB_SLAB_MAX_MM = 3.0
SUB_SLABS_PER_RADIUS = 8.0
#: Largest sub-slab of an end cap, mm, and the fewest sub-slabs of a cap. A rounded cap's
#: sub-slabs are graded towards its pole (cut at ``extent x (1 - (1 - j / k)^2)``, the last one
#: extent / k^2 thick), where the area changes fastest (as the square root of the distance to the
#: pole for a tube lying across the planes).
CAP_SUB_SLAB_MM = 0.5
#: Sub-slabs where the sections change: between two planes the full subdivision (above) is made
#: only where one section part-way shows that it matters. The interval keeps the two planes' own
#: sections (half each, as a prism) where the volume this misses (the interpolated area's bulge
#: over the linear trend, 1/6 of it) is within the full subdivision's own midpoint-rule error,
#: (sub-slab / radius)^2 / 24 of the area, and the two sections lie within SIDEWAYS_SUB_SLABS
#: sub-slabs of each other sideways (the largest distance from a section's boundary of a pixel
#: inside only one of them, plus a pixel); it keeps the section part-way as well where the same
#: holds of the stations then. Measured: the sample patient and the clinical test case (40 ROIs,
#: 2 mm planes) went from 3580 to 3433 sections (the clinical spinal cord 306 -> 206, the sample
#: one 143 -> 102, its brainstem 72 -> 69), volumes within 0.008 %, every metric within 0.03 % of the
#: ROI's dose span; the true solids (benchmarks/dvh_true_solids.py) do not move. With a whole
#: sub-slab sideways the cords halved, but the sample brainstem's Max moved by 0.6 % of its span.
ADAPTIVE_SUB_SLABS = True
SIDEWAYS_SUB_SLABS = 0.5
CAP_MIN_SUB_SLABS = 8

def _same_polygons(a: PlaneSection, b: PlaneSection) -> bool:
    if len(a.polygons) != len(b.polygons) or a.signs != b.signs:
        return False
    return all(
        np.array_equal(xa, xb) and np.array_equal(ya, yb) for (xa, ya), (xb, yb) in zip(a.polygons, b.polygons, strict=True)
    )


#: A rounded cap of three or more planes, each one polygon without holes, is the extreme contour
#: narrowed along its principal axes to the widths the trend of the last three planes gives, and
#: ends where the first width closes (:mod:`dosimetry.dvh._shape_caps`, which gives the measured
#: reason); the extrapolated maps kept a face across the planes (a lying cylinder's end, a lying
#: cone's base) at full length out to the pole.
WIDTH_TREND_CAPS = True
#: ... and whose extrapolated maps are still open near the pole: their section OPEN_CAP_AT of the
#: way to it keeps more than OPEN_CAP_FRACTION of the extreme contour's area (a sphere's keeps
#: about 1 - OPEN_CAP_AT of it; the lying cylinder's kept 38 %, the lying cone's 56 %). Elsewhere
#: the maps close well and the width trend did worse: unions of two spheres (GTV-like) contoured
#: every 2-3 mm were within -0.81..0 % with the maps' caps, -2.3..+0.7 % with the width trend.
OPEN_CAP_AT = 0.95
OPEN_CAP_FRACTION = 0.25
#: Between planes, a stencil of convex sections (each one convex polygon, neither scaled copies
#: nor sliding) is interpolated by its squared support functions (:mod:`dosimetry.dvh._shape_convex`,
#: which gives the measured reason): the distance maps compress inside a sharp tip.
CONVEX_SUPPORT = True
#: Neighbouring planes whose areas differ by more than this factor, and whose topology differs or
#: whose centroids are further apart than the larger section's radius, are a step, not
#: interpolated across (the sample patient's mandible, 1433 -> 212 mm^2 in two parts, grew by
#: 4.6 % when it was; its oblique optic nerves, a full strip next to an off-centre sliver, went
#: from 1.01 to 1.17 cc against 1.06 cc of the capsule they were generated from). A pole shrinking
#: concentrically is no step (a sphere's last two planes differ by up to 2.6 at 1-3 mm spacing,
#: the sample lens by 4.9).
STEP_AREA_RATIO = 3.0
#: Shape-based interpolation in a co-moving frame (see the module docstring): only where the
#: sections of a stencil correspond one to one and overlap by at least REGISTER_OVERLAP of the
#: smaller one once their centroids coincide, and by REGISTER_GAIN of it more than as they lie.
#: The second condition keeps sections that grow on one side (a cone lying across the planes:
#: nested sections sharing the base's edge, whose centroid moves as they shrink) out of it: there
#: registration took the cone from within 1 % (24 of 72 cases outside) to 36 of 72 outside.
SHIFT_REGISTRATION = True
REGISTER_OVERLAP = 0.5
REGISTER_GAIN = 0.02
#: Shape-based interpolation in a co-moving, co-scaling frame where the stencil's sections are
#: scaled copies of one another (see the module docstring): they overlap by SIMILAR_OVERLAP of
#: the larger once their centroids and areas coincide.
SIMILAR_REGISTRATION = True
SIMILAR_OVERLAP = 0.95
#: A part of one or two planes whose extreme contour is one elongated polygon (a tube lying
#: across the planes) ends in copies of that contour narrowed across its length only (scaled
#: along its minor principal axis); the uniform erosion of the other caps also shortened the tube
#: at its ends (optic-nerve-like tubes r 1.5-2.5 mm on one or two planes came out 1.4-2.5 %
#: short, now within +-1.7 %). Compact contours keep the uniform erosion: scaled copies (exact
#: for an ellipsoid's sections, but the z extent still comes from the round prior) took the
#: benchmark's lenses on one or two planes from -4..-14 % to -8..-15 %.
SCALED_PRIOR_CAPS = True
#: A section whose area exceeds this many times pi m^2 (m its inscribed radius) is elongated.
ELONGATED = 4.0


def _prior(sections: list[PlaneSection], inradius_mm: list[float]) -> float:
    """kappa = m^2 / rho^2 of the round profile assumed for a part of one or two planes: a
    section through a tube lying across the planes (an elongated contour, area >= ELONGATED x pi
    m^2: an optic nerve) closes with its inscribed radius, rho = m, kappa = 1; a compact one (a
    lens, a ball) with the radius of its area, rho = sqrt(area / pi). Measured on true solids
    (benchmarks/dvh_true_solids.py): a lens-like ellipsoid on two 3 mm planes is 29 % short
    with rho = m, a lying 5 mm nerve within 1 % with rho = m and 22 % over with a flat end."""
    ratios = [s.area_mm2 / (math.pi * m * m) for s, m in zip(sections, inradius_mm, strict=True) if m > 0]
    if not ratios or float(np.mean(ratios)) >= ELONGATED:
        return 1.0
    return 1.0 / float(np.mean(ratios))


def shape_geometry(base: RoiGeometry, label: str) -> RoiGeometry:
    """``base`` (the ROI's own sections, any slabs) rebuilt under the shape model."""
    planes = base.slabs.planes_mm
    sections = base.sections
    spacing = base.slabs.nominal_spacing_mm
    radius = _typical_radius_mm(base)
    raster = _raster_for(base, radius, CLOSING_SLACK)
    sub_slab_mm = min(max(radius / SUB_SLABS_PER_RADIUS, SUB_SLAB_MM), SUB_SLAB_MAX_MM)
    maps: dict[int, FloatArray] = {}
    inradius: dict[int, float] = {}

    def psi(i: int) -> FloatArray:
        """(phi + m)^2 - m^2 of plane i: zero on its boundary, negative inside, and m^2 linear in
        it, so that an interpolant of degree 2 or more reproduces quadric solids exactly."""
        if i not in maps:
            phi, m = _signed_distance(sections[i], raster)
            maps[i], inradius[i] = (phi + m) ** 2 - m * m, m
        return maps[i]

    def inradius_of(i: int) -> float:
        psi(i)
        return inradius[i]

    centroids: dict[int, FloatArray] = {}
    registrable: dict[tuple[int, int], bool] = {}

    def centroid_of(i: int) -> FloatArray:
        if i not in centroids:
            centroids[i] = np.array(_centroid(sections[i]))
        return centroids[i]

    def moved(i: int, shift_mm: FloatArray) -> FloatArray:
        """psi of plane i translated by ``shift_mm`` (x, y), bilinear on the raster."""
        if not np.any(np.abs(shift_mm) > 1e-3 * raster.pixel_mm):
            return psi(i)
        rows = np.arange(raster.ny, dtype=np.float64) - float(shift_mm[1]) / raster.pixel_mm
        cols = np.arange(raster.nx, dtype=np.float64) - float(shift_mm[0]) / raster.pixel_mm
        return _resample(psi(i), rows, cols)

    def registered(stencil: list[int]) -> bool:
        """Whether the stencil's sections correspond one to one: one polygon each (no holes, no
        branching) and neighbours overlapping by at least REGISTER_OVERLAP of the smaller area
        once their centroids coincide, and by more (REGISTER_GAIN of it) than as they lie (see
        SHIFT_REGISTRATION)."""
        if len(stencil) < 2 or any(len(sections[q].polygons) != 1 for q in stencil):
            return False
        for u, v in itertools.pairwise(stencil):  # a pair's answer, once per ROI (stencils overlap)
            if (u, v) not in registrable:
                inside_u = psi(u) < 0
                smaller = min(int(inside_u.sum()), int((psi(v) < 0).sum()))
                shifted = int((inside_u & (moved(v, centroid_of(u) - centroid_of(v)) < 0)).sum())
                as_is = int((inside_u & (psi(v) < 0)).sum())
                registrable[(u, v)] = (
                    smaller > 0 and shifted >= REGISTER_OVERLAP * smaller and shifted > as_is + REGISTER_GAIN * smaller
                )
            if not registrable[(u, v)]:
                return False
        return True

    similar_cache: dict[tuple[int, int], bool] = {}

    def warped(i: int, centre_mm: FloatArray, ratio: float) -> FloatArray:
        """psi of plane i moved so that its centroid lies on ``centre_mm`` and scaled about it by
        ``ratio`` (its values by ratio^2, so that it stays the psi of the scaled section: exact
        for a circle), bilinear on the raster."""
        if abs(ratio - 1.0) < 1e-9:
            return moved(i, centre_mm - centroid_of(i))
        c = centroid_of(i)
        cols = (c[0] + (raster.xs - centre_mm[0]) / ratio - raster.x0_mm) / raster.pixel_mm
        rows = (c[1] + (raster.ys - centre_mm[1]) / ratio - raster.y0_mm) / raster.pixel_mm
        out = _resample(psi(i), rows, cols)  # a new array: scaled in place
        out *= ratio * ratio
        return out

    def similar(stencil: list[int]) -> bool:
        """Whether the stencil's sections are scaled copies of one another (one polygon each;
        neighbours overlapping by SIMILAR_OVERLAP of the larger once their centroids and sizes
        coincide): the sections of an ellipsoid, a sphere, an axial cone, an oblique tube."""
        if len(stencil) < 2 or any(len(sections[q].polygons) != 1 for q in stencil):
            return False
        for u, v in itertools.pairwise(stencil):  # a pair's answer, once per ROI (stencils overlap)
            if (u, v) not in similar_cache:
                inside_u = psi(u) < 0
                ratio = math.sqrt(sections[u].area_mm2 / sections[v].area_mm2)
                inside_v = warped(v, centroid_of(u), ratio) < 0
                larger = max(int(inside_u.sum()), int(inside_v.sum()))
                similar_cache[(u, v)] = larger > 0 and int((inside_u & inside_v).sum()) >= SIMILAR_OVERLAP * larger
            if not similar_cache[(u, v)]:
                return False
        return True

    def blend_and_bounds(stencil: list[int], z: float, pair: tuple[int, int]) -> tuple[FloatArray, FloatArray, FloatArray]:
        """The interpolated map at z and the two maps of ``pair`` it is clipped against: in a
        co-moving, co-scaling frame where the stencil's sections are similar, in a co-moving
        frame where they are registered (module docstring), else as they are."""
        w = lagrange_weights(planes[stencil], z)
        if SIMILAR_REGISTRATION and similar(stencil):
            c_z = sum((wq * centroid_of(q) for wq, q in zip(w.tolist(), stencil, strict=True)), np.zeros(2))
            area_z = float(sum(wq * sections[q].area_mm2 for wq, q in zip(w.tolist(), stencil, strict=True)))
            if not area_z > 0:  # an extrapolated section that has closed
                empty = np.full((raster.ny, raster.nx), raster.pixel_mm**2)
                return empty, empty, empty
            maps_at = {q: warped(q, c_z, math.sqrt(area_z / sections[q].area_mm2)) for q in {*stencil, *pair}}
        elif SHIFT_REGISTRATION and registered(stencil):
            c_z = sum((wq * centroid_of(q) for wq, q in zip(w.tolist(), stencil, strict=True)), np.zeros(2))
            maps_at = {q: moved(q, c_z - centroid_of(q)) for q in {*stencil, *pair}}
        else:
            maps_at = {q: psi(q) for q in {*stencil, *pair}}
        field = w[0] * maps_at[stencil[0]]
        for wq, q in zip(w[1:].tolist(), stencil[1:], strict=True):
            field += wq * maps_at[q]  # in place: the same sums, one array fewer a term
        return field, maps_at[pair[0]], maps_at[pair[1]]

    def blend(stencil: list[int], z: float) -> FloatArray:
        return blend_and_bounds(stencil, z, (stencil[0], stencil[0]))[0]

    convex_cache: dict[int, bool] = {}
    centres: dict[tuple[int, ...], FloatArray] = {}
    supports: dict[int, FloatArray] = {}

    def convex(stencil: list[int]) -> bool:
        """Whether every section of the stencil is one convex polygon (CONVEX_SUPPORT)."""
        for q in stencil:
            if q not in convex_cache:
                convex_cache[q] = is_convex(sections[q])
        return len(stencil) >= 2 and all(convex_cache[q] for q in stencil)

    def convex_section_at(stencil: list[int], z: float, i: int) -> PlaneSection | None:
        """The section at z whose squared support function about a fixed interior point is the
        quadratic interpolant, direction by direction, of the three planes' around the interval
        whose second divided difference is the smaller (:mod:`dosimetry.dvh._shape_convex`)."""
        key = tuple(stencil)
        if key not in centres:
            # a point inside every section of the stencil: the centroid of their intersection
            # (convex, so its centroid lies inside), else of the two planes' around z
            common = np.logical_and.reduce([psi(q) < 0 for q in stencil])
            rows, cols = np.nonzero(common)
            centres[key] = (
                np.array([float(raster.xs[cols].mean()), float(raster.ys[rows].mean())]) if rows.size
                else 0.5 * (centroid_of(i) + centroid_of(i + 1))
            )
        centre = centres[key]
        shift = NORMALS @ centre
        squared = {}
        for q in stencil:
            if q not in supports:
                supports[q] = support(sections[q])
            h = supports[q] - shift
            if bool(np.all(h > 0)):  # the point inside the section: its support can be squared
                squared[q] = h * h
        if i not in squared or i + 1 not in squared:
            return None
        # not clipped like the maps: the quadratic of the smoother side does not carry a jump
        # across the interval, and a clip held an apex edge between two planes at the
        # contours' highest point (module _shape_convex)
        h2 = eno_squared_support(squared, planes, i, z)
        return section_from_support(z, centre, np.sqrt(np.maximum(h2, 0.0)))

    def section_at(stencil: list[int], z: float, i: int, gap: float, kappa: float, few: bool) -> PlaneSection | None:
        """The interpolated section at z between planes i and i + 1."""
        if (
            CONVEX_SUPPORT and not few and convex([*stencil, i, i + 1])
            and not (SIMILAR_REGISTRATION and similar(stencil)) and not (SHIFT_REGISTRATION and registered(stencil))
        ):
            convex_section = convex_section_at(stencil, z, i)
            if convex_section is not None:
                return convex_section
        field, psi_i, psi_j = blend_and_bounds(stencil, z, (i, i + 1))
        if few:  # the round profile of _cap between the two planes too
            t = z - float(planes[i])
            field = field - kappa * t * (gap - t)
        # No overshoot beyond the two planes' own maps by more than a round profile bulges
        # (m^2 of a circle has curvature -2 whatever its radius: at most gap^2 / 4 between
        # two planes); without it the cubic overshoots where the shape jumps (the sample
        # mandible's sections doubled next to a plane where it splits in two).
        bulge = 0.25 * gap * gap
        low, high = np.minimum(psi_i, psi_j), np.maximum(psi_i, psi_j)
        low -= bulge
        high += bulge
        # in place (field is this call's own array): np.clip(field, low, high), the same values
        return _level_sections(z, np.clip(field, low, high, out=field), 0.0, raster)

    def trend_field(idx: list[int], end: int, z: float) -> FloatArray:
        """The map of a cap at z: the interpolant of its last planes ``idx`` (``end`` first)
        extrapolated, where it grows no faster than the linear trend of the last two planes (a
        cone's base keeps growing, a sphere closes)."""
        field, psi_end, _ = blend_and_bounds(idx, z, (end, end))
        grows = field < psi_end
        field[grows] = np.maximum(field, blend(idx[:2], z))[grows]
        return field

    distances: dict[int, FloatArray] = {}

    def distance_map(i: int) -> FloatArray:
        """|phi| of plane i (mm) back from psi = (phi + m)^2 - m^2."""
        if i not in distances:
            m = inradius_of(i)
            distances[i] = np.abs(np.sqrt(np.maximum(psi(i) + m * m, 0.0)) - m)
        return distances[i]

    def _coarse_stations(i: int, j: int, t: float, middle: PlaneSection | None, sub_slab: float, radius_mm: float) -> int:
        """How many stations the interval (i, j) needs, from its section ``middle`` at the
        fraction t of the way: 1 (the two planes' own sections, half each), 2 (those and
        ``middle``) or 0 (the full subdivision). Coarser only where the volume it misses and the
        sideways step between neighbouring stations stay within what the full subdivision
        allows (see ADAPTIVE_SUB_SLABS)."""
        if middle is None:
            return 0
        a_i, a_j = sections[i].area_mm2, sections[j].area_mm2
        linear = (1.0 - t) * a_i + t * a_j
        bulge = (middle.area_mm2 - linear) / (t * (1.0 - t))  # A = linear + bulge t (1 - t)
        mean_area = 0.5 * (a_i + a_j)
        tolerance = (sub_slab / radius_mm) ** 2 / 24.0  # the full subdivision's midpoint-rule error
        inside_i, inside_j = psi(i) < 0, psi(j) < 0
        inside_t = _inside(middle, raster)
        phi_i, phi_j = distance_map(i), distance_map(j)

        def step(mask: npt.NDArray[np.bool_], *maps: FloatArray) -> float:
            return max((float(m[mask].max()) if mask.any() else 0.0) for m in maps)

        pixel = raster.pixel_mm
        if abs(bulge) / 6.0 <= tolerance * mean_area and step(inside_i ^ inside_j, phi_i, phi_j) + pixel <= SIDEWAYS_SUB_SLABS * sub_slab:
            return 1
        missed = abs(bulge) * abs(1.0 / 6.0 - 0.5 * t * (1.0 - t))
        sideways = max(step(inside_i ^ inside_t, phi_i), step(inside_t ^ inside_j, phi_j))
        if missed <= tolerance * mean_area and sideways + pixel <= SIDEWAYS_SUB_SLABS * sub_slab:
            return 2
        return 0

    gaps = np.diff(planes)
    # A step (the area changing by more than STEP_AREA_RATIO between neighbouring planes, as where
    # a mandible's body meets its rami) is not interpolated across: the planes on either side are
    # separate segments for the interpolation stencils, and the boundary between them is half-way
    # (as in the half-slab convention).
    areas = np.array([max(sec.area_mm2, 1e-12) for sec in sections])
    ratio = np.maximum(areas[1:] / areas[:-1], areas[:-1] / areas[1:])
    steps = np.zeros(ratio.size, dtype=bool)
    for i in np.flatnonzero(ratio > STEP_AREA_RATIO).tolist():
        # a pole shrinking concentrically is no step; a change of topology or a shift of the
        # centroid by more than the larger section's radius (2 area / perimeter) is, unless the
        # two sections are scaled copies of one another (an oblique spheroid's sliding pole:
        # r 1.5 mm at 30 degrees, contoured every 3 mm, was 4.6 % short when it was a step)
        below, above = sections[i], sections[i + 1]
        shift = math.dist(_centroid(below), _centroid(above))
        jump = len(below.polygons) != len(above.polygons) or shift > max(_radius(below), _radius(above))
        steps[i] = jump and not (SIMILAR_REGISTRATION and similar([i, i + 1]))
    segment = np.concatenate([[0], np.cumsum(steps)]).tolist()
    breaks = [0, *(np.flatnonzero(gaps > GAP_FACTOR * spacing) + 1).tolist(), planes.size]
    entries: list[tuple[float, float, PlaneSection]] = []  # (lower, upper, section)
    for a, b in itertools.pairwise(breaks):
        few = b - a <= 2
        # a part of one or two planes has no curvature to follow: a round profile (see _prior)
        kappa = _prior([sections[q] for q in range(a, b)], [inradius_of(q) for q in range(a, b)]) if few else 1.0
        stations: list[tuple[float, PlaneSection]] = []
        for i in range(a, b):
            stations.append((float(planes[i]), sections[i]))
            if i + 1 == b:
                break
            gap = float(planes[i + 1] - planes[i])
            k = 1 if segment[i] != segment[i + 1] else max(math.ceil(gap / sub_slab_mm - 1e-9), 1)
            stencil = [q for q in range(max(i - 1, a), min(i + 3, b)) if segment[q] == segment[i]]
            same = not few and all(_same_polygons(sections[q], sections[i]) for q in stencil)
            known: dict[int, PlaneSection | None] = {}
            if ADAPTIVE_SUB_SLABS and not few and not same and k >= 3:
                # one section part-way (the station nearest the middle, as the full subdivision
                # would place it) decides whether the others are needed (module docstring)
                t_index = k // 2
                z_t = float(planes[i]) + gap * t_index / k
                known[t_index] = section_at(stencil, z_t, i, gap, kappa, few)
                coarse = _coarse_stations(i, i + 1, t_index / k, known[t_index], sub_slab_mm, radius)
                if coarse == 1:
                    continue
                middle = known[t_index]
                if coarse == 2 and middle is not None:
                    stations.append((z_t, middle))
                    continue
            for j in range(1, k):
                z = float(planes[i]) + gap * j / k
                if same:
                    stations.append((z, sections[i]))
                    continue
                section = known[j] if j in known else section_at(stencil, z, i, gap, kappa, few)
                if section is not None:
                    stations.append((z, section))
        zs = [z for z, _ in stations]
        bounds = [zs[0], *[0.5 * (u + v) for u, v in itertools.pairwise(zs)], zs[-1]]
        part = [(bounds[q], bounds[q + 1], stations[q][1]) for q in range(len(stations))]
        # caps: below the first plane (outward = -z) and above the last (outward = +z)
        for end, inward in ((a, 1), (b - 1, -1)):
            idx = [end + inward * q for q in range(3) if a <= end + inward * q < b and segment[end + inward * q] == segment[end]]
            cap_kappa = kappa
            if len(idx) <= 2 and not few:  # the end of a segment after a step
                cap_kappa = _prior([sections[q] for q in idx], [inradius_of(q) for q in idx])
            same = all(_same_polygons(sections[q], sections[end]) for q in idx)
            outward = [-abs(float(planes[q] - planes[end])) for q in idx]
            local = abs(float(planes[idx[1]] - planes[end])) if len(idx) > 1 else spacing
            radii = [inradius_of(q) / math.sqrt(cap_kappa) for q in idx]  # the prior's profile radius
            cap = _cap(outward, radii, local)
            trend = None
            direction = -inward  # +1 above the part, -1 below
            z_end = float(planes[end])
            if WIDTH_TREND_CAPS and cap.rounded and len(idx) > 2 and not same and not (SIMILAR_REGISTRATION and similar(sorted(idx))):
                # only where the extrapolated maps do not close where the cap does (module _shape_caps)
                z_pole = z_end + direction * OPEN_CAP_AT * cap.extent_mm
                near_pole = _level_sections(z_pole, trend_field(idx, end, z_pole), 0.0, raster)
                if near_pole is not None and near_pole.area_mm2 > OPEN_CAP_FRACTION * sections[end].area_mm2:
                    trend = width_trend([sections[q] for q in idx], outward, CLOSING_SLACK * local)
                if trend is not None:
                    cap = _Cap(trend.closing_mm, cap.m2_coefficients, cap.m0_mm, True)
            m_end = inradius_of(end)
            elongated_end = m_end > 0 and sections[end].area_mm2 >= ELONGATED * math.pi * m_end * m_end
            kc = max(math.ceil(cap.extent_mm / CAP_SUB_SLAB_MM - 1e-9), CAP_MIN_SUB_SLABS)
            if cap.rounded:
                cuts = [cap.extent_mm * (1 - (1 - j / kc) ** 2) for j in range(kc + 1)]
            else:
                cuts = [cap.extent_mm * j / kc for j in range(kc + 1)]
            cap_entries = []
            for j in range(kc):
                s_lo, s_hi = cuts[j], cuts[j + 1]
                s_mid = 0.5 * (s_lo + s_hi)
                z_mid = z_end + direction * s_mid
                cap_field: FloatArray | None = None
                if same and len(idx) > 2:
                    section = sections[end]
                elif trend is not None:
                    section = trend.section(sections[end], s_mid, z_mid)
                else:
                    # the trend of the last planes (a cone's base keeps growing, a sphere closes)
                    if len(idx) > 2:
                        cap_field = trend_field(idx, end, z_mid)
                    elif SCALED_PRIOR_CAPS and len(sections[end].polygons) == 1 and elongated_end:
                        # the round profile of _cap, as the extreme contour narrowed across its length
                        m2 = float(np.polyval(cap.m2_coefficients, s_mid))
                        section = _scaled(sections[end], z_mid, math.sqrt(max(m2, 0.0)) / cap.m0_mm, True)
                    else:  # the round profile of _cap, as a uniform erosion in psi
                        cap_field = psi(end) + cap_kappa * (cap.m0_mm**2 - float(np.polyval(cap.m2_coefficients, s_mid)))
                    if cap_field is not None:
                        section = _level_sections(z_mid, cap_field, 0.0, raster)
                if section is None:
                    break
                lo, hi = sorted((z_end + direction * s_lo, z_end + direction * s_hi))
                cap_entries.append((lo, hi, section))
            part = (cap_entries[::-1] + part) if direction < 0 else (part + cap_entries)
        entries.extend(e for e in part if e[1] > e[0])
    # merge runs of one section object over contiguous slabs
    merged: list[tuple[float, float, PlaneSection]] = []
    for lo, hi, section in entries:
        if merged and merged[-1][2] is section and merged[-1][1] == lo:
            merged[-1] = (merged[-1][0], hi, section)
        else:
            merged.append((lo, hi, section))
    lower = np.array([e[0] for e in merged])
    upper = np.array([e[1] for e in merged])
    z_of = np.clip(np.array([e[2].z_mm for e in merged]), lower, upper)
    z_of = 0.5 * (lower + upper) if np.any(np.diff(z_of) <= 0) else z_of
    out_sections = tuple(
        s if s.z_mm == z else PlaneSection(z, s.polygons, s.signs, s.area_mm2, s.orientations)
        for (_, _, s), z in zip(merged, z_of.tolist(), strict=True)
    )
    volume_mm3 = float(sum(s.area_mm2 * t for s, t in zip(out_sections, (upper - lower).tolist(), strict=True)))
    slabs = SlabStack(z_of, lower, upper, spacing, base.slabs.warnings)
    logger.debug("%s: shape model with %d sections from %d planes", label, len(out_sections), planes.size)
    x_min = min(float(x.min()) for s in out_sections for x, _ in s.polygons)
    x_max = max(float(x.max()) for s in out_sections for x, _ in s.polygons)
    y_min = min(float(y.min()) for s in out_sections for _, y in s.polygons)
    y_max = max(float(y.max()) for s in out_sections for _, y in s.polygons)
    return RoiGeometry(
        name=base.name,
        number=base.number,
        sections=out_sections,
        slabs=slabs,
        end_cap=base.end_cap,
        bounds_xy_mm=(x_min, x_max, y_min, y_max),
        volume_cc=volume_mm3 / 1000.0,
        warnings=base.warnings,
    )
