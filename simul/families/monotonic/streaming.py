"""The monotonic-attention translator (MMA, EMMA) behind the streaming-model protocol.

After every source segment the audio goes through the streaming fbank and the shared encoder
(:class:`~simul.streaming.frontend.EncoderFrontEnd`, incremental: the prefix is never re-encoded).
The decoder's memory holds the encoder frames of *complete* pre-decision blocks only while the
source runs (a block's pooled key must not change once a head may have stopped on it); the last,
partial block joins when the source ends, as in offline decoding.

At a decision point (:meth:`MonotonicStreamingModel.signals`) the decoder runs over the written
prefix and one more position in one pass, every head reading hard-monotonically with the policy's
threshold (``requirements.p_choose.threshold``): for each position it walks from where it stopped
for the previous one to the first pre-decision step whose p_choose reaches the threshold, or sits
on the newest step when none does.  The candidate is the greedy next token of that last position,
with

- ``P_CHOOSE``: its p_choose over the received frames for every head of the layers from
  ``requirements.p_choose.start_layer`` (layer-major), each pre-decision step's value on the
  block's last frame, 0 elsewhere and before where the head stopped for the previous token;
- ``CROSS_ATTENTION``: the requested layer's attention weights (hard: one-hot on the frame where
  the head stopped; infinite lookback: softmax up to there), so attention policies run too.

Why the whole prefix every time rather than a decoder cache: where a head stopped depends on the
threshold, which only ``signals`` receives.  A token written once every head had stopped within
the received audio (the MMA rule) keeps exactly its stops when the prefix is run again on more
audio (the first step over the threshold was already there), so under the ``monotonic`` policy
(``source_step: any``, ``min``) streaming equals the offline hard-monotonic greedy search on the
whole audio (tested).  A token written while a head had not stopped (``mean``/``median``
aggregation) is re-read on the audio received since, as SeamlessStreaming's agent re-runs its
decoder on the whole prefix at every call.  The cost is one decoder pass over the prefix per
decision (the encoder runs once per frame).

Length: the end of sentence is forced after ``ceil(max_len_a * T) + max_len_b`` tokens on T
encoder frames (the offline search's limit); while the source runs a forced end only means READ.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, final

import torch
from torch import Tensor
from typing_extensions import override

from simul.config import plain_values
from simul.data.features.cmvn import Cmvn
from simul.data.features.fbank import FbankConfig
from simul.data.tokenizer import Tokenizer
from simul.families.monotonic.attention import block_end_frames
from simul.families.monotonic.model import MonotonicTranslator
from simul.models.aed_decoder import DecoderMemory
from simul.models.beam_search import max_target_length
from simul.streaming.frontend import EncoderFrontEnd, FrontEndState
from simul.streaming.model import StreamingModel
from simul.streaming.signals import Capability, CrossAttention, Requirements, SignalRequest, Signals
from simul.streaming.tokens import Token, TokenTable, check_tokenizer

__all__ = [
    "MonotonicOptions",
    "MonotonicStreamState",
    "MonotonicStreamingModel",
]


@dataclass(frozen=True, kw_only=True)
class MonotonicOptions:
    """The monotonic adapter's settings (``simul eval --set model.FIELD=VALUE``)."""

    max_len_a: float = 0.5
    """Length limit: at most ceil(max_len_a * T) + max_len_b tokens on T encoder frames."""
    max_len_b: int = 10
    """See ``max_len_a`` (the defaults are the validation search's)."""

    def __post_init__(self) -> None:
        if self.max_len_a < 0 or self.max_len_b < 1:
            raise ValueError(
                f"`max_len_a` must be >= 0 and `max_len_b` >= 1, but are {self.max_len_a} and "
                f"{self.max_len_b} instead."
            )


@final
@dataclass(frozen=True, eq=False)
class MonotonicStreamState:
    """One utterance in the loop (a value: nothing is modified in place).

    Attributes:
        front: fbank and encoder state, with every encoder frame so far.
        memory: the decoder's memory of the usable frames (complete blocks), or ``None``.
        written: token ids written so far.
        ended: whether the end of sentence was written.
    """

    front: FrontEndState
    memory: DecoderMemory | None = None
    written: tuple[int, ...] = ()
    ended: bool = False


