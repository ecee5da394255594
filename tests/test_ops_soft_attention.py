"""Tests of the infinite-lookback expected attention beta against a brute-force softmax."""

from __future__ import annotations

import pytest
import torch

from simul.ops import expected_soft_attention, monotonic_alignment


@pytest.fixture(params=["cpu", "cuda"])
def device(request: pytest.FixtureRequest) -> torch.device:
    if request.param == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    return torch.device(request.param)


def _brute_force(alpha: torch.Tensor, energy: torch.Tensor, lengths: list[int]) -> torch.Tensor:
    """beta[i, j] = sum_{k >= j} alpha[i, k] softmax(u[i, :k+1])[j], one prefix at a time."""
    beta = torch.zeros_like(alpha)
    for row, length in enumerate(lengths):
        for k in range(length):
            weights = torch.softmax(energy[row, :, : k + 1], dim=-1)  # (T, k+1)
            beta[row, :, : k + 1] = beta[row, :, : k + 1] + alpha[row, :, k : k + 1] * weights
    return beta


def _inputs(
    scale: float, shape=(3, 4, 40), seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
    generator = torch.Generator().manual_seed(seed)
    p = torch.sigmoid(torch.randn(shape, dtype=torch.float64, generator=generator) - 1.0)
    lengths = [shape[-1], min(17, shape[-1]), 1, *[shape[-1]] * (shape[0] - 3)]
    alpha = monotonic_alignment(p, torch.tensor(lengths), implementation="reference")
    energy = scale * torch.randn(shape, dtype=torch.float64, generator=generator)
    return alpha, energy, lengths


@pytest.mark.parametrize("scale", [1.0, 10.0, 30.0])
def test_equals_brute_force_for_peaky_energies(device: torch.device, scale: float) -> None:
    alpha, energy, lengths = _inputs(scale)
    expected = _brute_force(alpha, energy, lengths)
    beta = expected_soft_attention(alpha.to(device), energy.to(device), torch.tensor(lengths))
    torch.testing.assert_close(beta.cpu(), expected, rtol=1e-9, atol=1e-12)
    beta32 = expected_soft_attention(
        alpha.float().to(device), energy.float().to(device), torch.tensor(lengths)
    )
    torch.testing.assert_close(beta32.cpu().double(), expected, rtol=0.0, atol=1e-5)


def test_mass_of_beta_is_that_of_alpha(device: torch.device) -> None:
    alpha, energy, lengths = _inputs(10.0)
    beta = expected_soft_attention(alpha.to(device), energy.to(device), torch.tensor(lengths))
    torch.testing.assert_close(beta.sum(-1).cpu(), alpha.sum(-1), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(beta.sum(-1).cpu(), torch.ones(3, 4, dtype=torch.float64))


def test_gradcheck_float64_with_zero_alignment_entries(device: torch.device) -> None:
    generator = torch.Generator().manual_seed(1)
    alpha = torch.rand(2, 3, 6, dtype=torch.float64, generator=generator)
    alpha[:, :, 1] = 0.0  # log(alpha) = -inf here: autograd through a log would give NaN
    energy = 3.0 * torch.randn(2, 3, 6, dtype=torch.float64, generator=generator)
    lengths = torch.tensor([6, 4])
    inputs = (alpha.to(device).requires_grad_(), energy.to(device).requires_grad_())
    assert torch.autograd.gradcheck(lambda a, u: expected_soft_attention(a, u, lengths), inputs)


def test_gradient_equals_brute_force_autograd(device: torch.device) -> None:
    alpha, energy, lengths = _inputs(10.0, shape=(3, 4, 30), seed=2)
    alpha[0, :, 3] = 0.0
    upstream = torch.randn(
        alpha.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(3)
    )
    leaves = (alpha.clone().requires_grad_(), energy.clone().requires_grad_())
    expected = torch.autograd.grad(_brute_force(*leaves, lengths), leaves, upstream)
    leaves = (alpha.to(device).requires_grad_(), energy.to(device).requires_grad_())
    beta = expected_soft_attention(*leaves, torch.tensor(lengths))
    grads = torch.autograd.grad(beta, leaves, upstream.to(device))
    for grad, want in zip(grads, expected, strict=True):
        torch.testing.assert_close(grad.cpu(), want, rtol=1e-9, atol=1e-12)


def test_padded_positions_are_never_read(device: torch.device) -> None:
    alpha, energy, lengths = _inputs(1.0, shape=(3, 2, 30))
    energy[1, :, 17:] = float("nan")
    energy[2, :, 1:] = float("-inf")
    alpha[2, :, 1:] = float("nan")
    leaves = (alpha.to(device).requires_grad_(), energy.to(device).requires_grad_())
    beta = expected_soft_attention(*leaves, torch.tensor(lengths))
    grads = torch.autograd.grad(beta.sum(), leaves)
    assert bool(torch.isfinite(beta).all()) and all(bool(torch.isfinite(g).all()) for g in grads)
    assert bool((beta[2, :, 1:] == 0).all()) and bool((grads[1][2, :, 1:] == 0).all())


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_inputs(device: torch.device, dtype: torch.dtype) -> None:
    alpha, energy, lengths = _inputs(10.0)
    beta = expected_soft_attention(
        alpha.to(device, dtype), energy.to(device, dtype), torch.tensor(lengths)
    )
    assert beta.dtype == dtype
    expected = _brute_force(alpha.to(dtype).double(), energy.to(dtype).double(), lengths)
    torch.testing.assert_close(beta.cpu().double(), expected, rtol=2e-2, atol=1e-3)


def test_four_dim_input_equals_flattened_rows() -> None:
    alpha, energy, _ = _inputs(3.0, shape=(6, 4, 9))
    lengths = torch.tensor([9, 5])
    beta = expected_soft_attention(alpha.reshape(2, 3, 4, 9), energy.reshape(2, 3, 4, 9), lengths)
    flat = expected_soft_attention(alpha, energy, lengths.repeat_interleave(3))
    torch.testing.assert_close(beta.reshape(6, 4, 9), flat, rtol=0.0, atol=0.0)


def test_docstring_example() -> None:
    beta = expected_soft_attention(torch.tensor([[[0.0, 1.0, 0.0]]]), torch.zeros(1, 1, 3))
    torch.testing.assert_close(beta, torch.tensor([[[0.5, 0.5, 0.0]]]))


def test_mismatched_shapes_are_rejected() -> None:
    with pytest.raises(ValueError, match="`soft_energy` must have the shape of `alpha`"):
        expected_soft_attention(torch.rand(2, 3, 4), torch.rand(2, 3, 5))
    with pytest.raises(ValueError, match="`alpha` must be"):
        expected_soft_attention(torch.rand(3, 4), torch.rand(3, 4))
