"""The Transformer decoder of the attention encoder-decoder: pre-norm, cached, attention exposed.

Vaswani et al. 2017 ("Attention Is All You Need", arXiv:1706.03762) with pre-norm blocks (Xiong
et al. 2020, arXiv:2002.04745): each layer is ``x + SelfAttn(LN(x))`` (causal), ``x +
CrossAttn(LN(x), memory)``, ``x + FFN(LN(x))``, and a final LayerNorm precedes the output
projection.  Token embeddings are scaled by ``sqrt(D)`` and added to sinusoidal positions
(fairseq's Transformer), so a position needs no learned table and any length decodes.

One computation, two uses:
- :meth:`TransformerDecoder.forward` runs a whole (padded) target batch at once for training;
- :meth:`TransformerDecoder.step` runs the next tokens of a batch from a :class:`DecoderCache`
  (state in, state out: each layer's self-attention keys/values of the tokens so far), for
  decoding one token at a time or for re-running a forced prefix in one pass.
Both go through the same layer code; :meth:`forward` *is* :meth:`~TransformerDecoder.teacher_forced`,
``step`` from an empty cache without decoding states, and the tests check that token-by-token
steps equal it.

The cross-attention of each layer is soft multi-head attention unless the decoder is built with
another one (``cross_attention=``, a :class:`CrossAttention`): monotonic attention
(:mod:`simul.families.monotonic.attention`) is this decoder with its cross-attention replaced.  A
cross-attention may keep a per-hypothesis state between decoding steps (where each monotonic head
stopped), carried in :attr:`DecoderCache.cross_states`; soft attention keeps none.

The encoder side is a :class:`DecoderMemory`: every layer's cross-attention keys and values of the
encoder frames, projected once per memory.  Projection is frame-wise, so a memory that grows by
new frames (a streaming encoder) is extended with :meth:`TransformerDecoder.extend_memory`
without touching the old frames.  Every step returns each layer's cross-attention weights over
the memory (what attention-based read/write policies read), computed explicitly (no fused
kernel) so that they are the weights the model used.

B: batch size (hypotheses); S: new target positions; P: cached positions; T: memory frames;
D: ``d_model``; H: heads; Dh: ``D / H``; L: layers; V: vocabulary.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, final

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "CrossAttention",
    "DecoderCache",
    "DecoderConfig",
    "DecoderMemory",
    "DecoderStep",
    "TransformerDecoder",
    "sinusoidal_positions",
]


@dataclass(kw_only=True)
class DecoderConfig:
    """Sizes of a :class:`TransformerDecoder` (stored with checkpoints)."""

    d_model: int = 256
    """D: size of a decoder state."""
    num_layers: int = 6
    """Decoder blocks (FBK's attention policies read layer 3 of 6)."""
    num_heads: int = 4
    """Attention heads (self and cross); ``d_model`` must be a multiple."""
    ffn_dim: int = 1024
    """Inner size of the feed-forward blocks."""
    dropout_p: float = 0.1
    """Dropout on embeddings, attention weights and every residual branch."""

    def __post_init__(self) -> None:
        for name in ("d_model", "num_layers", "num_heads", "ffn_dim"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"`{name}` must be an int > 0, but is {value!r} instead.")
        if self.d_model % self.num_heads != 0:
            raise ValueError(
                f"`d_model` must be a multiple of `num_heads` ({self.num_heads}), "
                f"but is {self.d_model} instead."
            )
        if not 0.0 <= self.dropout_p < 1.0:
            raise ValueError(f"`dropout_p` must be in [0, 1), but is {self.dropout_p} instead.")


def sinusoidal_positions(start: int, num_positions: int, dim: int, *, device=None) -> Tensor:
    """Sinusoidal position vectors (S, D) of positions ``start .. start + S - 1``.

    Sines in the first half, cosines in the second (fairseq's layout), computed in float64 so that
    long sequences keep their precision.
    """
    half = dim // 2
    frequencies = torch.exp(
        torch.arange(half, device=device, dtype=torch.float64)
        * -(math.log(10_000.0) / max(half - 1, 1))
    )  # (D / 2,)
    positions = torch.arange(start, start + num_positions, device=device, dtype=torch.float64)
    angles = positions[:, None] * frequencies[None, :]  # (S, D / 2)
    table = torch.cat([angles.sin(), angles.cos()], dim=1)  # (S, 2 * (D // 2))
    if dim % 2:
        table = F.pad(table, (0, 1))
    return table.float()


@final
@dataclass(frozen=True)
class DecoderMemory:
    """The encoder frames as every layer's cross-attention sees them.

    Attributes:
        keys: per layer, (B, H, T, Dh) projected keys.
        values: per layer, (B, H, T, Dh) projected values.
        mask: (B, T) bool, ``True`` on valid frames, or ``None`` when every frame is valid.
    """

    keys: tuple[Tensor, ...]
    values: tuple[Tensor, ...]
    mask: Tensor | None = None

    @property
    def num_frames(self) -> int:
        """T."""
        return int(self.keys[0].shape[2])

    def reorder(self, order: Tensor) -> DecoderMemory:
        """The memory of hypotheses ``order`` (B',) (beam search expands and reorders)."""
        return DecoderMemory(
            keys=tuple(k.index_select(0, order) for k in self.keys),
            values=tuple(v.index_select(0, order) for v in self.values),
            mask=None if self.mask is None else self.mask.index_select(0, order),
        )


@final
@dataclass(frozen=True)
class DecoderCache:
    """What the decoder keeps between steps: each layer's self-attention keys and values.

    Attributes:
        keys: per layer, (B, H, P, Dh) keys of the P positions decoded so far.
        values: per layer, (B, H, P, Dh) their values.
        cross_states: per layer, the state its cross-attention keeps between steps (``None`` for
            soft attention; any object with ``reorder(order)`` otherwise); empty: ``None`` for
            every layer (what :meth:`TransformerDecoder.teacher_forced` starts from).
    """

    keys: tuple[Tensor, ...]
    values: tuple[Tensor, ...]
    cross_states: tuple[Any, ...] = ()

    @property
    def num_positions(self) -> int:
        """P, target positions decoded so far (the next position's index)."""
        return int(self.keys[0].shape[2])

    def reorder(self, order: Tensor) -> DecoderCache:
        """The cache of hypotheses ``order`` (B',): beam search keeps the surviving ones."""
        return DecoderCache(
            keys=tuple(k.index_select(0, order) for k in self.keys),
            values=tuple(v.index_select(0, order) for v in self.values),
            cross_states=tuple(None if s is None else s.reorder(order) for s in self.cross_states),
        )

    def size_bytes(self) -> int:
        """Memory held by the cache, in bytes."""
        return sum(t.numel() * t.element_size() for t in (*self.keys, *self.values))


@final
@dataclass(frozen=True, eq=False)
class DecoderStep:
    """What one call of :meth:`TransformerDecoder.step` returns.

    Attributes:
        logits: (B, S, V) next-token logits at each new position.
        cross_attention: per layer, (B, H, S, T) cross-attention weights (rows sum to 1 over
            valid frames).
        cache: the cache after the new positions.
    """

    logits: Tensor
    cross_attention: tuple[Tensor, ...]
    cache: DecoderCache


class CrossAttention(Protocol):
    """What a decoder layer attends to the encoder frames with (soft attention: :class:`_Attention`).

    ``project_kv`` makes the layer's part of a :class:`DecoderMemory` from (B, T, D) frames:
    two (B, H, T, *) tensors, computed frame by frame (so that a memory extends by concatenation
    along T and reorders along B).  ``initial_state`` is the per-hypothesis state decoding starts
    from (``None``: none); ``attend`` runs S new positions and returns ``(out (B, S, D), weights
    (B, H, S, T), state)``, ``state`` being ``None`` in a teacher-forced pass (no decoding state
    given) or the state after these positions.
    """

    def project_kv(self, x: Tensor) -> tuple[Tensor, Tensor]: ...

    def initial_state(self, batch_size: int, like: Tensor) -> Any: ...

    def attend(
        self, x: Tensor, key: Tensor, value: Tensor, mask: Tensor | None, state: Any
    ) -> tuple[Tensor, Tensor, Any]: ...


@final
class _Attention(nn.Module):
    """Multi-head attention written out (projections, scores, softmax), weights returned."""

    def __init__(self, model_dim: int, num_heads: int, dropout_p: float) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = model_dim // num_heads
        self.q_proj = nn.Linear(model_dim, model_dim)
        self.k_proj = nn.Linear(model_dim, model_dim)
        self.v_proj = nn.Linear(model_dim, model_dim)
        self.out_proj = nn.Linear(model_dim, model_dim)
        self.dropout_p = dropout_p

    def split_heads(self, x: Tensor) -> Tensor:
        """(B, N, D) -> (B, H, N, Dh)."""
        return x.unflatten(-1, (self.num_heads, self.head_dim)).transpose(1, 2)

    def project_kv(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Keys and values (B, H, N, Dh) of (B, N, D) inputs."""
        return self.split_heads(self.k_proj(x)), self.split_heads(self.v_proj(x))

    def forward(
        self, x: Tensor, key: Tensor, value: Tensor, mask: Tensor | None
    ) -> tuple[Tensor, Tensor]:
        """Attend from (B, S, D) ``x`` to keys/values (B, H, N, Dh).

        Args:
            mask: bool broadcastable to (B, H, S, N), ``True`` where attending is allowed.

        Returns:
            ``(out (B, S, D), weights (B, H, S, N))``; ``weights`` are before dropout.
        """
        query = self.split_heads(self.q_proj(x))  # (B, H, S, Dh)
        scores = query @ key.transpose(2, 3) / math.sqrt(self.head_dim)  # (B, H, S, N)
        if mask is not None:
            scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
        weights = torch.softmax(scores.float(), dim=-1).to(value.dtype)  # (B, H, S, N)
        dropped = F.dropout(weights, p=self.dropout_p, training=self.training)
        context = (dropped @ value).transpose(1, 2).flatten(2)  # (B, S, D)
        return self.out_proj(context), weights

    def initial_state(self, batch_size: int, like: Tensor) -> None:
        """Soft attention keeps no state between steps."""
        return None

    def attend(
        self, x: Tensor, key: Tensor, value: Tensor, mask: Tensor | None, state: None
    ) -> tuple[Tensor, Tensor, None]:
        """:meth:`forward` as a :class:`CrossAttention` (stateless)."""
        out, weights = self(x, key, value, mask)
        return out, weights, None


@final
class _DecoderLayer(nn.Module):
    """Pre-norm block: causal self-attention, cross-attention, feed-forward."""

    def __init__(self, config: DecoderConfig, cross_attn: nn.Module | None = None) -> None:
        super().__init__()
        dim, dropout_p = config.d_model, config.dropout_p
        self.self_norm = nn.LayerNorm(dim)
        self.self_attn = _Attention(dim, config.num_heads, dropout_p)
        self.cross_norm = nn.LayerNorm(dim)
        self.cross_attn = (
            _Attention(dim, config.num_heads, dropout_p) if cross_attn is None else cross_attn
        )
        self.ffn_norm = nn.LayerNorm(dim)
        self.ffn_inner = nn.Linear(dim, config.ffn_dim)
        self.ffn_outer = nn.Linear(config.ffn_dim, dim)
        self.dropout = nn.Dropout(dropout_p)

    def forward(
        self,
        x: Tensor,
        past_key: Tensor,
        past_value: Tensor,
        self_mask: Tensor,
        memory_key: Tensor,
        memory_value: Tensor,
        memory_mask: Tensor | None,
        cross_state: Any = None,
    ) -> tuple[Tensor, Tensor, Tensor, Tensor, Any]:
        """(B, S, D) new positions after P cached ones -> ``(out, key, value, cross_weights, cross_state)``.

        ``key``/``value`` are (B, H, P + S, Dh); ``cross_weights`` (B, H, S, T).
        """
        normed = self.self_norm(x)
        new_key, new_value = self.self_attn.project_kv(normed)
        key = torch.cat([past_key, new_key], dim=2)  # (B, H, P + S, Dh)
        value = torch.cat([past_value, new_value], dim=2)
        attended, _ = self.self_attn(normed, key, value, self_mask)
        x = x + self.dropout(attended)
        attended, cross_weights, cross_state = self.cross_attn.attend(
            self.cross_norm(x), memory_key, memory_value, memory_mask, cross_state
        )
        x = x + self.dropout(attended)
        inner = self.dropout(F.gelu(self.ffn_inner(self.ffn_norm(x))))
        x = x + self.dropout(self.ffn_outer(inner))
        return x, key, value, cross_weights, cross_state


@final
class TransformerDecoder(nn.Module):
    """Pre-norm Transformer decoder with a cache and exposed cross-attention (see the module doc).

    Args:
        config: sizes; kept as ``self.config``.
        vocab_size: V.
        pad_id: the padding id (its embedding is zero and gets no gradient).
        memory_dim: size of an encoder frame; projected to ``d_model`` when it differs.
        tie_embeddings: share the output projection with the token embedding.
        cross_attention: builds the cross-attention of layer ``index`` (a :class:`CrossAttention`);
            ``None``: soft multi-head attention (Default: ``None``).

    Examples:
        >>> decoder = TransformerDecoder(DecoderConfig(d_model=16, num_layers=2, num_heads=2,
        ...                              ffn_dim=32), vocab_size=10, pad_id=1, memory_dim=16).eval()
        >>> memory = decoder.memory(torch.randn(1, 7, 16))
        >>> step = decoder.step(torch.tensor([[0]]), memory, decoder.empty_cache(1))
        >>> step.logits.shape, step.cross_attention[0].shape
        (torch.Size([1, 1, 10]), torch.Size([1, 2, 1, 7]))
    """

    def __init__(
        self,
        config: DecoderConfig,
        *,
        vocab_size: int,
        pad_id: int,
        memory_dim: int,
        tie_embeddings: bool = True,
        cross_attention: Callable[[int], nn.Module] | None = None,
    ) -> None:
        super().__init__()
        if vocab_size <= 0 or not 0 <= pad_id < vocab_size:
            raise ValueError(
                f"`vocab_size` must be > 0 and `pad_id` in [0, vocab_size), but they are "
                f"{vocab_size} and {pad_id} instead."
            )
        self.config = config
        dim = config.d_model
        self.embedding = nn.Embedding(vocab_size, dim, padding_idx=pad_id)
        nn.init.normal_(self.embedding.weight, std=dim**-0.5)
        with torch.no_grad():
            self.embedding.weight[pad_id].zero_()
        self.memory_proj = nn.Linear(memory_dim, dim) if memory_dim != dim else nn.Identity()
        self.dropout = nn.Dropout(config.dropout_p)
        self.layers = nn.ModuleList(
            [
                _DecoderLayer(config, None if cross_attention is None else cross_attention(index))
                for index in range(config.num_layers)
            ]
        )
        self.final_norm = nn.LayerNorm(dim)
        self.output = nn.Linear(dim, vocab_size, bias=False)
        if tie_embeddings:
            self.output.weight = self.embedding.weight

    @property
    def num_layers(self) -> int:
        """L."""
        return len(self.layers)

    def memory(self, frames: Tensor, mask: Tensor | None = None) -> DecoderMemory:
        """Project encoder frames (B, T, De) for every layer; ``mask`` (B, T) marks valid frames."""
        projected = self.memory_proj(frames)  # (B, T, D)
        keys, values = zip(
            *(layer.cross_attn.project_kv(projected) for layer in self.layers), strict=True
        )
        return DecoderMemory(keys=tuple(keys), values=tuple(values), mask=mask)

    def extend_memory(self, memory: DecoderMemory, frames: Tensor) -> DecoderMemory:
        """``memory`` followed by new frames (B, T_new, De) (an unpadded streaming memory)."""
        if memory.mask is not None:
            raise ValueError(
                "`memory` must be unpadded (mask None) to be extended, but has a mask."
            )
        if frames.shape[1] == 0:
            return memory
        new = self.memory(frames)
        return DecoderMemory(
            keys=tuple(
                torch.cat([old, k], dim=2) for old, k in zip(memory.keys, new.keys, strict=True)
            ),
            values=tuple(
                torch.cat([old, v], dim=2) for old, v in zip(memory.values, new.values, strict=True)
            ),
        )

    def empty_cache(self, batch_size: int, *, like: Tensor | None = None) -> DecoderCache:
        """The cache of ``batch_size`` hypotheses before their first token (decoding starts here)."""
        weight = self.embedding.weight if like is None else like
        layer = self.layers[0].self_attn
        empty = weight.new_zeros(batch_size, layer.num_heads, 0, layer.head_dim)
        states = tuple(layer.cross_attn.initial_state(batch_size, weight) for layer in self.layers)
        return DecoderCache(
            keys=(empty,) * self.num_layers,
            values=(empty,) * self.num_layers,
            cross_states=() if all(s is None for s in states) else states,
        )

    def step(self, tokens: Tensor, memory: DecoderMemory, cache: DecoderCache) -> DecoderStep:
        """Run S new positions (B, S) int64 after the cached ones.

        New positions see every cached position and the new ones up to themselves (causal), and
        the valid memory frames.
        """
        past = cache.num_positions
        num_new = tokens.shape[1]
        x = self.embedding(tokens) * math.sqrt(self.config.d_model)  # (B, S, D)
        x = self.dropout(
            x + sinusoidal_positions(past, num_new, x.shape[2], device=x.device).to(x.dtype)
        )
        rows = torch.arange(past, past + num_new, device=x.device)
        columns = torch.arange(past + num_new, device=x.device)
        self_mask = columns[None, :] <= rows[:, None]  # (S, P + S)
        memory_mask = None if memory.mask is None else memory.mask[:, None, None, :]  # (B, 1, 1, T)
        keys, values, weights, states = [], [], [], []
        for index, layer in enumerate(self.layers):
            x, key, value, cross, state = layer(
                x, cache.keys[index], cache.values[index], self_mask,
                memory.keys[index], memory.values[index], memory_mask,
                cache.cross_states[index] if cache.cross_states else None,
            )  # fmt: skip
            keys.append(key)
            values.append(value)
            weights.append(cross)
            states.append(state)
        logits = self.output(self.final_norm(x))  # (B, S, V)
        return DecoderStep(
            logits=logits,
            cross_attention=tuple(weights),
            cache=DecoderCache(
                keys=tuple(keys),
                values=tuple(values),
                cross_states=() if all(s is None for s in states) else tuple(states),
            ),
        )

    def teacher_forced(self, tokens: Tensor, memory: DecoderMemory) -> DecoderStep:
        """A whole target batch (B, S) in one pass, for training: ``step`` from an empty cache
        without decoding states (a monotonic cross-attention then computes its expected alignment
        and returns it as its state; padding after the ends only affects the padded positions,
        which the loss ignores)."""
        empty = self.empty_cache(tokens.shape[0])
        return self.step(tokens, memory, DecoderCache(keys=empty.keys, values=empty.values))

    def forward(self, tokens: Tensor, memory: DecoderMemory) -> Tensor:
        """Logits (B, S, V) of a whole target batch (B, S) (:meth:`teacher_forced`)."""
        return self.teacher_forced(tokens, memory).logits
