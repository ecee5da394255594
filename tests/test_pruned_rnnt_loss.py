"""Tests for simul.models.pruned_rnnt_loss: simple == full on a sum, pruned == full on a full band."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from simul.models.joiner import Joiner
from simul.models.pruned_rnnt_loss import prune_ranges, pruned_rnnt_loss, simple_rnnt_loss
from simul.models.rnnt_loss import rnnt_loss

BLANK = 0


def _case(
    seed: int, batch_size: int, max_frames: int, max_targets: int, num_classes: int
) -> dict[str, torch.Tensor]:
    """Random float64 encoder/predictor features, targets without blank, ragged lengths."""
    generator = torch.Generator().manual_seed(seed)
    am = 2 * torch.randn(batch_size, max_frames, num_classes, generator=generator)
    lm = 2 * torch.randn(batch_size, max_targets + 1, num_classes, generator=generator)
    logit_lengths = torch.randint(1, max_frames + 1, (batch_size,), generator=generator)
    target_lengths = torch.randint(0, max_targets + 1, (batch_size,), generator=generator)
    logit_lengths[0], target_lengths[-1] = max_frames, max_targets
    return {
        "encoder": torch.randn(batch_size, max_frames, 5, generator=generator, dtype=torch.float64),
        "predictor": torch.randn(
            batch_size, max_targets + 1, 4, generator=generator, dtype=torch.float64
        ),
        "am": am.double(),
        "lm": lm.double(),
        "targets": torch.randint(1, num_classes, (batch_size, max_targets), generator=generator),
        "logit_lengths": logit_lengths,
        "target_lengths": target_lengths,
    }


def _joiner(num_classes: int, seed: int) -> Joiner:
    torch.manual_seed(seed)
    return Joiner(encoder_dim=5, predictor_dim=4, joiner_dim=6, vocab_size=num_classes).double()


shapes = st.tuples(
    st.integers(1, 3), st.integers(1, 7), st.integers(0, 5), st.integers(2, 6), st.integers(0, 99)
)


@settings(max_examples=40, deadline=None)
@given(shapes)
def test_simple_loss_equals_the_full_loss_of_the_summed_logits(shape: tuple[int, ...]) -> None:
    batch_size, max_frames, max_targets, num_classes, seed = shape
    case = _case(seed, batch_size, max_frames, max_targets, num_classes)
    am, lm = case["am"].requires_grad_(), case["lm"].requires_grad_()
    lengths = (case["targets"], case["logit_lengths"], case["target_lengths"])
    simple = simple_rnnt_loss(am, lm, *lengths, blank=BLANK)
    full = rnnt_loss(
        am[:, :, None] + lm[:, None], *(x.int() for x in lengths), blank=BLANK, reduction="none"
    )
    torch.testing.assert_close(simple.costs, full, rtol=1e-12, atol=1e-10)
    weights = torch.rand(batch_size, dtype=torch.float64)  # a non-uniform incoming gradient
    ours = torch.autograd.grad((simple.costs * weights).sum(), [am, lm])
    theirs = torch.autograd.grad((full * weights).sum(), [am, lm])
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    # Every path leaves each frame t < T_b by exactly one blank.
    blank_mass = simple.occupancy[..., 0].sum(dim=2)  # (B, T)
    for b in range(batch_size):
        frames = int(case["logit_lengths"][b])
        torch.testing.assert_close(blank_mass[b, :frames], torch.ones(frames, dtype=torch.float64))


def _pruned_and_full(
    case: dict[str, torch.Tensor], num_classes: int, prune_range: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pruned costs (bounds from the simple loss), full costs, and the ranges."""
    joiner = _joiner(num_classes, seed)
    lengths = (case["targets"], case["logit_lengths"], case["target_lengths"])
    simple = simple_rnnt_loss(case["am"], case["lm"], *lengths, blank=BLANK)
    ranges = prune_ranges(
        simple.occupancy, case["logit_lengths"], case["target_lengths"], prune_range=prune_range
    )
    logits = joiner.join_at(case["encoder"], case["predictor"], ranges)
    pruned = pruned_rnnt_loss(logits, case["targets"], ranges, *lengths[1:], blank=BLANK)
    full = rnnt_loss(
        joiner(case["encoder"], case["predictor"]), *(x.int() for x in lengths), blank=BLANK,
        reduction="none",
    )  # fmt: skip
    return pruned, full, ranges


