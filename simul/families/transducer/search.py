"""Streaming greedy and beam search for the Transducer, with a source time on every token.

Fbank frames arrive in pieces of any size; :meth:`TransducerSearch.advance` feeds them to the
encoder with its cache (``Transducer.transcribe_streaming``), and every encoder frame that comes
out is searched at once: up to ``max_symbols_per_frame`` tokens per frame, then blank moves on
to the next frame.  Offline decoding is the same code with one piece (:meth:`~TransducerSearch.decode`).
The search state is a frozen :class:`SearchState` passed in and returned (STYLE.md section 4),
so one search object serves any number of streams, and a later loop can wrap it as a model
behind a read/write protocol: ``init()``, ``advance(state, frames)``, ``finish(state)``.

Time stamps (integer frame counts, converted to ms at the end): a token carries the index of
the encoder frame that emitted it and ``source_ms``, the audio that must have arrived before that
frame can exist.  With chunks of C encoder frames, frame ``j`` needs fbank frames up to the end
of its chunk, ``n = 4 * C * (j // C + 1)`` (:mod:`simul.models.subsampling` gives 4 fbank
frames per encoder frame); the last, partial chunk and every frame of a full-context model
need all ``N`` fbank frames of the utterance, so ``n = min(4 * C * (j // C + 1), N)``.  Fbank frames
``0 .. n - 1`` are complete once :meth:`FbankConfig.num_samples_needed` of ``n`` samples have arrived:
at ``n * 10`` ms with causal framing (a 320 ms chunk at 320 ms), at ``(n - 1) * 10 + 25`` ms with
Kaldi's (15 ms after the chunk's end).  The stamps depend on
the model, not on how the input was cut into pieces, so streaming and offline agree (tested).

Greedy (``beam_size == 1``): at each step the argmax class; blank ends the frame.

Beam (``beam_size > 1``): a time-synchronous search in the manner of k2/icefall's "modified
beam search", generalised to several symbols per frame.  For each frame, every hypothesis is
extended, in rounds, by blank (it then waits for the next frame) or by one of the best non-blank
tokens (it then stays in the frame for the next round, at most ``max_symbols_per_frame`` times);
hypotheses that end the frame with the same tokens are merged (their probabilities added), and
the ``beam_size`` best survive.  A round's candidates that already score below the
``beam_size``-th finished hypothesis are pruned (scores only decrease).  Tokens are returned
("committed") as soon as every hypothesis of the beam agrees on them, so a returned token is
never taken back; the rest of the best hypothesis comes with :meth:`~TransducerSearch.finish`.
With a beam, a token's ``source_ms`` is still the time of the frame that emitted it, but the
token may be *returned* later, when the beam agrees; a streaming loop that stamps tokens with the
audio consumed when it receives them measures that delay.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import final

import torch
from torch import Tensor

from simul.data.features.fbank import FbankConfig
from simul.families.transducer.model import Transducer
from simul.models.encoder import EncoderState
from simul.models.predictor import PredictorState
from simul.models.subsampling import SUBSAMPLING_FACTOR

__all__ = ["Hypothesis", "SearchConfig", "SearchState", "SearchToken", "TransducerSearch"]


@dataclass(frozen=True, kw_only=True)
class SearchConfig:
    """How the transducer search decodes."""

    beam_size: int = 1
    """Hypotheses kept; 1 is greedy search (the argmax at each step)."""
    max_symbols_per_frame: int = 4
    """Most tokens one encoder frame (40 ms) may emit before the search moves on."""
    restart_after_sentence_end: bool = False
    """After a token that ends a sentence (its piece ends in ``.``, ``!`` or ``?``), the predictor
    starts over, as at an utterance's start.  For unsegmented streams: a model trained on
    sentences learned that only blank follows a sentence's end, and on a talk it goes silent
    after the first one it writes (measured: ``benchmarks/bench_long_stream.py``)."""

    def __post_init__(self) -> None:
        if not isinstance(self.restart_after_sentence_end, bool):
            raise ValueError(
                "`restart_after_sentence_end` must be a bool, but is "
                f"{self.restart_after_sentence_end!r} instead."
            )
        for name in ("beam_size", "max_symbols_per_frame"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"`{name}` must be an int > 0, but is {value!r} instead.")


@final
@dataclass(frozen=True)
class SearchToken:
    """One emitted token and when the source allowed it.

    Attributes:
        token_id: the token (never blank).
        frame_index: the encoder frame (40 ms each) that emitted it.
        source_ms: audio, in ms from the start, needed before that frame could be computed.
    """

    token_id: int
    frame_index: int
    source_ms: int


@final
@dataclass(frozen=True, eq=False)
class Hypothesis:
    """One partial output of the search.

    Attributes:
        tokens: the emitted tokens, oldest first.
        frame_indices: the encoder frame that emitted each token.
        source_ms: each token's source time (see the module doc).
        log_prob: log-probability of the path so far (of all merged paths, with a beam).
        predictor_out: (1, 1, Dp) predictor output after the last token (the joiner's input).
        predictor_state: the predictor state after the last token (batch size 1).
    """

    tokens: tuple[int, ...]
    frame_indices: tuple[int, ...]
    source_ms: tuple[int, ...]
    log_prob: float
    predictor_out: Tensor
    predictor_state: PredictorState

    def timed_tokens(self, start: int = 0) -> tuple[SearchToken, ...]:
        """The tokens from index ``start`` on, with their times."""
        return tuple(
            SearchToken(token_id=token, frame_index=frame, source_ms=ms)
            for token, frame, ms in zip(
                self.tokens[start:], self.frame_indices[start:], self.source_ms[start:], strict=True
            )
        )


@final
@dataclass(frozen=True, eq=False)
class SearchState:
    """One stream's progress: encoder cache, hypotheses, and what was already returned.

    Attributes:
        encoder: the encoder's streaming state.
        hypotheses: the beam, best first (one hypothesis in greedy search).
        num_fbank_frames: fbank frames received so far.
        num_committed: tokens of the best hypothesis already returned.
        finished: whether :meth:`TransducerSearch.finish` ended the stream.
    """

    encoder: EncoderState
    hypotheses: tuple[Hypothesis, ...]
    num_fbank_frames: int = 0
    num_committed: int = 0
    finished: bool = False

    @property
    def best(self) -> Hypothesis:
        """The highest-scoring hypothesis."""
        return self.hypotheses[0]

    def size_bytes(self) -> int:
        """Memory held by the encoder cache and the hypotheses' predictor states, in bytes."""
        hypotheses = sum(
            h.predictor_state.size_bytes()
            + h.predictor_out.numel() * h.predictor_out.element_size()
            for h in self.hypotheses
        )
        return self.encoder.size_bytes() + hypotheses


def _common_prefix_length(hypotheses: tuple[Hypothesis, ...], start: int = 0) -> int:
    """How many leading tokens all hypotheses share, knowing they share the first ``start``.

    Why ``start``: the tokens already committed are shared by every later hypothesis (all descend
    from hypotheses that agreed on them); scanning from 0 made every segment cost O(tokens
    written), which over a 10-minute talk added a third to the search's time.
    """
    shortest = min(len(h.tokens) for h in hypotheses)
    if len(hypotheses) == 1:
        return shortest
    first = hypotheses[0].tokens
    for index in range(start, shortest):
        if any(h.tokens[index] != first[index] for h in hypotheses[1:]):
            return index
    return shortest


@final
class TransducerSearch:
    """Greedy or beam search over a :class:`Transducer`, one stream at a time.

    F: mel bins; De: encoder frame size.  The model should be in eval mode (dropout off);
    the search runs without gradients.

    Args:
        model: the transducer.
        config: beam size and symbols per frame.
        fbank_config: the features' frame length and shift, to turn frame counts into ms.

    Examples:
        >>> search = TransducerSearch(model.eval(), SearchConfig(beam_size=4))
        >>> state = search.init()
        >>> for piece in pieces:  # (N, F) fbank frames as they arrive
        ...     state, tokens = search.advance(state, piece)
        >>> state, tokens = search.finish(state)
        >>> search.decode(features)  # offline: the same with one piece
    """

    def __init__(
        self,
        model: Transducer,
        config: SearchConfig | None = None,
        *,
        fbank_config: FbankConfig | None = None,
        sentence_end_ids: frozenset[int] = frozenset(),
    ) -> None:
        self.model = model
        self.config = SearchConfig() if config is None else config
        self.fbank_config = FbankConfig() if fbank_config is None else fbank_config
        self.blank_id = model.blank_id
        self._device = next(model.parameters()).device
        self._restart_ids = (
            sentence_end_ids if self.config.restart_after_sentence_end else frozenset()
        )

    # -- time stamps -------------------------------------------------------------------------

    def _source_ms(self, frame_index: int, num_fbank_frames: int) -> int:
        """Source time of encoder frame ``frame_index`` of an utterance (see the module doc).

        ``num_fbank_frames`` is the fbank frames received so far (all of them once the stream
        ended): a frame of a completed chunk needs only the frames up to its chunk's end.
        """
        chunk_size = self.model.config.encoder.chunk_size_frames
        needed = num_fbank_frames
        if chunk_size is not None:
            chunk_end = SUBSAMPLING_FACTOR * chunk_size * (frame_index // chunk_size + 1)
            needed = min(chunk_end, num_fbank_frames)
        config = self.fbank_config
        return config.num_samples_needed(needed) * 1000 // config.sample_rate

    # -- one frame ---------------------------------------------------------------------------

    def _start_hypothesis(self) -> Hypothesis:
        state = self.model.init_predictor_state(1, device=self._device)
        start = torch.full((1, 1), self.blank_id, dtype=torch.int64, device=self._device)
        out, state = self.model.predict(start, state)
        return Hypothesis(
            tokens=(), frame_indices=(), source_ms=(), log_prob=0.0, predictor_out=out,
            predictor_state=state,
        )  # fmt: skip

    def _extend(
        self, parents: list[Hypothesis], tokens: list[int], scores: list[float], frame: int, ms: int
    ) -> list[Hypothesis]:
        """Children of ``parents`` by one token each, with one batched predictor call."""
        state_type = type(parents[0].predictor_state)
        state = state_type.stack([parent.predictor_state for parent in parents])
        inputs = torch.tensor(tokens, dtype=torch.int64, device=self._device)[:, None]  # (A, 1)
        out, state = self.model.predict(inputs, state)  # (A, 1, Dp)
        children = [
            Hypothesis(
                tokens=parent.tokens + (token,),
                frame_indices=parent.frame_indices + (frame,),
                source_ms=parent.source_ms + (ms,),
                log_prob=score,
                predictor_out=out[row : row + 1],
                predictor_state=child_state,
            )
            for row, (parent, token, score, child_state) in enumerate(
                zip(parents, tokens, scores, state.unstack(), strict=True)
            )
        ]
        if self._restart_ids and any(token in self._restart_ids for token in tokens):
            start = self._start_hypothesis()  # a sentence ended: predict as at the start
            children = [
                replace(child, predictor_out=start.predictor_out, predictor_state=start.predictor_state)
                if token in self._restart_ids else child
                for child, token in zip(children, tokens, strict=True)
            ]  # fmt: skip
        return children

    def _log_probs(self, frame: Tensor, hypotheses: list[Hypothesis]) -> Tensor:
        """(A, V) log-probabilities of the next class for each hypothesis at ``frame`` (1, 1, De)."""
        predictor_out = torch.cat([h.predictor_out for h in hypotheses], dim=0)  # (A, 1, Dp)
        logits = self.model.join(frame.expand(len(hypotheses), -1, -1), predictor_out)
        return torch.log_softmax(logits[:, 0, 0].float(), dim=-1)  # (A, V)

    def _greedy_frame(
        self, hypothesis: Hypothesis, frame: Tensor, index: int, ms: int
    ) -> Hypothesis:
        for _ in range(self.config.max_symbols_per_frame):
            log_probs = self._log_probs(frame, [hypothesis])[0]  # (V,)
            token = int(log_probs.argmax())
            if token == self.blank_id:
                return replace(hypothesis, log_prob=hypothesis.log_prob + float(log_probs[token]))
            score = hypothesis.log_prob + float(log_probs[token])
            (hypothesis,) = self._extend([hypothesis], [token], [score], index, ms)
        return hypothesis

    def _beam_frame(
        self, hypotheses: tuple[Hypothesis, ...], frame: Tensor, index: int, ms: int
    ) -> tuple[Hypothesis, ...]:
        beam_size = self.config.beam_size
        ended: dict[tuple[int, ...], Hypothesis] = {}
        active = list(hypotheses)
        for symbol in range(self.config.max_symbols_per_frame + 1):
            log_probs = self._log_probs(frame, active)  # (A, V)
            for row, hypothesis in enumerate(active):
                score = hypothesis.log_prob + float(log_probs[row, self.blank_id])
                previous = ended.get(hypothesis.tokens)
                if previous is None:
                    ended[hypothesis.tokens] = replace(hypothesis, log_prob=score)
                else:  # the same tokens by another path: add the probabilities, keep the
                    # better path's time stamps (the predictor state is the same)
                    better = hypothesis if score > previous.log_prob else previous
                    merged = _log_add(score, previous.log_prob)
                    ended[hypothesis.tokens] = replace(better, log_prob=merged)
            if symbol == self.config.max_symbols_per_frame:
                break
            prefix = torch.tensor([h.log_prob for h in active], device=log_probs.device)
            scores = log_probs + prefix[:, None]  # (A, V)
            scores[:, self.blank_id] = float("-inf")
            num_candidates = min(beam_size, scores.numel() - len(active))
            top_scores, top_index = scores.flatten().topk(num_candidates)
            finished_scores = sorted((h.log_prob for h in ended.values()), reverse=True)
            threshold = (
                finished_scores[beam_size - 1] if len(finished_scores) >= beam_size else None
            )
            keep = [
                (int(flat), float(score))
                for score, flat in zip(top_scores.tolist(), top_index.tolist(), strict=True)
                if threshold is None or score > threshold
            ]
            if not keep:
                break
            vocab_size = scores.shape[1]
            parents = [active[flat // vocab_size] for flat, _ in keep]
            tokens = [flat % vocab_size for flat, _ in keep]
            active = self._extend(parents, tokens, [score for _, score in keep], index, ms)
        best = sorted(ended.values(), key=lambda h: h.log_prob, reverse=True)
        return tuple(best[:beam_size])

    def _search_frames(
        self,
        hypotheses: tuple[Hypothesis, ...],
        frames: Tensor,
        first_index: int,
        num_fbank_frames: int,
    ) -> tuple[Hypothesis, ...]:
        """Search encoder frames (n, De) whose first one has index ``first_index``."""
        for offset in range(frames.shape[0]):
            index = first_index + offset
            ms = self._source_ms(index, num_fbank_frames)
            frame = frames[offset][None, None, :]  # (1, 1, De)
            if self.config.beam_size == 1:
                hypotheses = (self._greedy_frame(hypotheses[0], frame, index, ms),)
            else:
                hypotheses = self._beam_frame(hypotheses, frame, index, ms)
        return hypotheses

    # -- the streaming API -------------------------------------------------------------------

    def init(self) -> SearchState:
        """The state of a new stream (nothing received)."""
        with torch.no_grad():
            return SearchState(
                encoder=self.model.init_encoder_state(1, device=self._device),
                hypotheses=(self._start_hypothesis(),),
            )

    def _step(
        self, state: SearchState, features: Tensor, *, final: bool
    ) -> tuple[SearchState, tuple[SearchToken, ...]]:
        if state.finished:
            raise ValueError("`state` must be a running stream, but `finish` already ended it.")
        num_mel_bins = self.model.config.encoder.num_mel_bins
        if features.dim() != 2 or features.shape[1] != num_mel_bins:
            raise ValueError(
                f"`features` must be fbank frames of shape (N, {num_mel_bins}), "
                f"but has shape {tuple(features.shape)} instead."
            )
        first_index = state.encoder.frames_emitted
        num_fbank_frames = state.num_fbank_frames + features.shape[0]
        with torch.no_grad():
            frames, encoder_state = self.model.transcribe_streaming(
                features.to(self._device)[None], state.encoder, final=final
            )  # (1, n, De)
            hypotheses = self._search_frames(
                state.hypotheses, frames[0], first_index, num_fbank_frames
            )
        best = hypotheses[0]
        committed = (
            len(best.tokens) if final else _common_prefix_length(hypotheses, state.num_committed)
        )
        new_state = SearchState(
            encoder=encoder_state,
            hypotheses=hypotheses,
            num_fbank_frames=num_fbank_frames,
            num_committed=committed,
            finished=final,
        )
        return new_state, best.timed_tokens(state.num_committed)[: committed - state.num_committed]

    def advance(
        self, state: SearchState, features: Tensor
    ) -> tuple[SearchState, tuple[SearchToken, ...]]:
        """Consume fbank frames (N, F), N >= 0; return the new state and the newly committed tokens."""
        return self._step(state, features, final=False)

    def finish(
        self, state: SearchState, features: Tensor | None = None
    ) -> tuple[SearchState, tuple[SearchToken, ...]]:
        """End the stream (after the last ``features``, if given): the remaining tokens of the best."""
        if features is None:
            num_mel_bins = self.model.config.encoder.num_mel_bins
            features = torch.zeros(0, num_mel_bins, device=self._device)
        return self._step(state, features, final=True)

    def decode(self, features: Tensor) -> tuple[SearchToken, ...]:
        """Offline decoding of a whole utterance's fbank frames (T, F): one piece, then the end."""
        _, tokens = self.finish(self.init(), features)
        return tokens

    def decode_encoded(self, frames: Tensor, num_fbank_frames: int) -> tuple[SearchToken, ...]:
        """Search encoder frames (T', De) computed elsewhere, e.g. by ``Transducer.transcribe``.

        For validation during training: the batched encoder path is faster than streaming one
        utterance at a time, and gives the same frames (to float rounding).

        Args:
            frames: the utterance's valid encoder frames.
            num_fbank_frames: the utterance's fbank frames N (for the last chunk's time stamps).
        """
        expected = num_fbank_frames // SUBSAMPLING_FACTOR
        if frames.dim() != 2 or frames.shape[0] != expected:
            raise ValueError(
                f"`frames` must be the {expected} encoder frames of {num_fbank_frames} fbank "
                f"frames, shaped (T', De), but has shape {tuple(frames.shape)} instead."
            )
        with torch.no_grad():
            hypotheses = self._search_frames(
                (self._start_hypothesis(),), frames.to(self._device), 0, num_fbank_frames
            )
        return hypotheses[0].timed_tokens()


def _log_add(a: float, b: float) -> float:
    """log(exp(a) + exp(b)) without overflow."""
    high, low = (a, b) if a >= b else (b, a)
    return high + math.log1p(math.exp(low - high))
