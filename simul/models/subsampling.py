"""Causal convolutional subsampling by 4: 10 ms fbank frames in, 40 ms encoder frames out.

Two 3x3 convolutions with stride 2 over (time, mel) with ReLUs, then a linear projection of the
flattened (channels, mel) plane to ``d_model``, as in the Conformer/ESPnet ``Conv2dSubsampling``,
with one change that makes it *causal and streamable*: each convolution pads the time axis on the
left only, by one zero frame, and never on the right.

Output length (``T`` fbank frames in): the first convolution gives ``T // 2`` frames, the second
``(T // 2) // 2 == T // 4``.  The 0 to 3 fbank frames after the last full group of 4 are dropped.

Receptive field: output frame ``k`` depends on fbank frames ``4k - 3 .. 4k + 3`` (7 frames, 70 ms):
its own 40 ms group ``4k .. 4k + 3`` and 30 ms of history.  It becomes available as soon as fbank
frame ``4k + 3`` has arrived, i.e. at ``40 * (k + 1)`` ms of audio, and never waits for more.  At
the start the history is padding: the first convolution sees a zero fbank frame before frame 0,
the second a zero hidden frame before its first input.

Why streaming equals offline: :class:`Conv2dSubsampling.stream` keeps, per convolution, the input
frames its next output still needs (:class:`SubsamplingCache`), starting with the zero frame the
offline path pads with; a buffer of ``cache + new frames`` is then convolved exactly as the same
frames of the whole padded sequence.  Tested with hypothesis over random chunkings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import final

import torch
from torch import Tensor, nn

__all__ = ["SUBSAMPLING_FACTOR", "Conv2dSubsampling", "SubsamplingCache", "subsampled_length"]

SUBSAMPLING_FACTOR = 4
"""Fbank frames per encoder frame (10 ms -> 40 ms)."""

_KERNEL_SIZE = 3
_STRIDE = 2
_LEFT_PAD_FRAMES = 1


def subsampled_length(num_frames: int | Tensor) -> int | Tensor:
    """Encoder frames produced from ``num_frames`` fbank frames: ``num_frames // 4``."""
    return num_frames // SUBSAMPLING_FACTOR


def _conv_output_size(size: int) -> int:
    """Output size of an unpadded kernel-3, stride-2 convolution over ``size`` positions."""
    return 0 if size < _KERNEL_SIZE else (size - _KERNEL_SIZE) // _STRIDE + 1


@final
@dataclass(frozen=True)
class SubsamplingCache:
    """What the streaming subsampling keeps between chunks: the frames each convolution still needs.

    Attributes:
        pending_input: (B, P1, F) fbank frames not yet fully consumed by the first convolution
            (P1 <= 2 after a call; starts as the single zero frame of left padding).
        pending_hidden: (B, C, P2, F1) first-convolution outputs not yet fully consumed by the
            second convolution (P2 <= 2 after a call; starts as one zero frame of left padding).
    """

    pending_input: Tensor
    pending_hidden: Tensor

    def size_bytes(self) -> int:
        """Memory held by the cache, in bytes."""
        return sum(t.numel() * t.element_size() for t in (self.pending_input, self.pending_hidden))


def _strided_conv_step(conv: nn.Conv2d, pending: Tensor, new: Tensor) -> tuple[Tensor, Tensor]:
    """Apply ``conv`` (stride 2 in time, no time padding) to ``pending + new``, keep what is unused.

    Output ``j`` of the buffer reads buffer frames ``2j .. 2j + 2``; after ``n`` outputs the next
    one starts at buffer frame ``2n``, so frames from ``2n`` on are kept.

    Args:
        pending: (B, C, P, F) frames kept from the previous call.
        new: (B, C, N, F) frames that just arrived.

    Returns:
        ``(out (B, C', n, F'), kept (B, C, P + N - 2n, F))``; ``n`` may be 0.
    """
    buffer = torch.cat([pending, new], dim=2)  # (B, C, P + N, F)
    num_out = _conv_output_size(buffer.shape[2])
    if num_out == 0:
        out_shape = (buffer.shape[0], conv.out_channels, 0, _conv_output_size(buffer.shape[3]))
        return buffer.new_zeros(out_shape), buffer
    used = _STRIDE * (num_out - 1) + _KERNEL_SIZE
    out = conv(buffer[:, :, :used])  # (B, C', num_out, F')
    return out, buffer[:, :, _STRIDE * num_out :]


