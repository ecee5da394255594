"""simul's attention encoder-decoder in the loop: incremental or re-encoding encoder, attention decoder.

The AED (:mod:`simul.families.aed.model`) is trained offline, but its encoder is simul's shared streaming
encoder, so received audio becomes the frames the decoder attends to through the shared
:class:`~simul.streaming.frontend.EncoderFrontEnd` in one of two modes
(``--set model.encoder_mode=...``):

- ``incremental`` (default for a chunk-limited encoder): ``Encoder.stream`` with its per-layer
  caches, ``flush`` on the last segment.  A chunk's frames appear once the whole chunk has arrived
  (``chunk_size_frames`` x 40 ms); the prefix is never re-encoded, and the decoder's projected
  memory grows by the new frames only (:meth:`~simul.families.aed.model.AttentionEncoderDecoder.extend_memory`).
- ``reencode`` (the only way for a full-context encoder, ``chunk_size_frames: null``): after every
  segment, ``Encoder.forward`` on *all* the fbank frames received so far (FBK's agents'
  ``update_model_encoder``), and the memory is projected again whenever the frames changed.
  Segment k costs an encoding of k segments, so an utterance costs O(n^2) encoder work
  (``benchmarks/bench_aed_reencode.py`` measures it against ``incremental``).  With a
  chunk-limited encoder only complete chunks are kept, so the frames, and the output, equal
  ``incremental``'s: only the cost differs.

Everything after the encoder (forced-prefix search, proposals, signals) is
:class:`~simul.streaming.attention_decoder.AttentionDecoderStreamingModel`'s.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field
from typing import Any, final

from torch import Tensor
from typing_extensions import override

from simul.config import coerce_enum_fields
from simul.data.features.cmvn import Cmvn
from simul.data.features.fbank import FbankConfig
from simul.data.tokenizer import Tokenizer
from simul.families.aed.model import AttentionEncoderDecoder
from simul.families.aed.search import AedStepDecoder
from simul.models.aed_decoder import DecoderMemory
from simul.streaming.attention_decoder import (
    AttentionDecoderStreamingModel,
    DecodingConfig,
    SpeechDecoderBackend,
)
from simul.streaming.frontend import EncoderFrontEnd, FrontEndState
from simul.streaming.tokens import check_tokenizer

__all__ = [
    "AedBackend",
    "AedEncoderState",
    "AedOptions",
    "EncoderMode",
    "aed_streaming_model",
]


class EncoderMode(enum.Enum):
    """How received audio becomes encoder frames (see the module doc)."""

    AUTO = "auto"
    """``incremental`` for a chunk-limited encoder, ``reencode`` for a full-context one."""
    INCREMENTAL = "incremental"
    """Chunk by chunk with caches; never re-encodes."""
    REENCODE = "reencode"
    """The whole received audio again after every segment."""


@dataclass(frozen=True, kw_only=True)
class AedOptions:
    """The AED adapter's settings (``simul eval --set model.FIELD=VALUE``)."""

    encoder_mode: EncoderMode = EncoderMode.AUTO
    """``auto``, ``incremental`` or ``reencode``."""
    decoding: DecodingConfig = field(default_factory=DecodingConfig)
    """How the decoder proposes (``model.decoding.mode=step``, ``model.decoding.beam_size=5``)."""

    def __post_init__(self) -> None:
        coerce_enum_fields(self)
        if not isinstance(self.encoder_mode, EncoderMode):
            raise ValueError(
                f"`encoder_mode` must be an EncoderMode, but is {self.encoder_mode!r} instead."
            )


@final
@dataclass(frozen=True, eq=False)
class AedEncoderState:
    """The source side of one utterance.

    Attributes:
        front: the front end's state (fbank, encoder caches or features, every frame so far).
        memory: the decoder's view of those frames, or ``None`` before the first.
    """

    front: FrontEndState
    memory: DecoderMemory | None = None


