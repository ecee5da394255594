"""Monotonic cross-attention for the AED's decoder: MMA-hard, MMA infinite lookback and EMMA.

Monotonic multihead attention (Ma et al., ICLR 2020, arXiv:1909.12406, after Raffel et al. 2017)
gives every head of every decoder layer a reader that moves forward over the source and, for
each target step, stops somewhere: at source step j it stops (writes) with probability
``p_choose[i, j]``, else reads on.  What the head then attends to:

- ``hard``: the source state where it stopped (MMA-H);
- ``infinite_lookback``: softly, everything up to where it stopped (MMA-IL; MILk, Arivazhagan
  et al. 2019), with soft energies of their own.

EMMA (Ma et al. 2023, arXiv:2312.04515, SeamlessStreaming) is infinite lookback with its own
p_choose layer: ``p_choose = sigmoid((q . k / sqrt(Dh) + energy_bias) / temperature)`` with q and k
from stacks of Linear + ReLU (``energy_layers``), a learnt bias (initial -0.5) and a temperature
(0.2).  MMA's p_choose is the same formula with plain linear q, k, temperature 1 and Gaussian
noise on the energies during training (fairseq: initial bias -2, noise std 1).  Every variant
decides on *pre-decision blocks*: keys are average-pooled ``pre_decision_ratio`` encoder frames at
a time (fairseq's ``fixed_pre_decision``), so a head stops at the end of a block.  One difference
from SeamlessStreaming: keys are pooled *after* their energy projection (frame by frame, so that a
streaming memory grows by concatenation); with a linear projection the two orders are equal.

Two ways to run, chosen by the state the decoder passes (:class:`~simul.models.aed_decoder.CrossAttention`):

- teacher-forced (state ``None``, training and the validation loss): the *expected* alignment
  ``alpha = monotonic_alignment(p_choose)`` over pooled steps (exact and differentiable, with mass
  preservation: a head stops at the last block at the latest, EMMA's "unbiased" estimate), placed
  on each block's last frame; the attention weights are alpha (hard) or
  ``expected_soft_attention(alpha, soft energies)`` (infinite lookback).  The state returned is the
  :class:`ExpectedAlignment`, from which :mod:`simul.families.monotonic.model` computes the latency loss;
- hard reading (a :class:`HardReading` state, decoding): each head walks from where it stopped for
  the previous position to the first pooled step whose p_choose reaches ``threshold`` (0.5) and
  stops there; a head that finds none within the memory stops at its last step (the end of the
  source, or the newest audio of a stream, where a policy reads instead).  The state returned holds
  the stops and every position's p_choose, which a read/write policy reads.

B: batch (hypotheses); S: new target positions; T: encoder frames in the memory; T': pooled steps
(``ceil(T / r)``, r = ``pre_decision_ratio``); D: ``d_model``; H: heads; Dh: ``D / H``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Literal, final

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from simul.ops import expected_soft_attention, monotonic_alignment

__all__ = [
    "DEFAULT_THRESHOLD",
    "ExpectedAlignment",
    "HardReading",
    "MonotonicAttentionConfig",
    "MonotonicAttentionKind",
    "MonotonicCrossAttention",
    "block_end_frames",
]

MonotonicAttentionKind = Literal["hard", "infinite_lookback"]
_KINDS = ("hard", "infinite_lookback")

#: Where a head stops when decoding: its first step with p_choose >= this (MMA's and EMMA's 0.5).
DEFAULT_THRESHOLD = 0.5


@dataclass(kw_only=True)
class MonotonicAttentionConfig:
    """The monotonic cross-attention of every decoder layer (stored with checkpoints)."""

    kind: MonotonicAttentionKind = "infinite_lookback"
    """``hard`` (attend where the head stopped, MMA-H) or ``infinite_lookback`` (softly up to there)."""
    energy_layers: int = 0
    """p_choose's q and k projections: 0, one Linear each (MMA); n > 0, n x (Linear + ReLU) (EMMA)."""
    energy_bias_init: float = -2.0
    """Initial value of the learnt bias of the monotonic energies (MMA -2, EMMA -0.5)."""
    temperature: float = 1.0
    """p_choose = sigmoid((energy + noise) / temperature) (MMA 1, EMMA 0.2)."""
    noise_std: float = 1.0
    """Std of the Gaussian noise added to the energies in training, to push p_choose to 0 or 1."""
    pre_decision_ratio: int = 2
    """r: encoder frames (40 ms each) per pre-decision block, over which keys are averaged."""

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"`kind` must be one of {_KINDS}, but is {self.kind!r} instead.")
        for name in ("energy_layers", "pre_decision_ratio"):
            value = getattr(self, name)
            minimum = 0 if name == "energy_layers" else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ValueError(f"`{name}` must be an int >= {minimum}, but is {value!r} instead.")
        if not self.temperature > 0:
            raise ValueError(f"`temperature` must be > 0, but is {self.temperature} instead.")
        if not self.noise_std >= 0:
            raise ValueError(f"`noise_std` must be >= 0, but is {self.noise_std} instead.")


