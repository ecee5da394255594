"""Decode a split with a model family and score it: loss and quality; latency where the family times its tokens.

Validation during training and the final test use this one function.  A family whose decoding
stamps each token with the source time it needed (the transducer's search does) also gets
latency: token times become word delays (a word's delay is that of its last piece, the moment
the word is complete, the rule of ``simul.serialize.deserialize``), scored with
:func:`simul.eval.scoring.score` as speech delays in ms, the same metrics and conventions as
SimulEval 1.1.4.  Joint ASR/ST output is split into its streams first, and each stream is
scored on its own (WER on ``asr``, BLEU/chrF on translations).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import nn

from simul.data.features.pipeline import FeatureBatch
from simul.data.instance import Instance
from simul.data.tokenizer import Tokenizer
from simul.eval.log_io import write_instances_log
from simul.eval.quality import QUALITY_METRICS, TextNormalization, corpus_quality
from simul.eval.records import InstanceOutput, StreamOutput
from simul.eval.report import write_scores
from simul.eval.scoring import Scores, ScoringConfig, default_quality_metrics, score
from simul.families.base import Decoded, Family
from simul.serialize import (
    ASR_STREAM,
    ST_STREAM,
    EmittedToken,
    JointTarget,
    TargetText,
    TargetTransform,
    joint_instance_output,
)

__all__ = [
    "EvaluationResult",
    "evaluate",
    "instance_output",
    "metric_name",
    "output_streams",
    "words_with_delays",
    "write_evaluation",
]

_WORD_START = "\u2581"  # SentencePiece's word-boundary mark


@dataclass(frozen=True, eq=False)
class EvaluationResult:
    """What decoding a split gave.

    Attributes:
        metrics: ``loss`` (per utterance, as in training) and ``STREAM/NAME`` quality metrics,
            with ``full`` also latency metrics (``asr/LAAL``, ``asr/AL``, ...).
        outputs: one record per decoded utterance, in corpus order, for ``instances.log``.
        scores: the score tables when latency was scored, else ``None``.
    """

    metrics: dict[str, float]
    outputs: list[InstanceOutput]
    scores: Scores | None


def words_with_delays(
    tokenizer: Tokenizer, token_ids: Sequence[int], source_ms: Sequence[int] | None
) -> tuple[str, tuple[float, ...]]:
    """Detokenised text and one delay per whitespace word (the source time of its last piece).

    Pieces are grouped into words at SentencePiece's word-boundary mark: a piece that starts with
    it begins a group, one that ends with it (a word-final vocabulary) ends its group; each group
    is decoded on its own, so the words of the text and the delays correspond one to one.

    Args:
        tokenizer: the model's tokenizer.
        token_ids: the output tokens.
        source_ms: each token's source time, or ``None`` (then no delays are returned).

    Returns:
        ``(text, delays)``; ``delays`` is empty when ``source_ms`` is ``None``.
    """
    if source_ms is not None and len(source_ms) != len(token_ids):
        raise ValueError(
            f"`source_ms` must have one time per token ({len(token_ids)}), "
            f"but has {len(source_ms)} instead."
        )
    groups: list[list[int]] = []
    group_ended = True
    for position, token in enumerate(token_ids):
        piece = tokenizer.id_to_piece(token)
        if group_ended or piece.startswith(_WORD_START):
            groups.append([])
        groups[-1].append(position)
        group_ended = piece.endswith(_WORD_START)
    words: list[str] = []
    delays: list[float] = []
    for group in groups:
        group_words = tokenizer.decode([token_ids[p] for p in group]).split()
        words.extend(group_words)
        if source_ms is not None:
            delays.extend([float(max(source_ms[p] for p in group))] * len(group_words))
    return " ".join(words), tuple(delays)


def _decode(
    family: Family,
    model: nn.Module,
    batches: Iterable[FeatureBatch],
    device: torch.device,
    beam_size: int,
) -> tuple[dict[str, Decoded], float, int]:
    """Decode every batch; also sum the training loss. Returns outputs by id, loss sum, count."""
    decoded: dict[str, Decoded] = {}
    loss_sum, count = 0.0, 0
    model.eval()
    with torch.no_grad():
        for batch in batches:
            batch = batch.to(device)
            loss = family.loss(model, batch)
            loss_sum += float(loss.loss) * loss.num_utterances
            count += loss.num_utterances
            for instance_id, output in zip(
                batch.ids, family.decode(model, batch, beam_size=beam_size), strict=True
            ):
                decoded[instance_id] = output
    return decoded, loss_sum, count


def output_streams(target: TargetTransform) -> tuple[str, ...]:
    """The streams a model trained on ``target`` writes (``asr``; ``st``; or a joint layout's)."""
    if isinstance(target, JointTarget):
        return target.layout.streams
    return (ST_STREAM,) if isinstance(target, TargetText) else (ASR_STREAM,)


def instance_output(
    index: int,
    instance: Instance,
    output: Decoded,
    *,
    tokenizer: Tokenizer,
    target: TargetTransform,
) -> InstanceOutput:
    """The scorer's record of one decoded instance, one stream per output stream.

    Joint output is split into its streams by :func:`simul.serialize.joint_instance_output`
    (tags switch streams; SentencePiece pieces become words); single-stream output by
    :func:`words_with_delays`.  Without token times, delays are empty (quality only).
    """
    if isinstance(target, JointTarget):
        times = output.source_ms or (0,) * len(output.token_ids)
        tokens = [
            EmittedToken(text=tokenizer.id_to_piece(token), source_ms=float(ms))
            for token, ms in zip(output.token_ids, times, strict=True)
        ]
        record = joint_instance_output(
            index, tokens, target.layout, unit="piece", source_length_ms=instance.duration_ms,
            references=target.layout.references(instance), source=str(instance.audio_path),
        )  # fmt: skip
        if output.source_ms is None:
            streams = {name: replace(s, delays=()) for name, s in record.streams.items()}
            record = replace(record, streams=streams)
        return replace(record, extra={"id": instance.id})
    text, delays = words_with_delays(tokenizer, output.token_ids, output.source_ms)
    (stream,) = output_streams(target)
    return InstanceOutput(
        index=index,
        source_type="speech",
        source_length=instance.duration_ms,
        streams={stream: StreamOutput(prediction=text, delays=delays, reference=target(instance))},
        source=str(instance.audio_path),
        extra={"id": instance.id},
    )


def metric_name(metric: str, target: TargetTransform) -> tuple[str, str]:
    """``(stream, metric)`` of a metric spec ``NAME`` (the first stream) or ``STREAM/NAME``."""
    streams = output_streams(target)
    stream, separator, name = metric.rpartition("/")
    stream = stream if separator else streams[0]
    if stream not in streams:
        raise ValueError(
            f"`validation.metric` must name one of the streams {streams}, but is {metric!r}."
        )
    if name not in QUALITY_METRICS:
        raise ValueError(
            f"`validation.metric` must end in one of {QUALITY_METRICS}, but is {metric!r}."
        )
    return stream, name


def evaluate(
    family: Family,
    model: nn.Module,
    instances: Sequence[Instance],
    batches: Iterable[FeatureBatch],
    *,
    tokenizer: Tokenizer,
    target: TargetTransform,
    metric: str,
    normalization: TextNormalization,
    device: torch.device,
    beam_size: int = 1,
    full: bool = False,
) -> EvaluationResult:
    """Decode ``batches`` (the features of ``instances``) and score them against the targets.

    Args:
        family: the model's family.
        model: the unwrapped model (put in eval mode here).
        instances: the split, in corpus order.
        batches: its batches (e.g. :func:`simul.train.data.evaluation_batches`).
        tokenizer: detokenises the outputs.
        target: the target transform the model was trained on (gives the references).
        metric: the quality metric to report, ``NAME`` or ``STREAM/NAME`` (``WER``, ``st/BLEU``).
        normalization: applied before WER/CER.
        device: where the model is.
        beam_size: the family's search width.
        full: score every stream with its default quality metrics (WER/CER on ``asr``,
            BLEU/chrF on translations) and, when the family times its tokens, latency.

    Returns:
        Metrics keyed ``loss`` and ``STREAM/NAME``; utterances the batches left out (no fbank
        frame) are not scored.
    """
    stream, name = metric_name(metric, target)
    decoded, loss_sum, count = _decode(family, model, batches, device, beam_size)
    if not decoded:
        raise ValueError("evaluation decoded no utterance: every one was dropped by the pipeline.")
    outputs = [
        instance_output(index, instance, decoded[instance.id], tokenizer=tokenizer, target=target)
        for index, instance in enumerate(instances)
        if instance.id in decoded
    ]
    metrics = {"loss": loss_sum / count if count else math.nan}
    hypotheses = [o.streams[stream].prediction for o in outputs]
    references = [o.streams[stream].reference for o in outputs]
    result = corpus_quality(name, hypotheses, references, normalization=normalization)
    metrics[f"{stream}/{name}"] = result.score
    scores = None
    if full:
        timed = all(decoded[o.extra["id"]].source_ms is not None for o in outputs)
        if timed:
            scores = score(outputs, ScoringConfig(normalization=normalization))
            for stream_name, row in scores.corpus.to_dict(orient="index").items():
                for column, value in row.items():
                    if column != "num_instances":
                        metrics[f"{stream_name}/{column}"] = float(value)
        else:
            for stream_name in output_streams(target):
                for quality in default_quality_metrics(stream_name):
                    result = corpus_quality(
                        quality,
                        [o.streams[stream_name].prediction for o in outputs],
                        [o.streams[stream_name].reference for o in outputs],
                        normalization=normalization,
                    )
                    metrics[f"{stream_name}/{quality}"] = result.score
    return EvaluationResult(metrics=metrics, outputs=outputs, scores=scores)


def write_evaluation(directory: Path, result: EvaluationResult, **provenance: object) -> list[Path]:
    """Write ``instances.log`` (SimulEval can rescore it) and, with latency, the score tables."""
    paths = [write_instances_log(directory, result.outputs)]
    if result.scores is not None:
        paths.extend(write_scores(directory, result.scores, **provenance))
    return paths
