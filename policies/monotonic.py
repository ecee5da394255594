"""The monotonic threshold policy: write a token once every monotonic head has stopped for it.

Inference rule of monotonic multihead attention (Ma et al., ICLR 2020, arXiv:1909.12406; fairseq's
``monotonic_multihead_attention.py``): for the next token, each head walks forward from where it
stopped for the previous token and stops at the first source step whose p_choose reaches the
threshold (0.5); if some head reaches the end of the received source without stopping, READ
("any head reads", fairseq's default criterion).  The model computes p_choose from each head's
previous stop (the threshold is passed to it in the requirements, since it decides where heads
stopped); this policy writes the candidates every head stops for within the received steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import final

from typing_extensions import override

from simul.streaming import Capability, Decision, DecisionView, Policy, Read, Requirements, Write

__all__ = ["MonotonicThreshold"]


@final
@dataclass(frozen=True, kw_only=True)
class MonotonicThreshold(Policy):
    """Monotonic attention's threshold rule (see the module doc)."""

    threshold: float = 0.5
    """A head stops at the first step whose p_choose is at least this."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"`threshold` must be in (0, 1], but is {self.threshold} instead.")

    @property
    @override
    def requires(self) -> Requirements:
        return Requirements(
            capabilities=frozenset({Capability.P_CHOOSE}), p_choose_threshold=self.threshold
        )

    @override
    def decide(self, view: DecisionView) -> Decision:
        writable = view.writable
        p_choose = view.signals.p_choose
        if not writable or p_choose is None or p_choose.shape[2] == 0:
            return Read()
        stops = (p_choose[: len(writable)] >= self.threshold).any(dim=2).all(dim=1)  # (C,)
        blocked = (~stops).nonzero()
        count = int(blocked[0, 0]) if blocked.numel() else len(writable)
        return Write(writable[:count]) if count > 0 else Read()