@final
@dataclass(frozen=True, eq=False)
class ExpectedAlignment:
    """What a teacher-forced pass leaves: one layer's expected alignment over pooled steps.

    Attributes:
        p_choose: (B, H, S, T') the stopping probabilities (with training noise, if any).
        alpha: (B, H, S, T') the expected alignment (rows sum to 1 over the real steps).
        source_lengths: (B,) real pooled steps of each utterance.
    """

    p_choose: Tensor
    alpha: Tensor
    source_lengths: Tensor

    def reorder(self, order: Tensor) -> ExpectedAlignment:
        """The alignment of utterances ``order`` (B',)."""
        return ExpectedAlignment(
            p_choose=self.p_choose.index_select(0, order),
            alpha=self.alpha.index_select(0, order),
            source_lengths=self.source_lengths.index_select(0, order),
        )


@final
@dataclass(frozen=True, eq=False)
class HardReading:
    """Where one layer's heads stopped while decoding, and what they saw on the way.

    Attributes:
        threshold: a head stops at its first step with p_choose at least this.
        stops: (B, H) int64 pooled step where each head stopped for the last position (0 before
            the first: the reader starts on the first step).
        p_choose: (B, H, S, T') p_choose of the positions of the last call (S = 0 at the start).
        walk_starts: (B, H, S) the step each head walked from at each of those positions.
        stopped: (B, H, S) whether it reached the threshold within the memory (else it sits on
            the last step).
    """

    threshold: float
    stops: Tensor
    p_choose: Tensor
    walk_starts: Tensor
    stopped: Tensor

    @staticmethod
    def start(batch_size: int, num_heads: int, *, threshold: float, like: Tensor) -> HardReading:
        """The reading before the first target position."""
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"`threshold` must be in (0, 1], but is {threshold} instead.")
        stops = torch.zeros(batch_size, num_heads, dtype=torch.long, device=like.device)
        return HardReading(
            threshold=float(threshold),
            stops=stops,
            p_choose=like.new_zeros(batch_size, num_heads, 0, 0),
            walk_starts=stops[:, :, None][:, :, :0],
            stopped=torch.zeros(batch_size, num_heads, 0, dtype=torch.bool, device=like.device),
        )

    def with_threshold(self, threshold: float) -> HardReading:
        """The same reading with another stopping threshold."""
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"`threshold` must be in (0, 1], but is {threshold} instead.")
        return replace(self, threshold=float(threshold))

    def reorder(self, order: Tensor) -> HardReading:
        """The reading of hypotheses ``order`` (B',) (beam search)."""
        return HardReading(
            threshold=self.threshold,
            stops=self.stops.index_select(0, order),
            p_choose=self.p_choose.index_select(0, order),
            walk_starts=self.walk_starts.index_select(0, order),
            stopped=self.stopped.index_select(0, order),
        )


def block_end_frames(num_steps: int, frame_lengths: Tensor, ratio: int) -> Tensor:
    """(B, T') index of the last frame of each pre-decision block: ``min((k + 1) r, L) - 1``.

    Steps past an utterance's end get its last frame (their alignment is 0 anyway).
    """
    steps = torch.arange(num_steps, device=frame_lengths.device)
    ends = (steps[None, :] + 1) * ratio - 1  # (1, T')
    return torch.minimum(ends, frame_lengths[:, None] - 1).clamp_min(0)  # (B, T')


def _pool(keys: Tensor, frame_lengths: Tensor, ratio: int) -> tuple[Tensor, Tensor]:
    """Average (B, H, T, Dh) keys over blocks of ``ratio`` real frames -> (B, H, T', Dh), (B,)."""
    if ratio == 1:
        return keys, frame_lengths
    batch, heads, num_frames, head_dim = keys.shape
    num_steps = math.ceil(num_frames / ratio)
    real = torch.arange(num_frames, device=keys.device)[None, :] < frame_lengths[:, None]  # (B, T)
    padding = num_steps * ratio - num_frames
    summed = F.pad(keys * real[:, None, :, None], (0, 0, 0, padding))
    summed = summed.reshape(batch, heads, num_steps, ratio, head_dim).sum(3)  # (B, H, T', Dh)
    counts = F.pad(real, (0, padding)).reshape(batch, num_steps, ratio).sum(2)  # (B, T')
    pooled = summed / counts.clamp_min(1)[:, None, :, None].to(keys.dtype)
    return pooled, (frame_lengths + ratio - 1) // ratio


