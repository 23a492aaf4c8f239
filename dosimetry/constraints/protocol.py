"""User protocol files: constraints in TG-263 metric syntax on a chosen dose quantity.

YAML::

    name: Institutional re-irradiation limits
    quantity: eqd2_cumulative          # default quantity (this value if omitted)
    constraints:
      BrainStem: "D0.03cc[Gy] < 54"
      OpticChiasm: ["D0.03cc[Gy] < 54", "Dmean[Gy] < 45"]
      Parotid_L:
        quantity: eqd2_current
        constraints: ["Dmean[Gy] < 26"]

TOML::

    name = "Institutional re-irradiation limits"
    quantity = "eqd2_cumulative"
    [constraints]
    BrainStem = "D0.03cc[Gy] < 54"
    [constraints.Parotid_L]
    quantity = "eqd2_current"
    constraints = ["Dmean[Gy] < 26"]

An optional ``recovery`` block chooses the recovery model of the prior course (model names and
options as for ``--recovery``, :data:`dosimetry.radiobiology.recovery.RECOVERY_SPEC_HELP`; a step
table path is relative to the protocol file)::

    recovery:
      model: constant                  # the default model (the protocol's 0.3)
      per_organ:
        serial: jones-grant-2014       # serial organs (spinal cord, brainstem, optic apparatus, ...)
        Parotid_L: "constant:0.5"
      alternatives: [step, "jones-grant-2014:fitted"]   # compared side by side in the report

(``recovery: jones-grant-2014`` alone sets the default model.)

Keys are structure names. They are matched to the patient's ROIs through
:mod:`dosimetry.constraints.naming` (so ``BrainStem`` matches a ROI named "Brain Stem" or
"Brainstem"; ``Parotid_L`` matches "Lt Parotid"). Any error names the file and the line.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dosimetry.constraints.metrics import Constraint, parse_constraint
from dosimetry.quantities import DoseBasis
from dosimetry.errors import ConstraintError, DosimetryError, InputFileError
from dosimetry.radiobiology.recovery import ConstantResidual, RecoveryModel, RecoverySelection, parse_recovery_model

if TYPE_CHECKING:
    import yaml

DEFAULT_QUANTITY = DoseBasis.EQD2_CUMULATIVE
_TOP_KEYS = frozenset({"name", "quantity", "constraints", "description", "recovery"})
_RECOVERY_KEYS = frozenset({"model", "per_organ", "alternatives"})
_ENTRY_KEYS = frozenset({"quantity", "constraints"})


@dataclass(frozen=True)
class ProtocolConstraint:
    structure: str  # the key as written in the file
    constraint: Constraint
    quantity: DoseBasis
    line: int  # 1-based line in the protocol file


@dataclass(frozen=True)
class Protocol:
    name: str
    source: str
    quantity: DoseBasis
    constraints: tuple[ProtocolConstraint, ...]
    recovery: RecoverySelection | None = None


class _Located:
    """A plain value with the 1-based line it was read from."""

    __slots__ = ("value", "line")

    def __init__(self, value: Any, line: int) -> None:
        self.value = value
        self.line = line


def _yaml_tree(node: yaml.Node) -> _Located:
    import yaml  # imported where used (12 ms CPU): only a YAML protocol or mapping file needs it

    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        mapping: dict[str, tuple[_Located, _Located]] = {}
        for key_node, value_node in node.value:
            key = _yaml_tree(key_node)
            mapping[str(key.value)] = (key, _yaml_tree(value_node))
        return _Located(mapping, line)
    if isinstance(node, yaml.SequenceNode):
        return _Located([_yaml_tree(item) for item in node.value], line)
    # Scalars: the safe constructor resolves the tag (numbers stay numbers, strings strings).
    return _Located(yaml.SafeLoader("").construct_object(node, deep=True), line)


def _toml_line(text: str, needle: str, start_line: int) -> int:
    """First line at or after ``start_line`` holding ``needle`` (TOML gives no positions)."""
    for number, line in enumerate(text.splitlines(), start=1):
        if number >= start_line and needle in line:
            return number
    return start_line


def _toml_tree(value: Any, text: str, context: tuple[str, ...] = (), line: int = 1) -> _Located:
    """Wrap parsed TOML with line numbers found by scanning the text from the parent's line."""
    if isinstance(value, dict):
        mapping: dict[str, tuple[_Located, _Located]] = {}
        for key, sub in value.items():
            key_line = _toml_key_line(text, context, key, line)
            mapping[key] = (_Located(key, key_line), _toml_tree(sub, text, (*context, key), key_line))
        return _Located(mapping, line)
    if isinstance(value, list):
        return _Located([_toml_tree(item, text, context, line) for item in value], line)
    if isinstance(value, str):
        return _Located(value, _toml_line(text, value, line))
    return _Located(value, line)


