"""results.json checks (issue 20 speed work): schema_errors' direct check (_surely_valid) never calls
an invalid document valid and gives jsonschema's answer; json_ready's exact-type shortcut gives the
same JSON as the isinstance chain. Oracles: jsonschema itself, and the chain written out below."""

from __future__ import annotations

import copy
import dataclasses
import enum
import json
import math
import random
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest

import dosimetry
from dosimetry.patient.records import json_ready, record_dict
from dosimetry.patient.schema import RESULTS_SCHEMA, _surely_valid, schema_errors
from tests.test_constraints_check_cli import patient  # noqa: F401  (the synthetic two-course patient fixture)

#: values a leaf is replaced with: every JSON type, and the edge cases of the type tests
REPLACEMENTS: tuple[Any, ...] = (None, True, False, 0, 1, 1.0, -2.5, float("nan"), "", "x", "pass", [], {}, [1], {"a": 1})


def _jsonschema_errors(document: Any) -> list[str]:
    validator = jsonschema.Draft202012Validator(RESULTS_SCHEMA)
    errors = sorted(validator.iter_errors(document), key=lambda e: [str(p) for p in e.absolute_path])
    return [f"{e.json_path}: {e.message}" for e in errors]


def _paths(node: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [here]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*here, key))
    elif isinstance(node, list):
        for i, value in enumerate(node[:3]):  # the first items of each list (rows share one item schema)
            found += _paths(value, (*here, i))
    return found


def _mutants(document: dict[str, Any], rng: random.Random, count: int) -> list[dict[str, Any]]:
    """Documents one change away from ``document``: a value replaced, a key removed or added."""
    paths = [p for p in _paths(document) if p]
    out = []
    for _ in range(count):
        path = rng.choice(paths)
        mutant = copy.deepcopy(document)
        parent = mutant
        for step in path[:-1]:
            parent = parent[step]
        action = rng.random()
        if action < 0.7:
            parent[path[-1]] = copy.deepcopy(rng.choice(REPLACEMENTS))
        elif action < 0.85 and isinstance(parent, dict):
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent["unexpected_key"] = 1
        else:
            parent.append(copy.deepcopy(rng.choice(REPLACEMENTS)))
        out.append(mutant)
    return out


@pytest.fixture(scope="module")
def documents(patient: Path) -> list[dict[str, Any]]:  # noqa: F811
    with_prior = dosimetry.load_patient(patient).results().to_dict()
    alone = dosimetry.load_patient(patient / "current").results().to_dict()
    return [json.loads(json.dumps(with_prior)), json.loads(json.dumps(alone))]


def test_documents_written_are_found_valid_directly(documents: list[dict[str, Any]]) -> None:
    for document in documents:
        assert _jsonschema_errors(document) == []
        assert _surely_valid(document, RESULTS_SCHEMA)  # the fast path is taken for what analyze writes


def test_direct_check_never_calls_an_invalid_document_valid(documents: list[dict[str, Any]]) -> None:
    rng = random.Random(20)
    decided = 0
    for document in documents:
        for mutant in _mutants(document, rng, 100):
            expected = _jsonschema_errors(mutant)
            if _surely_valid(mutant, RESULTS_SCHEMA):  # schema_errors answers [] without jsonschema
                assert expected == []
                decided += 1
    assert decided > 0  # some mutants are still valid (e.g. another string), and found so directly


def test_unknown_keywords_leave_the_answer_to_jsonschema() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 3}}}
    assert not _surely_valid({"n": 5}, schema)  # "minimum" is not a keyword the direct check knows
    assert schema_errors({"n": 2}, schema) == ["$.n: 2 is less than the minimum of 3"]
    assert schema_errors({"n": 5}, schema) == []
    assert not _surely_valid({"n": 1.0}, {"type": "object", "properties": {"n": {"type": "integer"}}})  # draft: valid; jsonschema says so
    assert schema_errors({"n": 1.0}, {"type": "object", "properties": {"n": {"type": "integer"}}}) == []


class _Colour(enum.Enum):
    RED = "red"


class _Size(enum.IntEnum):
    BIG = 2


class _Word(enum.StrEnum):
    HELLO = "hello"


@dataclasses.dataclass(frozen=True)
class _Row:
    name: str
    value: float
    colour: _Colour
    extra: Any = None


@dataclasses.dataclass(frozen=True)
class _WithToDict:
    a: int

    def to_dict(self) -> dict[str, Any]:
        return {"a": self.a, "twice": (self.a, self.a)}


def _chain(value: Any) -> Any:
    """json_ready before its exact-type shortcut (the oracle)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        to_dict = getattr(value, "to_dict", None)
        return _chain(to_dict()) if callable(to_dict) else {f.name: _chain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _chain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_chain(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, np.floating):
        value = float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def test_json_ready_same_as_the_isinstance_chain() -> None:
    values: list[Any] = [
        None, True, 0, 3, 2.5, float("inf"), float("-inf"), float("nan"), "s", _Word.HELLO, _Size.BIG, _Colour.RED,
        np.float64(1.5), np.float64("nan"), np.float32(2.0), np.int64(7), np.bool_(True), np.str_("numpy text"),
        (1, 2.0, (float("nan"),)), [_Row("r", float("nan"), _Colour.RED, extra={1: (np.int32(3), _Word.HELLO)})],
        {2: "two", _Word.HELLO: [_WithToDict(4)]}, _WithToDict(5), _Row("x", 1.0, _Colour.RED),
    ]
    for value in values:
        ours, oracle = json_ready(value), _chain(value)
        assert json.dumps(ours) == json.dumps(oracle)
        assert [type(x) for x in _leaves(ours)] == [type(x) for x in _leaves(oracle)]
    row = _Row("y", float("inf"), _Colour.RED, extra=(np.float64(3.0),))
    assert record_dict(row) == {"name": "y", "value": None, "colour": "red", "extra": [3.0]}
    with pytest.raises(TypeError):
        record_dict(object())


def _leaves(node: Any) -> list[Any]:
    if isinstance(node, dict):
        return [x for k, v in node.items() for x in (k, *_leaves(v))]
    if isinstance(node, list):
        return [x for v in node for x in _leaves(v)]
    return [node]
