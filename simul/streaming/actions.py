"""A policy's answer at a decision point: read more source, or write tokens.

Tiny immutable values, like SimulEval's ``ReadAction``/``WriteAction``, but typed: a write always
holds a non-empty tuple of :class:`~simul.streaming.tokens.Token` (the model's own candidates, a
prefix of them), never a string whose meaning depends on a flag.
"""

from __future__ import annotations

from dataclasses import dataclass

from simul.streaming.tokens import Token

__all__ = ["Decision", "Read", "Write"]


@dataclass(frozen=True)
class Read:
    """Wait for the next source segment."""


@dataclass(frozen=True)
class Write:
    """Write these tokens now: a non-empty prefix of the model's candidates.

    Attributes:
        tokens: the tokens, in order.
    """

    tokens: tuple[Token, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.tokens, tuple) or not self.tokens:
            raise ValueError(
                f"`Write.tokens` must be a non-empty tuple, but is {self.tokens!r} instead."
            )
        for token in self.tokens:
            if not isinstance(token, Token):
                raise ValueError(f"`Write.tokens` must hold Token objects, but holds {token!r}.")


Decision = Read | Write
