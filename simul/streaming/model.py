"""The streaming-model protocol: what any model (transducer, AED, monotonic, external) implements.

The loop (:mod:`simul.streaming.session`) drives a model through five calls and knows nothing
else about it; the model never imports a policy:

- ``new_state()``: the state of an utterance before any source;
- ``read(state, samples, source_finished=...)``: consume the next source segment *incrementally*
  (fbank and encoder caches in the state; never re-encode the prefix unless the model documents
  that it does, as a full-context encoder must);
- ``signals(state, requirements)``: the candidates and, by capability, the signals a policy asked
  for (:mod:`simul.streaming.signals`);
- ``write(state, tokens)``: advance the decoder over tokens the policy wrote (a prefix of the
  candidates of that state);
- ``capabilities``: which signal request types the model serves;

and two attributes its ``__init__`` sets: ``sample_rate`` (of the samples ``read`` takes) and
``output_streams``.

States are values: ``read`` and ``write`` return a new state and leave their input usable, because
the loop branches (it writes tentatively and, with whole-word emission, continues from an earlier
state).  Use frozen dataclasses whose tensors are never modified in place (``torch.cat``, not
``copy_``); a cache that is expensive to copy can be shared between states as long as it is
append-only and each state records how much of it is its own.

Adding a model family: implement this class over the family's steps (see
:class:`simul.streaming.toy.ToyModel`, which implements every capability and is the reference for
the contract), then a :class:`simul.families.base.Family` whose ``streaming_model`` wraps the
trained model in it, registered in :mod:`simul.families.registry` or through the
``simul.families`` entry-point group, so that ``simul eval --checkpoint`` finds it by the
checkpoint's family.  The built-in ones show the three usual shapes:
:class:`~simul.families.transducer.streaming.TransducerStreamingModel` (the model emits by itself),
:class:`~simul.streaming.attention_decoder.AttentionDecoderStreamingModel` over a backend (an
attention decoder re-run on the prefix: the AED and fairseq2's S2T models) and
:class:`~simul.families.monotonic.streaming.MonotonicStreamingModel` (p_choose signals).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

import torch

from simul.streaming.signals import Requirements, SignalRequest, Signals
from simul.streaming.tokens import Token

__all__ = ["StreamingModel"]

StateT = TypeVar("StateT")


class StreamingModel(ABC, Generic[StateT]):
    """A model the simultaneous loop can drive (see the module doc for the contract)."""

    @property
    @abstractmethod
    def capabilities(self) -> frozenset[type[SignalRequest]]:
        """The signals :meth:`signals` can compute."""

    sample_rate: int
    """The rate :meth:`read` expects its samples at, in Hz (set in ``__init__``)."""
    output_streams: tuple[str, ...]
    """The streams the model writes (``("st",)``, ``("asr", "st")``); pieces before any stream
    tag belong to the first one (set in ``__init__``)."""

    @abstractmethod
    def new_state(self) -> StateT:
        """The state of a new utterance (nothing read, nothing written)."""

    @abstractmethod
    def read(self, state: StateT, samples: torch.Tensor, *, source_finished: bool) -> StateT:
        """Consume the next source segment.

        Args:
            state: the utterance's state.
            samples: (N,) float32 mono samples in [-1, 1] at :attr:`sample_rate`; N >= 0.
            source_finished: whether this is the last segment (flush any look-ahead buffer).
        """

    @abstractmethod
    def signals(self, state: StateT, requirements: Requirements) -> Signals:
        """The candidates and the required signals at this point (pure: ``state`` is unchanged)."""

    @abstractmethod
    def write(self, state: StateT, tokens: Sequence[Token]) -> StateT:
        """Advance over ``tokens``, a non-empty prefix of ``signals(state, ...).candidates``."""

    def check_requirements(self, requirements: Requirements) -> None:
        """Raise a ``ValueError`` if this model cannot meet ``requirements`` beyond its
        capabilities (e.g. an attention layer it does not have).  The default checks nothing."""

    def describe(self) -> dict[str, Any]:
        """What identifies the model in a results file (family, config, checkpoint)."""
        return {"model": type(self).__name__}
