"""Differentiable latency of monotonic attention: expected delays and their average lagging.

MMA (Ma et al., ICLR 2020) trains its latency with ``L = -log p(y|x) + lambda_avg * C(d) +
lambda_var * Var_heads(d)``, where d are the expected delays of each head and C is a latency
metric made differentiable, Differentiable Average Lagging (DAL; Arivazhagan et al. 2019,
MILk). This module gives the two pieces that act on tensors and carry gradients:

- ``expected_delays``: ``d[i] = sum_j (j + 1) * alpha[i, j]``, the expected number of source
  positions read when target step i is written (fairseq's ``expected_delays``, positions
  counted from 1). With mass preservation every alpha row sums to 1 and d is a true
  expectation, in [1, L].
- ``differentiable_average_lagging``: DAL of those delays, batched, equal to
  ``simul.eval.latency.differentiable_average_lagging`` (SimulEval's) on each sequence.

How heads are gathered (MMA's weighted average, max, mean) and the variance across heads are
model choices and belong to the model: ``delays.var(dim=heads)`` over the (B, H, T) delays.
Delays are in source positions; for speech with a pre-decision ratio r (keys pooled r frames
at a time) a position is r encoder frames, and the source length must be given in the same unit.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["differentiable_average_lagging", "expected_delays"]


def expected_delays(alpha: Tensor) -> Tensor:
    """Expected delay of each target step, in source positions counted from 1.

    Args:
        alpha: (..., T, S) expected alignment (``monotonic_alignment``).

    Returns:
        (..., T) ``sum_j (j + 1) * alpha[..., i, j]``, differentiable.
    """
    if not isinstance(alpha, Tensor) or alpha.dim() < 2 or not alpha.is_floating_point():
        got = (
            f"{alpha.dtype} {tuple(alpha.shape)}"
            if isinstance(alpha, Tensor)
            else type(alpha).__name__
        )
        raise ValueError(f"`alpha` must be a floating (..., T, S) tensor, but is {got} instead.")
    positions = torch.arange(1, alpha.shape[-1] + 1, device=alpha.device, dtype=alpha.dtype)
    return alpha @ positions


def _check_lengths(name: str, lengths: Tensor, batch_size: int) -> None:
    if not isinstance(lengths, Tensor) or tuple(lengths.shape) != (batch_size,):
        got = tuple(lengths.shape) if isinstance(lengths, Tensor) else type(lengths).__name__
        raise ValueError(f"`{name}` must have shape ({batch_size},), but is {got} instead.")
    if not torch.compiler.is_compiling() and bool((lengths <= 0).any()):
        raise ValueError(f"`{name}` must be positive, but is {lengths.tolist()} instead.")


def differentiable_average_lagging(
    delays: Tensor, source_lengths: Tensor, target_lengths: Tensor
) -> Tensor:
    """Differentiable Average Lagging of each sequence (Arivazhagan et al. 2019).

    With gamma = |y| / |x|::

        d'_1 = d_1,   d'_i = max(d_i, d'_{i-1} + 1 / gamma)
        DAL  = 1/|y| * sum_{i=1..|y|} (d'_i - (i - 1) / gamma)

    ``max`` is piecewise linear, so DAL is differentiable almost everywhere; the recurrence runs
    over target steps (T small steps).

    Args:
        delays: (B, T) or (B, H, T) delays, e.g. ``expected_delays(alpha)``; steps at or past
            ``target_lengths`` are ignored.
        source_lengths: (B,) |x| in the delays' unit, positive.
        target_lengths: (B,) |y| in [1, T].

    Returns:
        (B,) or (B, H) DAL, in the delays' unit.
    """
    if (
        not isinstance(delays, Tensor)
        or delays.dim() not in (2, 3)
        or not delays.is_floating_point()
    ):
        got = (
            f"{delays.dtype} {tuple(delays.shape)}"
            if isinstance(delays, Tensor)
            else type(delays).__name__
        )
        raise ValueError(
            f"`delays` must be a floating (B, T) or (B, H, T) tensor, but is {got} instead."
        )
    batch_size, num_targets = delays.shape[0], delays.shape[-1]
    _check_lengths("source_lengths", source_lengths, batch_size)
    _check_lengths("target_lengths", target_lengths, batch_size)
    if not torch.compiler.is_compiling() and bool((target_lengths > num_targets).any()):
        raise ValueError(
            f"`target_lengths` must be at most {num_targets} (delays' last dim), "
            f"but is {target_lengths.tolist()} instead."
        )
    broadcast = (batch_size,) + (1,) * (delays.dim() - 2)
    targets = target_lengths.to(device=delays.device, dtype=delays.dtype).reshape(broadcast)
    sources = source_lengths.to(device=delays.device, dtype=delays.dtype).reshape(broadcast)
    step = sources / targets  # 1 / gamma
    lagged = delays[..., 0]
    total = lagged
    for position in range(1, num_targets):
        lagged = torch.maximum(delays[..., position], lagged + step)
        real = position < targets
        total = total + torch.where(real, lagged - position * step, torch.zeros_like(lagged))
    return total / targets
