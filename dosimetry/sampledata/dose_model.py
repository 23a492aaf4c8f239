"""Analytic dose distributions shaped like a carbon-ion plan and a photon IMRT plan.

Carbon (current course, RBE-weighted, GyE): a flat high-dose region over the PTV with a steep
lateral fall-off. With ``d`` the signed distance (mm) from the PTV surface (negative inside),

    D_target(d) = D_presc * h(p) * Phi((m - d) / sigma),   sigma = w_80_20 / (2 * 0.8416)

where Phi is the standard normal CDF (an error-function edge), ``w_80_20`` = 3.5 mm is the
80 %-20 % penumbra width, m = 4.5 mm places the 50 % level beyond the PTV surface and h(p) is
a +-1 % smooth ripple. At the PTV surface D >= 0.99 * 0.985 * D_presc (> 90 %), at the CTV
surface (d = -3 mm) D > 0.98 * D_presc (> 95 %). Each beam adds a small entrance plateau
(30 % of its share of the fraction dose) upstream of the target within a field radius of the
PTV's bounding sphere, and a 4 % fragment tail downstream fading over 50 mm. Doses outside the
body are 0.

Photon (prior course, physical Gy): 70 Gy to PTV_7000 and 56 Gy to PTV_5600 with a wider
(6 mm 80-20 %) edge, plus a low-dose bath of up to 22 Gy decaying with distance from the PTVs
(e-folding 25 mm) inside the body.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import ndtr

from dosimetry.sampledata.anatomy import Phantom, prior_targets

FloatArray = npt.NDArray[np.float64]

PROBIT_80_20 = 2.0 * 0.8416212335729143  # width of the 20-80 % interval of Phi, in sigma

CARBON_PENUMBRA_80_20_MM = 3.5
CARBON_EDGE_MARGIN_MM = 4.5
CARBON_ENTRANCE_FRACTION = 0.30
CARBON_TAIL_FRACTION = 0.04
PHOTON_PENUMBRA_80_20_MM = 6.0
PHOTON_EDGE_MARGIN_MM = 6.0
PHOTON_BATH_GY = 22.0


@dataclass(frozen=True)
class BeamGeometry:
    """A beam at ``gantry_deg`` (IEC 61217, couch 0, head-first supine) carrying ``weight`` of the dose."""

    gantry_deg: float
    weight: float

    @property
    def source_direction(self) -> FloatArray:
        """Unit vector from isocentre to source in LPS: gantry 0 anterior (-y), 90 patient left (+x)."""
        a = np.deg2rad(self.gantry_deg)
        return np.array([np.sin(a), -np.cos(a), 0.0])


def carbon_dose_gy(
    phantom: Phantom, points_mm: FloatArray, prescription_gy: float, beams: tuple[BeamGeometry, ...]
) -> FloatArray:
    """RBE-weighted dose (GyE) of the carbon plan at ``points_mm`` (..., 3), anatomy frame."""
    p = np.asarray(points_mm, dtype=np.float64)
    ptv = phantom.spec.ptv
    sigma = CARBON_PENUMBRA_80_20_MM / PROBIT_80_20
    d = ptv.signed_distance_mm(p)
    edge = ndtr((CARBON_EDGE_MARGIN_MM - d) / sigma)
    ripple = 1.0 + 0.01 * np.cos(2 * np.pi * p[..., 0] / 40.0) * np.cos(2 * np.pi * p[..., 1] / 45.0) * np.cos(
        2 * np.pi * p[..., 2] / 50.0
    )
    target = prescription_gy * ripple * edge

    centre = ptv.centroid_mm
    radius = max(
        float(np.linalg.norm(np.asarray(c) - centre) + r) for c, r in zip(ptv.centres_mm, ptv.radii_mm, strict=True)
    )
    rel = p - centre
    beam_dose = np.zeros(p.shape[:-1])
    for beam in beams:
        u = beam.source_direction
        upstream = rel @ u  # > 0 towards the source
        perp = np.linalg.norm(rel - upstream[..., None] * u, axis=-1)
        field = ndtr((radius + 1.0 - perp) / sigma)
        entrance = CARBON_ENTRANCE_FRACTION * ndtr((upstream - 0.5 * radius) / 5.0)
        tail = CARBON_TAIL_FRACTION * ndtr((-upstream - 0.5 * radius) / 5.0) * np.exp(-np.maximum(-upstream - radius, 0.0) / 50.0)
        beam_dose += prescription_gy * beam.weight * field * (entrance + tail)
    body = phantom.external.contains(p)
    return np.where(body, target + (1.0 - edge) * beam_dose, 0.0)


def photon_dose_gy(phantom: Phantom, points_mm: FloatArray) -> FloatArray:
    """Physical dose (Gy) of the prior 70 Gy / 33 fraction IMRT plan at ``points_mm``, anatomy frame."""
    p = np.asarray(points_mm, dtype=np.float64)
    targets = {t.name: t for t in prior_targets(phantom.spec)}
    sigma = PHOTON_PENUMBRA_80_20_MM / PROBIT_80_20
    d70 = targets["PTV_7000"].solid.signed_distance_mm(p)  # type: ignore[attr-defined]
    d56 = targets["PTV_5600"].solid.signed_distance_mm(p)  # type: ignore[attr-defined]
    ripple = 1.0 + 0.012 * np.sin(2 * np.pi * p[..., 0] / 35.0) * np.cos(2 * np.pi * p[..., 2] / 45.0)
    edge70 = ndtr((PHOTON_EDGE_MARGIN_MM - d70) / sigma)
    edge56 = ndtr((PHOTON_EDGE_MARGIN_MM - d56) / sigma)
    core = np.maximum(70.0 * edge70, 56.0 * edge56) * ripple
    d_min = np.minimum(d70, d56)
    bath = PHOTON_BATH_GY * np.exp(-np.maximum(d_min, 0.0) / 25.0) * (1.0 - np.maximum(edge70, edge56))
    body = phantom.external.contains(p)
    return np.where(body, core + bath, 0.0)
