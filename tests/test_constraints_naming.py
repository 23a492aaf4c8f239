"""ROI names to organs: TG-263 names, synonyms, laterality, non-organs and typos that must not match."""

from __future__ import annotations

from pathlib import Path

import pytest

from dosimetry.constraints.naming import Laterality, NameMapper, RoiCategory, load_name_mapping
from dosimetry.constraints.tables import Organ
from dosimetry.errors import ConstraintError

# A realistic head-and-neck structure list, as exported by several planning systems.
CLINICAL = [
    ("BrainStem", Organ.BRAIN_STEM, Laterality.NONE),
    ("Brain Stem", Organ.BRAIN_STEM, Laterality.NONE),
    ("BRAINSTEM", Organ.BRAIN_STEM, Laterality.NONE),
    ("brain_stem", Organ.BRAIN_STEM, Laterality.NONE),
    ("Brain", Organ.BRAIN, Laterality.NONE),
    ("Lobe_Temporal_L", Organ.BRAIN, Laterality.LEFT),
    ("Lobe_Temporal_R", Organ.BRAIN, Laterality.RIGHT),
    ("Temporal Lobe Rt", Organ.BRAIN, Laterality.RIGHT),
    ("SpinalCord", Organ.SPINAL_CORD, Laterality.NONE),
    ("Spinal Cord", Organ.SPINAL_CORD, Laterality.NONE),
    ("CORD", Organ.SPINAL_CORD, Laterality.NONE),
    ("OpticChiasm", Organ.OPTIC_CHIASM, Laterality.NONE),
    ("Chiasm", Organ.OPTIC_CHIASM, Laterality.NONE),
    ("Optic_Chiasma", Organ.OPTIC_CHIASM, Laterality.NONE),
    ("OpticNrv_L", Organ.OPTIC_NERVE, Laterality.LEFT),
    ("Optic Nerve Right", Organ.OPTIC_NERVE, Laterality.RIGHT),
    ("Lt Optic Nerve", Organ.OPTIC_NERVE, Laterality.LEFT),
    ("Eye_L", Organ.RETINA, Laterality.LEFT),
    ("eye-r", Organ.RETINA, Laterality.RIGHT),
    ("Retina_R", Organ.RETINA, Laterality.RIGHT),
    ("Lens_L", Organ.LENS, Laterality.LEFT),
    ("LENS RT", Organ.LENS, Laterality.RIGHT),
    ("Parotid_L", Organ.PAROTID, Laterality.LEFT),
    ("Lt Parotid", Organ.PAROTID, Laterality.LEFT),
    ("Right Parotid", Organ.PAROTID, Laterality.RIGHT),
    ("ParotidR", Organ.PAROTID, Laterality.RIGHT),
    ("Mandible", Organ.TM_JOINT_MANDIBLE, Laterality.NONE),
    ("Bone_Mandible", Organ.TM_JOINT_MANDIBLE, Laterality.NONE),
    ("TMJ_L", Organ.TM_JOINT_MANDIBLE, Laterality.LEFT),
    ("Cochlea_L", Organ.EAR_MID_EXTERNAL, Laterality.LEFT),
    ("Ear_Middle_R", Organ.EAR_MID_EXTERNAL, Laterality.RIGHT),
    ("Larynx", Organ.LARYNX, Laterality.NONE),
    ("Esophagus", Organ.ESOPHAGUS, Laterality.NONE),
    ("BrachialPlex_R", Organ.BRACHIAL_PLEXUS, Laterality.RIGHT),
    ("Skin", Organ.SKIN, Laterality.NONE),
]


@pytest.mark.parametrize(("name", "organ", "side"), CLINICAL)
def test_clinical_names_map(name: str, organ: Organ, side: Laterality) -> None:
    mapping = NameMapper().map(name)
    assert mapping.category is RoiCategory.ORGAN, mapping
    assert mapping.organ is organ
    assert mapping.laterality is side


