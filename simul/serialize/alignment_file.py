"""Alignment files: word alignments keyed by instance id, and their error rate against gold.

Why a file: eflomal is not deterministic (see ``simul.serialize.word_aligner``), so alignments are
computed once by ``simul data align`` and read by every later serialization, which then gives the
same training targets every time.  Keyed by instance id (not by line), a file stays valid for a
reader that filters or reorders instances.

Format: JSON lines, one object per instance, in corpus order::

    {"id": "train_talk00000_0", "lang": "de", "alignment": [[0, 0], [1, 1], [3, 5]]}

``alignment`` holds ``[source_index, target_index]`` pairs over the whitespace words of the
transcript and of the ``lang`` translation, sorted.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simul.io import atomic_write_text
from simul.serialize.order import Alignment

__all__ = ["AlignmentScores", "alignment_scores", "read_alignments", "write_alignments"]


def write_alignments(
    path: Path, lang: str, ids: Sequence[str], alignments: Sequence[Alignment]
) -> None:
    """Write one ``lang`` alignment per instance id to ``path`` (JSON lines, atomically).

    Raises:
        ValueError: ``ids`` and ``alignments`` differ in length, or an id repeats.
    """
    if len(ids) != len(alignments):
        raise ValueError(
            f"`ids` and `alignments` must have the same length, but have {len(ids)} and "
            f"{len(alignments)}."
        )
    if len(set(ids)) != len(ids):
        raise ValueError("`ids` must be distinct, but an instance id repeats.")
    lines = [
        json.dumps(
            {"id": id_, "lang": lang, "alignment": [list(pair) for pair in sorted(set(pairs))]}
        )
        for id_, pairs in zip(ids, alignments, strict=True)
    ]
    atomic_write_text(Path(path), "".join(line + "\n" for line in lines))


def _pairs(value: Any, where: str) -> Alignment:
    if not isinstance(value, list):
        raise ValueError(f"{where}: `alignment` must be a list of [s, t] pairs, but is {value!r}.")
    for pair in value:
        if not (
            isinstance(pair, list)
            and len(pair) == 2
            and all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in pair)
        ):
            raise ValueError(
                f"{where}: `alignment` must hold [s, t] pairs of indices >= 0, but holds {pair!r}."
            )
    return tuple((s, t) for s, t in value)


def read_alignments(paths: Iterable[Path]) -> dict[str, dict[str, Alignment]]:
    """Read alignment files into ``{lang: {instance_id: alignment}}``.

    Several files (splits, languages) merge into one table; that is what the joint target
    transforms take as ``alignments``.

    Raises:
        FileNotFoundError: a file does not exist.
        ValueError: a line that is not such an object (naming file and line), or an
            (id, lang) given twice.
    """
    tables: dict[str, dict[str, Alignment]] = {}
    for path in paths:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"alignment file {path} does not exist.")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            where = f"{path}:{number}"
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{where}: not valid JSON ({error.msg}).") from error
            if not isinstance(record, dict):
                raise ValueError(f"{where}: must be a JSON object, but is {record!r}.")
            id_, lang = record.get("id"), record.get("lang")
            for field, value in (("id", id_), ("lang", lang)):
                if not isinstance(value, str) or not value:
                    raise ValueError(
                        f"{where}: `{field}` must be a non-empty string, but is {value!r} instead."
                    )
            table = tables.setdefault(lang, {})
            if id_ in table:
                raise ValueError(f"{where}: instance {id_!r} has a second {lang!r} alignment.")
            table[id_] = _pairs(record.get("alignment"), where)
    return tables


@dataclass(frozen=True)
class AlignmentScores:
    """How well predicted alignments match gold ones (all gold links taken as sure)."""

    precision: float
    """|A ∩ G| / |A|."""
    recall: float
    """|A ∩ G| / |G|."""
    aer: float
    """Alignment error rate (Och and Ney 2003) with S = P = G: 1 - 2|A ∩ G| / (|A| + |G|)."""
    num_predicted: int
    """|A|, predicted links over the corpus."""
    num_gold: int
    """|G|, gold links over the corpus."""


def alignment_scores(predicted: Sequence[Alignment], gold: Sequence[Alignment]) -> AlignmentScores:
    """Corpus-level precision, recall and AER of ``predicted`` against ``gold`` (pooled links).

    Raises:
        ValueError: the two differ in length, or both hold no link at all.
    """
    if len(predicted) != len(gold):
        raise ValueError(
            f"`predicted` and `gold` must align the same sentences, but have {len(predicted)} "
            f"and {len(gold)}."
        )
    num_predicted = num_gold = num_common = 0
    for predicted_pairs, gold_pairs in zip(predicted, gold, strict=True):
        predicted_set, gold_set = set(predicted_pairs), set(gold_pairs)
        num_predicted += len(predicted_set)
        num_gold += len(gold_set)
        num_common += len(predicted_set & gold_set)
    if num_predicted + num_gold == 0:
        raise ValueError("`predicted` and `gold` hold no link: there is nothing to score.")
    return AlignmentScores(
        precision=num_common / num_predicted if num_predicted else 0.0,
        recall=num_common / num_gold if num_gold else 0.0,
        aer=1.0 - 2.0 * num_common / (num_predicted + num_gold),
        num_predicted=num_predicted,
        num_gold=num_gold,
    )
