"""A deterministic toy model with every signal: the protocol's reference and the tests' oracle.

The toy "knows" its output: a script of pieces, each aligned to an encoder frame (``frame_ms``
each).  What it shows a policy depends only on how much audio it has received (never on the
audio's content), so the delay every policy produces can be computed by hand:

- frames received: ``T = num_samples // frame_samples`` while the source runs, and
  ``ceil(num_samples / frame_samples)`` once it has ended (the last, partial frame counts);
- the sentence: the script's tokens in order.  When the source has ended it is the tokens
  aligned inside the audio (``frame < T``), then ``</s>``; before that the script runs on;
- cross-attention of a token aligned to frame ``f``, head ``h``: peaks on frame
  ``p = clamp(f + head_offsets[h], 0, T - 1)`` and decays away from it, weight proportional to
  ``attention_decay ** |t - p|`` (0: all on the peak), normalised over the T frames received; a
  token aligned beyond the audio thus attends to the newest frames, as a real model's does, and
  the end-of-sentence token peaks on the last frame.  Every layer is the same;
- p_choose of head ``h``: 1 at step ``max(f_i + head_offsets[h])`` over the tokens ``i`` up to this
  one (monotonic), if that step has been received, else 0 everywhere; ``</s>`` has none;
- candidate scores of a token aligned to frame ``f``: probability ``p = sigmoid(T - f - 1/2)``
  (above 1/2 once its frame has been received, growing with the audio after it; a guess of the
  future is below 1/2), entropy the binary entropy of ``p``: a model that grows surer as it hears
  more, for confidence policies;
- ``ToyMode.TRANSDUCER``: the candidates are the next tokens aligned to received frames, each
  emitted by its own frame; ``</s>`` is never emitted.

Modes (``ToyConfig.mode``): ``DECODER`` proposes one candidate (a step-by-step decoder; cross
attention and p_choose), ``HYPOTHESIS`` the tokens aligned inside the received audio, then
``hypothesis_extra_tokens`` more, then ``</s>`` (an offline model decoding a prefix runs past it),
``TRANSDUCER`` its emissions.  With ``guess_unsupported`` a candidate aligned beyond the received
frames (``f >= T``) is replaced by a guess ``▁?T`` while the source runs: a model that hallucinates
the future, which the attention policies must avoid and LocalAgreement filters out.

Without ``pieces``, the script is regular and endless: word ``j`` is ``pieces_per_word`` pieces
(``▁w{j}``, then ``-1``, ``-2``...), all aligned to the frame ending at ``(j + 1) * ms_per_word``.
That is the model ``simul eval --model toy`` runs (no training, no checkpoint).

Example:
    >>> model = ToyModel(ToyConfig(pieces=("▁a", "▁b"), frames=(3, 9)))
    >>> state = model.read(model.new_state(), torch.zeros(5120), source_finished=False)
    >>> [t.piece for t in model.signals(state, Requirements()).candidates]
    ['▁a']
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, final

import torch
from typing_extensions import override

from simul.config import plain_values
from simul.streaming.model import StreamingModel
from simul.streaming.signals import (
    CandidateScoresValue,
    Capability,
    CrossAttention,
    Requirements,
    SignalRequest,
    Signals,
)
from simul.streaming.tokens import WORD_BOUNDARY, Token

__all__ = ["ToyConfig", "ToyMode", "ToyModel", "ToyState"]

_EOS = Token(id=2, piece="</s>", ends_sentence=True)
_FIRST_ID = 4  # after <s>, <pad>, </s>, <unk>, as simul's tokenizer


class ToyMode(enum.Enum):
    """Which kind of model the toy plays (see the module doc)."""

    DECODER = "decoder"
    HYPOTHESIS = "hypothesis"
    TRANSDUCER = "transducer"


@dataclass(frozen=True, kw_only=True)
class ToyConfig:
    """The toy model's script and shape (``simul eval --model toy --set model.FIELD=VALUE``)."""

    mode: ToyMode = ToyMode.DECODER
    """DECODER (one candidate), HYPOTHESIS (whole continuation) or TRANSDUCER (emissions)."""
    pieces: tuple[str, ...] = ()
    """The scripted pieces (``▁`` starts a word; ``<st>``-style tags of ``streams`` switch streams);
    empty: the regular endless script."""
    frames: tuple[int, ...] = ()
    """The encoder frame each piece is aligned to (same length as ``pieces``)."""
    ms_per_word: int = 280
    """Regular script: one word per this many ms of audio."""
    pieces_per_word: int = 2
    """Regular script: pieces per word."""
    frame_ms: int = 40
    """Encoder frame length, in ms."""
    sample_rate: int = 16_000
    """Rate of the samples the toy reads, in Hz."""
    head_offsets: tuple[int, ...] = (0,)
    """Per attention head, frames between the token's frame and the head's peak (H = len)."""
    num_layers: int = 6
    """Decoder layers whose (identical) cross-attention can be requested."""
    attention_decay: float = 0.5
    """Attention weight falls by this factor per frame away from the peak (0: one-hot)."""
    hypothesis_extra_tokens: int = 1
    """HYPOTHESIS mode: tokens beyond the received audio before the hypothesis's ``</s>``."""
    guess_unsupported: bool = False
    """Replace candidates aligned beyond the received frames by a guess while the source runs."""
    streams: tuple[str, ...] = ("st",)
    """Output streams; pieces before any tag belong to the first."""

    def __post_init__(self) -> None:
        if len(self.pieces) != len(self.frames):
            raise ValueError(
                f"`frames` must give one frame per piece ({len(self.pieces)}), "
                f"but has {len(self.frames)} instead."
            )
        if any(f < 0 for f in self.frames):
            raise ValueError(f"`frames` must be >= 0, but are {self.frames} instead.")
        positive = {
            "ms_per_word": self.ms_per_word,
            "pieces_per_word": self.pieces_per_word,
            "frame_ms": self.frame_ms,
            "sample_rate": self.sample_rate,
            "num_layers": self.num_layers,
        }
        for name, value in positive.items():
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"`{name}` must be an int > 0, but is {value!r} instead.")
        if (self.sample_rate * self.frame_ms) % 1000:
            raise ValueError(
                f"`frame_ms` must be a whole number of samples at {self.sample_rate} Hz, "
                f"but is {self.frame_ms} instead."
            )
        if not self.head_offsets:
            raise ValueError("`head_offsets` must give at least one head, but is empty.")
        if not 0.0 <= self.attention_decay < 1.0:
            raise ValueError(
                f"`attention_decay` must be in [0, 1), but is {self.attention_decay} instead."
            )
        if self.hypothesis_extra_tokens < 0:
            raise ValueError(
                f"`hypothesis_extra_tokens` must be >= 0, but is {self.hypothesis_extra_tokens} instead."
            )
        if not self.streams:
            raise ValueError("`streams` must name at least one stream, but is empty.")


