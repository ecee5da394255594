"""``simul data synth``: build simul's built-in speech translation benchmark, offline.

English sentences from the synchronous grammar (``simul.data.synth``) with German/Spanish
translations and gold alignments, spoken by eSpeak NG voices with gold word times, written in MuST-C
layout by ``simul.data.corpus_writer`` (:func:`simul.data.benchmark.build_corpus`).

Splits never share a sentence or a speaker: one grammar call draws the sentences of every split
(the grammar de-duplicates within a call) and deals them out in the order train, dev, test; the
speaker table is dealt out the same way.  Both deals depend only on ``--size`` and ``--seed``, so
``--splits test`` alone writes the same test split as a full build.  The grammar knobs are the
fields of ``GrammarConfig``, one option each.  ``OUT_DIR/manifest.json`` records this run's
settings and per-split counts; each split's own ``manifest.json`` has the details.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import logging
import textwrap
from pathlib import Path

from simul.data.benchmark import SIZES, SPLITS, build_corpus
from simul.data.corpus_writer import TalkConfig
from simul.data.synth import GrammarConfig

__all__ = ["add_parser", "run"]

logger = logging.getLogger(__name__)


def _field_docs(cls: type) -> dict[str, str]:
    """The attribute docstrings of a dataclass (the string under each field), for ``--help``."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError, SyntaxError):
        return {}
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    docs = {}
    for node, following in zip(body, body[1:], strict=False):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            docs[node.target.id] = " ".join(following.value.value.split())
    return docs


def _add_grammar_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("grammar knobs (GrammarConfig fields)")
    docs = _field_docs(GrammarConfig)
    for knob in dataclasses.fields(GrammarConfig):
        default = knob.default
        option = "--" + knob.name.replace("_", "-")
        doc = docs.get(knob.name, f"GrammarConfig.{knob.name}")
        if isinstance(default, bool):
            group.add_argument(
                option, dest=f"grammar_{knob.name}", action=argparse.BooleanOptionalAction,
                default=default, help=f"{doc} (default: {default})",
            )  # fmt: skip
        elif isinstance(default, (int, float)):
            group.add_argument(
                option, dest=f"grammar_{knob.name}", type=type(default), default=default,
                metavar="X", help=f"{doc} (default: {default})",
            )  # fmt: skip


def _grammar_config(args: argparse.Namespace) -> GrammarConfig:
    values = {
        knob.name: getattr(args, f"grammar_{knob.name}")
        for knob in dataclasses.fields(GrammarConfig)
        if hasattr(args, f"grammar_{knob.name}")
    }
    return GrammarConfig(**values)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "synth",
        help="build the built-in EN->DE/ES speech translation benchmark (grammar text + eSpeak NG)",
        description=(
            "Generate aligned English/German/Spanish sentences with the synchronous grammar, speak "
            "the English with eSpeak NG voices (16 kHz, gold word times) and write OUT_DIR in MuST-C "
            "layout: {split}/wav/*.wav talks, {split}/txt/{split}.yaml/.en/.de/.es, and "
            "{split}/txt/{split}.jsonl with word times (ms) and gold alignments. The same --size "
            "and --seed give byte-identical files, whatever --jobs is."
        ),
    )
    parser.add_argument("out_dir", type=Path, help="corpus root to create (MuST-C's en-xx/data)")
    parser.add_argument(
        "--size", choices=sorted(SIZES), default="tiny",
        help="tiny: 60/20/20 segments (seconds to build, for tests); small: 4000/200/200 (demo "
        "model); full: 30000/1000/1000 (default: tiny)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="seeds text, voices, gaps and noise")
    parser.add_argument(
        "--langs", nargs="+", default=["de", "es"], choices=["de", "es"],
        help="target languages to write (default: de es)",
    )  # fmt: skip
    parser.add_argument(
        "--splits", nargs="+", default=list(SPLITS), choices=SPLITS,
        help="splits to write (default: train dev test)",
    )  # fmt: skip
    parser.add_argument(
        "--noise-snr-db", type=float, default=None, metavar="DB",
        help="add white noise to every talk at this speech-to-noise ratio in dB (default: clean)",
    )  # fmt: skip
    parser.add_argument(
        "--segments-per-talk", type=int, default=TalkConfig().segments_per_talk, metavar="N",
        help=f"segments per talk wav (default: {TalkConfig().segments_per_talk})",
    )  # fmt: skip
    parser.add_argument(
        "--jobs", type=int, default=1, help="synthesis worker processes (default: 1)"
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace splits that OUT_DIR already holds"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    _add_grammar_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    talk_config = TalkConfig(
        segments_per_talk=args.segments_per_talk, noise_snr_db=args.noise_snr_db, jobs=args.jobs
    )
    build_corpus(
        args.out_dir, size=args.size, seed=args.seed, langs=args.langs, splits=args.splits,
        grammar=_grammar_config(args), talk_config=talk_config, progress=not args.no_progress,
        overwrite=args.overwrite,
    )  # fmt: skip
    return 0
