"""The transducer as a model family: presets, RNN-T + CTC loss, validation search, streaming model."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, final

import torch
from torch import Tensor, nn
from typing_extensions import override

from simul.data.features.pipeline import FeatureBatch
from simul.families.base import Decoded, Family, ModelAssets
from simul.families.transducer import model as presets
from simul.families.transducer.model import Transducer, TransducerConfig, TransducerLoss
from simul.families.transducer.search import SearchConfig, TransducerSearch
from simul.families.transducer.streaming import TransducerStreamingModel

__all__ = ["TransducerFamily"]


@final
class TransducerFamily(Family[TransducerConfig, Transducer, SearchConfig]):
    """Builds :class:`~simul.families.transducer.model.Transducer` models; streams them natively.

    Targets carry no EOS (a transducer ends with its input), the blank is the tokenizer's pad id,
    and one model may write several streams (joint ASR/ST, switched by tag tokens).
    """

    name = "transducer"
    config_type = TransducerConfig
    model_type = Transducer
    options_type = SearchConfig
    vocabulary_fields = ("vocab_size", "blank_id")
    default_target = "asr"
    ends_with_eos = False
    multi_stream = True
    native_policy = "transducer"

    @override
    def presets(self) -> Mapping[str, Callable[[], TransducerConfig]]:
        return {"tiny": presets.tiny, "small": presets.small}

    @override
    def loss_sums(self, out: TransducerLoss) -> Mapping[str, Tensor]:
        sums = {"rnnt": out.rnnt_sum, "ctc": out.ctc_sum}
        if out.simple_sum is not None:  # the pruned loss's simple (trivial-joiner) part
            sums["simple"] = out.simple_sum
        return sums

    @override
    def decode(self, model: nn.Module, batch: FeatureBatch, *, beam_size: int = 1) -> list[Decoded]:
        """Streaming search of every utterance, with the source time of each token."""
        model = self.check_model(model)
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

    @override
    def streaming_model(
        self,
        model: Transducer,
        assets: ModelAssets,
        options: SearchConfig,
        streams: tuple[str, ...],
    ) -> TransducerStreamingModel:
        tags = assets.tokenizer.tags
        stream_of_tag: dict[int, Any] = (
            {tags[f"<{s}>"]: s for s in streams if f"<{s}>" in tags} if len(streams) > 1 else {}
        )
        return TransducerStreamingModel(
            model, assets.tokenizer, fbank=assets.fbank, cmvn=assets.cmvn, search=options,
            streams=streams, stream_of_tag=stream_of_tag,
        )  # fmt: skip
