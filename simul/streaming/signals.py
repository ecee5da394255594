"""What a policy asks a model for (typed signal requests), what a model serves, and what comes back.

A policy states :class:`Requirements`: a set of typed requests, each a frozen dataclass holding
the parameters the model needs to compute that signal (:class:`CrossAttention` of a decoder
layer, :class:`PChoose` with its threshold and first layer, :class:`Hypothesis`,
:class:`EmissionFrames`, :class:`CandidateScores`).  A model declares the request *types* it
serves (``capabilities``); the loop refuses a mismatch before any audio is read
(:func:`~simul.streaming.session.check_compatible`).  At every decision point the model returns
:class:`Signals`:

- always ``candidates``: the tokens the model would write next, in order.  A step-by-step decoder
  proposes exactly one (the next token, from the greedy step or the best beam); with
  :class:`Hypothesis` it proposes the whole continuation of the written prefix, up to and
  including its end-of-sentence token; a transducer (:class:`EmissionFrames`) proposes the tokens
  its search emitted on the frames received and not yet written, possibly none (blank);
- by request, per candidate: cross-attention rows, monotonic p_choose, emission frames, the
  log-probability and entropy the model gave it.

Adding a signal is one request type here (its parameters and :meth:`SignalRequest.check` of the
value), one field of :class:`Signals`, and the models that serve it; no policy, model or loop code
that does not use it changes.  :class:`Capability` names the built-in request types.

C: candidates; H: attention heads (monotonic heads for p_choose); T: encoder frames received.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import ClassVar, TypeVar, final

import torch

from simul.streaming.tokens import Token

__all__ = [
    "CandidateScores",
    "CandidateScoresValue",
    "Capability",
    "CrossAttention",
    "EmissionFrames",
    "Hypothesis",
    "PChoose",
    "Requirements",
    "SignalRequest",
    "Signals",
    "capability_names",
]

RequestT = TypeVar("RequestT", bound="SignalRequest")


@dataclass(frozen=True)
class SignalRequest:
    """A signal a policy asks for, with the parameters the model needs to compute it.

    Subclasses are ``@final`` frozen dataclasses that set :attr:`name` and override
    :meth:`check` when the signal has a value in :class:`Signals` to check.
    """

    name: ClassVar[str]
    """The signal's name in messages (``"cross_attention"``)."""

    def check(self, signals: Signals, where: str) -> None:
        """Raise a ``ValueError`` starting with ``where`` if ``signals`` lacks this one or it is misshapen.

        The default checks nothing: a request such as :class:`Hypothesis` changes what the
        candidates are and has no value of its own.
        """
        return None


def _check_rows(value: torch.Tensor | None, name: str, signals: Signals, where: str) -> None:
    """``value`` must be (C, H, T) for the candidates and frames of ``signals``."""
    count = len(signals.candidates)
    if value is None:
        raise ValueError(f"{where}: `{name}` is required by the policy but is missing.")
    if value.dim() != 3 or value.shape[0] != count or value.shape[2] != signals.num_frames:
        raise ValueError(
            f"{where}: `{name}` must have shape ({count}, H, {signals.num_frames}) "
            f"(candidates, heads, frames), but has shape {tuple(value.shape)} instead."
        )


@final
@dataclass(frozen=True)
class CrossAttention(SignalRequest):
    """Per candidate, the cross-attention of decoder layer ``layer`` over the received frames."""

    name: ClassVar[str] = "cross_attention"
    layer: int
    """Decoder layer (0-based; negative counts from the top); the model checks it."""

    def __post_init__(self) -> None:
        if isinstance(self.layer, bool) or not isinstance(self.layer, int):
            raise ValueError(
                f"`policy.attention.layer` (the cross-attention layer) must be an int, but is "
                f"{self.layer!r} instead."
            )

    def check(self, signals: Signals, where: str) -> None:
        _check_rows(signals.cross_attention, "cross_attention", signals, where)

    def check_layer(self, num_layers: int, whose: str = "this model's") -> None:
        """Raise a ``ValueError`` unless ``layer`` is one of ``num_layers`` decoder layers.

        The message names the key a user sets (``--set policy.attention.layer=N`` of EDAtt and
        AlignAtt), not this request's field.
        """
        if not -num_layers <= self.layer < num_layers:
            raise ValueError(
                f"`policy.attention.layer` (the cross-attention layer) must be in "
                f"[{-num_layers}, {num_layers}) for {whose} {num_layers} decoder layers, but is "
                f"{self.layer} instead."
            )


