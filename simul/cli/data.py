"""``simul data``: build, check and prepare corpora; one module per subcommand.

Each module in ``_SUBCOMMANDS`` provides ``add_parser(subparsers)`` and ``run(args)``, like the
top-level commands; this module only adds the ``data`` parser and its nested subparsers.  The
table is explicit on purpose: no registration by import side effect.

Why lazily, as in ``simul.cli.main``: the subcommands' modules pull in torch (fbank), pandas and
eflomal; ``simul data --help`` shows the summaries kept here and imports none of them, and
``simul data COMMAND`` imports only that command's module.
"""

from __future__ import annotations

import argparse
import importlib

__all__ = ["add_parser"]

#: Subcommand name -> (module, the summary ``simul data --help`` shows), in help order.
_SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "synth": (
        "simul.cli.data_synth",
        "build the built-in EN->DE/ES speech translation benchmark (grammar text + eSpeak NG)",
    ),
    "tts": (
        "simul.cli.data_tts",
        "speak a parallel text with eSpeak NG: a MuST-C layout corpus with gold word times",
    ),
    "check": (
        "simul.cli.data_check",
        "validate a corpus: reopen every audio file, read every segment, check texts and times",
    ),
    "cmvn": (
        "simul.cli.data_cmvn",
        "compute global CMVN statistics (fbank mean/std per mel bin) of a corpus split",
    ),
    "spm": (
        "simul.cli.data_spm",
        "train a SentencePiece model (source, target or joint vocabulary) on text files",
    ),
    "align": (
        "simul.cli.data_align",
        "word-align corpus splits with eflomal (for joint ASR/ST serialized targets)",
    ),
    "oracle": (
        "simul.cli.data_oracle",
        "oracle latency of a split (each target word when its last aligned source word ends)",
    ),
}


def add_parser(subparsers: argparse._SubParsersAction, subcommand: str | None = "*") -> None:
    """Add ``data`` and its subcommands; only ``subcommand``'s module is imported (``"*"``: all)."""
    parser = subparsers.add_parser(
        "data",
        help="corpora: build the benchmark, speak a bitext, check, prepare, align, oracle latency",
        description=(
            "Corpus commands. Run `simul data COMMAND --help` for the options of each command."
        ),
    )
    nested = parser.add_subparsers(dest="data_command", metavar="COMMAND", required=True)
    for name, (module, summary) in _SUBCOMMANDS.items():
        if subcommand in ("*", name):
            importlib.import_module(module).add_parser(nested)
        else:
            nested.add_parser(name, help=summary)
