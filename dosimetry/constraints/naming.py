"""ROI names to organs of the tolerance tables.

A name is normalised (camelCase split, lower case, spaces, hyphens, dots and underscores treated
alike), a laterality token at either end (``L``/``Lt``/``Left``, ``R``/``Rt``/``Right``) is taken
off, and the rest is looked up *exactly* in a table of TG-263 names and common synonyms. There is
no fuzzy matching: a misspelt name ("Brianstem", "Parotd_L") stays unmapped and is listed, never
silently skipped. Targets (GTV/CTV/ITV/PTV...), planning risk volumes (..._PRV) and the body
outline (External/Body) are recognised as non-organs.

Conventions worth knowing (this package's choices, not the paper's):

* temporal lobes (``Lobe_Temporal_L``) are checked against Emami's *brain* limits, with the volume
  fractions taken relative to the lobe (more conservative than relative to the whole brain);
* ``Eye`` and ``Retina`` map to Emami's retina, ``Lens`` to the lens;
* ``Mandible`` and ``Joint_TM`` map to "TM joint and mandible";
* ``Cochlea`` and the ear structures map to "ear (middle/external)", the only ear entry of the
  table (the cochlea is inner ear; the otitis limits are used as the closest available ones).

A user mapping file (YAML or TOML) overrides or extends the table::

    # mapping.yaml
    mapping:
      Hirnstamm: brain_stem
      "Cord PRV": non_organ      # recognised on purpose as a non-organ

Keys are ROI names (normalised the same way); values are organ keys of :class:`Organ` or
``non_organ``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from dosimetry.constraints.tables import Organ
from dosimetry.errors import ConstraintError, InputFileError


class Laterality(StrEnum):
    LEFT = "L"
    RIGHT = "R"
    NONE = ""


class RoiCategory(StrEnum):
    ORGAN = "organ"  # maps to an organ of the tolerance tables
    TARGET = "target"  # GTV, CTV, ITV, PTV, boost volumes
    EXTERNAL = "external"  # body outline
    PRV = "prv"  # planning organ-at-risk volume (margin structure)
    NON_ORGAN = "non_organ"  # declared a non-organ by the user mapping
    UNMAPPED = "unmapped"  # not recognised, or an organ the tables do not cover


_LEFT_TOKENS = frozenset({"l", "lt", "left", "lft"})
_RIGHT_TOKENS = frozenset({"r", "rt", "right", "rgt"})

# Normalised key (no separators) -> (TG-263 name without laterality, organ or None).
_SYNONYMS: dict[str, tuple[str, Organ | None]] = {}


def _add(tg263: str, organ: Organ | None, *keys: str) -> None:
    for key in (tg263, *keys):
        _SYNONYMS[re.sub(r"[^a-z0-9]", "", _split_camel(key).lower())] = (tg263, organ)


def _split_camel(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)


_add("Brain", Organ.BRAIN, "Cerebrum")
_add("Lobe_Temporal", Organ.BRAIN, "TemporalLobe", "Temporal_Lobe", "TempLobe", "Lobe_Temp")
_add("Brainstem", Organ.BRAIN_STEM, "Brain_Stem", "BrainStem")
_add("SpinalCord", Organ.SPINAL_CORD, "Spinal_Cord", "Cord", "Medulla_Spinalis", "Myelon")
_add("CaudaEquina", Organ.CAUDA_EQUINA, "Cauda")
_add("OpticChiasm", Organ.OPTIC_CHIASM, "Chiasm", "Chiasma", "Optic_Chiasma", "OpticChiasma")
_add("OpticNrv", Organ.OPTIC_NERVE, "Optic_Nerve", "OpticNerve")
_add("Eye", Organ.RETINA, "Globe", "Eyeball", "Eye_Ball")
_add("Retina", Organ.RETINA)
_add("Lens", Organ.LENS, "Eye_Lens")
_add("Parotid", Organ.PAROTID, "Parotids", "Parotid_Gland", "ParotidGland", "Gland_Parotid")
_add("Bone_Mandible", Organ.TM_JOINT_MANDIBLE, "Mandible", "Mandibula", "Jaw")
_add("Joint_TM", Organ.TM_JOINT_MANDIBLE, "TMJ", "TM_Joint", "Temporomandibular_Joint", "TMJoint")
_add("Cochlea", Organ.EAR_MID_EXTERNAL)
_add("Ear_Middle", Organ.EAR_MID_EXTERNAL, "Middle_Ear", "MiddleEar")
_add("Ear_External", Organ.EAR_MID_EXTERNAL, "External_Ear", "ExternalEar")
_add("Ear_Internal", Organ.EAR_MID_EXTERNAL, "Inner_Ear", "InnerEar", "Internal_Ear")
_add("Larynx", Organ.LARYNX)
_add("BrachialPlex", Organ.BRACHIAL_PLEXUS, "Brachial_Plexus", "BrachialPlexus", "Plexus_Brachialis")
_add("Esophagus", Organ.ESOPHAGUS, "Oesophagus")
_add("Lung", Organ.LUNG, "Lungs")
_add("Heart", Organ.HEART)
_add("Liver", Organ.LIVER)
_add("Kidney", Organ.KIDNEY, "Kidneys")
_add("Bladder", Organ.BLADDER)
_add("Rectum", Organ.RECTUM)
_add("Colon", Organ.COLON, "Bowel_Large", "Large_Bowel", "LargeBowel")
_add("Bowel_Small", Organ.SMALL_INTESTINE, "Small_Bowel", "SmallBowel", "Small_Intestine", "SmallIntestine")
_add("Stomach", Organ.STOMACH)
_add("Femur_Head", Organ.FEMORAL_HEAD, "Femoral_Head", "FemoralHead", "FemurHead", "Femur_Head_Neck")
_add("Ribs", Organ.RIB_CAGE, "Rib", "Rib_Cage", "RibCage")
_add("Skin", Organ.SKIN)
# TG-263 structures with no entry in the Emami/Burman tables: recognised, reported as unmapped.
_add("Pituitary", None, "Hypophysis")
_add("Thyroid", None)
_add("Cavity_Oral", None, "Oral_Cavity", "OralCavity")
_add("Glnd_Submand", None, "Submandibular", "Submandibular_Gland")
_add("Hippocampus", None)
_add("Cerebellum", None)
_add("Pharynx", None)
_add("Musc_Constrict", None, "Constrictors", "Pharyngeal_Constrictors")
_add("Lacrimal", None, "Glnd_Lacrimal", "Lacrimal_Gland")

_TARGET_PREFIXES = ("gtv", "ctv", "itv", "ptv", "boost")
_EXTERNAL_KEYS = frozenset({"external", "body", "outline", "bodyoutline", "patient", "skinsurface", "ext"})


@dataclass(frozen=True)
class RoiMapping:
    """How one ROI name was interpreted."""

    roi_name: str
    category: RoiCategory
    organ: Organ | None  # set when category is ORGAN
    laterality: Laterality
    canonical_name: str  # TG-263 name with laterality (Parotid_L) or the normalised name when unknown
    reason: str  # why it maps (or not) the way it does

    @property
    def match_key(self) -> str:
        """Key for matching protocol entries: the canonical name, lower case."""
        return self.canonical_name.lower()


def normalise_tokens(name: str) -> list[str]:
    """Lower-case tokens of a ROI name: camelCase split; spaces, ``_``, ``-``, ``.`` separate."""
    tokens = re.split(r"[\s_\-.]+", _split_camel(name.strip()).lower())
    return [t for t in tokens if t]


def _split_laterality(tokens: list[str]) -> tuple[list[str], Laterality]:
    if len(tokens) >= 2:
        for index in (-1, 0):
            token = tokens[index]
            if token in _LEFT_TOKENS or token in _RIGHT_TOKENS:
                side = Laterality.LEFT if token in _LEFT_TOKENS else Laterality.RIGHT
                rest = tokens[:-1] if index == -1 else tokens[1:]
                return rest, side
    return tokens, Laterality.NONE


def _with_side(name: str, side: Laterality) -> str:
    return f"{name}_{side.value}" if side is not Laterality.NONE else name


@dataclass(frozen=True)
class NameMapper:
    """Maps ROI names to organs; ``overrides`` (normalised key -> organ or None for non-organ)."""

    overrides: Mapping[str, Organ | None] = field(default_factory=dict)
    source: str = ""

    def map(self, roi_name: str) -> RoiMapping:
        tokens = normalise_tokens(roi_name)
        if not tokens:
            return RoiMapping(roi_name, RoiCategory.UNMAPPED, None, Laterality.NONE, roi_name, "empty name")
        full_key = "".join(tokens)
        base_tokens, side = _split_laterality(tokens)
        base_key = "".join(base_tokens)
        for key in (full_key, base_key):
            if key in self.overrides:
                organ = self.overrides[key]
                origin = f"user mapping {self.source}".strip()
                canonical = "_".join(tokens) if key == full_key else _with_side("_".join(base_tokens), side)
                if organ is None:
                    return RoiMapping(roi_name, RoiCategory.NON_ORGAN, None, side, canonical, f"declared a non-organ by {origin}")
                return RoiMapping(roi_name, RoiCategory.ORGAN, organ, side, canonical, f"{origin}: {organ.value}")
        if tokens[-1] == "prv" or re.fullmatch(r"prv\d*", tokens[-1]) or any(re.fullmatch(r"prv\d*", t) for t in tokens):
            return RoiMapping(roi_name, RoiCategory.PRV, None, side, "_".join(tokens), "planning risk volume (PRV), not an organ")
        if full_key.startswith(_TARGET_PREFIXES) or (tokens[0] in ("z", "opt") and any(t.startswith(_TARGET_PREFIXES) for t in tokens)):
            return RoiMapping(roi_name, RoiCategory.TARGET, None, side, "_".join(tokens), "target volume, not an organ")
        if full_key in _EXTERNAL_KEYS:
            return RoiMapping(roi_name, RoiCategory.EXTERNAL, None, Laterality.NONE, "External", "body outline, not an organ")
        for key, key_side in ((base_key, side), (full_key, Laterality.NONE)):
            if key in _SYNONYMS:
                tg263, organ = _SYNONYMS[key]
                canonical = _with_side(tg263, key_side)
                if organ is None:
                    return RoiMapping(roi_name, RoiCategory.UNMAPPED, None, key_side, canonical, f"TG-263 {tg263}: no Emami/Burman entry")
                return RoiMapping(roi_name, RoiCategory.ORGAN, organ, key_side, canonical, f"TG-263 {tg263} -> {organ.value}")
        return RoiMapping(roi_name, RoiCategory.UNMAPPED, None, side, "_".join(tokens), "name not recognised (no fuzzy matching)")

    def map_all(self, roi_names: Iterable[str]) -> tuple[RoiMapping, ...]:
        return tuple(self.map(name) for name in roi_names)


def _line_of(text: str, needle: str) -> int | None:
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    return None


def load_name_mapping(path: str | Path) -> NameMapper:
    """Read a user mapping file (``.yaml``/``.yml`` or ``.toml``); see the module docstring."""
    import yaml  # imported where used (12 ms CPU): only a YAML protocol or mapping file needs it

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputFileError(f"cannot read name mapping file {path}: {exc}") from exc
    suffix = path.suffix.lower()
    try:
        if suffix in (".yaml", ".yml"):
            data = yaml.safe_load(text)
        elif suffix == ".toml":
            data = tomllib.loads(text)
        else:
            raise ConstraintError(f"{path}: name mapping file must end in .yaml, .yml or .toml")
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise ConstraintError(f"{path}{line}: invalid YAML: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConstraintError(f"{path}: invalid TOML: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("mapping"), dict):
        raise ConstraintError(f"{path}: expected a top-level 'mapping' table of ROI name -> organ key")
    overrides: dict[str, Organ | None] = {}
    valid = [o.value for o in Organ] + ["non_organ"]
    for roi_name, target in data["mapping"].items():
        line_no = _line_of(text, str(roi_name))
        where = f"{path}" + (f" line {line_no}" if line_no else "") + f" ({roi_name!r})"
        if not isinstance(target, str) or target not in valid:
            raise ConstraintError(f"{where}: expected an organ key, one of {valid}, got {target!r}")
        key = "".join(normalise_tokens(str(roi_name)))
        if not key:
            raise ConstraintError(f"{where}: empty ROI name")
        overrides[key] = None if target == "non_organ" else Organ(target)
    return NameMapper(overrides=overrides, source=str(path))
