"""LocalAgreement-n: write what the last n hypotheses agree on.

Liu, Spanakis, Niehues, "Low-Latency Sequence-to-Sequence Speech Recognition and Translation by
Partial Hypothesis Selection", Interspeech 2020 (arXiv:2005.11185), as in FBK's offline agent and
Whisper-Streaming: after each segment the model decodes the whole received audio, continuing the
written prefix; from the n-th segment on, the longest common prefix of the hypotheses of the last n
segments, beyond what is written, is written (no end of sentence).  During the first n - 1
segments nothing is written.  Needs a model whose candidates are its whole hypothesis.  n = 2 is
the published choice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import final

from typing_extensions import override

from simul.config import check_positive_int
from simul.streaming import (
    Decision,
    DecisionView,
    Hypothesis,
    Policy,
    Read,
    Requirements,
    Write,
    writable_prefix,
)

__all__ = ["LocalAgreement"]


@final
@dataclass(frozen=True, kw_only=True)
class LocalAgreement(Policy):
    """LocalAgreement-n (see the module doc)."""

    n: int = 2
    """Consecutive segments' hypotheses that must agree (1 writes every hypothesis at once)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive_int("n", self.n)

    @property
    @override
    def requires(self) -> Requirements:
        return Requirements(Hypothesis())

    @override
    def decide(self, view: DecisionView) -> Decision:
        if len(view.hypotheses) < self.n - 1:
            return Read()
        earlier = view.hypotheses[len(view.hypotheses) - (self.n - 1) :]
        start = len(view.written)
        current = view.writable
        others = [writable_prefix(hypothesis)[start:] for hypothesis in earlier]
        count = 0
        for position, token in enumerate(current):
            if not all(position < len(other) and other[position] == token for other in others):
                break
            count += 1
        return Write(current[:count]) if count > 0 else Read()
