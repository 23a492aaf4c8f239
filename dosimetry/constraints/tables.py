"""Published tolerance tables loaded from the package's versioned data files.

* ``dosimetry/data/emami1991.json``: Emami et al. 1991 (Int J Radiat Oncol Biol Phys 21:109-122),
  TD5/5 and TD50/5 for 1/3, 2/3 and 3/3 of the organ (spinal cord: 5, 10, 20 cm of length; skin:
  10, 30, 100 cm^2 of area). A value the paper does not give is ``None``, never 0.
* ``dosimetry/data/burman1991.json``: Burman et al. 1991 (21:123-135), Lyman-Kutcher-Burman
  parameters n, m and TD50 per organ and endpoint.

Both tables are in Gy at 1.8-2 Gy per fraction, i.e. they apply to EQD2 doses.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from importlib import resources
from typing import Any

from dosimetry.errors import ConstraintError

EMAMI_RESOURCE = "emami1991.json"
BURMAN_RESOURCE = "burman1991.json"


class Organ(StrEnum):
    """The organs of the Emami and Burman tables (value = key used in the data files)."""

    KIDNEY = "kidney"
    BLADDER = "bladder"
    FEMORAL_HEAD = "femoral_head"
    RIB_CAGE = "rib_cage"
    SKIN = "skin"
    BRAIN = "brain"
    BRAIN_STEM = "brain_stem"
    OPTIC_NERVE = "optic_nerve"
    OPTIC_CHIASM = "optic_chiasm"
    SPINAL_CORD = "spinal_cord"
    CAUDA_EQUINA = "cauda_equina"
    BRACHIAL_PLEXUS = "brachial_plexus"
    LENS = "lens"
    RETINA = "retina"
    EAR_MID_EXTERNAL = "ear_mid_external"
    PAROTID = "parotid"
    LARYNX = "larynx"
    LUNG = "lung"
    HEART = "heart"
    ESOPHAGUS = "esophagus"
    STOMACH = "stomach"
    SMALL_INTESTINE = "small_intestine"
    COLON = "colon"
    RECTUM = "rectum"
    LIVER = "liver"
    TM_JOINT_MANDIBLE = "tm_joint_mandible"


class VolumeAxis(StrEnum):
    """What the three partial-volume points of an Emami entry measure."""

    VOLUME_FRACTION = "volume_fraction"  # 1/3, 2/3, 3/3 of the organ volume
    LENGTH_CM = "length_cm"  # irradiated length (spinal cord)
    AREA_CM2 = "area_cm2"  # irradiated area (skin)


@dataclass(frozen=True)
class ToleranceEntry:
    """One Emami row: an organ, an endpoint and TD5/5, TD50/5 at three partial-volume points."""

    organ: Organ
    organ_name: str
    endpoint: str
    endpoint_id: str
    axis: VolumeAxis
    axis_points: tuple[float, float, float]
    td5_5_gy: tuple[float | None, float | None, float | None]
    td50_5_gy: tuple[float | None, float | None, float | None]
    notes: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.organ.value}:{self.endpoint_id}"

    def td5_points(self) -> tuple[tuple[float, float], ...]:
        """(axis point, TD5/5 Gy) pairs where the paper gives a value, in increasing axis order."""
        return tuple((p, v) for p, v in zip(self.axis_points, self.td5_5_gy, strict=True) if v is not None)

    def td50_points(self) -> tuple[tuple[float, float], ...]:
        return tuple((p, v) for p, v in zip(self.axis_points, self.td50_5_gy, strict=True) if v is not None)


@dataclass(frozen=True)
class EmamiTable:
    citation: str
    version: str
    units: str
    entries: tuple[ToleranceEntry, ...]
    notes: tuple[str, ...] = ()

    def for_organ(self, organ: Organ) -> tuple[ToleranceEntry, ...]:
        return tuple(e for e in self.entries if e.organ is organ)

    @property
    def organs(self) -> tuple[Organ, ...]:
        return tuple(dict.fromkeys(e.organ for e in self.entries))


@dataclass(frozen=True)
class LkbParameters:
    """Burman's LKB parameters for one organ and endpoint (TD50 for the whole organ)."""

    organ: Organ
    organ_name: str
    endpoint: str
    endpoint_id: str
    n: float
    m: float
    td50_gy: float
    notes: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.organ.value}:{self.endpoint_id}"


@dataclass(frozen=True)
class BurmanTable:
    citation: str
    version: str
    units: str
    entries: tuple[LkbParameters, ...]
    notes: tuple[str, ...] = ()

    def for_organ(self, organ: Organ) -> tuple[LkbParameters, ...]:
        return tuple(e for e in self.entries if e.organ is organ)

    def for_endpoint(self, organ: Organ, endpoint_id: str) -> LkbParameters | None:
        """The parameters for ``organ`` and ``endpoint_id``; None when Burman gives none."""
        for entry in self.entries:
            if entry.organ is organ and entry.endpoint_id == endpoint_id:
                return entry
        return None


