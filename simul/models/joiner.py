"""The transducer joint network: combine an encoder frame and a predictor output into logits.

``logits(t, u) = W_out tanh(W_enc enc_t + W_pred pred_u)`` (Graves 2012; the additive joiner of
torchaudio's ``RNNT`` and of Zhang et al. 2020's T-T).  Both inputs are projected *before* they
are broadcast against each other, so training over the whole (T, U+1) lattice projects T + U + 1
vectors, not T * (U + 1); only the tanh and the output layer run on the lattice.
"""

from __future__ import annotations

from typing import final

import torch
from torch import Tensor, nn

__all__ = ["Joiner"]


@final
class Joiner(nn.Module):
    """Additive joint network with a tanh and an output layer over the vocabulary (blank included).

    Args:
        encoder_dim: De, size of an encoder frame.
        predictor_dim: Dp, size of a predictor output.
        joiner_dim: Dj, the hidden size.
        vocab_size: V, output classes (blank included).

    Examples:
        >>> joiner = Joiner(encoder_dim=8, predictor_dim=6, joiner_dim=16, vocab_size=10)
        >>> joiner(torch.randn(2, 5, 8), torch.randn(2, 3, 6)).shape
        torch.Size([2, 5, 3, 10])
    """

    def __init__(
        self, *, encoder_dim: int, predictor_dim: int, joiner_dim: int, vocab_size: int
    ) -> None:
        super().__init__()
        self.encoder_proj = nn.Linear(encoder_dim, joiner_dim)
        self.predictor_proj = nn.Linear(predictor_dim, joiner_dim)
        self.output = nn.Linear(joiner_dim, vocab_size)

    def forward(self, encoder_frames: Tensor, predictor_out: Tensor) -> Tensor:
        """Logits of every (frame, position) pair.

        Args:
            encoder_frames: (B, T, De).
            predictor_out: (B, U, Dp).

        Returns:
            (B, T, U, V) unnormalised logits.
        """
        encoded = self.encoder_proj(encoder_frames)[:, :, None, :]  # (B, T, 1, Dj)
        predicted = self.predictor_proj(predictor_out)[:, None, :, :]  # (B, 1, U, Dj)
        return self.output(torch.tanh(encoded + predicted))  # (B, T, U, V)

    def join_at(self, encoder_frames: Tensor, predictor_out: Tensor, positions: Tensor) -> Tensor:
        """Logits of each frame with a few predictor positions of its own (the pruned RNN-T band).

        Args:
            encoder_frames: (B, T, De).
            predictor_out: (B, U, Dp).
            positions: (B, T, S) int64 indices into ``predictor_out``'s dim 1.

        Returns:
            (B, T, S, V): ``forward(encoder_frames, predictor_out)[b, t, positions[b, t, k]]``,
            computed on the S positions only.
        """
        batch_size, num_frames, width = positions.shape
        encoded = self.encoder_proj(encoder_frames)[:, :, None, :]  # (B, T, 1, Dj)
        predicted = self.predictor_proj(predictor_out)  # (B, U, Dj)
        index = positions.reshape(batch_size, num_frames * width, 1)
        predicted = predicted.gather(1, index.expand(-1, -1, predicted.shape[-1]))  # (B, T*S, Dj)
        predicted = predicted.reshape(batch_size, num_frames, width, -1)  # (B, T, S, Dj)
        return self.output(torch.tanh(encoded + predicted))  # (B, T, S, V)
