"""What one utterance's run through the loop produced, and its conversion to the scorer's record.

:meth:`UtteranceResult.to_instance_output` gives the harness's ``InstanceOutput`` directly: one
``StreamOutput`` per output stream of the model (empty streams included, so that an utterance that
wrote nothing still counts as an empty hypothesis for quality), predictions as whole words joined by
spaces, one delay per word (``source_ms`` of its last piece) and one ``elapsed`` per word.  So
``simul.eval.scoring.score`` scores it with ``latency_unit="word"`` and no glue.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from simul.data.instance import Instance, samples_to_ms
from simul.eval.records import InstanceOutput, StreamOutput
from simul.streaming.progress import CommittedToken
from simul.streaming.words import Emission

__all__ = ["UtteranceResult", "stream_references"]


def stream_references(
    instance: Instance, streams: tuple[str, ...], target_lang: str | None
) -> dict[str, str | None]:
    """The reference of each output stream: ``asr`` the transcript, ``st`` the translation into
    ``target_lang``, a stream named by a language code that language's translation.

    Args:
        instance: the utterance.
        streams: the model's output streams.
        target_lang: the language of the ``st`` stream; ``None``: the instance's only target
            language (an error when it has several).

    Returns:
        The reference text by stream, ``None`` where the instance has none.
    """
    references: dict[str, str | None] = {}
    for stream in streams:
        if stream == "asr":
            references[stream] = instance.source_text
        elif stream == "st":
            lang = target_lang
            if lang is None:
                if len(instance.target_texts) > 1:
                    raise ValueError(
                        f"instance {instance.id!r} has translations into "
                        f"{sorted(instance.target_texts)}: choose the `st` stream's target language "
                        "(`simul eval --tgt-lang`, a sweep's `data.tgt_lang`)."
                    )
                lang = next(iter(instance.target_texts), None)
            references[stream] = instance.target_texts.get(lang) if lang is not None else None
        else:
            references[stream] = instance.target_texts.get(stream)
    return references


@dataclass(frozen=True)
class UtteranceResult:
    """The output of one utterance.

    Attributes:
        emissions: the words, in the order they were completed (all streams interleaved).
        tokens: every committed token with its times.
        streams: the model's output streams.
        source_samples: |X| in samples at ``sample_rate``.
        sample_rate: of the source, in Hz.
        truncated: whether the output hit ``max_tokens`` before its end of sentence.
        compute_seconds: wall-clock seconds the loop spent on this utterance.
    """

    emissions: tuple[Emission, ...]
    tokens: tuple[CommittedToken, ...]
    streams: tuple[str, ...]
    source_samples: int
    sample_rate: int
    truncated: bool
    compute_seconds: float

    @property
    def source_ms(self) -> float:
        """|X| in ms (SimulEval's ``len(samples) * 1000 / sample_rate``)."""
        return samples_to_ms(self.source_samples, self.sample_rate)

    def words(self, stream: str) -> tuple[Emission, ...]:
        """The words of one stream, in order."""
        return tuple(e for e in self.emissions if e.stream == stream)

    def to_instance_output(
        self,
        index: int,
        *,
        references: Mapping[str, str | None] | None = None,
        source: Any = None,
        extra: Mapping[str, Any] | None = None,
    ) -> InstanceOutput:
        """The scorer's record of this utterance (see the module doc).

        Args:
            index: the instance's position in the corpus.
            references: reference text by stream (e.g. :func:`stream_references`).
            source: the source description to log (e.g. the audio path).
            extra: other fields for the log line (e.g. the instance id).
        """
        references = dict(references or {})
        unknown = sorted(set(references) - set(self.streams))
        if unknown:
            raise ValueError(
                f"`references` must be keyed by the output streams {self.streams}, but has {unknown}."
            )
        streams = {}
        for name in self.streams:
            words = self.words(name)
            streams[name] = StreamOutput(
                prediction=" ".join(w.text for w in words),
                delays=tuple(w.source_ms for w in words),
                elapsed=tuple(w.elapsed_ms for w in words),
                reference=references.get(name),
            )
        return InstanceOutput(
            index=index,
            source_type="speech",
            source_length=self.source_ms,
            streams=streams,
            source=source,
            extra=dict(extra or {}),
        )