@final
@dataclass(frozen=True)
class ToyState:
    """Where one utterance stands.

    Attributes:
        num_samples: samples read.
        source_finished: whether the last segment was read.
        num_written: script positions written (guesses included).
        ended: whether ``</s>`` was written.
    """

    num_samples: int = 0
    source_finished: bool = False
    num_written: int = 0
    ended: bool = False


@final
class ToyModel(StreamingModel[ToyState]):
    """The toy model (see the module doc)."""

    def __init__(self, config: ToyConfig | None = None) -> None:
        self.config = ToyConfig() if config is None else config
        self.sample_rate = self.config.sample_rate
        self.output_streams = self.config.streams
        self._frame_samples = self.config.sample_rate * self.config.frame_ms // 1000
        tags = {f"<{stream}>": stream for stream in self.config.streams}
        self._tags = tags
        known = sorted(set(self.config.pieces) | set(tags))
        self._ids = {piece: _FIRST_ID + index for index, piece in enumerate(known)}

    # -- the script --------------------------------------------------------------------------

    def _script_token(self, index: int) -> tuple[Token, int] | None:
        """Script token ``index`` and its frame, or ``None`` past the end of a finite script."""
        config = self.config
        if config.pieces:
            if index >= len(config.pieces):
                return None
            piece = config.pieces[index]
            stream = self._tags.get(piece)
            return Token(id=self._ids[piece], piece=piece, stream=stream), config.frames[index]
        word, position = divmod(index, config.pieces_per_word)
        piece = f"{WORD_BOUNDARY}w{word}" if position == 0 else f"-{position}"
        token_id = _FIRST_ID + len(self._ids) + index
        frame = (word + 1) * config.ms_per_word // config.frame_ms - 1
        return Token(id=token_id, piece=piece), max(frame, 0)

    def _num_frames(self, state: ToyState) -> int:
        if state.source_finished:
            return math.ceil(state.num_samples / self._frame_samples)
        return state.num_samples // self._frame_samples

    def _guess(self, num_frames: int) -> Token:
        return Token(id=1_000_000 + num_frames, piece=f"{WORD_BOUNDARY}?{num_frames}")

    def _candidates(self, state: ToyState) -> tuple[list[Token], list[int]]:
        """The candidate tokens and the frame each is aligned to (see the module doc)."""
        config = self.config
        if state.ended:
            return [], []
        num_frames = self._num_frames(state)
        tokens: list[Token] = []
        frames: list[int] = []
        index = state.num_written
        beyond = 0  # tokens aligned past the received frames so far
        while True:
            item = self._script_token(index)
            if item is None or (state.source_finished and item[1] >= num_frames):
                if config.mode is not ToyMode.TRANSDUCER:
                    tokens.append(_EOS)
                    frames.append(num_frames)
                break
            token, frame = item
            if frame >= num_frames:
                if config.mode is ToyMode.TRANSDUCER:
                    break
                if config.mode is ToyMode.HYPOTHESIS and beyond == config.hypothesis_extra_tokens:
                    tokens.append(_EOS)
                    frames.append(num_frames)
                    break
                beyond += 1
                if config.guess_unsupported:
                    token = self._guess(num_frames)
            tokens.append(token)
            frames.append(frame)
            if config.mode is ToyMode.DECODER:
                break
            index += 1
        return tokens, frames

    # -- the protocol ------------------------------------------------------------------------

    @property
    @override
    def capabilities(self) -> frozenset[type[SignalRequest]]:
        if self.config.mode is ToyMode.TRANSDUCER:
            return frozenset({Capability.TRANSDUCER})
        decoder = {Capability.CROSS_ATTENTION, Capability.P_CHOOSE, Capability.CANDIDATE_SCORES}
        if self.config.mode is ToyMode.HYPOTHESIS:
            decoder.add(Capability.HYPOTHESIS)
        return frozenset(decoder)

    @override
    def new_state(self) -> ToyState:
        return ToyState()

    @override
    def read(self, state: ToyState, samples: torch.Tensor, *, source_finished: bool) -> ToyState:
        if state.source_finished:
            raise ValueError("the toy's source has already ended; start a new state.")
        return dataclasses.replace(
            state,
            num_samples=state.num_samples + int(samples.shape[0]),
            source_finished=source_finished,
        )

    @override
    def check_requirements(self, requirements: Requirements) -> None:
        attention = requirements.get(CrossAttention)
        if attention is not None:
            attention.check_layer(self.config.num_layers, "the toy's")

    @override
    def signals(self, state: ToyState, requirements: Requirements) -> Signals:
        tokens, frames = self._candidates(state)
        num_frames = self._num_frames(state)
        if self.config.mode is ToyMode.TRANSDUCER:
            return Signals(
                candidates=tuple(tokens), num_frames=num_frames, emission_frames=tuple(frames)
            )
        offsets = torch.tensor(self.config.head_offsets)  # (H,)
        aligned = torch.tensor(frames, dtype=torch.int64)  # (C,)
        return Signals(
            candidates=tuple(tokens),
            num_frames=num_frames,
            cross_attention=self._attention(aligned, offsets, num_frames),
            p_choose=self._p_choose(state, aligned, tokens, offsets, num_frames),
            candidate_scores=self._scores(aligned, num_frames),
        )

    @staticmethod
    def _scores(aligned: torch.Tensor, num_frames: int) -> CandidateScoresValue:
        """Probability sigmoid(T - f - 1/2) per candidate, and its binary entropy (module doc)."""
        probability = torch.sigmoid(num_frames - aligned.double() - 0.5)  # (C,)
        entropy = torch.special.entr(probability) + torch.special.entr(1 - probability)
        return CandidateScoresValue(log_prob=probability.log().float(), entropy=entropy.float())

    def _attention(
        self, aligned: torch.Tensor, offsets: torch.Tensor, num_frames: int
    ) -> torch.Tensor:
        """(C, H, T): each head's weights decay geometrically away from its peak frame."""
        count, heads = aligned.shape[0], offsets.shape[0]
        if num_frames == 0:
            return torch.zeros(count, heads, 0)
        peaks = (aligned[:, None] + offsets[None, :]).clamp(0, num_frames - 1)  # (C, H)
        distance = (torch.arange(num_frames)[None, None, :] - peaks[:, :, None]).abs()  # (C, H, T)
        decay = torch.tensor(self.config.attention_decay, dtype=torch.float64)
        weights = torch.where(distance == 0, torch.ones((), dtype=torch.float64), decay**distance)
        return (weights / weights.sum(dim=2, keepdim=True)).float()

    def _p_choose(
        self,
        state: ToyState,
        aligned: torch.Tensor,
        tokens: Sequence[Token],
        offsets: torch.Tensor,
        num_frames: int,
    ) -> torch.Tensor:
        """(C, H, T): 1 at each head's monotonic stopping step when it has been received."""
        written = [self._script_token(i) for i in range(state.num_written)]
        previous = max((item[1] for item in written if item is not None), default=0)
        steps = torch.cummax(aligned.clamp(min=previous), dim=0).values  # (C,) monotonic
        stops = steps[:, None] + offsets[None, :]  # (C, H)
        p_choose = torch.zeros(len(tokens), offsets.shape[0], num_frames)
        for row, token in enumerate(tokens):
            if token.ends_sentence:
                continue
            for head in range(offsets.shape[0]):
                stop = int(stops[row, head])
                if 0 <= stop < num_frames:
                    p_choose[row, head, stop] = 1.0
        return p_choose

    @override
    def write(self, state: ToyState, tokens: Sequence[Token]) -> ToyState:
        if not tokens:
            raise ValueError("`tokens` must not be empty.")
        ended = tokens[-1].ends_sentence
        return dataclasses.replace(
            state, num_written=state.num_written + len(tokens) - int(ended), ended=ended
        )

    @override
    def describe(self) -> dict[str, Any]:
        return {"model": "toy", "config": plain_values(self.config)}
