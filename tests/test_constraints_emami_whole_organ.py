"""The whole-organ tolerance doses of the bundled Emami 1991 table against a second, independent
transcription (oracle: the whole-organ TD5/5 and TD50/5 column of Emami et al., Int J Radiat Oncol
Biol Phys 21:109-122, 1991, as summarised in cGy on the Radiation Oncology wiki page "Emami IJROBP 21
109 1991", radonc.wikidot.com, read 2026-11-26; spinal cord there is the 10 cm length). The partial-volume
columns and the paper's asterisk footnotes are not covered by that summary."""

from __future__ import annotations

import pytest

from dosimetry.constraints.tables import load_emami

# (organ, endpoint) -> (TD5/5 cGy, TD50/5 cGy) for the whole organ (spinal cord: 10 cm)
WHOLE_ORGAN_CGY = {
    ("bladder", "contracture"): (6500, 8000),
    ("brachial_plexus", "nerve_damage"): (6000, 7500),
    ("brain", "necrosis_infarction"): (4500, 6000),
    ("brain_stem", "necrosis_infarction"): (5000, 6500),
    ("cauda_equina", "nerve_damage"): (6000, 7500),
    ("esophagus", "stricture_perforation"): (5500, 6800),
    ("femoral_head", "necrosis"): (5200, 6500),
    ("heart", "pericarditis"): (4000, 5000),
    ("kidney", "clinical_nephritis"): (2300, 2800),
    ("larynx", "cartilage_necrosis"): (7000, 8000),
    ("lens", "cataract"): (1000, 1800),
    ("liver", "liver_failure"): (3000, 4000),
    ("lung", "pneumonitis"): (1750, 2450),
    ("optic_chiasm", "blindness"): (5000, 6500),
    ("optic_nerve", "blindness"): (5000, 6500),
    ("parotid", "xerostomia"): (3200, 4600),
    ("rectum", "severe_proctitis"): (6000, 8000),
    ("retina", "blindness"): (4500, 6500),
    ("spinal_cord", "myelitis_necrosis"): (5000, 7000),
    ("small_intestine", "obstruction_perforation"): (4000, 5500),
    ("stomach", "ulceration_perforation"): (5000, 6500),
}


@pytest.mark.parametrize(("organ", "endpoint"), sorted(WHOLE_ORGAN_CGY))
def test_whole_organ_tolerance_doses(organ: str, endpoint: str) -> None:
    (entry,) = [e for e in load_emami().entries if e.organ.value == organ and e.endpoint_id == endpoint]
    td5_cgy, td50_cgy = WHOLE_ORGAN_CGY[(organ, endpoint)]
    # the whole organ is the last axis point (3/3 of the volume); the spinal cord's axis is length, 10 cm
    point = entry.axis_points.index(10.0) if organ == "spinal_cord" else 2
    assert entry.td5_5_gy[point] == pytest.approx(td5_cgy / 100.0)
    assert entry.td50_5_gy[point] == pytest.approx(td50_cgy / 100.0)
