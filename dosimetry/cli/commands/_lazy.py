"""Argument defaults and choices owned by modules too heavy to import while the parser is built.

``dosimetry COMMAND --help`` and usage errors must stay fast, so command modules do not import
numpy/scipy/pydicom/... at their top level. Some of their defaults and choices live in such modules
(an enum of the radiobiology package, the DVH engine's end-cap convention, the default outcome
endpoint). Rather than copying those values, the parser holds a reference to them:

* :class:`LazyValue` (a default): resolved by :func:`resolve_namespace` after parsing (the
  top-level parser of :mod:`dosimetry.cli.main` does this), and by ``str``/``repr``/``format``
  when a help text shows ``%(default)s`` or ``%(default)r``;
* :class:`LazyChoices` (the ``.value`` of every member of an enum): resolved when argparse checks a
  given value or prints the usage of that sub-command. Set it with :func:`set_lazy_choices` after
  ``add_argument`` (``add_argument`` itself formats the choices, which would import the module).

Where only importing the owning package costs more than the start-up budget (issue 20: ``--help``
under 0.15 s; ``dosimetry.outcomes`` imports scipy, about 2 s of CPU here, ``dosimetry.radiobiology``
numpy, about 0.3 s), ``shown=`` gives the value as the help and usage text print it. It is used for
printing only: parsing, checking a given choice and :func:`resolve_namespace` still use the owning
module's value, and ``tests/test_cli_lazy_parser.py`` checks that every ``shown`` equals it.

This module is private to the CLI (its name starts with ``_``, so it is not a sub-command).
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Iterator, Sequence
from typing import Any, overload


def _lookup(module: str, attribute: str) -> Any:
    value: Any = importlib.import_module(module)
    for part in attribute.split("."):
        value = getattr(value, part)
    return value


class _Unset:
    """``shown`` not given: printing resolves the value."""


_RESOLVE = _Unset()


class LazyValue:
    """``module.attribute`` (dotted attribute path allowed, e.g. ``"DoseQuantity.BED.value"``), looked up on use.

    ``shown``: the value as help texts print it, without importing ``module`` (see the module docstring).
    """

    __slots__ = ("module", "attribute", "shown")

    def __init__(self, module: str, attribute: str, *, shown: object = _RESOLVE) -> None:
        self.module = module
        self.attribute = attribute
        self.shown = shown

    def resolve(self) -> Any:
        return _lookup(self.module, self.attribute)

    def _printed(self) -> Any:
        return self.resolve() if self.shown is _RESOLVE else self.shown

    def __str__(self) -> str:
        return str(self._printed())

    def __repr__(self) -> str:
        return repr(self._printed())

    def __format__(self, spec: str) -> str:
        return format(self._printed(), spec)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LazyValue):
            return (self.module, self.attribute) == (other.module, other.attribute)
        return bool(self.resolve() == other)

    def __hash__(self) -> int:
        return hash((self.module, self.attribute))


class LazyChoices(Sequence[str]):
    """The ``.value`` of every member of the enum ``module.enum_name``, in definition order.

    ``shown``: those values as the usage and help print them (and the "choose from" list of an invalid
    choice), without importing ``module``; whether a given value is a choice is still asked of the enum.
    """

    def __init__(self, module: str, enum_name: str, *, shown: Sequence[str] | None = None) -> None:
        self.module = module
        self.enum_name = enum_name
        self.shown = None if shown is None else tuple(shown)
        self._values: tuple[str, ...] | None = None

    def resolved(self) -> tuple[str, ...]:
        if self._values is None:
            self._values = tuple(member.value for member in _lookup(self.module, self.enum_name))
        return self._values

    def _printed(self) -> tuple[str, ...]:
        return self.resolved() if self.shown is None else self.shown

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...

    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        return self._printed()[index]

    def __len__(self) -> int:
        return len(self._printed())

    def __iter__(self) -> Iterator[str]:
        return iter(self._printed())

    def __contains__(self, value: object) -> bool:
        return value in self.resolved()

    def __repr__(self) -> str:
        return repr(list(self._printed()))


def set_lazy_choices(action: argparse.Action, choices: LazyChoices) -> argparse.Action:
    """Give ``action`` (returned by ``add_argument``) choices resolved only when they are needed."""
    action.choices = choices
    return action


def resolve_namespace(namespace: argparse.Namespace) -> argparse.Namespace:
    """Replace every :class:`LazyValue` left as a default in ``namespace`` by its value."""
    for name, value in vars(namespace).items():
        if isinstance(value, LazyValue):
            setattr(namespace, name, value.resolve())
    return namespace
