"""The oracle of the monotonic alignment tests: the recurrence run sequentially in float64.

Shared by ``test_ops_monotonic.py`` (every implementation) and ``test_ops_monotonic_cuda.py``
(the CUDA device code, emulated on the CPU), with the input regimes where MMA's closed form
breaks down.
"""

from __future__ import annotations

import torch

__all__ = ["REGIMES", "p_choose_regime", "random_lengths", "sequential_alignment"]


def sequential_alignment(
    p_choose: torch.Tensor, lengths: list[int], mass_preservation: bool
) -> torch.Tensor:
    """The recurrence in float64 Python, one position after another: (N, T, S) -> (N, T, S)."""
    p = p_choose.detach().double().cpu().tolist()
    num_rows, num_targets, num_sources = p_choose.shape
    alpha = torch.zeros(num_rows, num_targets, num_sources, dtype=torch.float64)
    for row in range(num_rows):
        length = lengths[row]
        previous = [1.0] + [0.0] * (length - 1)
        for target in range(num_targets):
            stop = list(p[row][target][:length])
            if mass_preservation:
                stop[length - 1] = 1.0
            q = 0.0
            current = []
            for j in range(length):
                q = (1.0 - stop[j - 1]) * q + previous[j] if j > 0 else previous[0]
                current.append(stop[j] * q)
            alpha[row, target, :length] = torch.tensor(current, dtype=torch.float64)
            previous = current
    return alpha


def p_choose_regime(regime: str, shape: tuple[int, int, int], seed: int) -> torch.Tensor:
    """float64 p_choose in one of the regimes where the closed form breaks."""
    generator = torch.Generator().manual_seed(seed)
    normal = torch.randn(shape, dtype=torch.float64, generator=generator)
    if regime == "uniform":
        return torch.rand(shape, dtype=torch.float64, generator=generator)
    if regime == "reads_far":  # research note's regime B: sigmoid(N(-1, 1))
        return torch.sigmoid(normal - 1.0)
    if regime == "near_zero":
        return torch.sigmoid(normal * 3.0 - 12.0)
    if regime == "near_one":
        return torch.sigmoid(normal * 3.0 + 12.0)
    if regime == "exact_zero_one":
        return (torch.rand(shape, generator=generator) < 0.1).double()
    if regime == "speech_like":  # p ~ 0.0025 with one spike per target step
        p = torch.full(shape, 0.0025, dtype=torch.float64)
        spikes = torch.randint(0, shape[-1], shape[:-1], generator=generator)
        return p.scatter(-1, spikes[..., None], 0.9)
    raise ValueError(regime)


def random_lengths(num_rows: int, num_sources: int, seed: int) -> list[int]:
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, num_sources + 1, (num_rows,), generator=generator).tolist()
    lengths[0] = num_sources
    return lengths


REGIMES = ("uniform", "reads_far", "near_zero", "near_one", "exact_zero_one", "speech_like")
