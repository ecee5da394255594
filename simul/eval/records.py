"""What the scorer reads: each instance's output streams with their delays.

Why a record of its own: a simultaneous run of a joint ASR/ST model writes several streams per
instance (``asr``, ``st``, or one per target language), each with its own prediction, delays
and reference.  SimulEval's ``instances.log`` holds one stream; ``simul.eval.log_io`` maps one to
the other.  Delays are in the source's unit: milliseconds of audio consumed for speech input,
number of source tokens read for text input, one delay per latency unit of the prediction
(word, character or sentencepiece piece).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["DEFAULT_STREAM", "InstanceOutput", "SourceType", "StreamOutput", "stream_names"]

SourceType = Literal["speech", "text"]

#: Name of the single stream of a plain SimulEval log.
DEFAULT_STREAM = "main"


@dataclass(frozen=True)
class StreamOutput:
    """One output stream of one instance.

    Attributes:
        prediction: the detokenised output text.
        delays: one per latency unit of ``prediction``, non-decreasing: source consumed when the
            unit was written (ms for speech input, source tokens for text input).
        elapsed: same length as ``delays`` (wall-clock delays for computation-aware latency, in
            the same unit), or empty when not measured.
        reference: the reference text, or ``None`` when there is none.
        prediction_units: the units that ``delays`` refer to when they are not whitespace words
            (SimulEval's ``prediction_spm``), else ``None``.
    """

    prediction: str
    delays: tuple[float, ...]
    elapsed: tuple[float, ...] = ()
    reference: str | None = None
    prediction_units: tuple[str, ...] | None = None


@dataclass(frozen=True)
class InstanceOutput:
    """Everything the scorer needs about one instance.

    Attributes:
        index: position in the corpus (SimulEval's ``index``).
        source_type: ``"speech"`` (delays in ms) or ``"text"`` (delays in source tokens).
        source_length: |X|: ms of audio for speech, number of source tokens for text.
        streams: output streams by name (``"main"`` for a plain SimulEval log).
        source: the source description as logged (a path, a text, or SimulEval's soundfile info).
        extra: other fields of the log line, kept so that a rewritten log loses nothing.
        origin: where the record came from (``"path:line"``), for error messages.
    """

    index: int
    source_type: SourceType
    source_length: float
    streams: Mapping[str, StreamOutput]
    source: Any = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    origin: str | None = None

    @property
    def where(self) -> str:
        """How error messages name this instance."""
        return self.origin if self.origin is not None else f"instance {self.index}"

    def __post_init__(self) -> None:
        if not (
            isinstance(self.source_length, (int, float))
            and not isinstance(self.source_length, bool)  # `true` is no length
            and math.isfinite(self.source_length)
            and self.source_length > 0
        ):
            raise ValueError(
                f"`source_length` of instance {self.index} must be a finite number > 0, "
                f"but is {self.source_length!r} instead."
            )
        if not self.streams:
            raise ValueError(f"instance {self.index} must have at least one output stream.")


def stream_names(instances: Sequence[InstanceOutput]) -> list[str]:
    """All stream names in first-seen order (streams may be missing from some instances)."""
    names: dict[str, None] = {}
    for instance in instances:
        names.update(dict.fromkeys(instance.streams))
    return list(names)
