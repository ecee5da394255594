"""``simul data``: build, check and prepare corpora; one module per subcommand.

Each module in ``_SUBCOMMANDS`` provides ``add_parser(subparsers)`` and ``run(args)``, like the
top-level commands; this module only adds the ``data`` parser and its nested subparsers.  The
tuple is explicit on purpose: no registration by import side effect.
"""

from __future__ import annotations

import argparse

from simul.cli import (
    data_align,
    data_check,
    data_cmvn,
    data_oracle,
    data_spm,
    data_synth,
    data_tts,
)

__all__ = ["add_parser"]

_SUBCOMMANDS = (data_synth, data_tts, data_check, data_cmvn, data_spm, data_align, data_oracle)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "data",
        help="corpora: build the benchmark, speak a bitext, check, prepare, align, oracle latency",
        description=(
            "Corpus commands. Run `simul data COMMAND --help` for the options of each command."
        ),
    )
    nested = parser.add_subparsers(dest="data_command", metavar="COMMAND", required=True)
    for command in _SUBCOMMANDS:
        command.add_parser(nested)
