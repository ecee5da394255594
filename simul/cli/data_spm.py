"""``simul data spm``: train a SentencePiece vocabulary (source, target or joint) on text files."""

from __future__ import annotations

import argparse
from pathlib import Path

from simul.data.tokenizer import SpmConfig, parse_tags, train_sentencepiece

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "spm",
        help="train a SentencePiece model (source, target or joint vocabulary) on text files",
        description=(
            "Train a SentencePiece model on one or more text files (one sentence per line) and "
            "write PREFIX.model and PREFIX.vocab atomically. Give the transcripts for a source "
            "vocabulary, the translations for a target one, or both for a joint one. Ids: <s>=0, "
            "<pad>=1 (also the transducer/CTC blank), </s>=2, <unk>=3, then the tags in order."
        ),
    )
    parser.add_argument(
        "--input",
        type=Path,
        nargs="+",
        required=True,
        metavar="FILE",
        help="text files, one sentence per line",
    )
    parser.add_argument(
        "--output",
        "--out",
        type=Path,
        required=True,
        metavar="PREFIX",
        dest="out",
        help="output path without extension: writes PREFIX.model and PREFIX.vocab (--out is the "
        "older name)",
    )
    parser.add_argument(
        "--vocab-size",
        type=int,
        default=SpmConfig.vocab_size,
        help="pieces in the model, special ids and tags included "
        f"(default: {SpmConfig.vocab_size})",
    )
    parser.add_argument(
        "--model-type",
        choices=("unigram", "bpe", "char", "word"),
        default="unigram",
        help="segmentation algorithm (default: unigram)",
    )
    parser.add_argument(
        "--character-coverage",
        type=float,
        default=1.0,
        help="fraction of characters covered: 1.0 for Latin scripts, 0.9995 for CJK (default: 1.0)",
    )
    parser.add_argument(
        "--tags",
        default="",
        help="comma-separated reserved symbols kept as single pieces, e.g. '<asr>,<st>,<de>' "
        "(default: none)",
    )
    parser.add_argument(
        "--input-sentence-size",
        type=int,
        default=0,
        help="sentences sampled from the input for training; 0 uses all (default: 0)",
    )
    parser.add_argument(
        "--num-threads",
        type=int,
        default=1,
        help="training threads (default: 1)",
    )
    parser.add_argument(
        "--whitespace-as-suffix",
        action="store_true",
        help="mark word ends (hel lo▁) instead of word starts (▁hel lo): a streaming model's "
        "words are then complete with their last piece (default: word starts)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    config = SpmConfig(
        vocab_size=args.vocab_size,
        model_type=args.model_type,
        character_coverage=args.character_coverage,
        tags=parse_tags(args.tags),
        input_sentence_size=args.input_sentence_size,
        num_threads=args.num_threads,
        whitespace_as_suffix=args.whitespace_as_suffix,
    )
    tokenizer = train_sentencepiece(args.out, config, input_paths=args.input)
    print(f"wrote {tokenizer.model_path} ({tokenizer.vocab_size} pieces)")
    if tokenizer.tags:
        print("tags: " + ", ".join(f"{tag}={index}" for tag, index in tokenizer.tags.items()))
    return 0
