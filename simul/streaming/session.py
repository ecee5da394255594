"""The simultaneous loop, one source segment at a time: the one place where model meets policy.

Everything that runs a model simultaneously goes through :class:`StreamingSession`:
:func:`simul.streaming.simulate.simulate` feeds it an instance's segments, the SimulEval agent
feeds it SimulEval's segments, one :meth:`~StreamingSession.push` per ``policy()`` call.

One :meth:`~StreamingSession.push` (one segment):

1. the model reads the segment (its own cached state, :mod:`simul.streaming.model`);
2. until the policy answers READ: the model computes its signals, the policy decides, and a
   WRITE advances the model over the written tokens (several writes per segment are fine);
3. the written tokens are committed.  With ``policy.whole_words`` only the complete words are:
   a word is complete when the token after it (written, or the candidate the policy declined)
   begins a word, is a stream tag or ends the sentence; the pieces of the last, open word are
   taken back (the model continues from its state before them) and proposed again next segment;
4. committed tokens get the segment's ``source_ms`` (audio consumed, this segment included) and
   one ``elapsed_ms`` taken when the step is done; completed words come back as
   :class:`~simul.streaming.words.Emission` s.

On the last segment (``source_finished``) with ``EndOfSource.FLUSH`` the policy is not asked:
the model writes its candidates until the end of sentence (or ``max_tokens``); with
``EndOfSource.POLICY`` the policy decides as before and its first READ ends the utterance.

Elapsed time (:class:`ElapsedClock`): by default SimulEval 1.1.4's definition for sentence-level
input, ``elapsed = delay + (wall clock now - wall clock at the first segment)``, taken when the step
that commits the word returns (SimulEval takes it after the agent's ``pushpop``); the audio load
before the first segment is not counted (SimulEval counts its file read).  Over a long
unsegmented stream that sum grows without bound (it assumes the audio waits for the computation);
``ElapsedClock.REAL_TIME`` gives instead the time a system fed in real time would write the word:
``finish_k = max(delay_k, finish_{k-1}) + compute_k``, which lags the audio only while the system
is slower than real time.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, final

import numpy as np
import torch

from simul.config import check_positive_int
from simul.data.instance import samples_to_ms
from simul.streaming.actions import Read, Write
from simul.streaming.model import StreamingModel
from simul.streaming.policy import DecisionView, EndOfSource, Policy
from simul.streaming.progress import CommittedToken, UtteranceProgress
from simul.streaming.result import UtteranceResult
from simul.streaming.signals import Capability, Requirements, capability_names
from simul.streaming.tokens import Token
from simul.streaming.words import Emission, WordAssembler

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "ElapsedClock",
    "StreamingSession",
    "check_compatible",
    "complete_prefix_length",
]

logger = logging.getLogger(__name__)

#: Most tokens one utterance may write (fairseq's ``--max-len-b`` is 200 for sentences; talks
#: need more).  A model that never writes its end of sentence stops here, marked ``truncated``.
DEFAULT_MAX_TOKENS = 1000


class ElapsedClock(enum.Enum):
    """How ``elapsed_ms`` (computation-aware time) is computed; see the module doc."""

    SIMULEVAL = "simuleval"
    """delay + wall-clock time since the first segment (SimulEval 1.1.4, sentence-level input)."""
    REAL_TIME = "real_time"
    """When a system fed in real time would have written it: max(delay, previous finish) + compute."""


def check_compatible(model: StreamingModel[Any], policy: Policy) -> Requirements:
    """The policy's requirements, after checking that the model meets them (before any audio).

    Raises:
        ValueError: naming the policy, what it needs that the model lacks, and what the model has.
    """
    requirements = policy.requires
    missing = requirements.capabilities - model.capabilities
    if missing:
        raise ValueError(
            f"policy {type(policy).__name__} needs {capability_names(frozenset(missing))}, which "
            f"model {type(model).__name__} does not provide (it provides "
            f"{capability_names(model.capabilities)})."
        )
    model.check_requirements(requirements)
    return requirements


def complete_prefix_length(tokens: Sequence[Token], following: Token | None) -> int:
    """How many leading ``tokens`` form complete words, given the token that follows them.

    Args:
        tokens: pieces written in this segment, after committed tokens that end a word.
        following: the next token the model proposed (declined by the policy), or ``None`` when
            the model proposed none, so the end of the last word is unknown.

    Examples:
        >>> hel, lo, you = Token(id=5, piece="▁hel"), Token(id=6, piece="lo"), Token(id=7, piece="▁you")
        >>> complete_prefix_length([hel, lo, you], None)
        2
        >>> complete_prefix_length([hel, lo], you)
        2
        >>> # a word-final vocabulary: the word is complete with its last piece
        >>> complete_prefix_length([Token(id=5, piece="hel"), Token(id=6, piece="lo▁")], None)
        2
    """
    if following is not None and following.closes_previous_word:
        return len(tokens)
    for position in range(len(tokens) - 1, -1, -1):
        token = tokens[position]
        if token.is_control or token.ends_word:  # a word-final piece completes its word
            return position + 1
        if token.starts_word:
            return position
    return 0


def _as_samples(samples: torch.Tensor | np.ndarray | Sequence[float]) -> torch.Tensor:
    waveform = torch.as_tensor(samples)
    if waveform.dim() != 1 or not waveform.is_floating_point():
        raise ValueError(
            "`samples` must be a one-dimensional float waveform (N,), but has shape "
            f"{tuple(waveform.shape)} and dtype {waveform.dtype} instead."
        )
    return waveform.to(torch.float32)


@final
class StreamingSession:
    """One utterance through the loop (see the module doc).

    Args:
        model: the streaming model.
        policy: the read/write policy; checked against the model here, before any audio.
        max_tokens: most tokens the utterance may write (:data:`DEFAULT_MAX_TOKENS`).
        clock: how ``elapsed_ms`` is computed.
        timer: seconds of a monotonic wall clock (tests pass a fake one).

    Example:
        >>> session = StreamingSession(model, policy)
        >>> words = session.push(segment, source_finished=False)   # one per source segment
        >>> words += session.push(last_segment, source_finished=True)
        >>> result = session.result()
    """

    def __init__(
        self,
        model: StreamingModel[Any],
        policy: Policy,
        *,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        clock: ElapsedClock = ElapsedClock.SIMULEVAL,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        check_positive_int("max_tokens", max_tokens)
        if not isinstance(clock, ElapsedClock):
            raise ValueError(f"`clock` must be an ElapsedClock, but is {clock!r} instead.")
        self.model = model
        self.policy = policy
        self.requirements = check_compatible(model, policy)
        self.max_tokens = max_tokens
        self.clock = clock
        self.progress = UtteranceProgress(sample_rate=model.sample_rate)
        self._timer = timer
        self._state = model.new_state()
        self._written: tuple[Token, ...] = ()
        self._words = WordAssembler(model.output_streams)
        self._start_time: float | None = None
        self._finish_ms = 0.0  # ElapsedClock.REAL_TIME: when the previous step finished
        self._records_hypotheses = Capability.HYPOTHESIS in model.capabilities
        self._model_name = type(model).__name__

    def push(
        self, samples: torch.Tensor | np.ndarray | Sequence[float], *, source_finished: bool
    ) -> list[Emission]:
        """Run the loop on the next source segment; return the words it completed.

        Args:
            samples: (N,) float samples at ``model.sample_rate``.
            source_finished: whether this is the last segment of the utterance.
        """
        progress = self.progress
        if progress.source_finished:
            raise ValueError("the source of this utterance has already ended; start a new session.")
        waveform = _as_samples(samples)
        step_start = self._timer()
        if self._start_time is None:
            self._start_time = step_start
        state = self.model.read(self._state, waveform, source_finished=source_finished)
        progress.num_samples_read += int(waveform.numel())
        progress.num_segments_read += 1
        progress.source_finished = source_finished

        tentative, states, following, ended = self._decide(state)
        if ended or not self.policy.whole_words:
            count = len(tentative)
        else:
            count = complete_prefix_length(tentative, following)
        state = self._state_after(states, tentative, count)
        self._state = state

        now = self._timer()
        elapsed_ms = self._elapsed_ms(step_start, now)
        progress.compute_seconds += now - step_start
        if count < len(tentative):
            following = tentative[count]
        emissions = self._commit(tentative[:count], elapsed_ms)
        if ended:
            progress.target_finished = True
            emissions += self._words.close()
        elif following is not None and following.closes_previous_word:
            emissions += self._words.close()
        progress.emissions.extend(emissions)
        return emissions

    def result(self) -> UtteranceResult:
        """The utterance's output (call after the segment with ``source_finished``)."""
        progress = self.progress
        if not progress.target_finished:
            raise ValueError(
                "the utterance is not finished: push its last segment with `source_finished=True`."
            )
        return UtteranceResult(
            emissions=tuple(progress.emissions),
            tokens=tuple(progress.committed),
            streams=self.model.output_streams,
            source_samples=progress.num_samples_read,
            sample_rate=progress.sample_rate,
            truncated=progress.truncated,
            compute_seconds=progress.compute_seconds,
        )

    # -- one segment -------------------------------------------------------------------------

    def _decide(self, state: Any) -> tuple[list[Token], list[tuple[int, Any]], Token | None, bool]:
        """Ask signals and decisions until READ; returns the tentative tokens, the model state
        after each write (with the token count), the declined candidate, and whether the
        utterance ended."""
        progress = self.progress
        finished = progress.source_finished
        flushing = finished and self.policy.end_of_source is EndOfSource.FLUSH
        earlier = tuple(progress.hypotheses)
        tentative: list[Token] = []
        states: list[tuple[int, Any]] = [(0, state)]
        first = True
        while True:
            if len(self._written) + len(tentative) >= self.max_tokens:
                logger.warning(
                    "an utterance reached max_tokens=%d before its end of sentence; its output is cut.",
                    self.max_tokens,
                )
                progress.truncated = True
                return tentative, states, None, True
            signals = self.model.signals(state, self.requirements)
            signals.check(self.requirements, self._model_name)
            candidates = signals.candidates
            if first and self._records_hypotheses:
                progress.hypotheses.append(self._written + tuple(tentative) + candidates)
            first = False
            if not candidates:
                return tentative, states, None, finished
            if flushing:
                tokens = _through_end_of_sentence(candidates)
            else:
                view = DecisionView(
                    signals=signals,
                    written=self._written + tuple(tentative),
                    num_written_in_segment=len(tentative),
                    hypotheses=earlier,
                    num_segments=progress.num_segments_read,
                    source_samples=progress.num_samples_read,
                    sample_rate=progress.sample_rate,
                    source_finished=finished,
                )
                decision = self.policy.decide(view)
                if isinstance(decision, Read):
                    return tentative, states, candidates[0], finished
                tokens = self._checked_write(decision, candidates)
            state = self.model.write(state, tokens)
            tentative.extend(tokens)
            states.append((len(tentative), state))
            if tokens[-1].ends_sentence:
                return tentative, states, None, True

    def _checked_write(self, decision: object, candidates: tuple[Token, ...]) -> tuple[Token, ...]:
        name = type(self.policy).__name__
        if not isinstance(decision, Write):
            raise ValueError(
                f"policy {name} must return Read() or Write(tokens), but returned {decision!r}."
            )
        tokens = decision.tokens
        if tokens != candidates[: len(tokens)]:
            raise ValueError(
                f"policy {name} must write a prefix of the model's candidates "
                f"{[t.piece for t in candidates]}, but wrote {[t.piece for t in tokens]}."
            )
        if any(t.ends_sentence for t in tokens):
            raise ValueError(
                f"policy {name} must not write the end of sentence (the loop writes it once the "
                "source has ended); use `view.writable`."
            )
        return tokens

    def _state_after(self, states: list[tuple[int, Any]], tokens: list[Token], count: int) -> Any:
        """The model state after the first ``count`` tentative tokens (re-writing at most one write)."""
        done, state = max((item for item in states if item[0] <= count), key=lambda item: item[0])
        if done < count:
            state = self.model.write(state, tokens[done:count])
        return state

    def _elapsed_ms(self, step_start: float, now: float) -> float:
        delay_ms = self.progress.source_ms
        if self.clock is ElapsedClock.SIMULEVAL:
            assert self._start_time is not None  # set by the first push
            return delay_ms + (now - self._start_time) * 1000
        self._finish_ms = max(delay_ms, self._finish_ms) + (now - step_start) * 1000
        return self._finish_ms

    def _commit(self, tokens: Sequence[Token], elapsed_ms: float) -> list[Emission]:
        progress = self.progress
        source_ms = samples_to_ms(progress.num_samples_read, progress.sample_rate)
        emissions: list[Emission] = []
        for token in tokens:
            progress.committed.append(
                CommittedToken(
                    token=token,
                    source_samples=progress.num_samples_read,
                    source_ms=source_ms,
                    elapsed_ms=elapsed_ms,
                )
            )
            emissions += self._words.add(token, source_ms, elapsed_ms)
        self._written += tuple(tokens)
        return emissions


def _through_end_of_sentence(candidates: tuple[Token, ...]) -> tuple[Token, ...]:
    """The candidates up to and including the first end of sentence."""
    for position, token in enumerate(candidates):
        if token.ends_sentence:
            return candidates[: position + 1]
    return candidates
