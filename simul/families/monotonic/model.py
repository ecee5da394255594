"""The monotonic-attention speech translator: an AED whose cross-attention is monotonic, with MMA's latency loss.

The model is simul's attention encoder-decoder (:mod:`simul.families.aed.model`: shared streaming encoder,
pre-norm Transformer decoder, label-smoothed cross-entropy, optional CTC), built with a
:class:`~simul.families.monotonic.attention.MonotonicCrossAttention` in every decoder layer.  So it
learns *when* to write during training: MMA-hard, MMA infinite lookback or EMMA, by config.

Training loss (Ma et al., ICLR 2020, "Monotonic Multihead Attention", §2.3)::

    L = CE(+ ctc_weight * CTC)  +  latency_weight * DAL(g)  +  variance_weight * Var_heads(d)

per target token: the sums over the batch of each term are divided by the number of target tokens
(CE's normalisation), so a sentence's latency terms weigh like fairseq's, which adds the latency
sum to a token-summed cross-entropy.  With ``d[l, h, i]`` the expected delay of head h of layer l
at target step i (``simul.ops.expected_delays`` of the teacher-forced expected alignment):

- ``g[i] = sum_(l,h) softmax_(l,h)(d[., i]) * d[l, h, i]``, MMA's "weighted average" of the heads
  (it leans on the slowest heads), and DAL (``simul.ops.differentiable_average_lagging``; MILk) of
  g over the sentence;
- ``Var_heads(d)``: the variance of ``d[., i]`` across the L x H heads, averaged over the
  sentence's target steps (MMA's "head divergence").

Delays are computed in pre-decision steps and reported in encoder frames (40 ms; one step is
``pre_decision_ratio`` frames), DAL in frames and the variance in frames squared.

Both latency weights are 0 for the first ``latency_after_steps`` training forward passes
(fairseq's ``--latency-update-after``): from scratch the decoder first has to learn to use its
attention, and until it does only the latency terms move p_choose (with Adam, at full speed
whatever their weight), so every head learns to stop on the first block and never reads (a
collapse seen on the built-in corpus).  The count is a buffer of the model, saved with the
weights, so a resumed run continues it.

Decoding (:meth:`MonotonicTranslator.empty_cache`): every head reads hard-monotonically and stops
at its first pre-decision step with p_choose >= the threshold, so greedy/beam search of
:mod:`simul.models.beam_search` runs the model offline (over ``model.aed``), and
:mod:`simul.families.monotonic.streaming` runs it under the ``monotonic`` policy.

B: batch size; T: fbank frames; U: target tokens with EOS; L: decoder layers; H: heads.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import final

import torch
from torch import Tensor, nn

from simul.families.aed import model as aed
from simul.families.aed.model import AedConfig, AttentionEncoderDecoder
from simul.families.monotonic.attention import (
    DEFAULT_THRESHOLD,
    ExpectedAlignment,
    HardReading,
    MonotonicAttentionConfig,
    MonotonicCrossAttention,
)
from simul.models.aed_decoder import DecoderCache
from simul.models.encoder import Encoder
from simul.ops import differentiable_average_lagging, expected_delays

__all__ = [
    "MonotonicConfig",
    "MonotonicLoss",
    "MonotonicTranslator",
    "emma_small",
    "latency_terms",
    "mma_hard_small",
    "mma_il_small",
    "tiny",
]


@dataclass(kw_only=True)
class MonotonicConfig:
    """Everything that builds a :class:`MonotonicTranslator` (stored with checkpoints)."""

    aed: AedConfig = field(default_factory=AedConfig)
    """The encoder-decoder: encoder, decoder sizes, vocabulary, label smoothing, CTC."""
    attention: MonotonicAttentionConfig = field(default_factory=MonotonicAttentionConfig)
    """The monotonic cross-attention of every decoder layer."""
    latency_weight: float = 0.0
    """lambda_avg: weight of DAL of the heads' weighted-average expected delays (encoder frames)."""
    variance_weight: float = 0.0
    """lambda_var: weight of the variance of the expected delays across heads (frames squared)."""
    latency_after_steps: int = 0
    """Training forward passes (micro-batches) before the two latency weights apply (0 until then)."""

    def __post_init__(self) -> None:
        for name in ("latency_weight", "variance_weight"):
            value = getattr(self, name)
            if not value >= 0:
                raise ValueError(f"`{name}` must be >= 0, but is {value} instead.")
        steps = self.latency_after_steps
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
            raise ValueError(
                f"`latency_after_steps` must be an int >= 0, but is {steps!r} instead."
            )


