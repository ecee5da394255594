"""What a model family is: build, train, decode for validation, and run in the simultaneous loop.

Why one interface: ``simul train`` trains every family with one loop and ``simul eval`` streams
every family's checkpoint through one loader.  The trainer knows nothing about a family beyond
:class:`Family`; a family knows nothing about the trainer (no optimiser, no DDP, no files) nor
about checkpoint files (:mod:`simul.families.checkpoint` reads them and hands a family the parts
it needs, :class:`ModelAssets`).

:class:`Family` does the ceremony once (presets, overrides, the tokenizer's sizes, the config's
round trip through a checkpoint, the streaming options); a family states only what differs: its
config, model and options types, its presets, its loss terms, its validation search and the
streaming model it wraps around a trained model.  The built-in families are listed in
:mod:`simul.families.registry`; other packages add theirs through the ``simul.families``
entry-point group.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from torch import Tensor, nn

from simul.config import apply_overrides
from simul.data.features.cmvn import Cmvn
from simul.data.features.fbank import FbankConfig
from simul.data.features.pipeline import FeatureBatch
from simul.data.tokenizer import Tokenizer
from simul.serialize.transforms import JointTarget, SourceText, TargetText, get_target_transform
from simul.streaming.model import StreamingModel

__all__ = [
    "Decoded",
    "Family",
    "LoadedModel",
    "LossOutput",
    "ModelAssets",
    "target_streams",
]

ConfigT = TypeVar("ConfigT")
ModelT = TypeVar("ModelT", bound=nn.Module)
OptionsT = TypeVar("OptionsT")


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


@dataclass(frozen=True, eq=False)
class ModelAssets:
    """What a trained model needs besides its weights to read audio and write text.

    Attributes:
        tokenizer: its vocabulary.
        fbank: the features it was trained on.
        cmvn: their global normalisation, or ``None`` for raw features.
    """

    tokenizer: Tokenizer
    fbank: FbankConfig
    cmvn: Cmvn | None = None


@dataclass(frozen=True, eq=False)
class LoadedModel:
    """A streaming model ready for the loop, and what a run records about it.

    Attributes:
        model: the streaming model.
        target_lang: the language of its ``st`` stream (from the checkpoint's training target),
            or ``None`` when it has none or the model cannot tell.
        description: model, checkpoint and adapter settings, for provenance.
    """

    model: StreamingModel[Any]
    target_lang: str | None = None
    description: dict[str, Any] = field(default_factory=dict)


def target_streams(target: str) -> tuple[tuple[str, ...], str | None]:
    """The output streams and the ``st`` language of a training target name (``simul.serialize``).

    Examples:
        >>> target_streams("st:de")
        (('st',), 'de')
        >>> target_streams("joint_alignment:de")
        (('asr', 'st'), 'de')
    """
    transform = get_target_transform(target)
    if isinstance(transform, SourceText):
        return ("asr",), None
    if isinstance(transform, TargetText):
        return ("st",), transform.lang
    if isinstance(transform, JointTarget):
        langs = transform.target_langs
        return transform.layout.streams, langs[0] if len(langs) == 1 else None
    raise ValueError(f"target {target!r} has no known output streams.")


def _nested(values: Mapping[str, Any], path: str) -> tuple[bool, Any]:
    """Whether nested ``values`` hold the dotted ``path``, and the value there."""
    *parents, last = path.split(".")
    for name in parents:
        inner = values.get(name, {})
        values = inner if isinstance(inner, Mapping) else {}
    return (last in values, values.get(last))


def _replace_path(config: Any, path: str, value: Any) -> Any:
    """``dataclasses.replace`` of the field at dotted ``path`` of nested dataclass ``config``."""
    first, _, rest = path.partition(".")
    if not rest:
        return dataclasses.replace(config, **{first: value})
    return dataclasses.replace(
        config, **{first: _replace_path(getattr(config, first), rest, value)}
    )


class Family(ABC, Generic[ConfigT, ModelT, OptionsT]):
    """A kind of model that ``simul train`` trains, a checkpoint rebuilds and the loop streams.

    A subclass sets the class attributes below and implements :meth:`presets`,
    :meth:`loss_sums`, :meth:`decode` and :meth:`streaming_model`; everything else is done here
    the same way for every family.  The model config is a ``@dataclass(kw_only=True)`` that turns
    into plain JSON-like values with ``dataclasses.asdict`` (the checkpoint stores that dict); the
    model's constructor takes it as its only argument, and its ``forward(features,
    feature_lengths, targets, target_lengths)`` returns an object with ``loss``,
    ``num_utterances`` and ``num_tokens``.
    """

    name: ClassVar[str]
    """The family's name in configs and checkpoints (``model.family``)."""
    config_type: ClassVar[type]
    """The model config dataclass (its defaults rebuild a config from a checkpoint's dict)."""
    model_type: ClassVar[type[nn.Module]]
    """The model class, built as ``model_type(config)``."""
    options_type: ClassVar[type]
    """The streaming settings dataclass (``simul eval --set model.FIELD=VALUE``)."""
    vocabulary_fields: ClassVar[tuple[str, str]] = ("vocab_size", "pad_id")
    """Dotted paths of the config fields that take the tokenizer's vocabulary size and blank/pad id."""
    default_target: ClassVar[str] = "st"
    """The training target assumed for a checkpoint that does not name one."""
    ends_with_eos: ClassVar[bool] = True
    """Whether training targets end with EOS (an attention decoder learns to stop; a transducer
    ends with its input)."""
    multi_stream: ClassVar[bool] = False
    """Whether one model may write several streams (the joint ASR/ST transducer)."""
    native_policy: ClassVar[str]
    """The policy the family is made for (a name of :func:`policies.policy_names`)."""

    @abstractmethod
    def presets(self) -> Mapping[str, Callable[[], ConfigT]]:
        """Preset model configs by name (``"tiny"`` for tests, ...); each call returns a new one."""

    def resolve_config(
        self, preset: str, overrides: Mapping[str, Any], *, vocab_size: int, blank_id: int
    ) -> ConfigT:
        """The model config: a preset, changed by ``overrides``, with the tokenizer's sizes.

        Args:
            preset: a name from :meth:`presets`.
            overrides: nested field values (from YAML or the command line); an unknown field is a
                ``ValueError`` naming it.
            vocab_size: the tokenizer's vocabulary size.
            blank_id: the tokenizer's blank/pad id.
        """
        presets = self.presets()
        if preset not in presets:
            raise ValueError(
                f"`model.preset` must be one of {sorted(presets)} for the {self.name} family, "
                f"but is {preset!r} instead."
            )
        config = apply_overrides(presets[preset](), overrides, where="model.config")
        for path, value in zip(self.vocabulary_fields, (vocab_size, blank_id), strict=True):
            given, was = _nested(overrides, path)
            if given and was != value:
                raise ValueError(
                    f"`model.config.{path}` must equal the tokenizer's ({value}) or be left out, "
                    f"but is {was!r} instead."
                )
            config = _replace_path(config, path, value)
        return config

    def config_from_dict(self, values: Mapping[str, Any]) -> ConfigT:
        """Rebuild a config from its ``dataclasses.asdict`` form (as stored in checkpoints)."""
        return apply_overrides(self.config_type(), values, where=f"{self.name} model_config")

    def build(self, config: ConfigT) -> ModelT:
        """A freshly initialised model (in training mode) for ``config``."""
        return self.model_type(config)  # type: ignore[return-value]

    def check_model(self, model: nn.Module, what: str = "`model`") -> ModelT:
        """``model`` if it is this family's model class, else a ``ValueError`` naming ``what``."""
        if not isinstance(model, self.model_type):
            raise ValueError(
                f"{what} must be a {self.model_type.__name__}, but is {type(model).__name__} instead."
            )
        return model  # type: ignore[return-value]

    def target_ids(self, token_ids: Sequence[int], *, eos_id: int) -> list[int]:
        """Training targets from a text's token ids (EOS appended when :attr:`ends_with_eos`)."""
        return [*token_ids, eos_id] if self.ends_with_eos else list(token_ids)

    def loss(self, model: nn.Module, batch: FeatureBatch) -> LossOutput:
        """The training loss of a batch.

        ``model`` may be wrapped (``DistributedDataParallel``): it is called, never reached into.
        """
        out = model(batch.features, batch.feature_lengths, batch.targets, batch.target_lengths)
        return LossOutput(
            loss=out.loss,
            num_utterances=out.num_utterances,
            num_tokens=out.num_tokens,
            sums=self.loss_sums(out),
        )

    @abstractmethod
    def loss_sums(self, out: Any) -> Mapping[str, Tensor]:
        """The named batch sums to log, from what the model's ``forward`` returned."""

    @abstractmethod
    def decode(self, model: nn.Module, batch: FeatureBatch, *, beam_size: int = 1) -> list[Decoded]:
        """What the (unwrapped, eval-mode) model outputs for each utterance of ``batch``, in order.

        Args:
            model: the model.
            batch: padded features (their targets are not used).
            beam_size: hypotheses kept by the family's search; 1 is greedy.
        """

    def streaming_options(self, options: Mapping[str, Any]) -> OptionsT:
        """The streaming settings: :attr:`options_type`'s defaults changed by ``options``."""
        return apply_overrides(
            self.options_type(), options, where=f"{self.name} options (--set model.*)"
        )

    @abstractmethod
    def streaming_model(
        self, model: ModelT, assets: ModelAssets, options: OptionsT, streams: tuple[str, ...]
    ) -> StreamingModel[Any]:
        """The trained ``model`` (eval mode, on its device) as a streaming model for the loop.

        Args:
            model: the model, with its weights.
            assets: its tokenizer and features.
            options: from :meth:`streaming_options`.
            streams: the output streams its training target gives (one unless
                :attr:`multi_stream`).
        """
