"""The CLI skeleton: version, help, and errors turned into one line and exit code 1."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from dosimetry import __version__, errors
from dosimetry.cli import main as cli_main


def test_version_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli_main.main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"dosimetry {__version__}"


def test_help_lists_commands() -> None:
    proc = subprocess.run([sys.executable, "-m", "dosimetry", "--help"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0
    assert "usage: dosimetry" in proc.stdout


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [
        (errors.InputFileError, OSError),
        (errors.DicomContentError, ValueError),
        (errors.UnsupportedDataError, ValueError),
        (errors.ConsistencyError, ValueError),
        (errors.GeometryError, ValueError),
        (errors.RadiobiologyError, ValueError),
        (errors.MetricError, ValueError),
        (errors.ConstraintError, ValueError),
        (errors.TrialDesignError, ValueError),
        (errors.ArgumentError, ValueError),
        (errors.OutputError, OSError),
    ],
)
def test_hierarchy_subclasses_builtin(cls: type[Exception], builtin: type[Exception]) -> None:
    assert issubclass(cls, errors.DosimetryError)
    assert issubclass(cls, builtin)


def _failing_parser(monkeypatch: pytest.MonkeyPatch, exc: Exception) -> None:
    real_build = cli_main.build_parser

    def build() -> argparse.ArgumentParser:
        parser = real_build()
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))

        def boom(_args: argparse.Namespace) -> int:
            raise exc

        sub.add_parser("boom").set_defaults(handler=boom)
        return parser

    monkeypatch.setattr(cli_main, "build_parser", build)


def test_dosimetry_error_is_one_line_exit_1(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _failing_parser(monkeypatch, errors.DicomContentError("RD.dcm: (3004,000E) DoseGridScaling missing"))
    code = cli_main.main(["boom"])
    err = capsys.readouterr().err
    assert code == 1
    assert err == "dosimetry: error: RD.dcm: (3004,000E) DoseGridScaling missing\n"


def test_debug_reraises(monkeypatch: pytest.MonkeyPatch) -> None:
    _failing_parser(monkeypatch, errors.GeometryError("bad grid"))
    with pytest.raises(errors.GeometryError):
        cli_main.main(["--debug", "boom"])


def test_unexpected_exception_is_one_line_not_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _failing_parser(monkeypatch, ZeroDivisionError("x"))
    code = cli_main.main(["boom"])
    err = capsys.readouterr().err
    assert code == cli_main.EXIT_INTERNAL_ERROR
    assert err.count("\n") == 1 and "Traceback" not in err


def test_check_and_analyze_share_their_patient_options() -> None:
    # One definition (cli/commands/_patient_options.py): same names, defaults, types and help.
    parser = cli_main.build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    shared = ("patient_dir", "prior", "registration", "assume_same_position", "residual", "protocol", "mapping")

    def options(command: str) -> dict[str, tuple[object, ...]]:
        actions = {a.dest: a for a in sub.choices[command]._actions}
        return {d: (tuple(actions[d].option_strings), actions[d].default, actions[d].type, actions[d].help) for d in shared}

    check, analyze = options("check"), options("analyze")
    assert {d: v[:3] for d, v in check.items()} == {d: v[:3] for d, v in analyze.items()}
    assert {d: v[3] for d, v in check.items() if d != "patient_dir"} == {d: v[3] for d, v in analyze.items() if d != "patient_dir"}
    assert check["residual"][1] is None  # "not given" is told apart from 0.3, so it can be refused without a prior course
