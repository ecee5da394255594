"""The unit a model proposes and a policy writes: one output token, with what the loop must know.

Why the token carries its role: the loop turns written tokens into whole words per output stream
(:mod:`simul.streaming.words`) without asking the model's tokenizer, and a policy must know which
candidate ends the sentence.  So every :class:`Token` says, besides its id and text piece, whether it
ends the sentence (EOS) and whether it is a stream tag of a joint ASR/ST model (``<asr>``,
``<st>``: see :mod:`simul.serialize.streams`).

Pieces follow SentencePiece's conventions: ``▁`` (U+2581) marks a word boundary.  In the usual
vocabulary it *begins* a word (``▁hel lo``), so a word is known to be complete only when the next
one begins; in a vocabulary trained with ``whitespace_as_suffix``
(:class:`simul.data.tokenizer.SpmConfig`) it *ends* one (``hel lo▁``), so a word is complete with
its last piece, which lets a streaming system commit whole words without waiting for the next.
``▁`` inside a piece ends one word and begins the next.  An adapter over a tokenizer with another
convention converts its pieces to these.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import final

from simul.data.tokenizer import Tokenizer

__all__ = ["WORD_BOUNDARY", "Token", "TokenTable", "check_tokenizer", "writable_prefix"]

#: SentencePiece's word-boundary marker, "▁".
WORD_BOUNDARY = "\u2581"


@dataclass(frozen=True)
class Token:
    """One output token.

    Attributes:
        id: the token id in the model's vocabulary.
        piece: its text piece (``"▁hel"``, ``"lo"``, ``"</s>"``, ``"<st>"``).
        ends_sentence: whether writing it ends the utterance's output (EOS).
        stream: for a stream tag, the stream the following pieces belong to (``"asr"``,
            ``"st"``, a language code); ``None`` for every other token.

    Examples:
        >>> Token(id=17, piece="▁hel").starts_word
        True
        >>> Token(id=2, piece="</s>", ends_sentence=True).is_control
        True
    """

    id: int
    piece: str
    ends_sentence: bool = False
    stream: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.id, bool) or not isinstance(self.id, int):
            raise ValueError(f"`id` of a token must be an int, but is {self.id!r} instead.")
        if not isinstance(self.piece, str):
            raise ValueError(
                f"`piece` of token {self.id} must be a str, but is {self.piece!r} instead."
            )
        if self.ends_sentence and self.stream is not None:
            raise ValueError(
                f"token {self.id} ({self.piece!r}) must not both end the sentence and switch "
                f"to stream {self.stream!r}."
            )

    @property
    def is_control(self) -> bool:
        """An end of sentence or a stream tag: no text of its own."""
        return self.ends_sentence or self.stream is not None

    @property
    def starts_word(self) -> bool:
        """Whether the piece begins a new word (it starts with ``▁``)."""
        return not self.is_control and self.piece.startswith(WORD_BOUNDARY)

    @property
    def ends_word(self) -> bool:
        """Whether the piece ends its word (it ends with ``▁``: a word-final vocabulary)."""
        return not self.is_control and self.piece.endswith(WORD_BOUNDARY)

    @property
    def closes_previous_word(self) -> bool:
        """Whether the word before this token is complete once this token follows it."""
        return self.is_control or self.starts_word


def writable_prefix(candidates: Sequence[Token]) -> tuple[Token, ...]:
    """The candidates before the first end of sentence (what a policy may write mid-source)."""
    for position, token in enumerate(candidates):
        if token.ends_sentence:
            return tuple(candidates[:position])
    return tuple(candidates)


@final
class TokenTable:
    """The :class:`Token` of each id a model emits, built once per id.

    Every streaming model turns its output ids into tokens the same way: the piece from its
    vocabulary, ``ends_sentence`` for its EOS, and, for a joint model, the stream a tag switches to.

    Args:
        piece: the text piece of an id (``Tokenizer.id_to_piece``).
        eos_id: the end-of-sentence id, or ``None`` for a model that never writes one.
        stream_of_id: the stream each tag id switches to (joint models).

    Examples:
        >>> table = TokenTable({5: "▁a", 2: "</s>"}.__getitem__, eos_id=2)
        >>> table(2).ends_sentence, table(5) is table(5)
        (True, True)
    """

    def __init__(
        self,
        piece: Callable[[int], str],
        *,
        eos_id: int | None,
        stream_of_id: Mapping[int, str] | None = None,
    ) -> None:
        self._piece = piece
        self._eos_id = eos_id
        self._stream_of_id = dict(stream_of_id or {})
        self._tokens: dict[int, Token] = {}

    def __call__(self, token_id: int) -> Token:
        token = self._tokens.get(token_id)
        if token is None:
            token = Token(
                id=token_id,
                piece=self._piece(token_id),
                ends_sentence=token_id == self._eos_id,
                stream=self._stream_of_id.get(token_id),
            )
            self._tokens[token_id] = token
        return token


def check_tokenizer(tokenizer: Tokenizer, *, eos_id: int, vocab_size: int) -> None:
    """Raise a ``ValueError`` unless ``tokenizer`` has the model's EOS id and vocabulary size."""
    if (tokenizer.eos_id, tokenizer.vocab_size) != (eos_id, vocab_size):
        raise ValueError(
            f"the tokenizer must match the model (EOS {eos_id}, {vocab_size} tokens), but has "
            f"EOS {tokenizer.eos_id} and {tokenizer.vocab_size} tokens instead."
        )
