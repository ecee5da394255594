"""Tests for simul.models.rnnt_loss: brute force, torchaudio, gradcheck, edge cases."""

from __future__ import annotations

import itertools
import warnings

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from simul.models.rnnt_loss import rnnt_loss

try:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import torchaudio.functional as torchaudio_functional
except ImportError:  # torchaudio is a dev-only test oracle
    torchaudio_functional = None

needs_torchaudio = pytest.mark.skipif(
    torchaudio_functional is None, reason="torchaudio (test oracle) is not installed"
)


def _random_case(
    seed: int,
    batch_size: int,
    max_frames: int,
    max_targets: int,
    num_classes: int,
    blank: int,
    dtype: torch.dtype,
    fill_dims: bool = True,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random logits, targets without blank, and ragged lengths.

    With ``fill_dims`` the longest lengths equal the tensor dims, as torchaudio requires.
    """
    generator = torch.Generator().manual_seed(seed)
    logits = 2 * torch.randn(
        batch_size, max_frames, max_targets + 1, num_classes, generator=generator, dtype=dtype
    )
    non_blank = torch.tensor([c for c in range(num_classes) if c != blank % num_classes])
    pick = torch.randint(0, len(non_blank), (batch_size, max_targets), generator=generator)
    targets = non_blank[pick].to(torch.int32)
    logit_lengths = torch.randint(1, max_frames + 1, (batch_size,), generator=generator)
    target_lengths = torch.randint(0, max_targets + 1, (batch_size,), generator=generator)
    if fill_dims:
        logit_lengths[0] = max_frames
        target_lengths[-1] = max_targets
    return logits, targets, logit_lengths.to(torch.int32), target_lengths.to(torch.int32)


def _brute_force_costs(
    logits: torch.Tensor,
    targets: torch.Tensor,
    logit_lengths: torch.Tensor,
    target_lengths: torch.Tensor,
    blank: int,
    fused_log_softmax: bool,
) -> torch.Tensor:
    """(B,) costs by enumerating every alignment of every sequence; differentiable by autograd."""
    log_probs = torch.log_softmax(logits, dim=-1) if fused_log_softmax else logits
    costs = []
    for b in range(logits.shape[0]):
        num_frames, num_targets = int(logit_lengths[b]), int(target_lengths[b])
        labels = targets[b, :num_targets].tolist()
        num_moves = num_frames - 1 + num_targets  # all moves before the final blank
        path_scores = []
        for label_moves in itertools.combinations(range(num_moves), num_targets):
            t = u = 0
            score = log_probs.new_zeros(())
            for move in range(num_moves):
                if move in label_moves:
                    score = score + log_probs[b, t, u, labels[u]]
                    u += 1
                else:
                    score = score + log_probs[b, t, u, blank]
                    t += 1
            path_scores.append(score + log_probs[b, num_frames - 1, num_targets, blank])
        costs.append(-torch.logsumexp(torch.stack(path_scores), dim=0))
    return torch.stack(costs)


def _value_and_grad(loss_fn, logits: torch.Tensor, *args, **kwargs):
    """Costs (B,) and the gradient of a randomly weighted sum of them wrt logits."""
    leaf = logits.detach().clone().requires_grad_()
    costs = loss_fn(leaf, *args, **kwargs)
    weights = torch.linspace(0.5, 1.5, costs.shape[0], dtype=costs.dtype, device=costs.device)
    (grad,) = torch.autograd.grad((costs * weights).sum(), leaf)
    return costs.detach(), grad


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    batch_size=st.integers(1, 3),
    max_frames=st.integers(1, 4),
    max_targets=st.integers(0, 3),
    num_classes=st.integers(2, 4),
    blank_choice=st.integers(0, 10),
    fused=st.booleans(),
    dtype=st.sampled_from([torch.float32, torch.float64]),
)
def test_matches_brute_force(
    seed, batch_size, max_frames, max_targets, num_classes, blank_choice, fused, dtype
):
    blank = blank_choice % num_classes
    logits, targets, logit_lengths, target_lengths = _random_case(
        seed, batch_size, max_frames, max_targets, num_classes, blank, dtype, fill_dims=False
    )
    if not fused:
        logits = torch.log_softmax(logits, dim=-1)
    args = (targets, logit_lengths, target_lengths)
    ours, ours_grad = _value_and_grad(
        rnnt_loss, logits, *args, blank=blank, reduction="none", fused_log_softmax=fused
    )
    expected, expected_grad = _value_and_grad(
        _brute_force_costs, logits.double(), *args, blank=blank, fused_log_softmax=fused
    )
    tolerance = 1e-9 if dtype == torch.float64 else 1e-5
    torch.testing.assert_close(ours.double(), expected, rtol=tolerance, atol=tolerance)
    torch.testing.assert_close(ours_grad.double(), expected_grad, rtol=tolerance, atol=tolerance)


@needs_torchaudio
@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    batch_size=st.integers(1, 4),
    max_frames=st.integers(1, 12),
    max_targets=st.integers(1, 6),
    num_classes=st.integers(2, 10),
    blank_choice=st.integers(0, 20),
    fused=st.booleans(),
    clamp=st.sampled_from([-1.0, 0.05]),
)
def test_matches_torchaudio(
    seed, batch_size, max_frames, max_targets, num_classes, blank_choice, fused, clamp
):
    blank = blank_choice % num_classes
    logits, targets, logit_lengths, target_lengths = _random_case(
        seed, batch_size, max_frames, max_targets, num_classes, blank, torch.float32
    )
    if not fused:
        logits = torch.log_softmax(logits, dim=-1)
    args = (targets, logit_lengths, target_lengths)
    kwargs = {"blank": blank, "clamp": clamp, "reduction": "none", "fused_log_softmax": fused}
    ours, ours_grad = _value_and_grad(rnnt_loss, logits, *args, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected, expected_grad = _value_and_grad(
            torchaudio_functional.rnnt_loss, logits, *args, **kwargs
        )
    torch.testing.assert_close(ours, expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ours_grad, expected_grad, rtol=1e-5, atol=1e-5)


@needs_torchaudio
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_reductions_match_torchaudio(reduction):
    logits, targets, logit_lengths, target_lengths = _random_case(3, 3, 10, 4, 6, -1, torch.float32)
    args = (targets, logit_lengths, target_lengths)
    ours, ours_grad = _value_and_grad(
        lambda x, *a: rnnt_loss(x, *a, reduction=reduction).reshape(-1), logits, *args
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected, expected_grad = _value_and_grad(
            lambda x, *a: torchaudio_functional.rnnt_loss(x, *a, reduction=reduction).reshape(-1),
            logits,
            *args,
        )
    torch.testing.assert_close(ours, expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ours_grad, expected_grad, rtol=1e-5, atol=1e-5)


def test_reductions_relate_to_per_sequence_costs():
    logits, targets, logit_lengths, target_lengths = _random_case(4, 5, 7, 3, 5, -1, torch.float64)
    args = (logits, targets, logit_lengths, target_lengths)
    costs = rnnt_loss(*args, reduction="none")
    assert costs.shape == (5,)
    torch.testing.assert_close(rnnt_loss(*args, reduction="sum"), costs.sum())
    torch.testing.assert_close(rnnt_loss(*args, reduction="mean"), costs.mean())
    torch.testing.assert_close(rnnt_loss(*args), costs.mean())


@pytest.mark.parametrize("fused", [True, False])
def test_gradcheck_float64(fused):
    logits, targets, logit_lengths, target_lengths = _random_case(5, 3, 5, 3, 4, 0, torch.float64)
    if not fused:
        logits = torch.log_softmax(logits, dim=-1)
    logits.requires_grad_()

    def costs(x):
        return rnnt_loss(
            x, targets, logit_lengths, target_lengths, blank=0, reduction="none",
            fused_log_softmax=fused,
        )  # fmt: skip

    assert torch.autograd.gradcheck(costs, (logits,), eps=1e-6, atol=1e-7)


def test_blank_position_is_only_a_relabelling():
    """Blank at index 0 equals the same problem with classes rotated so that blank is last."""
    logits, targets, logit_lengths, target_lengths = _random_case(6, 3, 6, 4, 7, 0, torch.float64)
    first, first_grad = _value_and_grad(
        rnnt_loss, logits, targets, logit_lengths, target_lengths, blank=0, reduction="none"
    )
    rotated = logits.roll(-1, dims=-1)  # class c moves to c - 1; blank 0 moves to V - 1
    last, last_grad = _value_and_grad(
        rnnt_loss, rotated, targets - 1, logit_lengths, target_lengths, blank=-1, reduction="none"
    )
    torch.testing.assert_close(first, last)
    torch.testing.assert_close(first_grad, last_grad.roll(1, dims=-1))


@pytest.mark.parametrize("fused", [True, False])
def test_padding_gets_zero_gradient_and_does_not_change_the_loss(fused):
    logits, targets, logit_lengths, target_lengths = _random_case(7, 4, 9, 5, 6, -1, torch.float64)
    costs, grad = _value_and_grad(
        rnnt_loss, logits, targets, logit_lengths, target_lengths, reduction="none",
        fused_log_softmax=fused,
    )  # fmt: skip
    t = torch.arange(9)[None, :, None]
    u = torch.arange(6)[None, None, :]
    padding = (t >= logit_lengths[:, None, None]) | (u > target_lengths[:, None, None])
    assert padding.any()
    assert torch.equal(grad[padding], torch.zeros_like(grad[padding]))
    assert grad[~padding].abs().sum() > 0

    changed = logits.clone()
    changed[padding] = 1e3 * torch.randn_like(changed[padding])
    changed_targets = targets.clone()
    beyond = torch.arange(5)[None, :] >= target_lengths[:, None]
    changed_targets[beyond] = -7  # padding targets may hold anything
    again = rnnt_loss(
        changed, changed_targets, logit_lengths, target_lengths, reduction="none",
        fused_log_softmax=fused,
    )  # fmt: skip
    torch.testing.assert_close(again, costs)


def test_batched_equals_one_by_one_and_longer_tensors_are_allowed():
    logits, targets, logit_lengths, target_lengths = _random_case(
        8, 4, 8, 4, 5, -1, torch.float64, fill_dims=False
    )
    batched, batched_grad = _value_and_grad(
        rnnt_loss, logits, targets, logit_lengths, target_lengths, reduction="none"
    )
    weights = torch.linspace(0.5, 1.5, 4, dtype=torch.float64)
    for b in range(4):
        num_frames, num_targets = int(logit_lengths[b]), int(target_lengths[b])
        single = logits[b : b + 1, :num_frames, : num_targets + 1]
        cost, grad = _value_and_grad(
            rnnt_loss, single, targets[b : b + 1, :num_targets], logit_lengths[b : b + 1],
            target_lengths[b : b + 1], reduction="none",
        )  # fmt: skip
        torch.testing.assert_close(cost[0], batched[b])
        single_weight = 0.5  # _value_and_grad's weight for a batch of one
        torch.testing.assert_close(
            grad[0] * (weights[b] / single_weight), batched_grad[b, :num_frames, : num_targets + 1]
        )


def test_clamp_bounds_each_sequence_gradient():
    logits, targets, logit_lengths, target_lengths = _random_case(9, 3, 6, 3, 5, -1, torch.float64)
    args = (targets, logit_lengths, target_lengths)
    leaf = logits.clone().requires_grad_()
    rnnt_loss(leaf, *args, clamp=0.01, reduction="sum").backward()
    assert leaf.grad.abs().max() <= 0.01 + 1e-12
    assert (leaf.grad.abs() == 0.01).any()
    _, unclamped = _value_and_grad(rnnt_loss, logits, *args, reduction="none")
    _, loose = _value_and_grad(rnnt_loss, logits, *args, clamp=10.0, reduction="none")
    torch.testing.assert_close(loose, unclamped)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_is_computed_in_float32(dtype):
    logits, targets, logit_lengths, target_lengths = _random_case(10, 2, 6, 3, 5, -1, torch.float32)
    low = logits.to(dtype)
    args = (targets, logit_lengths, target_lengths)
    costs, grad = _value_and_grad(rnnt_loss, low, *args, reduction="none")
    assert costs.dtype == dtype
    assert grad.dtype == dtype
    expected, expected_grad = _value_and_grad(rnnt_loss, low.float(), *args, reduction="none")
    assert torch.equal(costs, expected.to(dtype))
    assert torch.equal(grad, expected_grad.to(dtype))


def test_non_contiguous_logits_and_int64_indices():
    logits, targets, logit_lengths, target_lengths = _random_case(11, 2, 5, 3, 4, -1, torch.float64)
    transposed = logits.transpose(1, 2).contiguous().transpose(1, 2)
    assert not transposed.is_contiguous()
    expected = rnnt_loss(logits, targets, logit_lengths, target_lengths, reduction="none")
    got = rnnt_loss(
        transposed, targets.long(), logit_lengths.long(), target_lengths.long(), reduction="none"
    )
    torch.testing.assert_close(got, expected)


def test_chunked_cpu_path_matches_brute_force():
    """Enough rows that the CPU gradient is built in several chunks."""
    logits, targets, logit_lengths, target_lengths = _random_case(
        12, 2, 4, 3, 4096, -1, torch.float64
    )
    args = (targets, logit_lengths, target_lengths)
    ours, ours_grad = _value_and_grad(rnnt_loss, logits, *args, reduction="none")
    expected, expected_grad = _value_and_grad(
        _brute_force_costs, logits, *args, blank=4095, fused_log_softmax=True
    )
    torch.testing.assert_close(ours, expected)
    torch.testing.assert_close(ours_grad, expected_grad)


def _valid_inputs():
    logits, targets, logit_lengths, target_lengths = _random_case(13, 2, 4, 3, 5, -1, torch.float32)
    return {
        "logits": logits,
        "targets": targets,
        "logit_lengths": logit_lengths,
        "target_lengths": target_lengths,
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"logits": torch.zeros(2, 4, 4)}, "`logits` must be a 4-D tensor"),
        ({"logits": torch.zeros(2, 4, 4, 5, dtype=torch.int64)}, "`logits` must be floating"),
        ({"targets": torch.zeros(2, 2, dtype=torch.int32)}, "`targets` must have shape"),
        ({"targets": torch.zeros(2, 3)}, "`targets` must be int32 or int64"),
        ({"logit_lengths": torch.tensor([4, 0], dtype=torch.int32)}, "`logit_lengths` must be"),
        ({"logit_lengths": torch.tensor([5, 4], dtype=torch.int32)}, "`logit_lengths` must be"),
        ({"target_lengths": torch.tensor([4, 1], dtype=torch.int32)}, "`target_lengths` must"),
        ({"target_lengths": torch.tensor([3], dtype=torch.int32)}, "`target_lengths` must have"),
        ({"targets": torch.full((2, 3), 4, dtype=torch.int32)}, r"targets\[0, 0\] is 4"),
        ({"targets": torch.full((2, 3), 9, dtype=torch.int32)}, "`targets` must hold"),
        ({"blank": 5}, "`blank` must be in"),
        ({"blank": 1.0}, "`blank` must be an int"),
        ({"reduction": "avg"}, "`reduction` must be one of"),
    ],
)
def test_bad_input_raises_value_error(change, message):
    inputs = _valid_inputs()
    inputs["target_lengths"] = torch.tensor([3, 1], dtype=torch.int32)
    inputs.update(change)
    with pytest.raises(ValueError, match=message):
        rnnt_loss(**inputs)


def test_padding_targets_are_not_validated():
    inputs = _valid_inputs()
    inputs["targets"][1, 1:] = -1  # beyond target_lengths[1] = 1
    inputs["target_lengths"] = torch.tensor([3, 1], dtype=torch.int32)
    assert torch.isfinite(rnnt_loss(**inputs))


def test_forward_without_grad():
    inputs = _valid_inputs()
    with torch.no_grad():
        loss = rnnt_loss(**inputs)
    assert torch.isfinite(loss)
    assert not loss.requires_grad


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("fused", [True, False])
def test_cuda_matches_cpu(fused):
    logits, targets, logit_lengths, target_lengths = _random_case(14, 3, 9, 4, 6, 0, torch.float64)
    if not fused:
        logits = torch.log_softmax(logits, dim=-1)
    kwargs = {"blank": 0, "reduction": "none", "fused_log_softmax": fused}
    args = (targets, logit_lengths, target_lengths)
    cpu, cpu_grad = _value_and_grad(rnnt_loss, logits, *args, **kwargs)
    cuda_args = tuple(arg.cuda() for arg in args)
    cuda, cuda_grad = _value_and_grad(rnnt_loss, logits.cuda(), *cuda_args, **kwargs)
    torch.testing.assert_close(cuda.cpu(), cpu)
    torch.testing.assert_close(cuda_grad.cpu(), cpu_grad)