def _at_least_float32(x: Tensor) -> Tensor:
    """Half and bfloat16 in float32 (probabilities near 0 and 1 need it), others unchanged."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def _energy_projection(dim: int, num_layers: int) -> nn.Module:
    if num_layers == 0:
        return nn.Linear(dim, dim)
    layers: list[nn.Module] = []
    for _ in range(num_layers):
        layers += [nn.Linear(dim, dim), nn.ReLU()]
    return nn.Sequential(*layers)


@final
class MonotonicCrossAttention(nn.Module):
    """One decoder layer's monotonic cross-attention (see the module doc).

    A :class:`~simul.models.aed_decoder.CrossAttention`: its memory keys are the p_choose keys
    (B, H, T, Dh), followed, for infinite lookback, by the soft-attention keys along the last dim
    (B, H, T, 2 Dh); its values are (B, H, T, Dh).

    Args:
        model_dim: D.
        num_heads: H (``model_dim`` a multiple of it).
        dropout_p: dropout on the attention weights.
        config: the variant.

    Examples:
        >>> attention = MonotonicCrossAttention(16, 2, 0.0, MonotonicAttentionConfig(kind="hard"))
        >>> key, value = attention.project_kv(torch.randn(1, 6, 16))
        >>> out, weights, state = attention.attend(torch.randn(1, 3, 16), key, value, None, None)
        >>> weights.shape, state.alpha.shape  # 6 frames, 3 pooled steps
        (torch.Size([1, 2, 3, 6]), torch.Size([1, 2, 3, 3]))
    """

    def __init__(
        self, model_dim: int, num_heads: int, dropout_p: float, config: MonotonicAttentionConfig
    ) -> None:
        super().__init__()
        self.config = config
        self.num_heads = num_heads
        self.head_dim = model_dim // num_heads
        self.dropout_p = dropout_p
        self.q_energy = _energy_projection(model_dim, config.energy_layers)
        self.k_energy = _energy_projection(model_dim, config.energy_layers)
        self.energy_bias = nn.Parameter(torch.tensor(float(config.energy_bias_init)))
        self.soft = config.kind == "infinite_lookback"
        if self.soft:
            self.q_proj = nn.Linear(model_dim, model_dim)
            self.k_proj = nn.Linear(model_dim, model_dim)
        self.v_proj = nn.Linear(model_dim, model_dim)
        self.out_proj = nn.Linear(model_dim, model_dim)

    def _split(self, x: Tensor) -> Tensor:
        """(B, N, D) -> (B, H, N, Dh)."""
        return x.unflatten(-1, (self.num_heads, self.head_dim)).transpose(1, 2)

    def project_kv(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Memory keys (B, H, T, Dh or 2 Dh) and values (B, H, T, Dh) of (B, T, D) frames."""
        key = self._split(self.k_energy(x))
        if self.soft:
            key = torch.cat([key, self._split(self.k_proj(x))], dim=-1)
        return key, self._split(self.v_proj(x))

    def initial_state(self, batch_size: int, like: Tensor) -> HardReading:
        """Decoding starts with every head on the first step, stopping at p_choose >= 0.5."""
        return HardReading.start(batch_size, self.num_heads, threshold=DEFAULT_THRESHOLD, like=like)

    def attend(
        self, x: Tensor, key: Tensor, value: Tensor, mask: Tensor | None, state: Any
    ) -> tuple[Tensor, Tensor, ExpectedAlignment | HardReading]:
        """S new positions (B, S, D) over the memory -> ``(out (B, S, D), weights (B, H, S, T), state)``.

        Args:
            mask: (B, 1, 1, T) bool, ``True`` on real frames (right padding), or ``None``.
            state: ``None`` (teacher-forced: expected alignment) or a :class:`HardReading`.
        """
        if state is not None and not isinstance(state, HardReading):
            raise ValueError(
                "`state` must be None (a teacher-forced pass) or a HardReading (decoding), "
                f"but is {type(state).__name__} instead."
            )
        batch, num_frames = key.shape[0], key.shape[2]
        if mask is None:
            frame_lengths = torch.full((batch,), num_frames, dtype=torch.long, device=key.device)
        else:
            frame_lengths = mask.reshape(batch, num_frames).sum(-1)
        ratio = self.config.pre_decision_ratio
        pooled_keys, step_lengths = _pool(key[..., : self.head_dim], frame_lengths, ratio)
        query = self._split(self.q_energy(x))  # (B, H, S, Dh)
        energy = query @ pooled_keys.transpose(2, 3) / math.sqrt(self.head_dim) + self.energy_bias
        ends = block_end_frames(pooled_keys.shape[2], frame_lengths, ratio)  # (B, T')
        soft_energy = None
        if self.soft:
            soft_query = self._split(self.q_proj(x))
            soft_energy = (
                soft_query @ key[..., self.head_dim :].transpose(2, 3) / math.sqrt(self.head_dim)
            )
        if state is None:
            weights, new_state = self._expected(
                energy, soft_energy, ends, frame_lengths, step_lengths, num_frames
            )
        else:
            weights, new_state = self._hard(
                energy, soft_energy, ends, step_lengths, state, num_frames
            )
        weights = weights.to(value.dtype)
        dropped = F.dropout(weights, p=self.dropout_p, training=self.training)
        context = (dropped @ value).transpose(1, 2).flatten(2)  # (B, S, D)
        return self.out_proj(context), weights, new_state

    def _expected(
        self,
        energy: Tensor,
        soft_energy: Tensor | None,
        ends: Tensor,
        frame_lengths: Tensor,
        step_lengths: Tensor,
        num_frames: int,
    ) -> tuple[Tensor, ExpectedAlignment]:
        """Teacher-forced: expected alignment, on block-end frames, then beta for infinite lookback."""
        config = self.config
        if self.training and config.noise_std > 0:
            energy = energy + config.noise_std * torch.randn_like(energy)
        p_choose = torch.sigmoid(_at_least_float32(energy) / config.temperature)  # (B, H, S, T')
        alpha = monotonic_alignment(p_choose, step_lengths)  # (B, H, S, T')
        batch, heads, num_positions, _ = alpha.shape
        index = ends[:, None, None, :].expand(batch, heads, num_positions, -1)
        frame_alpha = alpha.new_zeros(batch, heads, num_positions, num_frames).scatter_add(
            -1, index, alpha
        )
        if soft_energy is None:
            weights = frame_alpha
        else:
            weights = expected_soft_attention(frame_alpha, soft_energy, frame_lengths)
        return weights, ExpectedAlignment(
            p_choose=p_choose, alpha=alpha, source_lengths=step_lengths
        )

    def _hard(
        self,
        energy: Tensor,
        soft_energy: Tensor | None,
        ends: Tensor,
        step_lengths: Tensor,
        state: HardReading,
        num_frames: int,
    ) -> tuple[Tensor, HardReading]:
        """Decoding: each head walks to its first step with p_choose >= threshold (see the module doc)."""
        p_choose = torch.sigmoid(
            _at_least_float32(energy) / self.config.temperature
        )  # (B, H, S, T')
        num_steps = p_choose.shape[-1]
        steps = torch.arange(num_steps, device=p_choose.device)
        last = (step_lengths - 1)[:, None]  # (B, 1)
        in_memory = steps[None, None, :] < step_lengths[:, None, None]  # (B, 1, T')
        stops = state.stops
        starts, found, stop_steps = [], [], []
        for position in range(p_choose.shape[2]):
            hit = (
                in_memory
                & (steps >= stops[:, :, None])
                & (p_choose[:, :, position] >= state.threshold)
            )
            first = torch.where(hit, steps, num_steps).amin(-1)  # (B, H)
            stopped = first < num_steps
            starts.append(stops)
            found.append(stopped)
            stops = torch.where(stopped, first, last)
            stop_steps.append(stops)
        stop_step = torch.stack(stop_steps, dim=2)  # (B, H, S)
        batch, heads, num_positions = stop_step.shape
        stop_frame = ends.gather(1, stop_step.reshape(batch, -1)).reshape(
            batch, heads, num_positions
        )
        frames = torch.arange(num_frames, device=p_choose.device)
        if soft_energy is None:
            weights = (frames == stop_frame[..., None]).to(p_choose.dtype)  # (B, H, S, T) one-hot
        else:
            allowed = frames <= stop_frame[..., None]
            weights = torch.softmax(
                _at_least_float32(soft_energy).masked_fill(~allowed, -math.inf), dim=-1
            )
        reading = HardReading(
            threshold=state.threshold,
            stops=stops,
            p_choose=p_choose,
            walk_starts=torch.stack(starts, dim=2),
            stopped=torch.stack(found, dim=2),
        )
        return weights, reading
