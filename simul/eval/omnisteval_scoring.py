"""Score a log as OmniSTEval 0.1.10 does: short form per segment, long form after SoftSegmenter.

Why a module of its own: ``simul.eval.scoring`` reproduces SimulEval's columns; this one
reproduces OmniSTEval's (IWSLT 2026), from the same records, into the same ``Scores`` tables,
so that ``simul score --scorer omnisteval`` writes and prints them like any other score.
Definitions and where they differ from SimulEval's: ``simul.eval.omnisteval``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from simul.eval.omnisteval import (
    OMNISTEVAL_LATENCY_METRICS,
    corpus_value,
    degeneracy,
    omnisteval_latency,
)
from simul.eval.quality import quality_scores
from simul.eval.records import InstanceOutput, StreamOutput, stream_names
from simul.eval.scoring import Scores, ScoringConfig
from simul.eval.soft_segmenter import assign_segments
from simul.eval.stream_latency import talk_name
from simul.eval.talk_references import TalkReferences

__all__ = ["LongFormScores", "resegment_soft", "score_omnisteval", "score_omnisteval_long"]

_RECORDING_END = "recording_end_ms"


def _stream_scores(
    name: str, members: Sequence[InstanceOutput], *, long_form: bool, bleu_tokenizer: str
) -> tuple[dict[str, float], pd.DataFrame, dict[str, str]]:
    streams = [instance.streams[name] for instance in members]
    references = [(s.reference or "").strip() for s in streams]  # OmniSTEval strips them
    corpus: dict[str, float] = {"num_instances": len(members)}
    per_instance: dict[str, np.ndarray] = {}
    signatures = {}
    for metric in ("BLEU", "chrF"):
        result, sentences = quality_scores(
            metric, [s.prediction for s in streams], references, bleu_tokenizer=bleu_tokenizer
        )
        corpus[metric], per_instance[metric] = result.score, np.asarray(sentences)
        signatures[f"{name}/{metric}"] = result.signature
    prefix = "Long" if long_form else ""
    source_lengths = [instance.source_length for instance in members]
    target_lengths = [reference.count(" ") + 1 for reference in references]  # split(" ")
    ends = [instance.extra.get(_RECORDING_END, math.inf) for instance in members]
    clocks = {"": [s.delays for s in streams]}
    if any(s.elapsed for s in streams):
        clocks["_CA"] = [s.elapsed for s in streams]
    for suffix, delays in clocks.items():
        values = omnisteval_latency(
            delays, source_lengths, target_lengths, long_form=long_form, recording_ends_ms=ends
        )
        for metric in OMNISTEVAL_LATENCY_METRICS:
            column = f"{prefix}{metric}{suffix}"
            per_instance[column] = np.asarray(values[metric])
            corpus[column] = corpus_value(values[metric])
        if not long_form and not suffix:
            degenerate = degeneracy(delays, source_lengths, values["YAAL"])
    if not long_form:
        corpus.update(degenerate)  # after the latency columns, as OmniSTEval reports it
    table = pd.DataFrame(per_instance)
    table.insert(0, "index", [instance.index for instance in members])
    table.insert(1, "stream", name)
    return corpus, table, signatures


def _scores(instances: Sequence[InstanceOutput], *, long_form: bool, bleu_tokenizer: str) -> Scores:
    rows, tables, signatures = {}, [], {}
    for name in stream_names(instances):
        members = [instance for instance in instances if name in instance.streams]
        if all(instance.streams[name].reference is None for instance in members):
            continue  # OmniSTEval needs references; a stream without any is not scored
        missing = next((m for m in members if m.streams[name].reference is None), None)
        if missing is not None:
            raise ValueError(
                f"{missing.where}: stream `{name}` has no reference, which OmniSTEval's BLEU needs."
            )
        rows[name], table, stream_signatures = _stream_scores(
            name, members, long_form=long_form, bleu_tokenizer=bleu_tokenizer
        )
        tables.append(table)
        signatures.update(stream_signatures)
    if not rows:
        raise ValueError("no stream has references: OmniSTEval's scores need them.")
    corpus = pd.DataFrame.from_dict(rows, orient="index")
    corpus.index.name = "stream"
    config = ScoringConfig(
        latency_metrics=(), quality_metrics=("BLEU", "chrF"), bleu_tokenizer=bleu_tokenizer
    )
    return Scores(
        corpus=corpus,
        instances=pd.concat(tables, ignore_index=True),
        signatures=signatures,
        config=config,
    )


def score_omnisteval(instances: Sequence[InstanceOutput], *, bleu_tokenizer: str = "13a") -> Scores:
    """OmniSTEval's short-form scores of every stream with references (one output per segment).

    Columns: ``num_instances``, BLEU, chrF, YAAL, AL, LAAL, AP, DAL, then the same ``_CA`` when
    ``elapsed`` was logged, then SWF, EFSW, DSPTV and ``degenerate``.

    Raises:
        ValueError: no instances; text input (OmniSTEval's latency is in ms); a stream with
            references on some instances only.
    """
    if not instances:
        raise ValueError("there are no instances to score.")
    text = next((i for i in instances if i.source_type != "speech"), None)
    if text is not None:
        raise ValueError(
            f"{text.where}: OmniSTEval scores speech input (delays in ms), but it is text."
        )
    return _scores(instances, long_form=False, bleu_tokenizer=bleu_tokenizer)


def resegment_soft(
    talks: Sequence[InstanceOutput], references: Sequence[TalkReferences]
) -> list[InstanceOutput]:
    """Cut each talk's output streams into its reference segments with SoftSegmenter.

    Args:
        talks: one record per talk (its ``source`` names the talk's audio file), speech input,
            delays in ms from the talk's start, one per whitespace word.
        references: the talks' reference segments (``read_talk_references``), with a reference
            for every stream to cut.

    Returns:
        One record per reference segment, in segment-list order: its words, delays re-based to
        the segment's offset, |X| its duration, ``extra["recording_end_ms"]`` the talk's last
        segment end from its offset (LongYAAL's cut-off), ``extra["talk"]`` the talk.

    Raises:
        ValueError: a talk without a log line or the reverse, text input, delays that are not
            one per word.
    """
    by_name: dict[str, InstanceOutput] = {}
    for instance in talks:
        if instance.source_type != "speech":
            raise ValueError(
                f"{instance.where}: long-form scoring needs speech input (delays in ms)."
            )
        name = talk_name(instance)
        if name in by_name:
            raise ValueError(f"{instance.where}: talk {name} is also on {by_name[name].where}.")
        by_name[name] = instance
    missing = [talk.talk for talk in references if talk.talk not in by_name]
    extra = sorted(set(by_name) - {talk.talk for talk in references})
    if missing or extra:
        raise ValueError(
            f"log lines and talks of the segment list must match one to one, but talks {missing[:5]} "
            f"have no line and lines {extra[:5]} are no talk of the list."
        )
    records: list[InstanceOutput] = []
    for talk in references:
        instance = by_name[talk.talk]
        recording_end = max(s.offset_ms + s.duration_ms for s in talk.segments)
        streams: list[dict[str, StreamOutput]] = [{} for _ in talk.segments]
        for name in talk.segments[0].references:
            if name not in instance.streams:
                raise ValueError(f"{instance.where}: talk {talk.talk} has no stream `{name}`.")
            stream = instance.streams[name]
            words = stream.prediction.split()
            if len(words) != len(stream.delays):
                raise ValueError(
                    f"{instance.where}: stream `{name}` has {len(stream.delays)} delays for "
                    f"{len(words)} words; long-form scoring needs one delay per word."
                )
            ref_words: list[str] = []
            ref_segments: list[int] = []
            for position, segment in enumerate(talk.segments):
                units = segment.references[name].strip().lower().split()
                ref_words += units
                ref_segments += [position] * len(units)
            members: list[list[int]] = [[] for _ in talk.segments]  # word positions per segment
            for word, position in enumerate(assign_segments(ref_words, ref_segments, words)):
                if position is not None:
                    members[position].append(word)
            for position, (segment, mine) in enumerate(zip(talk.segments, members, strict=True)):
                streams[position][name] = StreamOutput(
                    prediction=" ".join(words[k] for k in mine),
                    delays=tuple(stream.delays[k] - segment.offset_ms for k in mine),
                    elapsed=tuple(stream.elapsed[k] - segment.offset_ms for k in mine)
                    if stream.elapsed
                    else (),
                    reference=segment.references[name].strip(),
                )
        for segment, segment_streams in zip(talk.segments, streams, strict=True):
            records.append(
                InstanceOutput(
                    index=segment.index,
                    source_type="speech",
                    source_length=segment.duration_ms,
                    streams=segment_streams,
                    source=talk.talk,
                    extra={
                        "talk": talk.talk,
                        "offset_ms": segment.offset_ms,
                        _RECORDING_END: recording_end - segment.offset_ms,
                    },  # fmt: skip
                    origin=segment.origin,
                )
            )
    return sorted(records, key=lambda record: record.index)


@dataclass(frozen=True)
class LongFormScores:
    """Long-form scores and the re-segmented records they were computed on."""

    scores: Scores
    """Columns ``num_instances``, BLEU, chrF, LongYAAL, LongAL, LongLAAL, LongAP, LongDAL (+ ``_CA``)."""
    segments: list[InstanceOutput]
    """One record per reference segment (``resegment_soft``)."""


def score_omnisteval_long(
    talks: Sequence[InstanceOutput],
    references: Sequence[TalkReferences],
    *,
    bleu_tokenizer: str = "13a",
) -> LongFormScores:
    """OmniSTEval's long-form scores: SoftSegmenter, then LongYAAL and the rest per segment."""
    segments = resegment_soft(talks, references)
    return LongFormScores(
        scores=_scores(segments, long_form=True, bleu_tokenizer=bleu_tokenizer), segments=segments
    )