def _toml_key_line(text: str, parents: tuple[str, ...], key: str, start_line: int) -> int:
    """Line of ``key``: a ``[parents.key]`` header anywhere, else ``key =`` at or after ``start_line``."""
    header = re.compile(rf"^\s*\[\s*{re.escape('.'.join((*parents, key)))}\s*\]")
    assignment = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
    lines = text.splitlines()
    for number, line in enumerate(lines, start=1):
        if header.match(line):
            return number
    for number, line in enumerate(lines, start=1):
        if number >= start_line and assignment.match(line):
            return number
    return start_line


def _quantity(located: _Located, where: str) -> DoseBasis:
    try:
        return DoseBasis(located.value)
    except ValueError as exc:
        raise ConstraintError(
            f"{where} line {located.line}: unknown quantity {located.value!r}; expected one of {[q.value for q in DoseBasis]}"
        ) from exc


def _constraint_list(located: _Located, source: str, structure: str) -> list[_Located]:
    if isinstance(located.value, str):
        return [located]
    if isinstance(located.value, list) and located.value:
        return located.value
    raise ConstraintError(
        f"{source} line {located.line}: constraints for {structure!r} must be a string or a non-empty list of strings "
        "like 'D0.03cc[Gy] < 54'"
    )


def _recovery_model(located: _Located, source: str) -> RecoveryModel:
    if not isinstance(located.value, str):
        raise ConstraintError(f"{source} line {located.line}: a recovery model must be a string like 'jones-grant-2014'")
    spec = located.value
    name, sep, rest = spec.partition(":")
    if name.strip().lower() == "step" and rest and not Path(rest).is_absolute():
        spec = f"{name}{sep}{Path(source).parent / rest}"
    try:
        return parse_recovery_model(spec, argument=f"{source} line {located.line}:")
    except DosimetryError as exc:
        raise ConstraintError(str(exc)) from exc


def _recovery(located: _Located, source: str) -> RecoverySelection:
    if isinstance(located.value, str):
        return RecoverySelection(_recovery_model(located, source))
    if not isinstance(located.value, dict):
        raise ConstraintError(f"{source} line {located.line}: 'recovery' must be a model name or a mapping with {sorted(_RECOVERY_KEYS)}")
    block: dict[str, tuple[_Located, _Located]] = located.value
    for key, (key_loc, _) in block.items():
        if key not in _RECOVERY_KEYS:
            raise ConstraintError(f"{source} line {key_loc.line}: unknown key {key!r} under 'recovery'; expected {sorted(_RECOVERY_KEYS)}")
    default: RecoveryModel = _recovery_model(block["model"][1], source) if "model" in block else ConstantResidual()
    per_organ: list[tuple[str, RecoveryModel]] = []
    if "per_organ" in block:
        organs = block["per_organ"][1]
        if not isinstance(organs.value, dict):
            raise ConstraintError(f"{source} line {organs.line}: 'per_organ' must map structure names (or serial/parallel) to models")
        per_organ = [(name, _recovery_model(value, source)) for name, (_, value) in organs.value.items()]
    alternatives: list[RecoveryModel] = []
    if "alternatives" in block:
        items = block["alternatives"][1]
        entries = items.value if isinstance(items.value, list) else [items]
        alternatives = [_recovery_model(item, source) for item in entries]
    return RecoverySelection(default, tuple(per_organ), tuple(alternatives))


