"""`simul` imports only what the chosen command uses (start-up time; issue 16).

Not timed (timings belong in benchmarks/): the tests check which modules a command loads, which
is what made `simul --help` take 2.5 s (torch, pandas, matplotlib behind every command).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

from simul.cli import data as data_cli
from simul.cli import main as main_cli

_HEAVY = ("torch", "numpy", "pandas", "matplotlib", "sacrebleu", "jiwer", "fairseq2")


def _modules_loaded(argv: list[str]) -> set[str]:
    """The top-level modules loaded by ``simul ARGV`` (which exits through --help)."""
    code = (
        "import sys, json\n"
        "from simul.cli.main import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "sys.stdout = sys.__stdout__\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["score", "--help"],
        ["data", "--help"],
        ["data", "oracle", "--help"],
        ["sweep", "--help"],
        ["train", "--help"],
        ["demo", "--help"],
        ["--log-level", "ERROR", "score", "--help"],
    ],
)
def test_help_loads_no_heavy_module(argv: list[str]) -> None:
    loaded = _modules_loaded(argv)
    assert not loaded & set(_HEAVY), f"simul {' '.join(argv)} loaded {sorted(loaded & set(_HEAVY))}"


def _summaries(parser: argparse.ArgumentParser) -> dict[str, str]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {choice.dest: choice.help for choice in action._choices_actions}


def test_stub_summaries_are_the_commands_own() -> None:
    """The summaries `simul --help` shows without importing a command equal the command's own."""
    full = _summaries(main_cli.build_parser())
    assert full == {name: summary for name, (_, summary) in main_cli._COMMANDS.items()}
    data_parser = argparse.ArgumentParser()
    data_cli.add_parser(data_parser.add_subparsers())
    nested = _summaries(data_parser._subparsers._group_actions[0].choices["data"])
    assert nested == {name: summary for name, (_, summary) in data_cli._SUBCOMMANDS.items()}


def test_command_is_found_before_parsing() -> None:
    assert main_cli._commands_in(["--log-level", "DEBUG", "data", "check", "x"]) == (
        "data",
        "check",
    )
    assert main_cli._commands_in(["score", "runs/x", "--output", "y"]) == ("score", "runs/x")
    assert main_cli._commands_in(["--help"]) == (None, None)
    assert main_cli._commands_in(["nonsense"]) == (None, None)
