"""Wait-k: write the i-th target unit once k + i - 1 source units have been read.

Ma et al. 2019 (STACL, arXiv:1810.08398): with source units read ``g``, the policy has written
``g - k + 1`` target units (none before ``k``).  For speech, a "source unit" is either a source
segment (fixed pre-decision: Ma et al. 2020, arXiv:2011.02048, count pre-decision blocks; StreamSpeech's
``wait-k-stride-n`` baseline and FBK's SimulSeamless count ``--source-segment-size`` chunks), or an
*estimated* source word: ``floor(source_ms / ms_per_word)``, with one word per 280 ms (the
``FIXED_WORD_DURATION`` FBK's StreamAtt takes from Ma et al. 2021; FBK's offline wait-k counts one
word per 8 encoder frames, 320 ms).  The target unit is a token (piece) or a word.

Example: k = 3, 320 ms segments, one token per word: token i (1-based) is written after segment
i + 2, i.e. with delay (i + 2) * 320 ms.  At the end of the source the rest is flushed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import final

from typing_extensions import override

from simul.config import check_positive_int
from simul.streaming import Decision, DecisionView, Policy, Read, Requirements, Write

__all__ = ["SourceUnit", "TargetUnit", "WaitK"]


class SourceUnit(enum.Enum):
    """What wait-k counts on the source side."""

    SEGMENT = "segment"
    """Source segments received (``segment_ms`` each; the last may be shorter)."""
    WORD = "word"
    """Estimated source words: floor(source_ms / ms_per_word)."""


class TargetUnit(enum.Enum):
    """What wait-k counts on the target side."""

    TOKEN = "token"
    """Written tokens (pieces; stream tags count as tokens)."""
    WORD = "word"
    """Written words (a piece starting with ▁, or after one ending with ▁, starts one; stream
    tags count as none)."""


@final
@dataclass(frozen=True, kw_only=True)
class WaitK(Policy):
    """Wait-k (see the module doc).  Requires nothing of the model; runs on every family."""

    k: int = 3
    """Lag: source units read before the first target unit."""
    source_unit: SourceUnit = SourceUnit.SEGMENT
    """What k counts: segments, or estimated source words."""
    ms_per_word: int = 280
    """With source_unit=word: estimated ms of speech per source word."""
    target_unit: TargetUnit = TargetUnit.TOKEN
    """What is written per source unit: one token, or one word."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive_int("k", self.k)
        check_positive_int("ms_per_word", self.ms_per_word)
        if not isinstance(self.source_unit, SourceUnit) or not isinstance(
            self.target_unit, TargetUnit
        ):
            raise ValueError(
                "`source_unit` and `target_unit` must be SourceUnit and TargetUnit, but are "
                f"{self.source_unit!r} and {self.target_unit!r} instead."
            )

    @property
    @override
    def requires(self) -> Requirements:
        return Requirements()

    def source_units(self, view: DecisionView) -> int:
        """Source units read so far."""
        if self.source_unit is SourceUnit.SEGMENT:
            return view.num_segments
        return view.source_samples * 1000 // (view.sample_rate * self.ms_per_word)

    @override
    def decide(self, view: DecisionView) -> Decision:
        allowed = self.source_units(view) - self.k + 1
        writable = view.writable
        if self.target_unit is TargetUnit.TOKEN:
            count = min(allowed - len(view.written), len(writable))
        else:
            count = _tokens_within_words(view, allowed)
        return Write(writable[:count]) if count > 0 else Read()


def _tokens_within_words(view: DecisionView, allowed_words: int) -> int:
    """How many leading writable tokens keep the written words within ``allowed_words``."""
    words = 0
    in_word = False
    for token in view.written:
        if token.is_control:
            in_word = False
        elif token.starts_word or not in_word:
            words += 1
            in_word = True
        if token.ends_word:  # a word-final piece: the next piece starts another word
            in_word = False
    count = 0
    for token in view.writable:
        if token.is_control:
            in_word = False
        elif token.starts_word or not in_word:
            if words >= allowed_words:
                break
            words += 1
            in_word = True
        if token.ends_word:
            in_word = False
        count += 1
    return count
