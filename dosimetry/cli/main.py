"""Entry point of the ``dosimetry`` command.

Sub-commands are discovered from the modules of :mod:`dosimetry.cli.commands`. Each such module
defines ``register(subparsers)``, which adds its parser and sets ``handler`` (a function taking the
parsed namespace and returning the exit code) with ``parser.set_defaults(handler=...)``.

Exit codes: 0 done, 1 error (one readable line on stderr, no traceback unless ``--debug``),
2 usage error (argparse) or a check that failed where a command documents it.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import pkgutil
import sys
from collections.abc import Sequence

from dosimetry.cli import commands
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


class _ArgumentParser(argparse.ArgumentParser):
    """Resolves the lazy defaults of the command modules (:mod:`dosimetry.cli.commands._lazy`) after parsing.

    Sub-command parsers are of this class too (``add_subparsers`` uses the parent's class).
    """

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        return resolve_namespace(parsed), extras


def build_parser() -> argparse.ArgumentParser:
    """The ``dosimetry`` parser with every sub-command.

    Building it imports the command modules, which import only light modules at their top level
    (heavy libraries are imported by the handlers), so ``dosimetry --version`` and ``--help`` are quick.
    """
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
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{commands.__name__}.{module_info.name}")
        module.register(subparsers)
    return parser


def _configure_logging(debug: bool, verbose: bool) -> None:
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
