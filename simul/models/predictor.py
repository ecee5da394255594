"""Transducer prediction networks: an LSTM, and a stateless one that sees the last few tokens.

The predictor is the transducer's label-side model: it reads the tokens emitted so far (starting
with blank as the start symbol) and produces one vector per position for the joiner.  Two kinds,
over one interface (:class:`Predictor`), so that a search calls either the same way:

- :class:`LstmPredictor`: embedding, LSTM (Graves 2012; the T-T of Zhang et al. 2020 uses a
  Transformer "label encoder", an LSTM is the common cheap choice).  State: ``(hidden, cell)``.
- :class:`StatelessPredictor`: embedding of the last ``context_size`` tokens mixed by a
  depthwise convolution (Ghodsi et al. 2020, "RNN-Transducer with stateless prediction network",
  as in k2/icefall's ``pruned_transducer_stateless``).  State: the previous ``context_size - 1``
  tokens.  No recurrence: cheaper, and beam hypotheses that end alike merge naturally.

One call serves training and search: ``forward(tokens (B, S), state)`` runs S positions from
``state`` and returns the new state, so training runs the whole ``[blank] + targets`` sequence
from :meth:`Predictor.init_state` and a search runs one token at a time; both give the same
outputs (tested).  States are frozen dataclasses (STYLE.md section 4) with ``reorder`` (beam
search picks rows), ``stack``/``unstack`` (batch hypotheses; a tested inverse pair) and
``size_bytes``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, final

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from typing_extensions import Self, override

__all__ = [
    "LstmPredictor",
    "LstmState",
    "Predictor",
    "PredictorConfig",
    "PredictorState",
    "StatelessPredictor",
    "StatelessState",
    "build_predictor",
]

PredictorKind = Literal["lstm", "stateless"]
_KINDS = ("lstm", "stateless")


@dataclass(kw_only=True)
class PredictorConfig:
    """Sizes of a transducer prediction network (part of the transducer's config)."""

    kind: PredictorKind = "lstm"
    """``"lstm"`` (embedding + LSTM) or ``"stateless"`` (embedding + depthwise conv on the last tokens)."""
    embedding_dim: int = 256
    """Size of a token embedding (also the output size of the stateless predictor)."""
    hidden_dim: int = 320
    """LSTM hidden size, the output size of the LSTM predictor (unused by ``stateless``)."""
    num_layers: int = 1
    """LSTM layers (unused by ``stateless``)."""
    context_size: int = 2
    """Tokens the stateless predictor sees, the current one included (unused by ``lstm``)."""
    dropout_p: float = 0.1
    """Dropout on the embeddings and on the output."""

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"`kind` must be one of {_KINDS}, but is {self.kind!r} instead.")
        for name in ("embedding_dim", "hidden_dim", "num_layers", "context_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"`{name}` must be an int > 0, but is {value!r} instead.")
        if not 0.0 <= self.dropout_p < 1.0:
            raise ValueError(f"`dropout_p` must be in [0, 1), but is {self.dropout_p} instead.")

    @property
    def output_dim(self) -> int:
        """Size of the vectors the predictor gives the joiner."""
        return self.hidden_dim if self.kind == "lstm" else self.embedding_dim


class PredictorState(ABC):
    """What a predictor carries from one call to the next, for a batch of B hypotheses."""

    @property
    @abstractmethod
    def batch_size(self) -> int:
        """B."""

    @abstractmethod
    def reorder(self, new_order: Tensor) -> Self:
        """The states of rows ``new_order`` (B',) int64, in that order (beam search)."""

    @classmethod
    @abstractmethod
    def stack(cls, states: Sequence[Self]) -> Self:
        """One state holding the rows of ``states`` in order (inverse of :meth:`unstack`)."""

    @abstractmethod
    def unstack(self) -> list[Self]:
        """One state per row (inverse of :meth:`stack`)."""

    @abstractmethod
    def size_bytes(self) -> int:
        """Memory held, in bytes."""


@final
@dataclass(frozen=True)
class LstmState(PredictorState):
    """LSTM state of B hypotheses.

    Attributes:
        hidden: (L, B, H).
        cell: (L, B, H).
    """

    hidden: Tensor
    cell: Tensor

    @property
    @override
    def batch_size(self) -> int:
        return self.hidden.shape[1]

    @override
    def reorder(self, new_order: Tensor) -> LstmState:
        return LstmState(
            self.hidden.index_select(1, new_order), self.cell.index_select(1, new_order)
        )

    @classmethod
    @override
    def stack(cls, states: Sequence[LstmState]) -> LstmState:
        return cls(
            torch.cat([state.hidden for state in states], dim=1),
            torch.cat([state.cell for state in states], dim=1),
        )

    @override
    def unstack(self) -> list[LstmState]:
        return [
            LstmState(self.hidden[:, row : row + 1], self.cell[:, row : row + 1])
            for row in range(self.batch_size)
        ]

    @override
    def size_bytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (self.hidden, self.cell))


@final
@dataclass(frozen=True)
class StatelessState(PredictorState):
    """Token history of B hypotheses for the stateless predictor.

    Attributes:
        context: (B, C - 1) int64, the tokens before the next input, oldest first (blank at start).
    """

    context: Tensor

    @property
    @override
    def batch_size(self) -> int:
        return self.context.shape[0]

    @override
    def reorder(self, new_order: Tensor) -> StatelessState:
        return StatelessState(self.context.index_select(0, new_order))

    @classmethod
    @override
    def stack(cls, states: Sequence[StatelessState]) -> StatelessState:
        return cls(torch.cat([state.context for state in states], dim=0))

    @override
    def unstack(self) -> list[StatelessState]:
        return [StatelessState(self.context[row : row + 1]) for row in range(self.batch_size)]

    @override
    def size_bytes(self) -> int:
        return self.context.numel() * self.context.element_size()


