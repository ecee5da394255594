"""The attention encoder-decoder as a model family: presets, label-smoothed CE (+ CTC), search, streaming."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import final

import torch
from torch import Tensor, nn
from typing_extensions import override

from simul.data.features.pipeline import FeatureBatch
from simul.families.aed import model as presets
from simul.families.aed.model import AedConfig, AedLoss, AttentionEncoderDecoder
from simul.families.aed.search import AedStepDecoder
from simul.families.aed.streaming import AedOptions, aed_streaming_model
from simul.families.base import Decoded, Family, ModelAssets
from simul.models.beam_search import beam_search, max_target_length
from simul.streaming.attention_decoder import AttentionDecoderStreamingModel

__all__ = ["VALIDATION_MAX_LEN_A", "VALIDATION_MAX_LEN_B", "AedFamily", "decode_offline"]

#: Validation search length limit: ceil(a * encoder frames) + b tokens (40 ms frames; German
#: speech has about 0.2 tokens per frame).
VALIDATION_MAX_LEN_A = 0.5
VALIDATION_MAX_LEN_B = 10


def decode_offline(
    model: AttentionEncoderDecoder, batch: FeatureBatch, *, beam_size: int = 1
) -> list[Decoded]:
    """Beam search of every utterance on its whole audio (no source times: an offline model)."""
    with torch.no_grad():
        frames, frame_lengths = model.encode(batch.features, batch.feature_lengths)
        memory = model.memory(frames, frame_lengths)
        limits = [
            max_target_length(
                int(n), max_len_a=VALIDATION_MAX_LEN_A, max_len_b=VALIDATION_MAX_LEN_B
            )
            for n in frame_lengths
        ]
        hypotheses = beam_search(
            AedStepDecoder(model, memory, with_attention=False),
            [[] for _ in range(batch.batch_size)],
            eos_id=model.config.eos_id,
            max_new_tokens=limits,
            beam_size=beam_size,
        )
    eos_id = model.config.eos_id
    return [Decoded(token_ids=tuple(t for t in h.tokens if t != eos_id)) for h in hypotheses]


@final
class AedFamily(Family[AedConfig, AttentionEncoderDecoder, AedOptions]):
    """Builds :class:`~simul.families.aed.model.AttentionEncoderDecoder` models; any policy streams them."""

    name = "aed"
    config_type = AedConfig
    model_type = AttentionEncoderDecoder
    options_type = AedOptions
    native_policy = "alignatt"

    @override
    def presets(self) -> Mapping[str, Callable[[], AedConfig]]:
        return {"tiny": presets.tiny, "small": presets.small}

    @override
    def loss_sums(self, out: AedLoss) -> Mapping[str, Tensor]:
        return {"ce": out.ce_sum, "nll": out.nll_sum, "ctc": out.ctc_sum}

    @override
    def decode(self, model: nn.Module, batch: FeatureBatch, *, beam_size: int = 1) -> list[Decoded]:
        return decode_offline(self.check_model(model), batch, beam_size=beam_size)

    @override
    def streaming_model(
        self,
        model: AttentionEncoderDecoder,
        assets: ModelAssets,
        options: AedOptions,
        streams: tuple[str, ...],
    ) -> AttentionDecoderStreamingModel:
        return aed_streaming_model(
            model, assets.tokenizer, fbank=assets.fbank, cmvn=assets.cmvn, options=options,
            stream=streams[0],
        )  # fmt: skip
