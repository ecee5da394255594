"""De-serialization: split an emitted joint token stream back into per-stream words with delays.

Why: a joint ASR/ST model writes one stream of tokens (words or SentencePiece pieces) with
stream tags among them; the scorer wants each stream on its own, every word with the source
time at which it was written, so that ASR latency and ST latency are measured separately
(``simul.eval.scoring`` scores WER + latency on ``asr``, BLEU/chrF + latency on the others).

Rules:

- A tag token (``<asr>``, ``<st>``, ``<de>``..., see ``StreamLayout``) switches the stream; it is
  no word and has no delay.  Tokens before the first tag belong to ``asr`` (every serialization
  of a non-empty transcript starts with ``<asr>``; this only matters for a model that omits it).
- ``unit="word"``: every other token is one word.
- ``unit="piece"``: SentencePiece pieces; ``▁`` (U+2581) marks the start of a word, as in
  SentencePiece's decoding.  A tag also ends the current word, so a word never spans two
  streams.  ``<s>``, ``</s>`` and ``<pad>`` are dropped; ``<unk>`` becomes ``⁇`` inside its word
  (SentencePiece's decoder surrounds it with spaces; here it stays one word with its neighbours).
  Pieces that add no text (a bare ``▁`` before a tag) make no word.
- **A word's delay is the time of its last piece** (the word is complete only then, and a word
  is the latency unit of the scorer's default ``latency_unit="word"``); its ``elapsed`` is that
  piece's wall-clock time.

Inputs are any objects with ``text``, ``source_ms`` and ``elapsed_ms`` attributes
(:class:`EmittedToken` is one), so the streaming loop's emissions can be passed as they are.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from simul.data.tokenizer import BOS_PIECE, EOS_PIECE, PAD_PIECE, UNK_PIECE
from simul.eval.records import InstanceOutput, StreamOutput
from simul.serialize.streams import ASR_STREAM, StreamLayout

__all__ = [
    "EmittedToken",
    "StreamWords",
    "TimedText",
    "TokenUnit",
    "joint_instance_output",
    "split_streams",
]

TokenUnit = Literal["word", "piece"]

_WORD_BOUNDARY = "\u2581"  # SentencePiece's "▁"
_DROPPED_PIECES = (BOS_PIECE, EOS_PIECE, PAD_PIECE)
_UNK_SURFACE = "\u2047"  # "⁇", what SentencePiece decodes <unk> to


class TimedText(Protocol):
    """What de-serialization reads from each emitted token."""

    @property
    def text(self) -> str:
        """A word, a SentencePiece piece, or a stream tag."""
        ...

    @property
    def source_ms(self) -> float:
        """Source audio consumed when the token was written, in ms."""
        ...

    @property
    def elapsed_ms(self) -> float | None:
        """Wall-clock time when the token was written, in ms; ``None`` when not measured."""
        ...


@dataclass(frozen=True)
class EmittedToken:
    """One written token with its times (the plain implementation of :class:`TimedText`)."""

    text: str
    """A word, a SentencePiece piece, or a stream tag."""
    source_ms: float
    """Source audio consumed when the token was written, in ms."""
    elapsed_ms: float | None = None
    """Wall-clock time when it was written (for computation-aware latency), in ms."""


@dataclass(frozen=True)
class StreamWords:
    """One stream's words, each with the time at which its last piece was written."""

    words: tuple[str, ...]
    """The words in order (whitespace-free)."""
    delays_ms: tuple[float, ...]
    """(N,) source time of each word's last piece, in ms, non-decreasing."""
    elapsed_ms: tuple[float, ...]
    """(N,) wall-clock time of each word's last piece, in ms; empty when not measured."""

    @property
    def text(self) -> str:
        """The words joined by single spaces."""
        return " ".join(self.words)


def _checked_times(tokens: Sequence[TimedText]) -> tuple[list[float], list[float] | None]:
    source, elapsed = [], []
    for position, token in enumerate(tokens):
        for name, value, previous in (
            ("source_ms", token.source_ms, source[-1] if source else 0.0),
            ("elapsed_ms", token.elapsed_ms, elapsed[-1] if elapsed else 0.0),
        ):
            if name == "elapsed_ms" and value is None:
                continue
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(
                    f"`{name}` of token {position} ({token.text!r}) must be a finite time >= 0 ms, "
                    f"but is {value!r} instead."
                )
            if value < previous:
                raise ValueError(
                    f"`{name}` must not decrease along the tokens, but goes from {previous} to "
                    f"{value} ms at token {position} ({token.text!r})."
                )
        source.append(float(token.source_ms))
        if token.elapsed_ms is not None:
            elapsed.append(float(token.elapsed_ms))
    if elapsed and len(elapsed) != len(tokens):
        raise ValueError(
            f"`elapsed_ms` must be given for every token or for none, but is given for "
            f"{len(elapsed)} of {len(tokens)}."
        )
    return source, (elapsed if elapsed else None)


