"""History selection for attention models on unbounded streams (StreamAtt's text and audio rules).

Why: an attention encoder-decoder run on a whole talk keeps every encoder frame and forces its
whole written output as the decoder's prefix, so each segment costs more than the one before
(``benchmarks/bench_long_stream.py`` measures it) and the model sees a context far longer than
any sentence it was trained on.  StreamAtt (Papi, Gaido, Negri, Bentivogli, ACL 2024,
arXiv:2406.06097; FBK's ``history_selection.py``) keeps a bounded history after every write:

- *text*: the last ``words`` words written (``FixedWordsHistorySelection``, 20 in the paper), or
  the tokens since the last strong punctuation ``. ! ? : ;`` (``PunctuationHistorySelection``,
  at most ``max_tokens``); the rest stays written (it is output) but is no longer forced as prefix;
- *audio*: the encoder frames before the earliest frame that a kept token attends to most are
  dropped; nothing is dropped while no text is (FBK's rule).  When no text is kept at all, the
  audio up to the frame the last dropped token attended to most goes (the text still to come is
  spoken after it).

The functions here are pure, on token pieces and most-attended frames;
:class:`~simul.streaming.attention_decoder.AttentionDecoderStreamingModel` applies them after each
write (``--set model.decoding.history.text=words``).  Decisions stay the policy's (StreamAtt
uses AlignAtt).

Example:
    >>> config = HistoryConfig(text=TextHistory.WORDS, words=2)
    >>> start = kept_text_start(["▁a", "▁b", "c", "▁d"], config)
    >>> start, kept_audio_start([3, 5, 6, 9], start)
    (1, 5)
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from simul.config import check_positive_int, coerce_enum_fields
from simul.streaming.tokens import WORD_BOUNDARY

__all__ = [
    "STRONG_PUNCTUATION",
    "HistoryConfig",
    "TextHistory",
    "kept_audio_start",
    "kept_text_start",
]

#: FBK's ``STRONG_PUNCTUATION``: a piece ending in one of these closes the text history.
STRONG_PUNCTUATION = (".", "!", "?", ":", ";")


class TextHistory(enum.Enum):
    """Which written text stays the decoder's prefix."""

    ALL = "all"
    """Everything written (no history selection: an utterance-level model)."""
    WORDS = "words"
    """The last ``words`` words."""
    PUNCTUATION = "punctuation"
    """The tokens since the last strong punctuation, at most ``max_tokens``."""


@dataclass(frozen=True, kw_only=True)
class HistoryConfig:
    """StreamAtt's history selection (``--set model.decoding.history.FIELD=VALUE``)."""

    text: TextHistory = TextHistory.ALL
    """The text rule; ``all`` keeps everything (and every frame)."""
    words: int = 20
    """``words``: words kept (FBK's ``--history-words``, 20 in the paper)."""
    max_tokens: int = 100
    """``punctuation``: most tokens kept (FBK's ``--history-max-len``)."""
    attention_layer: int = -1
    """The decoder layer whose cross-attention (mean over heads) says which frame a token uses;
    negative counts from the last."""

    def __post_init__(self) -> None:
        coerce_enum_fields(self)
        if not isinstance(self.text, TextHistory):
            raise ValueError(f"`text` must be a TextHistory, but is {self.text!r} instead.")
        check_positive_int("words", self.words)
        check_positive_int("max_tokens", self.max_tokens)
        if isinstance(self.attention_layer, bool) or not isinstance(self.attention_layer, int):
            raise ValueError(
                f"`attention_layer` must be an int, but is {self.attention_layer!r} instead."
            )


def kept_text_start(pieces: Sequence[str], config: HistoryConfig) -> int:
    """Index of the first written token kept as history (0: all of it; ``len``: none).

    Args:
        pieces: the text pieces of the history so far, oldest first (``▁`` starts a word).
        config: the rule.
    """
    if config.text is TextHistory.ALL:
        return 0
    if config.text is TextHistory.WORDS:
        seen = 0
        for position in range(len(pieces) - 1, -1, -1):
            if pieces[position].startswith(WORD_BOUNDARY):
                seen += 1
                if seen == config.words:
                    return position
        return 0
    start = 0
    for position in range(len(pieces) - 1, -1, -1):
        if pieces[position].rstrip().endswith(STRONG_PUNCTUATION):
            start = position + 1
            break
    return max(start, len(pieces) - config.max_tokens)


def kept_audio_start(most_attended: Sequence[int], text_start: int) -> int:
    """The first encoder frame to keep, given each history token's most-attended frame.

    Args:
        most_attended: (N,) per history token, the frame its cross-attention peaks on.
        text_start: :func:`kept_text_start`'s answer: tokens before it are dropped.

    Returns:
        0 when no text is dropped; else the earliest frame a kept token attends to most, or, with
        none kept, the frame the last dropped token attended to most.
    """
    if not 0 <= text_start <= len(most_attended):
        raise ValueError(
            f"`text_start` must be in [0, {len(most_attended)}], but is {text_start} instead."
        )
    if text_start == 0:
        return 0
    kept = most_attended[text_start:]
    return min(kept) if kept else most_attended[-1]