@final
@dataclass(frozen=True)
class PChoose(SignalRequest):
    """Per candidate, monotonic attention's stopping probability per head and received step."""

    name: ClassVar[str] = "p_choose"
    threshold: float = 0.5
    """Where a monotonic head stops for a written token: its first step with p_choose >= this."""
    start_layer: int = 0
    """The first decoder layer (0-based) whose monotonic heads are covered (EMMA's
    ``--p-choose-start-layer``); the model checks it against its layers."""

    def __post_init__(self) -> None:
        start = self.start_layer
        if isinstance(start, bool) or not isinstance(start, int) or start < 0:
            raise ValueError(
                f"`p_choose_start_layer` must be an int >= 0, but is {start!r} instead."
            )
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(
                f"`p_choose_threshold` must be in (0, 1], but is {self.threshold} instead."
            )

    def check(self, signals: Signals, where: str) -> None:
        _check_rows(signals.p_choose, "p_choose", signals, where)


@final
@dataclass(frozen=True)
class Hypothesis(SignalRequest):
    """The candidates are the model's whole hypothesis on the received prefix (to its EOS)."""

    name: ClassVar[str] = "hypothesis"


@final
@dataclass(frozen=True)
class EmissionFrames(SignalRequest):
    """The candidates are a transducer's emissions, each with the encoder frame that emitted it."""

    name: ClassVar[str] = "transducer"

    def check(self, signals: Signals, where: str) -> None:
        frames, count = signals.emission_frames, len(signals.candidates)
        if frames is None or len(frames) != count:
            raise ValueError(
                f"{where}: `emission_frames` must hold one frame per candidate ({count}), "
                f"but is {frames!r} instead."
            )


@final
@dataclass(frozen=True, eq=False)
class CandidateScoresValue:
    """How sure the model was of each candidate (the value of :class:`CandidateScores`).

    Attributes:
        log_prob: (C,) the log-probability the model gave each candidate at the step that
            predicted it (given the candidates before it).
        entropy: (C,) the entropy, in nats, of the model's next-token distribution at that step.
    """

    log_prob: torch.Tensor
    entropy: torch.Tensor


@final
@dataclass(frozen=True)
class CandidateScores(SignalRequest):
    """Per candidate, its log-probability and the entropy of the distribution it was chosen from."""

    name: ClassVar[str] = "candidate_scores"

    def check(self, signals: Signals, where: str) -> None:
        value, count = signals.candidate_scores, len(signals.candidates)
        if value is None:
            raise ValueError(
                f"{where}: `candidate_scores` is required by the policy but is missing."
            )
        shapes = (tuple(value.log_prob.shape), tuple(value.entropy.shape))
        if shapes != ((count,), (count,)):
            raise ValueError(
                f"{where}: `candidate_scores` must hold ({count},) log-probabilities and entropies, "
                f"but has shapes {shapes} instead."
            )


@final
class Capability:
    """The built-in signal request types, by name: a model's ``capabilities`` is a set of these.

    A new signal needs no entry here: its request type is its capability.
    """

    CROSS_ATTENTION = CrossAttention
    HYPOTHESIS = Hypothesis
    P_CHOOSE = PChoose
    TRANSDUCER = EmissionFrames
    CANDIDATE_SCORES = CandidateScores


def capability_names(capabilities: Iterable[type[SignalRequest]]) -> str:
    """``"cross_attention, hypothesis"``, sorted, or ``"none"``: for messages."""
    return ", ".join(sorted(c.name for c in capabilities)) or "none"


