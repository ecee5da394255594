"""The simultaneous loop: any model, any policy, one loop, exact timing.

Types everything speaks: :class:`Token`, :class:`Read`/:class:`Write`, :class:`Signals` and the
typed requests a policy asks them by (:class:`Requirements` of :class:`SignalRequest` values:
:class:`CrossAttention`, :class:`PChoose`, :class:`Hypothesis`, :class:`EmissionFrames`,
:class:`CandidateScores`), :class:`DecisionView`, :class:`Emission`.  Interfaces:
:class:`StreamingModel` (models) and :class:`Policy` (policies, implemented in the top-level
``policies`` package).  The loop: :class:`StreamingSession` (one segment at a time; the SimulEval
agent drives it) and :func:`simulate` (one instance, SimulEval's segmentation);
:func:`simulate_corpus` runs a test set and writes ``instances.log``.  :class:`ToyModel` is a
deterministic model with every capability, for tests and for ``simul eval --model toy``.
Checkpoints become streaming models through :mod:`simul.families.loading` (a layer above this
one: the families build on the loop's types).
"""

from simul.streaming.actions import Decision, Read, Write
from simul.streaming.corpus import simulate_corpus
from simul.streaming.model import StreamingModel
from simul.streaming.policy import DecisionView, EndOfSource, Policy
from simul.streaming.progress import CommittedToken, UtteranceProgress
from simul.streaming.result import UtteranceResult, stream_references
from simul.streaming.session import (
    DEFAULT_MAX_TOKENS,
    ElapsedClock,
    StreamingSession,
    check_compatible,
    complete_prefix_length,
)
from simul.streaming.signals import (
    CandidateScores,
    CandidateScoresValue,
    Capability,
    CrossAttention,
    EmissionFrames,
    Hypothesis,
    PChoose,
    Requirements,
    SignalRequest,
    Signals,
)
from simul.streaming.simulate import iter_segments, segment_num_samples, simulate, simulate_waveform
from simul.streaming.tokens import WORD_BOUNDARY, Token, TokenTable, writable_prefix
from simul.streaming.toy import ToyConfig, ToyMode, ToyModel
from simul.streaming.words import Emission, WordAssembler

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "WORD_BOUNDARY",
    "CandidateScores",
    "CandidateScoresValue",
    "Capability",
    "CrossAttention",
    "CommittedToken",
    "Decision",
    "DecisionView",
    "ElapsedClock",
    "Emission",
    "EmissionFrames",
    "EndOfSource",
    "Hypothesis",
    "PChoose",
    "Policy",
    "Read",
    "Requirements",
    "SignalRequest",
    "Signals",
    "StreamingModel",
    "StreamingSession",
    "Token",
    "TokenTable",
    "ToyConfig",
    "ToyMode",
    "ToyModel",
    "UtteranceProgress",
    "UtteranceResult",
    "WordAssembler",
    "Write",
    "check_compatible",
    "complete_prefix_length",
    "iter_segments",
    "segment_num_samples",
    "simulate",
    "simulate_corpus",
    "simulate_waveform",
    "stream_references",
    "writable_prefix",
]
