"""The monotonic-attention translator as a model family of ``simul train``: presets, loss, validation search."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, final

from torch import nn
from typing_extensions import override

from simul.data.features.pipeline import FeatureBatch
from simul.models import monotonic
from simul.models.aed_family import AedFamily
from simul.models.family import Decoded, LossOutput, ModelFamily, apply_overrides
from simul.models.monotonic import MonotonicConfig, MonotonicTranslator

__all__ = ["MonotonicFamily"]


@final
class MonotonicFamily(ModelFamily):
    """Builds :class:`~simul.models.monotonic.MonotonicTranslator` models (MMA-hard, MMA-IL, EMMA).

    Presets: ``tiny`` (tests), ``mma_hard_small``, ``mma_il_small``, ``emma_small``.  The loss is
    cross-entropy (+ CTC) + the latency terms; validation decodes offline with hard monotonic
    reading (threshold 0.5), the AED's search over ``model.aed``.
    """

    @override
    def presets(self) -> Mapping[str, Callable[[], MonotonicConfig]]:
        return {
            "tiny": monotonic.tiny,
            "mma_hard_small": monotonic.mma_hard_small,
            "mma_il_small": monotonic.mma_il_small,
            "emma_small": monotonic.emma_small,
        }

    @override
    def resolve_config(
        self, preset: str, overrides: Mapping[str, Any], *, vocab_size: int, blank_id: int
    ) -> MonotonicConfig:
        presets = self.presets()
        if preset not in presets:
            raise ValueError(
                f"`model.preset` must be one of {sorted(presets)} for the monotonic family, "
                f"but is {preset!r} instead."
            )
        config = apply_overrides(presets[preset](), overrides, where="model.config")
        given = overrides.get("aed", {})
        for name, value in (("vocab_size", vocab_size), ("pad_id", blank_id)):
            if name in given and given[name] != value:
                raise ValueError(
                    f"`model.config.aed.{name}` must equal the tokenizer's ({value}) or be left "
                    f"out, but is {given[name]!r} instead."
                )
        return replace(config, aed=replace(config.aed, vocab_size=vocab_size, pad_id=blank_id))

    @override
    def config_from_dict(self, values: Mapping[str, Any]) -> MonotonicConfig:
        return apply_overrides(MonotonicConfig(), values, where="monotonic model_config")

    @override
    def build(self, config: MonotonicConfig) -> MonotonicTranslator:
        return MonotonicTranslator(config)

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
            sums={
                "ce": out.ce_sum,
                "nll": out.nll_sum,
                "ctc": out.ctc_sum,
                "dal_frames": out.latency_sum,
                "delay_variance": out.variance_sum,
            },
        )

    @override
    def decode(self, model: nn.Module, batch: FeatureBatch, *, beam_size: int = 1) -> list[Decoded]:
        """Hard-monotonic beam search of every utterance on its whole audio (no source times)."""
        if not isinstance(model, MonotonicTranslator):
            raise ValueError(
                f"`model` must be a MonotonicTranslator, but is {type(model).__name__} instead."
            )
        return AedFamily().decode(model.aed, batch, beam_size=beam_size)
