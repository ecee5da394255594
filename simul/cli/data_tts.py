"""``simul data tts``: speech for any parallel text, as a MuST-C layout corpus with word times.

A researcher's own sentence-aligned text (one source file, one file per target language, one
sentence per line) becomes a speech translation corpus: eSpeak NG speaks the source with a seeded
table of voices, and ``simul.data.corpus_writer`` writes talks, YAML, texts and gold word times.
Files may be gzip-compressed (``.gz``).  A line pair with an empty side is left out, and so is a
line whose words eSpeak NG cannot time one-to-one (rare: about 1 in 10,000 Multi30k lines); both
are logged and listed by line number in ``OUT/manifest.json``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import re
import time
from pathlib import Path

from simul.data.corpus_writer import SegmentText, TalkConfig, write_split
from simul.data.readers._common import require_line_count
from simul.data.tts import speaker_table
from simul.io import atomic_write_text

__all__ = ["add_parser", "read_lines", "run"]

logger = logging.getLogger(__name__)

_LANG = re.compile(r"^[A-Za-z][A-Za-z0-9-]*$")


def read_lines(path: Path) -> list[str]:
    """The stripped lines of a UTF-8 text file, gunzipped when its name ends in ``.gz``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"text file {path} does not exist.")
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ValueError(f"{path}:{line}: line is not valid UTF-8 ({error.reason}).") from error
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.strip() for line in lines]


def _target(value: str) -> tuple[str, Path]:
    lang, separator, path = value.partition("=")
    if not separator or not _LANG.match(lang) or not path:
        raise argparse.ArgumentTypeError(
            f"a target must be LANG=FILE (e.g. de=train.de), but is {value!r} instead."
        )
    return lang, Path(path)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "tts",
        help="speak a parallel text with eSpeak NG: a MuST-C layout corpus with gold word times",
        description=(
            "Speak each source line with an eSpeak NG voice (16 kHz, word times from the "
            "synthesiser) and write OUT/SPLIT in MuST-C layout: wav/*.wav talks, "
            "txt/SPLIT.yaml, txt/SPLIT.{src,lang...} and txt/SPLIT.jsonl with word times in ms. "
            "Files may be .gz. The same inputs and --seed give byte-identical files."
        ),
    )
    parser.add_argument(
        "--source", type=Path, required=True, help="source text, one sentence a line"
    )
    parser.add_argument(
        "--target", type=_target, action="append", required=True, metavar="LANG=FILE",
        help="a translation file, line-aligned with --source; repeat for more languages",
    )  # fmt: skip
    parser.add_argument(
        "--output", "--out", type=Path, required=True, dest="out",
        help="corpus root to write into (--out is the older name)",
    )  # fmt: skip
    parser.add_argument("--split", required=True, help="split name (train, dev, tst-COMMON, ...)")
    parser.add_argument(
        "--source-lang", default="en", help="language code of --source (default: en)"
    )
    parser.add_argument(
        "--limit", type=int, default=None, metavar="N", help="use the first N lines only"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seeds voices, gaps and noise (default: 0)"
    )
    parser.add_argument(
        "--num-speakers", type=int, default=8, metavar="N",
        help="size of the seeded voice table the talks draw from (default: 8)",
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
    parser.add_argument("--overwrite", action="store_true", help="replace the split if it exists")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.limit is not None and args.limit < 1:
        raise ValueError(f"`--limit` must be >= 1, but is {args.limit} instead.")
    targets = dict(args.target)
    if len(targets) != len(args.target) or args.source_lang in targets:
        raise ValueError(
            f"`--target` languages must be distinct and differ from --source-lang "
            f"{args.source_lang!r}, but are {[lang for lang, _ in args.target]} instead."
        )
    started = time.perf_counter()
    source = read_lines(args.source)
    texts = {}
    for lang, path in targets.items():
        texts[lang] = read_lines(path)
        require_line_count(path, texts[lang], len(source), str(args.source))
    count = len(source) if args.limit is None else min(args.limit, len(source))
    segments, line_numbers, empty_lines = [], [], []
    for index in range(count):
        if not source[index] or any(not texts[lang][index] for lang in targets):
            empty_lines.append(index + 1)
            continue
        segments.append(SegmentText(source[index], {lang: texts[lang][index] for lang in targets}))
        line_numbers.append(index + 1)
    if empty_lines:
        logger.warning(
            "left out %d line pairs with an empty side (first: line %d)",
            len(empty_lines), empty_lines[0],
        )  # fmt: skip
    manifest = write_split(
        args.out,
        args.split,
        segments,
        speaker_table(args.num_speakers, seed=args.seed),
        seed=args.seed,
        target_langs=list(targets),
        config=TalkConfig(
            segments_per_talk=args.segments_per_talk,
            noise_snr_db=args.noise_snr_db,
            jobs=args.jobs,
        ),
        source_lang=args.source_lang,
        progress=not args.no_progress,
        overwrite=args.overwrite,
    )
    record = {
        "command": "simul data tts",
        "source": str(args.source),
        "targets": {lang: str(path) for lang, path in targets.items()},
        "split": args.split,
        "lines_read": count,
        "segments": manifest.num_segments,
        "audio_hours": round(manifest.audio_hours, 6),
        "empty_lines": empty_lines,
        "untimed_lines": [
            {"line": line_numbers[skip.index], "reason": skip.reason} for skip in manifest.skipped
        ],
        "seed": args.seed,
    }
    atomic_write_text(
        Path(args.out) / "manifest.json", json.dumps(record, indent=2, sort_keys=True) + "\n"
    )
    logger.info(
        "%s: %d segments, %.3f h of audio in %.1f s (%d lines left out)",
        args.split, manifest.num_segments, manifest.audio_hours, time.perf_counter() - started,
        len(empty_lines) + len(manifest.skipped),
    )  # fmt: skip
    return 0