def mma_il_small() -> MonotonicConfig:
    """MMA infinite lookback on the AED's ``small`` model (about 5M parameters at V=1000).

    80 ms pre-decision blocks, fairseq's p_choose (bias -2, noise std 1), DAL weight 0.1 and
    variance weight 0.01 (the small corpus' sentences are about 3 s, 75 frames).
    """
    return MonotonicConfig(
        aed=aed.small(),
        attention=MonotonicAttentionConfig(kind="infinite_lookback"),
        latency_weight=0.1,
        variance_weight=0.01,
    )


def mma_hard_small() -> MonotonicConfig:
    """MMA-hard on the AED's ``small`` model: each head attends to one pre-decision block end."""
    config = mma_il_small()
    return replace(config, attention=replace(config.attention, kind="hard"))


def emma_small() -> MonotonicConfig:
    """EMMA on the AED's ``small`` model: infinite lookback with EMMA's p_choose layer.

    SeamlessStreaming's settings scaled down: energy projections of 2 x (Linear + ReLU) (dense_1b
    has 4), initial bias -0.5, temperature 0.2, no training noise, 80 ms blocks.
    """
    attention = MonotonicAttentionConfig(
        kind="infinite_lookback",
        energy_layers=2,
        energy_bias_init=-0.5,
        temperature=0.2,
        noise_std=0.0,
    )
    return replace(mma_il_small(), attention=attention)


def tiny() -> MonotonicConfig:
    """The AED's ``tiny`` model with MMA infinite lookback, for tests."""
    return MonotonicConfig(
        aed=aed.tiny(),
        attention=MonotonicAttentionConfig(kind="infinite_lookback"),
        latency_weight=0.1,
    )


def latency_terms(
    alignments: tuple[ExpectedAlignment, ...], target_lengths: Tensor, ratio: int
) -> tuple[Tensor, Tensor]:
    """Each sentence's DAL of the weighted-average delays and its head variance (module doc).

    Args:
        alignments: per decoder layer, its teacher-forced expected alignment (B, H, U, T').
        target_lengths: (B,) target tokens, EOS included (>= 1).
        ratio: encoder frames per pre-decision step.

    Returns:
        ``(dal (B,), variance (B,))`` in encoder frames and frames squared.
    """
    delays = torch.cat(
        [expected_delays(a.alpha) for a in alignments], dim=1
    )  # (B, L*H, U) in steps
    source_lengths = alignments[0].source_lengths
    weights = torch.softmax(delays, dim=1)
    gathered = (weights * delays).sum(1)  # (B, U)
    dal = differentiable_average_lagging(gathered, source_lengths, target_lengths) * ratio
    positions = torch.arange(delays.shape[2], device=delays.device)
    real = (positions[None, :] < target_lengths[:, None]).to(delays.dtype)  # (B, U)
    spread = delays.var(dim=1) if delays.shape[1] > 1 else torch.zeros_like(gathered)
    variance = (spread * real).sum(1) / target_lengths.to(delays.dtype) * ratio**2
    return dal, variance


@final
@dataclass(frozen=True, eq=False)
class MonotonicLoss:
    """The training loss of a batch and its parts.

    Attributes:
        loss: scalar to minimise (see the module doc).
        ce_sum: detached label-smoothed cross-entropy summed over target tokens.
        nll_sum: detached plain negative log-likelihood summed over target tokens.
        ctc_sum: detached CTC costs summed over the batch (0 without a CTC head).
        latency_sum: detached DAL (encoder frames) summed over the batch.
        variance_sum: detached head variance of the delays (frames squared) summed over the batch.
        num_utterances: B.
        num_tokens: target tokens (EOS included).
    """

    loss: Tensor
    ce_sum: Tensor
    nll_sum: Tensor
    ctc_sum: Tensor
    latency_sum: Tensor
    variance_sum: Tensor
    num_utterances: int
    num_tokens: int


