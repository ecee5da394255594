"""Self-contained model checkpoints: weights, the config that built them, vocabulary, features.

The contract others rely on (streaming evaluation, agents, notebooks): one file rebuilds a
model and everything needed to feed it, with no flags and no other file.

- ``family`` and ``model_config`` rebuild the model (:func:`build_model`, through
  :func:`simul.families.registry.get_family`);
- ``tokenizer_model`` is the SentencePiece model's bytes (:meth:`Checkpoint.tokenizer`);
- ``fbank_config`` and ``cmvn`` give the exact features (:meth:`Checkpoint.fbank`,
  :meth:`Checkpoint.cmvn_stats`);
- ``target`` is the training target (``"asr"``, ``"st:de"``, ``"joint_alignment:de"``), which
  gives the output streams;
- ``train_config``, ``step``, ``epoch`` and ``metrics`` say where the weights come from;
- ``trainer_state`` (optimiser, schedule, RNG, data position) lets training resume; evaluation
  ignores it.

The file is ``torch.save`` of plain containers, tensors, numbers, strings and bytes, so it loads
with ``torch.load(weights_only=True)`` (no code runs on load).  It is written atomically (a
temporary file, then ``os.replace``), so an interrupted save never leaves a broken checkpoint.
``format_version`` grows when the layout changes; a file from a newer simul is refused with a
clear error instead of being half-read.  :func:`weights_sha256` fingerprints a model's weights
(two runs, or two DDP replicas, agree exactly when their fingerprints do).
:func:`init_encoder_from` copies the shared encoder of one checkpoint into a model of any
family (ASR pre-training of a speech translation encoder).
"""

from __future__ import annotations

import dataclasses
import hashlib
import pickle
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, final

import numpy as np
import torch
from torch import Tensor, nn

from simul.data.features.cmvn import Cmvn
from simul.data.features.fbank import FbankConfig
from simul.data.tokenizer import Tokenizer
from simul.families.base import ModelAssets
from simul.families.registry import get_family
from simul.io import atomic_write, atomic_write_bytes

__all__ = [
    "FORMAT_VERSION",
    "Checkpoint",
    "build_model",
    "cmvn_to_dict",
    "encoder_of",
    "init_encoder_from",
    "load_checkpoint",
    "load_weights_only",
    "save_checkpoint",
    "weights_sha256",
]

#: The layout version this simul writes and the newest it reads.
FORMAT_VERSION = 1
_FORMAT_NAME = "simul-checkpoint"
_REQUIRED = (
    "format_version", "family", "model_config", "state_dict", "tokenizer_model", "fbank_config",
    "cmvn", "train_config", "step", "epoch", "metrics",
)  # fmt: skip


@final
@dataclass(frozen=True, eq=False)
class Checkpoint:
    """Everything one checkpoint file holds (see the module doc).

    Attributes:
        family: the model family's name (:func:`~simul.families.registry.get_family`), e.g.
            ``"transducer"``.
        model_config: ``dataclasses.asdict`` of the model config; rebuilds the model.
        state_dict: the model's weights.
        tokenizer_model: bytes of the SentencePiece ``.model`` file.
        fbank_config: :meth:`FbankConfig.to_dict` of the features.
        cmvn: the global CMVN statistics (:func:`cmvn_to_dict`), or ``None`` for raw features.
        train_config: the resolved training config, as plain values.
        step: optimiser steps taken.
        epoch: the data epoch the next step reads from.
        metrics: validation metrics at this step (e.g. ``{"valid/WER": 12.3}``).
        trainer_state: what resuming needs (optimiser, schedule, RNG, data position), or ``None``.
        target: the training target (``data.target``, e.g. ``"st:de"``); when not given, the
            train config's ``data.target``, else ``None`` (the family's ``default_target``).
        format_version: the layout version.
    """

    family: str
    model_config: dict[str, Any]
    state_dict: dict[str, Tensor]
    tokenizer_model: bytes
    fbank_config: dict[str, Any]
    cmvn: dict[str, Any] | None
    train_config: dict[str, Any]
    step: int
    epoch: int
    metrics: dict[str, float] = field(default_factory=dict)
    trainer_state: dict[str, Any] | None = None
    target: str | None = None
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        if self.target is None:  # files and callers from before the field: the train config's
            object.__setattr__(self, "target", _train_config_target(self.train_config))
        if self.target is not None and not isinstance(self.target, str):
            raise ValueError(f"`target` must be a str or None, but is {self.target!r} instead.")

    def tokenizer(self, directory: Path | None = None) -> Tokenizer:
        """The tokenizer, from the embedded model written to ``directory`` (default: a cache).

        The file is named by its content hash, so repeated calls reuse it.
        """
        digest = hashlib.sha256(self.tokenizer_model).hexdigest()[:16]
        directory = Path(tempfile.gettempdir()) / "simul-spm" if directory is None else directory
        path = Path(directory) / f"spm-{digest}.model"
        if not path.is_file() or path.read_bytes() != self.tokenizer_model:
            atomic_write_bytes(path, self.tokenizer_model)
        return Tokenizer(path)

    def fbank(self) -> FbankConfig:
        """The fbank settings the model was trained on."""
        return FbankConfig.from_dict(self.fbank_config)

    def assets(self) -> ModelAssets:
        """The tokenizer and features a model of this checkpoint reads and writes with."""
        return ModelAssets(tokenizer=self.tokenizer(), fbank=self.fbank(), cmvn=self.cmvn_stats())

    def cmvn_stats(self) -> Cmvn | None:
        """The CMVN statistics the features were normalised with, or ``None``."""
        if self.cmvn is None:
            return None
        return Cmvn(
            mean=np.asarray(self.cmvn["mean"], dtype=np.float64),
            std=np.asarray(self.cmvn["std"], dtype=np.float64),
            num_frames=int(self.cmvn["num_frames"]),
            fbank_config=self.fbank(),
        )


