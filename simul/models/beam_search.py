"""Greedy and beam search with a forced prefix, over any step-by-step decoder.

Why a forced prefix: an offline model run simultaneously (FBK's agents, LocalAgreement) decodes
the received audio again and again, each time *continuing what was already written*, which it can
no longer change; fairseq calls it ``prefix_tokens``.  The search here starts from the prefix in
one teacher-forced pass, then searches the continuation, and returns it with the cross-attention
of every new token (the attention at the step that predicted it, fairseq's ``hypo['attention']``),
which EDAtt/AlignAtt read.

Why over a :class:`StepDecoder`: the same search runs simul's own attention encoder-decoder
(:class:`simul.families.aed.search.AedStepDecoder`, also under the monotonic translator) and
external models such as fairseq2's S2T Transformer (:mod:`simul.families.fairseq2_s2t.model`),
each bound to its encoder output.

Beam search follows fairseq's ``SequenceGenerator``: K beams per utterance; at each step the top 2K
extensions are ranked; an end of sentence among the top K ends a hypothesis (its score divided by
``length ** length_penalty``, length counting the new tokens and EOS); the best non-EOS extensions
continue; an utterance is done when K hypotheses have ended.  At ``max_new_tokens`` only EOS is
allowed, so every search ends.  With ``beam_size=1`` this is exactly greedy search.

N: hypotheses (batch x beams); P: prefix length; V: vocabulary; L: decoder layers; H: heads;
T: encoder frames.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar, final

import torch
from torch import Tensor

from simul.config import check_positive_int

__all__ = [
    "Hypothesis",
    "StepDecoder",
    "StepScores",
    "beam_search",
    "max_target_length",
    "token_scores",
]

CacheT = TypeVar("CacheT")


@final
@dataclass(frozen=True, eq=False)
class StepScores:
    """A decoder's output for the next token of every hypothesis.

    Attributes:
        log_probs: (N, V) float32 log-probabilities of the next token.
        cross_attention: (N, L, H, T) every layer's cross-attention at this step, or ``None``
            when the decoder was not asked for it.
    """

    log_probs: Tensor
    cross_attention: Tensor | None


class StepDecoder(ABC, Generic[CacheT]):
    """A decoder bound to one encoder output (a batch of N utterances), as the search drives it.

    The cache type is the decoder's own; the search only passes it back and reorders it.  A
    decoder whose cache is mutable (fairseq2's ``IncrementalStateBag``) may update it in place and
    return it.
    """

    @property
    @abstractmethod
    def num_hypotheses(self) -> int:
        """N, utterances of the bound encoder output."""

    @abstractmethod
    def start(self, prefix: Tensor) -> tuple[StepScores, CacheT]:
        """Run the start token(s) and the forced ``prefix`` (N, P) in one pass.

        Returns:
            The scores of the token after the prefix, and the cache after it.
        """

    @abstractmethod
    def step(self, tokens: Tensor, cache: CacheT) -> tuple[StepScores, CacheT]:
        """Feed one token (N,) per hypothesis; the scores of the next one."""

    @abstractmethod
    def reorder(self, cache: CacheT, order: Tensor) -> CacheT:
        """The cache of hypotheses ``order`` (N',) (indices into the current ones)."""


@final
@dataclass(frozen=True, eq=False)
class Hypothesis:
    """The continuation a search found for one utterance.

    Attributes:
        tokens: the new tokens after the prefix, ending with EOS.
        score: their log-probability divided by ``len(tokens) ** length_penalty``.
        cross_attention: (len(tokens), L, H, T) the attention that predicted each token, or
            ``None`` without ``with_attention``.
        token_scores: (len(tokens), 2) float32, for each token the log-probability the model
            gave it and the entropy (nats) of the distribution it was chosen from, both before
            the length limit forces EOS.
    """

    tokens: tuple[int, ...]
    score: float
    cross_attention: Tensor | None
    token_scores: Tensor


def token_scores(log_probs: Tensor, tokens: Tensor) -> Tensor:
    """(N, 2): each row's log-probability of its ``tokens`` entry and its distribution's entropy.

    Args:
        log_probs: (N, V) log-probabilities.
        tokens: (N,) the chosen token of each row.
    """
    chosen = log_probs.gather(1, tokens[:, None].long())[:, 0]  # (N,)
    entropy = torch.special.entr(log_probs.exp()).sum(dim=1)  # (N,) -sum p log p, 0 log 0 = 0
    return torch.stack([chosen, entropy], dim=1).float()


def max_target_length(num_frames: int, *, max_len_a: float, max_len_b: int) -> int:
    """Most target tokens (EOS included) a search may write on ``num_frames`` encoder frames:
    ``ceil(max_len_a * num_frames) + max_len_b`` (fairseq's ``--max-len-a/--max-len-b``)."""
    return math.ceil(max_len_a * num_frames) + max_len_b


def beam_search(
    decoder: StepDecoder,
    prefixes: Sequence[Sequence[int]],
    *,
    eos_id: int,
    max_new_tokens: Sequence[int],
    beam_size: int = 1,
    length_penalty: float = 1.0,
) -> list[Hypothesis]:
    """The best continuation of each utterance's forced prefix (see the module doc).

    Args:
        decoder: bound to the encoder output of the N utterances.
        prefixes: N prefixes of equal length (the tokens already written).
        eos_id: the end-of-sentence id.
        max_new_tokens: per utterance, most new tokens, EOS included (>= 1).
        beam_size: K; 1 is greedy search.
        length_penalty: exponent of the length normalisation of ended hypotheses.

    Returns:
        One hypothesis per utterance, in order.
    """
    num_utterances = decoder.num_hypotheses
    if len(prefixes) != num_utterances or len(max_new_tokens) != num_utterances:
        raise ValueError(
            f"`prefixes` and `max_new_tokens` must have one entry per utterance ({num_utterances}), "
            f"but have {len(prefixes)} and {len(max_new_tokens)} instead."
        )
    if len({len(p) for p in prefixes}) > 1:
        raise ValueError(
            f"`prefixes` must all have the same length, but have lengths {sorted({len(p) for p in prefixes})}."
        )
    if any(m < 1 for m in max_new_tokens):
        raise ValueError(f"`max_new_tokens` must be >= 1, but is {list(max_new_tokens)} instead.")
    check_positive_int("beam_size", beam_size)
    beams = beam_size
    prefix_length = len(prefixes[0]) if prefixes else 0
    prefix = torch.tensor([list(p) for p in prefixes], dtype=torch.long).reshape(
        num_utterances, prefix_length
    )
    scores, cache = decoder.start(prefix)
    device = scores.log_probs.device
    prefix = prefix.to(device)
    expand = torch.arange(num_utterances, device=device).repeat_interleave(beams)  # (B * K,)
    cache = decoder.reorder(cache, expand)
    log_probs = scores.log_probs.index_select(0, expand)  # (B * K, V)
    attention = (
        None if scores.cross_attention is None else scores.cross_attention.index_select(0, expand)
    )
    vocab_size = log_probs.shape[1]
    beam_scores = torch.full((num_utterances, beams), -math.inf, device=device)
    beam_scores[:, 0] = 0.0
    sequences = torch.zeros(num_utterances * beams, 0, dtype=torch.long, device=device)
    history = (
        None
        if attention is None
        else attention.new_zeros((num_utterances * beams, 0, *attention.shape[1:]))
    )
    score_history = torch.zeros(num_utterances * beams, 0, 2, device=device)  # (B * K, t, 2)
    ended: list[list[Hypothesis]] = [[] for _ in range(num_utterances)]
    done = [False] * num_utterances
    limits = torch.tensor(list(max_new_tokens), device=device).repeat_interleave(beams)  # (B * K,)
    for position in range(max(max_new_tokens)):
        at_limit = limits <= position + 1  # (B * K,) only EOS allowed now
        model_log_probs = log_probs  # (B * K, V) what the model said, before the limit
        log_probs = torch.where(
            at_limit[:, None] & (torch.arange(vocab_size, device=device) != eos_id)[None, :],
            torch.full_like(log_probs, -math.inf),
            log_probs,
        )
        totals = (beam_scores.reshape(-1, 1) + log_probs).reshape(
            num_utterances, beams * vocab_size
        )
        top_scores, top_indices = totals.topk(min(2 * beams, beams * vocab_size), dim=1)  # (B, 2K)
        rows: list[int] = []
        next_tokens: list[int] = []
        next_scores: list[float] = []
        for utterance in range(num_utterances):
            chosen: list[tuple[int, int, float]] = []
            if not done[utterance]:
                for rank in range(top_scores.shape[1]):
                    value = float(top_scores[utterance, rank])
                    if value == -math.inf:
                        break
                    index = int(top_indices[utterance, rank])
                    row, token = utterance * beams + index // vocab_size, index % vocab_size
                    if token == eos_id:
                        if rank < beams and len(ended[utterance]) < beams:
                            tokens = (*sequences[row].tolist(), eos_id)
                            eos = torch.tensor([eos_id], device=device)
                            last = token_scores(model_log_probs[row : row + 1], eos)  # (1, 2)
                            ended[utterance].append(
                                Hypothesis(
                                    tokens=tuple(tokens),
                                    score=value / len(tokens) ** length_penalty,
                                    cross_attention=None
                                    if history is None
                                    else torch.cat([history[row], attention[row : row + 1]], dim=0),
                                    token_scores=torch.cat([score_history[row], last], dim=0),
                                )
                            )
                    elif len(chosen) < beams:
                        chosen.append((row, token, value))
                done[utterance] = len(ended[utterance]) >= beams or not chosen
            while len(chosen) < beams:  # finished utterances and short lists: inert rows
                chosen.append((utterance * beams, eos_id, -math.inf))
            for row, token, value in chosen:
                rows.append(row)
                next_tokens.append(token)
                next_scores.append(value)
        if all(done):
            break
        order = torch.tensor(rows, device=device)
        tokens = torch.tensor(next_tokens, device=device)
        beam_scores = torch.tensor(next_scores, device=device).reshape(num_utterances, beams)
        sequences = torch.cat([sequences.index_select(0, order), tokens[:, None]], dim=1)
        chosen = token_scores(model_log_probs.index_select(0, order), tokens)  # (B * K, 2)
        score_history = torch.cat([score_history.index_select(0, order), chosen[:, None]], dim=1)
        if history is not None and attention is not None:
            history = torch.cat(
                [history.index_select(0, order), attention.index_select(0, order)[:, None]], dim=1
            )
        cache = decoder.reorder(cache, order)
        scores, cache = decoder.step(tokens, cache)
        log_probs, attention = scores.log_probs, scores.cross_attention
    return [max(hypotheses, key=lambda h: h.score) for hypotheses in ended]
