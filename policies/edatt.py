"""EDAtt: write a token unless it attends too much to the newest audio.

Papi, Negri, Turchi, "Attention as a Guide for Simultaneous Speech Translation", ACL 2023
(arXiv:2212.07850).  Rule, as FBK's agent (``simul_offline_edatt.py``): prepare each candidate's
cross-attention (mean over heads of one decoder layer, last frame dropped, L2-normalised over
frames); a candidate is *unstable* when its attention summed over the last ``frames`` (lambda)
encoder frames reaches ``alpha``; write the candidates before the first unstable one, or READ when
there are none.  Published settings: lambda = 2 frames (80 ms), alpha in {0.6, 0.4, 0.2, 0.1, 0.05,
0.03}, layer 3 of 6, 800 ms segments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import final

from typing_extensions import override

from policies._attention import AttentionReading, Normalization, read_attention
from simul.config import check_positive_int
from simul.streaming import Decision, DecisionView, Policy, Read, Requirements, Write

__all__ = ["EDAtt"]


@final
@dataclass(frozen=True, kw_only=True)
class EDAtt(Policy):
    """EDAtt (see the module doc)."""

    alpha: float = 0.1
    """Attention threshold on the last `frames` frames; lower waits more (FBK's --attn-threshold)."""
    frames: int = 2
    """lambda: the newest encoder frames whose attention is summed (FBK's --frame-num)."""
    attention: AttentionReading = field(
        default_factory=lambda: AttentionReading(normalization=Normalization.L2)
    )
    """Which attention is read and how it is prepared (default: the last layer, mean of heads, L2;
    FBK: layer 3)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 < self.alpha:
            raise ValueError(f"`alpha` must be > 0, but is {self.alpha} instead.")
        check_positive_int("frames", self.frames)

    @property
    @override
    def requires(self) -> Requirements:
        return self.attention.requirements

    @override
    def decide(self, view: DecisionView) -> Decision:
        writable = view.writable
        if not writable:
            return Read()
        prepared = read_attention(view.signals, self.attention)
        rows = prepared.rows[: len(writable)]  # (C, T')
        if rows.shape[1] == 0:
            return Read()
        recent = rows[:, -self.frames :].sum(dim=1)  # (C,)
        unstable = (
            (recent >= self.alpha) | prepared.only_on_dropped_frame[: len(writable)]
        ).nonzero()
        count = int(unstable[0, 0]) if unstable.numel() else len(writable)
        return Write(writable[:count]) if count > 0 else Read()
