"""Confidence threshold: write the model's next tokens only while it is sure of them, else read.

Zheng et al. 2020 ("Simultaneous Translation Policies: From Fixed to Adaptive", ACL 2020,
arXiv:2004.13169) turn wait-k models into an adaptive policy with one rule: WRITE the model's top
token when its probability is at least a threshold rho, READ otherwise (they compose several
wait-k models and lower rho as the source grows; here one model and one rho).  The same signal
serves an entropy bound: a flat next-token distribution means the source read so far does not
settle the next word.  Both read :class:`~simul.streaming.CandidateScores`, the log-probability
of each candidate and the entropy of the distribution it was chosen from.

Per decision, the written tokens are the longest prefix of the writable candidates whose
probability is at least ``min_probability`` and, with ``max_entropy``, whose step entropy is at
most that; an empty prefix is READ.  With a model that proposes its whole hypothesis this writes
several tokens at once; with a step-by-step model it asks again after each one.  At the end of
the source the rest is flushed.

Example: ``min_probability=0.6`` on the toy model (probability ``sigmoid(T - f - 1/2)`` for a
token aligned to frame ``f`` with ``T`` frames received) writes a token once one more frame after
its own has arrived (``sigmoid(1.5) = 0.82``, ``sigmoid(0.5) = 0.62``, ``sigmoid(-0.5) = 0.38``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import final

from typing_extensions import override

from simul.streaming import (
    CandidateScores,
    Decision,
    DecisionView,
    Policy,
    Read,
    Requirements,
    Write,
)

__all__ = ["TokenConfidence"]


@final
@dataclass(frozen=True, kw_only=True)
class TokenConfidence(Policy):
    """Write while the model's candidates are probable (and its distribution peaked) enough."""

    min_probability: float = 0.5
    """Zheng et al.'s rho: a candidate is written only if the model gave it at least this."""
    max_entropy: float | None = None
    """If set, a candidate is written only if its step's entropy is at most this (nats)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 < self.min_probability <= 1.0:
            raise ValueError(
                f"`min_probability` must be in (0, 1], but is {self.min_probability!r} instead."
            )
        if self.max_entropy is not None and not self.max_entropy >= 0.0:
            raise ValueError(
                f"`max_entropy` must be None or >= 0, but is {self.max_entropy!r} instead."
            )

    @property
    @override
    def requires(self) -> Requirements:
        return Requirements(CandidateScores())

    @override
    def decide(self, view: DecisionView) -> Decision:
        writable = view.writable
        scores = view.signals.candidate_scores
        if not writable or scores is None:
            return Read()
        floor = math.log(self.min_probability)
        count = 0
        for log_prob, entropy in zip(
            scores.log_prob[: len(writable)].tolist(),
            scores.entropy[: len(writable)].tolist(),
            strict=True,
        ):
            if log_prob < floor or (self.max_entropy is not None and entropy > self.max_entropy):
                break
            count += 1
        return Write(writable[:count]) if count else Read()
