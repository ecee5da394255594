"""Learning-rate schedules: linear warm-up, then inverse square root, cosine, or constant.

Each schedule is a pure function of the step, a multiplier of the peak learning rate, wrapped in
``torch.optim.lr_scheduler.LambdaLR`` by the trainer.  ``step`` counts optimiser steps taken so
far (0 before the first), so the first update uses ``lr_factor(0)``, a small positive number,
never 0.
"""

from __future__ import annotations

import math

__all__ = ["encoder_lr_factor", "lr_factor"]


def lr_factor(
    step: int,
    *,
    schedule: str,
    warmup_steps: int,
    max_steps: int,
    min_lr_ratio: float = 0.0,
) -> float:
    """The learning rate of update ``step + 1`` as a fraction of the peak.

    Warm-up: ``(step + 1) / warmup_steps`` for the first ``warmup_steps`` updates.  Then
    ``inverse_sqrt``: ``sqrt(warmup_steps / (step + 1))`` (fairseq's ``inverse_sqrt``);
    ``cosine``: from 1 down to ``min_lr_ratio`` at ``max_steps`` (half a cosine period), then
    ``min_lr_ratio``; ``constant``: 1.

    Args:
        step: optimiser steps taken so far, >= 0.
        schedule: ``inverse_sqrt``, ``cosine`` or ``constant``.
        warmup_steps: updates of linear warm-up (0: none).
        max_steps: the run's length (the cosine's horizon).
        min_lr_ratio: the cosine's floor.
    """
    if step < 0:
        raise ValueError(f"`step` must be >= 0, but is {step} instead.")
    update = step + 1
    if update <= warmup_steps:
        return update / warmup_steps
    if schedule == "inverse_sqrt":
        return math.sqrt(max(warmup_steps, 1) / update)
    if schedule == "cosine":
        span = max(max_steps - warmup_steps, 1)
        progress = min((update - warmup_steps) / span, 1.0)
        return min_lr_ratio + (1.0 - min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))
    if schedule == "constant":
        return 1.0
    raise ValueError(
        f"`schedule` must be inverse_sqrt, cosine or constant, but is {schedule!r} instead."
    )


def encoder_lr_factor(
    step: int, *, base: float, scale: float, freeze_steps: int, rewarmup_steps: int
) -> float:
    """The encoder's learning rate of update ``step + 1`` as a fraction of the peak.

    Why: a fresh predictor and joiner on top of a pre-trained encoder send large, uninformed
    gradients into it at first, which can undo the pre-training (measured on the built-in corpus:
    an ASR-initialised T-T encoder fell back to WER 98.8).  So the encoder can be frozen for the
    first ``freeze_steps`` updates (factor 0), then ramped up linearly over ``rewarmup_steps``,
    and throughout run at ``scale`` times the rest of the model's schedule ``base``.

    Args:
        step: optimiser steps taken so far, >= 0.
        base: the rest of the model's factor at this step (:func:`lr_factor`).
        scale: the encoder's learning rate relative to the rest, >= 0.
        freeze_steps: updates during which the encoder is frozen.
        rewarmup_steps: updates of linear ramp after unfreezing (0: none).
    """
    if step < freeze_steps:
        return 0.0
    ramp = min(1.0, (step - freeze_steps + 1) / rewarmup_steps) if rewarmup_steps > 0 else 1.0
    return scale * base * ramp
