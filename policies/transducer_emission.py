"""The transducer's native emission: write what the search emits; blank is READ.

A transducer's search (``simul.families.transducer.search``) emits tokens on the encoder frames it
has; it proposes them as candidates, each with the frame that emitted it.  This policy writes them
as they come, optionally ``extra_delay_frames`` later: a token emitted by frame j is written only
once frame j + extra_delay_frames has been received (a wait-k-style delay measured in encoder
frames, 40 ms each).  The model's chunk size (its look-ahead) is the other latency knob; it is
fixed at training.  For a delay counted in segments or words instead, run ``WaitK`` on the
transducer.

Whole words: a transducer proposes no look-ahead (only what it has emitted), so with
``whole_words`` (the default) a word is committed when the search emits the start of the next one,
and the last word at the end of the source; a word's delay is then the time it was known to be
complete, which is what a SimulEval agent can report.  ``whole_words=False`` commits every piece
as emitted and gives each word the time of its last piece (the latency of a display that shows
pieces as they come).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import final

from typing_extensions import override

from simul.streaming import Capability, Decision, DecisionView, Policy, Read, Requirements, Write

__all__ = ["TransducerEmission"]


@final
@dataclass(frozen=True, kw_only=True)
class TransducerEmission(Policy):
    """Native transducer emission (see the module doc)."""

    extra_delay_frames: int = 0
    """Encoder frames to receive after the emitting frame before a token is written."""

    def __post_init__(self) -> None:
        super().__post_init__()
        delay = self.extra_delay_frames
        if isinstance(delay, bool) or not isinstance(delay, int) or delay < 0:
            raise ValueError(f"`extra_delay_frames` must be an int >= 0, but is {delay!r} instead.")

    @property
    @override
    def requires(self) -> Requirements:
        return Requirements(capabilities=frozenset({Capability.TRANSDUCER}))

    @override
    def decide(self, view: DecisionView) -> Decision:
        writable = view.writable
        frames = view.signals.emission_frames or ()
        count = 0
        for frame in frames[: len(writable)]:
            if frame + self.extra_delay_frames >= view.signals.num_frames:
                break
            count += 1
        return Write(writable[:count]) if count > 0 else Read()