def cmvn_to_dict(cmvn: Cmvn | None) -> dict[str, Any] | None:
    """CMVN statistics as checkpoint values (float64 tensors, so ``weights_only`` loads them)."""
    if cmvn is None:
        return None
    return {
        "mean": torch.from_numpy(np.asarray(cmvn.mean, dtype=np.float64)),
        "std": torch.from_numpy(np.asarray(cmvn.std, dtype=np.float64)),
        "num_frames": int(cmvn.num_frames),
    }


def save_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    """Write ``checkpoint`` to ``path`` atomically (temporary file, then ``os.replace``)."""
    get_family(checkpoint.family)  # an unknown family is a ValueError listing the known ones
    payload = {
        "format": _FORMAT_NAME,
        "format_version": checkpoint.format_version,
        "family": checkpoint.family,
        "model_config": checkpoint.model_config,
        "state_dict": checkpoint.state_dict,
        "tokenizer_model": checkpoint.tokenizer_model,
        "fbank_config": checkpoint.fbank_config,
        "cmvn": checkpoint.cmvn,
        "train_config": checkpoint.train_config,
        "step": checkpoint.step,
        "epoch": checkpoint.epoch,
        "metrics": dict(checkpoint.metrics),
        "trainer_state": checkpoint.trainer_state,
        "target": checkpoint.target,
    }
    atomic_write(Path(path), lambda f: torch.save(payload, f))


def load_weights_only(path: Path, map_location: Any = None, *, what: str) -> Any:
    """``torch.load(path, weights_only=True)``, failing with one line that names the file.

    Why: PyTorch's message for a file with other objects than tensors and plain values advises
    loading it with ``weights_only=False``, which runs whatever code the file holds; simul never
    does that, so the message keeps only what the file holds (the unsupported global).

    Raises:
        ValueError: the file is not a ``torch.save`` archive of weights and plain values.
    """
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        lines = [line.strip() for line in str(error).splitlines()]
        detail = next(
            (line.split(":", 1)[1].strip().split(". ")[0] for line in lines
             if line.startswith("WeightsUnpickler error:")),
            "it holds objects other than tensors and plain values",
        )  # fmt: skip
        raise ValueError(
            f"{path} is not {what}: {detail.rstrip('.')} (simul loads weights only, never code)."
        ) from None
    except (zipfile.BadZipFile, RuntimeError, EOFError) as error:
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ValueError(f"{path} is not {what} ({first_line}).") from None