@final
class MonotonicStreamingModel(StreamingModel[MonotonicStreamState]):
    """A :class:`~simul.families.monotonic.model.MonotonicTranslator` as a streaming model (module doc).

    Args:
        model: the model, in eval mode, on its device; its encoder must be chunk-limited.
        tokenizer: its vocabulary (pieces, EOS).
        fbank: the features it was trained on.
        cmvn: their global normalisation, or ``None``.
        options: the length limit.
        stream: the output stream.

    Example:
        >>> streaming = MonotonicStreamingModel(model, tokenizer, fbank=FbankConfig(), cmvn=None)
        >>> result = simulate(streaming, MonotonicThreshold(), instance)
    """

    def __init__(
        self,
        model: MonotonicTranslator,
        tokenizer: Tokenizer,
        *,
        fbank: FbankConfig,
        cmvn: Cmvn | None,
        options: MonotonicOptions | None = None,
        stream: str = "st",
    ) -> None:
        aed_config = model.config.aed
        if aed_config.encoder.chunk_size_frames is None:
            raise ValueError(
                "the monotonic streaming model needs a chunk-limited encoder (`chunk_size_frames` "
                "set), but this one has full context: it emits no frame before the end of the audio."
            )
        check_tokenizer(tokenizer, eos_id=aed_config.eos_id, vocab_size=aed_config.vocab_size)
        self.model = model
        self.tokenizer = tokenizer
        self.fbank_config = fbank
        self.options = MonotonicOptions() if options is None else options
        self.stream = stream
        self.sample_rate = fbank.sample_rate
        self.output_streams = (stream,)
        self._front = EncoderFrontEnd(model.aed.encoder, fbank, cmvn)
        self._device = next(model.parameters()).device
        self._ratio = model.config.attention.pre_decision_ratio
        self._token = TokenTable(tokenizer.id_to_piece, eos_id=aed_config.eos_id)

    # -- the protocol ------------------------------------------------------------------------

    @property
    @override
    def capabilities(self) -> frozenset[type[SignalRequest]]:
        return frozenset({Capability.P_CHOOSE, Capability.CROSS_ATTENTION})

    @override
    def new_state(self) -> MonotonicStreamState:
        return MonotonicStreamState(front=self._front.initial_state())

    @override
    def read(
        self, state: MonotonicStreamState, samples: Tensor, *, source_finished: bool
    ) -> MonotonicStreamState:
        front = self._front.read(state.front, samples, source_finished=source_finished)
        total = front.frames.shape[0]
        usable = total if source_finished else total // self._ratio * self._ratio
        memory = state.memory
        have = 0 if memory is None else memory.num_frames
        if usable > have:
            with torch.inference_mode():
                new = front.frames[None, have:usable]  # (1, n, D)
                aed = self.model.aed
                memory = aed.memory(new) if memory is None else aed.extend_memory(memory, new)
        return dataclasses.replace(state, front=front, memory=memory)

    @override
    def check_requirements(self, requirements: Requirements) -> None:
        layers = self.model.num_decoder_layers
        attention = requirements.get(CrossAttention)
        if attention is not None:
            attention.check_layer(layers)
        if requirements.p_choose.start_layer >= layers:
            raise ValueError(
                f"`policy.start_layer` must be below this model's {layers} decoder layers, but "
                f"is {requirements.p_choose.start_layer} instead."
            )

    @override
    def signals(self, state: MonotonicStreamState, requirements: Requirements) -> Signals:
        memory = state.memory
        num_frames = 0 if memory is None else memory.num_frames
        if state.ended or memory is None:
            heads = self.model.num_heads * (
                self.model.num_decoder_layers - requirements.p_choose.start_layer
            )
            return Signals(
                candidates=(),
                num_frames=num_frames,
                cross_attention=torch.zeros(0, self.model.num_heads, num_frames),
                p_choose=torch.zeros(0, heads, num_frames),
            )
        model = self.model
        tokens = torch.tensor([[model.config.aed.bos_id, *state.written]], device=self._device)
        cache = model.empty_cache(1, threshold=requirements.p_choose.threshold)
        with torch.inference_mode():
            step = model.aed.decode_step(tokens, memory, cache)  # positions 0 .. len(written)
        limit = max_target_length(
            num_frames, max_len_a=self.options.max_len_a, max_len_b=self.options.max_len_b
        )
        eos = model.config.aed.eos_id
        token = eos if limit - len(state.written) <= 1 else int(step.logits[0, -1].argmax())
        layer = 0 if requirements.attention_layer is None else requirements.attention_layer
        return Signals(
            candidates=(self._token(token),),
            num_frames=num_frames,
            cross_attention=step.cross_attention[layer][:, :, -1].float().cpu(),  # (1, H, T)
            p_choose=self._p_choose_frames(
                step.cache, num_frames, requirements.p_choose.start_layer
            ),
        )

    def _p_choose_frames(self, cache: Any, num_frames: int, start_layer: int) -> Tensor:
        """(1, L' H, T): the last position's p_choose on block-end frames (module doc)."""
        rows = []
        lengths = torch.tensor([num_frames], device=self._device)
        for reading in MonotonicTranslator.readings(cache)[start_layer:]:
            p_choose = reading.p_choose[0, :, -1]  # (H, T')
            steps = torch.arange(p_choose.shape[1], device=p_choose.device)
            p_choose = torch.where(
                steps[None, :] >= reading.walk_starts[0, :, -1, None], p_choose, 0.0
            )
            ends = block_end_frames(p_choose.shape[1], lengths, self._ratio)[0]  # (T',)
            rows.append(
                p_choose.new_zeros(p_choose.shape[0], num_frames).index_copy(1, ends, p_choose)
            )
        return torch.cat(rows)[None].float().cpu()

    @override
    def write(self, state: MonotonicStreamState, tokens: Sequence[Token]) -> MonotonicStreamState:
        if not tokens or state.ended:
            raise ValueError(
                "`tokens` must be non-empty and the utterance must not have ended, but "
                f"{'it has ended' if state.ended else 'no token is given'}."
            )
        ended = tokens[-1].ends_sentence
        if any(t.ends_sentence for t in tokens[:-1]):
            raise ValueError("`tokens` must not continue after an end of sentence.")
        written = state.written + tuple(t.id for t in tokens if not t.ends_sentence)
        return dataclasses.replace(state, written=written, ended=ended)

    @override
    def describe(self) -> dict[str, Any]:
        return {
            "model": "monotonic",
            "config": plain_values(self.model.config),
            "options": plain_values(self.options),
            "fbank": self.fbank_config.to_dict(),
        }
