"""From a checkpoint to a streaming model, the same chain for every family; and the toy model.

A checkpoint (:mod:`simul.families.checkpoint`) names its family; :func:`load_streaming_model`
asks the registry for it, parses the options (``simul eval --set model.beam_size=4``) into the
family's options dataclass, rebuilds the model with its weights, derives the output streams from
the checkpoint's training target, and lets the family wrap the model
(:meth:`~simul.families.base.Family.streaming_model`).  The description it records is the same
for every family.  Two models need no checkpoint (:func:`builtin_model`): the toy model
(:mod:`simul.streaming.toy`, :func:`toy_model`) and a pretrained Whisper loaded from a local
faster-whisper folder (:mod:`simul.families.whisper.streaming`, imported only when asked for:
faster-whisper is an optional extra).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from simul.config import apply_overrides
from simul.families.base import LoadedModel, target_streams
from simul.families.checkpoint import build_model, load_checkpoint
from simul.families.registry import get_family
from simul.streaming.toy import ToyConfig, ToyModel

__all__ = ["BUILTIN_MODELS", "builtin_model", "load_streaming_model", "toy_model", "whisper_model"]

#: The models ``simul eval --model NAME`` builds without a checkpoint.
BUILTIN_MODELS = ("toy", "whisper")


def load_streaming_model(
    path: Path, *, options: Mapping[str, Any] | None = None, device: str | torch.device = "cpu"
) -> LoadedModel:
    """The streaming model of checkpoint ``path``, built by its family.

    Args:
        path: a checkpoint written by ``simul train``.
        options: the family's streaming settings (e.g. ``{"beam_size": 4}`` for the transducer).
        device: where the model runs.

    Raises:
        FileNotFoundError, ValueError: as ``load_checkpoint``; bad options; a training target
            with more streams than the family writes.
    """
    device = torch.device(device)
    checkpoint = load_checkpoint(Path(path), map_location=device)
    family = get_family(checkpoint.family)
    settings = family.streaming_options(dict(options or {}))
    model = family.check_model(
        build_model(checkpoint, device=device), f"the model of a {family.name} checkpoint"
    )
    target = checkpoint.target if checkpoint.target is not None else family.default_target
    streams, target_lang = target_streams(target)
    if len(streams) != 1 and not family.multi_stream:
        raise ValueError(
            f"the {family.name} family runs single-stream models (target asr or st:LANG), but "
            f"this one has target {target!r} with streams {streams}."
        )
    streaming = family.streaming_model(model, checkpoint.assets(), settings, streams)
    description = {
        **streaming.describe(),
        "family": checkpoint.family,
        "target": target,
        "step": checkpoint.step,
        "checkpoint_metrics": dict(checkpoint.metrics),
        "checkpoint": str(path),
    }
    return LoadedModel(model=streaming, target_lang=target_lang, description=description)


def toy_model(options: Mapping[str, Any] | None = None) -> LoadedModel:
    """The toy model with ``options`` as :class:`ToyConfig` fields (no checkpoint, no training)."""
    config = apply_overrides(
        ToyConfig(), dict(options or {}), where="toy model options (--set model.*)"
    )
    model = ToyModel(config)
    return LoadedModel(model=model, target_lang=None, description=model.describe())


def whisper_model(options: Mapping[str, Any] | None = None) -> LoadedModel:
    """Whisper through faster-whisper with ``options`` as :class:`WhisperOptions` fields.

    Raises:
        ValueError: a bad option, faster-whisper missing, or no model folder.
    """
    from simul.families.whisper.streaming import WhisperOptions, WhisperStreamingModel

    settings = apply_overrides(
        WhisperOptions(), dict(options or {}), where="whisper model options (--set model.*)"
    )
    model = WhisperStreamingModel(settings)
    return LoadedModel(model=model, target_lang=None, description=model.describe())


def builtin_model(name: str, options: Mapping[str, Any] | None = None) -> LoadedModel:
    """The checkpoint-less model ``name`` (one of :data:`BUILTIN_MODELS`) with ``options``."""
    if name == "toy":
        return toy_model(options)
    if name == "whisper":
        return whisper_model(options)
    raise ValueError(f"`model` must be one of {list(BUILTIN_MODELS)}, but is {name!r} instead.")