class _StreamBuilder:
    """Collects the words of one stream while the tokens are read."""

    def __init__(self) -> None:
        self.words: list[str] = []
        self.delays: list[float] = []
        self.elapsed: list[float] = []

    def add(self, word: str, delay_ms: float, elapsed_ms: float | None) -> None:
        self.words.append(word)
        self.delays.append(delay_ms)
        if elapsed_ms is not None:
            self.elapsed.append(elapsed_ms)

    def build(self) -> StreamWords:
        return StreamWords(tuple(self.words), tuple(self.delays), tuple(self.elapsed))


def split_streams(
    tokens: Sequence[TimedText], layout: StreamLayout, *, unit: TokenUnit
) -> dict[str, StreamWords]:
    """Split an emitted joint token stream into the words of each stream (see the module doc).

    Args:
        tokens: the emitted tokens in order, with non-decreasing ``source_ms`` (and
            ``elapsed_ms``, given for all of them or none).
        layout: the streams and their tags.
        unit: ``"word"`` when each non-tag token is a word, ``"piece"`` for SentencePiece pieces.

    Returns:
        Every stream of ``layout`` (empty ones included), in layout order.

    Raises:
        ValueError: a bad ``unit``, times that are not finite, negative or decreasing, elapsed
            times given for only some tokens, or (``unit="word"``) an empty or
            whitespace-holding word.
    """
    if unit not in ("word", "piece"):
        raise ValueError(f"`unit` must be 'word' or 'piece', but is {unit!r} instead.")
    source_ms, elapsed_ms = _checked_times(tokens)
    builders = {stream: _StreamBuilder() for stream in layout.streams}
    stream = ASR_STREAM
    pending = ""  # the open word (pieces only)
    pending_at = -1  # index of its last piece

    def close_word() -> None:
        nonlocal pending, pending_at
        if pending:
            elapsed = None if elapsed_ms is None else elapsed_ms[pending_at]
            builders[stream].add(pending, source_ms[pending_at], elapsed)
        pending, pending_at = "", -1

    for position, token in enumerate(tokens):
        text = token.text
        switch = layout.stream_of_tag(text)
        if switch is not None:
            close_word()
            stream = switch
            continue
        if unit == "word":
            if not isinstance(text, str) or not text or any(c.isspace() for c in text):
                raise ValueError(
                    f"token {position} must be a tag or a non-empty word without whitespace, "
                    f"but is {text!r} instead."
                )
            elapsed = None if elapsed_ms is None else elapsed_ms[position]
            builders[stream].add(text, source_ms[position], elapsed)
            continue
        if text in _DROPPED_PIECES:
            continue
        if text == UNK_PIECE:
            text = _UNK_SURFACE
        for index, part in enumerate(text.replace(_WORD_BOUNDARY, " ").split(" ")):
            if index > 0:
                close_word()
            if part:
                pending += part
                pending_at = position
    close_word()
    return {name: builder.build() for name, builder in builders.items()}


def joint_instance_output(
    index: int,
    tokens: Sequence[TimedText],
    layout: StreamLayout,
    *,
    unit: TokenUnit,
    source_length_ms: float,
    references: Mapping[str, str] | None = None,
    source: Any = None,
) -> InstanceOutput:
    """What the scorer reads for one instance of a joint model: one ``StreamOutput`` per stream.

    Score the result with ``simul.eval.scoring.score`` and ``latency_unit="word"`` (the
    default): delays are per word.

    Args:
        index: the instance's position in the corpus.
        tokens: its emitted tokens (see :func:`split_streams`).
        layout: the streams and their tags.
        unit: ``"word"`` or ``"piece"`` (see :func:`split_streams`).
        source_length_ms: |X|, the audio length in ms.
        references: reference text by stream (e.g. ``layout.references(instance)``); streams
            left out have none.
        source: the source description to log (e.g. the wav path).

    Raises:
        ValueError: as :func:`split_streams`, or a reference for a stream outside ``layout``.
    """
    references = dict(references or {})
    unknown = [name for name in references if name not in layout.streams]
    if unknown:
        raise ValueError(
            f"`references` must be keyed by the streams {layout.streams}, but has {unknown}."
        )
    streams = split_streams(tokens, layout, unit=unit)
    return InstanceOutput(
        index=index,
        source_type="speech",
        source_length=source_length_ms,
        streams={
            name: StreamOutput(
                prediction=words.text,
                delays=words.delays_ms,
                elapsed=words.elapsed_ms,
                reference=references.get(name),
            )
            for name, words in streams.items()
        },
        source=source,
    )
