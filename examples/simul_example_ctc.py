"""A model family from outside simul: CTC speech recognition on simul's shared encoder, in one file.

What a researcher writes to add a family without touching simul (README, "Write your own model
family"): a model config, a model, a streaming model, and a :class:`~simul.families.base.Family`
subclass that states only what differs (presets, loss terms, validation decoding, the streaming
model); :class:`~simul.families.base.Family` does the rest (presets and overrides, the
tokenizer's sizes, the checkpoint round trip, the streaming options).  The package declares it::

    [project.entry-points."simul.families"]
    ctc = "simul_example_ctc:CtcFamily"

and ``simul train`` (``model.family: ctc``), ``simul eval --checkpoint`` and ``simul sweep`` run
it.  ``tests/test_families.py`` installs this file as such a package and takes it through
training, a checkpoint, loading and the loop.

The streaming model emits the greedy CTC labels as soon as the encoder's chunks arrive (a label
that is not blank and not the previous frame's label is a new token), each with the encoder frame
that emitted it, like a transducer: the ``transducer`` policy (write as emitted) and ``waitk``
both run it.  Alex Graves et al. 2006, "Connectionist Temporal Classification", ICML.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, final

import torch
from torch import Tensor, nn
from typing_extensions import override

from simul.config import plain_values
from simul.data.features.cmvn import Cmvn
from simul.data.features.fbank import FbankConfig
from simul.data.features.pipeline import FeatureBatch
from simul.data.tokenizer import Tokenizer
from simul.families.base import Decoded, Family, ModelAssets
from simul.models import encoder
from simul.models.ctc import CtcHead, ctc_loss
from simul.models.encoder import Encoder, EncoderConfig
from simul.streaming import EmissionFrames, Requirements, Signals, StreamingModel, Token
from simul.streaming.frontend import EncoderFrontEnd, FrontEndState

__all__ = ["CtcConfig", "CtcFamily", "CtcModel", "CtcStreamingModel"]


@dataclass(kw_only=True)
class CtcConfig:
    """A CTC model: the shared encoder and one linear head."""

    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    """The streaming encoder (chunk-limited, so tokens come out while the audio arrives)."""
    vocab_size: int = 128
    """V, blank included (set from the tokenizer)."""
    blank_id: int = 1
    """The blank label (the tokenizer's pad id)."""
    dropout_p: float = 0.1
    """Dropout before the head."""


def tiny() -> CtcConfig:
    """The test preset."""
    return CtcConfig(encoder=encoder.tiny(), dropout_p=0.0)


@dataclass(frozen=True, eq=False)
class CtcLoss:
    """A batch's loss (mean over utterances) and its parts."""

    loss: Tensor
    num_utterances: int
    num_tokens: int
    ctc_sum: Tensor


def _collapse(labels: Sequence[int], previous: int, blank: int) -> list[tuple[int, int]]:
    """(token, frame index) of each new label: not blank, not the one before it."""
    emitted = []
    for frame, label in enumerate(labels):
        if label != blank and label != previous:
            emitted.append((label, frame))
        previous = label
    return emitted


@final
class CtcModel(nn.Module):
    """Encoder frames -> per-frame label log-probabilities, trained with CTC."""

    def __init__(self, config: CtcConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = Encoder(config.encoder)
        self.head = CtcHead(
            encoder_dim=config.encoder.d_model, vocab_size=config.vocab_size,
            dropout_p=config.dropout_p,
        )  # fmt: skip

    def forward(
        self, features: Tensor, feature_lengths: Tensor, targets: Tensor, target_lengths: Tensor
    ) -> CtcLoss:
        frames, frame_lengths = self.encoder(features, feature_lengths)  # (B, T, D)
        costs = ctc_loss(
            self.head(frames), frame_lengths, targets, target_lengths, blank=self.config.blank_id
        )  # (B,)
        return CtcLoss(
            loss=costs.mean(), num_utterances=int(features.shape[0]),
            num_tokens=int(target_lengths.sum()), ctc_sum=costs.detach().sum(),
        )  # fmt: skip


@final
@dataclass(frozen=True)
class CtcOptions:
    """The streaming model's settings (none yet: ``--set model.*`` is refused)."""


@final
@dataclass(frozen=True, eq=False)
class CtcStreamState:
    """One utterance: the front end, the last frame's label, emitted tokens not yet written."""

    front: FrontEndState
    last_label: int
    pending: tuple[tuple[int, int], ...] = ()


@final
class CtcStreamingModel(StreamingModel[CtcStreamState]):
    """Greedy CTC emissions as the loop's candidates (module doc)."""

    def __init__(
        self, model: CtcModel, tokenizer: Tokenizer, *, fbank: FbankConfig, cmvn: Cmvn | None
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.sample_rate = fbank.sample_rate
        self.output_streams = ("asr",)
        self._front = EncoderFrontEnd(model.encoder, fbank, cmvn)

    @property
    @override
    def capabilities(self) -> frozenset[type[EmissionFrames]]:
        return frozenset({EmissionFrames})

    @override
    def new_state(self) -> CtcStreamState:
        return CtcStreamState(
            front=self._front.initial_state(), last_label=self.model.config.blank_id
        )

    @override
    def read(
        self, state: CtcStreamState, samples: Tensor, *, source_finished: bool
    ) -> CtcStreamState:
        before = int(state.front.frames.shape[0])
        front = self._front.read(state.front, samples, source_finished=source_finished)
        new = front.frames[before:]  # (n, D)
        if new.shape[0] == 0:
            return dataclasses.replace(state, front=front)
        with torch.inference_mode():
            labels = self.model.head(new[None])[0].argmax(dim=-1).tolist()  # (n,)
        emitted = _collapse(labels, state.last_label, self.model.config.blank_id)
        pending = state.pending + tuple((token, before + frame) for token, frame in emitted)
        return CtcStreamState(front=front, last_label=labels[-1], pending=pending)

    @override
    def signals(self, state: CtcStreamState, requirements: Requirements) -> Signals:
        tokens = tuple(
            Token(id=token, piece=self.tokenizer.id_to_piece(token)) for token, _ in state.pending
        )
        return Signals(
            candidates=tokens,
            num_frames=int(state.front.frames.shape[0]),
            emission_frames=tuple(frame for _, frame in state.pending),
        )

    @override
    def write(self, state: CtcStreamState, tokens: Sequence[Token]) -> CtcStreamState:
        if not tokens or [t.id for t in tokens] != [t for t, _ in state.pending[: len(tokens)]]:
            raise ValueError(f"`tokens` must be a prefix of the emitted tokens, but are {tokens}.")
        return dataclasses.replace(state, pending=state.pending[len(tokens) :])

    @override
    def describe(self) -> dict[str, Any]:
        return {"model": "ctc", "config": plain_values(self.model.config)}


@final
class CtcFamily(Family[CtcConfig, CtcModel, CtcOptions]):
    """CTC on the shared encoder: what differs from the base class, and nothing else."""

    name = "ctc"
    config_type = CtcConfig
    model_type = CtcModel
    options_type = CtcOptions
    vocabulary_fields = ("vocab_size", "blank_id")
    default_target = "asr"
    ends_with_eos = False
    native_policy = "transducer"

    @override
    def presets(self) -> Mapping[str, Callable[[], CtcConfig]]:
        return {"tiny": tiny}

    @override
    def loss_sums(self, out: CtcLoss) -> Mapping[str, Tensor]:
        return {"ctc": out.ctc_sum}

    @override
    def decode(self, model: nn.Module, batch: FeatureBatch, *, beam_size: int = 1) -> list[Decoded]:
        model = self.check_model(model)
        with torch.no_grad():
            frames, lengths = model.encoder(batch.features, batch.feature_lengths)
            labels = model.head(frames).argmax(dim=-1)  # (B, T)
        blank = model.config.blank_id
        return [
            Decoded(token_ids=tuple(t for t, _ in _collapse(row[:n].tolist(), blank, blank)))
            for row, n in zip(labels, lengths.tolist(), strict=True)
        ]

    @override
    def streaming_model(
        self, model: CtcModel, assets: ModelAssets, options: CtcOptions, streams: tuple[str, ...]
    ) -> CtcStreamingModel:
        return CtcStreamingModel(model, assets.tokenizer, fbank=assets.fbank, cmvn=assets.cmvn)
