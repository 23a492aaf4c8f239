"""Entry point of the ``dosimetry`` command.

Sub-commands are listed in :data:`dosimetry.cli.commands.COMMANDS` (name and one-line help); each is a
module of :mod:`dosimetry.cli.commands` that defines ``register(subparsers)``, which adds its parser and
sets ``handler`` (a function taking the parsed namespace and returning the exit code) with
``parser.set_defaults(handler=...)``.

Only the sub-command that the command line names is imported and built (:class:`_LazySubParsersAction`).
Measured reason (issue 20, ``benchmarks/cli_startup.py``, medians on a 2-core machine): building every
sub-command parser (15 modules, ~258 ``add_argument`` calls) took ~0.08 s of the ~0.18 s of
``dosimetry --help``.

Exit codes: 0 done, 1 error (one readable line on stderr, no traceback unless ``--debug``),
2 usage error (argparse) or a check that failed where a command documents it.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any, cast

from dosimetry.cli.commands import COMMANDS, module_name
from dosimetry.cli.commands._lazy import resolve_namespace
from dosimetry.errors import DosimetryError

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_INTERNAL_ERROR = 3


class _VersionAction(argparse.Action):
    """``--version``: reads the installed version only when asked (importlib.metadata is slow to import)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **kwargs: object) -> None:
        super().__init__(option_strings=option_strings, dest=dest, default=argparse.SUPPRESS, nargs=0, help="show the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object, option_string: str | None = None) -> None:
        import dosimetry

        parser._print_message(f"dosimetry {dosimetry.__version__}\n", sys.stdout)
        parser.exit()


def _terminal_columns() -> int:
    """``shutil.get_terminal_size().columns`` (COLUMNS, else the terminal of stdout, else 80) without importing
    :mod:`shutil`, which argparse's help formatter would import for it: shutil imports bz2, lzma and zlib,
    about 6 ms of the ~90 ms of CPU of ``dosimetry --help`` (issue 20, measured with ``time.process_time``)."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):  # no stdout, closed, detached, not a terminal
            columns = 0
        columns = columns or 80
    return columns


class _ArgumentParser(argparse.ArgumentParser):
    """Resolves the lazy defaults of the command modules (:mod:`dosimetry.cli.commands._lazy`) after parsing,
    and gives its help formatters the terminal width (:func:`_terminal_columns`).

    Sub-command parsers are of this class too (``add_subparsers`` uses the parent's class).
    """

    def _get_formatter(self) -> argparse.HelpFormatter:
        # as argparse's own: the terminal width less 2
        return self.formatter_class(prog=self.prog, width=_terminal_columns() - 2)  # type: ignore[call-arg]

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        return resolve_namespace(parsed), extras


class _Unbuilt:
    """Placeholder of a sub-command parser that is not built yet: the module that registers it."""

    __slots__ = ("module",)

    def __init__(self, module: str) -> None:
        self.module = module


class _ParserMap(dict[str, Any]):
    """Name -> sub-command parser; ``map[name]`` builds an unbuilt parser on first access.

    argparse checks a command name with ``in`` (and lists the names by iterating), which need no
    parser, and looks the parser up with ``map[name]`` once the command line has named it.
    """

    def __init__(self, action: _LazySubParsersAction) -> None:
        super().__init__()
        self._action = action

    def __getitem__(self, name: str) -> Any:
        value = super().__getitem__(name)
        if isinstance(value, _Unbuilt):
            value = self._action.build(name, value.module)
        return value

    # the other ways to a parser build it too (never an _Unbuilt placeholder out of this map)
    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        return self[name] if name in self else default

    def values(self) -> list[Any]:  # type: ignore[override]
        return [self[name] for name in self]

    def items(self) -> list[tuple[str, Any]]:  # type: ignore[override]
        return [(name, self[name]) for name in self]


class _LazySubParsersAction(argparse._SubParsersAction):  # type: ignore[type-arg]
    """Sub-parsers whose help line is known from the start and whose parser is built on first use."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._name_parser_map = self.choices = _ParserMap(self)

    def add_lazy_parser(self, name: str, module: str, help: str) -> None:  # noqa: A002 - argparse's name
        """List ``name`` with ``help``; ``module.register(self)`` builds its parser when it is needed."""
        if name in self._name_parser_map:
            raise argparse.ArgumentError(self, f"conflicting subparser: {name}")
        self._choices_actions.append(self._ChoicesPseudoAction(name, (), help))
        self._name_parser_map[name] = _Unbuilt(module)

    def add_parser(self, name: str, **kwargs: Any) -> Any:
        if not isinstance(dict.get(self._name_parser_map, name), _Unbuilt):
            return super().add_parser(name, **kwargs)
        # the registration of a listed command: its help line is listed already
        if "help" in kwargs:
            raise TypeError(f"{name}: the one-line help of a sub-command is in dosimetry.cli.commands.COMMANDS")
        listed = [(key, dict.__getitem__(self._name_parser_map, key)) for key in self._name_parser_map]
        dict.__delitem__(self._name_parser_map, name)
        parser = super().add_parser(name, **kwargs)  # argparse's own (prog, parser class, aliases) ...
        listed_names = {key for key, _ in listed}
        added = [(key, value) for key, value in dict.items(self._name_parser_map) if key not in listed_names]
        dict.clear(self._name_parser_map)  # ... with the name back in its listed place (the "choose from" order)
        for key, value in [*listed, *added]:
            dict.__setitem__(self._name_parser_map, key, parser if key == name else value)
        return parser

    def build(self, name: str, module: str) -> Any:
        importlib.import_module(module).register(self)
        parser = dict.__getitem__(self._name_parser_map, name)
        if isinstance(parser, _Unbuilt):
            raise TypeError(f"{module}.register did not add the sub-command {name!r} listed in dosimetry.cli.commands.COMMANDS")
        return parser


def _top_level_parser() -> argparse.ArgumentParser:
    """The ``dosimetry`` parser without its sub-commands."""
    parser = _ArgumentParser(
        prog="dosimetry",
        description=(
            "Dosimetry and BED analysis for carbon-ion re-irradiation after a prior photon course. "
            "Doses in Gy (GyE for RBE-weighted dose), lengths in mm, volumes in cc."
        ),
    )
    parser.add_argument("--version", action=_VersionAction)
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logging")
    parser.add_argument("-v", "--verbose", action="store_true", help="info-level logging on stderr")
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The ``dosimetry`` parser with every sub-command listed and none built yet.

    A sub-command's parser is built (its module imported and registered) when the command line names it
    or when ``choices[name]`` of the sub-parsers action is read. The command modules import only light
    modules at their top level (heavy libraries are imported by the handlers).
    """
    parser = _top_level_parser()
    subparsers = cast(_LazySubParsersAction, parser.add_subparsers(dest="command", metavar="COMMAND", action=_LazySubParsersAction))
    for name, help_line in COMMANDS.items():
        subparsers.add_lazy_parser(name, module_name(name), help_line)
    return parser


def _configure_logging(debug: bool, verbose: bool) -> None:
    import logging  # here, not at the top: --help and usage errors exit before (logging costs ~9 ms to import)

    level = logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="dosimetry: %(levelname)s: %(message)s", stream=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.debug, args.verbose)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(handler(args))
    except DosimetryError as exc:
        if args.debug:
            raise
        print(f"dosimetry: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("dosimetry: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # stdout closed early by the reader (for example `dosimetry ... | head`): not an error of ours.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:  # noqa: BLE001 - the last line of defence of the CLI
        if args.debug:
            raise
        print(
            f"dosimetry: internal error: {type(exc).__name__}: {exc} "
            "(this is a bug; rerun with --debug for the traceback)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL_ERROR


if __name__ == "__main__":
    sys.exit(main())
