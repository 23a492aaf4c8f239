"""Names of a package imported from their modules on first use (PEP 562 module ``__getattr__``).

:mod:`dosimetry.io` and :mod:`dosimetry.dvh` export their public names this way, so that importing
the package (or a light module of it, such as :mod:`dosimetry.dvh.convention` for the command
line's ``--end-cap`` choices) does not import every reader or the whole DVH engine with numpy and
scipy (issue 20: the command line's start-up).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, modules: Mapping[str, str], namespace: dict[str, Any], public: list[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``: a name of ``modules`` (name -> module path) is
    imported from its module on first use and kept in ``namespace`` (the package's globals()); any
    other name is an AttributeError naming the package, as for an ordinary module."""

    def getattr_(name: str) -> Any:
        module = modules.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def dir_() -> list[str]:
        return sorted([*namespace, *public])

    return getattr_, dir_
