"""Encoder layers (pre-norm Transformer and Conformer) with a full-sequence and a streaming step.

Both layers run the same computation twice over the same weights:
- ``forward(x, rotary, attn_mask)``: a whole (padded) batch under a boolean attention mask;
- ``stream(x, rotary, cache, max_cache_frames=...)``: the next chunk of one stream, attending to
  the cached keys/values of its left context, and returning the new :class:`LayerCache`.

Positions are rotary (RoPE, Su et al. 2021, arXiv:2104.09864): queries and keys are rotated by an
angle proportional to their *absolute* encoder-frame index, so an attention score depends only on
the distance between two frames, and a chunk at offset ``N`` is rotated exactly as the same frames
of the whole sequence.  Keys are cached after rotation, so nothing cached is ever recomputed.

The Conformer convolution (Gulati et al. 2020, arXiv:2005.08100) is a *causal* depthwise
convolution (left padding ``kernel_size - 1``) followed by LayerNorm instead of BatchNorm: a frame
never depends on later frames or on batch statistics, so the cached ``kernel_size - 1`` frames of
history make streaming exact.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import final

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from typing_extensions import override

__all__ = [
    "ConformerLayer",
    "EncoderLayer",
    "LayerCache",
    "RotaryAngles",
    "TransformerLayer",
    "rotary_angles",
]


@final
@dataclass(frozen=True)
class RotaryAngles:
    """Cosines and sines of the rotary angles of a run of frames, shared by all layers.

    Attributes:
        cos: (T, Dh / 2).
        sin: (T, Dh / 2).
    """

    cos: Tensor
    sin: Tensor


def rotary_angles(
    positions: Tensor, *, head_dim: int, base: float, dtype: torch.dtype
) -> RotaryAngles:
    """Rotary angles for absolute encoder-frame indices.

    Angles are computed in float64 and then cast, so that long streams (10^6 frames) keep their
    precision; offline and streaming compute them from the same integer positions.

    Args:
        positions: (T,) int64 absolute frame indices.
        head_dim: Dh, even.
        base: the RoPE base (longest period, in frames, is about ``2 * pi * base``).
        dtype: dtype of the returned tensors.
    """
    exponents = torch.arange(0, head_dim, 2, device=positions.device, dtype=torch.float64)
    inverse_frequency = base ** (-exponents / head_dim)  # (Dh / 2,)
    angles = positions.to(torch.float64)[:, None] * inverse_frequency[None, :]  # (T, Dh / 2)
    return RotaryAngles(cos=angles.cos().to(dtype), sin=angles.sin().to(dtype))


def _rotate(x: Tensor, rotary: RotaryAngles) -> Tensor:
    """Rotate (B, H, T, Dh) by the angles of its T frames (rotate-half layout)."""
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * rotary.cos - x2 * rotary.sin, x1 * rotary.sin + x2 * rotary.cos], dim=-1)


@final
@dataclass(frozen=True)
class LayerCache:
    """What one layer keeps between stream chunks.

    Attributes:
        key: (B, H, S, Dh) rotated keys of the S most recent frames this layer may still attend to.
        value: (B, H, S, Dh) their values.
        conv_history: (B, K - 1, D) the last inputs of the causal depthwise convolution (Conformer),
            or ``None`` (Transformer).
        frames_seen: encoder frames this layer has processed so far (the next frame's index).
    """

    key: Tensor
    value: Tensor
    conv_history: Tensor | None
    frames_seen: int

    def size_bytes(self) -> int:
        """Memory held by the cache, in bytes."""
        tensors = [self.key, self.value]
        if self.conv_history is not None:
            tensors.append(self.conv_history)
        return sum(t.numel() * t.element_size() for t in tensors)


def _keep_last(x: Tensor, num_frames: int | None) -> Tensor:
    """The last ``num_frames`` frames of (B, H, S, Dh) (all of them when ``None``)."""
    if num_frames is None or x.shape[2] <= num_frames:
        return x
    return x[:, :, x.shape[2] - num_frames :]


@final
class _SelfAttention(nn.Module):
    """Multi-head self-attention with rotary positions and an optional cached left context.

    Written out (projections, scores, softmax) rather than with ``scaled_dot_product_attention``
    so that the attention weights are at hand for models that expose them.
    """

    def __init__(self, model_dim: int, num_heads: int, dropout_p: float) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = model_dim // num_heads
        self.q_proj = nn.Linear(model_dim, model_dim)
        self.k_proj = nn.Linear(model_dim, model_dim)
        self.v_proj = nn.Linear(model_dim, model_dim)
        self.out_proj = nn.Linear(model_dim, model_dim)
        self.dropout_p = dropout_p

    def _split_heads(self, x: Tensor) -> Tensor:
        """(B, T, D) -> (B, H, T, Dh)."""
        batch_size, num_frames, _ = x.shape
        return x.view(batch_size, num_frames, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(
        self,
        x: Tensor,
        rotary: RotaryAngles,
        *,
        past_key: Tensor | None = None,
        past_value: Tensor | None = None,
        attn_mask: Tensor | None = None,
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Attend from the T frames of ``x`` to the S past frames and to themselves.

        Args:
            x: (B, T, D) layer-normalised inputs.
            rotary: angles of the T frames.
            past_key: (B, H, S, Dh) rotated keys of earlier frames, or ``None`` (S = 0).
            past_value: (B, H, S, Dh) their values, or ``None``.
            attn_mask: bool, broadcastable to (B, H, T, S + T), ``True`` where attending is
                allowed; ``None``: everything is visible.

        Returns:
            ``(out (B, T, D), key (B, H, S + T, Dh), value (B, H, S + T, Dh))``.
        """
        query = _rotate(self._split_heads(self.q_proj(x)), rotary)  # (B, H, T, Dh)
        key = _rotate(self._split_heads(self.k_proj(x)), rotary)  # (B, H, T, Dh)
        value = self._split_heads(self.v_proj(x))  # (B, H, T, Dh)
        if past_key is not None and past_value is not None:
            key = torch.cat([past_key, key], dim=2)  # (B, H, S + T, Dh)
            value = torch.cat([past_value, value], dim=2)
        scores = query @ key.transpose(2, 3) / math.sqrt(self.head_dim)  # (B, H, T, S + T)
        if attn_mask is not None:
            # A finite minimum instead of -inf: a row with nothing visible (a padding frame)
            # becomes uniform instead of NaN, and NaN can then never reach valid frames.
            scores = scores.masked_fill(~attn_mask, torch.finfo(scores.dtype).min)
        weights = torch.softmax(scores, dim=-1)  # (B, H, T, S + T)
        weights = F.dropout(weights, p=self.dropout_p, training=self.training)
        context = (weights @ value).transpose(1, 2).flatten(2)  # (B, T, D)
        return self.out_proj(context), key, value


@final
class _FeedForward(nn.Module):
    """Position-wise feed-forward block: Linear, SiLU, dropout, Linear, dropout."""

    def __init__(self, model_dim: int, ffn_dim: int, dropout_p: float) -> None:
        super().__init__()
        self.inner = nn.Linear(model_dim, ffn_dim)
        self.outer = nn.Linear(ffn_dim, model_dim)
        self.dropout = nn.Dropout(dropout_p)

    def forward(self, x: Tensor) -> Tensor:
        """(B, T, D) -> (B, T, D)."""
        return self.dropout(self.outer(self.dropout(F.silu(self.inner(x)))))


@final
class _CausalConvModule(nn.Module):
    """Conformer convolution module made causal and batch-independent.

    Pointwise (D -> 2D) and GLU, causal depthwise convolution over time, LayerNorm, SiLU,
    pointwise (D -> D), dropout.
    """

    def __init__(self, model_dim: int, kernel_size: int, dropout_p: float) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.pointwise_in = nn.Linear(model_dim, 2 * model_dim)
        self.depthwise = nn.Conv1d(model_dim, model_dim, kernel_size, groups=model_dim)
        self.norm = nn.LayerNorm(model_dim)
        self.pointwise_out = nn.Linear(model_dim, model_dim)
        self.dropout = nn.Dropout(dropout_p)

    def init_history(self, x: Tensor) -> Tensor:
        """The zero history of ``kernel_size - 1`` frames for a batch like ``x`` (B, *, D)."""
        return x.new_zeros(x.shape[0], self.kernel_size - 1, x.shape[2])

    def forward(self, x: Tensor, history: Tensor) -> tuple[Tensor, Tensor]:
        """Convolve T new frames after ``history``.

        Args:
            x: (B, T, D) layer-normalised inputs.
            history: (B, K - 1, D) the depthwise convolution's previous inputs (zeros at start).

        Returns:
            ``(out (B, T, D), new_history (B, K - 1, D))``.
        """
        gated = F.glu(self.pointwise_in(x), dim=-1)  # (B, T, D)
        buffer = torch.cat([history, gated], dim=1)  # (B, K - 1 + T, D)
        conv = self.depthwise(buffer.transpose(1, 2)).transpose(1, 2)  # (B, T, D)
        out = self.dropout(self.pointwise_out(F.silu(self.norm(conv))))
        return out, buffer[:, buffer.shape[1] - (self.kernel_size - 1) :]


class EncoderLayer(nn.Module, ABC):
    """One encoder block, run on a whole sequence (training) or chunk by chunk (streaming)."""

    @abstractmethod
    def forward(self, x: Tensor, rotary: RotaryAngles, attn_mask: Tensor) -> Tensor:
        """Encode a whole batch.

        Args:
            x: (B, T, D).
            rotary: angles of frames ``0 .. T - 1``.
            attn_mask: bool (B, 1, T, T), ``True`` where frame t may attend to frame s.

        Returns:
            (B, T, D).
        """

    @abstractmethod
    def init_cache(
        self, batch_size: int, *, device: torch.device, dtype: torch.dtype
    ) -> LayerCache:
        """The cache at the start of a stream (nothing seen)."""

    @abstractmethod
    def stream(
        self, x: Tensor, rotary: RotaryAngles, cache: LayerCache, *, max_cache_frames: int | None
    ) -> tuple[Tensor, LayerCache]:
        """Encode the next chunk of a stream; every cached frame and the whole chunk are visible.

        Args:
            x: (B, T, D) the chunk.
            rotary: angles of frames ``cache.frames_seen .. cache.frames_seen + T - 1``.
            cache: the layer's cache before the chunk.
            max_cache_frames: frames of keys/values to keep for the next chunk (``None``: all).

        Returns:
            ``(out (B, T, D), new_cache)``.
        """


def _empty_cache(
    batch_size: int,
    num_heads: int,
    head_dim: int,
    conv_history: Tensor | None,
    *,
    device: torch.device,
    dtype: torch.dtype,
) -> LayerCache:
    empty = torch.zeros(batch_size, num_heads, 0, head_dim, device=device, dtype=dtype)
    return LayerCache(key=empty, value=empty, conv_history=conv_history, frames_seen=0)


@final
class TransformerLayer(EncoderLayer):
    """Pre-norm Transformer block: ``x + MHSA(LN(x))``, then ``x + FFN(LN(x))``.

    As in the Transformer-Transducer audio encoder (Zhang et al. 2020, arXiv:2002.02562).
    """

    def __init__(self, *, model_dim: int, num_heads: int, ffn_dim: int, dropout_p: float) -> None:
        super().__init__()
        self.attn_norm = nn.LayerNorm(model_dim)
        self.attn = _SelfAttention(model_dim, num_heads, dropout_p)
        self.ffn_norm = nn.LayerNorm(model_dim)
        self.ffn = _FeedForward(model_dim, ffn_dim, dropout_p)
        self.dropout = nn.Dropout(dropout_p)

    @override
    def forward(self, x: Tensor, rotary: RotaryAngles, attn_mask: Tensor) -> Tensor:
        attended, _, _ = self.attn(self.attn_norm(x), rotary, attn_mask=attn_mask)
        x = x + self.dropout(attended)
        return x + self.ffn(self.ffn_norm(x))

    @override
    def init_cache(
        self, batch_size: int, *, device: torch.device, dtype: torch.dtype
    ) -> LayerCache:
        return _empty_cache(
            batch_size, self.attn.num_heads, self.attn.head_dim, None, device=device, dtype=dtype
        )

    @override
    def stream(
        self, x: Tensor, rotary: RotaryAngles, cache: LayerCache, *, max_cache_frames: int | None
    ) -> tuple[Tensor, LayerCache]:
        attended, key, value = self.attn(
            self.attn_norm(x), rotary, past_key=cache.key, past_value=cache.value
        )
        x = x + self.dropout(attended)
        x = x + self.ffn(self.ffn_norm(x))
        new_cache = LayerCache(
            key=_keep_last(key, max_cache_frames),
            value=_keep_last(value, max_cache_frames),
            conv_history=None,
            frames_seen=cache.frames_seen + x.shape[1],
        )
        return x, new_cache


@final
class ConformerLayer(EncoderLayer):
    """Conformer block with a causal convolution module (Gulati et al. 2020, arXiv:2005.08100).

    ``x + FFN/2``, ``x + MHSA``, ``x + Conv``, ``x + FFN/2`` (macaron), each on ``LN(x)``, then a
    final LayerNorm.
    """

    def __init__(
        self,
        *,
        model_dim: int,
        num_heads: int,
        ffn_dim: int,
        conv_kernel_size: int,
        dropout_p: float,
    ) -> None:
        super().__init__()
        self.ffn1_norm = nn.LayerNorm(model_dim)
        self.ffn1 = _FeedForward(model_dim, ffn_dim, dropout_p)
        self.attn_norm = nn.LayerNorm(model_dim)
        self.attn = _SelfAttention(model_dim, num_heads, dropout_p)
        self.conv_norm = nn.LayerNorm(model_dim)
        self.conv = _CausalConvModule(model_dim, conv_kernel_size, dropout_p)
        self.ffn2_norm = nn.LayerNorm(model_dim)
        self.ffn2 = _FeedForward(model_dim, ffn_dim, dropout_p)
        self.out_norm = nn.LayerNorm(model_dim)
        self.dropout = nn.Dropout(dropout_p)

    def _run(
        self,
        x: Tensor,
        rotary: RotaryAngles,
        *,
        past_key: Tensor | None,
        past_value: Tensor | None,
        conv_history: Tensor | None,
        attn_mask: Tensor | None,
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """The block on (B, T, D); returns ``(out, key, value, conv_history)``."""
        x = x + 0.5 * self.ffn1(self.ffn1_norm(x))
        attended, key, value = self.attn(
            self.attn_norm(x),
            rotary,
            past_key=past_key,
            past_value=past_value,
            attn_mask=attn_mask,
        )
        x = x + self.dropout(attended)
        normed = self.conv_norm(x)
        if conv_history is None:
            conv_history = self.conv.init_history(normed)
        convolved, conv_history = self.conv(normed, conv_history)
        x = x + convolved
        x = x + 0.5 * self.ffn2(self.ffn2_norm(x))
        return self.out_norm(x), key, value, conv_history

    @override
    def forward(self, x: Tensor, rotary: RotaryAngles, attn_mask: Tensor) -> Tensor:
        out, _, _, _ = self._run(
            x, rotary, past_key=None, past_value=None, conv_history=None, attn_mask=attn_mask
        )
        return out

    @override
    def init_cache(
        self, batch_size: int, *, device: torch.device, dtype: torch.dtype
    ) -> LayerCache:
        history = torch.zeros(
            batch_size,
            self.conv.kernel_size - 1,
            self.attn_norm.normalized_shape[0],
            device=device,
            dtype=dtype,
        )
        return _empty_cache(
            batch_size, self.attn.num_heads, self.attn.head_dim, history, device=device, dtype=dtype
        )

    @override
    def stream(
        self, x: Tensor, rotary: RotaryAngles, cache: LayerCache, *, max_cache_frames: int | None
    ) -> tuple[Tensor, LayerCache]:
        out, key, value, conv_history = self._run(
            x,
            rotary,
            past_key=cache.key,
            past_value=cache.value,
            conv_history=cache.conv_history,
            attn_mask=None,
        )
        new_cache = LayerCache(
            key=_keep_last(key, max_cache_frames),
            value=_keep_last(value, max_cache_frames),
            conv_history=conv_history,
            frames_seen=cache.frames_seen + x.shape[1],
        )
        return out, new_cache
