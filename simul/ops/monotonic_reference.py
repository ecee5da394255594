"""Expected monotonic alignment in readable PyTorch: the test oracle and the no-compiler fallback.

Why division-free: MMA's closed form (Ma et al. 2020, after Raffel et al. 2017) divides by an
exclusive cumulative product of ``1 - p`` clamped to ``[eps, 1]``. That product underflows after
a few hundred source frames, and the clamp then loses mass: at source length 400 about a quarter
of it (``/work/shared/research/monotonic.md`` §1.3). The recurrence along the source,

    q[i, j] = (1 - p[i, j-1]) * q[i, j-1] + alpha[i-1, j]          (q[i, -1] = 0)
    alpha[i, j] = p[i, j] * q[i, j],

is a first-order linear (affine) recurrence ``q_j = a_j q_{j-1} + b_j``, which an associative
scan computes with products of numbers in [0, 1] and sums of non-negative numbers only: no
division, no clamp, no ``eps``. Here the scan is Hillis and Steele's (log2(S) vectorised steps
per target step) and autograd differentiates it; the compiled kernels (``csrc/``) run the same
recurrence sequentially and write the backward (a reverse scan) by hand.

Conventions, shared by every implementation behind ``simul.ops.monotonic_alignment``:

- Before the first target step the reader sits on the first source position:
  ``alpha[-1] = one_hot(0)``.
- Source position ``j`` of row ``n`` is real when ``j < source_lengths[n]``; ``alpha`` is 0 at
  padded positions, and ``p_choose`` there is never read (NaN is fine) and gets zero gradient.
- ``mass_preservation=True`` (MMA's default): the reader stops on the last real source position
  at the latest, i.e. ``p[i, L-1]`` is taken as 1 (EMMA's forced write at the end of the source).
  Then ``alpha[i]`` sums to 1 over the real positions, and ``p_choose[:, :, L-1]`` gets zero
  gradient. With ``False`` the mass ``1 - sum_j alpha[i, j]`` is that of having read past the end.

Letters used in shapes: N rows (batch x heads, flattened), T target steps, S source positions.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["affine_scan", "effective_p_choose", "monotonic_alignment_reference"]


def _shift_right(x: Tensor, offset: int, fill: float) -> Tensor:
    """``x`` moved ``offset`` places to the right along the last dim, ``fill`` entering left."""
    pad = x.new_full((*x.shape[:-1], offset), fill)
    return torch.cat([pad, x[..., :-offset]], dim=-1)


def affine_scan(a: Tensor, b: Tensor) -> Tensor:
    """Solve ``q_j = a_j * q_{j-1} + b_j`` (``q_{-1} = 0``) along the last dim, without division.

    Element j starts as the affine map ``x -> a_j x + b_j``. After the step with offset d it is
    the composition of the maps of positions ``j-2d+1 .. j`` (those left of 0 are the identity),
    so after ceil(log2(S)) steps ``B_j`` is ``q_j`` (Hillis and Steele's inclusive scan).

    Args:
        a: (..., S) multipliers.
        b: (..., S) offsets, same shape as ``a``.

    Returns:
        (..., S) the solution q.
    """
    scale, offset = a, b
    size = a.shape[-1]
    distance = 1
    while distance < size:
        # (A_j, B_j) after (A_{j-d}, B_{j-d}): x -> A_j (A_{j-d} x + B_{j-d}) + B_j
        offset = offset + scale * _shift_right(offset, distance, 0.0)
        scale = scale * _shift_right(scale, distance, 1.0)
        distance *= 2
    return offset


def effective_p_choose(p_choose: Tensor, source_lengths: Tensor, mass_preservation: bool) -> Tensor:
    """``p_choose`` with padding set to 0 and, under mass preservation, the last real position to 1.

    Args:
        p_choose: (N, T, S).
        source_lengths: (N,) integers in [1, S].
        mass_preservation: see the module docstring.

    Returns:
        (N, T, S); ``torch.where`` keeps the gradient of the replaced entries at exactly 0.
    """
    positions = torch.arange(p_choose.shape[-1], device=p_choose.device)
    lengths = source_lengths.to(device=p_choose.device, dtype=torch.long)[:, None, None]
    p = torch.where(positions < lengths, p_choose, torch.zeros_like(p_choose))
    if mass_preservation:
        p = torch.where(positions == lengths - 1, torch.ones_like(p), p)
    return p


def monotonic_alignment_reference(
    p_choose: Tensor, source_lengths: Tensor, mass_preservation: bool = True
) -> Tensor:
    """Expected monotonic alignment, by a division-free affine scan along the source.

    Half and bfloat16 inputs are computed in float32 and the result is cast back.

    Args:
        p_choose: (N, T, S) probability to stop on source position j and write target step i.
        source_lengths: (N,) number of real source positions of each row, in [1, S].
        mass_preservation: stop on the last real source position at the latest
            (Default: ``True``).

    Returns:
        (N, T, S) alpha, differentiable with respect to ``p_choose`` by autograd.
    """
    compute_dtype = torch.float32 if p_choose.dtype in (torch.float16, torch.bfloat16) else None
    p = p_choose.to(compute_dtype) if compute_dtype is not None else p_choose
    p = effective_p_choose(p, source_lengths, mass_preservation)
    num_rows, _, num_sources = p.shape
    # a_j = 1 - p_{j-1}; a_0 multiplies q_{-1} = 0, so its value does not matter.
    stay = _shift_right(1.0 - p, 1, 1.0)  # (N, T, S)
    previous = torch.zeros(num_rows, num_sources, dtype=p.dtype, device=p.device)
    previous[:, 0] = 1.0  # alpha[-1]: on the first source position before the first write
    steps = []
    # unbind, not p[:, target]: the backward of T selects would build T full-size gradients.
    for stay_step, p_step in zip(stay.unbind(1), p.unbind(1), strict=True):
        q = affine_scan(stay_step, previous)  # (N, S)
        previous = p_step * q
        steps.append(previous)
    alpha = torch.stack(steps, dim=1)  # (N, T, S)
    return alpha.to(p_choose.dtype)
