"""The built-in speech translation benchmark: grammar sentences, spoken, in MuST-C layout.

English sentences from the synchronous grammar (:mod:`simul.data.synth`) with German/Spanish
translations and gold alignments, spoken by eSpeak NG voices with gold word times
(:mod:`simul.data.tts`), written in MuST-C layout by :mod:`simul.data.corpus_writer`.  ``simul
data synth`` and ``simul demo`` call :func:`build_corpus`.

Splits never share a sentence or a speaker: one grammar call draws the sentences of every split
(the grammar de-duplicates within a call) and deals them out in the order train, dev, test; the
speaker table is dealt out the same way.  Both deals depend only on ``size`` and ``seed``, so
building the test split alone writes the same test split as a full build.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simul.data.corpus_writer import SegmentText, TalkConfig, write_split
from simul.data.synth import GrammarConfig, SynthSentence, generate_sentences
from simul.data.tts import speaker_table
from simul.io import atomic_write_text

__all__ = ["SIZES", "SPLITS", "CorpusSize", "build_corpus", "segments_from_sentences"]

logger = logging.getLogger(__name__)

SPLITS = ("train", "dev", "test")


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
    for split in SPLITS:
        slices[split] = slice(start, start + counts[split])
        start += counts[split]
    return slices


def build_corpus(
    out_dir: Path,
    *,
    size: str = "tiny",
    seed: int = 0,
    langs: Sequence[str] = ("de", "es"),
    splits: Sequence[str] = SPLITS,
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
    unknown = sorted(set(splits) - set(SPLITS))
    if unknown:
        raise ValueError(f"`splits` must be among {list(SPLITS)}, but has {unknown}.")
    counts = SIZES[size]
    grammar = grammar if grammar is not None else GrammarConfig()
    talk_config = talk_config if talk_config is not None else TalkConfig()
    langs = list(dict.fromkeys(langs))
    started = time.perf_counter()
    sentences = generate_sentences(grammar, sum(counts.segments.values()), seed=seed)
    voices = speaker_table(sum(counts.speakers.values()), seed=seed)
    sentence_slices, voice_slices = _deal(counts.segments), _deal(counts.speakers)
    written: dict[str, Any] = {}
    for split in (s for s in SPLITS if s in splits):
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
