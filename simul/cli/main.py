"""Entry point of the ``simul`` console command.

Each subcommand lives in its own module under ``simul.cli`` and provides two functions:
``add_parser(subparsers)`` (declares its arguments and help) and ``run(args) -> int``
(does the work, returns the exit status).  The list below is explicit on purpose: no
registration by import side effect.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from simul import __version__
from simul.cli import data, demo, eval, score, sweep, train

_COMMANDS = (score, data, train, eval, sweep, demo)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="simul",
        description=(
            "simul: simultaneous speech translation research platform. "
            "Run `simul COMMAND --help` for the options of each command."
        ),
    )
    parser.add_argument("--version", action="version", version=f"simul {__version__}")
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="verbosity of the log on stderr (default: INFO)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in _COMMANDS:
        command.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen subcommand; user errors print one clear line."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, format="[simul] %(levelname)s %(message)s")
    try:
        return int(args.run(args) or 0)
    except (ValueError, FileNotFoundError) as error:
        print(f"simul {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
