"""How attention policies read a model's cross-attention: layer, heads, aggregation, normalisation.

The steps, in FBK's order (``simul_offline_edatt.py``/``simul_offline_alignatt.py``, see
``research/policies.md``): take the requested decoder layer's weights (C, H, T); keep the chosen
heads; aggregate them (FBK: the mean over all heads); drop the last encoder frame (FBK does, in both
policies); normalise each candidate's row (EDAtt: L2 over frames) or each frame's column across the
candidates (z-score, SimulSeamless's ``normalize_attn``, against attention sinks).

One departure from FBK: a candidate whose attention is entirely on the dropped last frame has an
all-zero row, which FBK's rules take as aligned to frame 0 (AlignAtt) or as not attending to the
newest frames (EDAtt), and write; here it counts as attending to the newest audio, and waits.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import torch

from simul.config import coerce_enum_fields
from simul.streaming import CrossAttention, Hypothesis, Requirements, Signals

__all__ = [
    "AttentionReading",
    "HeadAggregation",
    "Normalization",
    "PreparedAttention",
    "read_attention",
]


class HeadAggregation(enum.Enum):
    """How the chosen heads become one attention row per candidate."""

    MEAN = "mean"
    """Average over heads (fairseq's ``need_head_weights`` path, used by every FBK agent)."""
    MAX = "max"
    """Per frame, the largest weight of any head."""


class Normalization(enum.Enum):
    """How aggregated attention is normalised before the decision rule."""

    NONE = "none"
    """Raw weights (FBK's AlignAtt)."""
    L2 = "l2"
    """Each candidate's row divided by its L2 norm over frames (FBK's EDAtt, ``F.normalize``)."""
    ZSCORE = "zscore"
    """Each frame's column standardised across the candidates (population std; a constant column
    becomes 0).  Needs several candidates, so a model with the hypothesis capability."""


@dataclass(frozen=True, kw_only=True)
class AttentionReading:
    """Which cross-attention a policy reads and how it prepares it."""

    layer: int = -1
    """Decoder layer, 0-based (negative: from the top).  The default, the last, is one that every
    decoder has; FBK's agents read layer 3 of their 6 (``--extract-attn-from-layer 3``), which a
    2-layer decoder lacks: ``--set policy.attention.layer=3`` reproduces them."""
    heads: tuple[int, ...] | None = None
    """Heads to keep, 0-based; None: all of them."""
    head_aggregation: HeadAggregation = HeadAggregation.MEAN
    """How the kept heads are combined."""
    normalization: Normalization = Normalization.NONE
    """How the combined rows are normalised."""
    exclude_last_frame: bool = True
    """Drop the last received encoder frame before deciding (FBK's agents do)."""

    def __post_init__(self) -> None:
        coerce_enum_fields(self)
        if isinstance(self.layer, bool) or not isinstance(self.layer, int):
            raise ValueError(f"`layer` must be an int, but is {self.layer!r} instead.")
        if self.heads is not None and (not self.heads or any(h < 0 for h in self.heads)):
            raise ValueError(
                f"`heads` must be None or a non-empty tuple of head indices >= 0, but is {self.heads!r}."
            )
        if not isinstance(self.head_aggregation, HeadAggregation):
            raise ValueError(
                f"`head_aggregation` must be a HeadAggregation, but is {self.head_aggregation!r} instead."
            )
        if not isinstance(self.normalization, Normalization):
            raise ValueError(
                f"`normalization` must be a Normalization, but is {self.normalization!r} instead."
            )

    @property
    def requirements(self) -> Requirements:
        """What reading attention this way needs from the model: the layer's cross-attention,
        and the whole hypothesis for z-score normalisation (statistics over all its tokens)."""
        if self.normalization is Normalization.ZSCORE:
            return Requirements(CrossAttention(layer=self.layer), Hypothesis())
        return Requirements(CrossAttention(layer=self.layer))


@dataclass(frozen=True, eq=False)
class PreparedAttention:
    """Attention rows ready for a decision rule.

    Attributes:
        rows: (C, T') float32, T' = T - 1 with ``exclude_last_frame`` (at least 0), else T.
        only_on_dropped_frame: (C,) bool: the candidate's aggregated attention is all on the
            dropped last frame (nothing left on the kept ones), so it is aligned to the newest audio.
            FBK's agents would take the argmax of an all-zero row, frame 0, and write it.
    """

    rows: torch.Tensor
    only_on_dropped_frame: torch.Tensor


def read_attention(signals: Signals, reading: AttentionReading) -> PreparedAttention:
    """The prepared attention of every candidate (see the module doc)."""
    weights = signals.cross_attention
    if weights is None:
        raise ValueError("the model's signals hold no cross-attention, which this policy reads.")
    weights = weights.float()  # (C, H, T)
    if reading.heads is not None:
        num_heads = weights.shape[1]
        if max(reading.heads) >= num_heads:
            raise ValueError(
                f"`heads` must be below the model's {num_heads} heads, but is {reading.heads} instead."
            )
        weights = weights[:, list(reading.heads)]
    if reading.head_aggregation is HeadAggregation.MEAN:
        rows = weights.mean(dim=1)  # (C, T)
    else:
        rows = weights.amax(dim=1)  # (C, T)
    if reading.exclude_last_frame:
        rows = rows[:, :-1]
    only_on_dropped_frame = ~(rows > 0).any(dim=1)  # (C,)
    if rows.shape[1] == 0 or rows.shape[0] == 0:
        return PreparedAttention(rows=rows, only_on_dropped_frame=only_on_dropped_frame)
    if reading.normalization is Normalization.L2:
        rows = torch.nn.functional.normalize(rows, p=2.0, dim=1)
    elif reading.normalization is Normalization.ZSCORE:
        mean = rows.mean(dim=0, keepdim=True)  # (1, T')
        std = rows.std(dim=0, unbiased=False, keepdim=True)  # (1, T')
        rows = torch.where(std > 0, (rows - mean) / std.clamp(min=1e-12), torch.zeros_like(rows))
    return PreparedAttention(rows=rows, only_on_dropped_frame=only_on_dropped_frame)