@pytest.mark.parametrize(
    ("name", "category"),
    [
        ("PTV70", RoiCategory.TARGET),
        ("PTV_59.4", RoiCategory.TARGET),
        ("CTV_High", RoiCategory.TARGET),
        ("GTVp", RoiCategory.TARGET),
        ("GTV_N_L", RoiCategory.TARGET),
        ("ITV", RoiCategory.TARGET),
        ("External", RoiCategory.EXTERNAL),
        ("BODY", RoiCategory.EXTERNAL),
        ("SpinalCord_PRV05", RoiCategory.PRV),
        ("BrainStem_PRV", RoiCategory.PRV),
    ],
)
def test_non_organs_are_recognised(name: str, category: RoiCategory) -> None:
    mapping = NameMapper().map(name)
    assert mapping.category is category
    assert mapping.organ is None


@pytest.mark.parametrize(
    "typo",
    ["Brianstem", "Brain Stm", "Paroitd_L", "Parotd R", "Chaism", "OpticNrve_L", "SpinalCrd", "Lense_L", "Mandibel", "Cohclea_R"],
)
def test_typos_do_not_match(typo: str) -> None:
    mapping = NameMapper().map(typo)
    assert mapping.category is RoiCategory.UNMAPPED
    assert mapping.organ is None
    assert "no fuzzy" in mapping.reason


def test_known_structure_without_table_entry_is_unmapped_with_reason() -> None:
    mapping = NameMapper().map("Pituitary")
    assert mapping.category is RoiCategory.UNMAPPED
    assert "no Emami/Burman entry" in mapping.reason


def test_equivalent_spellings_share_a_canonical_name() -> None:
    mapper = NameMapper()
    keys = {mapper.map(n).match_key for n in ("BrainStem", "Brain Stem", "brainstem", "BRAIN_STEM")}
    assert keys == {"brainstem"}
    assert mapper.map("Lt Parotid").canonical_name == "Parotid_L"
    assert mapper.map("Parotid Left").match_key == mapper.map("parotid_l").match_key


def test_user_mapping_yaml_overrides(tmp_path: Path) -> None:
    path = tmp_path / "mapping.yaml"
    path.write_text("mapping:\n  Hirnstamm: brain_stem\n  Cord PRV: non_organ\n  Brain: lens\n", encoding="utf-8")
    mapper = load_name_mapping(path)
    assert mapper.map("Hirnstamm").organ is Organ.BRAIN_STEM
    assert mapper.map("HIRNSTAMM").organ is Organ.BRAIN_STEM
    assert mapper.map("Cord_PRV").category is RoiCategory.NON_ORGAN
    assert mapper.map("Brain").organ is Organ.LENS  # the user wins
    assert mapper.map("Brainstem").organ is Organ.BRAIN_STEM  # defaults still apply


def test_user_mapping_toml(tmp_path: Path) -> None:
    path = tmp_path / "mapping.toml"
    path.write_text('[mapping]\n"Sehnerv links" = "optic_nerve"\n', encoding="utf-8")
    assert load_name_mapping(path).map("Sehnerv links").organ is Organ.OPTIC_NERVE


def test_user_mapping_bad_organ_names_line(tmp_path: Path) -> None:
    path = tmp_path / "mapping.yaml"
    path.write_text("mapping:\n  Hirnstamm: brain_stem\n  Milz: spleen\n", encoding="utf-8")
    with pytest.raises(ConstraintError, match=r"line 3 .*'Milz'.*spleen"):
        load_name_mapping(path)


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_TG263 = ["Brainstem", "SpinalCord", "OpticChiasm", "OpticNrv", "Lobe_Temporal", "Parotid", "Lens", "Eye", "Cochlea", "Bone_Mandible"]


@settings(max_examples=80, deadline=None)
@given(
    st.sampled_from(_TG263),
    st.sampled_from(["", "_L", "_R", " Lt", " RIGHT", "-left"]),
    st.sampled_from(["lower", "upper", "same"]),
    st.sampled_from(["_", " ", "-"]),
)
def test_case_and_separator_variants_map_alike(name: str, side: str, case: str, sep: str) -> None:
    reference = NameMapper().map(name + side)
    variant = (name + side).replace("_", sep)
    variant = {"lower": variant.lower(), "upper": variant.upper(), "same": variant}[case]
    mapped = NameMapper().map(variant)
    # Lower/upper case loses the camel-case split ("OpticChiasm" -> "opticchiasm"), which must still map.
    assert mapped.category is RoiCategory.ORGAN
    assert mapped.organ is reference.organ
    assert mapped.laterality is reference.laterality
