"""``simul data synth``: build simul's built-in speech translation benchmark, offline.

English sentences from the synchronous grammar (``simul.data.synth``) with German/Spanish
translations and gold alignments, spoken by eSpeak NG voices with gold word times, written in MuST-C
layout by ``simul.data.corpus_writer``.

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
import json
import logging
import textwrap
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simul.data.corpus_writer import SegmentText, TalkConfig, write_split
from simul.data.synth import GrammarConfig, SynthSentence, generate_sentences
from simul.data.tts import speaker_table
from simul.io import atomic_write_text

__all__ = ["SIZES", "CorpusSize", "add_parser", "build_corpus", "run", "segments_from_sentences"]

logger = logging.getLogger(__name__)

_SPLITS = ("train", "dev", "test")


@dataclass(frozen=True)
class CorpusSize:
    """How many segments and speakers each split of a preset size gets."""

    segments: dict[str, int]
    """Segments per split (``train``, ``dev``, ``test``)."""
    speakers: dict[str, int]
    """Distinct voices per split; splits never share one."""


SIZES = {
    "tiny": CorpusSize({"train": 60, "dev": 20, "test": 20}, {"train": 4, "dev": 2, "test": 2}),
    "small": CorpusSize(
        {"train": 4000, "dev": 200, "test": 200}, {"train": 16, "dev": 4, "test": 4}
    ),
    "full": CorpusSize(
        {"train": 30000, "dev": 1000, "test": 1000}, {"train": 40, "dev": 6, "test": 6}
    ),
}


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
        "--splits", nargs="+", default=list(_SPLITS), choices=_SPLITS,
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


def segments_from_sentences(
    sentences: list[SynthSentence], langs: list[str] | tuple[str, ...]
) -> list[SegmentText]:
    """Grammar sentences as corpus segments in ``langs``."""
    segments = []
    for sentence in sentences:
        missing = [lang for lang in langs if lang not in sentence.target_words]
        if missing:
            raise ValueError(
                f"the grammar must give every sentence a {'/'.join(langs)} translation, but "
                f"{' '.join(sentence.source_words)!r} lacks {', '.join(missing)}."
            )
        segments.append(
            SegmentText(
                source_text=" ".join(sentence.source_words),
                target_texts={lang: " ".join(sentence.target_words[lang]) for lang in langs},
                alignments={lang: tuple(sentence.alignments[lang]) for lang in langs},
                phenomena=frozenset(sentence.phenomena),
            )
        )
    return segments


def _deal(counts: dict[str, int]) -> dict[str, slice]:
    """Consecutive slices, train first: each split's share of one shared sequence."""
    slices, start = {}, 0
    for split in _SPLITS:
        slices[split] = slice(start, start + counts[split])
        start += counts[split]
    return slices


def build_corpus(
    out_dir: Path,
    *,
    size: str = "tiny",
    seed: int = 0,
    langs: Sequence[str] = ("de", "es"),
    splits: Sequence[str] = _SPLITS,
    grammar: GrammarConfig | None = None,
    talk_config: TalkConfig | None = None,
    progress: bool = True,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Build the built-in benchmark into ``out_dir`` (what ``simul data synth`` does).

    Args:
        out_dir: corpus root to create (MuST-C's ``en-xx/data``).
        size: a name in :data:`SIZES`.
        seed: seeds text, voices, gaps and noise.
        langs: target languages to write.
        splits: splits to write (any of ``train``, ``dev``, ``test``).
        grammar: the grammar knobs (default: ``GrammarConfig()``).
        talk_config: talk assembly and synthesis settings (default: ``TalkConfig()``).
        progress: show progress bars.
        overwrite: replace splits that ``out_dir`` already holds.

    Returns:
        The record also written to ``out_dir/manifest.json`` (settings, per-split counts).

    Raises:
        ValueError: an unknown size or split, or a split already there without ``overwrite``.
    """
    if size not in SIZES:
        raise ValueError(f"`size` must be one of {sorted(SIZES)}, but is {size!r} instead.")
    unknown = sorted(set(splits) - set(_SPLITS))
    if unknown:
        raise ValueError(f"`splits` must be among {list(_SPLITS)}, but has {unknown}.")
    counts = SIZES[size]
    grammar = grammar if grammar is not None else GrammarConfig()
    talk_config = talk_config if talk_config is not None else TalkConfig()
    langs = list(dict.fromkeys(langs))
    started = time.perf_counter()
    sentences = generate_sentences(grammar, sum(counts.segments.values()), seed=seed)
    voices = speaker_table(sum(counts.speakers.values()), seed=seed)
    sentence_slices, voice_slices = _deal(counts.segments), _deal(counts.speakers)
    written: dict[str, Any] = {}
    for split in (s for s in _SPLITS if s in splits):
        manifest = write_split(
            out_dir,
            split,
            segments_from_sentences(sentences[sentence_slices[split]], langs),
            voices[voice_slices[split]],
            seed=seed,
            target_langs=langs,
            config=talk_config,
            progress=progress,
            overwrite=overwrite,
        )
        written[split] = {
            "segments": manifest.num_segments,
            "talks": manifest.num_talks,
            "speakers": len(manifest.speakers),
            "audio_hours": round(manifest.audio_hours, 6),
            "skipped": len(manifest.skipped),
        }
        logger.info(
            "%s: %d segments in %d talks, %.3f h of audio, %d skipped",
            split, manifest.num_segments, manifest.num_talks, manifest.audio_hours,
            len(manifest.skipped),
        )  # fmt: skip
    record = {
        "command": "simul data synth",
        "size": size,
        "seed": seed,
        "langs": langs,
        "grammar": dataclasses.asdict(grammar),
        # Without `jobs`: the files, this one included, must not depend on it.
        "talks": {k: v for k, v in dataclasses.asdict(talk_config).items() if k != "jobs"},
        "splits": written,
    }
    atomic_write_text(
        Path(out_dir) / "manifest.json", json.dumps(record, indent=2, sort_keys=True) + "\n"
    )
    logger.info("wrote %s in %.1f s", out_dir, time.perf_counter() - started)
    return record


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