def parse_protocol_text(text: str, source: str, fmt: str) -> Protocol:
    """Parse protocol ``text`` in format ``fmt`` ("yaml" or "toml"); ``source`` names it in errors."""
    if fmt == "yaml":
        import yaml  # imported where used (12 ms CPU): only a YAML protocol or mapping file needs it

        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or str(exc)
            raise ConstraintError(f"{source}{where}: invalid YAML: {problem}") from exc
        if node is None:
            raise ConstraintError(f"{source} line 1: empty protocol file")
        root = _yaml_tree(node)
    elif fmt == "toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            found = re.search(r"line (\d+)", str(exc))
            where = f" line {found.group(1)}" if found else ""
            raise ConstraintError(f"{source}{where}: invalid TOML: {exc}") from exc
        root = _toml_tree(data, text)
    else:
        raise ConstraintError(f"{source}: protocol format must be yaml or toml, got {fmt!r}")

    if not isinstance(root.value, dict):
        raise ConstraintError(f"{source} line {root.line}: expected a mapping with 'constraints' at top level")
    top: dict[str, tuple[_Located, _Located]] = root.value
    for key, (key_loc, _) in top.items():
        if key not in _TOP_KEYS:
            raise ConstraintError(f"{source} line {key_loc.line}: unknown key {key!r}; expected one of {sorted(_TOP_KEYS)}")
    name = str(top["name"][1].value) if "name" in top else Path(source).stem
    quantity = _quantity(top["quantity"][1], source) if "quantity" in top else DEFAULT_QUANTITY
    if "constraints" not in top:
        raise ConstraintError(f"{source} line {root.line}: missing 'constraints' mapping of structure name -> constraint(s)")
    block_key, block = top["constraints"]
    if not isinstance(block.value, dict) or not block.value:
        raise ConstraintError(f"{source} line {block_key.line}: 'constraints' must be a non-empty mapping of structure name -> constraint(s)")
    items: list[ProtocolConstraint] = []
    for structure, (struct_loc, entry) in block.value.items():
        entry_quantity = quantity
        if isinstance(entry.value, dict):
            for key, (key_loc, _) in entry.value.items():
                if key not in _ENTRY_KEYS:
                    raise ConstraintError(
                        f"{source} line {key_loc.line}: unknown key {key!r} under {structure!r}; expected {sorted(_ENTRY_KEYS)}"
                    )
            if "quantity" in entry.value:
                entry_quantity = _quantity(entry.value["quantity"][1], source)
            if "constraints" not in entry.value:
                raise ConstraintError(f"{source} line {struct_loc.line}: {structure!r} has no 'constraints'")
            texts = _constraint_list(entry.value["constraints"][1], source, structure)
        else:
            texts = _constraint_list(entry, source, structure)
        for text_loc in texts:
            try:
                constraint = parse_constraint(text_loc.value)
            except ConstraintError as exc:
                raise ConstraintError(f"{source} line {text_loc.line} ({structure}): {exc}") from exc
            items.append(ProtocolConstraint(structure, constraint, entry_quantity, text_loc.line))
    recovery = _recovery(top["recovery"][1], source) if "recovery" in top else None
    return Protocol(name=name, source=source, quantity=quantity, constraints=tuple(items), recovery=recovery)


def load_protocol(path: str | Path) -> Protocol:
    """Read a protocol file; the format follows the extension (.yaml/.yml or .toml)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        fmt = "yaml"
    elif suffix == ".toml":
        fmt = "toml"
    else:
        raise ConstraintError(f"{path}: protocol file must end in .yaml, .yml or .toml")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputFileError(f"cannot read protocol file {path}: {exc}") from exc
    return parse_protocol_text(text, str(path), fmt)
