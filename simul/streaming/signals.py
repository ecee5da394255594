"""What a model can show a policy (capabilities), what a policy asks for, and what comes back.

A model declares its :class:`Capability` set; a policy declares :class:`Requirements` (the
capabilities it reads, plus the parameters the model needs to compute them, such as which decoder
layer's cross-attention).  The loop refuses a mismatch before any audio is read
(:func:`check_compatible`).  At every decision point the model returns :class:`Signals`:

- always ``candidates``: the tokens the model would write next, in order.  A step-by-step decoder
  proposes exactly one (the next token, from the greedy step or the best beam); with
  ``HYPOTHESIS`` it proposes the whole continuation of the written prefix, up to and including its
  end-of-sentence token; a transducer (``TRANSDUCER``) proposes the tokens its search emitted on
  the frames received and not yet written, possibly none (blank: nothing to write);
- by capability, per candidate: cross-attention rows, monotonic p_choose, emission frames.

C: candidates; H: attention heads (monotonic heads for p_choose); T: encoder frames received.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import torch

from simul.streaming.tokens import Token

__all__ = ["Capability", "Requirements", "Signals", "capability_names"]


class Capability(enum.Enum):
    """A kind of signal a model can compute at a decision point."""

    CROSS_ATTENTION = "cross_attention"
    """Per candidate, the cross-attention of a chosen decoder layer over the received frames."""
    HYPOTHESIS = "hypothesis"
    """The candidates are the model's whole hypothesis on the received prefix (to its EOS)."""
    P_CHOOSE = "p_choose"
    """Per candidate, monotonic attention's stopping probability per head and source step."""
    TRANSDUCER = "transducer"
    """The candidates are a transducer's emissions, each with the encoder frame that emitted it."""


def capability_names(capabilities: frozenset[Capability]) -> str:
    """``"cross_attention, hypothesis"``, sorted, or ``"none"``: for messages."""
    return ", ".join(sorted(c.value for c in capabilities)) or "none"


@dataclass(frozen=True, kw_only=True)
class Requirements:
    """What a policy reads, and the parameters the model needs to compute it."""

    capabilities: frozenset[Capability] = frozenset()
    """The capabilities the policy reads (the model must declare every one)."""
    attention_layer: int | None = None
    """Decoder layer (0-based; negative counts from the top) whose cross-attention to return."""
    p_choose_threshold: float = 0.5
    """Where a monotonic head stops for a written token: its first step with p_choose >= this."""
    p_choose_start_layer: int = 0
    """The first decoder layer (0-based) whose monotonic heads ``p_choose`` covers (EMMA's
    ``--p-choose-start-layer``); the model checks it against its layers."""

    def __post_init__(self) -> None:
        if not isinstance(self.capabilities, frozenset) or not all(
            isinstance(c, Capability) for c in self.capabilities
        ):
            raise ValueError(
                f"`capabilities` must be a frozenset of Capability, but is {self.capabilities!r} instead."
            )
        if (Capability.CROSS_ATTENTION in self.capabilities) != (self.attention_layer is not None):
            raise ValueError(
                "`attention_layer` must be given exactly when cross_attention is required, but "
                f"is {self.attention_layer!r} with capabilities {capability_names(self.capabilities)}."
            )
        start = self.p_choose_start_layer
        if isinstance(start, bool) or not isinstance(start, int) or start < 0:
            raise ValueError(f"`p_choose_start_layer` must be an int >= 0, but is {start!r} instead.")
        if not 0.0 < self.p_choose_threshold <= 1.0:
            raise ValueError(
                f"`p_choose_threshold` must be in (0, 1], but is {self.p_choose_threshold} instead."
            )


@dataclass(frozen=True, eq=False)
class Signals:
    """What the model shows the policy at one decision point (see the module doc).

    Attributes:
        candidates: the tokens the model would write next, in order (C of them).
        num_frames: T, encoder frames received so far (the width of the attention rows).
        cross_attention: (C, H, T) float, with ``CROSS_ATTENTION``: the requested layer's
            attention weights of each candidate over the received frames (rows sum to 1).
        p_choose: (C, H, T) float, with ``P_CHOOSE``: each monotonic head's stopping probability
            at each received step, 0 before the step where it stopped for the previous token
            (H: the heads of every layer from ``requirements.p_choose_start_layer``, layer-major).
        emission_frames: (C,), with ``TRANSDUCER``: the encoder frame that emitted each candidate.
    """

    candidates: tuple[Token, ...]
    num_frames: int
    cross_attention: torch.Tensor | None = None
    p_choose: torch.Tensor | None = None
    emission_frames: tuple[int, ...] | None = field(default=None)

    def check(self, requirements: Requirements, model_name: str) -> None:
        """Raise a ``ValueError`` naming ``model_name`` if a required signal is missing or misshapen."""
        count = len(self.candidates)
        where = f"model {model_name}'s signals"
        if self.num_frames < 0:
            raise ValueError(
                f"{where}: `num_frames` must be >= 0, but is {self.num_frames} instead."
            )
        needed = requirements.capabilities
        tensors = (
            ("cross_attention", Capability.CROSS_ATTENTION, self.cross_attention),
            ("p_choose", Capability.P_CHOOSE, self.p_choose),
        )
        for name, capability, value in tensors:
            if capability not in needed:
                continue
            if value is None:
                raise ValueError(f"{where}: `{name}` is required by the policy but is missing.")
            if value.dim() != 3 or value.shape[0] != count or value.shape[2] != self.num_frames:
                raise ValueError(
                    f"{where}: `{name}` must have shape ({count}, H, {self.num_frames}) "
                    f"(candidates, heads, frames), but has shape {tuple(value.shape)} instead."
                )
        if Capability.TRANSDUCER in needed:
            frames = self.emission_frames
            if frames is None or len(frames) != count:
                raise ValueError(
                    f"{where}: `emission_frames` must hold one frame per candidate ({count}), "
                    f"but is {frames!r} instead."
                )
