"""Align the splits of a corpus directory with eflomal and write one alignment file per split.

What ``simul data align`` does, as a function.  The splits given are aligned together, in one
eflomal run per target language: eflomal fits its model on the sentences it aligns, so giving
``train`` (the training bitext) with ``dev`` aligns dev with what train teaches.  Each split's
alignments go to ``OUT_DIR/{split}.{lang}.jsonl`` (``simul.serialize.alignment_file``), with a
record ``OUT_DIR/{split}.{lang}.json`` of the settings, the software versions and, when the
corpus has gold alignments (the built-in corpus), the precision, recall and alignment error
rate against them.  ``OUT_DIR`` defaults to ``CORPUS_DIR/alignments``, which no corpus layout
mistakes for a split or a language.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from simul.data.instance import Instance
from simul.data.readers import CorpusFormat, detect_format, read_corpus_split
from simul.io import atomic_write_text
from simul.provenance import provenance
from simul.serialize.alignment_file import AlignmentScores, alignment_scores, write_alignments
from simul.serialize.word_aligner import AlignerConfig, align_bitext

__all__ = ["SplitAlignment", "align_corpus", "default_alignment_dir"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SplitAlignment:
    """What was written for one split and one language."""

    split: str
    """The split name."""
    lang: str
    """The target language."""
    path: Path
    """The JSON-lines alignment file."""
    num_instances: int
    """Instances aligned."""
    gold: AlignmentScores | None
    """Scores against the corpus' gold alignments, when every instance has them."""


def default_alignment_dir(corpus_dir: Path) -> Path:
    """Where alignments of ``corpus_dir`` go by default: ``corpus_dir/alignments``."""
    return Path(corpus_dir) / "alignments"


def _gold(instances: Sequence[Instance], lang: str) -> list[tuple[tuple[int, int], ...]] | None:
    if any(i.alignments is None or lang not in i.alignments for i in instances):
        return None
    return [tuple(i.alignments[lang]) for i in instances]  # type: ignore[index]


def align_corpus(
    corpus_dir: Path,
    splits: Sequence[str],
    langs: Sequence[str],
    *,
    config: AlignerConfig | None = None,
    corpus_format: CorpusFormat | None = None,
    src_lang: str = "en",
    out_dir: Path | None = None,
) -> list[SplitAlignment]:
    """Align ``splits`` of ``corpus_dir`` into each of ``langs`` and write the files.

    Args:
        corpus_dir: a corpus directory in any layout ``simul.data.readers`` reads.
        splits: the splits to align together (the training split among them).
        langs: target languages; one eflomal run each.
        config: eflomal's settings and the symmetrization (Default: ``AlignerConfig()``).
        corpus_format: the layout (Default: detected).
        src_lang: the transcripts' language.
        out_dir: where to write (Default: ``default_alignment_dir(corpus_dir)``).

    Returns:
        One entry per (split, language), in that order.

    Raises:
        FileNotFoundError, ValueError: as the corpus readers, or for no splits or languages.
        RuntimeError: eflomal failed.
    """
    config = config or AlignerConfig()
    corpus_dir = Path(corpus_dir)
    if not splits or not langs:
        raise ValueError(
            f"`splits` and `langs` must each name at least one, but are {list(splits)} and "
            f"{list(langs)}."
        )
    corpus_format = corpus_format or detect_format(corpus_dir)
    out_dir = Path(out_dir) if out_dir is not None else default_alignment_dir(corpus_dir)
    by_split = {
        split: [
            item.instance
            for item in read_corpus_split(
                corpus_dir, corpus_format, split, src_lang=src_lang, tgt_langs=list(langs)
            )
        ]
        for split in dict.fromkeys(splits)
    }
    results = []
    for lang in dict.fromkeys(langs):
        instances = [instance for members in by_split.values() for instance in members]
        missing = next((i for i in instances if lang not in i.target_texts), None)
        if missing is not None:
            raise ValueError(
                f"instance {missing.id!r} of {corpus_dir} has no {lang!r} translation."
            )
        alignments = align_bitext(
            [i.source_text.split() for i in instances],
            [i.target_texts[lang].split() for i in instances],
            config,
        )
        start = 0
        for split, members in by_split.items():
            split_alignments = alignments[start : start + len(members)]
            start += len(members)
            path = out_dir / f"{split}.{lang}.jsonl"
            write_alignments(path, lang, [i.id for i in members], split_alignments)
            gold = _gold(members, lang)
            scores = alignment_scores(split_alignments, gold) if gold is not None else None
            record = provenance(
                command="simul data align",
                corpus_dir=str(corpus_dir),
                corpus_format=corpus_format,
                split=split,
                aligned_with=list(by_split),
                src_lang=src_lang,
                lang=lang,
                aligner={
                    "name": "eflomal",
                    "version": importlib.metadata.version("eflomal"),
                    **asdict(config),
                },
                num_instances=len(members),
                gold_scores=None if scores is None else asdict(scores),
            )
            atomic_write_text(
                path.with_suffix(".json"), json.dumps(record, indent=2, sort_keys=True) + "\n"
            )
            logger.info(
                "%s %s: %d alignments -> %s%s", split, lang, len(members), path,
                "" if scores is None else f" (AER {scores.aer:.4f} against gold)",
            )  # fmt: skip
            results.append(
                SplitAlignment(
                    split=split, lang=lang, path=path, num_instances=len(members), gold=scores
                )
            )
    return results
