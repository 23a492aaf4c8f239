"""The report's overlap voxel with the current EQD2 made slab by slab (``LqMapSet.slabs``, issue 20:
84 MB off the main process's peak) gives what the whole map gives.

Oracles: the whole map the patient's LQ map set computes (``maps.lq[key]``) for the slabs, and
brute force on the whole maps for the voxel (``np.minimum(now, cumulative - now)``, the axial slice
of largest sum, its voxel of largest overlap: the definition, written out here).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dosimetry import load_patient
from dosimetry.patient.maps import LqMapSet, lq_key, lq_slabs
from dosimetry.quantities import DoseQuantity
from dosimetry.report.figure_sections import overlap_voxel

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "patient01"


def test_slabs_equal_the_whole_map_and_the_overlap_voxel_is_the_same() -> None:
    patient = load_patient(SAMPLE)
    maps = patient._maps
    key = lq_key(DoseQuantity.EQD2, maps.alpha_beta_late_gy)
    assert isinstance(maps.lq, LqMapSet)
    whole = np.asarray(maps.lq[key].dose.dose_gy)
    slabs = np.stack([slab.copy() for slab in lq_slabs(maps.lq, key)])
    assert slabs.tobytes() == whole.tobytes()
    from_slabs = overlap_voxel(maps)
    assert from_slabs is not None
    cumulative = maps.cumulative[maps.eqd2_late_cumulative_key].dose
    overlap = np.minimum(whole, np.asarray(cumulative.dose_gy) - whole)
    k = int(np.argmax(overlap.sum(axis=(1, 2))))
    j, i = np.unravel_index(int(np.argmax(overlap[k])), overlap[k].shape)
    grid = cumulative.grid
    assert from_slabs[0] == (float(grid.x_mm[i]), float(grid.y_mm[j]), float(grid.z_mm[k]))
    assert f"= {overlap[k, j, i]:.2f} Gy" in from_slabs[1]
