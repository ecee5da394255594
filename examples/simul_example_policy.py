"""A read/write policy from outside simul: wait k segments, then write while the model is sure.

What a researcher writes to add a policy without touching simul (README, "Write your own
policy"): a frozen dataclass of hyperparameters, the signals it reads, one decision rule.  The
package declares it::

    [project.entry-points."simul.policies"]
    wait_then_sure = "simul_example_policy:WaitThenSure"

and ``simul eval --policy wait_then_sure --set policy.k=3`` runs it.  ``tests/test_families.py``
installs this file as such a package and runs it through the loop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import final

from simul.streaming import (
    CandidateScores,
    Decision,
    DecisionView,
    Policy,
    Read,
    Requirements,
    Write,
)


@final
@dataclass(frozen=True, kw_only=True)
class WaitThenSure(Policy):
    """Read the first ``k`` segments; then write each candidate the model gives ``min_probability``."""

    k: int = 2
    """Segments read before the first write."""
    min_probability: float = 0.5
    """A candidate is written only if the model gave it at least this probability."""

    @property
    def requires(self) -> Requirements:
        return Requirements(CandidateScores())  # a typed signal request: log-probability, entropy

    def decide(self, view: DecisionView) -> Decision:
        scores = view.signals.candidate_scores
        if view.num_segments < self.k or not view.writable or scores is None:
            return Read()
        sure = scores.log_prob[: len(view.writable)] >= math.log(self.min_probability)
        count = int(sure.int().cumprod(dim=0).sum())  # the longest sure prefix
        return Write(view.writable[:count]) if count else Read()
