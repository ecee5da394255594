"""The transducer as a model family of ``simul train``: presets, loss, greedy/beam validation decoding."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, final

import torch
from torch import nn
from typing_extensions import override

from simul.data.features.pipeline import FeatureBatch
from simul.models import transducer
from simul.models.family import Decoded, LossOutput, ModelFamily, apply_overrides
from simul.models.transducer import Transducer, TransducerConfig
from simul.models.transducer_search import SearchConfig, TransducerSearch

__all__ = ["TransducerFamily"]


@final
class TransducerFamily(ModelFamily):
    """Builds :class:`~simul.models.transducer.Transducer` models and trains them with RNN-T + CTC."""

    @override
    def presets(self) -> Mapping[str, Callable[[], TransducerConfig]]:
        return {"tiny": transducer.tiny, "small": transducer.small}

    @override
    def resolve_config(
        self, preset: str, overrides: Mapping[str, Any], *, vocab_size: int, blank_id: int
    ) -> TransducerConfig:
        presets = self.presets()
        if preset not in presets:
            raise ValueError(
                f"`model.preset` must be one of {sorted(presets)} for the transducer, "
                f"but is {preset!r} instead."
            )
        config = apply_overrides(presets[preset](), overrides, where="model.config")
        for name, value in (("vocab_size", vocab_size), ("blank_id", blank_id)):
            if name in overrides and overrides[name] != value:
                raise ValueError(
                    f"`model.config.{name}` must equal the tokenizer's ({value}) or be left out, "
                    f"but is {overrides[name]!r} instead."
                )
        return replace(config, vocab_size=vocab_size, blank_id=blank_id)

    @override
    def config_from_dict(self, values: Mapping[str, Any]) -> TransducerConfig:
        return apply_overrides(TransducerConfig(), values, where="transducer model_config")

    @override
    def build(self, config: TransducerConfig) -> Transducer:
        return Transducer(config)

    @override
    def target_ids(self, token_ids: Sequence[int], *, eos_id: int) -> list[int]:
        return list(token_ids)  # a transducer ends with the input, it needs no EOS

    @override
    def loss(self, model: nn.Module, batch: FeatureBatch) -> LossOutput:
        out = model(batch.features, batch.feature_lengths, batch.targets, batch.target_lengths)
        sums = {"rnnt": out.rnnt_sum, "ctc": out.ctc_sum}
        if out.simple_sum is not None:
            sums["simple"] = out.simple_sum
        return LossOutput(
            loss=out.loss,
            num_utterances=out.num_utterances,
            num_tokens=out.num_tokens,
            sums=sums,
        )

    @override
    def decode(self, model: nn.Module, batch: FeatureBatch, *, beam_size: int = 1) -> list[Decoded]:
        if not isinstance(model, Transducer):
            raise ValueError(
                f"`model` must be a Transducer, but is {type(model).__name__} instead."
            )
        search = TransducerSearch(model, SearchConfig(beam_size=beam_size))
        with torch.no_grad():
            frames, frame_lengths = model.transcribe(batch.features, batch.feature_lengths)
        outputs = []
        for row in range(batch.batch_size):
            tokens = search.decode_encoded(
                frames[row, : int(frame_lengths[row])], int(batch.feature_lengths[row])
            )
            outputs.append(
                Decoded(
                    token_ids=tuple(t.token_id for t in tokens),
                    source_ms=tuple(t.source_ms for t in tokens),
                )
            )
        return outputs