@final
@dataclass(frozen=True, init=False)
class Requirements:
    """What a policy reads: typed signal requests, at most one of each type.

    ``Requirements(CrossAttention(layer=2), Hypothesis())`` is how a policy states them.  The
    keywords are a shorthand for the built-in requests' parameters:
    ``capabilities={CROSS_ATTENTION, ...}`` with ``attention_layer``, and ``p_choose_threshold``
    / ``p_choose_start_layer`` (which ask for :class:`PChoose`); both spellings give equal values.

    Attributes:
        requests: the requests.
    """

    requests: frozenset[SignalRequest]

    def __init__(
        self,
        *requests: SignalRequest,
        capabilities: Iterable[type[SignalRequest]] = frozenset(),
        attention_layer: int | None = None,
        p_choose_threshold: float | None = None,
        p_choose_start_layer: int | None = None,
    ) -> None:
        kinds = frozenset(capabilities)
        if not all(isinstance(k, type) and issubclass(k, SignalRequest) for k in kinds):
            raise ValueError(
                f"`capabilities` must be SignalRequest types, but is {capabilities!r} instead."
            )
        if (CrossAttention in kinds) != (attention_layer is not None):
            raise ValueError(
                "`attention_layer` must be given exactly when cross_attention is required, but "
                f"is {attention_layer!r} with capabilities {capability_names(kinds)}."
            )
        found = list(requests)
        for kind in sorted(kinds - {CrossAttention, PChoose}, key=lambda k: k.name):
            try:
                found.append(kind())
            except TypeError:
                raise ValueError(
                    f"`capabilities` names only requests without parameters, but {kind.__name__} "
                    f"has some: pass {kind.__name__}(...) itself."
                ) from None
        if attention_layer is not None:
            found.append(CrossAttention(layer=attention_layer))
        if PChoose in kinds or p_choose_threshold is not None or p_choose_start_layer is not None:
            found.append(
                PChoose(
                    threshold=0.5 if p_choose_threshold is None else p_choose_threshold,
                    start_layer=0 if p_choose_start_layer is None else p_choose_start_layer,
                )
            )
        if not all(isinstance(r, SignalRequest) for r in found):
            raise ValueError(f"`requests` must be SignalRequest values, but are {found!r}.")
        types = [type(r) for r in found]
        twice = sorted({t.name for t in types if types.count(t) > 1})
        if twice:
            raise ValueError(
                f"`requests` must ask for each signal once, but ask twice for {twice}."
            )
        object.__setattr__(self, "requests", frozenset(found))

    @property
    def capabilities(self) -> frozenset[type[SignalRequest]]:
        """The request types asked for (the model must serve every one)."""
        return frozenset(type(r) for r in self.requests)

    def get(self, kind: type[RequestT]) -> RequestT | None:
        """The request of type ``kind``, or ``None`` when the policy does not ask for it."""
        for request in self.requests:
            if isinstance(request, kind):
                return request
        return None

    @property
    def attention_layer(self) -> int | None:
        """The decoder layer of the :class:`CrossAttention` request, or ``None``."""
        request = self.get(CrossAttention)
        return None if request is None else request.layer

    @property
    def p_choose(self) -> PChoose:
        """The :class:`PChoose` request, or its defaults when the policy asks for none."""
        request = self.get(PChoose)
        return PChoose() if request is None else request


@dataclass(frozen=True, eq=False)
class Signals:
    """What the model shows the policy at one decision point (see the module doc).

    Attributes:
        candidates: the tokens the model would write next, in order (C of them).
        num_frames: T, encoder frames received so far (the width of the attention rows).
        cross_attention: (C, H, T) float, for :class:`CrossAttention`: the requested layer's
            attention weights of each candidate over the received frames (rows sum to 1).
        p_choose: (C, H, T) float, for :class:`PChoose`: each monotonic head's stopping
            probability at each received step, 0 before the step where it stopped for the
            previous token (H: the heads of every layer from its ``start_layer``, layer-major).
        emission_frames: (C,), for :class:`EmissionFrames`: the encoder frame that emitted each
            candidate.
        candidate_scores: for :class:`CandidateScores`: each candidate's log-probability and
            the entropy of its step's distribution.
    """

    candidates: tuple[Token, ...]
    num_frames: int
    cross_attention: torch.Tensor | None = None
    p_choose: torch.Tensor | None = None
    emission_frames: tuple[int, ...] | None = field(default=None)
    candidate_scores: CandidateScoresValue | None = None

    def check(self, requirements: Requirements, model_name: str) -> None:
        """Raise a ``ValueError`` naming ``model_name`` if a required signal is missing or misshapen."""
        where = f"model {model_name}'s signals"
        if self.num_frames < 0:
            raise ValueError(
                f"{where}: `num_frames` must be >= 0, but is {self.num_frames} instead."
            )
        for request in sorted(requirements.requests, key=lambda r: r.name):
            request.check(self, where)
