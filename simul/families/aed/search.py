"""The attention encoder-decoder's decoder as a :class:`~simul.models.beam_search.StepDecoder`.

The shared search (:func:`simul.models.beam_search.beam_search`) runs any decoder that starts from
a forced prefix and then goes one token per step; this is simul's own AED decoder bound to the
encoder frames of N utterances, with every layer's cross-attention when asked (EDAtt, AlignAtt).
The monotonic translator uses it over its ``aed`` for offline validation.

N: hypotheses; P: prefix length; V: vocabulary; L: decoder layers; H: heads; T: encoder frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import final

import torch
from torch import Tensor
from typing_extensions import override

from simul.families.aed.model import AttentionEncoderDecoder
from simul.models.aed_decoder import DecoderCache, DecoderMemory, DecoderStep
from simul.models.beam_search import StepDecoder, StepScores

__all__ = ["AedSearchCache", "AedStepDecoder"]


@final
@dataclass(frozen=True)
class AedSearchCache:
    """The cache :class:`AedStepDecoder` hands the search: decoder cache and memory of N hypotheses.

    Attributes:
        decoder: self-attention keys/values of the positions so far.
        memory: the encoder frames of each hypothesis's utterance (reordered with it).
    """

    decoder: DecoderCache
    memory: DecoderMemory


@final
class AedStepDecoder(StepDecoder[AedSearchCache]):
    """simul's :class:`~simul.families.aed.model.AttentionEncoderDecoder` decoder bound to a memory.

    Args:
        model: the model (eval mode).
        memory: its :meth:`~simul.families.aed.model.AttentionEncoderDecoder.memory` of N utterances.
        with_attention: return the cross-attention of every layer at every step.
    """

    def __init__(
        self, model: AttentionEncoderDecoder, memory: DecoderMemory, *, with_attention: bool
    ) -> None:
        self.model = model
        self.memory = memory
        self.with_attention = with_attention

    @property
    @override
    def num_hypotheses(self) -> int:
        return int(self.memory.keys[0].shape[0])

    def _scores(self, step: DecoderStep) -> StepScores:
        log_probs = torch.log_softmax(step.logits[:, -1].float(), dim=-1)  # (N, V)
        attention = None
        if self.with_attention:
            attention = torch.stack(
                [w[:, :, -1] for w in step.cross_attention], dim=1
            )  # (N, L, H, T)
        return StepScores(log_probs=log_probs, cross_attention=attention)

    @override
    def start(self, prefix: Tensor) -> tuple[StepScores, AedSearchCache]:
        prefix = prefix.to(self.memory.keys[0].device)
        bos = prefix.new_full((prefix.shape[0], 1), self.model.config.bos_id)
        tokens = torch.cat([bos, prefix], dim=1)  # (N, 1 + P)
        step = self.model.decode_step(tokens, self.memory, self.model.empty_cache(tokens.shape[0]))
        return self._scores(step), AedSearchCache(decoder=step.cache, memory=self.memory)

    @override
    def step(self, tokens: Tensor, cache: AedSearchCache) -> tuple[StepScores, AedSearchCache]:
        step = self.model.decode_step(tokens[:, None], cache.memory, cache.decoder)
        return self._scores(step), AedSearchCache(decoder=step.cache, memory=cache.memory)

    @override
    def reorder(self, cache: AedSearchCache, order: Tensor) -> AedSearchCache:
        return AedSearchCache(
            decoder=cache.decoder.reorder(order), memory=cache.memory.reorder(order)
        )
