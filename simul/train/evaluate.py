"""Decode a split with a model family and score it: loss and quality; latency where the family times its tokens.

Validation during training and the final test use this one function.  A family whose decoding
stamps each token with the source time it needed (the transducer's search does) also gets
latency: token times become word delays (a word's delay is that of its last piece, the moment
the word is complete), scored with :func:`simul.eval.scoring.score` as speech delays in ms, the
same metrics and conventions as SimulEval 1.1.4.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from simul.data.features.pipeline import FeatureBatch
from simul.data.instance import Instance
from simul.data.tokenizer import Tokenizer
from simul.eval.log_io import write_instances_log
from simul.eval.quality import TextNormalization, corpus_quality
from simul.eval.records import InstanceOutput, StreamOutput
from simul.eval.report import write_scores
from simul.eval.scoring import Scores, ScoringConfig, score
from simul.models.family import Decoded, ModelFamily
from simul.train.targets import TargetText

__all__ = ["EvaluationResult", "evaluate", "words_with_delays", "write_evaluation"]

_WORD_START = "\u2581"  # SentencePiece's word-boundary mark


@dataclass(frozen=True, eq=False)
class EvaluationResult:
    """What decoding a split gave.

    Attributes:
        metrics: ``loss`` (per utterance, as in training), the quality metric, and with
            ``latency`` the corpus latency metrics (``LAAL``, ``AL``, ...).
        outputs: one record per decoded utterance, in corpus order, for ``instances.log``.
        scores: the full score tables when latency was scored, else ``None``.
    """

    metrics: dict[str, float]
    outputs: list[InstanceOutput]
    scores: Scores | None


def words_with_delays(
    tokenizer: Tokenizer, token_ids: Sequence[int], source_ms: Sequence[int] | None
) -> tuple[str, tuple[float, ...]]:
    """Detokenised text and one delay per whitespace word (the source time of its last piece).

    Pieces are grouped into words at SentencePiece's word-start mark; each group is decoded on
    its own, so the words of the text and the delays correspond one to one.

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
    for position, token in enumerate(token_ids):
        if not groups or tokenizer.id_to_piece(token).startswith(_WORD_START):
            groups.append([])
        groups[-1].append(position)
    words: list[str] = []
    delays: list[float] = []
    for group in groups:
        group_words = tokenizer.decode([token_ids[p] for p in group]).split()
        words.extend(group_words)
        if source_ms is not None:
            delays.extend([float(max(source_ms[p] for p in group))] * len(group_words))
    return " ".join(words), tuple(delays)


def _decode(
    family: ModelFamily,
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


def evaluate(
    family: ModelFamily,
    model: nn.Module,
    instances: Sequence[Instance],
    batches: Iterable[FeatureBatch],
    *,
    tokenizer: Tokenizer,
    target: TargetText,
    stream: str,
    metric: str,
    normalization: TextNormalization,
    device: torch.device,
    beam_size: int = 1,
    latency: bool = False,
) -> EvaluationResult:
    """Decode ``batches`` (the features of ``instances``) and score them against the target text.

    Args:
        family: the model's family.
        model: the unwrapped model (put in eval mode here).
        instances: the split, in corpus order.
        batches: its batches (e.g. :func:`simul.train.data.evaluation_batches`).
        tokenizer: detokenises the outputs.
        target: the reference text of an instance.
        stream: the output stream's name in the records (``asr``, ``st``, ...).
        metric: the quality metric (``simul.eval.quality.QUALITY_METRICS``).
        normalization: applied before WER/CER.
        device: where the model is.
        beam_size: the family's search width.
        latency: also score latency (needs a family that times its tokens).

    Returns:
        Metrics and records; utterances the batches left out (no fbank frame) are not scored.
    """
    decoded, loss_sum, count = _decode(family, model, batches, device, beam_size)
    if not decoded:
        raise ValueError("evaluation decoded no utterance: every one was dropped by the pipeline.")
    outputs: list[InstanceOutput] = []
    hypotheses, references = [], []
    for index, instance in enumerate(instances):
        if instance.id not in decoded:
            continue
        output = decoded[instance.id]
        text, delays = words_with_delays(tokenizer, output.token_ids, output.source_ms)
        reference = target(instance)
        hypotheses.append(text)
        references.append(reference)
        outputs.append(
            InstanceOutput(
                index=index,
                source_type="speech",
                source_length=instance.duration_ms,
                streams={stream: StreamOutput(prediction=text, delays=delays, reference=reference)},
                source=str(instance.audio_path),
                extra={"id": instance.id},
            )
        )
    metrics = {"loss": loss_sum / count if count else math.nan}
    metrics[metric] = corpus_quality(
        metric, hypotheses, references, normalization=normalization
    ).score
    scores = None
    if latency:
        if any(decoded[o.extra["id"]].source_ms is None for o in outputs):
            raise ValueError(
                f"latency needs token times, but the {type(family).__name__} family gives none."
            )
        scores = score(
            outputs, ScoringConfig(quality_metrics=(metric,), normalization=normalization)
        )
        for name, value in scores.corpus.loc[stream].items():
            if name != "num_instances" and name != metric:
                metrics[str(name)] = float(value)
    return EvaluationResult(metrics=metrics, outputs=outputs, scores=scores)


def write_evaluation(directory: Path, result: EvaluationResult, **provenance: object) -> list[Path]:
    """Write ``instances.log`` (SimulEval can rescore it) and, with latency, the score tables."""
    paths = [write_instances_log(directory, result.outputs)]
    if result.scores is not None:
        paths.extend(write_scores(directory, result.scores, **provenance))
    return paths
