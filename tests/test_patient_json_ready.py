"""results.json (issue 20 speed work): json_ready's exact-type shortcut gives the same JSON as the
isinstance chain. Oracle: the chain written out below."""

from __future__ import annotations

import dataclasses
import enum
import json
import math
from typing import Any

import numpy as np
import pytest

from dosimetry.patient.records import json_ready, record_dict

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
