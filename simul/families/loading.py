"""From a checkpoint to a streaming model: one adapter per model family, found by the family name.

A checkpoint (``simul.models.checkpoint``) names its family (``"transducer"``, ...); the adapter
registered under that name here builds the :class:`~simul.streaming.model.StreamingModel` that the
loop drives, with its tokenizer, fbank/CMVN settings and output streams, all from the file.  The
list is explicit: a new family adds one line to :data:`BUILTIN_ADAPTERS`, and another package can
add one through the ``simul.model_adapters`` entry-point group (a callable with the signature of
:data:`AdapterBuilder`).  ``options`` are the adapter's settings (``simul eval --set
model.beam_size=4``), validated by the adapter.

The toy model (:mod:`simul.streaming.toy`) needs no checkpoint: :func:`toy_model`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from simul.models.checkpoint import Checkpoint, build_model, load_checkpoint
from simul.models.family import apply_overrides
from simul.models.transducer import Transducer
from simul.models.transducer_search import SearchConfig
from simul.registry import Registry
from simul.serialize.transforms import JointTarget, SourceText, TargetText, get_target_transform
from simul.streaming.aed import aed_adapter
from simul.streaming.model import StreamingModel
from simul.streaming.monotonic import monotonic_adapter
from simul.streaming.plugins import lookup
from simul.streaming.toy import ToyConfig, ToyModel
from simul.streaming.transducer import TransducerStreamingModel

__all__ = [
    "ADAPTER_ENTRY_POINT_GROUP",
    "BUILTIN_ADAPTERS",
    "AdapterBuilder",
    "LoadedModel",
    "load_streaming_model",
    "target_streams",
    "toy_model",
]

#: The entry-point group other packages declare model adapters in.
ADAPTER_ENTRY_POINT_GROUP = "simul.model_adapters"


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


#: ``(checkpoint, options, device) -> LoadedModel``.
AdapterBuilder = Callable[[Checkpoint, Mapping[str, Any], torch.device], LoadedModel]


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


def _transducer_adapter(
    checkpoint: Checkpoint, options: Mapping[str, Any], device: torch.device
) -> LoadedModel:
    """The transducer family: native emission over :class:`TransducerStreamingModel`."""
    search = apply_overrides(SearchConfig(), options, where="transducer options (--set model.*)")
    transducer = build_model(checkpoint, device=device)
    if not isinstance(transducer, Transducer):
        raise ValueError(
            f"a transducer checkpoint must build a Transducer, but built {type(transducer).__name__}."
        )
    data = checkpoint.train_config.get("data", {})
    target = data.get("target", "asr") if isinstance(data, Mapping) else "asr"
    streams, target_lang = target_streams(target)
    tokenizer = checkpoint.tokenizer()
    tags = tokenizer.tags
    stream_of_tag = (
        {tags[f"<{s}>"]: s for s in streams if f"<{s}>" in tags} if len(streams) > 1 else {}
    )
    model = TransducerStreamingModel(
        transducer,
        tokenizer,
        fbank=checkpoint.fbank(),
        cmvn=checkpoint.cmvn_stats(),
        search=search,
        streams=streams,
        stream_of_tag=stream_of_tag,
    )
    description = {
        **model.describe(),
        "family": checkpoint.family,
        "target": target,
        "step": checkpoint.step,
        "checkpoint_metrics": dict(checkpoint.metrics),
    }
    return LoadedModel(model=model, target_lang=target_lang, description=description)


BUILTIN_ADAPTERS: Registry[AdapterBuilder] = Registry("model adapter")
BUILTIN_ADAPTERS.add("transducer", _transducer_adapter)
BUILTIN_ADAPTERS.add("aed", aed_adapter)
BUILTIN_ADAPTERS.add("monotonic", monotonic_adapter)


def _adapter_problem(loaded: object) -> str | None:
    return (
        None if callable(loaded) else f"must name a callable adapter builder, but names {loaded!r}"
    )


def load_streaming_model(
    path: Path, *, options: Mapping[str, Any] | None = None, device: str | torch.device = "cpu"
) -> LoadedModel:
    """The streaming model of checkpoint ``path``, built by its family's adapter.

    Args:
        path: a checkpoint written by ``simul train``.
        options: the adapter's settings (e.g. ``{"beam_size": 4}`` for the transducer).
        device: where the model runs.

    Raises:
        FileNotFoundError, ValueError: as ``load_checkpoint``; a family without an adapter; bad options.
    """
    device = torch.device(device)
    checkpoint = load_checkpoint(Path(path), map_location=device)
    builder = lookup(
        BUILTIN_ADAPTERS, ADAPTER_ENTRY_POINT_GROUP, checkpoint.family, _adapter_problem
    )
    loaded = builder(checkpoint, dict(options or {}), device)
    loaded.description.setdefault("checkpoint", str(path))
    return loaded


def toy_model(options: Mapping[str, Any] | None = None) -> LoadedModel:
    """The toy model with ``options`` as :class:`ToyConfig` fields (no checkpoint, no training)."""
    config = apply_overrides(
        ToyConfig(), dict(options or {}), where="toy model options (--set model.*)"
    )
    model = ToyModel(config)
    return LoadedModel(model=model, target_lang=None, description=model.describe())