@final
class AedBackend(SpeechDecoderBackend[AedEncoderState]):
    """The AED's front end (incremental or re-encoding) and decoder for the loop.

    Args:
        model: the model, in eval mode, on its device.
        fbank: the features it was trained on.
        cmvn: their global normalisation, or ``None``.
        encoder_mode: ``incremental`` or ``reencode`` (``auto`` is resolved here).
    """

    def __init__(
        self,
        model: AttentionEncoderDecoder,
        fbank: FbankConfig,
        cmvn: Cmvn | None = None,
        encoder_mode: EncoderMode = EncoderMode.AUTO,
    ) -> None:
        chunked = model.config.encoder.chunk_size_frames is not None
        if encoder_mode is EncoderMode.AUTO:
            encoder_mode = EncoderMode.INCREMENTAL if chunked else EncoderMode.REENCODE
        if encoder_mode is EncoderMode.INCREMENTAL and not chunked:
            raise ValueError(
                "`encoder_mode` must be reencode (or auto) for a full-context encoder "
                "(`chunk_size_frames: null`): it emits no frame before the end of the audio, "
                "but is incremental instead."
            )
        self.model = model
        self.fbank_config = fbank
        self.encoder_mode = encoder_mode
        self.sample_rate = fbank.sample_rate
        self.num_decoder_layers = model.num_decoder_layers
        self.cache_is_value = True
        self.front = EncoderFrontEnd(
            model.encoder, fbank, cmvn, reencode=encoder_mode is EncoderMode.REENCODE
        )

    @override
    def initial_source_state(self) -> AedEncoderState:
        return AedEncoderState(front=self.front.initial_state())

    @override
    def read(
        self, state: AedEncoderState, samples: Tensor, *, source_finished: bool
    ) -> AedEncoderState:
        front = self.front.read(state.front, samples, source_finished=source_finished)
        before, after = self.num_frames(state), int(front.frames.shape[0])
        memory = state.memory
        if after != before:
            if memory is None or self.encoder_mode is EncoderMode.REENCODE:
                memory = self.model.memory(front.frames[None])  # re-encoded: every frame is new
            else:
                memory = self.model.extend_memory(memory, front.frames[None, before:])
        return AedEncoderState(front=front, memory=memory)

    @override
    def num_frames(self, state: AedEncoderState) -> int:
        return 0 if state.memory is None else state.memory.num_frames

    @override
    def drop_frames(self, state: AedEncoderState, count: int) -> AedEncoderState:
        """Forget the ``count`` oldest frames: the decoder's memory, the frames kept, and the
        encoder layers' cached keys and values of those frames (an encoder with unlimited left
        context would otherwise keep attending to them, and keep them)."""
        if self.encoder_mode is EncoderMode.REENCODE:
            raise ValueError(
                "`decoding.history` must be `text: all` with `encoder_mode: reencode` (re-encoding "
                "a cut prefix changes every frame); use a chunked encoder (incremental)."
            )
        if state.memory is None or not 0 < count < state.memory.num_frames:
            raise ValueError(
                f"`count` must be in (0, {0 if state.memory is None else state.memory.num_frames}) "
                f"frames, but is {count} instead."
            )
        memory = state.memory
        memory = DecoderMemory(
            keys=tuple(k[:, :, count:] for k in memory.keys),
            values=tuple(v[:, :, count:] for v in memory.values),
            mask=None if memory.mask is None else memory.mask[:, count:],
        )
        front = state.front
        encoder = front.encoder
        if encoder is not None:
            remaining = int(front.frames.shape[0]) - count  # frames kept, the newest
            layers = tuple(
                dataclasses.replace(
                    cache, key=cache.key[:, :, -remaining:], value=cache.value[:, :, -remaining:]
                )
                if cache.key.shape[2] > remaining else cache
                for cache in encoder.layers
            )  # fmt: skip
            encoder = dataclasses.replace(encoder, layers=layers)
        front = dataclasses.replace(front, frames=front.frames[count:], encoder=encoder)
        return AedEncoderState(front=front, memory=memory)

    @override
    def step_decoder(self, state: AedEncoderState) -> AedStepDecoder:
        if state.memory is None:
            raise ValueError(
                "the decoder needs at least one encoder frame, but none was encoded yet."
            )
        return AedStepDecoder(self.model, state.memory, with_attention=True)

    @override
    def describe(self) -> dict[str, Any]:
        return {
            "config": dataclasses.asdict(self.model.config),
            "encoder_mode": self.encoder_mode.value,
            "fbank": self.fbank_config.to_dict(),
        }


def aed_streaming_model(
    model: AttentionEncoderDecoder,
    tokenizer: Tokenizer,
    *,
    fbank: FbankConfig,
    cmvn: Cmvn | None,
    options: AedOptions | None = None,
    stream: str = "st",
) -> AttentionDecoderStreamingModel:
    """The AED as a streaming model.

    Args:
        model: the model (eval mode, on its device).
        tokenizer: its :class:`~simul.data.tokenizer.Tokenizer` (pieces, EOS).
        fbank: the :class:`~simul.data.features.fbank.FbankConfig` it was trained on.
        cmvn: the :class:`~simul.data.features.cmvn.Cmvn` of its features, or ``None``.
        options: encoder mode and decoding settings.
        stream: its output stream (``st``; ``asr`` for a speech recognition AED).
    """
    options = AedOptions() if options is None else options
    config = model.config
    check_tokenizer(tokenizer, eos_id=config.eos_id, vocab_size=config.vocab_size)
    return AttentionDecoderStreamingModel(
        AedBackend(model, fbank, cmvn, options.encoder_mode),
        tokenizer.id_to_piece,
        eos_id=config.eos_id,
        decoding=options.decoding,
        stream=stream,
        name="aed",
    )