def load_checkpoint(path: Path, *, map_location: str | torch.device = "cpu") -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint`.

    Args:
        path: the file.
        map_location: where tensors go (``torch.load``'s argument).

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not a simul checkpoint, lacks a field, or comes from a newer
            simul (its ``format_version`` is above :data:`FORMAT_VERSION`); the message names
            the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist.")
    payload = load_weights_only(path, map_location, what="a simul checkpoint")
    if not isinstance(payload, Mapping) or payload.get("format") != _FORMAT_NAME:
        raise ValueError(
            f"{path} is not a simul checkpoint: it must hold a dict with format "
            f"{_FORMAT_NAME!r}, but holds {type(payload).__name__} without it instead."
        )
    version = payload.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
        raise ValueError(
            f"{path} has checkpoint format version {version!r}; this simul reads versions 1 to "
            f"{FORMAT_VERSION}: update simul to load it."
        )
    missing = [name for name in _REQUIRED if name not in payload]
    if missing:
        raise ValueError(f"checkpoint {path} lacks the fields {missing}.")
    try:
        get_family(payload["family"])
    except ValueError as error:
        raise ValueError(f"checkpoint {path} has an unknown model family: {error}") from None
    return Checkpoint(
        family=payload["family"],
        model_config=dict(payload["model_config"]),
        state_dict=dict(payload["state_dict"]),
        tokenizer_model=bytes(payload["tokenizer_model"]),
        fbank_config=dict(payload["fbank_config"]),
        cmvn=None if payload["cmvn"] is None else dict(payload["cmvn"]),
        train_config=dict(payload["train_config"]),
        step=int(payload["step"]),
        epoch=int(payload["epoch"]),
        metrics=dict(payload["metrics"]),
        trainer_state=payload.get("trainer_state"),
        target=payload.get("target"),
        format_version=version,
    )


def _train_config_target(train_config: Mapping[str, Any]) -> str | None:
    """``data.target`` of a train config (files written before checkpoints had ``target``)."""
    data = train_config.get("data", {})
    target = data.get("target") if isinstance(data, Mapping) else None
    return target if isinstance(target, str) else None


def weights_sha256(model: nn.Module) -> str:
    """SHA-256 of a model's state dict (names, dtypes, shapes and bytes, in order)."""
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        value = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{value.dtype}:{tuple(value.shape)};".encode())
        digest.update(value.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def build_model(checkpoint: Checkpoint, *, device: str | torch.device | None = None) -> nn.Module:
    """The checkpoint's model, with its weights, in eval mode (on ``device``, default CPU)."""
    family = get_family(checkpoint.family)
    model = family.build(family.config_from_dict(checkpoint.model_config))
    model.load_state_dict(checkpoint.state_dict)
    if device is not None:
        model = model.to(device)
    return model.eval()


def init_encoder_from(
    model: nn.Module, path: Path, *, cmvn: Mapping[str, Any] | None
) -> Checkpoint:
    """Copy the ``encoder`` weights of the checkpoint at ``path`` into ``model.encoder``.

    Every model family builds its speech encoder as ``model.encoder`` (one
    :class:`simul.models.encoder.Encoder`), so an encoder trained for ASR initialises the
    encoder of an AED, monotonic or transducer ST model: the usual ASR pre-training of speech
    translation, which on a small corpus and a CPU budget is what makes the ST models learn to
    read the audio at all.  Only the encoder is copied; heads, decoders and predictors keep
    their fresh initialisation.  The encoders' configs must be equal (but for dropout), and so
    must the features' CMVN statistics (an encoder trained on other normalised features is not
    the same function), else a ``ValueError`` says which field differs.

    Returns the source checkpoint (its step and metrics say what was copied).
    """
    source = load_checkpoint(path)
    purpose = "to initialise or to initialise from"
    encoder = encoder_of(model, f"{type(model).__name__}", purpose)
    source_encoder = encoder_of(build_model(source), f"the model of {path}", purpose)
    theirs = _encoder_config_dict(source_encoder)
    ours = _encoder_config_dict(encoder)
    diff = []
    if theirs is not None and ours is not None:
        keys = (set(ours) | set(theirs)) - {"dropout_p"}  # training-only: no weights, same function
        diff = sorted(k for k in keys if ours.get(k) != theirs.get(k))
    if diff:
        raise ValueError(
            f"{path}: its encoder config differs from this model's in {diff} "
            f"(theirs {[theirs.get(k) for k in diff]}, ours {[ours.get(k) for k in diff]})."
        )
    if not _same_cmvn(source.cmvn, cmvn):
        raise ValueError(
            f"{path}: its encoder was trained on features with other CMVN statistics than "
            "`data.cmvn` of this run; use the same CMVN file."
        )
    # strict: a missing or extra weight is an error naming it
    encoder.load_state_dict(source_encoder.state_dict())
    return source


def encoder_of(model: nn.Module, what: str, purpose: str) -> nn.Module:
    """``model.encoder`` (every family has one; the monotonic translator through a property).

    Raises:
        ValueError: it has none; the message names ``what`` the model is and the ``purpose``.
    """
    encoder = getattr(model, "encoder", None)
    if not isinstance(encoder, nn.Module):
        raise ValueError(f"{what} has no `encoder` {purpose}.")
    return encoder


def _encoder_config_dict(encoder: nn.Module) -> dict[str, Any] | None:
    config = getattr(encoder, "config", None)
    if config is None or not dataclasses.is_dataclass(config):
        return None
    return dataclasses.asdict(config)


def _same_cmvn(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if set(a) != set(b):
        return False
    return all(np.array_equal(np.asarray(a[k]), np.asarray(b[k])) for k in a)
