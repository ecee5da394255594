"""Any speech encoder-decoder with cross-attention behind the streaming-model protocol.

This is how an *offline* attention model (simul's AED, a fairseq2 S2T Transformer) runs under
wait-k, EDAtt, AlignAtt and LocalAgreement.  After every source segment:

1. the backend (:class:`SpeechDecoderBackend`) turns the segment into encoder frames: streaming
   fbank (with the model's CMVN), then its encoder, incrementally with caches, or by re-encoding
   all the audio received (a full-context encoder has no other way; FBK's agents always do it);
2. if the encoder produced new frames, the decoder runs again on the grown memory, continuing the
   written prefix (forced, as fairseq's ``prefix_tokens``), and its proposal is kept in the state:
   - ``decoding.mode = hypothesis`` (default, FBK's agents): greedy or beam search of the whole
     continuation to its end of sentence (:func:`simul.models.beam_search.beam_search`); the
     candidates are that continuation with each token's cross-attention (requests
     ``cross_attention`` and ``hypothesis``: every policy fits);
   - ``decoding.mode = step``: one teacher-forced pass over the prefix, then the greedy next token
     only; each written token advances the decoder cache by one step (``cross_attention``; for
     wait-k, EDAtt and AlignAtt, which then stop decoding as soon as they read, which is cheaper in
     computation-aware latency).  Needs a backend whose decoder cache is a value.
   Either way each token keeps its log-probability and its step's entropy, served as
   ``candidate_scores`` with ``decoding.candidate_scores: true`` (confidence policies);
3. :meth:`signals` shows the kept proposal (no computation); :meth:`write` takes a prefix of it.
   When a hypothesis has been written to its end without an end of sentence, the search runs again
   from the new prefix.

Decoding stops at ``ceil(max_len_a * T) + max_len_b`` tokens for T encoder frames received (the
end of sentence is then forced), so a model shown little audio cannot write without bound.
Cross-attention rows are those of the step that predicted each token (fairseq's
``hypo['attention']``), over the T frames received.

States are values: a state keeps the backend's source state, the written ids, the proposal and
(step mode) the decoder cache; nothing is modified in place, so the loop may branch (whole words).

History selection (``decoding.history``, :mod:`simul.streaming.history`: StreamAtt's rules, for
whole talks): after each write, only the last words (or those since the last strong punctuation)
stay the forced prefix, and the encoder frames before the earliest frame that kept text attends
to most are dropped (:meth:`SpeechDecoderBackend.drop_frames`); the decoder then proposes again
on what is kept.  The loop keeps every written token as output either way.
"""

from __future__ import annotations

import dataclasses
import enum
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, final

import torch
from torch import Tensor
from typing_extensions import override

from simul.config import check_positive_int, coerce_enum_fields, plain_values
from simul.models.beam_search import (
    StepDecoder,
    StepScores,
    beam_search,
    max_target_length,
    token_scores,
)
from simul.streaming.history import HistoryConfig, TextHistory, kept_audio_start, kept_text_start
from simul.streaming.model import StreamingModel
from simul.streaming.signals import (
    CandidateScores,
    CandidateScoresValue,
    CrossAttention,
    Hypothesis,
    Requirements,
    SignalRequest,
    Signals,
)
from simul.streaming.tokens import Token, TokenTable

__all__ = [
    "AttentionDecoderState",
    "AttentionDecoderStreamingModel",
    "DecodingConfig",
    "DecodingMode",
    "Proposal",
    "SpeechDecoderBackend",
]

SourceStateT = TypeVar("SourceStateT")


class DecodingMode(enum.Enum):
    """What the decoder proposes after each segment (see the module doc)."""

    HYPOTHESIS = "hypothesis"
    """The whole continuation of the written prefix, to its end of sentence."""
    STEP = "step"
    """The greedy next token only, one decoder step per written token."""


