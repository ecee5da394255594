"""Entry point of the ``simul`` console command.

Each subcommand lives in its own module under ``simul.cli`` and provides two functions:
``add_parser(subparsers)`` (declares its arguments and help) and ``run(args) -> int``
(does the work, returns the exit status).  The list below is explicit on purpose: no
registration by import side effect.

Why the modules are imported lazily: importing them all (torch, pandas, matplotlib behind
them) took 2.5 s before any command ran.  ``simul --help`` now imports none of them (it shows
the one-line summaries kept here) and ``simul COMMAND ...`` imports only that command's module;
``tests/test_cli_startup.py`` checks that the summaries equal the modules' own.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from simul import __version__
from simul.logs import log_to_file

#: Command name -> (module, the one-line summary that ``simul --help`` shows), in help order.
_COMMANDS: dict[str, tuple[str, str]] = {
    "score": (
        "simul.cli.score",
        "score an instances.log: latency (AL, LAAL, DAL, AP, ATD, YAAL, ...) and quality per stream",
    ),
    "data": (
        "simul.cli.data",
        "corpora: build the benchmark, speak a bitext, check, prepare, align, oracle latency",
    ),
    "train": (
        "simul.cli.train",
        "train a model (transducer, ...) from a YAML config; resumes an interrupted run",
    ),
    "eval": (
        "simul.cli.eval",
        "run a test set simultaneously through a model and a policy; write instances.log and scores",
    ),
    "sweep": (
        "simul.cli.sweep",
        "run a grid of simul eval runs (policy x parameters x segment size), resumably; gather a table and a plot",
    ),
    "demo": (
        "simul.cli.demo",
        "end-to-end demo: build the corpus, train a streaming ASR T-T, evaluate native and "
        "wait-k policies, write a latency/WER table and plot",
    ),
}

_ALL = "*"

_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def build_parser(command: str | None = _ALL, nested: str | None = _ALL) -> argparse.ArgumentParser:
    """The ``simul`` parser, with the full sub-parser of ``command`` only.

    Args:
        command: the subcommand whose module is imported and whose arguments are declared;
            the others get a stub that only carries their summary.  ``"*"`` (default): all of
            them; ``None``: none (enough for ``simul --help`` and ``--version``).
        nested: for ``data``, the same choice among its subcommands.
    """
    parser = argparse.ArgumentParser(
        prog="simul",
        description=(
            "simul: simultaneous speech translation research platform. "
            "Run `simul COMMAND --help` for the options of each command."
        ),
    )
    parser.add_argument("--version", action="version", version=f"simul {__version__}")
    _add_log_options(parser, default=True)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module, summary) in _COMMANDS.items():
        if command in (_ALL, name):
            options = {"subcommand": nested} if name == "data" else {}
            importlib.import_module(module).add_parser(subparsers, **options)
        else:
            subparsers.add_parser(name, help=summary)
    for subparser in _subparsers(parser):
        _add_log_options(subparser, default=False)
    return parser


def _add_log_options(parser: argparse.ArgumentParser, *, default: bool) -> None:
    """``--log-level`` and ``--log-file``, on ``simul`` and on every subcommand.

    Why on both: ``simul eval ... --log-level DEBUG`` is where a user types it.  A subcommand's
    copy has no default (``SUPPRESS``), so it changes the value only when given there.
    """
    parser.add_argument(
        "--log-level", choices=_LOG_LEVELS, default="INFO" if default else argparse.SUPPRESS,
        help="verbosity of the log (default: INFO)",
    )  # fmt: skip
    parser.add_argument(
        "--log-file", type=Path, default=None if default else argparse.SUPPRESS, metavar="PATH",
        help="also append the log to PATH, one timestamped line per record (for batch jobs)",
    )  # fmt: skip


def _subparsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every subcommand's parser under ``parser``, nested ones (``simul data synth``) included."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for subparser in dict.fromkeys(action.choices.values()):  # aliases share a parser
                found += [subparser, *_subparsers(subparser)]
    return found


def _commands_in(argv: Sequence[str]) -> tuple[str | None, str | None]:
    """The subcommand named in ``argv`` (its first word that is not an option) and the word after it.

    Why not argparse: the point is to know which module to import before building the parser.
    An unknown or missing command gives ``None``, and argparse then reports it.
    """
    words: list[str] = []
    skip_value = False
    for word in argv:
        if skip_value:
            skip_value = False
        elif word in ("--log-level", "--log-file"):  # the logging options take a value
            skip_value = True
        elif not word.startswith("-"):
            words.append(word)
    command = words[0] if words and words[0] in _COMMANDS else None
    return command, (words[1] if command is not None and len(words) > 1 else None)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen subcommand; user errors print one clear line."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(*_commands_in(argv))
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, format="[simul] %(levelname)s %(message)s")
    with contextlib.ExitStack() as stack:
        if args.log_file is not None:
            stack.enter_context(log_to_file(args.log_file))
        try:
            return int(args.run(args) or 0)
        except (ValueError, FileNotFoundError) as error:
            logging.getLogger("simul").debug("%s failed", args.command, exc_info=True)
            print(f"simul {args.command}: error: {error}", file=sys.stderr)
            if args.log_file is not None:
                logging.getLogger("simul").error("simul %s: error: %s", args.command, error)
            return 2


if __name__ == "__main__":
    raise SystemExit(main())
