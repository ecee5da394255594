"""One utterance's progress through the loop: source read, tokens committed, words emitted.

One object with typed fields set in ``__init__`` (like icefall's ``DecodeStream``), owned and
updated by :class:`simul.streaming.session.StreamingSession`; callers read it.  Time is kept in
integer samples and converted to milliseconds only when a token or word is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass

from simul.data.instance import samples_to_ms
from simul.streaming.tokens import Token
from simul.streaming.words import Emission

__all__ = ["CommittedToken", "UtteranceProgress"]


@dataclass(frozen=True)
class CommittedToken:
    """A token the loop committed, and when.

    Attributes:
        token: the token.
        source_samples: source samples consumed when it was committed.
        source_ms: the same in ms.
        elapsed_ms: on the computation-aware clock, in ms.
    """

    token: Token
    source_samples: int
    source_ms: float
    elapsed_ms: float


class UtteranceProgress:
    """Where one utterance stands (read-only for everyone but the session)."""

    def __init__(self, *, sample_rate: int) -> None:
        """Args:
        sample_rate: of the source samples, in Hz.
        """
        self.sample_rate: int = sample_rate
        """Rate of the source samples, in Hz."""
        self.num_samples_read: int = 0
        """Source samples read so far."""
        self.num_segments_read: int = 0
        """Source segments read so far."""
        self.source_finished: bool = False
        """Whether the last segment has been read."""
        self.target_finished: bool = False
        """Whether the output is complete (end of sentence written, or the utterance ended)."""
        self.truncated: bool = False
        """Whether the output hit the session's ``max_tokens`` before its end of sentence."""
        self.committed: list[CommittedToken] = []
        """Every committed token, in order."""
        self.emissions: list[Emission] = []
        """Every completed word, in order (all streams interleaved)."""
        self.hypotheses: list[tuple[Token, ...]] = []
        """The model's full hypothesis at the first decision of each segment (HYPOTHESIS models)."""
        self.compute_seconds: float = 0.0
        """Wall-clock seconds spent in the session's steps."""

    @property
    def source_ms(self) -> float:
        """Source read so far, in ms."""
        return samples_to_ms(self.num_samples_read, self.sample_rate)

    @property
    def written_tokens(self) -> tuple[Token, ...]:
        """The committed tokens, without their times."""
        return tuple(c.token for c in self.committed)
