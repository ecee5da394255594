"""AlignAtt: write a token unless it is aligned to the newest audio.

Papi, Turchi, Negri, "AlignAtt: Using Attention-based Audio-Translation Alignments as a Guide for
Simultaneous Speech Translation", Interspeech 2023 (arXiv:2305.11408).  Rule, as FBK's agent
(``simul_offline_alignatt.py``): a candidate's alignment is the encoder frame it attends to most
(argmax of its prepared attention: mean over heads of one layer, last frame dropped, not
normalised); it is *unaligned* when that frame is among the last ``frames`` (f) frames; write the
candidates before the first unaligned one, or READ when there are none.  Published settings: f in
{2, 4, ..., 14} (40 ms each), layer 3 of 6, 1000 ms segments; SimulSeamless z-scores each frame
across the hypothesis first (``attention.normalization=zscore``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import final

from typing_extensions import override

from policies._attention import AttentionReading, read_attention
from simul.streaming import Decision, DecisionView, Policy, Read, Requirements, Write

__all__ = ["AlignAtt"]


@final
@dataclass(frozen=True, kw_only=True)
class AlignAtt(Policy):
    """AlignAtt (see the module doc)."""

    frames: int = 4
    """f: a token aligned to one of the last f encoder frames waits (FBK's --frame-num)."""
    attention: AttentionReading = field(default_factory=AttentionReading)
    """Which attention is read and how it is prepared (default: the last layer, mean of heads, raw;
    FBK: layer 3)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.frames, bool) or not isinstance(self.frames, int) or self.frames < 0:
            raise ValueError(f"`frames` must be an int >= 0, but is {self.frames!r} instead.")

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
        aligned_to = rows.argmax(dim=1)  # (C,)
        first_recent_frame = rows.shape[1] - self.frames
        recent = (aligned_to >= first_recent_frame) | prepared.only_on_dropped_frame[
            : len(writable)
        ]
        unaligned = recent.nonzero()
        count = int(unaligned[0, 0]) if unaligned.numel() else len(writable)
        return Write(writable[:count]) if count > 0 else Read()