@dataclass(frozen=True, kw_only=True)
class DecodingConfig:
    """How the decoder runs in the loop (``simul eval --set model.FIELD=VALUE``)."""

    mode: DecodingMode = DecodingMode.HYPOTHESIS
    """``hypothesis`` (whole continuation; every policy) or ``step`` (next token; not LocalAgreement)."""
    beam_size: int = 1
    """Beam width of the hypothesis search (1: greedy; FBK's agents use 5); step mode needs 1."""
    length_penalty: float = 1.0
    """Exponent of the beam search's length normalisation."""
    max_len_a: float = 0.5
    """Length limit: at most ceil(max_len_a * T) + max_len_b tokens on T encoder frames."""
    max_len_b: int = 10
    """See ``max_len_a``."""
    candidate_scores: bool = False
    """Also serve each candidate's log-probability and entropy (the ``candidate_scores`` signal of
    confidence policies); the search computes them anyway, so this only declares them."""
    history: HistoryConfig = field(default_factory=HistoryConfig)
    """Which text stays the prefix and which audio the memory (StreamAtt; default: all of both)."""

    def __post_init__(self) -> None:
        coerce_enum_fields(self)
        if not isinstance(self.mode, DecodingMode):
            raise ValueError(f"`mode` must be a DecodingMode, but is {self.mode!r} instead.")
        check_positive_int("beam_size", self.beam_size)
        if self.mode is DecodingMode.STEP and self.beam_size != 1:
            raise ValueError(
                f"`beam_size` must be 1 with `mode: step` (it proposes the greedy next token), "
                f"but is {self.beam_size} instead; use `mode: hypothesis` for beam search."
            )
        if self.max_len_a < 0 or self.max_len_b < 1:
            raise ValueError(
                f"`max_len_a` must be >= 0 and `max_len_b` >= 1, but are {self.max_len_a} and "
                f"{self.max_len_b} instead."
            )


class SpeechDecoderBackend(ABC, Generic[SourceStateT]):
    """What a model family gives :class:`AttentionDecoderStreamingModel`: its front end and decoder.

    The source state is the backend's own value (fbank leftover, encoder caches or the fbank frames
    to re-encode, the frames encoded so far); the decoder is a
    :class:`~simul.models.beam_search.StepDecoder` bound to the frames encoded so far.
    """

    sample_rate: int
    """The rate of the samples :meth:`read` takes, in Hz (set in ``__init__``)."""
    num_decoder_layers: int
    """Decoder layers whose cross-attention a policy may ask for (set in ``__init__``)."""
    cache_is_value: bool
    """Whether the step decoder's cache is never modified in place (step mode needs it)."""

    @abstractmethod
    def initial_source_state(self) -> SourceStateT:
        """The source state of a new utterance."""

    @abstractmethod
    def read(self, state: SourceStateT, samples: Tensor, *, source_finished: bool) -> SourceStateT:
        """The source state after (N,) more samples (fbank, then the encoder)."""

    @abstractmethod
    def num_frames(self, state: SourceStateT) -> int:
        """T, encoder frames the decoder can attend to in ``state``."""

    def memory_changed(self, before: SourceStateT, after: SourceStateT) -> bool:
        """Whether the frames the decoder attends to changed (the proposal is then recomputed).

        The default, a change in their number, fits encoders whose frames never change once
        emitted; a full-context encoder whose last frames change with new audio overrides it.
        """
        return self.num_frames(before) != self.num_frames(after)

    @abstractmethod
    def step_decoder(self, state: SourceStateT) -> StepDecoder:
        """A decoder of one hypothesis bound to the frames of ``state`` (T > 0), with attention."""

    def drop_frames(self, state: SourceStateT, count: int) -> SourceStateT:
        """``state`` without its ``count`` oldest encoder frames (history selection).

        Raises:
            ValueError: the backend cannot forget audio (the default).
        """
        raise ValueError(
            f"`decoding.history` must be `text: all` for {type(self).__name__}, which cannot drop "
            "encoder frames."
        )

    def describe(self) -> dict[str, Any]:
        """The model, feature and encoder settings, for provenance."""
        return {"backend": type(self).__name__}


@final
@dataclass(frozen=True, eq=False)
class Proposal:
    """What the decoder proposes next, kept in the state until written or replaced.

    Attributes:
        tokens: the token ids, in order (step mode: one).
        attention: (C, L, H, T) each token's cross-attention, every layer.
        scores: (C, 2) each token's log-probability and its step's entropy
            (:func:`~simul.models.beam_search.token_scores`).
        cache: step mode: the decoder cache after the written prefix (before ``tokens``).
    """

    tokens: tuple[int, ...]
    attention: Tensor
    scores: Tensor
    cache: Any = None


@final
@dataclass(frozen=True, eq=False)
class AttentionDecoderState(Generic[SourceStateT]):
    """One utterance in the loop (a value: see the module doc).

    Attributes:
        source: the backend's source state (features, encoder, frames).
        written: token ids written so far and kept as history (the forced prefix).
        proposal: the decoder's proposal on the current frames, or ``None`` before any frame.
        ended: whether the end of sentence was written.
        attended: per token of ``written``, the stream's encoder frame its cross-attention
            peaked on (history selection; counted from the stream's start).
        frames_dropped: encoder frames forgotten by history selection (the source's first frame
            is this one of the stream).
    """

    source: SourceStateT
    written: tuple[int, ...] = ()
    proposal: Proposal | None = None
    ended: bool = False
    attended: tuple[int, ...] = ()
    frames_dropped: int = 0


