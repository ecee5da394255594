"""The CTC head every model family can put on the shared encoder (Graves et al. 2006).

Why on every family: an auxiliary CTC loss on the encoder speeds up and stabilises the training
of transducers and attention models alike (hybrid CTC/attention, Watanabe et al. 2017; hybrid
CTC/RNN-T), and it gives a frame-level blank posterior that read/write policies can look at.
One head, one loss function, so every family computes CTC the same way.

The blank is the tokenizer's pad/blank id (``simul.data.tokenizer``), not a class of its own.
"""

from __future__ import annotations

from typing import final

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["CtcHead", "ctc_loss"]


@final
class CtcHead(nn.Module):
    """Dropout and a linear layer from encoder frames to log-probabilities over the vocabulary.

    Args:
        encoder_dim: D, size of an encoder frame.
        vocab_size: V, blank included.
        dropout_p: dropout on the encoder frames before the projection.

    Examples:
        >>> head = CtcHead(encoder_dim=8, vocab_size=10)
        >>> head(torch.randn(2, 5, 8)).shape
        torch.Size([2, 5, 10])
    """

    def __init__(self, *, encoder_dim: int, vocab_size: int, dropout_p: float = 0.0) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout_p)
        self.proj = nn.Linear(encoder_dim, vocab_size)

    def forward(self, encoder_frames: Tensor) -> Tensor:
        """(B, T, D) encoder frames -> (B, T, V) log-probabilities (float32 under autocast too)."""
        logits = self.proj(self.dropout(encoder_frames))
        return torch.log_softmax(logits.float(), dim=-1)


def ctc_loss(
    log_probs: Tensor,
    frame_lengths: Tensor,
    targets: Tensor,
    target_lengths: Tensor,
    *,
    blank: int,
) -> Tensor:
    """Per-sequence CTC costs ``-log P(target | frames)``.

    A target that cannot be aligned (more tokens, counting repeats, than frames) costs 0 and
    gives no gradient (``zero_infinity``), instead of an infinite loss that would end training.

    Args:
        log_probs: (B, T, V) from :class:`CtcHead`.
        frame_lengths: (B,) valid frames per sequence.
        targets: (B, U) token ids, padded with anything beyond ``target_lengths``.
        target_lengths: (B,) tokens per sequence.
        blank: the blank id.

    Returns:
        (B,) float32 costs.
    """
    return F.ctc_loss(
        log_probs.transpose(0, 1),  # (T, B, V)
        targets,
        frame_lengths,
        target_lengths,
        blank=blank,
        reduction="none",
        zero_infinity=True,
    )
