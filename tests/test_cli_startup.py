"""Building the ``dosimetry`` parser stays light: no heavy library is imported by it.

The top-level parser lists the sub-commands from a static table and builds only the one a command line
names (tests/test_cli_lazy_parser.py), and the command modules import numpy/scipy/pydicom/... only in
their handlers, so that ``--help`` and usage errors start fast. Defaults and choices owned by heavy
modules are referenced lazily (``dosimetry.cli.commands._lazy``); these tests check that they still
resolve to the owning modules' values.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import subprocess
import sys

import pytest

from dosimetry.cli import commands
from dosimetry.cli.commands._lazy import LazyChoices, LazyValue, resolve_namespace, set_lazy_choices
from dosimetry.cli.main import build_parser

HEAVY_MODULES = ("scipy", "SimpleITK", "matplotlib", "sqlalchemy", "dask", "distributed", "pydicom")


def _run_python(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _command_names() -> list[str]:
    """The sub-command names, from each command module's own ``register``."""
    names: list[str] = []
    for info in pkgutil.iter_modules(commands.__path__):
        if info.name.startswith("_"):
            continue
        parser = argparse.ArgumentParser()
        sub = parser.add_subparsers()
        importlib.import_module(f"{commands.__name__}.{info.name}").register(sub)
        assert len(sub.choices) == 1, f"{info.name} registered {list(sub.choices)}"
        names.extend(sub.choices)
    return sorted(names)


def test_building_the_parser_imports_no_heavy_library() -> None:
    out = _run_python(
        "import json, sys\n"
        "import dosimetry.cli.main as m\n"
        "from dosimetry.cli.commands import COMMANDS\n"
        "(sub,) = [a for a in m.build_parser()._actions if a.dest == 'command']\n"
        "built = [sub.choices[name] for name in COMMANDS]  # every sub-command parser\n"
        f"print(json.dumps(sorted(k for k in sys.modules if k.split('.')[0] in {list(HEAVY_MODULES)!r})))\n"
    )
    assert json.loads(out) == []


def test_version_imports_no_heavy_library() -> None:
    out = _run_python(
        "import json, sys\n"
        "import dosimetry.cli.main as m\n"
        "try:\n"
        "    m.main(['--version'])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
        f"print(json.dumps(sorted(k for k in sys.modules if k.split('.')[0] in {list(HEAVY_MODULES)!r})))\n"
    )
    lines = out.strip().splitlines()
    assert lines[0].startswith("dosimetry ")
    assert json.loads(lines[-1]) == []


@pytest.mark.parametrize("command", ["analyze", "check", "batch", "dvh"])
def test_help_of_a_command_with_end_cap_choices_imports_no_numpy(command: str) -> None:
    """Oracle: ``sys.modules`` after ``dosimetry COMMAND --help`` (which resolves the lazy ``--end-cap``
    choices from :mod:`dosimetry.dvh.convention`): neither numpy nor any heavy library was imported
    (issue 20: the CLI starts in under 0.15 s; numpy alone is about 0.07 s of it)."""
    out = _run_python(
        "import contextlib, io, json, sys\n"
        "import dosimetry.cli.main as m\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        f"        m.main([{command!r}, '--help'])\n"
        "    except SystemExit as exc:\n"
        "        assert exc.code == 0, exc.code\n"
        f"print(json.dumps(sorted(k for k in sys.modules if k.split('.')[0] in {[*HEAVY_MODULES, 'numpy']!r})))\n"
    )
    assert json.loads(out) == []


