"""The attention encoder-decoder as a model family of ``simul train``: presets, loss, validation search."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, final

import torch
from torch import nn
from typing_extensions import override

from simul.data.features.pipeline import FeatureBatch
from simul.models import aed
from simul.models.aed import AedConfig, AttentionEncoderDecoder
from simul.models.aed_search import AedStepDecoder, beam_search, max_target_length
from simul.models.family import Decoded, LossOutput, ModelFamily, apply_overrides

__all__ = ["VALIDATION_MAX_LEN_A", "VALIDATION_MAX_LEN_B", "AedFamily"]

#: Validation search length limit: ceil(a * encoder frames) + b tokens (40 ms frames; German
#: speech has about 0.2 tokens per frame).
VALIDATION_MAX_LEN_A = 0.5
VALIDATION_MAX_LEN_B = 10


@final
class AedFamily(ModelFamily):
    """Builds :class:`~simul.models.aed.AttentionEncoderDecoder` models; label-smoothed CE (+ CTC)."""

    @override
    def presets(self) -> Mapping[str, Callable[[], AedConfig]]:
        return {"tiny": aed.tiny, "small": aed.small}

    @override
    def resolve_config(
        self, preset: str, overrides: Mapping[str, Any], *, vocab_size: int, blank_id: int
    ) -> AedConfig:
        presets = self.presets()
        if preset not in presets:
            raise ValueError(
                f"`model.preset` must be one of {sorted(presets)} for the aed family, "
                f"but is {preset!r} instead."
            )
        config = apply_overrides(presets[preset](), overrides, where="model.config")
        for name, value in (("vocab_size", vocab_size), ("pad_id", blank_id)):
            if name in overrides and overrides[name] != value:
                raise ValueError(
                    f"`model.config.{name}` must equal the tokenizer's ({value}) or be left out, "
                    f"but is {overrides[name]!r} instead."
                )
        return replace(config, vocab_size=vocab_size, pad_id=blank_id)

    @override
    def config_from_dict(self, values: Mapping[str, Any]) -> AedConfig:
        return apply_overrides(AedConfig(), values, where="aed model_config")

    @override
    def build(self, config: AedConfig) -> AttentionEncoderDecoder:
        return AttentionEncoderDecoder(config)

    @override
    def target_ids(self, token_ids: Sequence[int], *, eos_id: int) -> list[int]:
        return [*token_ids, eos_id]  # the decoder learns to end the sentence

    @override
    def loss(self, model: nn.Module, batch: FeatureBatch) -> LossOutput:
        out = model(batch.features, batch.feature_lengths, batch.targets, batch.target_lengths)
        return LossOutput(
            loss=out.loss,
            num_utterances=out.num_utterances,
            num_tokens=out.num_tokens,
            sums={"ce": out.ce_sum, "nll": out.nll_sum, "ctc": out.ctc_sum},
        )

    @override
    def decode(self, model: nn.Module, batch: FeatureBatch, *, beam_size: int = 1) -> list[Decoded]:
        """Beam search of every utterance on its whole audio (no source times: an offline model)."""
        if not isinstance(model, AttentionEncoderDecoder):
            raise ValueError(
                f"`model` must be an AttentionEncoderDecoder, but is {type(model).__name__} instead."
            )
        with torch.no_grad():
            frames, frame_lengths = model.encode(batch.features, batch.feature_lengths)
            memory = model.memory(frames, frame_lengths)
            limits = [
                max_target_length(int(n), max_len_a=VALIDATION_MAX_LEN_A, max_len_b=VALIDATION_MAX_LEN_B)
                for n in frame_lengths
            ]
            hypotheses = beam_search(
                AedStepDecoder(model, memory, with_attention=False),
                [[] for _ in range(batch.batch_size)],
                eos_id=model.config.eos_id,
                max_new_tokens=limits,
                beam_size=beam_size,
            )
        return [Decoded(token_ids=tuple(t for t in h.tokens if t != model.config.eos_id)) for h in hypotheses]