@final
class MonotonicTranslator(nn.Module):
    """An attention encoder-decoder with monotonic cross-attention (see the module doc).

    Args:
        config: sizes; ``config.aed.vocab_size`` must be set (> 0).  Kept as ``self.config``.

    Attributes:
        aed: the encoder-decoder (its ``encode``, ``memory``, ``decode_step`` are the model's steps).
        training_steps: () int64 buffer, forward passes in training mode so far (the latency
            terms' delay, ``config.latency_after_steps``).

    Examples:
        >>> config = tiny()
        >>> model = MonotonicTranslator(replace(config, aed=replace(config.aed, vocab_size=12))).eval()
        >>> frames, lengths = model.aed.encode(torch.randn(1, 64, 80), torch.tensor([64]))
        >>> step = model.aed.decode_step(torch.tensor([[0]]), model.aed.memory(frames), model.empty_cache(1))
        >>> step.cache.cross_states[0].p_choose.shape  # (B, H, S, pooled steps)
        torch.Size([1, 2, 1, 8])
    """

    def __init__(self, config: MonotonicConfig) -> None:
        super().__init__()
        self.config = config
        decoder = config.aed.decoder

        def cross_attention(index: int) -> MonotonicCrossAttention:
            return MonotonicCrossAttention(
                decoder.d_model, decoder.num_heads, decoder.dropout_p, config.attention
            )

        self.aed = AttentionEncoderDecoder(config.aed, cross_attention=cross_attention)
        self.register_buffer("training_steps", torch.zeros((), dtype=torch.long))

    @property
    def encoder(self) -> Encoder:
        """The AED's speech encoder (what ``model.init_encoder_from`` initialises)."""
        return self.aed.encoder

    @property
    def num_decoder_layers(self) -> int:
        """L."""
        return self.aed.num_decoder_layers

    @property
    def num_heads(self) -> int:
        """H, monotonic heads per decoder layer."""
        return self.config.aed.decoder.num_heads

    def empty_cache(self, batch_size: int, *, threshold: float = DEFAULT_THRESHOLD) -> DecoderCache:
        """The decoder cache of ``batch_size`` hypotheses before their first token, every head
        reading hard-monotonically and stopping at its first step with p_choose >= ``threshold``."""
        cache = self.aed.empty_cache(batch_size)
        states = tuple(s.with_threshold(threshold) for s in cache.cross_states)
        return replace(cache, cross_states=states)

    def forward(
        self, features: Tensor, feature_lengths: Tensor, targets: Tensor, target_lengths: Tensor
    ) -> MonotonicLoss:
        """The training loss of a padded batch (arguments as :meth:`AttentionEncoderDecoder.forward`)."""
        out = self.aed(features, feature_lengths, targets, target_lengths)
        alignments = out.cross_states
        if len(alignments) != self.num_decoder_layers or not all(
            isinstance(a, ExpectedAlignment) for a in alignments
        ):
            raise ValueError(
                "the decoder's teacher-forced pass must return every layer's expected alignment."
            )
        dal, variance = latency_terms(
            alignments, target_lengths, self.config.attention.pre_decision_ratio
        )
        config = self.config
        total = out.loss
        if int(self.training_steps) >= config.latency_after_steps:
            latency = config.latency_weight * dal.sum() + config.variance_weight * variance.sum()
            total = total + latency / max(out.num_tokens, 1)
        if self.training:
            self.training_steps += 1
        return MonotonicLoss(
            loss=total,
            ce_sum=out.ce_sum,
            nll_sum=out.nll_sum,
            ctc_sum=out.ctc_sum,
            latency_sum=dal.detach().sum(),
            variance_sum=variance.detach().sum(),
            num_utterances=out.num_utterances,
            num_tokens=out.num_tokens,
        )

    @staticmethod
    def readings(cache: DecoderCache) -> tuple[HardReading, ...]:
        """Every layer's :class:`HardReading` in a decoding cache."""
        states = cache.cross_states
        if not states or not all(isinstance(s, HardReading) for s in states):
            raise ValueError(
                "`cache` must come from a decoding step (MonotonicTranslator.empty_cache)."
            )
        return tuple(states)
