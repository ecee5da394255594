"""The policy interface: hyperparameters in a frozen dataclass, one decision from one view.

A policy holds only hyperparameters; everything about the utterance in progress arrives in the
:class:`DecisionView` the loop builds at each decision point (the model's signals, what was
written, how much source was read, the model's earlier hypotheses).  So one policy object serves
every utterance and every thread, needs no ``reset()``, and its parameters are its identity
(recorded in every results file).  Concrete policies live in the top-level ``policies`` package.

Every policy shares three fields that say how the loop runs it: ``segment_ms`` (the source arrives
in segments of that size, SimulEval's ``--source-segment-size``; decisions happen only when a
segment has arrived, i.e. a fixed pre-decision of ``segment_ms``), ``end_of_source`` and
``whole_words`` (see :class:`EndOfSource` and :mod:`simul.streaming.session`).

Writing a policy (the built-in ones are examples: ``policies/waitk.py`` is the shortest)::

    @final
    @dataclass(frozen=True, kw_only=True)
    class EverySegment(Policy):
        "Write one token per segment."

        @property
        @override
        def requires(self) -> Requirements:
            return Requirements()

        @override
        def decide(self, view: DecisionView) -> Decision:
            writable = view.writable
            if not writable or view.num_written_in_segment > 0:
                return Read()
            return Write(writable[:1])
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from simul.config import check_positive_int, coerce_enum_fields, plain_values
from simul.data.instance import samples_to_ms
from simul.streaming.actions import Decision
from simul.streaming.signals import Requirements, Signals
from simul.streaming.tokens import Token, writable_prefix

__all__ = ["DecisionView", "EndOfSource", "Policy"]


class EndOfSource(enum.Enum):
    """What happens once the last source segment has been read."""

    FLUSH = "flush"
    """The policy is not asked again: the model writes its candidates until the end of sentence
    (FBK's agents' ``_emit_remaining_tokens``; what a SimulEval agent must do on its last call)."""
    POLICY = "policy"
    """The policy keeps deciding (``view.source_finished`` is true); at its first READ the
    utterance ends and whatever it left unwritten is dropped (an agent that does not flush)."""


@dataclass(frozen=True)
class DecisionView:
    """Everything a policy may read at one decision point (built by the loop; read-only).

    Attributes:
        signals: the model's candidates and, by capability, attention, p_choose, emission frames.
        written: every token written in this utterance so far, this segment's included.
        num_written_in_segment: how many of ``written`` were written since the last segment arrived.
        hypotheses: with a ``HYPOTHESIS`` model, the model's full hypothesis (written tokens, then
            candidates) at the first decision point of each earlier segment, oldest first; empty
            otherwise.
        num_segments: source segments received, the current one included.
        source_samples: source samples received.
        sample_rate: of the source, in Hz.
        source_finished: whether the last segment has been received.
    """

    signals: Signals
    written: tuple[Token, ...]
    num_written_in_segment: int
    hypotheses: tuple[tuple[Token, ...], ...]
    num_segments: int
    source_samples: int
    sample_rate: int
    source_finished: bool

    @property
    def source_ms(self) -> float:
        """Source received, in ms."""
        return samples_to_ms(self.source_samples, self.sample_rate)

    @property
    def writable(self) -> tuple[Token, ...]:
        """The candidates before the first end of sentence (the loop writes EOS itself)."""
        return writable_prefix(self.signals.candidates)


@dataclass(frozen=True, kw_only=True)
class Policy(ABC):
    """A read/write policy: hyperparameters (dataclass fields) and one decision rule.

    Subclasses are ``@final @dataclass(frozen=True, kw_only=True)``, add their own documented
    fields, call ``super().__post_init__()`` if they validate, and implement :attr:`requires` and
    :meth:`decide`.  Enum-typed fields also accept their values as strings.
    """

    segment_ms: int = 320
    """Source segment size, in ms: decisions happen once per segment (SimulEval's --source-segment-size)."""
    end_of_source: EndOfSource = EndOfSource.FLUSH
    """What happens after the last segment (see EndOfSource)."""
    whole_words: bool = True
    """Commit only complete words: the pieces of a word whose end is not yet known are taken back
    and proposed again after the next segment (FBK's agents' get_words)."""

    def __post_init__(self) -> None:
        coerce_enum_fields(self)
        check_positive_int("segment_ms", self.segment_ms)
        if not isinstance(self.end_of_source, EndOfSource):
            raise ValueError(
                f"`end_of_source` must be an EndOfSource, but is {self.end_of_source!r} instead."
            )

    @property
    @abstractmethod
    def requires(self) -> Requirements:
        """The capabilities this policy reads, and the parameters the model needs for them."""

    @abstractmethod
    def decide(self, view: DecisionView) -> Decision:
        """``Read()`` or ``Write(tokens)``, with ``tokens`` a non-empty prefix of ``view.writable``."""

    def parameters(self) -> dict[str, Any]:
        """Every field, as JSON-ready values (for provenance)."""
        return plain_values(self)
