"""The ``dosimetry`` parser lists every sub-command from a static table and builds only the one named.

Oracles: the command modules themselves (each registers exactly the table's name), a parser built
eagerly from every module (the shape before issue 20: same help texts, usage and errors), and
``sys.modules`` of a fresh interpreter (which command modules a command line imported).
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import subprocess
import sys
from typing import Any

import pytest

from dosimetry.cli import commands
from dosimetry.cli import main as cli_main
from dosimetry.cli.commands import COMMANDS, module_name


def _run_python(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


class _WithHelp:
    """Sub-parsers seen by a command module's ``register``: adds the table's one-line help (the eager shape)."""

    def __init__(self, subparsers: Any) -> None:
        self._subparsers = subparsers

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = self._subparsers.add_parser(name, help=COMMANDS[name], **kwargs)
        return parser


def _eager_parser() -> argparse.ArgumentParser:
    """Every sub-command built at once, as ``build_parser`` did before the lazy table."""
    parser = cli_main._top_level_parser()
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(module_name(name)).register(_WithHelp(subparsers))
    return parser


def _subparsers_action(parser: argparse.ArgumentParser) -> Any:
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return action


def test_the_table_names_every_command_module_and_each_registers_its_name() -> None:
    modules = sorted(f"{commands.__name__}.{m.name}" for m in pkgutil.iter_modules(commands.__path__) if not m.name.startswith("_"))
    listed = sorted(module_name(name) for name in COMMANDS)
    assert listed == modules, "a command module needs its row (name, one-line help) in dosimetry.cli.commands.COMMANDS"
    for name in COMMANDS:
        sub = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(module_name(name)).register(sub)
        assert list(sub.choices) == [name]
    assert list(COMMANDS) == sorted(COMMANDS)  # listed in the order of the modules, as the discovery did


def test_lazy_help_usage_and_errors_equal_the_eagerly_built_parser(capsys: pytest.CaptureFixture[str]) -> None:
    eager = _eager_parser()
    lazy = cli_main.build_parser()
    assert lazy.format_help() == eager.format_help()
    assert lazy.format_usage() == eager.format_usage()
    eager_sub, lazy_sub = _subparsers_action(eager), _subparsers_action(lazy)
    for name in COMMANDS:
        assert lazy_sub.choices[name].format_help() == eager_sub.choices[name].format_help(), name
    for argv in (["no-such-command"], ["analyze"], ["--bogus"], ["schedule", "--bogus"], ["bed", "--quantity", "x"]):
        outputs = []
        for parser in (eager, cli_main.build_parser()):
            with pytest.raises(SystemExit) as exc:
                parser.parse_args(argv)
            outputs.append((exc.value.code, capsys.readouterr().err))
        assert outputs[0] == outputs[1], argv
        assert outputs[0][0] == 2


def test_an_unknown_command_lists_every_command_in_table_order(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli_main.main(["no-such-command"])
    assert exc.value.code == 2
    listed = ", ".join(repr(name) for name in COMMANDS)
    err = capsys.readouterr().err
    assert err.endswith(f"dosimetry: error: argument COMMAND: invalid choice: 'no-such-command' (choose from {listed})\n")
    assert "'accumulate', 'analyze', 'batch', 'bed', 'check'" in err and err.count("', '") == len(COMMANDS) - 1


def test_top_level_help_lists_each_command_with_its_one_line_help() -> None:
    lazy_sub = _subparsers_action(cli_main.build_parser())
    assert [(a.dest, a.help) for a in lazy_sub._get_subactions()] == list(COMMANDS.items())


def _exit_code_and_modules_after(argv: list[str], selects: str) -> tuple[int, list[str]]:
    """In a fresh interpreter: ``dosimetry ARGV``'s exit code and the sorted ``sys.modules`` names ``k``
    for which the Python expression ``selects`` is true."""
    out = _run_python(
        "import contextlib, io, json, sys\n"
        "import dosimetry.cli.main as m\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
        "    try:\n"
        f"        code = m.main({argv!r})\n"
        "    except SystemExit as exc:\n"
        "        code = exc.code\n"
        f"print(json.dumps([code, sorted(k for k in sys.modules if {selects})]))\n"
    )
    code, modules = json.loads(out)
    return int(code), list(modules)


def _command_modules_after(argv: list[str]) -> tuple[int, list[str]]:
    return _exit_code_and_modules_after(argv, "k.startswith('dosimetry.cli.commands.')")


@pytest.mark.parametrize(
    ("argv", "code", "modules"),
    [
        (["--help"], 0, []),
        (["no-such-command"], 2, []),
        (["analyze"], 2, ["_patient_options", "analyze"]),
        (["schedule", "--help"], 0, ["schedule"]),
        (["rbe-convert", "--help"], 0, ["rbe_convert"]),
        (["schedule", "--dose-per-fraction", "2", "--fractions", "30", "--alpha-beta", "3"], 0, ["schedule"]),
    ],
)
def test_a_command_line_imports_only_the_command_it_names(argv: list[str], code: int, modules: list[str]) -> None:
    # _lazy (the lazy defaults) is imported by dosimetry.cli.main itself
    assert _command_modules_after(argv) == (code, [f"{commands.__name__}.{m}" for m in ["_lazy", *modules]])


def test_choices_builds_a_listed_command_on_first_access() -> None:
    sub = _subparsers_action(cli_main.build_parser())
    assert "dvh" in sub.choices and len(sub.choices) == len(COMMANDS)
    parser = sub.choices["dvh"]
    assert isinstance(parser, argparse.ArgumentParser) and parser.prog == "dosimetry dvh"
    assert sub.choices["dvh"] is parser  # built once
    assert sub.choices.get("dvh") is parser and sub.choices.get("no-such-command") is None
    assert isinstance(sub.choices.get("bed"), argparse.ArgumentParser)
    every = sub.choices.values()
    assert [p.prog for p in every] == [f"dosimetry {name}" for name in COMMANDS]
    assert [name for name, _ in sub.choices.items()] == list(COMMANDS)


def test_a_table_row_that_its_module_does_not_register_is_an_error() -> None:
    sub = _subparsers_action(cli_main.build_parser())
    sub.add_lazy_parser("not-registered", module_name("schedule"), "help")
    with pytest.raises(TypeError, match="did not add the sub-command 'not-registered'"):
        sub.choices["not-registered"]


def test_a_listed_command_whose_module_passes_its_own_help_is_an_error() -> None:
    sub = _subparsers_action(cli_main.build_parser())
    with pytest.raises(TypeError, match="one-line help of a sub-command"):
        sub.add_parser("schedule", help="another help line")
    with pytest.raises(argparse.ArgumentError, match="conflicting subparser: dvh"):
        sub.add_lazy_parser("dvh", module_name("dvh"), "again")


def _every_parser() -> list[argparse.ArgumentParser]:
    """Every sub-command parser, nested ones (``dosimetry trial next-dose``) included."""
    found: list[argparse.ArgumentParser] = []
    pending = [_subparsers_action(cli_main.build_parser()).choices[name] for name in COMMANDS]
    while pending:
        parser = pending.pop()
        found.append(parser)
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                pending.extend(action.choices.values())
    return found


def test_every_printed_copy_of_a_lazy_value_equals_the_owning_module_value(monkeypatch: pytest.MonkeyPatch) -> None:
    """Oracle: the owning module's value (LazyValue.resolve / LazyChoices.resolved), and the help and
    usage texts printed from it instead of from the copy."""
    from dosimetry.cli.commands._lazy import _RESOLVE, LazyChoices, LazyValue

    copies = 0
    for parser in _every_parser():
        printed = (parser.format_help(), parser.format_usage())
        for action in parser._actions:
            if isinstance(action.default, LazyValue) and action.default.shown is not _RESOLVE:
                copies += 1
                resolved = action.default.resolve()
                assert type(action.default.shown) is type(resolved) and action.default.shown == resolved, action.dest
                monkeypatch.setattr(action.default, "shown", _RESOLVE)  # module-level objects: restored after the test
            if isinstance(action.choices, LazyChoices) and action.choices.shown is not None:
                copies += 1
                assert action.choices.shown == action.choices.resolved(), action.dest
                monkeypatch.setattr(action.choices, "shown", None)
        assert (parser.format_help(), parser.format_usage()) == printed, parser.prog
    for name in COMMANDS:  # copies printed into a help text when the parser is built (trial --max-level)
        for value in vars(importlib.import_module(module_name(name))).values():
            if isinstance(value, LazyValue) and value.shown is not _RESOLVE:
                copies += 1
                assert type(value.shown) is type(value.resolve()) and value.shown == value.resolve(), value.attribute
    # correlate --endpoint, accumulate --method, trial --escalation-reference, --start-level,
    # --start-cohort-size (in four sub-commands) and --max-level
    assert copies >= 2 + 3 * 2 + 1


@pytest.mark.parametrize("columns", [None, "", "0", "-3", "abc", "37", "123"])
@pytest.mark.parametrize("terminal", [None, 101])
def test_terminal_columns_equal_shutil(monkeypatch: pytest.MonkeyPatch, columns: str | None, terminal: int | None) -> None:
    """Oracle: ``shutil.get_terminal_size().columns``, which argparse's formatter uses when no width is given."""
    import os
    import shutil

    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)

    def size(_fd: int) -> os.terminal_size:
        if terminal is None:
            raise OSError("not a terminal")
        return os.terminal_size((terminal, 40))

    monkeypatch.setattr(os, "get_terminal_size", size)
    assert cli_main._terminal_columns() == shutil.get_terminal_size().columns


HEAVY_OR_NUMPY = ("numpy", "scipy", "SimpleITK", "matplotlib", "sqlalchemy", "dask", "distributed", "pydicom")


@pytest.mark.parametrize("name", list(COMMANDS))
def test_help_and_usage_error_of_every_command_import_no_heavy_library(name: str) -> None:
    """Oracle: ``sys.modules`` after ``dosimetry NAME --help`` and after a usage error (an unknown option: the
    usage line prints the choices; no handler runs). Before issue 20's start-up work, accumulate, correlate
    and indices imported numpy (correlate also scipy) to print their help."""
    for argv in ([name, "--help"], [name, "--no-such-option"]):
        result = _exit_code_and_modules_after(argv, f"k.split('.')[0] in {list(HEAVY_OR_NUMPY)!r}")
        assert result == (0 if argv[-1] == "--help" else 2, []), argv