def test_help_lists_every_command() -> None:
    names = _command_names()
    assert {"accumulate", "dvh", "inspect", "schedule", "trial"} <= set(names)
    result = subprocess.run(
        [sys.executable, "-m", "dosimetry", "--help"], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    listed = {line.split()[0] for line in result.stdout.splitlines() if line.startswith("    ") and line.split()}
    missing = [name for name in names if name not in listed]
    assert not missing, f"not in 'dosimetry --help': {missing}\n{result.stdout}"


@pytest.mark.parametrize(
    ("argv", "dest", "module", "attribute"),
    [
        (["bed", "--dose", "d", "--out", "o", "--alpha-beta", "2"], "quantity", "dosimetry.quantities", "DoseQuantity.BED.value"),
        (["dvh", "--dose", "d", "--structures", "s"], "end_cap", "dosimetry.dvh.endcaps", "DEFAULT_END_CAP.value"),
        (
            ["indices", "--dose", "d", "--structures", "s", "--target", "T", "--prescription", "60"],
            "quantity",
            "dosimetry.indices.evaluate",
            "DoseQuantity.PHYSICAL.value",
        ),
        (["accumulate", "--current", "c", "--prior", "p", "--out", "o"], "residual", "dosimetry.radiobiology.summation", "DEFAULT_RESIDUAL"),
        (
            ["accumulate", "--current", "c", "--prior", "p", "--out", "o"],
            "method",
            "dosimetry.radiobiology.summation",
            "SummationMethod.BED_SPACE.value",
        ),
        (["correlate", "--results", "r", "--outcomes", "o"], "endpoint", "dosimetry.outcomes.table", "DEFAULT_ENDPOINT"),
    ],
)
def test_lazy_defaults_resolve_to_the_owning_module_value(argv: list[str], dest: str, module: str, attribute: str) -> None:
    expected: object = importlib.import_module(module)
    for part in attribute.split("."):
        expected = getattr(expected, part)
    value = getattr(build_parser().parse_args(argv), dest)
    assert not isinstance(value, LazyValue)
    assert type(value) is type(expected)
    assert value == expected


def test_trial_defaults_come_from_the_trial_models() -> None:
    from dosimetry.trial.crm_model import DEFAULT_PRIOR_VARIANCE, PROTOCOL_SKELETON, PROTOCOL_TARGET
    from dosimetry.trial.logistic import PROTOCOL_TOTAL_DOSE_GYE
    from dosimetry.trial.next_dose import SelectionRule

    parser = build_parser()
    nd = parser.parse_args(["trial", "next-dose", "--patients", "p.csv", "--window-months", "6"])
    assert nd.skeleton == list(PROTOCOL_SKELETON)
    assert nd.target == PROTOCOL_TARGET
    assert nd.prior_variance == DEFAULT_PRIOR_VARIANCE
    assert nd.selection_rule == SelectionRule.CLOSEST_NOT_ABOVE_TARGET.value
    from dosimetry.trial.rules import PROTOCOL_START_COHORT_SIZE, PROTOCOL_START_LEVEL, EscalationReference

    assert (type(nd.start_level), nd.start_level) == (int, PROTOCOL_START_LEVEL)
    assert (type(nd.start_cohort_size), nd.start_cohort_size) == (int, PROTOCOL_START_COHORT_SIZE)
    assert nd.escalation_reference == EscalationReference.MOST_RECENT_PATIENT.value
    assert parser.parse_args(["trial", "simulate", "--true-pdlt", "0.1", "--seed", "1", "--window-months", "6",
                              "--escalation-reference", "highest-tried"]).escalation_reference == "highest-tried"
    fe = parser.parse_args(["trial", "final-estimate", "--patients", "p.csv", "--window-months", "6"])
    assert fe.dose_gye == list(PROTOCOL_TOTAL_DOSE_GYE)


def test_an_explicit_value_is_kept_and_a_bad_choice_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    args = parser.parse_args(["bed", "--dose", "d", "--out", "o", "--alpha-beta", "2", "--quantity", "EQD2"])
    assert args.quantity == "EQD2"
    with pytest.raises(SystemExit) as exc:
        parser.parse_args(["dvh", "--dose", "d", "--structures", "s", "--end-cap", "flat"])
    assert exc.value.code == 2
    assert "invalid choice: 'flat' (choose from 'half-slab', 'truncated', 'shape')" in capsys.readouterr().err


def test_lazy_choices_and_value_on_a_plain_parser() -> None:
    parser = argparse.ArgumentParser(prog="x")
    set_lazy_choices(
        parser.add_argument("--method", default=LazyValue("dosimetry.radiobiology.summation", "SummationMethod.PHYSICAL.value")),
        LazyChoices("dosimetry.radiobiology.summation", "SummationMethod"),
    )
    assert "{bed-space,physical}" in parser.format_help()
    raw = parser.parse_args([])
    assert isinstance(raw.method, LazyValue)  # a plain parser leaves it; dosimetry's parser resolves it
    assert resolve_namespace(raw).method == "physical"
    assert parser.parse_args(["--method", "bed-space"]).method == "bed-space"