class Predictor(nn.Module, ABC):
    """A transducer prediction network: tokens in, one vector per token out, with a state.

    B: batch size (or hypotheses); S: positions in this call; P: ``output_dim``.
    """

    output_dim: int
    blank_id: int

    @abstractmethod
    def init_state(self, batch_size: int, *, device: torch.device | None = None) -> PredictorState:
        """The state before the first token (the start symbol is blank, given as the first input)."""

    @abstractmethod
    def forward(self, tokens: Tensor, state: PredictorState) -> tuple[Tensor, PredictorState]:
        """Run S positions.

        Args:
            tokens: (B, S) int64 token ids (training: ``[blank] + targets``, padding as blank).
            state: the state before ``tokens``.

        Returns:
            ``(out (B, S, P), state after the S tokens)``.
        """


def _check_tokens(tokens: Tensor, state: PredictorState) -> None:
    if tokens.dim() != 2 or tokens.dtype != torch.int64:
        raise ValueError(
            f"`tokens` must be a (B, S) int64 tensor, but is {tuple(tokens.shape)} "
            f"{tokens.dtype} instead."
        )
    if tokens.shape[0] != state.batch_size:
        raise ValueError(
            f"`tokens` must have the state's batch size {state.batch_size}, "
            f"but has {tokens.shape[0]} rows instead."
        )


@final
class LstmPredictor(Predictor):
    """Embedding, dropout, LSTM, dropout.

    Args:
        vocab_size: V, blank included.
        blank_id: the blank (start symbol); its embedding is learned like any other.
        config: sizes.

    Examples:
        >>> predictor = LstmPredictor(vocab_size=10, blank_id=1, config=PredictorConfig())
        >>> out, state = predictor(torch.tensor([[1, 4, 5]]), predictor.init_state(1))
        >>> out.shape
        torch.Size([1, 3, 320])
    """

    def __init__(self, *, vocab_size: int, blank_id: int, config: PredictorConfig) -> None:
        super().__init__()
        self.blank_id = blank_id
        self.output_dim = config.hidden_dim
        self.embedding = nn.Embedding(vocab_size, config.embedding_dim)
        self.lstm = nn.LSTM(
            config.embedding_dim, config.hidden_dim, num_layers=config.num_layers, batch_first=True
        )
        self.dropout = nn.Dropout(config.dropout_p)

    @override
    def init_state(self, batch_size: int, *, device: torch.device | None = None) -> LstmState:
        weight = self.embedding.weight
        shape = (self.lstm.num_layers, batch_size, self.lstm.hidden_size)
        zeros = torch.zeros(
            shape, device=weight.device if device is None else device, dtype=weight.dtype
        )
        return LstmState(zeros, zeros)

    @override
    def forward(self, tokens: Tensor, state: PredictorState) -> tuple[Tensor, LstmState]:
        if not isinstance(state, LstmState):
            raise ValueError(
                f"`state` must be an LstmState, but is {type(state).__name__} instead."
            )
        _check_tokens(tokens, state)
        embedded = self.dropout(self.embedding(tokens))  # (B, S, E)
        out, (hidden, cell) = self.lstm(embedded, (state.hidden, state.cell))  # (B, S, H)
        return self.dropout(out), LstmState(hidden, cell)


@final
class StatelessPredictor(Predictor):
    """Embedding of the last ``context_size`` tokens, depthwise convolution over them, ReLU.

    With ``context_size == 1`` the output is the current token's embedding (a bigram model).

    Args:
        vocab_size: V, blank included.
        blank_id: the blank (start symbol, and the history before it).
        config: sizes.
    """

    def __init__(self, *, vocab_size: int, blank_id: int, config: PredictorConfig) -> None:
        super().__init__()
        self.blank_id = blank_id
        self.output_dim = config.embedding_dim
        self.context_size = config.context_size
        self.embedding = nn.Embedding(vocab_size, config.embedding_dim)
        self.conv = (
            nn.Conv1d(
                config.embedding_dim,
                config.embedding_dim,
                kernel_size=config.context_size,
                groups=config.embedding_dim,
                bias=False,
            )
            if config.context_size > 1
            else None
        )
        self.dropout = nn.Dropout(config.dropout_p)

    @override
    def init_state(self, batch_size: int, *, device: torch.device | None = None) -> StatelessState:
        device = self.embedding.weight.device if device is None else device
        context = torch.full(
            (batch_size, self.context_size - 1), self.blank_id, dtype=torch.int64, device=device
        )
        return StatelessState(context)

    @override
    def forward(self, tokens: Tensor, state: PredictorState) -> tuple[Tensor, StatelessState]:
        if not isinstance(state, StatelessState):
            raise ValueError(
                f"`state` must be a StatelessState, but is {type(state).__name__} instead."
            )
        _check_tokens(tokens, state)
        history = torch.cat([state.context, tokens], dim=1)  # (B, C - 1 + S)
        embedded = self.dropout(self.embedding(history))  # (B, C - 1 + S, E)
        if self.conv is not None:
            embedded = F.relu(self.conv(embedded.transpose(1, 2)).transpose(1, 2))  # (B, S, E)
        new_state = StatelessState(history[:, history.shape[1] - (self.context_size - 1) :])
        return self.dropout(embedded), new_state


def build_predictor(*, vocab_size: int, blank_id: int, config: PredictorConfig) -> Predictor:
    """The predictor ``config.kind`` names."""
    if config.kind == "lstm":
        return LstmPredictor(vocab_size=vocab_size, blank_id=blank_id, config=config)
    return StatelessPredictor(vocab_size=vocab_size, blank_id=blank_id, config=config)
