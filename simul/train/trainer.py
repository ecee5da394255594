"""``simul train``'s loop: any model family, one process or DDP, resumable to the same result.

What one optimiser step does: ``grad_accumulation`` micro-batches, each under its own dropout
seed (a function of ``seed``, step, micro-batch and rank, so a resumed run draws the same masks
without saving RNG states), forward and backward through the family's loss (under autocast on
CUDA; gradients synchronised by DDP on the last micro-batch only), then clipping, AdamW and the
learning-rate schedule.  A step whose gradient is not finite is skipped (counted, not applied).

Every ``checkpoint_every_steps`` rank 0 writes ``checkpoints/last.pt`` (weights, optimiser,
schedule, scaler, data position); every ``validate_every_steps`` it decodes the validation split
and keeps ``checkpoints/best.pt`` by the validation metric.  A run restarted with the same
``output_dir`` continues from ``last.pt``: the same data position, the same dropout seeds,
hence (on the same hardware and thread count) the same parameters as a run that never stopped.
At the end the best checkpoint decodes the test split, scored for quality and, when the family
times its tokens, latency (``test/``).
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import OmegaConf
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from simul.eval.quality import TextNormalization
from simul.families.checkpoint import (
    Checkpoint,
    build_model,
    cmvn_to_dict,
    encoder_of,
    init_encoder_from,
    load_checkpoint,
    save_checkpoint,
    weights_sha256,
)
from simul.families.registry import get_family
from simul.io import atomic_write_bytes, atomic_write_text, lock_directory
from simul.logs import log_to_file, progress_bar_disabled
from simul.provenance import changed_settings, provenance
from simul.train.config import TrainConfig, config_to_dict
from simul.train.data import (
    BatchPosition,
    evaluation_batches,
    load_training_data,
    training_batches,
)
from simul.train.distributed import DistributedContext, init_distributed, shutdown_distributed
from simul.train.evaluate import evaluate, metric_name, write_evaluation
from simul.train.schedule import encoder_lr_factor, lr_factor

__all__ = ["TrainResult", "train"]

logger = logging.getLogger(__name__)

_LOWER_IS_BETTER = ("WER", "CER", "TER")

#: Config keys a resumed run may change: they cannot change the weights a step computes (run
#: length, when to validate, checkpoint and log, threads, throughput, the progress bar, where
#: the run lives).  ``trainer.max_steps`` is not one under the cosine schedule (its horizon).
_RESUMABLE_CHANGES = (
    "trainer.max_steps", "trainer.max_epochs", "trainer.max_minutes",
    "trainer.validate_every_steps", "trainer.checkpoint_every_steps", "trainer.log_every_steps",
    "trainer.num_threads", "trainer.progress", "trainer.resume", "trainer.output_dir",
    "data.num_parallel_calls", "data.num_prefetch",
)  # fmt: skip


@dataclass(frozen=True)
class TrainResult:
    """How a call of :func:`train` ended.

    Attributes:
        step: optimiser steps taken in total.
        finished: whether this call ended the run's work: ``max_steps``, ``max_epochs`` or the
            ``max_minutes`` budget reached, then final validation and test (a run stopped by
            its time budget can still be continued by calling again).  ``False`` after
            ``stop_after_steps``.
        best_metric: the best validation metric so far, or ``None``.
        metrics: the last validation metrics.
        test_metrics: the test split's metrics, when it was decoded.
        weights_sha256: hash of this rank's final weights: equal on every DDP rank, and equal
            between a run that was interrupted and resumed and one that was not.
    """

    step: int
    finished: bool
    best_metric: float | None
    weights_sha256: str
    metrics: dict[str, float] = field(default_factory=dict)
    test_metrics: dict[str, float] | None = None


_ABSENT = object()


def _lookup(values: dict[str, Any], dotted: str) -> Any:
    """``values["a"]["b"]`` for ``"a.b"``, or ``_ABSENT``."""
    for key in dotted.split("."):
        if not isinstance(values, dict) or key not in values:
            return _ABSENT
        values = values[key]
    return values


def _new_key_at_its_default(stored: dict[str, Any], current: dict[str, Any], key: str) -> bool:
    """Whether ``key`` is newer than the stored config and at its default (as the old run ran).

    Why: a checkpoint written before a config field existed must still resume when the field
    keeps the behaviour it had then.
    """
    if _lookup(stored, key) is not _ABSENT:
        return False
    default = OmegaConf.select(OmegaConf.structured(TrainConfig), key, throw_on_missing=False)
    if OmegaConf.is_config(default):
        default = OmegaConf.to_container(default, resolve=True)
    return _lookup(current, key) == default


def _dropout_seed(seed: int, step: int, micro_batch: int, rank: int) -> int:
    return int(np.random.SeedSequence([seed, step, micro_batch, rank]).generate_state(1)[0])


class _Trainer:
    """One run's objects; :meth:`run` is the loop.  Not API: call :func:`train`."""

    def __init__(self, config: TrainConfig, context: DistributedContext) -> None:
        self.config = config
        self.context = context
        self.device = context.device
        trainer = config.trainer
        if trainer.num_threads is not None:
            torch.set_num_threads(trainer.num_threads)
        self.output_dir = Path(trainer.output_dir)
        self.checkpoint_dir = self.output_dir / "checkpoints"
        self.data = load_training_data(config.data)
        self.family = get_family(config.model.family)
        tokenizer = self.data.tokenizer
        self.model_config = self.family.resolve_config(
            config.model.preset,
            config.model.config,
            vocab_size=tokenizer.vocab_size,
            blank_id=tokenizer.blank_id,
        )
        torch.manual_seed(trainer.seed)  # the same initial weights on every rank
        self.model = self.family.build(self.model_config)
        if config.model.init_encoder_from is not None:  # before resuming, which overwrites it
            source = init_encoder_from(
                self.model, Path(config.model.init_encoder_from), cmvn=cmvn_to_dict(self.data.cmvn)
            )
            logger.info(
                "encoder initialised from %s (step %d)", config.model.init_encoder_from, source.step
            )
        self.model = self.model.to(self.device)
        optim = config.optim
        self.encoder_params = self._encoder_parameters()
        encoder_ids = {id(p) for p in self.encoder_params}
        rest = [p for p in self.model.parameters() if id(p) not in encoder_ids]
        groups = []  # (parameters, weight decay, is the encoder's)
        for params, is_encoder in ((rest, False), (self.encoder_params, True)):
            groups.append(([p for p in params if p.dim() >= 2], optim.weight_decay, is_encoder))
            groups.append(([p for p in params if p.dim() < 2], 0.0, is_encoder))
        groups = [group for group in groups if group[0]]
        self.optimizer = torch.optim.AdamW(
            [{"params": params, "weight_decay": decay} for params, decay, _ in groups],
            lr=optim.lr,
            betas=(optim.betas[0], optim.betas[1]),
            eps=optim.eps,
        )
        base = partial(
            lr_factor, schedule=optim.schedule, warmup_steps=optim.warmup_steps,
            max_steps=trainer.max_steps, min_lr_ratio=optim.min_lr_ratio,
        )  # fmt: skip
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer,
            [
                partial(self._encoder_factor, base) if is_encoder else base
                for *_, is_encoder in groups
            ],
        )
        cuda = self.device.type == "cuda"
        self.amp_dtype = torch.float16 if trainer.amp_dtype == "float16" else torch.bfloat16
        self.use_amp = trainer.amp and cuda
        self.scaler = torch.amp.GradScaler(
            "cuda", enabled=self.use_amp and self.amp_dtype == torch.float16
        )
        self.step = 0
        self.position = BatchPosition()
        self.best_metric: float | None = None
        self.metrics: dict[str, float] = {}
        self.tokenizer_bytes = Path(config.data.spm_model).read_bytes()
        self._maybe_resume()
        self.ddp_model: nn.Module = self.model
        if context.world_size > 1:
            self.ddp_model = DistributedDataParallel(
                self.model, device_ids=[self.device.index] if cuda else None
            )
        self.writer = (
            SummaryWriter(str(self.output_dir / "tensorboard")) if context.is_main else None
        )

    def _encoder_parameters(self) -> list[nn.Parameter]:
        """The encoder's parameters when its rate differs from the rest's (else none: one schedule)."""
        optim = self.config.optim
        if optim.encoder_lr_scale == 1.0 and optim.freeze_encoder_steps == 0:
            return []
        what = f"the {self.config.model.family!r} family's {type(self.model).__name__}"
        purpose = "for `optim.encoder_lr_scale` and `optim.freeze_encoder_steps`"
        return list(encoder_of(self.model, what, purpose).parameters())

    def _encoder_factor(self, base, step: int) -> float:
        optim = self.config.optim
        return encoder_lr_factor(
            step, base=base(step), scale=optim.encoder_lr_scale,
            freeze_steps=optim.freeze_encoder_steps, rewarmup_steps=optim.warmup_steps,
        )  # fmt: skip

    def _update_encoder_frozen(self) -> None:
        """Skip the frozen encoder's backward pass: half of a step's compute (one process only:
        DDP fixes its gradient set when it wraps the model, and then the encoder's rate of 0
        alone freezes it)."""
        if not self.encoder_params or self.context.world_size > 1:
            return
        trainable = self.step >= self.config.optim.freeze_encoder_steps
        if self.encoder_params[0].requires_grad != trainable:  # only at the start and the thaw
            for parameter in self.encoder_params:
                parameter.requires_grad_(trainable)

    # -- checkpoints -------------------------------------------------------------------------

    def _checkpoint(self, *, with_trainer_state: bool) -> Checkpoint:
        trainer_state = None
        if with_trainer_state:
            trainer_state = {
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "scaler": self.scaler.state_dict(),
                "epoch": self.position.epoch,
                "batches_done": self.position.batches_done,
                "best_metric": self.best_metric,
                "world_size": self.context.world_size,
            }
        return Checkpoint(
            family=self.config.model.family,
            model_config=asdict(self.model_config),
            state_dict={k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            tokenizer_model=self.tokenizer_bytes,
            fbank_config=self.data.fbank_config.to_dict(),
            cmvn=cmvn_to_dict(self.data.cmvn),
            train_config=config_to_dict(self.config),
            step=self.step,
            epoch=self.position.epoch,
            metrics=dict(self.metrics),
            trainer_state=trainer_state,
            target=self.config.data.target,
        )

    def _check_same_run(self, last: Path, checkpoint: Checkpoint) -> None:
        """Refuse to resume a run whose config changed in a way that changes the result.

        Why: the optimiser and schedule come back from ``last.pt``, so a changed ``optim.lr``
        (say) would be silently ignored while ``config.yaml`` and every later checkpoint
        record it.  Only :data:`_RESUMABLE_CHANGES` may differ.
        """
        if checkpoint.family != self.config.model.family or checkpoint.model_config != asdict(
            self.model_config
        ):
            raise ValueError(
                f"{last} holds a different model than the config asks for; use another "
                "`trainer.output_dir`, or `trainer.resume=false` to start over."
            )
        allowed = set(_RESUMABLE_CHANGES)
        if self.config.optim.schedule == "cosine":
            allowed.discard("trainer.max_steps")  # the cosine's horizon: it changes the rate
        stored, current = checkpoint.train_config, config_to_dict(self.config)
        changed = [
            key
            for key in changed_settings(stored, current)
            if key not in allowed and not _new_key_at_its_default(stored, current, key)
        ]
        if changed:
            raise ValueError(
                f"{last} was trained with another config: {', '.join(changed)} changed (only "
                f"{', '.join(sorted(allowed))} may change on resume); restore them, use another "
                "`trainer.output_dir`, or `trainer.resume=false` to start over."
            )

    def _maybe_resume(self) -> None:
        last = self.checkpoint_dir / "last.pt"
        if not (self.config.trainer.resume and last.is_file()):
            return
        checkpoint = load_checkpoint(last, map_location=self.device)
        self._check_same_run(last, checkpoint)
        state = checkpoint.trainer_state
        if state is None:
            raise ValueError(f"{last} has no trainer state to resume from.")
        if state["world_size"] != self.context.world_size:
            raise ValueError(
                f"{last} was written by {state['world_size']} processes, but this run has "
                f"{self.context.world_size}: the data shards would differ."
            )
        self.model.load_state_dict(checkpoint.state_dict)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.step = checkpoint.step
        self.position = BatchPosition(state["epoch"], state["batches_done"])
        self.best_metric = state["best_metric"]
        self.metrics = dict(checkpoint.metrics)
        logger.info("resumed from %s at step %d (epoch %d)", last, self.step, self.position.epoch)

    def _save_last(self) -> None:
        if self.context.is_main:
            save_checkpoint(
                self.checkpoint_dir / "last.pt", self._checkpoint(with_trainer_state=True)
            )

    def _write_run_files(self) -> None:
        """``config.yaml``, ``spm.model`` and ``cmvn.npz`` beside the checkpoints (rank 0)."""
        if not self.context.is_main:
            return
        atomic_write_text(
            self.output_dir / "config.yaml", OmegaConf.to_yaml(config_to_dict(self.config))
        )
        atomic_write_bytes(self.output_dir / "spm.model", self.tokenizer_bytes)
        if self.data.cmvn is not None:
            self.data.cmvn.save(self.output_dir / "cmvn.npz")

    # -- validation and test -----------------------------------------------------------------

    def _normalization(self) -> TextNormalization:
        validation = self.config.validation
        return TextNormalization(
            lowercase=validation.lowercase, remove_punctuation=validation.remove_punctuation
        )

    def _evaluate(self, model: nn.Module, split: str, *, beam_size: int, full: bool):
        instances = self.data.valid if split == "valid" else self.data.test
        batches = evaluation_batches(instances, self.data, self.config.data, self.family)
        return evaluate(
            self.family, model, instances, batches,
            tokenizer=self.data.tokenizer, target=self.data.target,
            metric=self.config.validation.metric, normalization=self._normalization(),
            device=self.device, beam_size=beam_size, full=full,
        )  # fmt: skip

    def _validate(self) -> None:
        """Rank 0 decodes the validation split; keeps best.pt; the others wait."""
        if self.context.is_main:
            result = self._evaluate(
                self.model, "valid", beam_size=self.config.validation.beam_size, full=False
            )
            self.model.train()
            self.metrics = {f"valid/{name}": value for name, value in result.metrics.items()}
            stream, metric = metric_name(self.config.validation.metric, self.data.target)
            value = result.metrics[f"{stream}/{metric}"]
            lower = metric in _LOWER_IS_BETTER
            improved = self.best_metric is None or (
                value < self.best_metric if lower else value > self.best_metric
            )
            if improved and math.isfinite(value):
                self.best_metric = value
                save_checkpoint(
                    self.checkpoint_dir / "best.pt", self._checkpoint(with_trainer_state=False)
                )
            for name, number in self.metrics.items():
                self.writer.add_scalar(name, number, self.step)
            logger.info(
                "step %d: valid loss %.4f, %s %.2f (best %.2f)",
                self.step, result.metrics["loss"], metric, value, self.best_metric,
            )  # fmt: skip
        self.context.barrier()

    def _test(self) -> dict[str, float] | None:
        if not self.context.is_main or self.data.test is None:
            return None
        best = self.checkpoint_dir / "best.pt"
        path = best if best.is_file() else self.checkpoint_dir / "last.pt"
        checkpoint = load_checkpoint(path)
        model = build_model(checkpoint, device=self.device)
        beam_size = self.config.validation.test_beam_size
        result = self._evaluate(model, "test", beam_size=beam_size, full=True)
        inputs: dict[str, Any] = {"checkpoint": str(path), "step": checkpoint.step}
        write_evaluation(
            self.output_dir / "test", result, **inputs, beam_size=beam_size,
            provenance=provenance(),
        )  # fmt: skip
        logger.info("test (%s, step %d): %s", path.name, checkpoint.step, result.metrics)
        return result.metrics

    # -- the loop ----------------------------------------------------------------------------

    def _train_step(self, micro_batches: list) -> dict[str, float]:
        """One optimiser step over the micro-batches; returns scalars for logging."""
        self.ddp_model.train()
        self._update_encoder_frozen()
        totals: dict[str, float] = {"loss": 0.0, "utterances": 0.0, "tokens": 0.0}
        for index, (_, batch) in enumerate(micro_batches):
            torch.manual_seed(
                _dropout_seed(self.config.trainer.seed, self.step, index, self.context.rank)
            )
            batch = batch.to(self.device, non_blocking=True)
            last = index == len(micro_batches) - 1
            sync = contextlib.nullcontext()
            if not last and isinstance(self.ddp_model, DistributedDataParallel):
                sync = self.ddp_model.no_sync()
            with sync:
                with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.use_amp):
                    out = self.family.loss(self.ddp_model, batch)
                self.scaler.scale(out.loss / len(micro_batches)).backward()
            totals["loss"] += float(out.loss.detach()) * out.num_utterances
            totals["utterances"] += out.num_utterances
            totals["tokens"] += out.num_tokens
            for name, value in out.sums.items():
                totals[name] = totals.get(name, 0.0) + float(value)
        self.scaler.unscale_(self.optimizer)
        clip = self.config.optim.clip_grad_norm
        grad_norm = float(
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip if clip > 0 else math.inf)
        )
        if math.isfinite(grad_norm) or self.scaler.is_enabled():
            self.scaler.step(self.optimizer)  # the scaler skips non-finite fp16 steps itself
        else:
            logger.warning("step %d: gradient norm %s, update skipped", self.step, grad_norm)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()
        self.step += 1
        self.position = micro_batches[-1][0]
        utterances = max(totals.pop("utterances"), 1.0)
        tokens = max(totals.pop("tokens"), 1.0)
        scalars = {"loss": totals.pop("loss") / utterances}
        scalars.update({f"{name}_per_token": value / tokens for name, value in totals.items()})
        scalars["grad_norm"] = grad_norm
        scalars["lr"] = self.scheduler.get_last_lr()[0]
        return scalars

    def run(self, stop_after_steps: int | None) -> TrainResult:
        trainer = self.config.trainer
        self._write_run_files()
        batches = training_batches(
            self.data, self.config.data, self.family, self.context,
            seed=trainer.seed, start=self.position, max_epochs=trainer.max_epochs,
        )  # fmt: skip
        started = time.monotonic()
        progress = tqdm(
            total=trainer.max_steps, initial=self.step, desc="train", unit="step",
            disable=progress_bar_disabled(trainer.progress and self.context.is_main),
        )  # fmt: skip
        # Without a bar (turned off, or stderr is no terminal: a batch job's log file), the loss
        # goes to the log every `log_every_steps`, or a redirected run would show none at all.
        log_loss = bool(progress.disable) and self.context.is_main
        interrupted = False
        validated_at = checkpointed_at = -1
        while self.step < trainer.max_steps:
            micro_batches = []
            for _ in range(self.config.optim.grad_accumulation):
                item = next(batches, None)
                if item is None:
                    break
                micro_batches.append(item)
            if not micro_batches:
                break  # max_epochs reached
            scalars = self._train_step(micro_batches)
            progress.update(1)
            progress.set_postfix(loss=f"{scalars['loss']:.3f}", epoch=self.position.epoch)
            if self.writer is not None and self.step % trainer.log_every_steps == 0:
                for name, value in scalars.items():
                    self.writer.add_scalar(f"train/{name}", value, self.step)
            if log_loss and self.step % trainer.log_every_steps == 0:
                logger.info(
                    "step %d/%d: loss %.4f, lr %.3g, epoch %d", self.step, trainer.max_steps,
                    scalars["loss"], scalars["lr"], self.position.epoch,
                )  # fmt: skip
            if self.step % trainer.validate_every_steps == 0:
                self._validate()
                validated_at = self.step
            if self.step % trainer.checkpoint_every_steps == 0:
                self._save_last()
                checkpointed_at = self.step
            if stop_after_steps is not None and self.step >= stop_after_steps:
                interrupted = self.step < trainer.max_steps
                break
            out_of_time = (
                trainer.max_minutes is not None
                and time.monotonic() - started > 60 * trainer.max_minutes
            )
            if self.context.any_true(out_of_time):
                logger.info(
                    "time budget of %s min spent at step %d", trainer.max_minutes, self.step
                )
                break
        progress.close()
        if not interrupted and validated_at != self.step:
            self._validate()
            checkpointed_at = -1  # last.pt then carries the final metrics
        if checkpointed_at != self.step:
            self._save_last()
        self.context.barrier()
        test_metrics = None if interrupted else self._test()
        if self.writer is not None:
            self.writer.close()
        return TrainResult(
            step=self.step, finished=not interrupted, best_metric=self.best_metric,
            weights_sha256=weights_sha256(self.model), metrics=dict(self.metrics),
            test_metrics=test_metrics,
        )  # fmt: skip


def train(config: TrainConfig, *, stop_after_steps: int | None = None) -> TrainResult:
    """Train as ``config`` says, resuming from ``output_dir`` when it holds a run.

    Args:
        config: the whole run (:func:`simul.train.config.load_train_config`).
        stop_after_steps: end this call once the run has taken that many steps in total, with
            a checkpoint, as an interruption would (for preemptible jobs and tests); calling
            again resumes.

    Returns:
        Where the run stands.  Under ``torchrun`` every rank returns; only rank 0 has metrics.

    Raises:
        simul.io.DirectoryLockedError: another run is writing into ``output_dir``.
    """
    context = init_distributed(config.trainer.device)
    try:
        # Rank 0 writes the run's files: a second run into the same folder is refused.  Its log
        # also goes to OUTPUT/train.log (appended on resume), timestamped, for batch jobs.
        with contextlib.ExitStack() as stack:
            if context.is_main:
                output = Path(config.trainer.output_dir)
                stack.enter_context(lock_directory(output, "simul train"))
                stack.enter_context(log_to_file(output / "train.log"))
            return _Trainer(config, context).run(stop_after_steps)
    finally:
        shutdown_distributed(context)
