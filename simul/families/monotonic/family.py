"""The monotonic-attention translator as a model family: presets, loss, validation search, streaming."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import final

from torch import Tensor, nn
from typing_extensions import override

from simul.data.features.pipeline import FeatureBatch
from simul.families.aed.family import decode_offline
from simul.families.base import Decoded, Family, ModelAssets
from simul.families.monotonic import model as presets
from simul.families.monotonic.model import MonotonicConfig, MonotonicLoss, MonotonicTranslator
from simul.families.monotonic.streaming import MonotonicOptions, MonotonicStreamingModel

__all__ = ["MonotonicFamily"]


@final
class MonotonicFamily(Family[MonotonicConfig, MonotonicTranslator, MonotonicOptions]):
    """Builds :class:`~simul.families.monotonic.model.MonotonicTranslator` models (MMA-hard, MMA-IL, EMMA).

    Presets: ``tiny`` (tests), ``mma_hard_small``, ``mma_il_small``, ``emma_small``.  The loss is
    cross-entropy (+ CTC) + the latency terms; validation decodes offline with hard monotonic
    reading (threshold 0.5), the AED's search over ``model.aed``.
    """

    name = "monotonic"
    config_type = MonotonicConfig
    model_type = MonotonicTranslator
    options_type = MonotonicOptions
    vocabulary_fields = ("aed.vocab_size", "aed.pad_id")
    native_policy = "monotonic"

    @override
    def presets(self) -> Mapping[str, Callable[[], MonotonicConfig]]:
        return {
            "tiny": presets.tiny,
            "mma_hard_small": presets.mma_hard_small,
            "mma_il_small": presets.mma_il_small,
            "emma_small": presets.emma_small,
        }

    @override
    def loss_sums(self, out: MonotonicLoss) -> Mapping[str, Tensor]:
        return {
            "ce": out.ce_sum,
            "nll": out.nll_sum,
            "ctc": out.ctc_sum,
            "dal_frames": out.latency_sum,
            "delay_variance": out.variance_sum,
        }

    @override
    def decode(self, model: nn.Module, batch: FeatureBatch, *, beam_size: int = 1) -> list[Decoded]:
        """Hard-monotonic beam search of every utterance on its whole audio (no source times)."""
        return decode_offline(self.check_model(model).aed, batch, beam_size=beam_size)

    @override
    def streaming_model(
        self,
        model: MonotonicTranslator,
        assets: ModelAssets,
        options: MonotonicOptions,
        streams: tuple[str, ...],
    ) -> MonotonicStreamingModel:
        return MonotonicStreamingModel(
            model, assets.tokenizer, fbank=assets.fbank, cmvn=assets.cmvn, options=options,
            stream=streams[0],
        )  # fmt: skip
