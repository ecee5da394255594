"""The training config: one YAML file under ``experiments/``, any key overridable on the command line.

The YAML is loaded into these dataclasses as an OmegaConf *structured* config, so a misspelt or
unknown key is an error naming it, not a silently ignored setting.  ``model.config`` is the one
free-form section: its keys are the fields of the chosen family's model config (for the
transducer, :class:`simul.families.transducer.model.TransducerConfig`), checked when the family resolves
it.  Overrides use OmegaConf's dotted syntax::

    simul train experiments/asr_tt_small.yaml optim.lr=5e-4 model.config.encoder.num_layers=4
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from simul.io import yaml_error_message

__all__ = [
    "DataSection",
    "ModelSection",
    "OptimSection",
    "TrainConfig",
    "TrainerSection",
    "ValidationSection",
    "config_to_dict",
    "load_train_config",
]

_SCHEDULES = ("inverse_sqrt", "cosine", "constant")
_AMP_DTYPES = ("bfloat16", "float16")


@dataclass(kw_only=True)
class ModelSection:
    """Which model family and preset to train, and what to change in the preset."""

    family: str = "transducer"
    """A family name (:func:`simul.families.registry.get_family`)."""
    preset: str = "small"
    """A preset of the family (the transducer's: ``tiny``, ``small``)."""
    config: dict[str, Any] = field(default_factory=dict)
    """Fields of the family's model config that differ from the preset (nested, e.g. ``encoder.d_model``)."""
    init_encoder_from: str | None = None
    """Checkpoint whose ``encoder`` initialises this model's (e.g. an ASR T-T for an ST model); equal encoder configs and CMVN required."""


@dataclass(kw_only=True)
class DataSection:
    """The corpus, its features and vocabulary, and how it is batched."""

    corpus_dir: str = "???"
    """Corpus directory (any layout ``simul data check`` reads: MuST-C, CoVoST 2, S2T, SimulEval)."""
    corpus_format: str | None = None
    """``mustc``, ``covost``, ``s2t`` or ``simuleval``; ``None``: detected from the directory."""
    src_lang: str = "en"
    """Language of the speech and transcripts."""
    tgt_langs: list[str] = field(default_factory=list)
    """Translations to read (empty: every one the corpus has)."""
    train_split: str = "train"
    """Split trained on."""
    valid_split: str = "dev"
    """Split validated on during training (best checkpoint by its metric)."""
    test_split: str | None = "test"
    """Split decoded and scored (quality and latency) with the best checkpoint at the end; ``None``: none."""
    target: str = "asr"
    """Target text: ``asr``, ``st:LANG``, ``joint_alignment:LANGS``, ... (``simul.serialize.transforms``)."""
    alignments: list[str] = field(default_factory=list)
    """Alignment files (``simul data align``) for joint targets of corpora without gold alignments."""
    spm_model: str = "???"
    """SentencePiece model (``simul data spm``) of the target text."""
    cmvn: str | None = None
    """Global CMVN statistics (``simul data cmvn``); ``None``: raw log-mel features."""
    num_mel_bins: int = 80
    """Fbank bins when no CMVN file gives the fbank settings."""
    max_frames_per_batch: int = 20_000
    """Padded fbank frames per batch, B * T (a multiple of the next field)."""
    max_frames_per_utterance: int = 2_000
    """Longer training utterances are dropped, in fbank frames (10 ms each)."""
    num_parallel_calls: int = 2
    """Utterances read and featurised concurrently by the data pipeline."""
    num_prefetch: int = 4
    """Batches the data pipeline prepares ahead."""
    max_valid_utterances: int | None = None
    """Validate on the first N utterances of the split only (``None``: all)."""


@dataclass(kw_only=True)
class OptimSection:
    """AdamW, its learning-rate schedule, clipping and gradient accumulation."""

    lr: float = 1e-3
    """Peak learning rate (reached at the end of warm-up)."""
    betas: list[float] = field(default_factory=lambda: [0.9, 0.98])
    """AdamW betas."""
    eps: float = 1e-8
    """AdamW epsilon."""
    weight_decay: float = 1e-3
    """AdamW decoupled weight decay."""
    schedule: str = "inverse_sqrt"
    """After linear warm-up: ``inverse_sqrt`` (lr * sqrt(warmup / step)), ``cosine`` (to ``min_lr_ratio * lr`` at ``max_steps``) or ``constant``."""
    warmup_steps: int = 1_000
    """Steps of linear warm-up from 0."""
    min_lr_ratio: float = 0.0
    """Floor of the cosine schedule, as a fraction of ``lr``."""
    clip_grad_norm: float = 5.0
    """Clip the global gradient norm to this (0: no clipping)."""
    grad_accumulation: int = 1
    """Batches whose gradients are summed before each optimiser step (per process)."""
    encoder_lr_scale: float = 1.0
    """The encoder's learning rate relative to the rest of the model (e.g. 0.1 for a pre-trained encoder)."""
    freeze_encoder_steps: int = 0
    """Keep the encoder frozen for the first N updates (fresh heads learn on a pre-trained encoder), then ramp its rate up over ``warmup_steps``."""


@dataclass(kw_only=True)
class TrainerSection:
    """Length of the run, devices, precision, checkpoints, logging."""

    output_dir: str = "???"
    """Run directory: checkpoints/, tensorboard/, config.yaml, spm.model, test/."""
    max_steps: int = 10_000
    """Optimiser steps of the whole run (also the cosine schedule's horizon)."""
    max_epochs: int | None = None
    """Stop after this many passes over the training data (``None``: ``max_steps`` only)."""
    max_minutes: float | None = None
    """End training after this much wall time in this invocation (then validate, checkpoint and test; rerunning continues)."""
    validate_every_steps: int = 500
    """Validate (and keep the best checkpoint) every N steps, and at the end."""
    checkpoint_every_steps: int = 500
    """Write ``checkpoints/last.pt`` every N steps, and at the end."""
    log_every_steps: int = 20
    """Write training scalars to TensorBoard every N steps."""
    seed: int = 0
    """Seed of the initial weights, the data order and dropout: the same seed repeats a run."""
    device: str = "auto"
    """``auto`` (CUDA when available, else CPU), ``cpu``, ``cuda``; under torchrun, each rank its local GPU."""
    amp: bool = True
    """Mixed precision (autocast) on CUDA; ignored on CPU."""
    amp_dtype: str = "bfloat16"
    """``bfloat16`` or ``float16`` (the latter with a gradient scaler)."""
    resume: bool = True
    """Continue from ``checkpoints/last.pt`` when it exists."""
    num_threads: int | None = None
    """torch CPU threads per process (``None``: torch's default)."""
    progress: bool = True
    """Show a tqdm progress bar (rank 0)."""


@dataclass(kw_only=True)
class ValidationSection:
    """How the model is decoded and scored on the validation and test splits."""

    metric: str = "WER"
    """Metric that picks the best checkpoint, ``NAME`` (first stream) or ``STREAM/NAME``: WER, CER, TER (lower is better), BLEU, chrF (higher)."""
    lowercase: bool = False
    """Lowercase hypotheses and references before WER/CER."""
    remove_punctuation: bool = False
    """Replace punctuation by spaces before WER/CER."""
    beam_size: int = 1
    """Search hypotheses for validation (1: greedy)."""
    test_beam_size: int = 1
    """Search hypotheses for the final test decoding."""


@dataclass(kw_only=True)
class TrainConfig:
    """One training run."""

    model: ModelSection = field(default_factory=ModelSection)
    data: DataSection = field(default_factory=DataSection)
    optim: OptimSection = field(default_factory=OptimSection)
    trainer: TrainerSection = field(default_factory=TrainerSection)
    validation: ValidationSection = field(default_factory=ValidationSection)

    def __post_init__(self) -> None:
        _check_choice("optim.schedule", self.optim.schedule, _SCHEDULES)
        _check_choice("trainer.amp_dtype", self.trainer.amp_dtype, _AMP_DTYPES)
        positive = {
            "optim.lr": self.optim.lr,
            "optim.grad_accumulation": self.optim.grad_accumulation,
            "trainer.max_steps": self.trainer.max_steps,
            "trainer.validate_every_steps": self.trainer.validate_every_steps,
            "trainer.checkpoint_every_steps": self.trainer.checkpoint_every_steps,
            "trainer.log_every_steps": self.trainer.log_every_steps,
            "validation.beam_size": self.validation.beam_size,
            "validation.test_beam_size": self.validation.test_beam_size,
        }
        for name, value in positive.items():
            if not value > 0:
                raise ValueError(f"`{name}` must be > 0, but is {value} instead.")
        if self.optim.encoder_lr_scale < 0 or self.optim.freeze_encoder_steps < 0:
            raise ValueError(
                f"`optim.encoder_lr_scale` and `optim.freeze_encoder_steps` must be >= 0, but are "
                f"{self.optim.encoder_lr_scale} and {self.optim.freeze_encoder_steps} instead."
            )
        if self.optim.warmup_steps < 0 or self.optim.clip_grad_norm < 0:
            raise ValueError(
                f"`optim.warmup_steps` and `optim.clip_grad_norm` must be >= 0, but are "
                f"{self.optim.warmup_steps} and {self.optim.clip_grad_norm} instead."
            )
        if len(self.optim.betas) != 2:
            raise ValueError(f"`optim.betas` must be two numbers, but is {self.optim.betas}.")


def _check_choice(name: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ValueError(f"`{name}` must be one of {list(choices)}, but is {value!r} instead.")


def load_train_config(path: Path | None, overrides: Sequence[str] = ()) -> TrainConfig:
    """The config of ``path`` (YAML) with dotted ``key=value`` overrides applied, in order.

    Args:
        path: a YAML file, or ``None`` for the defaults.
        overrides: e.g. ``["optim.lr=5e-4", "trainer.max_steps=100"]``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: an unknown key, a value of the wrong type, a required value left ``???``,
            or an invalid setting; the message names the file or the override.
    """
    schema = OmegaConf.structured(TrainConfig)
    sources = []
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"training config {path} does not exist.")
        try:
            sources.append((str(path), OmegaConf.load(path)))
        except yaml.YAMLError as error:
            raise ValueError(f"training config {yaml_error_message(path, error)}") from None
        except (OmegaConfBaseException, ValueError) as error:
            raise ValueError(f"training config {path} is not valid YAML: {error}") from None
    for override in overrides:
        if "=" not in override:
            raise ValueError(f"override {override!r} must be KEY=VALUE, e.g. optim.lr=5e-4.")
        try:
            sources.append((f"override {override!r}", OmegaConf.from_dotlist([override])))
        except OmegaConfBaseException as error:
            raise ValueError(f"override {override!r}: {error}") from None
    merged = schema
    for where, source in sources:
        try:
            merged = OmegaConf.merge(merged, source)
        except OmegaConfBaseException as error:
            raise ValueError(f"{where}: {error}") from None
    missing = sorted(OmegaConf.missing_keys(merged))
    if missing:
        raise ValueError(f"training config must set {missing}, but leaves them ??? instead.")
    try:
        return OmegaConf.to_object(merged)
    except OmegaConfBaseException as error:
        raise ValueError(f"training config: {error}") from None


def config_to_dict(config: TrainConfig) -> dict[str, Any]:
    """The config as plain values (for checkpoints and ``config.yaml``)."""
    return OmegaConf.to_container(OmegaConf.structured(config), resolve=True)
