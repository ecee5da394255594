"""``simul data align``: word-align corpus splits with eflomal, for alignment-based serialization."""

from __future__ import annotations

import argparse
from pathlib import Path

from simul.data.readers import CORPUS_FORMATS
from simul.serialize.corpus_align import align_corpus
from simul.serialize.word_aligner import SYMMETRIZATIONS, AlignerConfig

__all__ = ["add_parser", "run"]

_DEFAULTS = AlignerConfig()


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "align",
        help="word-align corpus splits with eflomal (for joint ASR/ST serialized targets)",
        description=(
            "Align the transcripts and translations of one or more splits of a corpus directory "
            "with eflomal, in one run per target language (the splits are aligned together, so "
            "give the training split), symmetrize the two directions, and write "
            "OUT_DIR/SPLIT.LANG.jsonl (one {id, lang, alignment} object per instance) and "
            "OUT_DIR/SPLIT.LANG.json (settings, versions, and precision/recall/AER against the "
            "corpus' gold alignments when it has them). eflomal has no seed: align once and "
            "train from the file."
        ),
    )
    parser.add_argument("corpus_dir", type=Path, metavar="CORPUS_DIR", help="the corpus root")
    parser.add_argument(
        "--split", nargs="+", default=["train"], metavar="SPLIT", dest="splits",
        help="splits to align together (default: train)",
    )  # fmt: skip
    parser.add_argument(
        "--langs", "--lang", nargs="+", required=True, metavar="LANG", dest="langs",
        help="target languages, one eflomal run each (e.g. de es; --lang is the older name)",
    )  # fmt: skip
    parser.add_argument(
        "--format", choices=CORPUS_FORMATS, default=None, dest="corpus_format",
        help="corpus layout (default: detected)",
    )  # fmt: skip
    parser.add_argument("--src-lang", default="en", help="transcript language (default: en)")
    parser.add_argument(
        "--output", "--out-dir", type=Path, default=None, dest="out_dir",
        help="where to write (default: CORPUS_DIR/alignments; --out-dir is the older name)",
    )  # fmt: skip
    parser.add_argument(
        "--symmetrization", choices=SYMMETRIZATIONS, default=_DEFAULTS.symmetrization,
        help=f"how to combine the two directions (default: {_DEFAULTS.symmetrization})",
    )  # fmt: skip
    parser.add_argument(
        "--model", type=int, choices=(1, 2, 3), default=_DEFAULTS.model,
        help="eflomal model: 1 IBM1, 2 +HMM, 3 +fertility (default: 3)",
    )  # fmt: skip
    parser.add_argument(
        "--num-samplers", type=int, default=_DEFAULTS.num_samplers,
        help=f"independent samplers (default: {_DEFAULTS.num_samplers})",
    )  # fmt: skip
    parser.add_argument(
        "--rel-iterations", type=float, default=_DEFAULTS.rel_iterations,
        help="sampling iterations relative to eflomal's default (default: 1.0)",
    )  # fmt: skip
    parser.add_argument(
        "--null-prior", type=float, default=_DEFAULTS.null_prior,
        help=f"prior of a NULL link (default: {_DEFAULTS.null_prior})",
    )  # fmt: skip
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    config = AlignerConfig(
        symmetrization=args.symmetrization,
        model=args.model,
        num_samplers=args.num_samplers,
        rel_iterations=args.rel_iterations,
        null_prior=args.null_prior,
    )
    results = align_corpus(
        args.corpus_dir,
        args.splits,
        args.langs,
        config=config,
        corpus_format=args.corpus_format,
        src_lang=args.src_lang,
        out_dir=args.out_dir,
    )
    for result in results:
        line = f"wrote {result.path} ({result.num_instances} instances)"
        if result.gold is not None:
            line += (
                f"; against gold: precision {result.gold.precision:.4f}, "
                f"recall {result.gold.recall:.4f}, AER {result.gold.aer:.4f}"
            )
        print(line)
    return 0
