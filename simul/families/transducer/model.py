"""The streaming Transformer-Transducer: chunk-limited encoder, predictor, joiner, RNN-T + CTC loss.

Zhang et al. 2020, "Transformer Transducer: A Streamable Speech Recognition Model with Transformer
Encoders and RNN-T Loss" (arXiv:2002.02562): a Transformer audio encoder whose self-attention is
limited in context, a label-side predictor, and an additive joiner, trained with the RNN-T loss
(Graves 2012).  Here the encoder is simul's shared chunk-wise encoder
(:mod:`simul.models.encoder`; Transformer or Conformer blocks), so the model streams with a
per-layer cache and never re-encodes the prefix; an auxiliary CTC head on the encoder
(:mod:`simul.models.ctc`) makes training hybrid CTC/RNN-T when ``ctc_weight > 0``, and
``pruned_loss`` trains with the pruned RNN-T loss (:mod:`simul.models.pruned_rnnt_loss`), whose
joiner runs on S symbol positions per frame instead of the whole (T', U+1) lattice.

The model exposes *steps* and knows nothing about decoding, like torchaudio's ``RNNT``:
``transcribe`` (whole padded batch), ``transcribe_streaming`` (the next fbank frames of streams,
with the encoder state in and out), ``predict`` (tokens with the predictor state in and out) and
``join``.  :mod:`simul.families.transducer.search` builds greedy and beam search on those steps;
``forward`` is the training loss.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import final

import torch
from torch import Tensor, nn

from simul.models import encoder as encoder_presets
from simul.models.ctc import CtcHead, ctc_loss
from simul.models.encoder import Encoder, EncoderConfig, EncoderState
from simul.models.joiner import Joiner
from simul.models.predictor import Predictor, PredictorConfig, PredictorState, build_predictor
from simul.models.pruned_rnnt_loss import prune_ranges, pruned_rnnt_loss, simple_rnnt_loss
from simul.models.rnnt_loss import rnnt_loss

__all__ = [
    "PrunedLossConfig",
    "Transducer",
    "TransducerConfig",
    "TransducerLoss",
    "small",
    "tiny",
]


@dataclass(kw_only=True)
class PrunedLossConfig:
    """The pruned RNN-T loss (Kuang et al. 2022; :mod:`simul.models.pruned_rnnt_loss`).

    ``loss = simple_loss_scale * simple + pruned`` per utterance (icefall's recipe): the simple
    (trivial-joiner) loss trains the two extra projections whose posterior picks the band, and
    the pruned loss trains the real joiner on S symbol positions per frame only.  icefall also
    warms up from the simple loss alone (its first 2000 steps); the model's loss does not know the
    training step, so there is no warm-up here: the pruned loss is a valid RNN-T loss on any
    band (an upper bound of the full one), only a looser one while the projections are untrained.
    """

    prune_range: int = 5
    """S, symbol positions per encoder frame on which the joiner runs (icefall: 5); a batch with
    an utterance of more than S - 1 tokens per frame gets a band just wide enough for it."""
    simple_loss_scale: float = 0.5
    """Weight of the simple loss (icefall: 0.5); > 0, or the band is chosen by untrained weights."""

    def __post_init__(self) -> None:
        if (
            isinstance(self.prune_range, bool)
            or not isinstance(self.prune_range, int)
            or self.prune_range < 2
        ):
            raise ValueError(
                f"`prune_range` must be an int >= 2, but is {self.prune_range!r} instead."
            )
        if not self.simple_loss_scale > 0.0:
            raise ValueError(
                f"`simple_loss_scale` must be > 0, but is {self.simple_loss_scale} instead."
            )


@dataclass(kw_only=True)
class TransducerConfig:
    """Everything that builds a :class:`Transducer` (stored with checkpoints)."""

    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    """The shared streaming encoder (its chunk size sets the model's look-ahead)."""
    predictor: PredictorConfig = field(default_factory=PredictorConfig)
    """The label-side prediction network (LSTM or stateless)."""
    joiner_dim: int = 320
    """Hidden size of the joint network."""
    vocab_size: int = 0
    """V, output classes, blank included; 0 until set from the tokenizer (``simul train`` does)."""
    blank_id: int = 1
    """The blank class, also the predictor's start symbol (simul's tokenizer: the pad id, 1)."""
    ctc_weight: float = 0.3
    """Weight of the auxiliary CTC loss: ``loss = rnnt + ctc_weight * ctc``; 0 builds no CTC head."""
    pruned_loss: PrunedLossConfig | None = None
    """Train with the pruned RNN-T loss (adds two Linear(D, V) projections); None, the default
    and what every checkpoint saved before this field reads as, trains on the full lattice."""

    def __post_init__(self) -> None:
        if not isinstance(self.joiner_dim, int) or self.joiner_dim <= 0:
            raise ValueError(
                f"`joiner_dim` must be an int > 0, but is {self.joiner_dim!r} instead."
            )
        if not isinstance(self.vocab_size, int) or self.vocab_size < 0:
            raise ValueError(
                f"`vocab_size` must be an int >= 0, but is {self.vocab_size!r} instead."
            )
        if self.vocab_size and not 0 <= self.blank_id < self.vocab_size:
            raise ValueError(
                f"`blank_id` must be in [0, vocab_size={self.vocab_size}), "
                f"but is {self.blank_id} instead."
            )
        if not self.ctc_weight >= 0.0:
            raise ValueError(f"`ctc_weight` must be >= 0, but is {self.ctc_weight} instead.")


def small() -> TransducerConfig:
    """A 6-layer, 144-dim Conformer T-T (about 3.7M parameters at V = 512) with 320 ms chunks.

    Sized for CPU training on the built-in ``small`` corpus, where the joiner's (T, U+1) lattice
    costs as much as the encoder: a 192-dim joiner, narrow subsampling convolutions (at 256
    channels they would cost as much as the encoder), a 1-layer LSTM predictor, and a left
    context of 8 chunks (2.56 s) so that a streamed chunk costs the same however long the talk.
    """
    encoder = EncoderConfig(
        subsampling_channels=32,
        d_model=144,
        num_layers=6,
        num_heads=4,
        ffn_dim=576,
        conv_kernel_size=15,
        chunk_size_frames=8,
        num_left_chunks=8,
    )
    predictor = PredictorConfig(embedding_dim=128, hidden_dim=256)
    return TransducerConfig(encoder=encoder, predictor=predictor, joiner_dim=192)


def tiny() -> TransducerConfig:
    """A few-ten-thousand-parameter T-T for tests (the encoder's ``tiny`` preset)."""
    predictor = PredictorConfig(embedding_dim=16, hidden_dim=24)
    return TransducerConfig(encoder=encoder_presets.tiny(), predictor=predictor, joiner_dim=32)


@final
@dataclass(frozen=True, eq=False)
class TransducerLoss:
    """The training loss of a batch and its parts.

    Attributes:
        loss: scalar to minimise: the batch mean of ``rnnt + ctc_weight * ctc`` per utterance
            (plus ``simple_loss_scale * simple`` with the pruned loss).
        rnnt_sum: scalar, detached: RNN-T costs summed over the batch (with the pruned loss, the
            costs on the band, >= the full costs).
        ctc_sum: scalar, detached: CTC costs summed over the batch (0 without a CTC head).
        num_utterances: B.
        num_tokens: target tokens in the batch.
        simple_sum: scalar, detached: simple-loss costs summed over the batch; None with the
            full loss.
    """

    loss: Tensor
    rnnt_sum: Tensor
    ctc_sum: Tensor
    num_utterances: int
    num_tokens: int
    simple_sum: Tensor | None = None


@final
class Transducer(nn.Module):
    """Streaming Transformer-Transducer with an optional CTC head (see the module doc).

    B: batch size; T: fbank frames (10 ms); T': encoder frames (40 ms); U: target tokens;
    S: predictor positions; F: mel bins; De: encoder size; Dp: predictor size; V: vocabulary.

    Args:
        config: sizes; ``config.vocab_size`` must be set (> 0).  Kept as ``self.config``.

    Examples:
        >>> model = Transducer(dataclasses.replace(tiny(), vocab_size=12)).eval()
        >>> frames, lengths = model.transcribe(torch.randn(1, 64, 80), torch.tensor([64]))
        >>> out, state = model.predict(torch.tensor([[1]]), model.init_predictor_state(1))
        >>> model.join(frames, out).shape
        torch.Size([1, 16, 1, 12])
    """

    def __init__(self, config: TransducerConfig) -> None:
        super().__init__()
        if config.vocab_size <= 0:
            raise ValueError(
                f"`vocab_size` must be > 0 to build a Transducer (set it from the tokenizer), "
                f"but is {config.vocab_size} instead."
            )
        self.config = config
        self.blank_id = config.blank_id
        self.encoder = Encoder(config.encoder)
        self.predictor: Predictor = build_predictor(
            vocab_size=config.vocab_size, blank_id=config.blank_id, config=config.predictor
        )
        self.joiner = Joiner(
            encoder_dim=config.encoder.d_model,
            predictor_dim=self.predictor.output_dim,
            joiner_dim=config.joiner_dim,
            vocab_size=config.vocab_size,
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
        # The pruned loss's trivial joiner, built last so that the other weights initialise as
        # without it.
        self.simple_encoder_proj: nn.Linear | None = None
        self.simple_predictor_proj: nn.Linear | None = None
        if config.pruned_loss is not None:
            self.simple_encoder_proj = nn.Linear(config.encoder.d_model, config.vocab_size)
            self.simple_predictor_proj = nn.Linear(self.predictor.output_dim, config.vocab_size)

    def transcribe(self, features: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Encode a padded batch under the chunk mask: (B, T, F), (B,) -> (B, T', De), (B,)."""
        return self.encoder(features, lengths)

    def init_encoder_state(
        self, batch_size: int = 1, *, device: torch.device | None = None
    ) -> EncoderState:
        """The encoder state of ``batch_size`` new streams."""
        return self.encoder.init_state(batch_size, device=device)

    def transcribe_streaming(
        self, features: Tensor, state: EncoderState, *, final: bool = False
    ) -> tuple[Tensor, EncoderState]:
        """Encode the next fbank frames of streams; ``final`` also encodes the last partial chunk.

        Args:
            features: (B, N, F), any N >= 0.
            state: from :meth:`init_encoder_state` or the previous call.
            final: the stream ends with these frames.

        Returns:
            ``(frames (B, n, De), state)``: every encoder frame completed by these features (whole
            chunks; with ``final``, the rest too).  Concatenated over any split, they equal
            :meth:`transcribe` of the whole input.
        """
        frames, state = self.encoder.stream(features, state)
        if final:
            last, state = self.encoder.flush(state)
            frames = torch.cat([frames, last], dim=1)
        return frames, state

    def init_predictor_state(
        self, batch_size: int = 1, *, device: torch.device | None = None
    ) -> PredictorState:
        """The predictor state before the start symbol (blank) of ``batch_size`` hypotheses."""
        return self.predictor.init_state(batch_size, device=device)

    def predict(self, tokens: Tensor, state: PredictorState) -> tuple[Tensor, PredictorState]:
        """Run the predictor on (B, S) int64 tokens from ``state``: -> (B, S, Dp), new state."""
        return self.predictor(tokens, state)

    def join(self, encoder_frames: Tensor, predictor_out: Tensor) -> Tensor:
        """Logits of every pair: (B, T', De), (B, S, Dp) -> (B, T', S, V)."""
        return self.joiner(encoder_frames, predictor_out)

    def ctc_log_probs(self, encoder_frames: Tensor) -> Tensor:
        """CTC log-probabilities (B, T', V) of encoder frames (for policies and CTC decoding)."""
        if self.ctc_head is None:
            raise ValueError("this Transducer has no CTC head (its config has `ctc_weight` 0).")
        return self.ctc_head(encoder_frames)

    def forward(
        self, features: Tensor, feature_lengths: Tensor, targets: Tensor, target_lengths: Tensor
    ) -> TransducerLoss:
        """The training loss of a padded batch.

        Utterances shorter than one encoder frame (4 fbank frames, 40 ms) are scored on one
        (all-zero) frame rather than rejected, so a stray tiny segment cannot stop a run.

        Args:
            features: (B, T, F) fbank frames, padded.
            feature_lengths: (B,) valid frames.
            targets: (B, U) int64 token ids, padded with anything (blank is used).
            target_lengths: (B,) tokens per utterance.

        Returns:
            The loss and its parts.
        """
        frames, frame_lengths = self.transcribe(features, feature_lengths)  # (B, T', De)
        frame_lengths = frame_lengths.clamp_min(1)
        if frames.shape[1] == 0:
            frames = frames.new_zeros(frames.shape[0], 1, frames.shape[2])
        positions = torch.arange(targets.shape[1], device=targets.device)
        in_target = positions[None, :] < target_lengths[:, None]
        targets = torch.where(in_target, targets, self.blank_id)  # (B, U), padding -> blank
        start = targets.new_full((targets.shape[0], 1), self.blank_id)
        predictor_out, _ = self.predict(
            torch.cat([start, targets], dim=1), self.init_predictor_state(targets.shape[0])
        )  # (B, U + 1, Dp)
        simple = None
        if self.config.pruned_loss is None:
            logits = self.join(frames, predictor_out)  # (B, T', U + 1, V)
            rnnt = rnnt_loss(
                logits,
                targets.int(),
                frame_lengths.int(),
                target_lengths.int(),
                blank=self.blank_id,
                reduction="none",
            ).float()  # (B,)
            per_utterance = rnnt
        else:
            rnnt, simple = self._pruned_rnnt_loss(
                frames, frame_lengths, predictor_out, targets, target_lengths
            )
            per_utterance = rnnt + self.config.pruned_loss.simple_loss_scale * simple
        ctc = torch.zeros_like(rnnt)
        if self.ctc_head is not None:
            ctc = ctc_loss(
                self.ctc_head(frames), frame_lengths, targets, target_lengths, blank=self.blank_id
            )
            per_utterance = per_utterance + self.config.ctc_weight * ctc
        return TransducerLoss(
            loss=per_utterance.mean(),
            rnnt_sum=rnnt.detach().sum(),
            ctc_sum=ctc.detach().sum(),
            num_utterances=targets.shape[0],
            num_tokens=int(target_lengths.sum()),
            simple_sum=None if simple is None else simple.detach().sum(),
        )

    def _pruned_rnnt_loss(
        self,
        frames: Tensor,
        frame_lengths: Tensor,
        predictor_out: Tensor,
        targets: Tensor,
        target_lengths: Tensor,
    ) -> tuple[Tensor, Tensor]:
        """Pruned and simple RNN-T costs, (B,) each: the joiner runs on (B, T', S, V) only.

        Args:
            frames: (B, T', De); frame_lengths: (B,); predictor_out: (B, U + 1, Dp);
            targets: (B, U), padded with blank; target_lengths: (B,).
        """
        config = self.config.pruned_loss
        if config is None or self.simple_encoder_proj is None or self.simple_predictor_proj is None:
            raise RuntimeError("the pruned loss needs `pruned_loss` set when the model is built.")
        simple = simple_rnnt_loss(
            self.simple_encoder_proj(frames),  # (B, T', V)
            self.simple_predictor_proj(predictor_out),  # (B, U + 1, V)
            targets,
            frame_lengths,
            target_lengths,
            blank=self.blank_id,
        )
        # A path climbs at most S - 1 tokens per frame inside a band: widen it for a batch
        # holding an utterance with more tokens per frame (ceil(U_b / T'_b) + 1).
        needed = int(((target_lengths + frame_lengths - 1) // frame_lengths).max()) + 1
        ranges = prune_ranges(
            simple.occupancy,
            frame_lengths,
            target_lengths,
            prune_range=max(config.prune_range, needed),
        )  # (B, T', S)
        logits = self.joiner.join_at(frames, predictor_out, ranges)  # (B, T', S, V)
        pruned = pruned_rnnt_loss(
            logits, targets, ranges, frame_lengths, target_lengths, blank=self.blank_id
        )
        return pruned.float(), simple.costs.float()
