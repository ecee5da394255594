"""Written pieces become whole words, one output stream at a time, as soon as each word is complete.

The scorer's latency unit is the word (SimulEval's default ``--eval-latency-unit word``), so the
loop's output units are whole words: the pieces of a word joined, ``▁`` removed.  How the loop
knows a word is complete: the token after its last piece closes it, i.e. that token begins a word
(``▁``), or it is a stream tag or the end of sentence, or the utterance ends; a ``▁`` inside a
piece also closes the word before it.  The session (:mod:`simul.streaming.session`) also closes the
open word when the *next candidate* the policy declined begins a word: the model has said so, and
a live system could display the word at that moment.

**A word's time is that of its last piece** (``source_ms`` and ``elapsed_ms`` of the piece that
completes its text).  With whole-word emission (the default) a word's pieces are committed
together, only once the word is known to be complete, so this is also the time the word could be
displayed.  The rules equal those of the offline de-serializer
:func:`simul.serialize.deserialize.split_streams` (tested): ``<unk>`` becomes ``⁇`` inside its word,
``<s>``/``</s>``/``<pad>`` pieces are dropped, a tag ends the current word.
"""

from __future__ import annotations

from dataclasses import dataclass

from simul.data.tokenizer import BOS_PIECE, EOS_PIECE, PAD_PIECE, UNK_PIECE
from simul.streaming.tokens import WORD_BOUNDARY, Token

__all__ = ["Emission", "WordAssembler"]

_DROPPED_PIECES = (BOS_PIECE, EOS_PIECE, PAD_PIECE)
_UNK_SURFACE = "\u2047"  # "⁇", what SentencePiece decodes <unk> to


@dataclass(frozen=True)
class Emission:
    """One written unit of output: a whole word of one stream, with its times.

    Attributes:
        text: the word (no whitespace).
        stream: the output stream (``"st"``, ``"asr"``, a language code).
        source_ms: source audio consumed when its last piece was written, in ms.
        elapsed_ms: the same on the computation-aware clock, in ms
            (:class:`simul.streaming.session.ElapsedClock`).
    """

    text: str
    stream: str
    source_ms: float
    elapsed_ms: float


class WordAssembler:
    """Turns committed tokens into :class:`Emission` words of one utterance, incrementally.

    Example:
        >>> words = WordAssembler(streams=("st",))
        >>> words.add(Token(id=5, piece="▁hel"), 320.0, 330.0)
        []
        >>> words.add(Token(id=6, piece="lo"), 640.0, 650.0)
        []
        >>> [e.text for e in words.add(Token(id=7, piece="▁you"), 960.0, 970.0)]
        ['hello']
    """

    def __init__(self, streams: tuple[str, ...]) -> None:
        """Args:
        streams: the model's output streams; pieces before any tag belong to the first.
        """
        if not streams:
            raise ValueError("`streams` must name at least one output stream, but is empty.")
        self.streams = streams
        self.stream = streams[0]
        self._text = ""
        self._source_ms = 0.0
        self._elapsed_ms = 0.0

    @property
    def has_open_word(self) -> bool:
        """Whether some text waits for its word to be complete."""
        return bool(self._text)

    def close(self) -> list[Emission]:
        """The open word is complete: emit it (nothing when there is none)."""
        if not self._text:
            return []
        emission = Emission(
            text=self._text,
            stream=self.stream,
            source_ms=self._source_ms,
            elapsed_ms=self._elapsed_ms,
        )
        self._text = ""
        return [emission]

    def add(self, token: Token, source_ms: float, elapsed_ms: float) -> list[Emission]:
        """Add one committed token written at these times; return the words it completes."""
        if token.ends_sentence:
            return self.close()
        if token.stream is not None:
            if token.stream not in self.streams:
                raise ValueError(
                    f"token {token.id} ({token.piece!r}) switches to stream {token.stream!r}, "
                    f"but the model declares only the streams {self.streams}."
                )
            closed = self.close()
            self.stream = token.stream
            return closed
        text = token.piece
        if text in _DROPPED_PIECES:
            return []
        if text == UNK_PIECE:
            text = _UNK_SURFACE
        emitted: list[Emission] = []
        for index, part in enumerate(text.replace(WORD_BOUNDARY, " ").split(" ")):
            if index > 0:
                emitted += self.close()
            if part:
                self._text += part
                self._source_ms = source_ms
                self._elapsed_ms = elapsed_ms
        return emitted
