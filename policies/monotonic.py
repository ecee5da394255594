"""The monotonic threshold policy: MMA's "every head has stopped" and EMMA's last-step rule.

Two published rules, one policy (``source_step`` chooses):

- MMA (Ma et al., ICLR 2020, arXiv:1909.12406; fairseq's ``monotonic_multihead_attention.py``),
  ``source_step: any`` (default): for the next token, each head walks forward from where it
  stopped for the previous token and stops at the first source step whose p_choose reaches the
  threshold (0.5); if some head reaches the end of the received source without stopping, READ
  ("any head reads", fairseq's default criterion).  A head's value is its largest p_choose over
  the received steps since its previous stop, and the heads' values are aggregated by ``min``
  (default: every head must have stopped).  The model computes p_choose from each head's previous
  stop (the threshold is passed to it in the requirements, since it decides where heads stopped).
- EMMA (Ma et al. 2023, arXiv:2312.04515; SeamlessStreaming's ``MMATextDecoderAgent``),
  ``source_step: last``: a head's value is its p_choose at the *last* received source step only,
  for the next target token; the heads of every layer from ``start_layer`` are aggregated by
  ``min`` (default), ``mean`` or ``median`` (the lower middle value, as ``torch.median``), and the
  model writes when the aggregate is at least the threshold (0.5).

In both, the heads are those of every decoder layer from ``start_layer`` (the model leaves out the
layers below it); each candidate is judged on its own and the policy writes the candidates before
the first one that fails.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import final

import torch
from typing_extensions import override

from simul.streaming import Decision, DecisionView, PChoose, Policy, Read, Requirements, Write

__all__ = ["HeadDecision", "MonotonicThreshold", "SourceStep"]


class SourceStep(enum.Enum):
    """Which received source steps of a head count."""

    ANY = "any"
    """Any step since the head's previous stop: the head has stopped (MMA)."""
    LAST = "last"
    """The last received step only (EMMA)."""


class HeadDecision(enum.Enum):
    """How the heads' values become one per candidate."""

    MIN = "min"
    """The smallest: every head must agree (MMA's "any head reads"; EMMA's default)."""
    MEAN = "mean"
    """The average over heads."""
    MEDIAN = "median"
    """The lower median over heads (``torch.median``)."""


@final
@dataclass(frozen=True, kw_only=True)
class MonotonicThreshold(Policy):
    """Monotonic attention's threshold rule (see the module doc)."""

    threshold: float = 0.5
    """Write when the aggregated p_choose is at least this (also where a head stops)."""
    source_step: SourceStep = SourceStep.ANY
    """``any`` (MMA: each head has stopped since its previous stop) or ``last`` (EMMA)."""
    aggregation: HeadDecision = HeadDecision.MIN
    """How the heads' values combine: ``min``, ``mean`` or ``median``."""
    start_layer: int = 0
    """The first decoder layer (0-based) whose heads count (EMMA's --p-choose-start-layer)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"`threshold` must be in (0, 1], but is {self.threshold} instead.")
        if not isinstance(self.source_step, SourceStep):
            raise ValueError(
                f"`source_step` must be a SourceStep, but is {self.source_step!r} instead."
            )
        if not isinstance(self.aggregation, HeadDecision):
            raise ValueError(
                f"`aggregation` must be a HeadDecision, but is {self.aggregation!r} instead."
            )
        if (
            isinstance(self.start_layer, bool)
            or not isinstance(self.start_layer, int)
            or self.start_layer < 0
        ):
            raise ValueError(
                f"`start_layer` must be an int >= 0, but is {self.start_layer!r} instead."
            )

    @property
    @override
    def requires(self) -> Requirements:
        return Requirements(PChoose(threshold=self.threshold, start_layer=self.start_layer))

    def head_values(self, p_choose: torch.Tensor) -> torch.Tensor:
        """(C, H, T) p_choose -> (C,) aggregated value per candidate (T >= 1)."""
        if self.source_step is SourceStep.LAST:
            values = p_choose[:, :, -1]  # (C, H)
        else:
            values = p_choose.amax(dim=2)  # (C, H)
        if self.aggregation is HeadDecision.MIN:
            return values.amin(dim=1)
        if self.aggregation is HeadDecision.MEAN:
            return values.mean(dim=1)
        return values.median(dim=1).values

    @override
    def decide(self, view: DecisionView) -> Decision:
        writable = view.writable
        p_choose = view.signals.p_choose
        if not writable or p_choose is None or p_choose.shape[2] == 0:
            return Read()
        passes = self.head_values(p_choose[: len(writable)]) >= self.threshold  # (C,)
        blocked = (~passes).nonzero()
        count = int(blocked[0, 0]) if blocked.numel() else len(writable)
        return Write(writable[:count]) if count > 0 else Read()
