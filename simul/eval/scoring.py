"""Score a corpus of simultaneous outputs: latency and quality, per output stream.

This is the one place where records (``simul.eval.records``) meet the metric functions
(``simul.eval.latency``, ``simul.eval.quality``).  Everything that scores (``simul score``, the
evaluation CLI, the sweeps, the notebooks) calls ``score``.

Conventions, chosen to equal SimulEval 1.1.4 where it is right:
- corpus latency is the ``statistics.mean`` of per-instance values over instances that wrote
  something (SimulEval skips empty outputs);
- ``use_ref_len`` (default on) takes |Y*| from the reference in the latency unit, as SimulEval does;
- computation-aware columns (``AL_CA`` ...) are computed on ``elapsed``; unlike SimulEval 1.1.4's
  CLI (issue 44) the plain columns stay plain;
- a stream without a reference falls back to the hypothesis length for |Y*| (SimulEval would use
  the empty string, of length 1), and cannot be scored for quality.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from simul.eval.latency import (
    LatencyInputs,
    compute_latency,
    corpus_mean,
    reference_length,
)
from simul.eval.names import DEFAULT_LATENCY_METRICS, LATENCY_METRICS, QUALITY_METRICS
from simul.eval.quality import TextNormalization, quality_scores
from simul.eval.records import InstanceOutput, stream_names

__all__ = [
    "DEFAULT_LATENCY_METRICS",
    "Scores",
    "ScoringConfig",
    "default_quality_metrics",
    "latency_inputs",
    "score",
]

logger = logging.getLogger(__name__)


LatencyUnit = Literal["word", "char", "spm"]


def default_quality_metrics(stream: str) -> tuple[str, ...]:
    """Quality metrics scored when none are asked for: WER/CER on ``asr``, BLEU/chrF elsewhere."""
    return ("WER", "CER") if stream == "asr" else ("BLEU", "chrF")


@dataclass(frozen=True, kw_only=True)
class ScoringConfig:
    """How to score; recorded in every results file."""

    latency_metrics: tuple[str, ...] = DEFAULT_LATENCY_METRICS
    """Latency metrics, in column order (any of ``simul.eval.latency.LATENCY_METRICS``)."""
    quality_metrics: tuple[str, ...] | None = None
    """Quality metrics for every stream; ``None``: ``default_quality_metrics(stream)`` on the streams
    with references (none on a stream without any; an error if only some instances have one)."""
    computation_aware: bool = False
    """Also compute each latency metric on wall-clock ``elapsed`` (columns ``NAME_CA``)."""
    use_ref_len: bool = True
    """|Y*| from the reference (SimulEval's default) rather than from the hypothesis."""
    latency_unit: LatencyUnit = "word"
    """Unit of the delays: whitespace words, characters, or sentencepiece pieces."""
    spm_model: str | None = None
    """SentencePiece model file, required by ``latency_unit="spm"`` for reference lengths."""
    bleu_tokenizer: str = "13a"
    """sacrebleu tokenizer for BLEU."""
    normalization: TextNormalization = field(default_factory=TextNormalization)
    """Text normalisation before WER/CER (none by default, as SimulEval)."""

    def __post_init__(self) -> None:
        for name in self.latency_metrics:
            if name not in LATENCY_METRICS:
                raise ValueError(
                    f"`latency_metrics` must be among {', '.join(LATENCY_METRICS)}, but has {name!r}."
                )
        for name in self.quality_metrics or ():
            if name not in QUALITY_METRICS:
                raise ValueError(
                    f"`quality_metrics` must be among {', '.join(QUALITY_METRICS)}, but has {name!r}."
                )
        if self.latency_unit not in ("word", "char", "spm"):
            raise ValueError(
                f"`latency_unit` must be word, char or spm, but is {self.latency_unit!r} instead."
            )
        if self.latency_unit == "spm" and not self.spm_model:
            raise ValueError("`latency_unit` spm needs `spm_model`, the SentencePiece model file.")

    def as_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["normalization"] = asdict(self.normalization)
        return values


@dataclass(frozen=True)
class Scores:
    """The result of scoring a corpus.

    Attributes:
        corpus: one row per stream (index ``stream``): ``num_instances``, quality metrics, then
            latency metrics each followed by ``NAME_CA`` when computation-aware.
        instances: one row per (``index``, ``stream``) with per-instance latency and quality.
        signatures: metric signatures by ``"stream/metric"`` (sacrebleu's, and ours for WER/CER).
        config: the settings used.
    """

    corpus: pd.DataFrame
    instances: pd.DataFrame
    signatures: dict[str, str]
    config: ScoringConfig


def _prediction_unit_count(instance: InstanceOutput, stream_name: str, unit: LatencyUnit) -> int:
    stream = instance.streams[stream_name]
    if unit == "word":
        return len(stream.prediction.split())
    if unit == "char":
        return len(stream.prediction.replace(" ", ""))
    if stream.prediction_units is None:
        raise ValueError(
            f"{instance.where}: stream `{stream_name}` has no `prediction_spm`, which the spm latency unit needs."
        )
    return len(stream.prediction_units)


def _load_spm(config: ScoringConfig) -> Any:
    if config.latency_unit != "spm":
        return None
    import sentencepiece

    path = Path(config.spm_model or "")
    if not path.is_file():
        raise FileNotFoundError(
            f"SentencePiece model {path} (given as `spm_model`) does not exist."
        )
    return sentencepiece.SentencePieceProcessor(model_file=str(path))


def latency_inputs(
    members: Sequence[InstanceOutput],
    stream: str,
    latency_unit: LatencyUnit = "word",
    spm: Any = None,
) -> LatencyInputs:
    """The latency scorer's inputs for one stream of ``members`` (which all have it).

    Args:
        members: the instances, in corpus order.
        stream: the stream's name.
        latency_unit: the unit of the delays, for the reference lengths |Y*|.
        spm: a ``sentencepiece.SentencePieceProcessor`` for ``latency_unit="spm"``.

    Raises:
        ValueError: naming the instance, when its delays do not match its prediction's units,
            or when the stream mixes speech and text sources.
    """
    streams = [instance.streams[stream] for instance in members]
    for instance, output in zip(members, streams, strict=True):
        count = _prediction_unit_count(instance, stream, latency_unit)
        if count != len(output.delays):
            raise ValueError(
                f"{instance.where}: stream `{stream}` has {len(output.delays)} delays but its prediction has "
                f"{count} {latency_unit} units; was it written with another latency unit?"
            )
    source_type = members[0].source_type
    if any(instance.source_type != source_type for instance in members):
        raise ValueError(f"stream `{stream}` mixes speech and text sources; score them separately.")
    return LatencyInputs(
        delays=[s.delays for s in streams],
        elapsed=[s.elapsed for s in streams],
        source_lengths=[instance.source_length for instance in members],
        reference_lengths=[
            None if s.reference is None else reference_length(s.reference, latency_unit, spm)
            for s in streams
        ],
        source_type=source_type,
    )


def _score_stream(
    name: str, members: Sequence[InstanceOutput], config: ScoringConfig, spm: Any
) -> tuple[dict[str, Any], pd.DataFrame, dict[str, str]]:
    inputs = latency_inputs(members, name, config.latency_unit, spm)
    if config.computation_aware and inputs.source_type == "text":
        raise ValueError(
            "computation-aware latency is defined for speech input only (text logs carry no wall-clock times)."
        )
    streams = [instance.streams[name] for instance in members]
    per_instance: dict[str, np.ndarray] = {}
    corpus: dict[str, Any] = {"num_instances": len(members)}

    have_references = any(s.reference is not None for s in streams)
    metrics = config.quality_metrics
    if metrics is None:
        metrics = default_quality_metrics(name) if have_references else ()
    signatures = {}
    if metrics:
        missing = next(
            (m for m, s in zip(members, streams, strict=True) if s.reference is None), None
        )
        if missing is not None:
            raise ValueError(
                f"{missing.where}: stream `{name}` has no reference, which {', '.join(metrics)} need."
            )
        hypotheses = [s.prediction for s in streams]
        references = [s.reference or "" for s in streams]
        for metric in metrics:
            options = {
                "bleu_tokenizer": config.bleu_tokenizer,
                "normalization": config.normalization,
            }
            result, sentences = quality_scores(metric, hypotheses, references, **options)
            corpus[metric] = result.score
            signatures[f"{name}/{metric}"] = result.signature
            per_instance[metric] = np.asarray(sentences)

    plain = compute_latency(inputs, config.latency_metrics, use_ref_len=config.use_ref_len)
    aware = (
        compute_latency(
            inputs, config.latency_metrics, computation_aware=True, use_ref_len=config.use_ref_len
        )
        if config.computation_aware
        else {}
    )
    for metric in config.latency_metrics:
        for column, values in ((metric, plain[metric]), (f"{metric}_CA", aware.get(metric))):
            if values is None:
                continue
            per_instance[column] = values
            corpus[column] = corpus_mean(values)

    table = pd.DataFrame(per_instance)
    table.insert(0, "index", [instance.index for instance in members])
    table.insert(1, "stream", name)
    return corpus, table, signatures


def score(instances: Sequence[InstanceOutput], config: ScoringConfig | None = None) -> Scores:
    """Score every stream of ``instances``.

    Raises:
        ValueError: naming the instance (file and line when read from a log) and field, when an
            input cannot be scored: delays that do not match the prediction, a reference missing
            for a quality metric, computation-aware latency on text input, no instances.
    """
    config = config or ScoringConfig()
    if not instances:
        raise ValueError("there are no instances to score.")
    spm = _load_spm(config)
    rows, tables, signatures = {}, [], {}
    for name in stream_names(instances):
        members = [instance for instance in instances if name in instance.streams]
        rows[name], table, stream_signatures = _score_stream(name, members, config, spm)
        tables.append(table)
        signatures.update(stream_signatures)
    corpus = pd.DataFrame.from_dict(rows, orient="index")
    corpus.index.name = "stream"
    return Scores(
        corpus=corpus,
        instances=pd.concat(tables, ignore_index=True),
        signatures=signatures,
        config=config,
    )
