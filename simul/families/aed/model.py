"""The attention encoder-decoder (AED) speech translation model: shared encoder + Transformer decoder.

The offline ST model every attention-based simultaneous policy starts from (FBK's EDAtt,
AlignAtt and their offline wait-k and LocalAgreement agents run such a model, trained on whole
utterances, under a read/write policy): simul's shared speech encoder (:mod:`simul.models.encoder`,
conv subsampling + Conformer/Transformer blocks, chunk-limited or full context) and a pre-norm
Transformer decoder (:mod:`simul.models.aed_decoder`) that attends to its frames.  Trained with
label-smoothed cross-entropy (Szegedy et al. 2016), plus an optional auxiliary CTC loss on the
encoder (:mod:`simul.models.ctc`) against the same target tokens.

The model exposes steps and knows nothing about search or policies: :meth:`encode` (a padded
batch), the encoder's streaming path (``model.encoder.init_state`` / ``stream`` / ``flush``, whose
frames concatenate to :meth:`encode`'s when the encoder is chunk-limited), :meth:`memory`
(encoder frames as the decoder sees them), and :meth:`decode_step` (the next target positions
from a :class:`~simul.models.aed_decoder.DecoderCache`, with every layer's cross-attention).
:mod:`simul.models.beam_search` builds greedy/beam search with a forced prefix on those steps;
:mod:`simul.families.aed.streaming` runs the model under read/write policies.

Targets are ``tokens + [EOS]`` (:meth:`simul.families.aed.family.AedFamily.target_ids`); the
decoder reads ``[BOS] + tokens`` and predicts them shifted by one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, final

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from simul.models import encoder as encoder_presets
from simul.models.aed_decoder import (
    DecoderCache,
    DecoderConfig,
    DecoderMemory,
    DecoderStep,
    TransformerDecoder,
)
from simul.models.ctc import CtcHead, ctc_loss
from simul.models.encoder import Encoder, EncoderConfig

__all__ = ["AedConfig", "AedLoss", "AttentionEncoderDecoder", "small", "tiny"]


@dataclass(kw_only=True)
class AedConfig:
    """Everything that builds an :class:`AttentionEncoderDecoder` (stored with checkpoints)."""

    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    """The shared speech encoder (chunk-limited: it streams; ``chunk_size_frames: null``: offline)."""
    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    """The Transformer decoder."""
    vocab_size: int = 0
    """V, target vocabulary; 0 until set from the tokenizer (``simul train`` does)."""
    pad_id: int = 1
    """Padding id of targets (simul's tokenizer: 1; also the CTC blank)."""
    bos_id: int = 0
    """The token the decoder starts from (simul's tokenizer: ``<s>`` = 0)."""
    eos_id: int = 2
    """End of sentence (simul's tokenizer: ``</s>`` = 2)."""
    label_smoothing: float = 0.1
    """Label smoothing of the cross-entropy (0: plain cross-entropy)."""
    ctc_weight: float = 0.0
    """Weight of the auxiliary CTC loss on the encoder against the target tokens; 0: no CTC head."""
    tie_embeddings: bool = True
    """Share the decoder's output projection with its token embedding."""

    def __post_init__(self) -> None:
        if (
            isinstance(self.vocab_size, bool)
            or not isinstance(self.vocab_size, int)
            or self.vocab_size < 0
        ):
            raise ValueError(
                f"`vocab_size` must be an int >= 0, but is {self.vocab_size!r} instead."
            )
        if self.vocab_size:
            for name in ("pad_id", "bos_id", "eos_id"):
                value = getattr(self, name)
                if not 0 <= value < self.vocab_size:
                    raise ValueError(
                        f"`{name}` must be in [0, vocab_size={self.vocab_size}), but is {value} instead."
                    )
        if len({self.pad_id, self.bos_id, self.eos_id}) != 3:
            raise ValueError(
                f"`pad_id`, `bos_id` and `eos_id` must differ, but are {self.pad_id}, "
                f"{self.bos_id} and {self.eos_id} instead."
            )
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(
                f"`label_smoothing` must be in [0, 1), but is {self.label_smoothing} instead."
            )
        if not self.ctc_weight >= 0.0:
            raise ValueError(f"`ctc_weight` must be >= 0, but is {self.ctc_weight} instead.")


def small() -> AedConfig:
    """A 6-layer Conformer encoder and a 3-layer decoder, 144-dim (about 5M parameters at V=1000).

    Sized for CPU training on the built-in ``small`` corpus: the transducer's ``small`` encoder
    (320 ms chunks, unlimited left context, so that it streams with caches) and a narrow decoder.
    """
    encoder = EncoderConfig(
        subsampling_channels=64,
        d_model=144,
        num_layers=6,
        num_heads=4,
        ffn_dim=576,
        conv_kernel_size=15,
        chunk_size_frames=8,
        num_left_chunks=-1,
    )
    decoder = DecoderConfig(d_model=144, num_layers=3, num_heads=4, ffn_dim=576)
    return AedConfig(encoder=encoder, decoder=decoder)


def tiny() -> AedConfig:
    """A few-ten-thousand-parameter AED for tests (the encoder's ``tiny`` preset, 2 decoder layers)."""
    decoder = DecoderConfig(d_model=32, num_layers=2, num_heads=2, ffn_dim=64)
    return AedConfig(encoder=encoder_presets.tiny(), decoder=decoder)


@final
@dataclass(frozen=True, eq=False)
class AedLoss:
    """The training loss of a batch and its parts.

    Attributes:
        loss: scalar to minimise: ``(ce + ctc_weight * ctc) / num_tokens`` (a per-token mean).
        ce_sum: detached, label-smoothed cross-entropy summed over target tokens.
        nll_sum: detached, plain negative log-likelihood summed over target tokens.
        ctc_sum: detached, CTC costs summed over the batch (0 without a CTC head).
        num_utterances: B.
        num_tokens: target tokens (EOS included).
        cross_states: per decoder layer, what its cross-attention returned in the teacher-forced
            pass (empty for soft attention; a monotonic decoder's expected alignments, which its
            latency loss reads).
    """

    loss: Tensor
    ce_sum: Tensor
    nll_sum: Tensor
    ctc_sum: Tensor
    num_utterances: int
    num_tokens: int
    cross_states: tuple[Any, ...] = ()


@final
class AttentionEncoderDecoder(nn.Module):
    """Speech encoder + Transformer decoder for offline ST (see the module doc).

    B: batch size; T: fbank frames (10 ms); T': encoder frames (40 ms); U: target tokens with EOS;
    S: decoder positions; F: mel bins; V: vocabulary; L: decoder layers; H: heads.

    Args:
        config: sizes; ``config.vocab_size`` must be set (> 0).  Kept as ``self.config``.
        cross_attention: builds layer ``index``'s cross-attention instead of soft attention
            (:class:`~simul.models.aed_decoder.TransformerDecoder`'s argument; the monotonic
            decoder of :mod:`simul.families.monotonic.model` passes one) (Default: ``None``).

    Examples:
        >>> model = AttentionEncoderDecoder(dataclasses.replace(tiny(), vocab_size=12)).eval()
        >>> frames, lengths = model.encode(torch.randn(1, 64, 80), torch.tensor([64]))
        >>> memory = model.memory(frames)
        >>> step = model.decode_step(torch.tensor([[0]]), memory, model.empty_cache(1))
        >>> step.logits.shape
        torch.Size([1, 1, 12])
    """

    def __init__(
        self, config: AedConfig, *, cross_attention: Callable[[int], nn.Module] | None = None
    ) -> None:
        super().__init__()
        if config.vocab_size <= 0:
            raise ValueError(
                f"`vocab_size` must be > 0 to build an AttentionEncoderDecoder (set it from the "
                f"tokenizer), but is {config.vocab_size} instead."
            )
        self.config = config
        self.encoder = Encoder(config.encoder)
        self.decoder = TransformerDecoder(
            config.decoder,
            vocab_size=config.vocab_size,
            pad_id=config.pad_id,
            memory_dim=config.encoder.d_model,
            tie_embeddings=config.tie_embeddings,
            cross_attention=cross_attention,
        )
        self.ctc_head = (
            CtcHead(
                encoder_dim=config.encoder.d_model,
                vocab_size=config.vocab_size,
                dropout_p=config.encoder.dropout_p,
            )
            if config.ctc_weight > 0
            else None
        )

    @property
    def num_decoder_layers(self) -> int:
        """L."""
        return self.decoder.num_layers

    def encode(self, features: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Encode a padded batch: (B, T, F), (B,) -> frames (B, T', De), lengths (B,)."""
        return self.encoder(features, lengths)

    def memory(self, frames: Tensor, lengths: Tensor | None = None) -> DecoderMemory:
        """The decoder's view of encoder frames (B, T', De); ``lengths`` (B,) for padded batches."""
        mask = None
        if lengths is not None:
            mask = torch.arange(frames.shape[1], device=frames.device)[None, :] < lengths[:, None]
        return self.decoder.memory(frames, mask)

    def extend_memory(self, memory: DecoderMemory, frames: Tensor) -> DecoderMemory:
        """``memory`` followed by new encoder frames (1, T_new, De) of a stream."""
        return self.decoder.extend_memory(memory, frames)

    def empty_cache(self, batch_size: int) -> DecoderCache:
        """The decoder cache of ``batch_size`` hypotheses before their first token."""
        return self.decoder.empty_cache(batch_size)

    def decode_step(
        self, tokens: Tensor, memory: DecoderMemory, cache: DecoderCache
    ) -> DecoderStep:
        """The next decoder positions (B, S) after ``cache``: logits and every layer's cross-attention."""
        return self.decoder.step(tokens, memory, cache)

    def ctc_log_probs(self, frames: Tensor) -> Tensor:
        """CTC log-probabilities (B, T', V) of encoder frames."""
        if self.ctc_head is None:
            raise ValueError("this model has no CTC head (its config has `ctc_weight` 0).")
        return self.ctc_head(frames)

    def forward(
        self, features: Tensor, feature_lengths: Tensor, targets: Tensor, target_lengths: Tensor
    ) -> AedLoss:
        """The training loss of a padded batch.

        Utterances shorter than one encoder frame are given one (all-zero) frame rather than
        rejected, so a stray tiny segment cannot stop a run.

        Args:
            features: (B, T, F) fbank frames, padded.
            feature_lengths: (B,) valid frames.
            targets: (B, U) int64 tokens ending with EOS, padded with anything.
            target_lengths: (B,) tokens per utterance, EOS included (>= 1).
        """
        config = self.config
        frames, frame_lengths = self.encode(features, feature_lengths)  # (B, T', De)
        frame_lengths = frame_lengths.clamp_min(1)
        if frames.shape[1] == 0:
            frames = frames.new_zeros(frames.shape[0], 1, frames.shape[2])
        positions = torch.arange(targets.shape[1], device=targets.device)
        in_target = positions[None, :] < target_lengths[:, None]  # (B, U)
        targets = torch.where(in_target, targets, config.pad_id)
        start = targets.new_full((targets.shape[0], 1), config.bos_id)
        decoder_in = torch.cat([start, targets[:, :-1]], dim=1)  # (B, U)
        step = self.decoder.teacher_forced(decoder_in, self.memory(frames, frame_lengths))
        logits = step.logits.float()  # (B, U, V)
        flat_logits, flat_targets = logits.flatten(0, 1), targets.flatten()
        ce = F.cross_entropy(
            flat_logits, flat_targets, ignore_index=config.pad_id,
            label_smoothing=config.label_smoothing, reduction="sum",
        )  # fmt: skip
        nll = F.cross_entropy(
            flat_logits.detach(), flat_targets, ignore_index=config.pad_id, reduction="sum"
        )
        num_tokens = int(target_lengths.sum())
        total = ce
        ctc = ce.new_zeros(())
        if self.ctc_head is not None:
            # CTC on the tokens without their EOS (the encoder has no end-of-sentence frame).
            ctc = ctc_loss(
                self.ctc_head(frames), frame_lengths, targets, (target_lengths - 1).clamp_min(0),
                blank=config.pad_id,
            ).sum()  # fmt: skip
            total = ce + config.ctc_weight * ctc
        return AedLoss(
            loss=total / max(num_tokens, 1),
            ce_sum=ce.detach(),
            nll_sum=nll,
            ctc_sum=ctc.detach(),
            num_utterances=int(targets.shape[0]),
            num_tokens=num_tokens,
            cross_states=step.cache.cross_states,
        )
