"""The streaming speech encoder shared by every model family, with cache-based stateful inference.

Causal 4x convolutional subsampling (10 ms fbank frames -> 40 ms encoder frames,
:mod:`simul.models.subsampling`), then Transformer or Conformer blocks
(:mod:`simul.models.encoder_layer`) under a *chunk-wise* attention mask: encoder frames are
grouped into chunks of ``chunk_size_frames``; a frame sees every frame of its own chunk and of the
``num_left_chunks`` previous chunks (all of them when ``-1``), so look-ahead is bounded by the
chunk whatever the depth.  ``chunk_size_frames=None`` is full context, the offline special case.
This is NeMo's ``chunked_limited`` attention context and its cache-aware streaming.

Two paths over the same weights:
- ``Encoder.forward(features, lengths)``, for training: the whole padded batch at once under the
  chunk mask and the padding mask;
- ``Encoder.init_state`` / ``Encoder.stream`` / ``Encoder.flush``, for inference: fbank frames
  arrive in pieces of any size; the encoder emits a chunk of encoder frames as soon as all of its
  frames exist and buffers the rest.  Per layer, :class:`~simul.models.encoder_layer.LayerCache`
  holds the keys/values of the visible left context and the convolution history, so the prefix is
  never re-encoded.  With ``num_left_chunks >= 0`` the cache holds at most
  ``num_left_chunks * chunk_size_frames`` frames and every chunk costs the same however long the
  stream is; with ``-1`` the cache (and the cost of a chunk's attention) grows with the stream.

Exactness: concatenating what ``stream`` and ``flush`` return over any split of the input equals
``forward`` on the whole input (tested with hypothesis to atol 1e-5, in eval mode; dropout differs
in training mode).  With full context ``stream`` emits nothing: the one chunk is the whole
utterance, encoded by ``flush``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, final

import torch
from torch import Tensor, nn

from simul.models.encoder_layer import (
    ConformerLayer,
    EncoderLayer,
    LayerCache,
    RotaryAngles,
    TransformerLayer,
    rotary_angles,
)
from simul.models.subsampling import SUBSAMPLING_FACTOR, Conv2dSubsampling, SubsamplingCache

__all__ = [
    "Encoder",
    "EncoderConfig",
    "EncoderState",
    "chunk_attention_mask",
    "small",
    "tiny",
]

BlockType = Literal["transformer", "conformer"]

_BLOCK_TYPES = ("transformer", "conformer")


@dataclass(kw_only=True)
class EncoderConfig:
    """Sizes and attention context of an :class:`Encoder` (stored with checkpoints)."""

    num_mel_bins: int = 80
    """F: fbank bins per input frame (10 ms per frame)."""
    subsampling_channels: int = 256
    """Channels of both subsampling convolutions."""
    d_model: int = 512
    """D: size of an encoder frame (40 ms per frame)."""
    num_layers: int = 12
    """Encoder blocks."""
    num_heads: int = 8
    """Attention heads; ``d_model / num_heads`` must be even (rotary positions)."""
    ffn_dim: int = 2048
    """Inner size of the feed-forward blocks."""
    dropout_p: float = 0.1
    """Dropout probability after subsampling, on attention weights and on every residual branch."""
    block_type: BlockType = "conformer"
    """``"transformer"`` (pre-norm MHSA + FFN) or ``"conformer"`` (macaron FFN, MHSA, conv, FFN)."""
    conv_kernel_size: int = 15
    """Causal depthwise convolution width of Conformer blocks, in encoder frames (40 ms each)."""
    chunk_size_frames: int | None = 8
    """Encoder frames per attention chunk (8 = 320 ms); ``None`` or 0: full context (offline)."""
    num_left_chunks: int = -1
    """Previous chunks a frame attends to; ``-1``: all of them (the streaming cache then grows)."""
    rope_base: float = 10_000.0
    """Base of the rotary position angles (longest period about ``2 * pi * base`` encoder frames)."""

    def __post_init__(self) -> None:
        positive = {
            "num_mel_bins": self.num_mel_bins,
            "subsampling_channels": self.subsampling_channels,
            "d_model": self.d_model,
            "num_layers": self.num_layers,
            "num_heads": self.num_heads,
            "ffn_dim": self.ffn_dim,
            "conv_kernel_size": self.conv_kernel_size,
        }
        for name, value in positive.items():
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"`{name}` must be an int > 0, but is {value!r} instead.")
        if self.d_model % self.num_heads != 0 or (self.d_model // self.num_heads) % 2 != 0:
            raise ValueError(
                f"`d_model` must be a multiple of `num_heads` ({self.num_heads}) with an even "
                f"quotient (rotary positions), but is {self.d_model} instead."
            )
        if not 0.0 <= self.dropout_p < 1.0:
            raise ValueError(f"`dropout_p` must be in [0, 1), but is {self.dropout_p} instead.")
        if self.block_type not in _BLOCK_TYPES:
            raise ValueError(
                f"`block_type` must be one of {_BLOCK_TYPES}, but is {self.block_type!r} instead."
            )
        if self.chunk_size_frames is not None and (
            not isinstance(self.chunk_size_frames, int) or self.chunk_size_frames < 0
        ):
            raise ValueError(
                f"`chunk_size_frames` must be None or an int >= 0, "
                f"but is {self.chunk_size_frames!r} instead."
            )
        if self.chunk_size_frames == 0:
            self.chunk_size_frames = None
        if not isinstance(self.num_left_chunks, int) or self.num_left_chunks < -1:
            raise ValueError(
                f"`num_left_chunks` must be an int >= -1, but is {self.num_left_chunks!r} instead."
            )
        if not self.rope_base > 1.0:
            raise ValueError(f"`rope_base` must be > 1, but is {self.rope_base} instead.")

    @property
    def max_cache_frames(self) -> int | None:
        """Encoder frames of keys/values a streaming layer keeps (``None``: unbounded)."""
        if self.chunk_size_frames is None or self.num_left_chunks < 0:
            return None
        return self.num_left_chunks * self.chunk_size_frames


def small() -> EncoderConfig:
    """A 6-layer, 256-dim Conformer (about 11M parameters) with 320 ms chunks."""
    return EncoderConfig(d_model=256, num_layers=6, num_heads=4, ffn_dim=1024)


def tiny() -> EncoderConfig:
    """A 2-layer, 32-dim Conformer for tests (a few tens of thousands of parameters)."""
    return EncoderConfig(
        subsampling_channels=8,
        d_model=32,
        num_layers=2,
        num_heads=2,
        ffn_dim=64,
        conv_kernel_size=5,
        chunk_size_frames=4,
        num_left_chunks=2,
    )


def chunk_attention_mask(
    num_frames: int,
    chunk_size: int | None,
    num_left_chunks: int,
    *,
    device: torch.device | None = None,
) -> Tensor:
    """Which frames each frame may attend to under chunk-wise attention.

    Frame ``i`` belongs to chunk ``i // chunk_size`` and sees frame ``j`` iff
    ``0 <= i // chunk_size - j // chunk_size <= num_left_chunks`` (no upper bound when
    ``num_left_chunks == -1``): its own chunk, including the frames after it, and the
    ``num_left_chunks`` previous chunks.

    Args:
        num_frames: T, encoder frames.
        chunk_size: encoder frames per chunk; ``None`` or 0: full context (all ``True``).
        num_left_chunks: previous chunks visible, or -1 for all.
        device: where to build the mask.

    Returns:
        (T, T) bool, ``True`` where row frame may attend to column frame.
    """
    if num_frames < 0:
        raise ValueError(f"`num_frames` must be >= 0, but is {num_frames} instead.")
    if chunk_size is not None and chunk_size < 0:
        raise ValueError(f"`chunk_size` must be None or >= 0, but is {chunk_size} instead.")
    if num_left_chunks < -1:
        raise ValueError(f"`num_left_chunks` must be >= -1, but is {num_left_chunks} instead.")
    if not chunk_size:
        return torch.ones(num_frames, num_frames, dtype=torch.bool, device=device)
    chunk_index = torch.arange(num_frames, device=device) // chunk_size  # (T,)
    chunk_distance = chunk_index[:, None] - chunk_index[None, :]  # (T, T)
    mask = chunk_distance >= 0
    if num_left_chunks >= 0:
        mask &= chunk_distance <= num_left_chunks
    return mask


@final
@dataclass(frozen=True)
class EncoderState:
    """Everything a stream needs between calls to :meth:`Encoder.stream` (state in, state out).

    Attributes:
        subsampling: the fbank frames and hidden frames the subsampling still needs.
        pending_frames: (B, P, D) subsampled frames waiting for their chunk to complete
            (P < chunk size; with full context, every frame so far).
        layers: one cache per encoder layer, in order.
        finished: whether :meth:`Encoder.flush` ended the stream.
    """

    subsampling: SubsamplingCache
    pending_frames: Tensor
    layers: tuple[LayerCache, ...]
    finished: bool = False

    @property
    def frames_emitted(self) -> int:
        """Encoder frames returned so far (the index of the next one)."""
        return self.layers[0].frames_seen

    def size_bytes(self) -> int:
        """Memory held by the state, in bytes."""
        pending = self.pending_frames.numel() * self.pending_frames.element_size()
        layers = sum(cache.size_bytes() for cache in self.layers)
        return self.subsampling.size_bytes() + pending + layers


@final
class Encoder(nn.Module):
    """Streaming Transformer/Conformer speech encoder with chunk masks and per-layer caches.

    The module docstring explains the two paths and why they agree.

    B: batch size; T: fbank frames (10 ms); T' = T // 4: encoder frames (40 ms); F: mel bins;
    D: ``config.d_model``.

    Args:
        config: sizes and attention context; kept as ``self.config`` for checkpoints.

    Examples:
        >>> encoder = Encoder(tiny()).eval()
        >>> out, out_lengths = encoder(torch.randn(1, 100, 80), torch.tensor([100]))
        >>> state = encoder.init_state(1)
        >>> first, state = encoder.stream(torch.randn(1, 30, 80), state)
        >>> last, state = encoder.flush(state)
    """

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.config = config
        self.subsampling = Conv2dSubsampling(
            num_mel_bins=config.num_mel_bins,
            num_channels=config.subsampling_channels,
            model_dim=config.d_model,
        )
        self.dropout = nn.Dropout(config.dropout_p)
        self.layers = nn.ModuleList([self._build_layer(config) for _ in range(config.num_layers)])
        # Conformer blocks end with a LayerNorm; pre-norm Transformer blocks need one at the top.
        self.final_norm = (
            nn.LayerNorm(config.d_model) if config.block_type == "transformer" else nn.Identity()
        )

    @staticmethod
    def _build_layer(config: EncoderConfig) -> EncoderLayer:
        if config.block_type == "transformer":
            return TransformerLayer(
                model_dim=config.d_model,
                num_heads=config.num_heads,
                ffn_dim=config.ffn_dim,
                dropout_p=config.dropout_p,
            )
        return ConformerLayer(
            model_dim=config.d_model,
            num_heads=config.num_heads,
            ffn_dim=config.ffn_dim,
            conv_kernel_size=config.conv_kernel_size,
            dropout_p=config.dropout_p,
        )

    @property
    def subsampling_factor(self) -> int:
        """Fbank frames per encoder frame."""
        return SUBSAMPLING_FACTOR

    def _rotary(self, start: int, num_frames: int, like: Tensor) -> RotaryAngles:
        positions = torch.arange(start, start + num_frames, device=like.device)
        return rotary_angles(
            positions,
            head_dim=self.config.d_model // self.config.num_heads,
            base=self.config.rope_base,
            dtype=like.dtype,
        )

    def forward(self, features: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Encode a padded batch under the chunk mask (the training path).

        Args:
            features: (B, T, F) fbank frames, padded at the end.
            lengths: (B,) valid fbank frames per sequence, in ``[0, T]``.

        Returns:
            ``(out (B, T', D), out_lengths (B,))`` with ``out_lengths = lengths // 4``; frames past
            a sequence's length are zeros.
        """
        if lengths.dim() != 1 or lengths.shape[0] != features.shape[0]:
            raise ValueError(
                f"`lengths` must have shape ({features.shape[0]},) (one per sequence), "
                f"but has shape {tuple(lengths.shape)} instead."
            )
        if lengths.is_floating_point() or lengths.is_complex():
            raise ValueError(f"`lengths` must be integers, but has dtype {lengths.dtype} instead.")
        if features.dim() == 3 and bool(((lengths < 0) | (lengths > features.shape[1])).any()):
            raise ValueError(
                f"`lengths` must be in [0, {features.shape[1]}] (the padded length), "
                f"but is {lengths.tolist()} instead."
            )
        x = self.dropout(self.subsampling(features))  # (B, T', D)
        num_frames = x.shape[1]
        out_lengths = torch.div(lengths, SUBSAMPLING_FACTOR, rounding_mode="floor")
        valid = torch.arange(num_frames, device=x.device)[None, :] < out_lengths[:, None].to(
            x.device
        )  # (B, T')
        chunk_mask = chunk_attention_mask(
            num_frames, self.config.chunk_size_frames, self.config.num_left_chunks, device=x.device
        )
        attn_mask = chunk_mask[None, None] & valid[:, None, None, :]  # (B, 1, T', T')
        rotary = self._rotary(0, num_frames, x)
        for layer in self.layers:
            x = layer(x, rotary, attn_mask)
        x = self.final_norm(x)
        return x.masked_fill(~valid[:, :, None], 0.0), out_lengths

    def init_state(
        self,
        batch_size: int = 1,
        *,
        device: torch.device | None = None,
        dtype: torch.dtype | None = None,
    ) -> EncoderState:
        """The state of ``batch_size`` new streams (nothing received yet).

        Streams of one batch must receive the same number of fbank frames at every call.
        """
        if batch_size <= 0:
            raise ValueError(f"`batch_size` must be > 0, but is {batch_size} instead.")
        weight = self.subsampling.proj.weight
        device = weight.device if device is None else device
        dtype = weight.dtype if dtype is None else dtype
        return EncoderState(
            subsampling=self.subsampling.init_cache(batch_size, device=device, dtype=dtype),
            pending_frames=torch.zeros(
                batch_size, 0, self.config.d_model, device=device, dtype=dtype
            ),
            layers=tuple(
                layer.init_cache(batch_size, device=device, dtype=dtype) for layer in self.layers
            ),
        )

    def _encode_chunk(
        self, x: Tensor, caches: tuple[LayerCache, ...]
    ) -> tuple[Tensor, tuple[LayerCache, ...]]:
        """Run one chunk (B, C, D) through every layer with its cache."""
        rotary = self._rotary(caches[0].frames_seen, x.shape[1], x)
        new_caches = []
        for layer, cache in zip(self.layers, caches, strict=True):
            x, cache = layer.stream(x, rotary, cache, max_cache_frames=self.config.max_cache_frames)
            new_caches.append(cache)
        return self.final_norm(x), tuple(new_caches)

    def stream(self, features: Tensor, state: EncoderState) -> tuple[Tensor, EncoderState]:
        """Encode the next fbank frames of a stream (the inference path).

        Args:
            features: (B, N, F) fbank frames that just arrived; N may be anything, 0 included.
            state: the state returned by the previous call, or :meth:`init_state`.

        Returns:
            ``(out (B, n, D), new_state)``: the encoder frames of every chunk completed by these
            frames (n is a multiple of the chunk size; 0 with full context).
        """
        if state.finished:
            raise ValueError("`state` must be a running stream, but `flush` already ended it.")
        frames, subsampling = self.subsampling.stream(features, state.subsampling)
        pending = torch.cat([state.pending_frames, self.dropout(frames)], dim=1)  # (B, P, D)
        chunk_size = self.config.chunk_size_frames
        num_chunks = 0 if chunk_size is None else pending.shape[1] // chunk_size
        caches = state.layers
        outputs = []
        for index in range(num_chunks):
            chunk = pending[:, index * chunk_size : (index + 1) * chunk_size]  # (B, C, D)
            out, caches = self._encode_chunk(chunk, caches)
            outputs.append(out)
        used = 0 if chunk_size is None else num_chunks * chunk_size
        new_state = EncoderState(
            subsampling=subsampling, pending_frames=pending[:, used:], layers=caches
        )
        out = torch.cat(outputs, dim=1) if outputs else pending[:, :0]
        return out, new_state

    def flush(self, state: EncoderState) -> tuple[Tensor, EncoderState]:
        """End a stream: encode the last, partial chunk.

        The 0 to 3 fbank frames that do not complete an encoder frame are dropped, as in
        ``forward``.  With full context this encodes the whole utterance.

        Returns:
            ``(out (B, P, D), final_state)``; ``final_state.finished`` is ``True``.
        """
        if state.finished:
            raise ValueError("`state` must be a running stream, but `flush` already ended it.")
        pending = state.pending_frames
        caches = state.layers
        out = pending
        if pending.shape[1] > 0:
            out, caches = self._encode_chunk(pending, caches)
        final_state = EncoderState(
            subsampling=state.subsampling,
            pending_frames=pending[:, :0],
            layers=caches,
            finished=True,
        )
        return out, final_state