@final
class Conv2dSubsampling(nn.Module):
    """Causal 4x time subsampling of fbank frames by two strided 2-D convolutions.

    The module docstring gives the length formula and the receptive field.

    B: batch size; T: fbank frames; F: mel bins; D: ``model_dim``; C: ``num_channels``.

    Args:
        num_mel_bins: F, the fbank dimension.
        num_channels: output channels of both convolutions.
        model_dim: D, the size of the projected output frames.

    Examples:
        >>> sub = Conv2dSubsampling(num_mel_bins=80, num_channels=32, model_dim=64)
        >>> sub(torch.zeros(2, 100, 80)).shape
        torch.Size([2, 25, 64])
    """

    def __init__(self, *, num_mel_bins: int, num_channels: int, model_dim: int) -> None:
        super().__init__()
        if num_mel_bins < 7:
            raise ValueError(
                f"`num_mel_bins` must be >= 7 for two kernel-3 stride-2 convolutions, "
                f"but is {num_mel_bins} instead."
            )
        self.num_mel_bins = num_mel_bins
        self.num_channels = num_channels
        self.conv1 = nn.Conv2d(1, num_channels, _KERNEL_SIZE, stride=_STRIDE)
        self.conv2 = nn.Conv2d(num_channels, num_channels, _KERNEL_SIZE, stride=_STRIDE)
        self.hidden_bins = _conv_output_size(num_mel_bins)  # F1
        self.output_bins = _conv_output_size(self.hidden_bins)  # F2
        self.proj = nn.Linear(num_channels * self.output_bins, model_dim)

    def _check_features(self, features: Tensor) -> None:
        if features.dim() != 3 or features.shape[2] != self.num_mel_bins:
            raise ValueError(
                f"`features` must have shape (B, T, {self.num_mel_bins}), "
                f"but has shape {tuple(features.shape)} instead."
            )

    def _project(self, hidden: Tensor) -> Tensor:
        """(B, C, T', F2) -> (B, T', D)."""
        batch_size, num_channels, num_frames, num_bins = hidden.shape
        flat = hidden.transpose(1, 2).reshape(batch_size, num_frames, num_channels * num_bins)
        return self.proj(flat)

    def forward(self, features: Tensor) -> Tensor:
        """Subsample a whole sequence.

        Args:
            features: (B, T, F) fbank frames.

        Returns:
            (B, T // 4, D) encoder frames.  Padding frames at the end of a sequence never reach
            the outputs of its earlier frames (causality), so ``lengths // 4`` gives the valid ones.
        """
        self._check_features(features)
        x = features.unsqueeze(1)  # (B, 1, T, F)
        zero_input = x.new_zeros(x.shape[0], 1, _LEFT_PAD_FRAMES, x.shape[3])
        x, _ = _strided_conv_step(self.conv1, zero_input, x)  # (B, C, T // 2, F1)
        x = torch.relu(x)
        zero_hidden = x.new_zeros(x.shape[0], x.shape[1], _LEFT_PAD_FRAMES, x.shape[3])
        x, _ = _strided_conv_step(self.conv2, zero_hidden, x)  # (B, C, T // 4, F2)
        return self._project(torch.relu(x))

    def init_cache(
        self,
        batch_size: int,
        *,
        device: torch.device | None = None,
        dtype: torch.dtype | None = None,
    ) -> SubsamplingCache:
        """The cache at the start of a stream: one zero frame of left padding per convolution."""
        if dtype is None:
            dtype = self.proj.weight.dtype
        if device is None:
            device = self.proj.weight.device
        return SubsamplingCache(
            pending_input=torch.zeros(
                batch_size, 1, _LEFT_PAD_FRAMES, self.num_mel_bins, device=device, dtype=dtype
            ),
            pending_hidden=torch.zeros(
                batch_size,
                self.num_channels,
                _LEFT_PAD_FRAMES,
                self.hidden_bins,
                device=device,
                dtype=dtype,
            ),
        )

    def stream(self, features: Tensor, cache: SubsamplingCache) -> tuple[Tensor, SubsamplingCache]:
        """Subsample the next fbank frames of a stream.

        Concatenating the outputs over any split of a sequence equals ``forward`` of the whole.

        Args:
            features: (B, N, F) the fbank frames that just arrived (N may be 0).
            cache: the cache returned by the previous call, or ``init_cache``.

        Returns:
            ``(frames (B, n, D), new_cache)``: every encoder frame whose 4 fbank frames are now
            complete and that was not returned before.
        """
        self._check_features(features)
        if features.shape[0] != cache.pending_input.shape[0]:
            raise ValueError(
                f"`features` must have batch size {cache.pending_input.shape[0]} (the cache's), "
                f"but has {features.shape[0]} instead."
            )
        hidden, pending_input = _strided_conv_step(
            self.conv1, cache.pending_input, features.unsqueeze(1)
        )
        out, pending_hidden = _strided_conv_step(
            self.conv2, cache.pending_hidden, torch.relu(hidden)
        )
        new_cache = SubsamplingCache(pending_input=pending_input, pending_hidden=pending_hidden)
        return self._project(torch.relu(out)), new_cache
