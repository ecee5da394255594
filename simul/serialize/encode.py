"""Serialized text -> token ids, each tag one id and no stray word-boundary piece before it.

Why not ``Tokenizer.encode`` as is: SentencePiece keeps a tag (a user-defined symbol) as one
piece, but the space before it becomes a piece of its own, so ``"dog <st> Hund"`` encodes as
``▁d o g ▁ <st> ▁Hund``: one extra token at every change of stream, about one token in five
of the built-in corpus' alignment-serialized targets (``benchmarks/bench_serialize.py``).
This encoder encodes the words between two tags on their own and puts the tag ids between
them: ``▁d o g <st> ▁Hund``.  Every word keeps the pieces it would have in plain text (pieces
never cross a ``▁`` boundary), and ``split_streams(..., unit="piece")`` reads the result back
(a tag ends the word before it).

Example:
    >>> encoder = SerializedTextEncoder(tokenizer, StreamLayout(("de",)))
    >>> ids = encoder("<asr> the dog <st> der Hund")
"""

from __future__ import annotations

from typing import final

from simul.data.tokenizer import Tokenizer
from simul.serialize.streams import StreamLayout

__all__ = ["SerializedTextEncoder"]


@final
class SerializedTextEncoder:
    """Encode serialized text (``simul.serialize.order.serialized_text``) into token ids."""

    def __init__(self, tokenizer: Tokenizer, layout: StreamLayout) -> None:
        """Args:
        tokenizer: a SentencePiece model with every tag of ``layout`` as a user-defined symbol.
        layout: the streams and tags of the serialized text.

        Raises:
            ValueError: the tokenizer lacks one of the tags.
        """
        missing = [tag for tag in layout.tags if tag not in tokenizer.tags]
        if missing:
            raise ValueError(
                f"SentencePiece model {tokenizer.model_path} must have the tags {layout.tags} as "
                f"user-defined symbols, but lacks {', '.join(missing)}; train it with "
                f"`simul data spm --tags '{','.join(layout.tags)}' ...`."
            )
        self.tokenizer = tokenizer
        self.layout = layout
        self._tag_ids = {tag: tokenizer.tags[tag] for tag in layout.tags}

    def __call__(self, text: str) -> list[int]:
        """Token ids of ``text``, without BOS or EOS (like ``Tokenizer.encode``)."""
        ids: list[int] = []
        segment: list[str] = []
        for word in text.split():
            tag_id = self._tag_ids.get(word)
            if tag_id is None:
                segment.append(word)
                continue
            if segment:
                ids.extend(self.tokenizer.encode(" ".join(segment)))
                segment = []
            ids.append(tag_id)
        if segment:
            ids.extend(self.tokenizer.encode(" ".join(segment)))
        return ids

    def pieces(self, text: str) -> list[str]:
        """The pieces of :meth:`__call__`'s ids (for inspection and de-serialization tests)."""
        return [self.tokenizer.id_to_piece(index) for index in self(text)]
