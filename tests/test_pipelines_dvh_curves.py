"""The cumulative-to-differential DVH conversion of the LKB fit's input (pipelines.dvh_curves).

Oracles: a hand-computed step DVH (10 cc at >= 0 Gy, 6 cc at >= 2 Gy, 1 cc at >= 4 Gy: 4 cc at
1 Gy, 5 cc at 3 Gy, 1 cc at 4 Gy), and the definition of a cumulative DVH (volume receiving at
least a dose cannot grow with the dose), which the reordered or edited curves below violate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dosimetry.errors import OutcomesTableError
from pipelines.dvh_curves import differential_bins, read_dvh_csv


def test_hand_computed_step_dvh() -> None:
    """Oracle: by hand (module docstring)."""
    organ = differential_bins(np.array([0.0, 2.0, 4.0]), np.array([10.0, 6.0, 1.0]), "P1 Cord")
    assert organ is not None
    assert dict(zip(organ.dose_gy.tolist(), organ.volume_cc.tolist())) == {4.0: 1.0, 3.0: 5.0, 1.0: 4.0}


def test_rows_out_of_dose_order_are_refused_naming_the_file(tmp_path: Path) -> None:
    """Oracle: the definition (doses of a sampled cumulative curve increase). Before the check the
    shuffled file gave a plausible DVH (negative steps clipped to 0) and so a wrong gEUD."""
    path = tmp_path / "dvh.csv"
    path.write_text(
        "roi,quantity,dose_gy,volume_cc,volume_pct\n"
        "Cord,EQD2_2,0.0000,10,100\nCord,EQD2_2,4.0000,1,10\nCord,EQD2_2,2.0000,6,60\n",
        encoding="utf-8",
    )
    (curve,) = read_dvh_csv(path)
    with pytest.raises(OutcomesTableError, match=r"dvh\.csv: P1 Cord.*doses must increase.*4\.0 Gy then 2\.0 Gy"):
        differential_bins(curve.dose_gy, curve.volume_cc, f"{path}: P1 Cord")


def test_a_volume_that_grows_with_dose_is_refused() -> None:
    """Oracle: the definition (V(D) does not increase with D); the clipped curve was 4 cc lighter."""
    with pytest.raises(OutcomesTableError, match=r"P1 Cord: cumulative DVH volume must not increase.*6\.0 cc at 2\.0 Gy then 7\.0 cc"):
        differential_bins(np.array([0.0, 2.0, 4.0]), np.array([10.0, 6.0, 7.0]), "P1 Cord")
