"""What a model family gives the trainer and the checkpoint loader: build, loss, validation decoding.

Why an interface: ``simul train`` trains every family (the transducer first; attention
encoder-decoders and monotonic decoders later) with one loop.  The loop knows nothing about a
family beyond this class; a family knows nothing about the loop (no optimiser, no DDP, no files).
The registry of families is :data:`simul.models.families.MODEL_FAMILIES`; a checkpoint names its
family, so :func:`simul.models.checkpoint.build_model` rebuilds any of them from the file alone.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException
from torch import Tensor, nn

from simul.data.features.pipeline import FeatureBatch

__all__ = ["Decoded", "LossOutput", "ModelFamily", "apply_overrides"]


@dataclass(frozen=True, eq=False)
class LossOutput:
    """A family's training loss on one batch.

    Attributes:
        loss: scalar tensor to minimise (a mean over the batch, so that its scale does not depend
            on the batch size).
        num_utterances: utterances in the batch.
        num_tokens: target tokens in the batch.
        sums: named detached scalars *summed* over the batch (e.g. ``{"rnnt": ..., "ctc": ...}``),
            which the trainer adds up over steps and ranks and divides by utterances for logging.
    """

    loss: Tensor
    num_utterances: int
    num_tokens: int
    sums: Mapping[str, Tensor] = field(default_factory=dict)


@dataclass(frozen=True)
class Decoded:
    """A family's output for one utterance.

    Attributes:
        token_ids: the output tokens (no blank, BOS or EOS).
        source_ms: for each token, the audio (ms from the start) the model needed before it
            could emit it, when the family decodes in a streaming way itself (the transducer);
            ``None`` for families whose timing comes from a read/write policy instead.
    """

    token_ids: tuple[int, ...]
    source_ms: tuple[int, ...] | None = None


def apply_overrides(
    config: Any, overrides: Mapping[str, Any], *, where: str = "model config"
) -> Any:
    """A copy of dataclass ``config`` with nested ``overrides`` applied, through OmegaConf.

    An unknown field or a value of the wrong type is a ``ValueError`` naming it; the dataclass's
    own checks (``__post_init__``) run on the result.
    """
    try:
        merged = OmegaConf.merge(OmegaConf.structured(config), OmegaConf.create(dict(overrides)))
        return OmegaConf.to_object(merged)
    except OmegaConfBaseException as error:
        raise ValueError(f"{where}: {error}") from None


class ModelFamily(ABC):
    """A kind of model that ``simul train`` can train and a checkpoint can rebuild.

    ``config`` below is the family's own ``@dataclass(kw_only=True)`` model config; it must turn
    into plain JSON-like values with ``dataclasses.asdict`` (the checkpoint stores that dict).
    """

    @abstractmethod
    def presets(self) -> Mapping[str, Callable[[], Any]]:
        """Preset model configs by name (``"tiny"`` for tests, ...); each call returns a new one."""

    @abstractmethod
    def resolve_config(
        self,
        preset: str,
        overrides: Mapping[str, Any],
        *,
        vocab_size: int,
        blank_id: int,
    ) -> Any:
        """The model config: a preset, changed by ``overrides``, with the tokenizer's sizes.

        Args:
            preset: a name from :meth:`presets`.
            overrides: nested field values (from YAML or the command line); an unknown field is a
                ``ValueError`` naming it.
            vocab_size: the tokenizer's vocabulary size.
            blank_id: the tokenizer's blank/pad id.
        """

    @abstractmethod
    def config_from_dict(self, values: Mapping[str, Any]) -> Any:
        """Rebuild a config from its ``dataclasses.asdict`` form (as stored in checkpoints)."""

    @abstractmethod
    def build(self, config: Any) -> nn.Module:
        """A freshly initialised model (in training mode) for ``config``."""

    @abstractmethod
    def target_ids(self, token_ids: Sequence[int], *, eos_id: int) -> list[int]:
        """Training targets from a text's token ids (e.g. an attention decoder appends EOS)."""

    @abstractmethod
    def loss(self, model: nn.Module, batch: FeatureBatch) -> LossOutput:
        """The training loss of a batch.

        ``model`` may be wrapped (``DistributedDataParallel``): call it, do not reach inside.
        """

    @abstractmethod
    def decode(self, model: nn.Module, batch: FeatureBatch, *, beam_size: int = 1) -> list[Decoded]:
        """What the (unwrapped, eval-mode) model outputs for each utterance of ``batch``, in order.

        Args:
            model: the model.
            batch: padded features (their targets are not used).
            beam_size: hypotheses kept by the family's search; 1 is greedy.
        """
