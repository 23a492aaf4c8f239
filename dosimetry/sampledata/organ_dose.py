"""Dose samples of one organ of a synthetic patient, computed from the generator's analytic dose
models (no DICOM round trip): the ground truth of the cohort's LKB toxicity model
(:mod:`dosimetry.sampledata.outcomes`).

The organ is sampled on a :data:`LATTICE_STEP_MM` lattice of the anatomy (= current CT) frame; at
each point the current carbon-ion RBE-weighted dose ``D_c`` (n_c fractions,
:func:`dosimetry.sampledata.dose_model.carbon_dose_gy`) and the prior photon dose ``D_p``
(33 fractions, :func:`dosimetry.sampledata.dose_model.photon_dose_gy`, defined in the anatomy frame)
give the cumulative EQD2 at alpha/beta 2 Gy with the protocol's residual fraction r of the prior
course: ``EQD2 = D_c (D_c/n_c + 2)/4 + r D_p (D_p/33 + 2)/4`` - the quantity the analysis calls
``EQD2_2_cumulative`` (there computed voxel by voxel on the DICOM grids, so a fit of the analysed
DVHs recovers the model up to grid sampling).
"""

from __future__ import annotations

import numpy as np

from dosimetry.constraints.samples import OrganDoseBins
from dosimetry.errors import ArgumentError
from dosimetry.sampledata.anatomy import Phantom
from dosimetry.sampledata.dose_model import BeamGeometry, carbon_dose_gy, photon_dose_gy
from dosimetry.sampledata.patient import CARBON_BEAMS, PRIOR_FRACTIONS, PatientSpec

LATTICE_STEP_MM = 2.0
RESIDUAL_FRACTION = 0.3
ALPHA_BETA_GY = 2.0
#: anatomy-frame box (LPS, mm) that holds every organ of the scaled phantom
HEAD_BOX_MM = ((-90.0, 90.0), (-80.0, 110.0), (-80.0, 120.0))


def _eqd2(dose_gy: np.ndarray, fractions: int) -> np.ndarray:
    return dose_gy * (dose_gy / fractions + ALPHA_BETA_GY) / (2.0 + ALPHA_BETA_GY)


def organ_cumulative_eqd2(spec: PatientSpec, organ: str) -> OrganDoseBins:
    """Cumulative EQD2 (alpha/beta 2 Gy, residual 0.3) at the lattice points inside ``organ``,
    each point carrying ``LATTICE_STEP_MM^3`` of volume (cc)."""
    phantom = Phantom(spec.anatomy)
    organs = {o.name: o for o in phantom.organs()}
    if organ not in organs:
        raise ArgumentError(f"synthetic organ {organ!r}: not in the phantom (organs: {', '.join(organs)})")
    axes = [np.arange(lo + LATTICE_STEP_MM / 2, hi, LATTICE_STEP_MM) for lo, hi in HEAD_BOX_MM]
    x, y, z = np.meshgrid(*axes, indexing="ij")
    points = np.stack([x, y, z], axis=-1).reshape(-1, 3)
    inside = points[organs[organ].contains(points)]
    if inside.shape[0] == 0:
        raise ArgumentError(f"synthetic organ {organ!r}: no lattice point inside it")
    geometry = tuple(BeamGeometry(gantry, share) for _, gantry, share in CARBON_BEAMS)
    current = carbon_dose_gy(phantom, inside, spec.prescription_gy, geometry)
    prior = photon_dose_gy(phantom, inside)
    eqd2 = _eqd2(current, spec.fractions) + RESIDUAL_FRACTION * _eqd2(prior, PRIOR_FRACTIONS)
    return OrganDoseBins(eqd2, np.full(eqd2.shape, LATTICE_STEP_MM**3 / 1000.0), label=f"{spec.patient_id} {organ}")
