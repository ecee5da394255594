"""Where the reordering bites: a run's quality and latency broken down by grammatical construction.

Why: a corpus-level BLEU/LAAL point hides *which* sentences make a policy wait or guess.  The
built-in corpus (``simul data synth``) records, for every sentence, the constructions its grammar
used (``phenomena`` in ``SPLIT/txt/SPLIT.jsonl``; meanings in
:data:`simul.data.synth.PHENOMENA`): a German verb-final subordinate clause or a separable verb
moves a word to the end of the clause, so a monotonic system must either wait for it (latency)
or write it before it was heard (a guess, often wrong).  Scoring each construction's sentences on
their own, next to the sentences without any reordering construction, shows where the latency and
the errors come from.

:func:`scores_by_phenomenon` scores the subset of a log's instances that contain each
construction with the harness itself (:func:`simul.eval.scoring.score`: corpus BLEU/chrF/WER of the
subset, SimulEval's latency means), so every cell is a number ``simul score`` would print for
that subset.  A sentence usually has several constructions, so the subsets overlap.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from simul.eval.log_io import read_instances_log
from simul.eval.records import InstanceOutput
from simul.eval.scoring import ScoringConfig, score

__all__ = ["REORDERING_PHENOMENA", "read_phenomena", "scores_by_phenomenon"]

#: Constructions that move a German word far from its English position (the verb to the end of
#: the clause, a prefix to the end of the main clause, the verb before the subject).
REORDERING_PHENOMENA = (
    "subordinate",
    "subordinate_first",
    "separable_verb",
    "perfect_tense",
    "adverb_fronting",
)

#: The row of the sentences that have none of :data:`REORDERING_PHENOMENA`.
NO_REORDERING = "(no reordering)"
#: The row of every instance.
ALL = "(all)"


def read_phenomena(corpus_dir: Path, split: str) -> dict[str, frozenset[str]]:
    """The constructions of every instance of a built-in corpus split, by instance id.

    Raises:
        FileNotFoundError: the split has no ``SPLIT/txt/SPLIT.jsonl`` (not a built-in corpus).
        ValueError: naming the file and line of a malformed entry.
    """
    path = Path(corpus_dir) / split / "txt" / f"{split}.jsonl"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} does not exist: constructions are recorded by `simul data synth` corpora only."
        )
    phenomena: dict[str, frozenset[str]] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            entry = json.loads(line)
            names = entry["phenomena"]
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise ValueError(f"`phenomena` must be a list of names, but is {names!r}")
            phenomena[str(entry["id"])] = frozenset(names)
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
            raise ValueError(
                f"{path}:{number}: not a corpus entry with `id` and `phenomena`: {error}"
            ) from None
    return phenomena


def _instance_id(record: InstanceOutput) -> str:
    instance_id = record.extra.get("id")
    if not isinstance(instance_id, str):
        raise ValueError(
            f"{record.origin}: the record must carry the instance's `id` (simul eval writes it), "
            f"but has {instance_id!r} instead."
        )
    return instance_id


def scores_by_phenomenon(
    records: Sequence[InstanceOutput] | Path,
    phenomena: Mapping[str, frozenset[str]],
    config: ScoringConfig | None = None,
    *,
    min_instances: int = 1,
) -> pd.DataFrame:
    """Score the instances of each construction on their own.

    Args:
        records: a run's records, or its output directory / ``instances.log``.
        phenomena: the constructions of each instance id (:func:`read_phenomena`).
        config: the scoring settings (default: the harness's defaults).
        min_instances: constructions with fewer instances in the log are left out.

    Returns:
        One row per (construction, stream): ``phenomenon``, ``stream``, ``num_instances`` and the
        corpus scores of that subset; first the row of every instance (``(all)``), then the
        sentences without a reordering construction, then each construction by name.

    Raises:
        ValueError: a record without an instance id, or an id the corpus does not know.
    """
    if isinstance(records, (str, Path)):
        records = read_instances_log(Path(records))
    by_id = {}
    for record in records:
        instance_id = _instance_id(record)
        if instance_id not in phenomena:
            raise ValueError(
                f"{record.origin}: instance {instance_id!r} must be in the corpus's constructions, "
                f"but is not (another corpus or split?)."
            )
        by_id[instance_id] = record
    subsets: dict[str, list[InstanceOutput]] = {ALL: list(by_id.values())}
    subsets[NO_REORDERING] = [
        r for i, r in by_id.items() if not phenomena[i] & set(REORDERING_PHENOMENA)
    ]
    for name in sorted({name for i in by_id for name in phenomena[i]}):
        subsets[name] = [r for i, r in by_id.items() if name in phenomena[i]]
    rows = []
    for name, members in subsets.items():
        if len(members) < min_instances or not members:
            continue
        corpus = score(members, config).corpus
        for stream, values in corpus.to_dict(orient="index").items():
            rows.append({"phenomenon": name, "stream": stream, **values})
    return pd.DataFrame(rows)