def _read_resource(name: str) -> dict[str, Any]:
    resource = resources.files("dosimetry").joinpath("data", name)
    try:
        text = resource.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConstraintError(f"cannot read package data file dosimetry/data/{name}: {exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConstraintError(f"dosimetry/data/{name} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ConstraintError(f"dosimetry/data/{name}: expected a JSON object at top level")
    return data


def _field(record: dict[str, Any], key: str, where: str) -> Any:
    if key not in record:
        raise ConstraintError(f"{where}: missing field {key!r}")
    return record[key]


def _positive(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ConstraintError(f"{where}: expected a positive number, got {value!r}")
    return float(value)


def _triple(values: Any, where: str, *, nullable: bool) -> tuple[Any, Any, Any]:
    if not isinstance(values, list) or len(values) != 3:
        raise ConstraintError(f"{where}: expected a list of 3 values, got {values!r}")
    out: list[float | None] = []
    for value in values:
        if value is None and nullable:
            out.append(None)
        else:
            out.append(_positive(value, where))
    return (out[0], out[1], out[2])


def _organ(value: Any, where: str) -> Organ:
    try:
        return Organ(value)
    except ValueError as exc:
        raise ConstraintError(f"{where}: unknown organ {value!r}; expected one of {[o.value for o in Organ]}") from exc


def _identity(record: dict[str, Any], where: str) -> dict[str, Any]:
    """The organ and endpoint fields every table entry has."""
    return {
        "organ": _organ(_field(record, "organ", where), where),
        "organ_name": str(_field(record, "organ_name", where)),
        "endpoint": str(_field(record, "endpoint", where)),
        "endpoint_id": str(_field(record, "endpoint_id", where)),
    }


def _notes(record: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(n) for n in record.get("notes", []))


def _table_fields(data: dict[str, Any], source: str, entries: list[Any]) -> dict[str, Any]:
    """Citation, version, units, entries and notes of a table; its organ:endpoint keys must be unique."""
    keys = [e.key for e in entries]
    if len(set(keys)) != len(keys):
        raise ConstraintError(f"{source}: duplicate organ:endpoint keys")
    return {
        "citation": str(_field(data, "citation", source)),
        "version": str(_field(data, "version", source)),
        "units": str(_field(data, "units", source)),
        "entries": tuple(entries),
        "notes": _notes(data),
    }


def parse_emami(data: dict[str, Any], source: str = EMAMI_RESOURCE) -> EmamiTable:
    """Validate and freeze the Emami table read from ``source``."""
    entries = []
    for index, record in enumerate(_field(data, "entries", source)):
        where = f"{source} entries[{index}]"
        axis_value = _field(record, "axis", where)
        try:
            axis = VolumeAxis(axis_value)
        except ValueError as exc:
            raise ConstraintError(f"{where}: unknown axis {axis_value!r}") from exc
        points = _triple(_field(record, "axis_points", where), f"{where} axis_points", nullable=False)
        if not (points[0] < points[1] < points[2]):
            raise ConstraintError(f"{where}: axis_points must increase, got {points}")
        td5 = _triple(_field(record, "td5_5_gy", where), f"{where} td5_5_gy", nullable=True)
        td50 = _triple(_field(record, "td50_5_gy", where), f"{where} td50_5_gy", nullable=True)
        if all(v is None for v in td5):
            raise ConstraintError(f"{where}: no TD5/5 value at all")
        entries.append(
            ToleranceEntry(
                **_identity(record, where),
                axis=axis,
                axis_points=points,
                td5_5_gy=td5,
                td50_5_gy=td50,
                notes=_notes(record),
            )
        )
    return EmamiTable(**_table_fields(data, source, entries))


def parse_burman(data: dict[str, Any], source: str = BURMAN_RESOURCE) -> BurmanTable:
    """Validate and freeze the Burman LKB table read from ``source``."""
    entries = []
    for index, record in enumerate(_field(data, "entries", source)):
        where = f"{source} entries[{index}]"
        entries.append(
            LkbParameters(
                **_identity(record, where),
                n=_positive(_field(record, "n", where), f"{where} n"),
                m=_positive(_field(record, "m", where), f"{where} m"),
                td50_gy=_positive(_field(record, "td50_gy", where), f"{where} td50_gy"),
                notes=_notes(record),
            )
        )
    return BurmanTable(**_table_fields(data, source, entries))


@lru_cache(maxsize=1)
def load_emami() -> EmamiTable:
    """The Emami 1991 tolerance table shipped with the package."""
    return parse_emami(_read_resource(EMAMI_RESOURCE))


@lru_cache(maxsize=1)
def load_burman() -> BurmanTable:
    """The Burman 1991 LKB parameter table shipped with the package."""
    return parse_burman(_read_resource(BURMAN_RESOURCE))


def _entry_dict(entry: ToleranceEntry | LkbParameters) -> dict[str, Any]:
    """JSON-ready fields of one entry, in declaration order (enums as values, tuples as lists)."""
    out: dict[str, Any] = {}
    for spec in dataclasses.fields(entry):
        value = getattr(entry, spec.name)
        out[spec.name] = value.value if isinstance(value, StrEnum) else list(value) if isinstance(value, tuple) else value
    return out


def table_as_dict(table: EmamiTable | BurmanTable) -> dict[str, Any]:
    """JSON-ready form of a table (for ``dosimetry constraints --list emami|burman --json``)."""
    return {
        "citation": table.citation,
        "version": table.version,
        "units": table.units,
        "notes": list(table.notes),
        "entries": [_entry_dict(e) for e in table.entries],
    }


def emami_as_dict(table: EmamiTable) -> dict[str, Any]:
    return table_as_dict(table)


def burman_as_dict(table: BurmanTable) -> dict[str, Any]:
    return table_as_dict(table)