@final
class AttentionDecoderStreamingModel(StreamingModel[AttentionDecoderState]):
    """An encoder-decoder with cross-attention as a streaming model (see the module doc).

    Args:
        backend: the model's front end and decoder.
        piece: the text piece of a token id (SentencePiece convention, ``▁`` starts a word).
        eos_id: the end-of-sentence id.
        decoding: how the decoder proposes.
        stream: the output stream (``st``, or ``asr`` for a speech recognition model).
        name: the model's name in results files.

    Example:
        >>> model = AttentionDecoderStreamingModel(backend, tokenizer.id_to_piece, eos_id=2)
        >>> result = simulate(model, AlignAtt(frames=4), instance)
    """

    def __init__(
        self,
        backend: SpeechDecoderBackend,
        piece: Callable[[int], str],
        *,
        eos_id: int,
        decoding: DecodingConfig | None = None,
        stream: str = "st",
        name: str = "attention_decoder",
    ) -> None:
        self.backend = backend
        self.decoding = DecodingConfig() if decoding is None else decoding
        if self.decoding.mode is DecodingMode.STEP and not backend.cache_is_value:
            raise ValueError(
                f"`decoding.mode` must be hypothesis for {type(backend).__name__}, whose decoder "
                "cache is modified in place (the loop branches states), but is step instead."
            )
        self.eos_id = eos_id
        self.name = name
        self.stream = stream
        self.sample_rate = backend.sample_rate
        self.output_streams = (stream,)
        self._piece = piece
        self._token = TokenTable(piece, eos_id=eos_id)

    # -- proposals ---------------------------------------------------------------------------

    def _limit(self, num_frames: int, written: Sequence[int]) -> int:
        """New tokens allowed after ``written`` (>= 1: the end of sentence is always allowed)."""
        limit = max_target_length(
            num_frames, max_len_a=self.decoding.max_len_a, max_len_b=self.decoding.max_len_b
        )
        return max(1, limit - len(written))

    def _propose(self, source_state: Any, written: tuple[int, ...]) -> Proposal | None:
        """The decoder's proposal after ``written`` on the frames of ``source_state``."""
        num_frames = self.backend.num_frames(source_state)
        if num_frames == 0:
            return None
        decoder = self.backend.step_decoder(source_state)
        limit = self._limit(num_frames, written)
        with torch.no_grad():
            if self.decoding.mode is DecodingMode.HYPOTHESIS:
                (hypothesis,) = beam_search(
                    decoder, [written], eos_id=self.eos_id, max_new_tokens=[limit],
                    beam_size=self.decoding.beam_size, length_penalty=self.decoding.length_penalty,
                )  # fmt: skip
                assert hypothesis.cross_attention is not None  # step decoders give attention
                return Proposal(
                    tokens=hypothesis.tokens,
                    attention=hypothesis.cross_attention,
                    scores=hypothesis.token_scores,
                )
            prefix = torch.tensor([list(written)], dtype=torch.long)
            scores, cache = decoder.start(prefix)
            return self._next_token(scores, cache, limit)

    def _next_token(self, scores: StepScores, cache: Any, limit: int) -> Proposal:
        """Step mode: the greedy next token (the end of sentence at the length limit)."""
        token = self.eos_id if limit <= 1 else int(scores.log_probs[0].argmax())
        assert scores.cross_attention is not None
        chosen = token_scores(scores.log_probs[:1], torch.tensor([token]))  # (1, 2)
        return Proposal(
            tokens=(token,), attention=scores.cross_attention, scores=chosen, cache=cache
        )

    # -- the protocol ------------------------------------------------------------------------

    @property
    @override
    def capabilities(self) -> frozenset[type[SignalRequest]]:
        served: set[type[SignalRequest]] = {CrossAttention}
        if self.decoding.mode is DecodingMode.HYPOTHESIS:
            served.add(Hypothesis)
        if self.decoding.candidate_scores:
            served.add(CandidateScores)
        return frozenset(served)

    @override
    def new_state(self) -> AttentionDecoderState:
        return AttentionDecoderState(source=self.backend.initial_source_state())

    @override
    def read(
        self, state: AttentionDecoderState, samples: Tensor, *, source_finished: bool
    ) -> AttentionDecoderState:
        with torch.no_grad():
            source = self.backend.read(state.source, samples, source_finished=source_finished)
        proposal = state.proposal
        if not state.ended and (
            proposal is None or self.backend.memory_changed(state.source, source)
        ):
            proposal = self._propose(source, state.written)
        return dataclasses.replace(state, source=source, proposal=proposal)

    @override
    def check_requirements(self, requirements: Requirements) -> None:
        attention = requirements.get(CrossAttention)
        if attention is not None:
            attention.check_layer(self.backend.num_decoder_layers)

    @override
    def signals(self, state: AttentionDecoderState, requirements: Requirements) -> Signals:
        proposal = state.proposal
        num_frames = self.backend.num_frames(state.source)
        if state.ended or proposal is None:
            return Signals(
                candidates=(), num_frames=num_frames, cross_attention=torch.zeros(0, 1, num_frames),
                candidate_scores=CandidateScoresValue(log_prob=torch.zeros(0), entropy=torch.zeros(0)),
            )  # fmt: skip
        layer = 0 if requirements.attention_layer is None else requirements.attention_layer
        return Signals(
            candidates=tuple(self._token(t) for t in proposal.tokens),
            num_frames=num_frames,
            cross_attention=proposal.attention[:, layer],  # (C, H, T)
            candidate_scores=CandidateScoresValue(
                log_prob=proposal.scores[:, 0], entropy=proposal.scores[:, 1]
            ),
        )

    @override
    def write(self, state: AttentionDecoderState, tokens: Sequence[Token]) -> AttentionDecoderState:
        proposal = state.proposal
        ids = tuple(t.id for t in tokens)
        if not ids or proposal is None or ids != proposal.tokens[: len(ids)]:
            raise ValueError(
                "`tokens` must be a non-empty prefix of the model's proposal "
                f"{[] if proposal is None else [self._piece(t) for t in proposal.tokens]}, "
                f"but are {[t.piece for t in tokens]} instead."
            )
        written = state.written + ids
        ended = ids[-1] == self.eos_id
        history = self.decoding.history
        if history.text is not TextHistory.ALL and not ended:
            return self._select_history(state, ids, proposal)
        next_proposal: Proposal | None = None
        if ended:
            pass
        elif self.decoding.mode is DecodingMode.STEP:
            decoder = self.backend.step_decoder(state.source)
            with torch.no_grad():
                scores, cache = decoder.step(torch.tensor(ids), proposal.cache)
            limit = self._limit(self.backend.num_frames(state.source), written)
            next_proposal = self._next_token(scores, cache, limit)
        elif len(ids) < len(proposal.tokens):
            rest = len(ids)
            next_proposal = Proposal(
                tokens=proposal.tokens[rest:],
                attention=proposal.attention[rest:],
                scores=proposal.scores[rest:],
            )
        else:  # the whole hypothesis is written but did not end: search on
            next_proposal = self._propose(state.source, written)
        return dataclasses.replace(state, written=written, proposal=next_proposal, ended=ended)

    def _select_history(
        self, state: AttentionDecoderState, ids: tuple[int, ...], proposal: Proposal
    ) -> AttentionDecoderState:
        """Write ``ids``, then keep only the history :mod:`simul.streaming.history` selects."""
        history = self.decoding.history
        layer = history.attention_layer % self.backend.num_decoder_layers
        rows = proposal.attention[: len(ids), layer].mean(dim=1)  # (N, T) mean over heads
        if rows.shape[1]:
            peaks = (rows.argmax(dim=1) + state.frames_dropped).tolist()
        else:  # no frame yet: the tokens attend to where the audio starts
            peaks = [state.frames_dropped] * len(ids)
        written = state.written + ids
        attended = state.attended + tuple(int(p) for p in peaks)
        start = kept_text_start([self._piece(t) for t in written], history)
        source, dropped = state.source, state.frames_dropped
        if start > 0:
            first_frame = kept_audio_start(attended, start)
            if first_frame > dropped:
                source = self.backend.drop_frames(source, first_frame - dropped)
                dropped = first_frame
            written, attended = written[start:], attended[start:]
        return dataclasses.replace(
            state, source=source, written=written, attended=attended, frames_dropped=dropped,
            proposal=self._propose(source, written),
        )  # fmt: skip

    @override
    def describe(self) -> dict[str, Any]:
        return {
            "model": self.name,
            **self.backend.describe(),
            "decoding": plain_values(self.decoding),
        }