@settings(max_examples=40, deadline=None)
@given(shapes, st.integers(0, 3))
def test_pruned_loss_with_a_band_covering_everything_is_the_full_loss(
    shape: tuple[int, ...], extra: int
) -> None:
    batch_size, max_frames, max_targets, num_classes, seed = shape
    case = _case(seed, batch_size, max_frames, max_targets, num_classes)
    case["encoder"].requires_grad_()
    case["predictor"].requires_grad_()
    pruned, full, ranges = _pruned_and_full(
        case, num_classes, max(2, max_targets + 1 + extra), seed
    )
    assert ranges.shape == (batch_size, max_frames, max_targets + 1)
    torch.testing.assert_close(pruned, full, rtol=1e-12, atol=1e-10)
    weights = torch.rand(batch_size, dtype=torch.float64)
    inputs = [case["encoder"], case["predictor"]]
    ours = torch.autograd.grad((pruned * weights).sum(), inputs)
    theirs = torch.autograd.grad((full * weights).sum(), inputs)
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    st.tuples(
        st.integers(1, 4), st.integers(1, 12), st.integers(1, 9), st.integers(2, 6),
        st.integers(0, 999),
    ),
    st.integers(2, 5),
)  # fmt: skip
def test_pruned_ranges_are_valid_and_the_pruned_cost_is_at_least_the_full_cost(
    shape: tuple[int, ...], prune_range: int
) -> None:
    batch_size, max_frames, max_targets, num_classes, seed = shape
    case = _case(seed, batch_size, max_frames, max_targets, num_classes)
    pruned, full, ranges = _pruned_and_full(case, num_classes, prune_range, seed)
    width = min(prune_range, max_targets + 1)
    assert ranges.shape == (batch_size, max_frames, width)
    starts = ranges[..., 0]
    assert torch.equal(ranges, starts[..., None] + torch.arange(width))  # consecutive
    assert (starts >= 0).all() and (starts <= max_targets + 1 - width).all()
    assert (starts[:, 0] == 0).all()
    steps = starts[:, 1:] - starts[:, :-1]
    assert (steps >= 0).all() and (steps <= width - 1).all()
    for b in range(batch_size):
        frames, tokens = int(case["logit_lengths"][b]), int(case["target_lengths"][b])
        feasible = tokens <= (width - 1) * frames
        # The band holds the final node exactly when a band of width S can hold a whole path.
        assert bool((ranges[b, frames - 1] == tokens).any()) == feasible
        if feasible:
            assert torch.isfinite(pruned[b]) and pruned[b] < 1e20
            assert pruned[b] >= full[b] - 1e-9  # fewer paths: a larger cost
        else:
            assert pruned[b] > 1e20


def test_pruned_loss_gradcheck_on_a_narrow_band() -> None:
    case = _case(1, 2, 5, 4, 5)  # feasible for S = 2: U_b <= T_b
    simple = simple_rnnt_loss(
        case["am"], case["lm"], case["targets"], case["logit_lengths"], case["target_lengths"],
        blank=BLANK,
    )  # fmt: skip
    ranges = prune_ranges(
        simple.occupancy, case["logit_lengths"], case["target_lengths"], prune_range=2
    )
    logits = torch.randn(2, 5, 2, 5, dtype=torch.float64, requires_grad=True)

    def costs(x: torch.Tensor) -> torch.Tensor:
        return pruned_rnnt_loss(
            x, case["targets"], ranges, case["logit_lengths"], case["target_lengths"], blank=BLANK
        )

    assert torch.autograd.gradcheck(costs, (logits,))
    am, lm = case["am"].requires_grad_(), case["lm"].requires_grad_()

    def simple_costs(am: torch.Tensor, lm: torch.Tensor) -> torch.Tensor:
        lengths = (case["targets"], case["logit_lengths"], case["target_lengths"])
        return simple_rnnt_loss(am, lm, *lengths, blank=BLANK).costs

    assert torch.autograd.gradcheck(simple_costs, (am, lm))


def test_bad_arguments_are_named() -> None:
    case = _case(0, 2, 4, 3, 5)
    lengths = (case["logit_lengths"], case["target_lengths"])
    with pytest.raises(ValueError, match="predictor_logits"):
        simple_rnnt_loss(case["am"], case["lm"][:, :2], case["targets"], *lengths, blank=BLANK)
    bad_targets = case["targets"].clone()
    bad_targets[1, 0] = BLANK  # sequence 1 has all 3 targets
    with pytest.raises(ValueError, match=r"targets\[1, 0\]"):
        simple_rnnt_loss(case["am"], case["lm"], bad_targets, *lengths, blank=BLANK)
    occupancy = simple_rnnt_loss(
        case["am"], case["lm"], case["targets"], *lengths, blank=BLANK
    ).occupancy
    with pytest.raises(ValueError, match="prune_range"):
        prune_ranges(occupancy, *lengths, prune_range=1)
    ranges = prune_ranges(occupancy, *lengths, prune_range=2)
    logits = torch.randn(2, 4, 2, 5)
    with pytest.raises(ValueError, match="ranges"):
        pruned_rnnt_loss(logits, case["targets"], ranges[:, :, :1], *lengths, blank=BLANK)
    with pytest.raises(ValueError, match="ranges"):
        pruned_rnnt_loss(logits, case["targets"], ranges + 3, *lengths, blank=BLANK)


def test_joiner_at_positions_is_the_full_joiner_gathered() -> None:
    joiner = _joiner(7, 0)
    encoder, predictor = torch.randn(2, 5, 5).double(), torch.randn(2, 4, 4).double()
    positions = torch.randint(0, 4, (2, 5, 3))
    full = joiner(encoder, predictor)  # (B, T, U, V)
    expected = full.gather(2, positions[..., None].expand(-1, -1, -1, 7))
    torch.testing.assert_close(joiner.join_at(encoder, predictor, positions), expected)
