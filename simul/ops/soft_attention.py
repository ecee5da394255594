"""Infinite-lookback expected attention beta (MILk, MMA-IL), exact, in log space.

Arivazhagan et al. 2019 ("Monotonic Infinite Lookback Attention", MILk) and MMA-IL attend, at
the source position where the monotonic head stops, softly over everything read so far. In
expectation over the stopping position (alpha from ``monotonic_alignment``)::

    beta[i, j] = sum_{k >= j} alpha[i, k] * exp(u[i, j]) / sum_{l <= k} exp(u[i, l])

with u the soft energies. fairseq computes this with one max per row and ``exp(u) + eps``, which
turns the softmax over a prefix into a near-uniform average when the energies are peaky (off by
0.56 at energy scale 10; ``/work/shared/research/monotonic.md`` §1.5). Here, with
``Z_k = logcumsumexp(u)_k``::

    beta[i, j] = exp(u[i, j] + logsumexp_{k >= j}(log alpha[i, k] - Z_k))

one forward and one reverse ``logcumsumexp``, every exponent bounded above by ``log sum(alpha)``.

The gradient is written by hand: autograd through ``log(alpha)`` is NaN wherever alpha is 0
(0 * inf), yet beta is linear in alpha and has a finite gradient there. With g = dL/dbeta::

    dL/dalpha[k] = sum_{j <= k} g[j] exp(u[j] - Z_k)                     (a prefix sum)
    dL/du[m]     = g[m] beta[m] - sum_{k >= m} alpha[k] dL/dalpha[k] exp(u[m] - Z_k)

Both are sums of signed terms, computed in log space on the positive and the negative parts.
Second derivatives are not supported.

Letters used in shapes: B batch size, H heads, N = B*H rows, T target steps, S source positions.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from simul.ops._checks import check_scores, row_lengths

__all__ = ["expected_soft_attention"]


def _reverse_logcumsumexp(x: Tensor) -> Tensor:
    """``logsumexp`` of ``x[..., k]`` over k >= j, for every j (last dim)."""
    return torch.logcumsumexp(x.flip(-1), dim=-1).flip(-1)


def _signed_log_parts(weights: Tensor) -> tuple[Tensor, Tensor]:
    """``log(max(w, 0))`` and ``log(max(-w, 0))``: -inf where a part is 0."""
    return weights.clamp_min(0).log(), (-weights).clamp_min(0).log()


def _suffix(weights: Tensor, energies: Tensor, log_normalisers: Tensor) -> Tensor:
    """``out[j] = sum_{k >= j} w[k] * exp(u[j] - Z[k])`` for signed w, along the last dim."""
    positive, negative = _signed_log_parts(weights)
    return torch.exp(energies + _reverse_logcumsumexp(positive - log_normalisers)) - torch.exp(
        energies + _reverse_logcumsumexp(negative - log_normalisers)
    )


def _prefix(weights: Tensor, energies: Tensor, log_normalisers: Tensor) -> Tensor:
    """``out[k] = sum_{j <= k} w[j] * exp(u[j] - Z[k])`` for signed w, along the last dim."""
    positive, negative = _signed_log_parts(weights)
    return torch.exp(torch.logcumsumexp(positive + energies, dim=-1) - log_normalisers) - torch.exp(
        torch.logcumsumexp(negative + energies, dim=-1) - log_normalisers
    )


class _ExpectedSoftAttention(torch.autograd.Function):
    """beta from (alpha, u) on (N, T, S) rows, padded positions masked, with the exact gradient."""

    @staticmethod
    def forward(ctx, alpha: Tensor, soft_energy: Tensor, lengths: Tensor) -> Tensor:
        positions = torch.arange(alpha.shape[-1], device=alpha.device)
        real = positions < lengths[:, None, None]  # (N, 1, S)
        energies = torch.where(real, soft_energy, float("-inf"))
        weights = torch.where(real, alpha, 0.0)
        log_normalisers = torch.logcumsumexp(energies, dim=-1)  # finite: u[..., 0] is real
        beta = _suffix(weights, energies, log_normalisers)
        ctx.save_for_backward(weights, energies, log_normalisers, beta, real)
        return beta

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_beta: Tensor) -> tuple[Tensor, Tensor, None]:
        weights, energies, log_normalisers, beta, real = ctx.saved_tensors
        grad_beta = torch.where(real, grad_beta, 0.0)
        grad_alpha = torch.where(real, _prefix(grad_beta, energies, log_normalisers), 0.0)
        grad_energy = grad_beta * beta - _suffix(weights * grad_alpha, energies, log_normalisers)
        return grad_alpha, torch.where(real, grad_energy, 0.0), None


def expected_soft_attention(
    alpha: Tensor, soft_energy: Tensor, source_lengths: Tensor | None = None
) -> Tensor:
    """Infinite-lookback expected attention beta, exact in log space, with its exact gradient.

    Half and bfloat16 inputs are computed in float32; the output has ``alpha``'s dtype.

    Args:
        alpha: (N, T, S) or (B, H, T, S) expected monotonic alignment (from
            ``monotonic_alignment``), non-negative.
        soft_energy: soft attention energies u, the shape of ``alpha``; finite at real source
            positions (padded positions are never read).
        source_lengths: (N,) or (B,) real source positions per item of dim 0, in [1, S];
            ``None`` means all S (Default: ``None``).

    Returns:
        beta with the shape of ``alpha``; 0 at padded positions; ``beta[..., i, :]`` sums to
        ``alpha[..., i, :].sum()`` (1 under mass preservation).

    Examples:
        >>> alpha = torch.tensor([[[0.0, 1.0, 0.0]]])
        >>> expected_soft_attention(alpha, torch.zeros(1, 1, 3))  # uniform over what was read
        tensor([[[0.5000, 0.5000, 0.0000]]])
    """
    check_scores("alpha", alpha)
    check_scores("soft_energy", soft_energy)
    if soft_energy.shape != alpha.shape:
        raise ValueError(
            f"`soft_energy` must have the shape of `alpha` {tuple(alpha.shape)}, "
            f"but is {tuple(soft_energy.shape)} instead."
        )
    lengths = row_lengths(source_lengths, alpha, "alpha")
    low_precision = (torch.float16, torch.bfloat16)
    compute_dtype = torch.promote_types(alpha.dtype, soft_energy.dtype)
    if compute_dtype in low_precision:
        compute_dtype = torch.float32
    rows_alpha = alpha.reshape(-1, *alpha.shape[-2:]).to(compute_dtype)
    rows_energy = soft_energy.reshape(-1, *alpha.shape[-2:]).to(compute_dtype)
    beta = _ExpectedSoftAttention.apply(rows_alpha, rows_energy, lengths)
    return beta.reshape(alpha.shape).to(alpha.dtype)
