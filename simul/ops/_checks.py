"""Input checks shared by the monotonic attention ops: (B*H, T, S) or (B, H, T, S) scores."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["check_scores", "row_lengths"]


def check_scores(name: str, scores: Tensor) -> None:
    """Raise ``ValueError`` unless ``scores`` is a floating (N, T, S) or (B, H, T, S) tensor, S >= 1."""
    if not isinstance(scores, Tensor) or scores.dim() not in (3, 4):
        shape = tuple(scores.shape) if isinstance(scores, Tensor) else type(scores).__name__
        raise ValueError(
            f"`{name}` must be a (B*H, T, S) or (B, H, T, S) tensor, but is {shape} instead."
        )
    if not scores.is_floating_point():
        raise ValueError(f"`{name}` must be floating point, but is {scores.dtype} instead.")
    if scores.shape[-1] == 0:
        raise ValueError(
            f"`{name}` must have at least one source position (last dim), "
            f"but has shape {tuple(scores.shape)} instead."
        )


def row_lengths(source_lengths: Tensor | None, scores: Tensor, name: str) -> Tensor:
    """One int64 source length per row (N,) on ``scores``' device, from (B,) or ``None`` (all S).

    Args:
        source_lengths: (B,) integers in [1, S], B = ``scores.shape[0]``, or ``None``.
        scores: (N, T, S) or (B, H, T, S), already checked by ``check_scores``.
        name: how the error messages call ``scores``.

    Returns:
        (N,) contiguous int64; a 4-D ``scores`` repeats each length over its H rows.
    """
    batch_size, num_sources = scores.shape[0], scores.shape[-1]
    rows_per_item = scores.shape[1] if scores.dim() == 4 else 1
    if source_lengths is None:
        return torch.full(
            (batch_size * rows_per_item,), num_sources, dtype=torch.long, device=scores.device
        )
    if not isinstance(source_lengths, Tensor) or tuple(source_lengths.shape) != (batch_size,):
        got = (
            tuple(source_lengths.shape)
            if isinstance(source_lengths, Tensor)
            else type(source_lengths).__name__
        )
        raise ValueError(
            f"`source_lengths` must have shape ({batch_size},) (`{name}`'s dim 0), "
            f"but is {got} instead."
        )
    if source_lengths.is_floating_point() or source_lengths.is_complex():
        raise ValueError(
            f"`source_lengths` must be integers, but is {source_lengths.dtype} instead."
        )
    lengths = source_lengths.to(device=scores.device, dtype=torch.long)
    # A data-dependent check, skipped while compiling (the compiled kernels clamp to [1, S]).
    if not torch.compiler.is_compiling():
        bad = (lengths < 1) | (lengths > num_sources)
        if bool(bad.any()):
            raise ValueError(
                f"`source_lengths` must be in [1, {num_sources}] (`{name}`'s last dim), "
                f"but is {lengths.tolist()} instead."
            )
    return lengths.repeat_interleave(rows_per_item).contiguous()
