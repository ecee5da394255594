"""``simul data check DIR``: reopen every file of a corpus and report everything wrong with it."""

from __future__ import annotations

import argparse
import csv
import io
import logging
from dataclasses import replace
from pathlib import Path

from simul.data.check import (
    CheckConfig,
    Problem,
    check_items,
    format_report,
    problems_from_messages,
)
from simul.data.readers import (
    CORPUS_FORMATS,
    CorpusItem,
    detect_format,
    find_splits,
    read_corpus_split,
)
from simul.io import atomic_write_text

__all__ = ["add_parser", "run"]

logger = logging.getLogger(__name__)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "check",
        help="validate a corpus: reopen every audio file, read every segment, check texts and times",
        description=(
            "Validate a corpus directory (MuST-C layout, CoVoST 2, fairseq S2T manifests or "
            "SimulEval lists): every audio file is reopened and every segment's samples read "
            "(16 kHz, mono, finite, not all zero, inside the file), every transcript and "
            "translation present, word times increasing and inside their segment, alignment "
            "indices in range. All problems are collected and summarised; the exit status is 1 "
            "when there is any."
        ),
    )
    parser.add_argument("dir", type=Path, help="the corpus directory")
    parser.add_argument(
        "--format",
        choices=CORPUS_FORMATS,
        default=None,
        help="corpus layout (default: detected from the files in DIR)",
    )
    parser.add_argument(
        "--split",
        nargs="+",
        default=None,
        help="splits to check (MuST-C: dev tst-COMMON ...; s2t: manifest names without .tsv; "
        "default: every split found)",
    )
    parser.add_argument("--src-lang", default="en", help="language of the speech (default: en)")
    parser.add_argument(
        "--langs",
        "--tgt-langs",
        nargs="+",
        default=None,
        dest="tgt_langs",
        help="target languages that must be present (default: every one the layout shows; "
        "--tgt-langs is the older name)",
    )
    parser.add_argument(
        "--allow-resample",
        action="store_true",
        help="accept audio that is not 16 kHz mono: the feature pipeline resamples it to 16 kHz "
        "(and mixes it down to mono); without this flag such files are problems",
    )
    parser.add_argument(
        "--clips-dir", type=Path, default=None, help="CoVoST 2 clips (default: DIR/clips)"
    )
    parser.add_argument(
        "--audio-root",
        type=Path,
        default=None,
        help="base of relative audio paths in s2t manifests and SimulEval lists "
        "(default: the manifest's or list's directory)",
    )
    parser.add_argument(
        "--problems-out",
        type=Path,
        default=None,
        help="also write every problem to this TSV file (kind, where, message)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(run=run)


def _write_problems(path: Path, problems: list[Problem]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t", lineterminator="\n")
    writer.writerow(["kind", "where", "message"])
    for problem in problems:
        writer.writerow([problem.kind, problem.where, problem.message])
    atomic_write_text(path, buffer.getvalue())


def run(args: argparse.Namespace) -> int:
    corpus_format = args.format or detect_format(args.dir)
    splits = args.split or find_splits(args.dir, corpus_format)
    if not splits:
        raise ValueError(f"{args.dir} has no split in the {corpus_format} layout.")
    all_problems: list[Problem] = []
    for split in splits:
        messages: list[str] = []
        items: list[CorpusItem] = []
        try:
            items = read_corpus_split(
                args.dir,
                corpus_format,
                split,
                src_lang=args.src_lang,
                tgt_langs=args.tgt_langs,
                clips_dir=args.clips_dir,
                audio_root=args.audio_root,
                problems=messages,
            )
        except (ValueError, FileNotFoundError) as error:
            all_problems.append(Problem("corpus", f"{args.dir} ({split})", str(error)))
            print(f"[{corpus_format} {split}] cannot be read: {error}")
            continue
        has_transcripts = any(item.instance.source_text for item in items)
        config = CheckConfig(
            allow_resample=args.allow_resample,
            require_source_text=corpus_format != "simuleval" or has_transcripts,
            target_langs=tuple(args.tgt_langs) if args.tgt_langs else None,
            progress=not args.no_progress,
        )
        report = check_items(items, config)
        # Entries the reader had to skip come first, as problems of kind "entry".
        report = replace(report, problems=(*problems_from_messages(messages), *report.problems))
        all_problems.extend(report.problems)
        print(f"[{corpus_format} {split}] {format_report(report)}")
    if args.problems_out is not None:
        _write_problems(args.problems_out, all_problems)
        logger.info("wrote %d problems to %s", len(all_problems), args.problems_out)
    print(
        f"{len(all_problems)} problems in {len(splits)} splits"
        if all_problems
        else "no problems found"
    )
    return 1 if all_problems else 0
